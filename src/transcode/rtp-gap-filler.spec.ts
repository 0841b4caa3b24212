import { FILL_LAG_MS, GAP_FILL_AFTER_MS, gapFillFor, OPUS_SILENCE, RtpGapFiller } from './rtp-gap-filler';

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
const head = (p: Buffer) => ({ pt: p[1] & 0x7f, seq: p.readUInt16BE(2), ts: p.readUInt32BE(4), ssrc: p.readUInt32BE(8) });
const filler = () => new RtpGapFiller(SSRC, gapFillFor({ mimeType: 'audio/opus', payloadType: 111 })!);

describe('gapFillFor', () => {
  it('fills Opus with its 20 ms silent frame and leaves other codecs alone', () => {
    expect(gapFillFor({ mimeType: 'audio/OPUS', payloadType: 100 })).toEqual({ ...OPUS_SILENCE, payloadType: 100 });
    expect(OPUS_SILENCE.payload).toEqual(Buffer.from([0xf8, 0xff, 0xfe]));
    expect(gapFillFor({ mimeType: 'video/H264', payloadType: 102 })).toBeUndefined();
  });
});

describe('RtpGapFiller', () => {
  it('passes a flowing stream untouched and fills nothing', () => {
    const f = filler();
    for (let i = 0; i < 10; i++) {
      const passed = f.onPacket(rtp(65530 + i, 4_294_966_000 + i * 960), 1000 + i * 20)!;
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
      expect(packet.subarray(12)).toEqual(OPUS_SILENCE.payload);
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
    expect(f.onPacket(rtp(99, 49_040), 2001)).toBeUndefined();
    expect(f.overlapped).toBe(1);
    // The sender again, its clock where it stopped (it captured nothing meanwhile): it goes on from
    // the filled clock 82 ms after the last filled frame, and a report of now goes first.
    const back = f.onPacket(rtp(101, 50_960), 2002)!;
    expect(back.newClock).toBe(true);
    expect(head(back.packet)).toMatchObject({ seq: lastFilled.seq + 1, ts: lastFilled.ts + 82 * 48 });
    expect(f.timestampShift).toBe(lastFilled.ts + 82 * 48 - 50_960);
    const next = f.onPacket(rtp(102, 51_920), 2022)!;
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
    const back = f.onPacket(rtp(7, 123), filled.at(-1)!.at)!;
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
