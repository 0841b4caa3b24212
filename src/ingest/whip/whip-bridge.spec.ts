import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as mediasoup from 'mediasoup';
import type { Router, WebRtcTransport, Worker } from 'mediasoup/node/lib/types';
import { parse } from 'sdp-transform';
import { MEDIA_CODECS } from '../../mediasoup/media-codecs';
import { negotiateWhipOffer } from './whip-negotiation';

// The live client: libdatachannel built like OBS builds its WHIP peer (shared with the capture script).
const { createObsLikePeer } = require('./fixtures/obs-like-peer.cjs') as {
  createObsLikePeer(ndc: unknown, options?: { bindAddress?: string }): ObsLikePeer;
};
interface ObsLikePeer {
  pc: { setRemoteDescription(sdp: string, type: string): void; state(): string };
  offer: string;
  audio: { track: LiveTrack; ssrc: number; payloadType: number; mid: string };
  video: { track: LiveTrack; ssrc: number; payloadType: number; mid: string };
  close(): void;
}
interface LiveTrack {
  isOpen(): boolean;
  sendMessageBinary(buffer: Buffer): boolean;
}

const FIXTURES = readdirSync(join(__dirname, 'fixtures'))
  .filter((name) => name.endsWith('.sdp'))
  .map((name) => name.replace(/\.sdp$/, ''));
const fixture = (name: string): string => readFileSync(join(__dirname, 'fixtures', `${name}.sdp`), 'utf8');

/** Polls `probe` until it returns a truthy value; the deadline is generous, the check is the event. */
async function waitFor<T>(what: string, probe: () => T | Promise<T>, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('WHIP bridge on a real mediasoup router', () => {
  let ndcLoaded = false;
  let worker: Worker;
  let router: Router;
  const transports: WebRtcTransport[] = [];
  const transport = async (): Promise<WebRtcTransport> => {
    const t = await router.createWebRtcTransport({ listenIps: [{ ip: '127.0.0.1' }], enableUdp: true, enableTcp: true, preferUdp: true });
    transports.push(t);
    return t;
  };

  beforeAll(async () => {
    worker = await mediasoup.createWorker({ logLevel: 'warn' });
    router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
  });
  afterAll(() => {
    transports.forEach((t) => t.close());
    worker?.close();
    // libdatachannel's threads keep the process alive until cleanup() (the peer is closed by then).
    if (ndcLoaded) (require('node-datachannel') as { cleanup(): void }).cleanup();
  });

  it('has every committed fixture', () => {
    expect(FIXTURES.sort()).toEqual(
      [
        'chromium-default',
        'chromium-h264-opus',
        'chromium-h264-simulcast',
        'chromium-native-caps',
        'chromium-vp8-opus',
        'gstreamer-high-rtx-twcc',
        'gstreamer-whipsink',
        'libdatachannel-obs',
      ].sort(),
    );
  });

  it.each(FIXTURES)('%s: connect() and produce() accept what the bridge derives', async (name) => {
    const negotiation = negotiateWhipOffer(fixture(name), router.rtpCapabilities);
    const t = await transport();
    await t.connect({ dtlsParameters: negotiation.dtlsParameters });
    expect(t.dtlsParameters.role).toBe('server'); // mediasoup took the role our answer announces (passive)
    for (const plan of negotiation.producers) {
      const expected = structuredClone(plan.options.rtpParameters);
      const producer = await t.produce(plan.options);
      expect(producer.kind).toBe(plan.kind);
      expect(producer.type).toBe(expected.encodings!.some((e) => e.rid) ? 'simulcast' : 'simple');
      expect(producer.rtpParameters.mid).toBe(plan.mid);
      expect(producer.rtpParameters.codecs.map((c) => c.payloadType)).toEqual(expected.codecs.map((c) => c.payloadType));
      // mediasoup mapped the chosen codec onto a router codec of the same MIME type.
      const mapped = producer.consumableRtpParameters.codecs[0];
      expect(mapped.mimeType.toLowerCase()).toBe(expected.codecs[0].mimeType.toLowerCase());
    }
  });

  it.each(FIXTURES)('%s: the answer parses back and satisfies the offer', async (name) => {
    const sdp = fixture(name);
    const negotiation = negotiateWhipOffer(sdp, router.rtpCapabilities);
    const t = await transport();
    const answer = parse(negotiation.answer(t));
    const offer = parse(sdp);
    expect(answer.icelite).toBe('ice-lite');
    expect(answer.media.map((m) => String(m.mid))).toEqual(offer.media.map((m) => String(m.mid)));
    expect(answer.media.map((m) => m.type)).toEqual(offer.media.map((m) => m.type));
    expect(answer.groups).toEqual([{ type: 'BUNDLE', mids: offer.groups!.find((g) => g.type === 'BUNDLE')!.mids }]);
    const tcp = t.iceCandidates.find((c) => c.protocol === 'tcp')!;
    const udp = t.iceCandidates.find((c) => c.protocol === 'udp')!;
    for (const m of answer.media) {
      const plan = negotiation.producers.find((p) => p.mid === String(m.mid))!;
      expect(m.direction).toBe('recvonly');
      expect(m.setup).toBe('passive');
      expect(m.rtcpMux).toBe('rtcp-mux');
      expect(m.port).toBe(udp.port);
      expect(m.bundleOnly).toBeUndefined();
      expect(String(m.iceUfrag)).toBe(t.iceParameters.usernameFragment);
      expect(String(m.icePwd)).toBe(t.iceParameters.password);
      expect(m.fingerprint).toEqual({ type: 'sha-256', hash: t.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256')!.value });
      expect(m.candidates).toEqual([
        expect.objectContaining({ transport: 'udp', ip: '127.0.0.1', port: udp.port, type: 'host' }),
        expect.objectContaining({ transport: 'tcp', ip: '127.0.0.1', port: tcp.port, type: 'host', tcptype: 'passive' }),
      ]);
      // Only the chosen codec and its RTX, with the offer's payload types and feedback.
      const pts = plan.options.rtpParameters.codecs.map((c) => c.payloadType);
      expect(String(m.payloads).split(' ').map(Number)).toEqual(pts);
      expect(m.rtp.map((r) => r.payload)).toEqual(pts);
      expect((m.rtcpFb ?? []).map((fb) => `${fb.type}${fb.subtype ? ` ${fb.subtype}` : ''}`)).toEqual(
        plan.options.rtpParameters.codecs[0].rtcpFeedback!.map((fb) => `${fb.type}${fb.parameter ? ` ${fb.parameter}` : ''}`),
      );
      expect((m.ext ?? []).map((e) => [e.value, e.uri])).toEqual(plan.options.rtpParameters.headerExtensions!.map((e) => [e.id, e.uri]));
      const offered = offer.media.find((o) => String(o.mid) === String(m.mid))!;
      if (offered.simulcast) {
        expect(m.simulcast).toEqual({ dir1: 'recv', list1: 'r0;r1;r2' });
        expect(m.rids).toEqual(['r0', 'r1', 'r2'].map((id) => ({ id, direction: 'recv' })));
      }
    }
  });

  it('rejects with port 0, same mid, what it does not take (a data channel next to the media)', async () => {
    const sdp =
      fixture('libdatachannel-obs').replace('a=group:BUNDLE 0 1', 'a=group:BUNDLE 0 1 2').trimEnd() +
      '\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\na=sctp-port:5000\r\n';
    const negotiation = negotiateWhipOffer(sdp, router.rtpCapabilities);
    const answer = parse(negotiation.answer(await transport()));
    expect(answer.media.map((m) => [m.type, String(m.mid), m.port === 0])).toEqual([
      ['audio', '0', false],
      ['video', '1', false],
      ['application', '2', true],
    ]);
    expect(answer.media[2].protocol).toBe('UDP/DTLS/SCTP');
    expect(answer.groups).toEqual([{ type: 'BUNDLE', mids: '0 1' }]);
  });

  it('a libdatachannel client built like OBS completes ICE and DTLS with the answer, and the producers receive its RTP', async () => {
    const ndc = require('node-datachannel');
    ndcLoaded = true;
    const peer = createObsLikePeer(ndc, { bindAddress: '127.0.0.1' });
    let timer: NodeJS.Timeout | undefined;
    try {
      const negotiation = negotiateWhipOffer(peer.offer, router.rtpCapabilities);
      const t = await router.createWebRtcTransport({ listenIps: [{ ip: '127.0.0.1' }], enableUdp: true, enableTcp: false });
      transports.push(t);
      await t.connect({ dtlsParameters: negotiation.dtlsParameters });
      const producers = new Map<string, mediasoup.types.Producer>();
      for (const plan of negotiation.producers) producers.set(plan.mid, await t.produce(plan.options));
      peer.pc.setRemoteDescription(negotiation.answer(t), 'answer');

      await waitFor('libdatachannel tracks open (ICE + DTLS-SRTP done)', () => peer.audio.track.isOpen() && peer.video.track.isOpen());
      expect(t.iceState).toMatch(/connected|completed/);
      expect(t.dtlsState).toBe('connected');

      // RTP with the SSRCs and payload types the offer announced: an Opus-sized payload, an H264 IDR NAL unit.
      let seq = 0;
      const rtp = (payloadType: number, ssrc: number, payload: Buffer): Buffer => {
        const header = Buffer.alloc(12);
        header[0] = 0x80;
        header[1] = payloadType | 0x80;
        header.writeUInt16BE(seq & 0xffff, 2);
        header.writeUInt32BE((seq * 960) >>> 0, 4);
        header.writeUInt32BE(ssrc, 8);
        return Buffer.concat([header, payload]);
      };
      timer = setInterval(() => {
        seq++;
        peer.audio.track.sendMessageBinary(rtp(peer.audio.payloadType, peer.audio.ssrc, Buffer.alloc(80, 0xf8)));
        peer.video.track.sendMessageBinary(
          rtp(peer.video.payloadType, peer.video.ssrc, Buffer.concat([Buffer.from([0x65]), Buffer.alloc(300, 0x88)])),
        );
      }, 20);

      for (const [mid, producer] of producers) {
        const stats = await waitFor(`RTP bytes on the producer of mid ${mid}`, async () => {
          const all = await producer.getStats();
          return all.find((s) => s.byteCount > 0);
        });
        expect(stats.ssrc).toBe(mid === peer.audio.mid ? peer.audio.ssrc : peer.video.ssrc);
      }
    } finally {
      if (timer) clearInterval(timer);
      peer.close();
    }
  });
});
