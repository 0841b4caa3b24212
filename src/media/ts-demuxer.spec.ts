import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseAdts } from './aac';
import { TS_PACKET_SIZE, TsAccessUnit, TsDemuxer } from './ts-demuxer';
import { demux, makeTsFixtures, probePackets, ProbedPacket, seededRandom, tempDir, TsFixture } from './testing/ffmpeg-fixtures';

const WRAP = 2 ** 33;
const FIXTURES: TsFixture[] = ['video', 'videoBFrames', 'audio', 'audioMultiFrame', 'videoWrap', 'audioWrap'];

let files: Record<TsFixture, Buffer>;
let probed: Record<TsFixture, ProbedPacket[]>;
let removeDir: () => void;

beforeAll(() => {
  const { dir, remove } = tempDir('ts-demuxer');
  removeDir = remove;
  const paths = makeTsFixtures(dir, FIXTURES);
  files = {} as typeof files;
  probed = {} as typeof probed;
  for (const name of FIXTURES) {
    files[name] = readFileSync(paths[name]);
    probed[name] = probePackets(paths[name]);
  }
});

afterAll(() => removeDir());

/** The file's packets of one PID, in order. */
function packetsOf(ts: Buffer, pid: number): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 0; o + TS_PACKET_SIZE <= ts.length; o += TS_PACKET_SIZE) {
    if ((((ts[o + 1] & 0x1f) << 8) | ts[o + 2]) === pid) out.push(ts.subarray(o, o + TS_PACKET_SIZE));
  }
  return out;
}

function allPackets(ts: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 0; o + TS_PACKET_SIZE <= ts.length; o += TS_PACKET_SIZE) out.push(ts.subarray(o, o + TS_PACKET_SIZE));
  return out;
}

/** Units compared by value: timestamps, flags and digests of their bytes (jest compares Buffers byte by byte, slowly). */
const fingerprint = (units: TsAccessUnit[]) =>
  units.map((u) => ({ pts: u.pts, dts: u.dts, keyframe: u.keyframe, data: sha1(u.data), packets: sha1(u.packets) }));
const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');

const summary = (units: TsAccessUnit[]) => units.map((u) => ({ pts: u.pts, dts: u.dts, keyframe: u.keyframe, size: u.data.length }));

describe('TsDemuxer on FFmpeg output, compared with ffprobe', () => {
  it.each(['video', 'videoBFrames', 'audio'] as const)(
    '%s: one unit per ffprobe packet with the same pts, dts, key flag and size',
    (name) => {
      const { demuxer, units } = demux(files[name]);
      expect(demuxer.errors).toBe(0);
      expect(demuxer.streamType).toBe(name === 'audio' ? 'aac' : 'h264');
      expect(units.length).toBeGreaterThan(50);
      expect(summary(units)).toEqual(probed[name]);
    },
  );

  it('B-frames: pts differs from dts and dts only grows', () => {
    const { units } = demux(files.videoBFrames);
    expect(units.filter((u) => u.pts !== u.dts).length).toBeGreaterThan(units.length / 2);
    for (let i = 1; i < units.length; i++) expect(units[i].dts).toBeGreaterThan(units[i - 1].dts);
  });

  it('keyframes are the IDR access units, one per 30-frame GOP', () => {
    const { units } = demux(files.video);
    expect(units.filter((u) => u.keyframe).length).toBe(2);
    expect(units[0].keyframe).toBe(true);
    expect(units[30].keyframe).toBe(true);
  });

  it('audio with the default PES size: each unit holds several ADTS frames, timed as ffprobe times its first frame', () => {
    const { demuxer, units } = demux(files.audioMultiFrame);
    expect(demuxer.errors).toBe(0);
    expect(demuxer.streamType).toBe('aac');
    const frameCounts = units.map((u) => parseAdts(u.data).frames.length);
    expect(Math.max(...frameCounts)).toBeGreaterThan(1);
    // ffprobe's AAC parser splits the PES into frames: frame k of the whole stream is its packet k.
    expect(frameCounts.reduce((a, b) => a + b, 0)).toBe(probed.audioMultiFrame.length);
    let frameIndex = 0;
    for (const [i, unit] of units.entries()) {
      expect(unit.pts).toBe(probed.audioMultiFrame[frameIndex].pts);
      expect(unit.keyframe).toBe(true);
      expect(parseAdts(unit.data).skippedBytes).toBe(0);
      frameIndex += frameCounts[i];
    }
  });

  it.each(FIXTURES)('%s: units carry exactly the elementary stream packets, in order; PAT and PMT open programHeaders', (name) => {
    const ts = files[name];
    const { demuxer, units } = demux(ts);
    const esPackets = packetsOf(ts, demuxer.elementaryPid!);
    expect(Buffer.concat(units.map((u) => u.packets)).equals(Buffer.concat(esPackets))).toBe(true);
    const headers = demuxer.programHeaders!;
    expect(headers.length).toBe(2 * TS_PACKET_SIZE);
    expect(headers.subarray(0, TS_PACKET_SIZE).equals(packetsOf(ts, 0)[0])).toBe(true);
    expect(headers.subarray(TS_PACKET_SIZE).equals(packetsOf(ts, 0x1000)[0])).toBe(true);
    for (const unit of units) {
      expect(unit.packets.length % TS_PACKET_SIZE).toBe(0);
      expect(unit.packets[0]).toBe(0x47);
    }
  });
});

describe('TsDemuxer chunking', () => {
  const random = seededRandom(42);
  const chunkings: [string, () => number][] = [
    ['1 byte', () => 1],
    ['7 bytes', () => 7],
    ['188 bytes', () => 188],
    ['4096 bytes', () => 4096],
    ['random 1..3000 bytes', () => 1 + Math.floor(random() * 3000)],
    ['random 1..200 bytes', () => 1 + Math.floor(random() * 200)],
  ];

  it.each(chunkings)('%s chunks give the same units as one buffer', (_, nextSize) => {
    for (const name of ['videoBFrames', 'audioMultiFrame'] as const) {
      const whole = demux(files[name]).units;
      const { demuxer, units } = demux(files[name], nextSize);
      expect(demuxer.errors).toBe(0);
      expect(fingerprint(units)).toEqual(fingerprint(whole));
    }
  });

  it('emits each unit as soon as it is complete: a bounded PES at its last packet, an unbounded one at the next start', () => {
    for (const name of ['audio', 'video'] as const) {
      const ts = files[name];
      const units: TsAccessUnit[] = [];
      const demuxer = new TsDemuxer((unit) => units.push(unit));
      const packets = allPackets(ts);
      const whole = demux(ts).units;
      let emitted = 0;
      for (const packet of packets) {
        demuxer.push(packet);
        if (units.length > emitted) {
          // The unit came out at the packet that completed it (audio) or at the packet starting the next (video).
          const unit = units[emitted];
          const last = unit.packets.subarray(unit.packets.length - TS_PACKET_SIZE);
          if (name === 'audio') expect(last.equals(packet)).toBe(true);
          else expect(packet[1] & 0x40).toBe(0x40);
          emitted = units.length;
        }
      }
      expect(units.length).toBe(name === 'audio' ? whole.length : whole.length - 1);
      demuxer.end();
      expect(fingerprint(units)).toEqual(fingerprint(whole));
    }
  });
});

describe('TsDemuxer timestamps across the 33-bit wrap', () => {
  it.each(['videoWrap', 'audioWrap'] as const)('%s: the same timeline as ffprobe, continuing past 2^33', (name) => {
    const { demuxer, units } = demux(files[name]);
    const probe = probed[name];
    expect(demuxer.errors).toBe(0);
    expect(units.length).toBe(probe.length);
    // The stream starts below 2^33 and wraps inside the file (ffprobe shows the part before it as negative).
    expect(units[0].dts).toBeLessThan(WRAP);
    expect(units[units.length - 1].dts).toBeGreaterThan(WRAP);
    expect(probe[0].dts).toBeLessThan(0);
    for (const [i, unit] of units.entries()) {
      expect(unit.dts - WRAP).toBe(probe[i].dts);
      expect(unit.pts - WRAP).toBe(probe[i].pts);
      if (i) expect(unit.dts).toBeGreaterThan(units[i - 1].dts);
    }
  });

  it('keeps growing over several wraps', () => {
    const stream = new HandMadeStream(files.audio);
    const expected = Array.from({ length: 10 }, (_, i) => WRAP - 90000 + i * 2 ** 31); // four steps per wrap
    for (const t of expected) stream.pes({ pts: t % WRAP });
    const { demuxer, units } = demux(stream.bytes());
    expect(demuxer.errors).toBe(0);
    expect(units.map((u) => [u.pts, u.dts])).toEqual(expected.map((t) => [t, t]));
  });

  it('a pts just past the wrap stays ahead of its dts just before it', () => {
    const stream = new HandMadeStream(files.audio);
    stream.pes({ pts: WRAP - 6000, dts: WRAP - 9000 });
    stream.pes({ pts: 3000, dts: WRAP - 3000 });
    stream.pes({ pts: 0, dts: 0 });
    const { units } = demux(stream.bytes());
    expect(units.map((u) => [u.pts, u.dts])).toEqual([
      [WRAP - 6000, WRAP - 9000],
      [WRAP + 3000, WRAP - 3000],
      [WRAP, WRAP],
    ]);
  });
});

describe('TsDemuxer robustness', () => {
  it('bounded PES is emitted at once; unbounded waits for the next start or end()', () => {
    const audio = new HandMadeStream(files.audio);
    audio.pes({ pts: 1000, bounded: true, payload: Buffer.alloc(500, 1) });
    const units: TsAccessUnit[] = [];
    const demuxer = new TsDemuxer((u) => units.push(u));
    demuxer.push(audio.bytes());
    expect(units.length).toBe(1);
    expect(units[0].data.equals(Buffer.alloc(500, 1))).toBe(true);

    const video = new HandMadeStream(files.video);
    video.pes({ pts: 1000, bounded: false, payload: Buffer.alloc(400, 2) });
    const later: TsAccessUnit[] = [];
    const videoDemuxer = new TsDemuxer((u) => later.push(u));
    videoDemuxer.push(video.bytes());
    expect(later.length).toBe(0);
    videoDemuxer.end();
    expect(later.length).toBe(1);
    expect(later[0].data.equals(Buffer.alloc(400, 2))).toBe(true);
  });

  it('resyncs after bytes that break the packet grid, counting one error per loss', () => {
    const ts = files.videoBFrames;
    const packets = allPackets(ts);
    const junk = Buffer.from([1, 2, 3, 0x47, 5]); // a false sync byte inside the junk
    const broken = Buffer.concat([...packets.slice(0, 10), junk, ...packets.slice(10, 50), junk, junk, ...packets.slice(50)]);
    const { demuxer, units } = demux(broken);
    expect(demuxer.errors).toBe(2);
    expect(fingerprint(units)).toEqual(fingerprint(demux(ts).units));
  });

  it('ignores packets of unknown PIDs and duplicate packets', () => {
    const ts = files.audioMultiFrame;
    const packets = allPackets(ts);
    const stranger = Buffer.alloc(TS_PACKET_SIZE, 0xaa);
    stranger.set([0x47, 0x42, 0x00, 0x10]); // PID 0x200, PUSI, payload only
    const esPid = demux(ts).demuxer.elementaryPid!;
    const withExtras: Buffer[] = [];
    for (const [i, p] of packets.entries()) {
      withExtras.push(p);
      if (i % 5 === 0) withExtras.push(stranger);
      if (i % 7 === 0 && (((p[1] & 0x1f) << 8) | p[2]) === esPid) withExtras.push(p); // duplicate
    }
    const { demuxer, units } = demux(Buffer.concat(withExtras));
    expect(demuxer.errors).toBe(0);
    expect(fingerprint(units)).toEqual(fingerprint(demux(ts).units));
  });

  it.each(['video', 'audioMultiFrame'] as const)('%s: a lost packet drops just the PES it belonged to', (name) => {
    const ts = files[name];
    const whole = demux(ts).units;
    const victimUnit = whole[Math.floor(whole.length / 2)];
    expect(victimUnit.packets.length).toBeGreaterThanOrEqual(2 * TS_PACKET_SIZE);
    const victim = victimUnit.packets.subarray(TS_PACKET_SIZE, 2 * TS_PACKET_SIZE); // not the PES start
    const packets = allPackets(ts).filter((p) => !p.equals(victim));
    const { demuxer, units } = demux(Buffer.concat(packets));
    expect(demuxer.errors).toBe(1);
    expect(fingerprint(units)).toEqual(fingerprint(whole.filter((u) => u !== victimUnit)));
  });

  it('a bounded PES cut short is counted and dropped, not emitted', () => {
    const ts = files.audioMultiFrame;
    const whole = demux(ts).units;
    const last = whole[whole.length - 1];
    const cut = ts.subarray(0, ts.indexOf(last.packets.subarray(0, TS_PACKET_SIZE)) + TS_PACKET_SIZE + 100);
    const { demuxer, units } = demux(cut);
    expect(fingerprint(units)).toEqual(fingerprint(whole.slice(0, -1)));
    expect(demuxer.errors).toBe(2); // the partial packet and the short PES
  });

  it('never throws on random bytes, truncation anywhere, or corrupted files', () => {
    const random = seededRandom(7);
    const noise = Buffer.from(Array.from({ length: 200_000 }, () => Math.floor(random() * 256)));
    const sprinkled = Buffer.from(noise);
    for (let i = 0; i < sprinkled.length; i += 188) sprinkled[i] = 0x47; // noise on the packet grid
    for (const garbage of [noise, sprinkled]) {
      const { demuxer } = demux(garbage, () => 1 + Math.floor(random() * 5000));
      expect(demuxer.errors).toBeGreaterThan(0);
    }

    for (const name of ['videoBFrames', 'audioMultiFrame'] as const) {
      const ts = files[name];
      for (let i = 0; i < 20; i++) expect(() => demux(ts.subarray(0, Math.floor(random() * ts.length)))).not.toThrow();
      const whole = demux(ts).units;
      const corrupt = Buffer.from(ts);
      for (let i = 0; i < 40; i++) corrupt[Math.floor(random() * corrupt.length)] = Math.floor(random() * 256);
      const { demuxer, units } = demux(corrupt, () => 1 + Math.floor(random() * 1000));
      expect(demuxer.errors).toBeGreaterThan(0);
      expect(units.length).toBeGreaterThan(whole.length / 2);
    }
  });
});

/**
 * Builds PES packets by hand on the elementary PID of an FFmpeg file, after that file's PAT and PMT,
 * for timestamps and shapes FFmpeg will not write on demand.
 */
class HandMadeStream {
  private readonly parts: Buffer[];
  private readonly pid: number;
  private cc = 0;

  constructor(template: Buffer) {
    const { demuxer } = demux(template);
    this.parts = [demuxer.programHeaders!];
    this.pid = demuxer.elementaryPid!;
  }

  pes(options: { pts: number; dts?: number; bounded?: boolean; payload?: Buffer }): void {
    const payload = options.payload ?? Buffer.from([0xff, 0xf1, 0x50, 0x80, 0x01, 0x7f, 0xfc, 0x21]);
    const hasDts = options.dts !== undefined;
    const header = Buffer.alloc(hasDts ? 19 : 14);
    header.set([0, 0, 1, 0xc0]);
    header.writeUInt16BE(options.bounded === false ? 0 : header.length - 6 + payload.length, 4);
    header.set([0x80, hasDts ? 0xc0 : 0x80, hasDts ? 10 : 5], 6);
    writeTimestamp(header, 9, hasDts ? 3 : 2, options.pts);
    if (hasDts) writeTimestamp(header, 14, 1, options.dts!);
    const es = Buffer.concat([header, payload]);
    for (let offset = 0; offset < es.length; offset += 184) {
      const chunk = es.subarray(offset, offset + 184);
      const packet = Buffer.alloc(TS_PACKET_SIZE, 0xff);
      const stuffing = 184 - chunk.length;
      packet.set([0x47, (offset === 0 ? 0x40 : 0) | (this.pid >> 8), this.pid & 0xff, (stuffing ? 0x30 : 0x10) | this.cc]);
      this.cc = (this.cc + 1) & 0x0f;
      if (stuffing) {
        packet[4] = stuffing - 1;
        if (stuffing > 1) packet[5] = 0;
      }
      chunk.copy(packet, 4 + stuffing);
      this.parts.push(packet);
    }
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function writeTimestamp(buf: Buffer, at: number, prefix: number, t: number): void {
  const low = t % 2 ** 30;
  buf[at] = (prefix << 4) | ((Math.floor(t / 2 ** 30) & 7) << 1) | 1;
  buf[at + 1] = (low >> 22) & 0xff;
  buf[at + 2] = ((low >> 14) & 0xfe) | 1;
  buf[at + 3] = (low >> 7) & 0xff;
  buf[at + 4] = ((low << 1) & 0xfe) | 1;
}
