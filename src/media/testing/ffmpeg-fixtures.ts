/**
 * Test support for the media specs: short inputs made by the real FFmpeg, and what ffprobe reads
 * from them, so the parsers are checked against FFmpeg rather than against numbers we wrote down.
 * Not used by the application.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TsAccessUnit, TsDemuxer } from '../ts-demuxer';

/** Starts 1.5 s before the 33-bit PTS wrap (2^33 / 90000 = 95443.7 s), after the muxer's 1.4 s delay. */
export const WRAP_OFFSET_SECONDS = 95441.5;

/**
 * Two seconds of testsrc + sine, one elementary stream per MPEG-TS file as the app's FFmpeg writes them:
 * - video: libx264 Constrained Baseline-like, no B-frames (pts = dts), keyframe every 30 frames
 * - videoBFrames: High profile with 2 B-frames (pts ≠ dts)
 * - audio: AAC stereo 48 kHz, `-pes_payload_size 0` (one ADTS frame per PES)
 * - audioMultiFrame: AAC with the default PES size (several ADTS frames per PES)
 * - videoWrap / audioWrap: like videoBFrames / audio, timestamps crossing the 33-bit wrap
 */
export type TsFixture = 'video' | 'videoBFrames' | 'audio' | 'audioMultiFrame' | 'videoWrap' | 'audioWrap';

const FIXTURE_ARGS: Record<TsFixture, string[]> = {
  video: ['-map', '0:v', ...x264(['-bf', '0', '-profile:v', 'main']), '-pes_payload_size', '0', '-flush_packets', '1'],
  videoBFrames: ['-map', '0:v', ...x264(['-bf', '2', '-profile:v', 'high']), '-pes_payload_size', '0'],
  audio: ['-map', '1:a', ...aac(), '-pes_payload_size', '0', '-flush_packets', '1'],
  audioMultiFrame: ['-map', '1:a', ...aac()],
  videoWrap: ['-map', '0:v', ...x264(['-bf', '2']), '-pes_payload_size', '0', '-output_ts_offset', `${WRAP_OFFSET_SECONDS}`],
  audioWrap: ['-map', '1:a', ...aac(), '-pes_payload_size', '0', '-output_ts_offset', `${WRAP_OFFSET_SECONDS}`],
};

function x264(extra: string[]): string[] {
  return ['-c:v', 'libx264', '-preset', 'veryfast', '-g', '30', '-sc_threshold', '0', '-pix_fmt', 'yuv420p', ...extra];
}

function aac(): string[] {
  return ['-c:a', 'aac', '-b:a', '96k', '-ac', '2'];
}

export const FIXTURE_SECONDS = 2;
export const FIXTURE_WIDTH = 320;
export const FIXTURE_HEIGHT = 240;
export const FIXTURE_FPS = 30;
export const FIXTURE_SAMPLE_RATE = 48000;

/** A fresh temporary folder and a function that removes it. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes the wanted fixtures into `dir` with one FFmpeg run; returns their paths. */
export function makeTsFixtures<T extends TsFixture>(dir: string, wanted: readonly T[]): Record<T, string> {
  const paths = {} as Record<T, string>;
  const args = [
    '-f',
    'lavfi',
    '-i',
    `testsrc=s=${FIXTURE_WIDTH}x${FIXTURE_HEIGHT}:r=${FIXTURE_FPS}:d=${FIXTURE_SECONDS}`,
    '-f',
    'lavfi',
    '-i',
    `sine=f=440:sample_rate=${FIXTURE_SAMPLE_RATE}:d=${FIXTURE_SECONDS}`,
  ];
  for (const name of wanted) {
    paths[name] = join(dir, `${name}.ts`);
    args.push(...FIXTURE_ARGS[name], '-f', 'mpegts', '-y', paths[name]);
  }
  ffmpeg(args);
  return paths;
}

/** Runs FFmpeg quietly; throws with its stderr if it fails. */
export function ffmpeg(args: string[]): void {
  execFileSync('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** What `ffmpeg -v error -i file -f null -` prints (empty when every frame decodes cleanly). */
export function decodeErrors(file: string): string {
  const run = spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8' });
  return `${run.stderr}${run.status === 0 ? '' : `exit ${run.status}`}`;
}

export function ffprobeJson<T>(args: string[]): T {
  return JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-of', 'json', ...args], { encoding: 'utf8' })) as T;
}

export interface ProbedPacket {
  pts: number;
  dts: number;
  keyframe: boolean;
  size: number;
}

/** The packets ffprobe reads from a file's first stream, in its time base (90 kHz for MPEG-TS). */
export function probePackets(file: string): ProbedPacket[] {
  const { packets } = ffprobeJson<{ packets: { pts: number; dts: number; flags: string; size: string }[] }>([
    '-select_streams',
    '0',
    '-show_entries',
    'packet=pts,dts,flags,size',
    file,
  ]);
  return packets.map((p) => ({ pts: p.pts, dts: p.dts, keyframe: p.flags.startsWith('K'), size: Number(p.size) }));
}

/** Demuxes a whole buffer, pushed in chunks whose sizes `nextSize` picks (default: all at once). */
export function demux(ts: Buffer, nextSize: () => number = () => ts.length): { demuxer: TsDemuxer; units: TsAccessUnit[] } {
  const units: TsAccessUnit[] = [];
  const demuxer = new TsDemuxer((unit) => units.push(unit));
  for (let offset = 0; offset < ts.length;) {
    const size = Math.max(1, nextSize());
    demuxer.push(ts.subarray(offset, offset + size));
    offset += size;
  }
  demuxer.end();
  return { demuxer, units };
}

/** A small seeded PRNG (mulberry32), so a failing random case can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
