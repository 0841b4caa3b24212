import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as mediasoup from 'mediasoup';
import type { RtpCapabilities, RtpCodecCapability } from 'mediasoup/node/lib/RtpParameters';
import type { Worker } from 'mediasoup/node/lib/types';
import { Device } from 'mediasoup-client';
import type { RtpCodecCapability as ClientCodec } from 'mediasoup-client/lib/types';
import { parse } from 'sdp-transform';
import { MEDIA_CODECS } from './media-codecs';

/** The router codecs before H264 High was added (commit 52fa640): what the original front end was built against. */
const BEFORE_HIGH: RtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
  },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '4d001f', 'level-asymmetry-allowed': 1 },
  },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
  { kind: 'video', mimeType: 'video/VP9', clockRate: 90000, parameters: { 'profile-id': 0 } },
];

/**
 * A mediasoup-client Device as Chromium loads it: its native capabilities are what mediasoup-client's
 * Chrome111 handler extracts from Chromium's own offer (getNativeRtpCapabilities), here a real offer
 * captured from the installed Chromium (src/ingest/whip/fixtures/chromium-native-caps.sdp).
 */
async function chromiumDevice(routerRtpCapabilities: RtpCapabilities): Promise<Device> {
  const sdp = readFileSync(join(__dirname, '..', 'ingest', 'whip', 'fixtures', 'chromium-native-caps.sdp'), 'utf8');
  // Reached through the package's exports map (the project's TypeScript resolution does not read it, hence require).
  const { Chrome111 } = require('mediasoup-client/handlers/Chrome111') as { Chrome111: { getLocalRtpCapabilities(sdp: unknown): unknown } };
  const native = Chrome111.getLocalRtpCapabilities(parse(sdp));
  const device = new Device({
    handlerFactory: {
      name: 'CapturedChromium',
      factory: () => {
        throw new Error('this Device only negotiates capabilities');
      },
      getNativeRtpCapabilities: async () => structuredClone(native) as never,
      getNativeSctpCapabilities: async () => ({ numStreams: { OS: 1024, MIS: 1024 } }),
    },
  });
  await device.load({ routerRtpCapabilities: routerRtpCapabilities as never });
  return device;
}

/** web/publish.ts pickVideoCodec('H264'): packetization-mode 1 first, then 42e01f. */
const frontEndPick = (device: Device): ClientCodec => {
  const h264 = device.sendRtpCapabilities.codecs!.filter((c) => c.mimeType.toLowerCase() === 'video/h264');
  const rank = (c: ClientCodec) =>
    (c.parameters?.['packetization-mode'] === 1 ? 0 : 10) + (c.parameters?.['profile-level-id'] === '42e01f' ? 0 : 1);
  return [...h264].sort((a, b) => rank(a) - rank(b))[0];
};
/** test/browser/harness.ts: the H264 codec with profile-level-id 42e01f. */
const harnessPick = (device: Device): ClientCodec =>
  device.rtpCapabilities.codecs!.find((c) => c.mimeType.toLowerCase() === 'video/h264' && c.parameters?.['profile-level-id'] === '42e01f')!;
/** mediasoup-client's own default when the client names no codec: the first video codec it can send. */
const defaultPick = (device: Device): ClientCodec => device.sendRtpCapabilities.codecs!.find((c) => c.kind === 'video')!;

describe('MEDIA_CODECS', () => {
  let worker: Worker;
  let before: RtpCapabilities;
  let now: RtpCapabilities;

  beforeAll(async () => {
    worker = await mediasoup.createWorker({ logLevel: 'warn' });
    before = (await worker.createRouter({ mediaCodecs: structuredClone(BEFORE_HIGH) })).rtpCapabilities;
    now = (await worker.createRouter({ mediaCodecs: MEDIA_CODECS })).rtpCapabilities;
  });
  afterAll(() => worker?.close());

  it('starts with the codecs of before, unchanged (payload types included); High and Constrained High come after', () => {
    expect(now.codecs!.slice(0, before.codecs!.length)).toEqual(before.codecs);
    const added = now.codecs!.slice(before.codecs!.length).filter((c) => !/\/rtx$/i.test(c.mimeType));
    expect(added.map((c) => [c.mimeType, c.parameters?.['profile-level-id'], c.parameters?.['packetization-mode']])).toEqual([
      ['video/H264', '64001f', 1],
      ['video/H264', '640c1f', 1],
    ]);
    expect(now.headerExtensions).toEqual(before.headerExtensions);
  });

  it('a Chromium mediasoup-client lands on the same H264 codec and payload type as before', async () => {
    const [oldDevice, newDevice] = [await chromiumDevice(before), await chromiumDevice(now)];
    for (const pick of [frontEndPick, harnessPick, defaultPick]) {
      expect(pick(newDevice)).toEqual(pick(oldDevice));
    }
    expect(frontEndPick(newDevice)).toMatchObject({
      mimeType: 'video/H264',
      preferredPayloadType: before.codecs!.find((c) => c.parameters?.['profile-level-id'] === '42e01f')!.preferredPayloadType,
      parameters: { 'profile-level-id': '42e01f', 'packetization-mode': 1 },
    });
    expect(newDevice.canProduce('video')).toBe(true);
    expect(newDevice.canProduce('audio')).toBe(true);
  });

  it('takes the H264 High profiles real encoders signal (mediasoup matches the profile, not the level)', async () => {
    const router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
    const transport = await router.createWebRtcTransport({ listenIps: [{ ip: '127.0.0.1' }] });
    try {
      for (const profileLevelId of ['64001f', '640028', '640032', '640c1f', '640c2a']) {
        const producer = await transport.produce({
          kind: 'video',
          rtpParameters: {
            codecs: [
              {
                mimeType: 'video/H264',
                payloadType: 102,
                clockRate: 90000,
                parameters: { 'packetization-mode': 1, 'profile-level-id': profileLevelId },
              },
            ],
            encodings: [{ ssrc: 1000 + (Number.parseInt(profileLevelId, 16) % 1000) }],
          },
        });
        const expected = now.codecs!.find(
          (c) => c.parameters?.['profile-level-id'] === (profileLevelId.startsWith('640c') ? '640c1f' : '64001f'),
        )!;
        expect(producer.consumableRtpParameters.codecs[0].payloadType).toBe(expected.preferredPayloadType);
        producer.close();
      }
      // Before, the same offers were refused.
      const old = await worker.createRouter({ mediaCodecs: structuredClone(BEFORE_HIGH) });
      const oldTransport = await old.createWebRtcTransport({ listenIps: [{ ip: '127.0.0.1' }] });
      await expect(
        oldTransport.produce({
          kind: 'video',
          rtpParameters: {
            codecs: [
              {
                mimeType: 'video/H264',
                payloadType: 102,
                clockRate: 90000,
                parameters: { 'packetization-mode': 1, 'profile-level-id': '64001f' },
              },
            ],
            encodings: [{ ssrc: 5 }],
          },
        }),
      ).rejects.toThrow(/unsupported codec/);
      old.close();
    } finally {
      router.close();
    }
  });
});
