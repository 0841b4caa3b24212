import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  annexBToAvcc,
  avcCodecString,
  containsIdr,
  extractParameterSets,
  nalType,
  NalType,
  ParameterSetWatch,
  parseSps,
  splitAnnexB,
  unescapeRbsp,
} from './h264';
import { MediaFormatError } from './media-format-error';
import { demux, ffmpeg, ffprobeJson, makeTsFixtures, seededRandom, tempDir } from './testing/ffmpeg-fixtures';

const nal = (hex: string) => Buffer.from(hex.replace(/ /g, ''), 'hex');

describe('splitAnnexB / nalType', () => {
  it('splits on 3- and 4-byte start codes, ignoring leading bytes and trailing zeros', () => {
    const stream = nal('ff 00 00 00 01 6701 02 000001 68 03 00000001 65 04 05 0000');
    expect(splitAnnexB(stream).map((n) => n.toString('hex'))).toEqual(['670102', '6803', '650405']);
    expect(splitAnnexB(stream).map(nalType)).toEqual([NalType.SPS, NalType.PPS, NalType.IDR]);
  });

  it('returns nothing for bytes without a start code, and skips empty units', () => {
    expect(splitAnnexB(nal('0102030405'))).toEqual([]);
    expect(splitAnnexB(nal('000001 000001 09f0'))).toEqual([nal('09f0')]);
    expect(nalType(Buffer.alloc(0))).toBe(-1);
  });
});

describe('unescapeRbsp', () => {
  it('removes emulation-prevention bytes and only those', () => {
    expect(unescapeRbsp(nal('000003 01')).toString('hex')).toBe('000001');
    expect(unescapeRbsp(nal('000003 000003 00')).toString('hex')).toBe('0000000000');
    expect(unescapeRbsp(nal('0003 0000 0102')).toString('hex')).toBe('000300000102');
  });
});

describe('containsIdr', () => {
  it('finds an IDR slice after AUD, SPS, PPS and SEI, and stops at the first slice', () => {
    expect(containsIdr(nal('00000001 09f0 00000001 6742 000001 68ce 000001 0605ff 000001 6588'))).toBe(true);
    expect(containsIdr(nal('00000001 09f0 000001 0605ff 000001 419a 000001 6588'))).toBe(false);
    expect(containsIdr(nal('6588 0102'))).toBe(false);
  });
});

describe('parseSps', () => {
  // SPS NAL units as libx264 wrote them (also used by src/hls/h264.spec.ts, there without the header byte).
  const BASELINE_640x480 = '67 42c01fd900a03db0110000030001000003003c0f183248';
  const HIGH_1280x720 = '67 640028acd9405005bb0110000003001000000303c0f1831960';

  it('reads profile, constraints, level, size and frame rate', () => {
    expect(parseSps(nal(BASELINE_640x480))).toMatchObject({
      profileIdc: 66,
      constraintFlags: 0xc0,
      levelIdc: 31,
      width: 640,
      height: 480,
      frameMbsOnly: true,
      chromaFormatIdc: 1,
      codec: 'avc1.42c01f',
    });
    expect(parseSps(nal(HIGH_1280x720))).toMatchObject({ profileIdc: 100, width: 1280, height: 720, codec: 'avc1.640028' });
  });

  it('rejects a NAL that is not an SPS, and a truncated SPS, with MediaFormatError', () => {
    expect(() => parseSps(nal('68ce3880'))).toThrow(MediaFormatError);
    expect(() => parseSps(nal('6742c01f'))).toThrow(MediaFormatError);
    expect(() => parseSps(nal(HIGH_1280x720).subarray(0, 8))).toThrow(MediaFormatError);
  });

  it('on random bytes either parses or throws MediaFormatError, nothing else', () => {
    const random = seededRandom(3);
    for (let i = 0; i < 3000; i++) {
      const bytes = Buffer.from([0x67, ...Array.from({ length: 1 + Math.floor(random() * 40) }, () => Math.floor(random() * 256))]);
      try {
        parseSps(bytes);
      } catch (error) {
        expect(error).toBeInstanceOf(MediaFormatError);
      }
    }
  });

  describe('agrees with ffprobe on streams libx264 wrote', () => {
    type Probe = { profile: string; level: number; width: number; height: number; sample_aspect_ratio?: string; pix_fmt: string };
    const variants: Record<string, string[]> = {
      // 180 lines = 12 macroblocks − 12 lines of cropping
      main320x180: ['-s', '320x180', '-pix_fmt', 'yuv420p', '-profile:v', 'main'],
      // interlaced: frame_mbs_only 0, heights in field macroblock pairs, vertical crop unit 4
      interlaced: ['-s', '320x240', '-pix_fmt', 'yuv420p', '-flags', '+ildct+ilme', '-x264opts', 'interlaced=1'],
      // 4:4:4 at an odd size: crop unit 1 in both directions, High 4:4:4 profile fields
      yuv444odd: ['-s', '321x181', '-pix_fmt', 'yuv444p'],
      // 10 bit and a non-square sample aspect ratio in the VUI
      high10sar: ['-s', '320x240', '-pix_fmt', 'yuv420p10le', '-vf', 'setsar=4/3'],
    };
    // FFmpeg's names for the profile_idc values libx264 writes (-66: Baseline with constraint_set1).
    const PROFILE_NAMES: Record<number, string> = {
      [-66]: 'Constrained Baseline',
      66: 'Baseline',
      77: 'Main',
      100: 'High',
      110: 'High 10',
      244: 'High 4:4:4 Predictive',
    };
    const sps: Record<string, Buffer> = {};
    const probes: Record<string, Probe> = {};
    let remove: () => void;

    beforeAll(() => {
      const tmp = tempDir('h264-sps');
      remove = tmp.remove;
      const args = ['-f', 'lavfi', '-i', 'testsrc=s=640x480:r=30:d=0.2'];
      for (const [name, options] of Object.entries(variants)) {
        args.push(...options, '-c:v', 'libx264', '-preset', 'ultrafast', '-f', 'h264', '-y', join(tmp.dir, `${name}.h264`));
      }
      ffmpeg(args);
      for (const name of Object.keys(variants)) {
        const file = join(tmp.dir, `${name}.h264`);
        sps[name] = splitAnnexB(readFileSync(file)).find((n) => nalType(n) === NalType.SPS)!;
        probes[name] = ffprobeJson<{ streams: Probe[] }>([
          '-show_entries',
          'stream=profile,level,width,height,sample_aspect_ratio,pix_fmt',
          file,
        ]).streams[0];
      }
    });

    afterAll(() => remove());

    it.each(Object.keys(variants))('%s', (name) => {
      const info = parseSps(sps[name]);
      const probe = probes[name];
      expect([info.width, info.height]).toEqual([probe.width, probe.height]);
      expect(info.levelIdc).toBe(probe.level);
      expect(PROFILE_NAMES[info.profileIdc === 66 && info.constraintFlags & 0x40 ? -66 : info.profileIdc]).toBe(probe.profile);
      expect(info.frameRate).toBe(30);
      expect(info.codec).toBe(`avc1.${sps[name].subarray(1, 4).toString('hex')}`);
      expect(`${info.sarWidth}:${info.sarHeight}`).toBe(probe.sample_aspect_ratio ?? '1:1');
      const expected = {
        main320x180: { frameMbsOnly: true, chromaFormatIdc: 1, bitDepthLuma: 8 },
        interlaced: { frameMbsOnly: false, chromaFormatIdc: 1, bitDepthLuma: 8 },
        yuv444odd: { frameMbsOnly: true, chromaFormatIdc: 3, bitDepthLuma: 8 },
        high10sar: { frameMbsOnly: true, chromaFormatIdc: 1, bitDepthLuma: 10, bitDepthChroma: 10 },
      }[name];
      expect(info).toMatchObject(expected!);
      expect(probe.pix_fmt).toBe(variants[name][3]);
    });
  });
});

describe('ParameterSetWatch', () => {
  const sps640 = '67 42c01fd900a03db0110000030001000003003c0f183248';
  const sps1280 = '67 640028acd9405005bb0110000003001000000303c0f1831960';
  const au = (...nals: string[]) => nal(nals.map((n) => `00000001 ${n}`).join(' '));
  const idr = '65 88 84';

  it('reports the keyframe whose SPS or PPS differ from the previous keyframe’s, and nothing else', () => {
    const watch = new ParameterSetWatch();
    const seen = [
      { keyframe: true, data: au(sps640, '68 ce3880', idr) }, // the first: nothing to differ from
      { keyframe: false, data: au('41 9a 00') },
      { keyframe: true, data: au(sps640, '68 ce3880', idr) }, // the same sets again
      { keyframe: true, data: au(idr) }, // no parameter sets: no judgement
      { keyframe: true, data: au(sps1280, '68 ce3880', idr) }, // a new picture size
      { keyframe: true, data: au(sps1280, '68 ce3880', idr) },
      { keyframe: true, data: au(sps1280, '68 ce3c80', idr) }, // a new PPS
      { keyframe: false, data: au(sps640, '68 ce3880', '41 9a 00') }, // not a keyframe
    ].map((unit) => watch.changes(unit));
    expect(seen).toEqual([false, false, false, false, true, false, true, false]);
  });
});

describe('access unit conversion on FFmpeg output', () => {
  let units: ReturnType<typeof demux>['units'];
  let remove: () => void;

  beforeAll(() => {
    const tmp = tempDir('h264-au');
    remove = tmp.remove;
    const { video } = makeTsFixtures(tmp.dir, ['video']);
    units = demux(readFileSync(video)).units;
  });

  afterAll(() => remove());

  it('extracts SPS and PPS (copies) from a keyframe, none from other frames', () => {
    const key = units[0];
    const { sps, pps } = extractParameterSets(key.data);
    expect(sps.length).toBe(1);
    expect(pps.length).toBe(1);
    expect(nalType(sps[0])).toBe(NalType.SPS);
    expect(nalType(pps[0])).toBe(NalType.PPS);
    expect(sps[0].buffer).not.toBe(key.data.buffer);
    expect(parseSps(sps[0])).toMatchObject({ width: 320, height: 240 });
    expect(avcCodecString(sps[0])).toBe('avc1.4d400d');
    expect(extractParameterSets(units[1].data)).toEqual({ sps: [], pps: [] });
  });

  it('AVCC holds the same NAL units with 4-byte lengths, minus AUD and parameter sets when asked', () => {
    for (const unit of units.slice(0, 3)) {
      const nals = splitAnnexB(unit.data);
      expect(nals.map(nalType)[0]).toBe(NalType.AUD); // FFmpeg's mpegts muxer adds one
      const cases: [Parameters<typeof annexBToAvcc>[1], number[]][] = [
        [{}, []],
        [{ dropAud: true }, [NalType.AUD]],
        [{ dropAud: true, dropParameterSets: true }, [NalType.AUD, NalType.SPS, NalType.PPS]],
      ];
      for (const [options, dropped] of cases) {
        const avcc = annexBToAvcc(unit.data, options);
        const back: Buffer[] = [];
        for (let o = 0; o < avcc.length;) {
          const length = avcc.readUInt32BE(o);
          back.push(avcc.subarray(o + 4, o + 4 + length));
          o += 4 + length;
        }
        expect(back).toEqual(nals.filter((n) => !dropped.includes(nalType(n))));
      }
    }
  });
});
