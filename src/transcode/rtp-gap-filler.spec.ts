import type { PictureSize } from '../media/picture-size';
import { packetizeVp8 } from '../media/vp8';
import {
  FILL_LAG_MS,
  GAP_FILL_AFTER_MS,
  gapFillFor,
  OPUS_SILENCE,
  RtpGapFiller,
  rtpPayload,
  Passed,
  PictureGapFill,
  VIDEO_FILL_MS,
  VIDEO_GAP_FILL_AFTER_MS,
} from './rtp-gap-filler';

const SSRC = 0x1234abcd;
const rtp = (seq: number, ts: number) => {
  const packet = Buffer.alloc(15);
  packet[0] = 0x80;
  packet[1] = 111;
  packet.writeUInt16BE(seq % 65536, 2);
  packet.writeUInt32BE(ts % 2 ** 32, 4);
  packet.writeUInt32BE(SSRC, 8);
  return packet;
};
/** A video RTP packet of the sender's; the marker bit ends its frame. */
const videoPacket = (payloadType: number, seq: number, ts: number, payload: Buffer, marker: boolean) => {
  const header = Buffer.alloc(12);
  header[0] = 0x80;
  header[1] = (marker ? 0x80 : 0) | payloadType;
  header.writeUInt16BE(seq % 65536, 2);
  header.writeUInt32BE(ts % 2 ** 32, 4);
  header.writeUInt32BE(SSRC, 8);
  return Buffer.concat([header, payload]);
};
const head = (p: Buffer) => ({ pt: p[1] & 0x7f, seq: p.readUInt16BE(2), ts: p.readUInt32BE(4), ssrc: p.readUInt32BE(8) });
const filler = () => new RtpGapFiller(SSRC, gapFillFor({ mimeType: 'audio/opus', payloadType: 111 })!);
/** The one packet an audio packet hands on (audio is never held). */
const one = (passed: Passed[]) => {
  expect(passed).toHaveLength(1);
  return passed[0];
};

describe('gapFillFor', () => {
  it('fills Opus with its 20 ms silent frame, video only where its keyframes come from, and leaves other codecs alone', () => {
    const opus = gapFillFor({ mimeType: 'audio/OPUS', payloadType: 100 })!;
    expect(opus).toMatchObject({ payloadType: 100, ticks: 960, ms: 20 });
    expect(opus.frame()).toEqual([Buffer.from([0xf8, 0xff, 0xfe])]);
    expect(gapFillFor({ mimeType: 'video/H264', payloadType: 102 })).toBeUndefined();
    expect(gapFillFor({ mimeType: 'video/VP8', payloadType: 96 })).toBeUndefined();
    const none = { keyframes: () => undefined };
    const vp8Only = { keyframes: { vp8: none }, size: () => undefined };
    expect(gapFillFor({ mimeType: 'video/VP8', payloadType: 96 }, vp8Only)).toBeInstanceOf(PictureGapFill);
    expect(gapFillFor({ mimeType: 'video/H264', payloadType: 102 }, vp8Only)).toBeUndefined();
    expect(gapFillFor({ mimeType: 'video/H264', payloadType: 102 }, { keyframes: { h264: none }, size: () => undefined })).toBeInstanceOf(
      PictureGapFill,
    );
    expect(
      gapFillFor({ mimeType: 'video/VP9', payloadType: 98 }, { keyframes: { vp8: none, h264: none }, size: () => undefined }),
    ).toBeUndefined();
  });
});

describe('RtpGapFiller', () => {
  it('passes a flowing stream untouched and fills nothing', () => {
    const f = filler();
    for (let i = 0; i < 10; i++) {
      const passed = one(f.onPacket(rtp(65530 + i, 4_294_966_000 + i * 960), 1000 + i * 20));
      expect(passed.newClock).toBe(false);
      expect(head(passed.packet)).toMatchObject({ seq: (65530 + i) % 65536, ts: (4_294_966_000 + i * 960) % 2 ** 32 });
      expect(f.due(1000 + i * 20 + 5)).toEqual([]);
    }
    expect(f.due(1180 + GAP_FILL_AFTER_MS - 1)).toEqual([]);
  });

  it('after a quiet spell, extends the sender clock with silence in real time, trailing the wall clock', () => {
    const f = filler();
    f.onPacket(rtp(100, 50_000), 1000);
    const first = f.due(1000 + GAP_FILL_AFTER_MS);
    // Every frame due up to FILL_LAG_MS ago, each 20 ms and 960 ticks after the one before.
    expect(first).toHaveLength(Math.floor((GAP_FILL_AFTER_MS - FILL_LAG_MS) / 20));
    first.forEach(({ packet, at }, i) => {
      expect(head(packet)).toEqual({ pt: 111, seq: 101 + i, ts: 50_000 + 960 * (i + 1), ssrc: SSRC });
      expect(packet.subarray(12)).toEqual(OPUS_SILENCE);
      expect(packet[1] & 0x80).toBe(0); // no marker bit on audio
      expect(at).toBe(1000 + 20 * (i + 1));
    });
    expect(f.due(1000 + GAP_FILL_AFTER_MS + 5)).toEqual([]);
    const next = f.due(1000 + GAP_FILL_AFTER_MS + 20);
    expect(next.map(({ packet }) => head(packet).seq)).toEqual([101 + first.length]);
  });

  it('lets the sender go on from the filled clock at its arrival, renumbered; drops stragglers', () => {
    const f = filler();
    f.onPacket(rtp(100, 50_000), 1000);
    const filled = f.due(2000); // filled up to 1920
    const lastFilled = head(filled.at(-1)!.packet);
    expect(filled.at(-1)!.at).toBe(1920);
    // A packet from before the gap, late: its time is filled already.
    expect(f.onPacket(rtp(99, 49_040), 2001)).toEqual([]);
    expect(f.overlapped).toBe(1);
    // The sender again, its clock where it stopped (it captured nothing meanwhile): it goes on from
    // the filled clock 82 ms after the last filled frame, and a report of now goes first.
    const back = one(f.onPacket(rtp(101, 50_960), 2002));
    expect(back.newClock).toBe(true);
    expect(head(back.packet)).toMatchObject({ seq: lastFilled.seq + 1, ts: lastFilled.ts + 82 * 48 });
    expect(f.timestampShift).toBe(lastFilled.ts + 82 * 48 - 50_960);
    const next = one(f.onPacket(rtp(102, 51_920), 2022));
    expect([next.newClock, head(next.packet).seq, head(next.packet).ts]).toEqual([
      false,
      lastFilled.seq + 2,
      lastFilled.ts + 82 * 48 + 960,
    ]);
    expect(f.due(2100)).toEqual([]);
    // The next gap is filled on from there.
    expect(head(f.due(2022 + GAP_FILL_AFTER_MS)[0].packet)).toMatchObject({ seq: lastFilled.seq + 3, ts: lastFilled.ts + 82 * 48 + 1920 });
  });

  it("never lets the clock step back or stand still, whatever the sender's timestamps", () => {
    const f = filler();
    f.onPacket(rtp(100, 4_000_000_000), 1000);
    const filled = f.due(1500);
    const lastFilled = head(filled.at(-1)!.packet);
    // A sender on another clock altogether, arriving at once after the last filled frame.
    const back = one(f.onPacket(rtp(7, 123), filled.at(-1)!.at));
    expect(head(back.packet).ts).toBe((lastFilled.ts + 960) % 2 ** 32);
  });

  it('starts a clock of its own when nothing ever came, and never floods after a clock jump', () => {
    const f = filler();
    expect(f.due(10_000)).toEqual([]);
    expect(f.due(10_000 + GAP_FILL_AFTER_MS - 1)).toEqual([]);
    const first = f.due(10_000 + GAP_FILL_AFTER_MS);
    expect(first.map(({ packet }) => head(packet))).toEqual([{ pt: 111, seq: 1, ts: 960, ssrc: SSRC }]);
    expect(f.due(10_000 + GAP_FILL_AFTER_MS + 3_600_000)).toHaveLength(100);
  });
});

describe('RtpGapFiller with VP8 video', () => {
  /** A fake VP8 keyframe of a size: tag (P=0), start code, 14-bit sizes, then `length` bytes. */
  const vp8Keyframe = ({ width, height }: PictureSize, length = 2000) => {
    const frame = Buffer.alloc(10 + length, 0x55);
    frame.writeUIntLE(0x10, 0, 3); // keyframe, shown
    frame.set([0x9d, 0x01, 0x2a], 3);
    frame.writeUInt16LE(width, 6);
    frame.writeUInt16LE(height, 8);
    return frame;
  };
  const interFrame = Buffer.from([0x01, 0x00, 0x00, 0x11, 0x22]);
  const video = (seq: number, ts: number, payload: Buffer, marker = true) => videoPacket(96, seq, ts, payload, marker);
  const made = new Map<string, Buffer>();
  const keyframes = {
    keyframes: (size: PictureSize) => {
      const frame = made.get(`${size.width}x${size.height}`);
      return frame && [frame];
    },
  };
  let knownSize: PictureSize | undefined;
  const vp8Filler = (onKeyframeWanted: () => void = () => undefined) =>
    new RtpGapFiller(
      SSRC,
      gapFillFor({ mimeType: 'video/VP8', payloadType: 96 }, { keyframes: { vp8: keyframes }, size: () => knownSize })!,
      onKeyframeWanted,
    );

  beforeEach(() => {
    made.clear();
    knownSize = undefined;
  });

  it('fills nothing until it has a keyframe of the stream size, then one every 100 ms, split into packets', () => {
    const f = vp8Filler();
    // The sender's keyframe says the size (its first packet); an inter frame follows.
    f.onPacket(video(10, 9000, packetizeVp8(vp8Keyframe({ width: 1280, height: 720 }))[0], false), 1000);
    f.onPacket(video(11, 12_000, Buffer.concat([Buffer.from([0x10]), interFrame])), 1033);
    expect(f.due(1033 + VIDEO_GAP_FILL_AFTER_MS - 1)).toEqual([]); // video waits longer than audio
    expect(f.due(2100)).toEqual([]); // no filler picture of that size yet
    made.set('1280x720', vp8Keyframe({ width: 1280, height: 720 }, 1600));
    made.set('640x480', vp8Keyframe({ width: 640, height: 480 }, 300));
    const packets = f.due(2100 + FILL_LAG_MS);
    const frames = new Map<number, Buffer[]>();
    for (const { packet } of packets) frames.set(packet.readUInt32BE(4), [...(frames.get(packet.readUInt32BE(4)) ?? []), packet]);
    expect(frames.size).toBe(Math.floor((2100 - 1033) / VIDEO_FILL_MS));
    let seq = 11;
    [...frames.entries()].forEach(([ts, parts], i) => {
      expect(ts).toBe(12_000 + 9000 * (i + 1)); // 90 kHz, 100 ms apart
      expect(parts).toHaveLength(2); // 1.6 kB in packets of at most 1,200 bytes
      expect(parts.map((p) => p.readUInt16BE(2))).toEqual([++seq, ++seq]);
      expect(parts.map((p) => p[1])).toEqual([96, 0x80 | 96]); // the marker on the frame's last packet
      expect(Buffer.concat(parts.map((p) => p.subarray(13)))).toEqual(made.get('1280x720'));
      expect(parts.map((p) => p[12])).toEqual([0x10, 0x00]); // S=1 on the first
    });
  });

  it('goes on after a fill only from the sender keyframe, asking for one meanwhile', () => {
    const wanted: number[] = [];
    const f = vp8Filler(() => wanted.push(1));
    made.set('640x480', vp8Keyframe({ width: 640, height: 480 }, 300));
    f.onPacket(video(10, 9000, packetizeVp8(vp8Keyframe({ width: 640, height: 480 }))[0]), 1000);
    const filled = f.due(2000);
    expect(filled.length).toBeGreaterThan(0);
    // Inter frames of the sender's refer to a picture the decoder no longer has: held back.
    expect(f.onPacket(video(11, 99_000, Buffer.concat([Buffer.from([0x10]), interFrame])), 2010)).toEqual([]);
    expect(f.onPacket(video(12, 102_000, Buffer.concat([Buffer.from([0x10]), interFrame])), 2043)).toEqual([]);
    expect(f.heldForKeyframe).toBe(2);
    expect(wanted).toHaveLength(2); // the feed limits how often it asks
    expect(f.isFilling).toBe(true);
    const keyframe = packetizeVp8(vp8Keyframe({ width: 640, height: 480 }));
    // The keyframe goes on whole, at its last packet.
    expect(f.onPacket(video(13, 105_000, keyframe[0], false), 2076)).toEqual([]);
    const [first, second, ...more] = f.onPacket(video(14, 105_000, keyframe[1]), 2077);
    expect(more).toEqual([]);
    expect([first.newClock, second.newClock]).toEqual([true, false]);
    expect(head(second.packet).ts).toBe(head(first.packet).ts); // one frame, one timestamp
    expect(head(second.packet).seq).toBe(head(first.packet).seq + 1);
    expect(head(first.packet).seq).toBe(head(filled.at(-1)!.packet).seq + 1);
    expect(head(first.packet).ts).toBeGreaterThan(head(filled.at(-1)!.packet).ts);
    expect(f.isFilling).toBe(false);
  });

  it('fills from the start at the stream size when its sender sends nothing, after the wait it is given', () => {
    knownSize = { width: 320, height: 240 };
    made.set('320x240', vp8Keyframe(knownSize, 200));
    const f = vp8Filler();
    f.waitForFirstPacket(5000);
    expect(f.due(1000)).toEqual([]);
    expect(f.due(1000 + GAP_FILL_AFTER_MS + FILL_LAG_MS + VIDEO_FILL_MS)).toEqual([]); // a live camera's keyframe may take a while
    const packets = f.due(6000 + FILL_LAG_MS + VIDEO_FILL_MS);
    expect(packets.length).toBeGreaterThan(0);
    expect(packets.every(({ packet }) => packet[1] === (0x80 | 96))).toBe(true); // one packet per frame
    expect(rtpPayload(packets[0].packet)!.subarray(1)).toEqual(made.get('320x240'));
  });
});

describe('RtpGapFiller with H264 video', () => {
  const hex = (h: string) => Buffer.from(h.replace(/\s/g, ''), 'hex');
  const annexB = (...nals: Buffer[]) => Buffer.concat(nals.flatMap((nal) => [Buffer.from([0, 0, 0, 1]), nal]));
  // The sender's SPS (640x480, as libx264 wrote it) and PPS; filler units differing in their slice.
  const SPS = hex('67 42c01fd900a03db0110000030001000003003c0f183248');
  const PPS = hex('68 ce3880');
  const fillerUnits = [annexB(SPS, PPS, hex('65 8884 aa')), annexB(SPS, PPS, hex('65 8882 bb'))];
  const video = (seq: number, ts: number, payload: Buffer, marker = true) => videoPacket(102, seq, ts, payload, marker);
  const stapA = (...nals: Buffer[]) =>
    Buffer.concat([Buffer.from([0x78]), ...nals.flatMap((nal) => [Buffer.from([nal.length >> 8, nal.length & 0xff]), nal])]);
  const pSlice = hex('41 9a 00 11');
  const asked: PictureSize[] = [];
  let ready = false;
  const keyframes = {
    keyframes: (size: PictureSize) => {
      asked.push(size);
      return ready && size.width === 640 && size.height === 480 ? fillerUnits : undefined;
    },
  };
  const h264Filler = (onKeyframeWanted: () => void = () => undefined) =>
    new RtpGapFiller(
      SSRC,
      gapFillFor({ mimeType: 'video/H264', payloadType: 102 }, { keyframes: { h264: keyframes }, size: () => undefined })!,
      onKeyframeWanted,
    );

  beforeEach(() => {
    asked.length = 0;
    ready = false;
  });

  it('asks for the filler at the size of the sender SPS, then fills with the two keyframes in turn, SPS and PPS aggregated', () => {
    const f = h264Filler();
    f.onPacket(video(10, 9000, stapA(SPS, PPS), false), 1000);
    f.onPacket(video(11, 9000, hex('65 88 00 11')), 1001);
    expect(asked).toEqual([{ width: 640, height: 480 }]); // made as soon as the size is known
    expect(f.due(2100)).toEqual([]); // not made yet
    ready = true;
    const packets = f.due(2100 + FILL_LAG_MS);
    expect(packets.length).toBeGreaterThan(4);
    const frames = new Map<number, Buffer[]>();
    for (const { packet } of packets) frames.set(head(packet).ts, [...(frames.get(head(packet).ts) ?? []), rtpPayload(packet)!]);
    [...frames.values()].forEach((payloads, i) => {
      // One packet: the aggregate of SPS, PPS and the slice (they fit), marked as the frame's last.
      expect(payloads).toEqual([stapA(SPS, PPS, splitSlice(fillerUnits[i % 2]))]);
    });
    expect(packets.every(({ packet }) => packet[1] === (0x80 | 102))).toBe(true);
  });

  it('hands a frame on whole at its marker, or when the next one starts if its marker was lost', () => {
    ready = true;
    const f = h264Filler();
    expect(f.onPacket(video(10, 9000, stapA(SPS, PPS), false), 1000)).toEqual([]);
    expect(f.onPacket(video(11, 9000, hex('7c 85 aa'), false), 1001)).toEqual([]); // FU-A start of the IDR
    const keyframe = f.onPacket(video(12, 9000, hex('7c 45 bb')), 1002); // its end, marked
    expect(keyframe.map((p) => head(p.packet).seq)).toEqual([10, 11, 12]);
    expect(f.onPacket(video(13, 12_000, pSlice, false), 1033)).toEqual([]); // its marker packet is lost
    const next = f.onPacket(video(15, 15_000, pSlice), 1066);
    expect(next.map((p) => head(p.packet).seq)).toEqual([13, 15]);
  });

  it('drops a frame a fill cuts short (no decoder takes half a frame) and fills on from the last whole one', () => {
    ready = true;
    const f = h264Filler();
    f.onPacket(video(10, 9000, stapA(SPS, PPS), false), 1000);
    f.onPacket(video(11, 9000, hex('65 88 00 11')), 1001);
    // The next frame's first fragment, then nothing: the sender stalled (or vanished) mid-frame.
    expect(f.onPacket(video(12, 12_000, hex('5c 81 aa'), false), 1033)).toEqual([]);
    const filled = f.due(1033 + VIDEO_GAP_FILL_AFTER_MS);
    expect(f.cutShort).toBe(1);
    expect(head(filled[0].packet)).toMatchObject({ seq: 12, ts: 9000 + 9000 }); // on from the keyframe, 100 ms later
    // The rest of the frame, late: its time is filled already.
    expect(f.onPacket(video(13, 12_000, hex('5c 41 bb')), 2100)).toEqual([]);
    expect(f.overlapped).toBe(1);
  });

  it('fills at once when the producer is paused, and its next packet ends the fill', () => {
    ready = true;
    const f = h264Filler();
    f.onPacket(video(10, 9000, stapA(SPS, PPS), false), 1000);
    f.onPacket(video(11, 9000, hex('65 88 00 11')), 1001);
    f.onPacket(video(12, 12_000, pSlice), 1033);
    f.senderPaused();
    expect(f.due(1033 + FILL_LAG_MS + VIDEO_FILL_MS)).toHaveLength(1); // no gap to wait out
    expect(f.isFilling).toBe(true);
    const back = f.onPacket(video(13, 15_000, stapA(SPS, PPS)), 3000);
    expect(back).toHaveLength(1);
    expect(f.isFilling).toBe(false);
    // Not paused any more: the next gap is waited out again.
    expect(f.due(3000 + VIDEO_GAP_FILL_AFTER_MS - 1)).toEqual([]);
  });

  it('goes on after a fill only from the sender keyframe (its SPS and PPS first), holding slices that refer to older pictures', () => {
    ready = true;
    const wanted: number[] = [];
    const f = h264Filler(() => wanted.push(1));
    f.onPacket(video(10, 9000, stapA(SPS, PPS), false), 1000);
    f.onPacket(video(11, 9000, hex('65 88 00 11')), 1001);
    const filled = f.due(2100);
    expect(filled.length).toBeGreaterThan(0);
    expect(f.onPacket(video(12, 99_000, pSlice), 2110)).toEqual([]);
    expect(f.heldForKeyframe).toBe(1);
    expect(wanted).toHaveLength(1);
    expect(f.onPacket(video(13, 102_000, stapA(SPS, PPS), false), 2143)).toEqual([]);
    const [sets, slice] = f.onPacket(video(14, 102_000, hex('65 88 00 22')), 2144);
    expect(sets.newClock).toBe(true);
    expect(head(sets.packet).seq).toBe(head(filled.at(-1)!.packet).seq + 1);
    expect(head(slice.packet).ts).toBe(head(sets.packet).ts);
    expect(f.isFilling).toBe(false);
  });
});

/** The IDR slice of an Annex-B unit (its last NAL). */
function splitSlice(unit: Buffer): Buffer {
  return unit.subarray(unit.lastIndexOf(Buffer.from([0, 0, 0, 1])) + 4);
}

describe('rtpPayload', () => {
  it('skips CSRCs and the header extension and leaves padding out', () => {
    const packet = Buffer.concat([
      Buffer.from([0xb1, 96, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]), // V=2, P=1, X=1, CC=1
      Buffer.from([0, 0, 0, 9]), // CSRC
      Buffer.from([0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0]), // one-byte extension, 1 word
      Buffer.from([0x10, 0x20, 0x30]),
      Buffer.from([0, 0, 3]), // 3 bytes of padding
    ]);
    expect(rtpPayload(packet)).toEqual(Buffer.from([0x10, 0x20, 0x30]));
    expect(rtpPayload(Buffer.from([0x90, 96, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xbe]))).toBeUndefined();
  });
});
