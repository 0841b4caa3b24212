/**
 * The socket.io signaling protocol against the real app: real mediasoup workers, real socket.io
 * clients in Node, real Chromium peers with mediasoup-client. One app serves the whole file, so the
 * last test's leak check (mediasoup's own dumps) covers everything the earlier ones did.
 */
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import type { Browser, Page } from 'playwright-core';
import { io, Socket } from 'socket.io-client';
import { WorkerPoolService } from '../src/mediasoup/worker-pool.service';
import { MAX_PAYLOAD_BYTES, SOCKET_MAX_HTTP_BUFFER_SIZE } from '../src/ingest/socket-io/parse-payload';
import { PeersService } from '../src/peers/peers.service';
import { PEER_LIMITS } from '../src/peers/limits';
import { startApp, TestApp, waitFor } from './support/app';
import { launchChromium } from './support/browser';
import { openTestPage } from './support/pages';

// Other suites run Chromium and FFmpeg on the same two cores at the same time: be patient, but poll.
jest.setTimeout(180_000);
const ACK_TIMEOUT_MS = 15_000;
const MEDIA_TIMEOUT_MS = 45_000;

type Ack = Record<string, any>;

/** The client→server events of the original protocol. */
const EVENTS = [
  'getRouterRtpCapabilities',
  'createWebRtcTransport',
  'connectTransport',
  'transportProduce',
  'transportConsume',
  'resumeConsumer',
  'getProducers',
  'pauseProducer',
  'resumeProducer',
] as const;
type ClientEvent = (typeof EVENTS)[number];

/** A Node socket.io client that records every event it receives. */
interface Client {
  socket: Socket;
  id: string;
  events: Array<{ name: string; data: any }>;
}

async function connectClient(url: string, transports: string[] = ['websocket']): Promise<Client> {
  const socket = io(url, { transports, reconnection: false, forceNew: true });
  const events: Client['events'] = [];
  socket.onAny((name, data) => events.push({ name, data }));
  const id = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no connectionSuccess')), ACK_TIMEOUT_MS);
    socket.once('connectionSuccess', ({ socketId }) => (clearTimeout(timer), resolve(socketId)));
    socket.once('connect_error', (error) => (clearTimeout(timer), reject(error)));
  });
  return { socket, id, events };
}

/** Emits with an ack; `args` empty means no payload at all (the ack is the only argument). */
function ask(client: Client, event: string, ...args: unknown[]): Promise<Ack> {
  return client.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, ...args);
}

/**
 * Emits a hand-written socket.io EVENT packet (`2<ackId>[event, payload]`) with an ack, for payloads
 * socket.io-client cannot encode itself (it recurses, and overflows on deep nesting).
 */
let rawAckId = 1_000_000;
function askRaw(client: Client, event: string, payloadJson: string): Promise<Ack> {
  const id = rawAckId++;
  const engine = client.socket.io.engine;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (engine.off('message', onMessage), reject(new Error(`no ack for raw ${event}`))), ACK_TIMEOUT_MS);
    const onMessage = (data: unknown) => {
      if (typeof data !== 'string' || !data.startsWith(`3${id}[`)) return;
      clearTimeout(timer);
      engine.off('message', onMessage);
      resolve(JSON.parse(data.slice(`3${id}`.length))[0]);
    };
    engine.on('message', onMessage);
    engine.write(`2${id}[${JSON.stringify(event)},${payloadJson}]`);
  });
}

/** WebRtcServer ports and RTC/FFmpeg ranges nobody else on this machine is using right now. */
async function freePortBase(): Promise<number> {
  const udpFree = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  const tcpFree = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below Linux's ephemeral range (32768+), away from the defaults (20000-23999).
    const base = 24_000 + Math.floor(Math.random() * 85) * 100;
    // Two workers × four WebRtcServers (base…base+7), and the RTC and FFmpeg ranges' first ports.
    const ports = [...Array.from({ length: 8 }, (_, i) => base + i), base + 10, base + 60];
    const free = await Promise.all(ports.map(async (p) => (await udpFree(p)) && (await tcpFree(p))));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no free port range found');
}

const FAKE_DTLS = {
  role: 'client',
  fingerprints: [{ algorithm: 'sha-256', value: Array.from({ length: 32 }, () => 'AB').join(':') }],
};

/** Enough for mediasoup to create a producer; no media ever flows for it. */
function fakeRtpParameters(kind: 'audio' | 'video', ssrc: number) {
  const codec =
    kind === 'audio'
      ? { mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: {}, rtcpFeedback: [] }
      : { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, parameters: {}, rtcpFeedback: [] };
  return { mid: kind === 'audio' ? '0' : '1', codecs: [codec], headerExtensions: [], encodings: [{ ssrc }], rtcp: { cname: 'node' } };
}

/** Over the app limit (64 KB) and well under socket.io's 1 MB. */
const oversized = (valid: object = {}) => ({ ...valid, padding: 'x'.repeat(MAX_PAYLOAD_BYTES + 1024) });

describe('signaling protocol (real workers, socket.io clients, Chromium)', () => {
  let app: TestApp;
  let browser: Browser;
  let peers: PeersService;
  let pool: WorkerPoolService;
  const clients: Client[] = [];
  const pages: Page[] = [];

  beforeAll(async () => {
    const base = await freePortBase();
    app = await startApp({
      MEDIASOUP_WORKERS: '2',
      WEBRTC_SERVER_PORT: String(base),
      RTC_MIN_PORT: String(base + 10),
      RTC_MAX_PORT: String(base + 59),
      FFMPEG_MIN_PORT: String(base + 60),
      FFMPEG_MAX_PORT: String(base + 99),
      HLS_RETENTION_SECONDS: '0',
    });
    peers = app.app.get(PeersService);
    pool = app.app.get(WorkerPoolService);
    browser = await launchChromium();
  });

  afterAll(async () => {
    for (const client of clients) client.socket.disconnect();
    await browser?.close();
    await app?.close();
  });

  async function client(transports?: string[]): Promise<Client> {
    const c = await connectClient(app.url, transports);
    clients.push(c);
    return c;
  }

  async function chromiumPeer(): Promise<{ page: Page; peerId: string }> {
    const page = await openTestPage(browser, app.url, 'harness');
    pages.push(page);
    const peerId = await page.evaluate(() => (window as any).harness.connect());
    return { page, peerId };
  }

  /** A publishing peer's media is alive: send transport connected, producers open, bytes flowing. */
  async function mediaAlive(peerId: string): Promise<{ dtlsState: string; iceState: string; bytes: number; score: number }> {
    const peer = peers.find(peerId)!;
    const transport = peer.transports.get('send')!;
    const producer = peer.producers.get('video')!;
    expect(producer.closed).toBe(false);
    const stats = await producer.getStats();
    return {
      dtlsState: transport.dtlsState,
      iceState: transport.iceState,
      bytes: stats.reduce((sum, s) => sum + s.byteCount, 0),
      score: Math.max(0, ...stats.map((s) => s.score)),
    };
  }

  it('answers every kind of bad input on every event with a clear {error, code}, and leaves other peers alone', async () => {
    // A live Chromium publisher whose media must not notice anything of what follows.
    const live = await chromiumPeer();
    await live.page.evaluate(() => (window as any).harness.publish({ video: 'camera', audio: 'mic', codec: 'H264' }));
    const liveSendTransportId = peers.find(live.peerId)!.transports.get('send')!.id;
    const liveVideoId = peers.find(live.peerId)!.producers.get('video')!.id;
    const before = await waitFor(
      'the live peer sending video',
      async () => {
        const s = await mediaAlive(live.peerId);
        return s.dtlsState === 'connected' && s.bytes > 0 && s.score > 0 ? s : undefined;
      },
      MEDIA_TIMEOUT_MS,
      200,
    );

    const bad = await client();
    const serverPeer = () => peers.find(bad.id)!;
    const ids: Record<string, any> = {};

    type Expect = { code: string; message: RegExp } | { ok: (answer: Ack) => void } | { ignored: true } | { applied: () => boolean };
    interface Case {
      event: ClientEvent;
      input: string;
      /** Omitted: the event carries no payload at all. */
      payload?: () => unknown;
      /** Several arguments before the ack. */
      args?: () => unknown[];
      /** Sent as hand-written JSON (see askRaw). */
      raw?: () => string;
      /** Runs just before the event is sent. */
      prelude?: () => void;
      noAck?: boolean;
      expect: Expect;
    }

    const err = (code: string, message: RegExp): Expect => ({ code, message });
    const notObject = (what: string) => err('BAD_REQUEST', new RegExp(`payload must be an object, got ${what}`));
    const tooLarge = err('PAYLOAD_TOO_LARGE', /payload of \d+ bytes exceeds the limit of 65536/);
    const ignored: Expect = { ignored: true };
    /** The inputs every event gets; `expect` says what this event answers where it differs from "not an object". */
    const common = (
      event: ClientEvent,
      valid: object,
      expect: Partial<Record<'none' | 'null' | 'string' | 'number' | 'array' | '{}', Expect>>,
    ): Case[] => [
      { event, input: 'none', expect: expect.none ?? notObject('undefined') },
      { event, input: 'null', payload: () => null, expect: expect.null ?? notObject('null') },
      { event, input: 'string', payload: () => 'hello', expect: expect.string ?? notObject('string') },
      { event, input: 'number', payload: () => 42, expect: expect.number ?? notObject('number') },
      { event, input: 'array', args: () => [valid, valid], expect: expect.array ?? notObject('an array') },
      { event, input: '{}', payload: () => ({}), expect: expect['{}']! },
      { event, input: 'oversized', payload: () => oversized(valid), expect: tooLarge },
      { event, input: 'no ack (bad)', payload: () => 'hello', noAck: true, expect: ignored },
      { event, input: 'no ack, no payload', noAck: true, expect: ignored },
    ];
    const rtpCaps = (answer: Ack) => expect(answer.rtpCapabilities.codecs.length).toBeGreaterThan(0);
    const producerList = (answer: Ack) =>
      expect(answer.producers).toEqual(expect.arrayContaining([{ peerId: live.peerId, producerId: liveVideoId }]));
    const anything = {
      none: { ok: rtpCaps },
      null: { ok: rtpCaps },
      string: { ok: rtpCaps },
      number: { ok: rtpCaps },
      array: { ok: rtpCaps },
      '{}': { ok: rtpCaps },
    };
    const anyList = {
      none: { ok: producerList },
      null: { ok: producerList },
      string: { ok: producerList },
      number: { ok: producerList },
      array: { ok: producerList },
      '{}': { ok: producerList },
    };

    const cases: Case[] = [
      // Queries take any argument, but not an oversized one.
      ...common('getRouterRtpCapabilities', {}, anything),
      ...common('getProducers', {}, anyList),

      // Nothing exists yet for this peer.
      {
        event: 'transportProduce',
        input: 'no transport',
        payload: () => ({ kind: 'audio', rtpParameters: fakeRtpParameters('audio', 1) }),
        expect: err('INVALID_STATE', /create a send transport .* first/),
      },
      {
        event: 'transportConsume',
        input: 'no transport',
        payload: () => ({ rtpCapabilities: {}, remoteProducerId: liveVideoId }),
        expect: err('INVALID_STATE', /create a receive transport .* first/),
      },
      {
        event: 'resumeConsumer',
        input: 'unknown id',
        payload: () => ({ consumerId: 'no-such-consumer' }),
        expect: err('NOT_FOUND', /consumer no-such-consumer not found/),
      },
      {
        event: 'pauseProducer',
        input: 'unknown id',
        payload: () => ({ kind: 'video' }),
        expect: err('NOT_FOUND', /peer has no video producer/),
      },
      {
        event: 'resumeProducer',
        input: 'unknown id',
        payload: () => ({ kind: 'audio' }),
        expect: err('NOT_FOUND', /peer has no audio producer/),
      },

      ...common('createWebRtcTransport', { isConsumer: false }, { '{}': err('BAD_REQUEST', /^invalid payload: isConsumer is missing$/) }),
      {
        event: 'createWebRtcTransport',
        input: 'wrong types',
        payload: () => ({ isConsumer: 'yes' }),
        expect: err('BAD_REQUEST', /isConsumer must be a boolean/),
      },
      {
        event: 'createWebRtcTransport',
        input: '__proto__ key',
        payload: () => JSON.parse('{"__proto__": {"isConsumer": true}, "isConsumer": "yes"}'),
        expect: err('BAD_REQUEST', /isConsumer must be a boolean/),
      },
      {
        event: 'createWebRtcTransport',
        input: 'binary',
        payload: () => Buffer.from('{"isConsumer":false}'),
        expect: notObject('binary data'),
      },
      {
        event: 'createWebRtcTransport',
        input: 'valid + appData',
        payload: () => ({ isConsumer: false, appData: { foo: 1 } }),
        expect: {
          ok: (a) => {
            expect(Object.keys(a).sort()).toEqual(['dtlsParameters', 'iceCandidates', 'iceParameters', 'id']);
            ids.send = a.id;
          },
        },
      },
      {
        event: 'createWebRtcTransport',
        input: 'second send',
        payload: () => ({ isConsumer: false }),
        expect: err('LIMIT_EXCEEDED', /already has a send transport/),
      },
      {
        event: 'transportProduce',
        input: 'before connect',
        payload: () => ({ kind: 'audio', rtpParameters: fakeRtpParameters('audio', 1) }),
        expect: err('INVALID_STATE', /connect the send transport .* before producing/),
      },
      {
        event: 'createWebRtcTransport',
        input: 'no ack (valid)',
        payload: () => ({ isConsumer: true }),
        noAck: true,
        expect: { applied: () => serverPeer().transports.has('recv') },
      },

      ...common(
        'connectTransport',
        { transportId: 'x', dtlsParameters: FAKE_DTLS },
        { '{}': err('BAD_REQUEST', /^invalid payload: transportId is missing; dtlsParameters is missing$/) },
      ),
      {
        event: 'connectTransport',
        input: 'wrong types',
        payload: () => ({ transportId: 7, dtlsParameters: 'dtls' }),
        expect: err(
          'BAD_REQUEST',
          /^invalid payload: transportId must be an id \(a non-empty string of at most 64 characters\); dtlsParameters must be an object$/,
        ),
      },
      {
        event: 'connectTransport',
        input: 'bad fingerprint',
        payload: () => ({ transportId: ids.send, dtlsParameters: { fingerprints: [{ algorithm: 'md5', value: 'zz' }] } }),
        expect: err(
          'BAD_REQUEST',
          /fingerprints\.0\.algorithm: algorithm must be one of.*fingerprints\.0\.value: value must be a hex fingerprint/,
        ),
      },
      {
        event: 'connectTransport',
        input: 'unknown id',
        payload: () => ({ transportId: 'no-such-transport', dtlsParameters: FAKE_DTLS }),
        expect: err('NOT_FOUND', /transport no-such-transport not found/),
      },
      {
        event: 'connectTransport',
        input: "another peer's id",
        payload: () => ({ transportId: liveSendTransportId, dtlsParameters: FAKE_DTLS }),
        expect: err('NOT_FOUND', /transport .* not found/),
      },
      {
        event: 'connectTransport',
        input: 'valid',
        payload: () => ({ transportId: ids.send, dtlsParameters: FAKE_DTLS }),
        expect: { ok: (a) => expect(a).toEqual({ connected: true }) },
      },
      {
        event: 'connectTransport',
        input: 'again',
        payload: () => ({ transportId: ids.send, dtlsParameters: FAKE_DTLS }),
        expect: err('INVALID_STATE', /already connected/),
      },
      {
        event: 'connectTransport',
        input: 'no ack (valid)',
        payload: () => ({ transportId: serverPeer().transports.get('recv')!.id, dtlsParameters: FAKE_DTLS }),
        noAck: true,
        expect: { applied: () => serverPeer().connected.has(serverPeer().transports.get('recv')!.id) },
      },

      ...common(
        'transportProduce',
        { kind: 'audio', rtpParameters: fakeRtpParameters('audio', 1) },
        { '{}': err('BAD_REQUEST', /^invalid payload: kind is missing; rtpParameters is missing$/) },
      ),
      {
        event: 'transportProduce',
        input: 'wrong types',
        payload: () => ({ kind: 'data', rtpParameters: 'rtp' }),
        expect: err('BAD_REQUEST', /kind must be one of the following values: audio, video.*rtpParameters must be/),
      },
      {
        event: 'transportProduce',
        input: 'null codec',
        payload: () => ({ kind: 'audio', rtpParameters: { codecs: [null] } }),
        expect: err('BAD_REQUEST', /rtpParameters codecs must be objects with a mimeType/),
      },
      {
        event: 'transportProduce',
        input: 'unsupported codec',
        payload: () => ({
          kind: 'video',
          rtpParameters: { ...fakeRtpParameters('video', 2), codecs: [{ mimeType: 'video/FOO', payloadType: 100, clockRate: 90000 }] },
        }),
        expect: err('UNSUPPORTED', /cannot produce video: unsupported codec.*video\/FOO/),
      },
      {
        event: 'transportProduce',
        input: 'kind mismatch',
        payload: () => ({ kind: 'video', rtpParameters: fakeRtpParameters('audio', 3) }),
        expect: err('BAD_REQUEST', /rtpParameters has codec audio\/opus, not a video codec/),
      },
      {
        event: 'transportProduce',
        input: 'deeply nested',
        // ~60 KB, under the size limit.
        raw: () =>
          JSON.stringify({ kind: 'audio', rtpParameters: { ...fakeRtpParameters('audio', 4), deep: '@' } }).replace(
            '"@"',
            `${'{"a":'.repeat(10_000)}{}${'}'.repeat(10_000)}`,
          ),
        expect: err('BAD_REQUEST', /payload nests deeper than 16 levels/),
      },
      {
        event: 'transportProduce',
        input: 'valid + appData',
        payload: () => ({ kind: 'audio', rtpParameters: fakeRtpParameters('audio', 5), appData: { x: 1 } }),
        expect: { ok: (a) => expect(Object.keys(a)).toEqual(['id']) },
      },
      {
        event: 'transportProduce',
        input: 'second audio',
        payload: () => ({ kind: 'audio', rtpParameters: fakeRtpParameters('audio', 6) }),
        expect: err('LIMIT_EXCEEDED', /already produces audio/),
      },
      {
        event: 'transportProduce',
        input: 'duplicate mid',
        payload: () => ({ kind: 'video', rtpParameters: { ...fakeRtpParameters('video', 7), mid: '0' } }),
        expect: err('BAD_REQUEST', /cannot produce video: .*MID already exists/),
      },
      {
        event: 'transportProduce',
        input: 'no ack (valid)',
        payload: () => ({ kind: 'video', rtpParameters: fakeRtpParameters('video', 7) }),
        noAck: true,
        expect: { applied: () => serverPeer().producers.has('video') },
      },

      ...common(
        'transportConsume',
        { rtpCapabilities: {}, remoteProducerId: 'x' },
        { '{}': err('BAD_REQUEST', /^invalid payload: rtpCapabilities is missing; remoteProducerId is missing$/) },
      ),
      {
        event: 'transportConsume',
        input: 'wrong types',
        payload: () => ({ rtpCapabilities: 'caps', remoteProducerId: 7 }),
        expect: err('BAD_REQUEST', /rtpCapabilities must be an object whose codecs .*; remoteProducerId must be an id/),
      },
      {
        event: 'transportConsume',
        input: 'unknown id',
        payload: () => ({ rtpCapabilities: ids.caps, remoteProducerId: 'no-such-producer' }),
        expect: err('NOT_FOUND', /producer no-such-producer not found/),
      },
      {
        event: 'transportConsume',
        input: 'no codecs',
        payload: () => ({ rtpCapabilities: { codecs: [] }, remoteProducerId: liveVideoId }),
        expect: err('UNSUPPORTED', /these rtpCapabilities cannot consume producer .* \(no common codec\)/),
      },
      {
        event: 'transportConsume',
        input: 'valid',
        payload: () => ({ rtpCapabilities: ids.caps, remoteProducerId: liveVideoId, appData: { y: 2 } }),
        expect: {
          ok: (a) => {
            expect(a).toMatchObject({ producerId: liveVideoId, kind: 'video' });
            expect(a.rtpParameters.codecs[0].mimeType).toBe('video/H264');
            expect(serverPeer().consumers.get(a.id)!.paused).toBe(true);
            ids.consumer = a.id;
          },
        },
      },
      {
        event: 'transportConsume',
        input: 'no ack (valid)',
        payload: () => ({ rtpCapabilities: ids.caps, remoteProducerId: peers.find(live.peerId)!.producers.get('audio')!.id }),
        noAck: true,
        expect: { applied: () => [...serverPeer().consumers.values()].some((c) => c.kind === 'audio') },
      },

      ...common('resumeConsumer', { consumerId: 'x' }, { '{}': err('BAD_REQUEST', /^invalid payload: consumerId is missing$/) }),
      {
        event: 'resumeConsumer',
        input: 'wrong types',
        payload: () => ({ consumerId: 5 }),
        expect: err('BAD_REQUEST', /^invalid payload: consumerId must be an id/),
      },
      {
        event: 'resumeConsumer',
        input: 'unknown id',
        payload: () => ({ consumerId: 'no-such-consumer' }),
        expect: err('NOT_FOUND', /consumer no-such-consumer not found/),
      },
      {
        event: 'resumeConsumer',
        input: 'no ack (valid)',
        payload: () => ({ consumerId: ids.consumer }),
        noAck: true,
        expect: { applied: () => serverPeer().consumers.get(ids.consumer)!.paused === false },
      },
      {
        event: 'resumeConsumer',
        input: 'valid',
        payload: () => ({ consumerId: ids.consumer }),
        expect: { ok: (a) => expect(a).toEqual({ resumed: true }) },
      },

      ...common('pauseProducer', { kind: 'audio' }, { '{}': err('BAD_REQUEST', /^invalid payload: kind is missing$/) }),
      {
        event: 'pauseProducer',
        input: 'wrong types',
        payload: () => ({ kind: 'data' }),
        expect: err('BAD_REQUEST', /kind must be one of the following values: audio, video/),
      },
      {
        event: 'pauseProducer',
        input: 'no ack (valid)',
        payload: () => ({ kind: 'audio' }),
        noAck: true,
        expect: { applied: () => serverPeer().producers.get('audio')!.paused },
      },
      {
        event: 'pauseProducer',
        input: 'valid',
        payload: () => ({ kind: 'video' }),
        expect: { ok: (a) => expect(a).toEqual({ paused: true }) },
      },

      ...common('resumeProducer', { kind: 'audio' }, { '{}': err('BAD_REQUEST', /^invalid payload: kind is missing$/) }),
      {
        event: 'resumeProducer',
        input: 'wrong types',
        payload: () => ({ kind: 7 }),
        expect: err('BAD_REQUEST', /kind must be one of the following values: audio, video/),
      },
      {
        event: 'resumeProducer',
        input: 'no ack (valid)',
        payload: () => ({ kind: 'audio' }),
        noAck: true,
        expect: { applied: () => !serverPeer().producers.get('audio')!.paused },
      },
      {
        event: 'resumeProducer',
        input: 'valid',
        payload: () => ({ kind: 'video' }),
        expect: { ok: (a) => expect(a).toEqual({ paused: false }) },
      },
      {
        // The original front end toggles mute with ack-less events: a quick pause + resume must end resumed.
        event: 'resumeProducer',
        input: 'right after a pause (no ack)',
        prelude: () => {
          const producer = serverPeer().producers.get('audio')!;
          ids.toggles = [];
          producer.observer.on('pause', () => ids.toggles.push('pause'));
          producer.observer.on('resume', () => ids.toggles.push('resume'));
          bad.socket.emit('pauseProducer', { kind: 'audio' });
        },
        payload: () => ({ kind: 'audio' }),
        noAck: true,
        expect: { applied: () => ids.toggles.join() === 'pause,resume' && !serverPeer().producers.get('audio')!.paused },
      },
      {
        event: 'noSuchEvent' as ClientEvent,
        input: 'unknown event',
        payload: () => ({}),
        expect: err('BAD_REQUEST', /^unknown event noSuchEvent$/),
      },
    ];

    ids.caps = (await ask(bad, 'getRouterRtpCapabilities')).rtpCapabilities;
    const outcomes = new Map<string, Map<string, string>>();
    const mismatches: string[] = [];
    for (const c of cases) {
      const label = `${c.event} × ${c.input}`;
      const args = c.args ? c.args() : c.payload ? [c.payload()] : [];
      c.prelude?.();
      let outcome: string;
      if (c.noAck) {
        bad.socket.emit(c.event, ...args);
        if ('applied' in c.expect) {
          await waitFor(`${label} to take effect`, c.expect.applied, ACK_TIMEOUT_MS);
          outcome = 'applied (no ack)';
        } else {
          outcome = 'ignored (no ack)';
        }
        // The socket still answers after it.
        expect((await ask(bad, 'getRouterRtpCapabilities')).rtpCapabilities).toBeDefined();
      } else {
        const answer = await (c.raw ? askRaw(bad, c.event, c.raw()) : ask(bad, c.event, ...args)).catch((error): Ack => ({
          timeout: String(error),
        }));
        try {
          if ('code' in c.expect) {
            expect(answer).toEqual({ error: expect.stringMatching(c.expect.message), code: c.expect.code });
            outcome = `${answer.code}: ${answer.error.length > 100 ? `${answer.error.slice(0, 97)}...` : answer.error}`;
          } else if ('ok' in c.expect) {
            expect(answer.error).toBeUndefined();
            c.expect.ok(answer);
            outcome = 'ok';
          } else {
            throw new Error('an ack-less case must set noAck');
          }
        } catch (error) {
          outcome = `MISMATCH ${JSON.stringify(answer).slice(0, 200)}`;
          mismatches.push(`${label}: got ${JSON.stringify(answer).slice(0, 300)}\n${(error as Error).message}`);
        }
      }
      if (!outcomes.has(c.event)) outcomes.set(c.event, new Map());
      outcomes.get(c.event)!.set(c.input, outcome);
    }

    const rows = [...EVENTS, 'noSuchEvent'].flatMap((event) =>
      [...(outcomes.get(event) ?? [])].map(([input, outcome]) => `| ${event} | ${input} | ${outcome} |`),
    );
    console.log(
      [
        `bad-input cases: ${cases.length} (${EVENTS.length} events, and one unknown event)`,
        '| event | input | outcome |',
        '|---|---|---|',
        ...rows,
      ].join('\n'),
    );
    expect(mismatches).toEqual([]);
    // Every event got the common inputs.
    for (const event of EVENTS) {
      for (const input of ['none', 'null', 'string', 'number', 'array', '{}', 'oversized', 'no ack (bad)', 'no ack, no payload']) {
        expect(outcomes.get(event)?.has(input)).toBe(true);
      }
    }
    // Nest's default filter would emit `exception`; ours answers the ack instead.
    expect(bad.events.filter((e) => e.name === 'exception')).toEqual([]);

    // The server still serves, and the live peer's media never noticed.
    expect((await ask(await client(), 'getRouterRtpCapabilities', {})).rtpCapabilities).toBeDefined();
    const after = await waitFor(
      'the live peer still sending',
      async () => {
        const s = await mediaAlive(live.peerId);
        return s.bytes > before.bytes ? s : undefined;
      },
      MEDIA_TIMEOUT_MS,
      200,
    );
    expect(after).toMatchObject({ dtlsState: 'connected', iceState: expect.stringMatching(/connected|completed/) });
    expect(after.score).toBeGreaterThan(0);
    expect(peers.find(live.peerId)!.transports.get('send')!.id).toBe(liveSendTransportId);
    expect(await live.page.evaluate(() => (window as any).harness.connectionState)).toBe('connected');
    const liveEvents: Array<{ name: string }> = await live.page.evaluate(() => (window as any).harness.events);
    expect(liveEvents.filter((e) => e.name === 'error' || e.name === 'exception')).toEqual([]);

    await live.page.close();
    bad.socket.disconnect();
  });

  it(`refuses transports beyond ${PEER_LIMITS.transports} per socket, even asked for 30 at once, without creating them`, async () => {
    const greedy = await client();
    const router = peers.find(greedy.id)!.slot.router;
    let created = 0;
    const count = (transport: { appData: Record<string, unknown> }) => {
      if (transport.appData.peerId === greedy.id) created++;
    };
    router.observer.on('newtransport', count);
    try {
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, i) => ask(greedy, 'createWebRtcTransport', { isConsumer: i % 2 === 1 })),
      );
      const ok = answers.filter((a) => !a.error);
      const refused = answers.filter((a) => a.error);
      expect(ok).toHaveLength(2);
      expect(refused).toHaveLength(28);
      for (const a of refused)
        expect(a).toEqual({
          error: expect.stringMatching(/already has a (send|recv) transport \(limit: one per direction\)/),
          code: 'LIMIT_EXCEEDED',
        });
      // Asked one at a time afterwards: still refused.
      for (const isConsumer of [false, true]) {
        expect(await ask(greedy, 'createWebRtcTransport', { isConsumer })).toMatchObject({ code: 'LIMIT_EXCEEDED' });
      }
      expect(created).toBe(2);
      expect(peers.find(greedy.id)!.transports.size).toBe(2);
    } finally {
      router.observer.off('newtransport', count);
    }

    const other = await client();
    const send = await ask(other, 'createWebRtcTransport', { isConsumer: false });
    const recv = await ask(other, 'createWebRtcTransport', { isConsumer: true });
    expect(send.id).toEqual(expect.any(String));
    expect(recv.id).toEqual(expect.any(String));
    greedy.socket.disconnect();
    other.socket.disconnect();
  });

  it('carries a Chromium publisher to a Chromium viewer: newProducer, getProducers, decoded frames, producerChange, peerLeft', async () => {
    const workerOf = (peerId: string) => peers.find(peerId)!.slot.id;
    const viewer = await chromiumPeer();
    // The publisher lands on the other worker (round robin), so consuming goes through a pipe.
    let publisher = await chromiumPeer();
    if (workerOf(publisher.peerId) === workerOf(viewer.peerId)) {
      await publisher.page.close();
      publisher = await chromiumPeer();
    }
    expect(workerOf(publisher.peerId)).not.toBe(workerOf(viewer.peerId));

    const produced: Record<string, string> = await publisher.page.evaluate(() =>
      (window as any).harness.publish({ video: 'camera', audio: 'mic', codec: 'H264' }),
    );
    const viewerEvents = (name: string) =>
      viewer.page.evaluate((n) => (window as any).harness.events.filter((e: any) => e.name === n).map((e: any) => e.data), name);

    const announced = await waitFor(
      'newProducer for audio and video at the viewer',
      async () => {
        const events = (await viewerEvents('newProducer')).filter((e: any) => e.producerSocketId === publisher.peerId);
        return events.length === 2 ? events : undefined;
      },
      ACK_TIMEOUT_MS,
    );
    expect(announced.map((e: any) => e.producerId).sort()).toEqual([produced.audio, produced.video].sort());
    // The publisher itself is not told of its own producers.
    expect(await publisher.page.evaluate(() => (window as any).harness.events.filter((e: any) => e.name === 'newProducer').length)).toBe(0);

    const listed = await viewer.page.evaluate(() => (window as any).harness.request('getProducers', {}));
    expect(listed.producers).toEqual(
      expect.arrayContaining([
        { peerId: publisher.peerId, producerId: produced.audio },
        { peerId: publisher.peerId, producerId: produced.video },
      ]),
    );

    const video = await viewer.page.evaluate((id) => (window as any).harness.consume(id), produced.video);
    const audio = await viewer.page.evaluate((id) => (window as any).harness.consume(id), produced.audio);
    expect(video.kind).toBe('video');
    expect(audio.kind).toBe('audio');

    // Decoded frames: a size, and the frame counter and clock moving on.
    const frames = () =>
      viewer.page.evaluate((id) => {
        const el = document.getElementById(`consumer-${id}`) as HTMLVideoElement;
        return { width: el.videoWidth, time: el.currentTime, decoded: el.getVideoPlaybackQuality().totalVideoFrames };
      }, video.id);
    const first = await waitFor(
      'decoded video at the viewer',
      async () => {
        const f = await frames();
        return f.width > 0 && f.decoded > 0 ? f : undefined;
      },
      MEDIA_TIMEOUT_MS,
      200,
    );
    const later = await waitFor(
      'more frames',
      async () => {
        const f = await frames();
        return f.decoded >= first.decoded + 10 && f.time > first.time ? f : undefined;
      },
      MEDIA_TIMEOUT_MS,
      200,
    );
    console.log(`viewer decoding ${later.width}px video: ${first.decoded} → ${later.decoded} frames`);
    // resumeConsumer went without an ack and took effect.
    expect(peers.find(viewer.peerId)!.consumers.get(video.id)!.paused).toBe(false);
    // The media reached the viewer's worker through a pipe transport next to its own recv transport.
    const viewerRouter = peers.find(viewer.peerId)!.slot.router;
    const viewerRecvId = peers.find(viewer.peerId)!.transports.get('recv')!.id;
    const during = (await viewerRouter.dump()).transportIds as string[];
    expect(during).toContain(viewerRecvId);
    expect(during.length).toBeGreaterThan(1);

    await publisher.page.evaluate(() => (window as any).harness.pause('video'));
    const change = await waitFor('producerChange at the viewer', async () => (await viewerEvents('producerChange'))[0], ACK_TIMEOUT_MS);
    expect(change).toEqual({ kind: 'video', peerId: publisher.peerId, paused: true });
    await waitFor(
      'the viewer consumer to see its producer paused',
      () => peers.find(viewer.peerId)!.consumers.get(video.id)!.producerPaused,
      ACK_TIMEOUT_MS,
    );

    await publisher.page.close();
    const left = await waitFor(
      'peerLeft at the viewer',
      async () => (await viewerEvents('peerLeft')).find((e: any) => e.peerId === publisher.peerId),
      ACK_TIMEOUT_MS,
    );
    expect(left).toEqual({ peerId: publisher.peerId });
    // Its consumers went with the producers, and the pipe with its last piped producer.
    await waitFor('the viewer consumers closed', () => peers.find(viewer.peerId)!.consumers.size === 0, ACK_TIMEOUT_MS);
    await waitFor(
      'the pipe transport closed',
      async () => {
        const ids = (await viewerRouter.dump()).transportIds as string[];
        return ids.length === 1 && ids[0] === viewerRecvId;
      },
      ACK_TIMEOUT_MS,
    );
    await viewer.page.close();
  });

  it.each(['websocket', 'polling'])(
    `disconnects a client whose message exceeds socket.io's ${SOCKET_MAX_HTTP_BUFFER_SIZE} bytes (over %s), and only that client`,
    async (transport) => {
      const bystander = await client();
      await ask(bystander, 'createWebRtcTransport', { isConsumer: true });
      const huge = await client([transport]);
      expect(peers.find(huge.id)).toBeDefined();
      const disconnected = new Promise<string>((resolve) => huge.socket.once('disconnect', resolve));
      let answered = false;
      // Malformed too (a codec that is a string), but the size stops it before anything reads it.
      const payload = { kind: 'audio', rtpParameters: { codecs: ['x'.repeat(SOCKET_MAX_HTTP_BUFFER_SIZE + 1024)] } };
      huge.socket.emit('transportProduce', payload, () => (answered = true));
      let timer: NodeJS.Timeout | undefined;
      const reason = await Promise.race([
        disconnected,
        new Promise<string>((resolve) => (timer = setTimeout(resolve, ACK_TIMEOUT_MS, 'still connected'))),
      ]);
      clearTimeout(timer);
      // websocket: the server closes the connection (1009); polling: it answers the POST with 413.
      expect(reason).toMatch(/^transport (close|error)$/);
      expect(answered).toBe(false);
      await waitFor('the huge client to leave the server', () => !peers.find(huge.id), ACK_TIMEOUT_MS);

      expect(bystander.socket.connected).toBe(true);
      expect((await ask(bystander, 'getRouterRtpCapabilities')).rtpCapabilities).toBeDefined();
      expect(peers.find(bystander.id)!.transports.has('recv')).toBe(true);
      expect((await ask(await client([transport]), 'getProducers')).producers).toEqual(expect.any(Array));
      bystander.socket.disconnect();
    },
  );

  it("leaves no transport, producer or consumer in any worker once every peer is gone (mediasoup's own dumps)", async () => {
    for (const c of clients) c.socket.disconnect();
    for (const page of pages) if (!page.isClosed()) await page.close();
    await waitFor('every peer to leave', () => peers.all().length === 0, ACK_TIMEOUT_MS);

    const dumps = async () =>
      Promise.all(
        pool.aliveSlots().map(async ({ id, worker, router, webRtcServers }) => ({
          id,
          worker: await worker.dump(),
          router: await router.dump(),
          webRtcServers: await Promise.all(webRtcServers.map((server) => server.dump())),
        })),
      );
    const empty = (value: unknown) => (Array.isArray(value) ? value.length === 0 : Object.keys(value ?? {}).length === 0);
    // The HLS side closes its plain transports after its FFmpeg stops: give it a moment.
    const clean = await waitFor(
      'empty routers',
      async () => {
        const all = await dumps();
        const ok = all.every(
          (d) =>
            d.worker.routerIds.length === 1 &&
            empty(d.router.transportIds) &&
            empty(d.router.mapProducerIdConsumerIds) &&
            empty(d.router.mapConsumerIdProducerId) &&
            empty(d.router.mapProducerIdObserverIds) &&
            d.webRtcServers.every((server) => empty(server.webRtcTransportIds)),
        );
        return ok ? all : undefined;
      },
      30_000,
      250,
    ).catch(async (error) => {
      console.log('last dumps', JSON.stringify(await dumps(), null, 2));
      throw error;
    });
    expect(clean).toHaveLength(2);
    expect(peers.all()).toEqual([]);
  });
});
