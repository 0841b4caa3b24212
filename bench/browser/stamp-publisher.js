// Chromium publisher for the glass-to-glass measurement: a 640x480 canvas at 30 fps whose every frame
// carries Date.now() as blocks (stamp.js), plus a tone, published with mediasoup-client over the
// service's socket.io protocol (as test/browser/harness.ts does), H264 Constrained Baseline.
import { Device } from 'mediasoup-client';
import { io } from 'socket.io-client';
import { drawStamp } from './stamp.js';

const WIDTH = 640;
const HEIGHT = 480;

class StampPublisher {
  state = 'new';

  request(event, payload) {
    return new Promise((resolve, reject) => {
      this.socket.timeout(10_000).emit(event, payload, (err, answer) => {
        if (err) reject(new Error(`${event}: no answer`));
        else if (answer?.error) reject(new Error(`${event}: ${answer.error}`));
        else resolve(answer);
      });
    });
  }

  /** Resolves with { peerId, connectedAt } once the transport is connected and both producers exist. */
  async publish() {
    this.socket = io(location.origin, { transports: ['websocket'], reconnection: false });
    const peerId = await new Promise((resolve, reject) => {
      this.socket.once('connectionSuccess', ({ socketId }) => resolve(socketId));
      this.socket.once('connect_error', reject);
    });
    const { rtpCapabilities } = await this.request('getRouterRtpCapabilities', {});
    const device = new Device();
    await device.load({ routerRtpCapabilities: rtpCapabilities });
    const params = await this.request('createWebRtcTransport', { isConsumer: false });
    const transport = device.createSendTransport(params);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.request('connectTransport', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
    });
    transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
      this.request('transportProduce', { kind, rtpParameters, appData }).then(({ id }) => callback({ id }), errback);
    });
    const connected = new Promise((resolve, reject) => {
      transport.on('connectionstatechange', (state) => {
        this.state = state;
        if (state === 'connected') resolve();
        if (state === 'failed' || state === 'closed') reject(new Error(`transport ${state}`));
      });
    });
    const { video, audio } = this.sources();
    await transport.produce({ track: audio });
    const codec = device.rtpCapabilities.codecs.find(
      (c) => c.mimeType.toLowerCase() === 'video/h264' && c.parameters?.['profile-level-id'] === '42e01f',
    );
    this.videoProducer = await transport.produce({ track: video, codec });
    await connected;
    return { peerId, connectedAt: Date.now() };
  }

  sources() {
    const canvas = document.createElement('canvas');
    canvas.width = WIDTH;
    canvas.height = HEIGHT;
    document.body.appendChild(canvas);
    const ctx = canvas.getContext('2d');
    const start = performance.now();
    const draw = () => {
      const t = performance.now() - start;
      ctx.fillStyle = '#203040';
      ctx.fillRect(0, 0, WIDTH, HEIGHT);
      ctx.fillStyle = '#5a8';
      ctx.fillRect((t / 8) % WIDTH, 60, 60, 60); // some motion, like a real picture
      ctx.fillStyle = '#ccc';
      ctx.font = '28px sans-serif';
      ctx.fillText(new Date().toISOString(), 20, 40);
      drawStamp(ctx, Date.now()); // the realtime clock the player page shares (bench/stats.mjs)
    };
    draw();
    this.timer = setInterval(draw, 1000 / 30);
    const audioCtx = new AudioContext({ sampleRate: 48000 });
    const osc = audioCtx.createOscillator();
    osc.frequency.value = 440;
    const gain = audioCtx.createGain();
    gain.gain.value = 0.2;
    const dest = audioCtx.createMediaStreamDestination();
    osc.connect(gain).connect(dest);
    osc.start();
    return { video: canvas.captureStream(30).getVideoTracks()[0], audio: dest.stream.getAudioTracks()[0] };
  }

  /** What the encoder really sends (WebRTC may scale down for CPU or bandwidth). */
  async stats() {
    const out = {};
    for (const s of (await this.videoProducer?.getStats())?.values() ?? []) {
      if (s.type === 'outbound-rtp') {
        Object.assign(out, {
          frameWidth: s.frameWidth,
          frameHeight: s.frameHeight,
          framesPerSecond: s.framesPerSecond,
          qualityLimitationReason: s.qualityLimitationReason,
          encoder: s.encoderImplementation,
          bytesSent: s.bytesSent,
          keyFramesEncoded: s.keyFramesEncoded,
          pliCount: s.pliCount,
          firCount: s.firCount,
          totalEncodeTime: s.totalEncodeTime,
          framesEncoded: s.framesEncoded,
        });
      }
    }
    return out;
  }

  close() {
    clearInterval(this.timer);
    this.socket?.disconnect();
  }
}

window.stampPublisher = new StampPublisher();
