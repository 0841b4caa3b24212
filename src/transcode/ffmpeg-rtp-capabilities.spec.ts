import { createWorker, types as mediasoupTypes } from 'mediasoup';
import { MEDIA_CODECS } from '../mediasoup/media-codecs';
import { ffmpegRtpCapabilities } from './ffmpeg-rtp-capabilities';

describe('ffmpegRtpCapabilities', () => {
  let worker: mediasoupTypes.Worker;
  beforeAll(async () => {
    worker = await createWorker({ logLevel: 'error' });
  });
  afterAll(() => worker.close());

  it('keeps every codec, NACK and PLI, and drops what only bandwidth estimation uses', async () => {
    const router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
    const caps = ffmpegRtpCapabilities(router.rtpCapabilities);
    expect(caps.codecs!.map((c) => c.mimeType)).toEqual(router.rtpCapabilities.codecs!.map((c) => c.mimeType));
    const feedback = new Set(caps.codecs!.flatMap((c) => (c.rtcpFeedback ?? []).map((fb) => `${fb.type} ${fb.parameter ?? ''}`.trim())));
    expect([...feedback]).toEqual(expect.arrayContaining(['nack', 'nack pli', 'ccm fir']));
    expect([...feedback].some((fb) => /transport-cc|goog-remb/.test(fb))).toBe(false);
    const uris = caps.headerExtensions!.map((e) => e.uri);
    expect(uris.some((u) => /transport-wide-cc|abs-send-time/.test(u))).toBe(false);
    expect(uris).toContain('urn:ietf:params:rtp-hdrext:sdes:mid');
    // The router's own capabilities are left as they were.
    expect(router.rtpCapabilities.headerExtensions!.some((e) => /transport-wide-cc/.test(e.uri))).toBe(true);
  });

  it('gives a plain-transport consumer no transport-cc or abs-send-time, so mediasoup sends it no probation packets', async () => {
    const router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
    const send = await router.createPlainTransport({ listenIp: { ip: '127.0.0.1' }, rtcpMux: false, comedia: true });
    const producer = await send.produce({
      kind: 'video',
      rtpParameters: {
        // Any video codec: what decides is the header extensions the consumer takes.
        codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 }],
        encodings: [{ ssrc: 1111 }],
        headerExtensions: [
          { uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01', id: 5 },
          { uri: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time', id: 3 },
        ],
      },
    });
    const recv = await router.createPlainTransport({ listenIp: { ip: '127.0.0.1' }, rtcpMux: false, comedia: false });
    const plain = await recv.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities, paused: true });
    const trimmed = await recv.consume({
      producerId: producer.id,
      rtpCapabilities: ffmpegRtpCapabilities(router.rtpCapabilities),
      paused: true,
    });
    const bwe = (consumer: typeof plain) =>
      consumer.rtpParameters.headerExtensions!.filter((e) => /transport-wide-cc|abs-send-time/.test(e.uri)).length;
    // The control: with the router's capabilities the consumer takes both extensions.
    expect(bwe(plain)).toBeGreaterThan(0);
    expect(bwe(trimmed)).toBe(0);
    expect(trimmed.rtpParameters.codecs[0].rtcpFeedback!.map((fb) => fb.type)).not.toContain('transport-cc');
    router.close();
  });
});
