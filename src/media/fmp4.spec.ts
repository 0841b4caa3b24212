import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AAC_FRAME_SAMPLES, audioSpecificConfig, parseAdts } from './aac';
import { Fmp4Sample, Fmp4Track, initSegment, mediaFragment } from './fmp4';
import { annexBToAvcc, AvccOptions, extractParameterSets, parseSps } from './h264';
import { TsAccessUnit } from './ts-demuxer';
import {
  decodeErrors,
  demux,
  FIXTURE_FPS,
  FIXTURE_HEIGHT,
  FIXTURE_SAMPLE_RATE,
  FIXTURE_WIDTH,
  ffprobeJson,
  makeTsFixtures,
  tempDir,
} from './testing/ffmpeg-fixtures';

let dir: string;
let remove: () => void;
let video: TsAccessUnit[];
let videoBFrames: TsAccessUnit[];
let audio: TsAccessUnit[];

beforeAll(() => {
  const tmp = tempDir('fmp4');
  ({ dir, remove } = tmp);
  const paths = makeTsFixtures(dir, ['video', 'videoBFrames', 'audioMultiFrame']);
  video = demux(readFileSync(paths.video)).units;
  videoBFrames = demux(readFileSync(paths.videoBFrames)).units;
  audio = demux(readFileSync(paths.audioMultiFrame)).units;
});

afterAll(() => remove());

/** Splits samples into fragments of `perFragment`, numbered from 1, each at its first sample's decode time. */
function writeMp4(name: string, track: Fmp4Track, samples: Fmp4Sample[], decodeTimes: number[], perFragment: number): string {
  const parts = [initSegment(track)];
  for (let i = 0, sequence = 1; i < samples.length; i += perFragment, sequence++) {
    parts.push(mediaFragment(sequence, decodeTimes[i], samples.slice(i, i + perFragment)));
  }
  const file = join(dir, name);
  writeFileSync(file, Buffer.concat(parts));
  return file;
}

/** Video samples from TS units: duration to the next dts (the last repeats the one before), pts − dts as offset. */
function videoSamples(units: TsAccessUnit[], options: AvccOptions): Fmp4Sample[] {
  return units.map((unit, i) => ({
    duration: i + 1 < units.length ? units[i + 1].dts - unit.dts : unit.dts - units[i - 1].dts,
    keyframe: unit.keyframe,
    compositionOffset: unit.pts - unit.dts,
    data: annexBToAvcc(unit.data, options),
  }));
}

function videoTrack(units: TsAccessUnit[]): Fmp4Track {
  const { sps, pps } = extractParameterSets(units[0].data);
  const info = parseSps(sps[0]);
  return { kind: 'video', width: info.width, height: info.height, sps, pps };
}

interface Probe {
  stream: {
    codec_name: string;
    profile?: string;
    width?: number;
    height?: number;
    sample_rate?: string;
    channels?: number;
    nb_read_frames: string;
  };
  /** The codec configuration read from the sample entry (avcC record, or the AudioSpecificConfig in esds), in hex. */
  extradata: string;
  packets: { pts: number; dts: number; keyframe: boolean }[];
  /** Seconds: the first presentation time, and the duration (counted from time 0, so it includes the first decode time). */
  start: number;
  duration: number;
}

/** One ffprobe run (it decodes, to count frames) for everything the checks need. */
function probe(file: string): Probe {
  const out = ffprobeJson<{
    streams: (Probe['stream'] & { extradata: string })[];
    packets: { pts: number; dts: number; flags: string }[];
    format: { start_time: string; duration: string };
  }>([
    '-count_frames',
    '-show_data',
    '-show_entries',
    'stream=codec_name,profile,width,height,sample_rate,channels,nb_read_frames,extradata:packet=pts,dts,flags:format=start_time,duration',
    file,
  ]);
  const { extradata, ...stream } = out.streams[0];
  return {
    stream,
    // ffprobe prints a hex dump ("00000000: 1190 ...  .."): keep the hex columns.
    extradata: extradata
      .split('\n')
      .map((line) => line.slice(10, 50).replace(/ /g, ''))
      .join(''),
    packets: out.packets.map((p) => ({ pts: p.pts, dts: p.dts, keyframe: p.flags.startsWith('K') })),
    start: Number(out.format.start_time),
    duration: Number(out.format.duration),
  };
}

describe('fMP4 video from demuxed H264', () => {
  const cases: [string, () => TsAccessUnit[], AvccOptions, string][] = [
    [
      'B-frames, SPS/PPS and AUD dropped from samples (they live in avcC)',
      () => videoBFrames,
      { dropAud: true, dropParameterSets: true },
      'High',
    ],
    ['B-frames, NAL units kept as FFmpeg wrote them', () => videoBFrames, {}, 'High'],
    ['no B-frames, SPS/PPS dropped', () => video, { dropAud: true, dropParameterSets: true }, 'Main'],
  ];

  it.each(cases)('%s: ffprobe reads the track, every frame decodes, timestamps survive', (label, units, options, profile) => {
    const source = units();
    const file = writeMp4(
      `video-${cases.findIndex((c) => c[0] === label)}.mp4`,
      videoTrack(source),
      videoSamples(source, options),
      source.map((u) => u.dts),
      8,
    );

    const probed = probe(file);
    expect(probed.stream).toMatchObject({ codec_name: 'h264', width: FIXTURE_WIDTH, height: FIXTURE_HEIGHT, profile });
    const sps = extractParameterSets(source[0].data).sps[0];
    expect(probed.extradata.slice(0, 8)).toBe(`01${sps.subarray(1, 4).toString('hex')}`); // avcC: version, profile, constraints, level
    expect(decodeErrors(file)).toBe('');
    expect(Number(probed.stream.nb_read_frames)).toBe(source.length);
    expect(probed.packets.map((p) => [p.pts, p.dts, p.keyframe])).toEqual(source.map((u) => [u.pts, u.dts, u.keyframe]));
    expect(probed.start).toBeCloseTo(source[0].pts / 90000, 5);
    expect(Math.abs(probed.duration - source[0].dts / 90000 - source.length / FIXTURE_FPS)).toBeLessThan(1 / FIXTURE_FPS);
  });
});

describe('fMP4 audio from demuxed ADTS', () => {
  it('one raw AAC frame per sample: ffprobe reads rate and channels from esds, every frame decodes', () => {
    const frames = audio.flatMap((unit) => parseAdts(unit.data).frames);
    const first = frames[0];
    const track: Fmp4Track = {
      kind: 'audio',
      sampleRate: first.sampleRate,
      channels: first.channels,
      audioSpecificConfig: audioSpecificConfig(first),
    };
    // Each frame after the first of its PES is 1024 samples later; TS time is 90 kHz, the track's is the sample rate.
    const start = (audio[0].dts * first.sampleRate) / 90000;
    expect(Number.isInteger(start)).toBe(true);
    const decodeTimes = frames.map((_, i) => start + i * AAC_FRAME_SAMPLES);
    const samples = frames.map((frame) => ({ duration: AAC_FRAME_SAMPLES, keyframe: true, compositionOffset: 0, data: frame.data }));
    const file = writeMp4('audio.mp4', track, samples, decodeTimes, 10);

    const probed = probe(file);
    expect(probed.stream).toMatchObject({ codec_name: 'aac', profile: 'LC', sample_rate: `${FIXTURE_SAMPLE_RATE}`, channels: 2 });
    expect(probed.extradata).toBe('1190'); // AAC-LC, 48 kHz, 2 channels
    expect(decodeErrors(file)).toBe('');
    expect(Number(probed.stream.nb_read_frames)).toBe(frames.length);
    expect(probed.packets.map((p) => p.pts)).toEqual(decodeTimes);
    expect(probed.start).toBeCloseTo(audio[0].pts / 90000, 5);
    const content = (frames.length * AAC_FRAME_SAMPLES) / FIXTURE_SAMPLE_RATE;
    expect(Math.abs(probed.duration - audio[0].dts / 90000 - content)).toBeLessThan(AAC_FRAME_SAMPLES / FIXTURE_SAMPLE_RATE);
  });
});

describe('fMP4 box layout', () => {
  it('init segment: ftyp iso6/cmfc, then moov with one trak, the SPS/PPS in avcC, and mvex/trex', () => {
    const track = videoTrack(videoBFrames);
    const init = initSegment(track);
    const top = children(init);
    expect(top.map((b) => b.type)).toEqual(['ftyp', 'moov']);
    expect(top[0].body.toString('latin1')).toMatch(/^iso6\0\0\0\0iso6cmfc/);
    const moov = children(top[1].body);
    expect(moov.map((b) => b.type)).toEqual(['mvhd', 'trak', 'mvex']);
    const trak = children(moov[1].body);
    expect(trak.map((b) => b.type)).toEqual(['tkhd', 'mdia']);
    const mdia = children(trak[1].body);
    expect(mdia.map((b) => b.type)).toEqual(['mdhd', 'hdlr', 'minf']);
    expect(mdia[0].body.readUInt32BE(12)).toBe(90000); // mdhd timescale
    const minf = children(mdia[2].body);
    expect(minf.map((b) => b.type)).toEqual(['vmhd', 'dinf', 'stbl']);
    const stbl = children(minf[2].body);
    expect(stbl.map((b) => b.type)).toEqual(['stsd', 'stts', 'stsc', 'stsz', 'stco']);
    const avc1 = children(stbl[0].body.subarray(8));
    expect(avc1[0].type).toBe('avc1');
    const avcC = children(avc1[0].body.subarray(78))[0];
    expect(avcC.type).toBe('avcC');
    const sps = track.kind === 'video' ? track.sps[0] : Buffer.alloc(0);
    expect(avcC.body.subarray(1, 4)).toEqual(sps.subarray(1, 4)); // profile, constraints, level
    expect(avcC.body.readUInt16BE(6)).toBe(sps.length);
    expect(avcC.body.subarray(8, 8 + sps.length)).toEqual(sps);
  });

  it('fragment: trun data offset points at the mdat payload; 64-bit tfdt and negative composition offsets round-trip', () => {
    const samples: Fmp4Sample[] = [
      { duration: 3000, keyframe: true, compositionOffset: -3000, data: Buffer.from('abc') },
      { duration: 3000, keyframe: false, compositionOffset: 6000, data: Buffer.from('defgh') },
    ];
    const base = 2 ** 33 + 5;
    const fragment = mediaFragment(7, base, samples);
    const [moof, mdat] = children(fragment);
    expect([moof.type, mdat.type]).toEqual(['moof', 'mdat']);
    const [mfhd, traf] = children(moof.body);
    expect(mfhd.body.readUInt32BE(4)).toBe(7);
    const [tfhd, tfdt, trun] = children(traf.body);
    expect(tfhd.body.readUInt32BE(0)).toBe(0x020000); // default-base-is-moof
    expect(Number(tfdt.body.readBigUInt64BE(4))).toBe(base);
    expect(trun.body[0]).toBe(1); // version 1: signed offsets
    expect(trun.body.readUInt32BE(4)).toBe(2);
    const dataOffset = trun.body.readInt32BE(8);
    expect(fragment.subarray(dataOffset, dataOffset + 8).toString()).toBe('abcdefgh');
    const entry = (i: number) =>
      [0, 4, 8, 12].map((o) => (o === 12 ? trun.body.readInt32BE(12 + i * 16 + o) : trun.body.readUInt32BE(12 + i * 16 + o)));
    expect(entry(0)).toEqual([3000, 3, 0x02000000, -3000]);
    expect(entry(1)).toEqual([3000, 5, 0x01010000, 6000]);
  });

  it('rejects a decode time that is negative or not an integer', () => {
    expect(() => mediaFragment(1, -1, [])).toThrow(TypeError);
    expect(() => mediaFragment(1, 1.5, [])).toThrow(TypeError);
  });
});

/** The boxes directly inside `buf`: type and body (after the 8-byte header). */
function children(buf: Buffer): { type: string; body: Buffer }[] {
  const out: { type: string; body: Buffer }[] = [];
  for (let o = 0; o + 8 <= buf.length;) {
    const size = buf.readUInt32BE(o);
    if (size < 8 || o + size > buf.length) throw new Error(`bad box size ${size} at ${o}`);
    out.push({ type: buf.toString('latin1', o + 4, o + 8), body: buf.subarray(o + 8, o + size) });
    o += size;
  }
  return out;
}
