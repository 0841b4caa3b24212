import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { h264InfoFromTs, parseSps } from './h264';

// SPS NAL bodies (after the 0x67 header) as libx264 wrote them.
const BASELINE_640x480 = '42c01fd900a03db0110000030001000003003c0f183248';
const HIGH_1280x720 = '640028acd9405005bb0110000003001000000303c0f1831960';

describe('parseSps', () => {
  it('derives the RFC 6381 codec string and the size of a Constrained Baseline SPS', () => {
    expect(parseSps(Buffer.from(BASELINE_640x480, 'hex'))).toEqual({ codec: 'avc1.42c01f', width: 640, height: 480 });
  });

  it('handles High profile (chroma format, cropping of 720 = 46 macroblocks − 16 lines)', () => {
    expect(parseSps(Buffer.from(HIGH_1280x720, 'hex'))).toEqual({ codec: 'avc1.640028', width: 1280, height: 720 });
  });

  it('fails loudly on a truncated SPS', () => {
    expect(() => parseSps(Buffer.from('42c01f', 'hex'))).toThrow(RangeError);
  });
});

describe('h264InfoFromTs', () => {
  it('finds the SPS in an MPEG-TS segment written by FFmpeg', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sps-'));
    const file = join(dir, 'seg.ts');
    execFileSync('ffmpeg', [
      '-v', 'error', '-f', 'lavfi', '-i', 'testsrc=s=320x180:r=30', '-t', '0.2', '-pix_fmt', 'yuv420p',
      '-c:v', 'libx264', '-profile:v', 'main', '-level', '3.0', '-f', 'mpegts', '-y', file,
    ]);
    expect(h264InfoFromTs(readFileSync(file))).toEqual({ codec: 'avc1.4d401e', width: 320, height: 180 });
  });

  it('returns undefined for a buffer without video', () => {
    expect(h264InfoFromTs(Buffer.alloc(188 * 4, 0xff))).toBeUndefined();
  });
});
