import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { aacCodecString, aacFrameDuration, audioSpecificConfig, parseAdts, parseAdtsHeader } from './aac';
import { ffmpeg, ffprobeJson, probePackets, ProbedPacket, seededRandom, tempDir } from './testing/ffmpeg-fixtures';

type StreamProbe = { sample_rate: string; channels: number; profile: string };

describe('parseAdts on ADTS files FFmpeg wrote', () => {
  const variants = { stereo48k: [48000, 2], mono44k: [44100, 1] } as const;
  const files: Record<string, Buffer> = {};
  const packets: Record<string, ProbedPacket[]> = {};
  const streams: Record<string, StreamProbe> = {};
  let remove: () => void;

  beforeAll(() => {
    const tmp = tempDir('aac');
    remove = tmp.remove;
    for (const [name, [rate, channels]] of Object.entries(variants)) {
      const file = join(tmp.dir, `${name}.aac`);
      ffmpeg(['-f', 'lavfi', '-i', `sine=f=440:sample_rate=${rate}:d=1`, '-ac', `${channels}`, '-c:a', 'aac', '-f', 'adts', '-y', file]);
      files[name] = readFileSync(file);
      packets[name] = probePackets(file);
      streams[name] = ffprobeJson<{ streams: StreamProbe[] }>(['-show_entries', 'stream=sample_rate,channels,profile', file]).streams[0];
    }
  });

  afterAll(() => remove());

  it.each(Object.keys(variants))('%s: one frame per ffprobe packet, with its rate, channels and object type', (name) => {
    const { frames, skippedBytes } = parseAdts(files[name]);
    expect(skippedBytes).toBe(0);
    expect(frames.length).toBe(packets[name].length);
    // ffprobe's packets are whole ADTS frames: header (7 bytes, no CRC) + raw data.
    expect(frames.map((f) => f.data.length + f.headerLength)).toEqual(packets[name].map((p) => p.size));
    for (const frame of frames) {
      expect(frame.sampleRate).toBe(Number(streams[name].sample_rate));
      expect(frame.channels).toBe(streams[name].channels);
      expect(frame.objectType).toBe(2);
      expect(frame.rawBlocks).toBe(1);
    }
    expect(streams[name].profile).toBe('LC');
  });

  it('skips garbage between frames and drops a frame cut short, counting the bytes', () => {
    const { frames: clean } = parseAdts(files.stereo48k);
    const [a, b, c] = [0, 1, 2].map((i) => {
      const start = clean.slice(0, i).reduce((sum, f) => sum + f.frameLength, 0);
      return files.stereo48k.subarray(start, start + clean[i].frameLength);
    });
    const junk = Buffer.from([0x00, 0xff, 0x12, 0xff, 0xff]); // false sync words included
    const { frames, skippedBytes } = parseAdts(Buffer.concat([junk, a, junk, b, c.subarray(0, c.length - 1)]));
    expect(frames.map((f) => f.data)).toEqual([clean[0].data, clean[1].data]);
    expect(skippedBytes).toBe(2 * junk.length + c.length - 1);
  });

  it('reads a header with CRC (9 bytes) and rejects reserved frequency indexes', () => {
    // AAC-LC, 44.1 kHz (index 4), 2 channels, protection present, frame of 9 + 3 bytes.
    const withCrc = Buffer.from([0xff, 0xf0, 0x50, 0x80, 0x01, 0x9f, 0xfc, 0xab, 0xcd, 1, 2, 3]);
    expect(parseAdtsHeader(withCrc)).toMatchObject({ headerLength: 9, frameLength: 12, sampleRate: 44100, channels: 2 });
    expect(parseAdts(withCrc).frames[0].data).toEqual(Buffer.from([1, 2, 3]));
    const reserved = Buffer.from(withCrc);
    reserved[2] = 0x40 | (13 << 2); // frequency index 13 is reserved
    expect(parseAdtsHeader(reserved)).toBeUndefined();
  });

  it('never throws on random bytes', () => {
    const random = seededRandom(11);
    for (let i = 0; i < 200; i++) {
      const bytes = Buffer.from(
        Array.from({ length: Math.floor(random() * 2000) }, () => (random() < 0.1 ? 0xff : Math.floor(random() * 256))),
      );
      const { frames, skippedBytes } = parseAdts(bytes);
      expect(frames.reduce((sum, f) => sum + f.frameLength, 0) + skippedBytes).toBe(bytes.length);
    }
  });
});

describe('AAC configuration', () => {
  it('builds the AudioSpecificConfig and codec string', () => {
    // ISO 14496-3: 5 bits object type, 4 bits frequency index, 4 bits channels, 3 zero bits.
    expect(audioSpecificConfig({ objectType: 2, samplingFrequencyIndex: 3, channels: 2 }).toString('hex')).toBe('1190');
    expect(audioSpecificConfig({ objectType: 2, samplingFrequencyIndex: 4, channels: 1 }).toString('hex')).toBe('1208');
    expect(aacCodecString(2)).toBe('mp4a.40.2');
    expect(aacCodecString(5)).toBe('mp4a.40.5');
  });

  it('gives the duration of 1024 samples in any timescale', () => {
    expect(aacFrameDuration(48000)).toBe(1024);
    expect(aacFrameDuration(48000, 90000)).toBe(1920);
    expect(aacFrameDuration(44100, 90000)).toBeCloseTo(2089.796, 3);
  });
});
