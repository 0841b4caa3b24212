/**
 * A test publisher/viewer that speaks the original socket.io protocol with mediasoup-client, the
 * way the original front end does (including events sent without an ack). Bundled by esbuild for
 * the browser tests; everything is driven from the test through `window.harness`.
 */
import { Device } from 'mediasoup-client';
import type { Producer, Transport, Consumer, RtpEncodingParameters } from 'mediasoup-client/lib/types';
import { io, Socket } from 'socket.io-client';

type Ack = { error?: string; code?: string } & Record<string, any>;

export interface PublishOptions {
  video?: 'camera' | 'canvas' | false;
  audio?: 'mic' | 'beep' | false;
  codec?: 'H264' | 'VP8' | 'VP9';
  simulcast?: boolean;
  width?: number;
  height?: number;
}

class Harness {
  socket?: Socket;
  device?: Device;
  sendTransport?: Transport;
  recvTransport?: Transport;
  producers = new Map<string, Producer>();
  consumers = new Map<string, Consumer>();
  events: Array<{ name: string; data: any; at: number }> = [];
  connectionState = 'new';
  flashLog: number[] = [];
  private canvasTimer?: number;

  /** `auth`: the handshake's `{ stream, token }` for a named stream; a refused handshake rejects with its message. */
  async connect(url = location.origin, auth?: Record<string, unknown>): Promise<string> {
    const socket = io(url, { transports: ['websocket'], auth });
    this.socket = socket;
    socket.onAny((name, data) => this.events.push({ name, data, at: Date.now() }));
    const id = await new Promise<string>((resolve, reject) => {
      socket.once('connectionSuccess', ({ socketId }) => resolve(socketId));
      socket.once('connect_error', reject);
    });
    const { rtpCapabilities } = await this.request('getRouterRtpCapabilities', {});
    this.device = new Device();
    await this.device.load({ routerRtpCapabilities: rtpCapabilities });
    return id;
  }

  request(event: string, payload: unknown): Promise<Ack> {
    return new Promise((resolve, reject) => {
      this.socket!.emit(event, payload, (answer: Ack) =>
        answer?.error ? reject(Object.assign(new Error(answer.error), { code: answer.code })) : resolve(answer),
      );
    });
  }

  async publish(options: PublishOptions = {}): Promise<Record<string, string>> {
    const { video = 'camera', audio = 'mic', codec = 'H264', simulcast = false, width = 640, height = 480 } = options;
    const transport = await this.createSendTransport();
    const ids: Record<string, string> = {};
    const tracks = await this.sourceTracks(video, audio, width, height);
    if (tracks.audio) {
      const producer = await transport.produce({ track: tracks.audio });
      this.producers.set('audio', producer);
      ids.audio = producer.id;
    }
    if (tracks.video) {
      const chosen = this.device!.rtpCapabilities.codecs!.find(
        (c) =>
          c.mimeType.toLowerCase() === `video/${codec.toLowerCase()}` &&
          (codec !== 'H264' || c.parameters?.['profile-level-id'] === '42e01f'),
      );
      const encodings: RtpEncodingParameters[] | undefined = simulcast
        ? [
            { rid: 'r0', maxBitrate: 100_000, scalabilityMode: 'S1T3' },
            { rid: 'r1', maxBitrate: 300_000, scalabilityMode: 'S1T3' },
            { rid: 'r2', maxBitrate: 900_000, scalabilityMode: 'S1T3' },
          ]
        : undefined;
      const producer = await transport.produce({ track: tracks.video, codec: chosen, encodings });
      this.producers.set('video', producer);
      ids.video = producer.id;
    }
    return ids;
  }

  /** Like the original front end: producer.pause() and an ack-less pauseProducer. */
  pause(kind: 'audio' | 'video'): void {
    this.producers.get(kind)?.pause();
    this.socket!.emit('pauseProducer', { kind });
  }

  resume(kind: 'audio' | 'video'): void {
    this.producers.get(kind)?.resume();
    this.socket!.emit('resumeProducer', { kind });
  }

  /**
   * Stops sending RTP for `kind` without a word to the server (no pauseProducer), as a crashed encoder,
   * an unplugged camera or a network that dropped would: the sender's track is replaced by nothing.
   */
  async stopSending(kind: 'audio' | 'video'): Promise<void> {
    await this.producers.get(kind)!.rtpSender!.replaceTrack(null);
  }

  /** Sends the producer's own track again. */
  async resumeSending(kind: 'audio' | 'video'): Promise<void> {
    const producer = this.producers.get(kind)!;
    await producer.rtpSender!.replaceTrack(producer.track);
  }

  /**
   * Changes the camera's capture size mid-stream, as a user switching cameras or sharing a resized
   * window does: the browser's encoder goes on at the new size from a keyframe with a new SPS.
   */
  async resize(width: number, height: number): Promise<{ width?: number; height?: number }> {
    const track = this.producers.get('video')!.track!;
    await track.applyConstraints({ width, height, frameRate: 30 });
    const { width: w, height: h } = track.getSettings();
    return { width: w, height: h };
  }

  /** What the browser's sender reports for `kind`: RTP packets sent, keyframe requests received, keyframes encoded. */
  async senderStats(
    kind: 'audio' | 'video',
  ): Promise<{ packetsSent: number; pliCount: number; firCount: number; keyFramesEncoded: number }> {
    const report = await this.producers.get(kind)!.getStats();
    const sum = { packetsSent: 0, pliCount: 0, firCount: 0, keyFramesEncoded: 0 };
    report.forEach((stat: any) => {
      if (stat.type !== 'outbound-rtp') return;
      for (const key of Object.keys(sum) as Array<keyof typeof sum>) sum[key] += stat[key] ?? 0;
    });
    return sum;
  }

  /** Consumes a remote producer into a <video> element; resumes without an ack, like the original. */
  async consume(producerId: string): Promise<{ id: string; kind: string }> {
    if (!this.recvTransport) {
      const params = await this.request('createWebRtcTransport', { isConsumer: true });
      const transport = this.device!.createRecvTransport(params as any);
      transport.on('connect', ({ dtlsParameters }, callback, errback) => {
        this.request('connectTransport', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
      });
      this.recvTransport = transport;
    }
    const answer = await this.request('transportConsume', { rtpCapabilities: this.device!.rtpCapabilities, remoteProducerId: producerId });
    const consumer = await this.recvTransport.consume({
      id: answer.id,
      producerId: answer.producerId,
      kind: answer.kind,
      rtpParameters: answer.rtpParameters,
    });
    this.consumers.set(consumer.id, consumer);
    this.socket!.emit('resumeConsumer', { consumerId: consumer.id });
    if (consumer.kind === 'video') {
      const element = document.createElement('video');
      element.id = `consumer-${consumer.id}`;
      element.muted = true;
      element.autoplay = true;
      element.playsInline = true;
      element.srcObject = new MediaStream([consumer.track]);
      document.body.appendChild(element);
      await element.play().catch(() => undefined);
    }
    return { id: consumer.id, kind: consumer.kind };
  }

  close(): void {
    clearInterval(this.canvasTimer);
    this.socket?.disconnect();
  }

  private async createSendTransport(): Promise<Transport> {
    if (this.sendTransport) return this.sendTransport;
    const params = await this.request('createWebRtcTransport', { isConsumer: false });
    const transport = this.device!.createSendTransport(params as any);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.request('connectTransport', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
    });
    transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
      this.request('transportProduce', { kind, rtpParameters, appData }).then(({ id }) => callback({ id }), errback);
    });
    transport.on('connectionstatechange', (state) => (this.connectionState = state));
    this.sendTransport = transport;
    return transport;
  }

  private async sourceTracks(video: PublishOptions['video'], audio: PublishOptions['audio'], width: number, height: number) {
    const result: { video?: MediaStreamTrack; audio?: MediaStreamTrack } = {};
    if (video === 'camera' || audio === 'mic') {
      const stream = await navigator.mediaDevices.getUserMedia({
        video: video === 'camera' ? { width, height, frameRate: 30 } : false,
        audio: audio === 'mic',
      });
      result.video = stream.getVideoTracks()[0];
      result.audio = stream.getAudioTracks()[0];
    }
    if (video === 'canvas' || audio === 'beep') this.flashAndBeep(video === 'canvas', audio === 'beep', width, height, result);
    return result;
  }

  /**
   * A canvas that shows a moving pattern and turns white for 100 ms every second, together with a
   * 1 kHz beep: found again in the HLS output, the two measure the audio/video offset.
   */
  private flashAndBeep(
    withVideo: boolean,
    withAudio: boolean,
    width: number,
    height: number,
    out: { video?: MediaStreamTrack; audio?: MediaStreamTrack },
  ) {
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext('2d')!;
    const audioCtx = new AudioContext({ sampleRate: 48000 });
    const gain = audioCtx.createGain();
    gain.gain.value = 0;
    const osc = audioCtx.createOscillator();
    osc.frequency.value = 1000;
    osc.connect(gain);
    const dest = audioCtx.createMediaStreamDestination();
    gain.connect(dest);
    osc.start();
    const start = performance.now();
    let lastFlash = -1;
    const draw = () => {
      const t = performance.now() - start;
      const second = Math.floor(t / 1000);
      const flashing = t % 1000 < 100 && second >= 1;
      if (flashing && second !== lastFlash) {
        lastFlash = second;
        this.flashLog.push(Date.now());
        // Scheduled on the audio clock for the same instant the white frame is drawn.
        gain.gain.setValueAtTime(0.8, audioCtx.currentTime);
        gain.gain.setValueAtTime(0, audioCtx.currentTime + 0.1);
      }
      ctx.fillStyle = flashing ? '#fff' : '#203040';
      ctx.fillRect(0, 0, width, height);
      if (!flashing) {
        ctx.fillStyle = '#5a8';
        const x = (t / 10) % width;
        ctx.fillRect(x, height / 3, 60, 60);
        ctx.fillStyle = '#999';
        ctx.font = '32px sans-serif';
        ctx.fillText(String(Math.floor(t)), 20, 50);
      }
    };
    this.canvasTimer = window.setInterval(draw, 1000 / 30);
    if (withVideo) out.video = (canvas as any).captureStream(30).getVideoTracks()[0];
    if (withAudio) out.audio = dest.stream.getAudioTracks()[0];
  }
}

(window as any).harness = new Harness();
