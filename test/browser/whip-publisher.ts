/**
 * A browser WHIP publisher for the tests: Chromium's camera and microphone (fake devices) sent with
 * whip-whep's WHIPClient (by one of the WHIP specification's authors), exactly as its README shows:
 * a sendonly transceiver per track, `publish(pc, url, token)`, `stop()`. Bundled by esbuild; driven
 * from the test through `window.whip`.
 */
import { WHIPClient } from 'whip-whep/whip.js';

export interface WhipPublishOptions {
  codec?: 'H264' | 'VP8';
  token?: string;
  width?: number;
  height?: number;
}

class WhipPublisher {
  client?: WHIPClient;
  pc?: RTCPeerConnection;
  stream?: MediaStream;
  /** Date.now() when the POST left (the page and the test share the machine's clock). */
  postStartedAt?: number;
  requests: Array<{ method: string; status: number; url: string; at: number }> = [];
  /** Date.now() of each connectionState change. */
  connectionStates: Array<{ state: string; at: number }> = [];

  constructor() {
    // Every request WHIPClient makes, with its answer: the test checks PATCH and DELETE statuses.
    const fetch = window.fetch.bind(window);
    window.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
      const method = init?.method ?? 'GET';
      if (method === 'POST' && this.postStartedAt === undefined) this.postStartedAt = Date.now();
      const response = await fetch(input, init);
      this.requests.push({ method, status: response.status, url: String(input), at: Date.now() });
      return response;
    };
  }

  async publish(url: string, options: WhipPublishOptions = {}): Promise<{ location: string; etag: string; postStartedAt: number }> {
    const { codec = 'H264', token, width = 640, height = 480 } = options;
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width, height, frameRate: 30 } });
    this.stream = stream;
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    this.pc = pc;
    this.connectionStates = [];
    pc.addEventListener('connectionstatechange', () => this.connectionStates.push({ state: pc.connectionState, at: Date.now() }));
    for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    const video = pc.getTransceivers().find((t) => t.sender.track?.kind === 'video')!;
    const all = RTCRtpSender.getCapabilities('video')!.codecs;
    const wanted = all.filter((c) => c.mimeType.toLowerCase() === `video/${codec.toLowerCase()}`);
    if (wanted.length === 0) throw new Error(`this browser cannot send ${codec}`);
    video.setCodecPreferences([...wanted, ...all.filter((c) => /rtx|red|ulpfec/i.test(c.mimeType))]);
    const client = new WHIPClient();
    this.client = client;
    this.postStartedAt = undefined;
    await client.publish(pc, url, token);
    const state = client as unknown as { resourceURL: URL; etag: string };
    return { location: state.resourceURL.href, etag: state.etag, postStartedAt: this.postStartedAt! };
  }

  /** ICE/DTLS state and what the encoder sends. */
  async state(): Promise<{ connection: string; codec?: string; framesEncoded: number; keyFramesEncoded: number; bytesSent: number }> {
    const stats = await this.pc?.getStats();
    let codec: string | undefined;
    let framesEncoded = 0;
    let keyFramesEncoded = 0;
    let bytesSent = 0;
    stats?.forEach((report) => {
      if (report.type === 'outbound-rtp' && report.kind === 'video') {
        framesEncoded += report.framesEncoded ?? 0;
        keyFramesEncoded += report.keyFramesEncoded ?? 0;
        codec = stats.get(report.codecId)?.mimeType ?? codec;
      }
      if (report.type === 'outbound-rtp') bytesSent += report.bytesSent ?? 0;
    });
    return { connection: this.pc?.connectionState ?? 'new', codec, framesEncoded, keyFramesEncoded, bytesSent };
  }

  /** WHIPClient.stop(): closes the peer connection, then DELETEs the resource. */
  async stop(): Promise<number | undefined> {
    await this.client?.stop();
    this.stream?.getTracks().forEach((t) => t.stop());
    return this.requests.filter((r) => r.method === 'DELETE').at(-1)?.status;
  }
}

(window as any).whip = new WhipPublisher();
