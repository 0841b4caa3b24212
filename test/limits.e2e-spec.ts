/**
 * Production limits and the counters behind them (issue 11, item 5, and the benchmark's metrics):
 * MAX_PEERS caps publishing peers only, unknown socket.io events cost rate-limit tokens like any
 * other, and /metrics counts what mediasoup received and what FFmpeg missed. Real app, real
 * socket.io clients, a real publisher (the bench's generator: ICE, DTLS, SRTP from node-datachannel).
 */
import { io, Socket } from 'socket.io-client';
import { metricSum, parsePrometheus } from './support/shared/prometheus';
import { startApp, TestApp, waitFor } from './support/app';
import { startBenchPublisher } from './support/bench-publisher';
import { SseClient } from './support/hls';

jest.setTimeout(120_000);

type Ack = { error?: string; code?: string } & Record<string, unknown>;

async function connect(url: string): Promise<Socket> {
  const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connectionSuccess', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

const ask = (socket: Socket, event: string, payload: unknown): Promise<Ack> => socket.timeout(15_000).emitWithAck(event, payload);

describe('MAX_PEERS: a cap on publishing peers', () => {
  let app: TestApp;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    app = await startApp({ MAX_PEERS: '2', MEDIASOUP_WORKERS: '1' });
  });
  afterAll(async () => {
    for (const socket of sockets) socket.disconnect();
    await app?.close();
  });

  const client = async () => {
    const socket = await connect(app.url);
    sockets.push(socket);
    return socket;
  };

  it('answers LIMIT_EXCEEDED to the send transport over the cap; viewers are not counted; a freed place is taken again', async () => {
    const [a, b, c] = [await client(), await client(), await client()];
    expect(await ask(a, 'createWebRtcTransport', { isConsumer: false })).toHaveProperty('id');
    expect(await ask(b, 'createWebRtcTransport', { isConsumer: false })).toHaveProperty('id');
    const refused = await ask(c, 'createWebRtcTransport', { isConsumer: false });
    expect(refused).toMatchObject({ code: 'LIMIT_EXCEEDED', error: expect.stringMatching(/MAX_PEERS=2/) });
    // Watching is not publishing: receive transports are not capped.
    for (const socket of [a, b, c, await client()])
      expect(await ask(socket, 'createWebRtcTransport', { isConsumer: true })).toHaveProperty('id');
    // A publisher leaves: its place is free.
    a.disconnect();
    await waitFor('the place freed', async () => (await ask(c, 'createWebRtcTransport', { isConsumer: false })).id, 15_000, 200);
  });
});

describe('unknown socket.io events and the rate limit', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startApp({ MEDIASOUP_WORKERS: '1' });
  });
  afterAll(() => app?.close());

  it('a socket flooding made-up events is cut off like any other, and its known events then wait too', async () => {
    const flooder = await connect(app.url);
    const other = await connect(app.url);
    try {
      // Sent in one go: 300 made-up events, then 200 known ones behind them on the same socket.
      const unknown = Array.from({ length: 300 }, (_, i) => ask(flooder, `noSuchEvent${i % 7}`, {}));
      const known = Array.from({ length: 200 }, () => ask(flooder, 'getProducers', {}));
      const answers = await Promise.all(unknown);
      const limited = answers.filter((a) => a.code === 'RATE_LIMITED');
      const refused = answers.filter((a) => a.code === 'BAD_REQUEST');
      console.log(`unknown-event flood: ${refused.length} BAD_REQUEST, ${limited.length} RATE_LIMITED`);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused[0].error).toMatch(/^unknown event noSuchEvent/);
      expect(limited.length).toBeGreaterThan(100);
      // The bucket is shared: the known events behind them find it empty (the 200 would need over 6 s
      // of refill at 30 per second)...
      const knownAnswers = await Promise.all(known);
      expect(knownAnswers.filter((a) => a.code === 'RATE_LIMITED').length).toBeGreaterThan(0);
      // ...while another socket is served.
      expect(await ask(other, 'getProducers', {})).toHaveProperty('producers');
      const metrics = parsePrometheus(await (await fetch(`${app.url}/metrics`)).text());
      expect(metricSum(metrics, 'webrtc_hls_signaling_requests_total', { event: 'unknown' })).toBe(300);
    } finally {
      flooder.disconnect();
      other.disconnect();
    }
  });
});

describe('metrics the benchmark reads', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startApp({ MEDIASOUP_WORKERS: '1', HLS_RETENTION_SECONDS: '0' });
  });
  afterAll(() => app?.close());

  const scrape = async () => parsePrometheus(await (await fetch(`${app.url}/metrics`)).text());

  it('ingest RTP packets (and losses) from mediasoup, FFmpeg missed packets and dropped frames, write and read failures', async () => {
    const before = await scrape();
    // Exposed from the start, at 0, under exactly these names.
    for (const name of [
      'webrtc_hls_ingest_rtp_packets_total',
      'webrtc_hls_ingest_rtp_packets_lost_total',
      'webrtc_hls_ffmpeg_rtp_missed_packets_total',
      'webrtc_hls_ffmpeg_dropped_frames_total',
      'webrtc_hls_packaging_write_failures_total',
      'webrtc_hls_delivery_read_failures_total',
      'webrtc_hls_peer_leaving_timeouts_total',
      'webrtc_hls_simulcast_layer_failures_total',
    ]) {
      expect(before.get(name)?.type).toBe('counter');
      expect(metricSum(before, name)).toBe(0);
    }
    const sse = new SseClient(`${app.url}/api/live-streams`);
    const publisher = await startBenchPublisher({ serverUrl: app.url, variant: 'h264' });
    try {
      await waitFor('peerLive', () => sse.find('peerLive', publisher.peerId), 30_000);
      const packets = async (kind: string) => metricSum(await scrape(), 'webrtc_hls_ingest_rtp_packets_total', { kind }) ?? 0;
      const first = { video: await waitFor('video packets counted', () => packets('video'), 15_000, 200), audio: await packets('audio') };
      expect(first.audio).toBeGreaterThan(0);
      // They keep coming: 30 fps video at 1 Mbit/s is over 100 packets a second.
      await waitFor('the count growing', async () => (await packets('video')) > first.video + 100, 15_000, 200);
      const now = await scrape();
      expect(metricSum(now, 'webrtc_hls_ingest_rtp_packets_lost_total')).toBeGreaterThanOrEqual(0);
      expect(metricSum(now, 'webrtc_hls_ffmpeg_rtp_missed_packets_total')).toBeGreaterThanOrEqual(0);
    } finally {
      await publisher.stop();
      sse.close();
    }
  });
});
