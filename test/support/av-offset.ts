import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { printFrameMetadata, readPlaylist } from './hls';
import { parsePlaylistSegments, pictureSizesOf } from './playlist-watch';

const run = promisify(execFile);

/** Copies every segment of a stream's media playlists as they appear, for `seconds` of media. */
export async function collectSegments(
  hlsDir: string,
  peerId: string,
  seconds: number,
  timeoutMs = 60_000,
): Promise<Record<'video' | 'audio', string[]>> {
  const out = await mkdtemp(join(tmpdir(), 'segments-'));
  const copied: Record<'video' | 'audio', string[]> = { video: [], audio: [] };
  const durations = { video: 0, audio: 0 };
  const deadline = Date.now() + timeoutMs;
  while (Math.min(durations.video, durations.audio) < seconds) {
    if (Date.now() > deadline) throw new Error(`only ${JSON.stringify(durations)} s of media within ${timeoutMs} ms`);
    for (const kind of ['video', 'audio'] as const) {
      const list = await readPlaylist(hlsDir, `${peerId}-${kind}.m3u8`);
      for (const segment of list?.segments ?? []) {
        const target = join(out, segment.uri);
        if (copied[kind].includes(target)) continue;
        await copyFile(join(hlsDir, segment.uri), target);
        copied[kind].push(target);
        durations[kind] += segment.duration;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  return copied;
}

/** Times (s, on the segments' own clock) at which the picture turns white. */
export async function flashTimes(segments: string[]): Promise<number[]> {
  const stdout = await printFrameMetadata(`concat:${segments.join('|')}`, 'luma', { copyts: true });
  return risingEdges(stdout, 'lavfi.signalstats.YAVG', (value) => value > 180);
}

/** Times (s, on the segments' own clock) at which the beep starts. */
export async function beepTimes(segments: string[]): Promise<number[]> {
  const stdout = await printFrameMetadata(`concat:${segments.join('|')}`, 'rms', { copyts: true });
  return risingEdges(stdout, 'lavfi.astats.Overall.RMS_level', (value) => value > -30);
}

function risingEdges(text: string, key: string, on: (value: number) => boolean): number[] {
  const edges: number[] = [];
  let time = 0;
  let was = false;
  for (const line of text.split('\n')) {
    const pts = /pts_time:([\d.]+)/.exec(line);
    if (pts) time = Number(pts[1]);
    if (line.startsWith(`${key}=`)) {
      const value = Number(line.slice(key.length + 1));
      const now = Number.isFinite(value) && on(value);
      if (now && !was && (edges.length === 0 || time - edges.at(-1)! > 0.5)) edges.push(time);
      was = now;
    }
  }
  return edges;
}

/** audio − video for each flash that has a beep within 0.5 s. */
export function pairOffsets(flashes: number[], beeps: number[]): Array<{ at: number; offsetMs: number }> {
  return flashes.flatMap((flash) => {
    const beep = beeps.reduce((best, b) => (Math.abs(b - flash) < Math.abs(best - flash) ? b : best), Infinity);
    return Math.abs(beep - flash) < 0.5 ? [{ at: flash, offsetMs: Math.round((beep - flash) * 1000) }] : [];
  });
}

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
};

/** Median of the slopes between every pair of points: robust to outliers. */
export function theilSen(points: Array<[number, number]>): number {
  const slopes: number[] = [];
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) {
      const dx = points[j][0] - points[i][0];
      if (dx !== 0) slopes.push((points[j][1] - points[i][1]) / dx);
    }
  }
  return median(slopes);
}

export interface CollectedSegment {
  /** A copy of the segment, safe from the server's clean-up. */
  path: string;
  seq: number;
  /** Discontinuity count. */
  cc: number;
  /**
   * Which stretch of media it belongs to (0, 1, …): an FFmpeg run, or the filler picture of a paused
   * H264 camera and the live picture after it (each coded apart, within one run). A discontinuity
   * starts a new one unless it is where the video's picture size changed (a browser adapting).
   */
  run: number;
  duration: number;
}

/**
 * Copies every (non-gap) segment of a stream's video and audio playlists as they appear, with the
 * FFmpeg run each belongs to, until stopped or `maxMs` has passed.
 */
export class SegmentCollector {
  readonly segments: Record<'video' | 'audio', CollectedSegment[]> = { video: [], audio: [] };
  private readonly out: Promise<string>;
  private stopped = false;
  private readonly done: Promise<void>;
  /** The run of each discontinuity count, as the video's segments tell it. */
  private readonly runOfCc = new Map<number, number>();
  private lastVideo?: { cc: number; size?: string; run: number };

  constructor(
    private readonly hlsDir: string,
    private readonly streamId: string,
    maxMs = 5 * 60_000,
  ) {
    this.out = mkdtemp(join(tmpdir(), 'segments-'));
    const until = Date.now() + maxMs;
    this.done = (async () => {
      while (!this.stopped && Date.now() < until) {
        await this.poll();
        await new Promise((resolve) => setTimeout(resolve, 200).unref());
      }
    })();
  }

  /** Seconds of media collected for `kind` in runs matching `run`. */
  seconds(kind: 'video' | 'audio', run: (run: number) => boolean = () => true): number {
    return this.segments[kind].filter((s) => run(s.run)).reduce((sum, s) => sum + s.duration, 0);
  }

  /** The runs seen so far, in order. */
  runs(): number[] {
    return [...new Set(this.segments.video.map((s) => s.run))].sort((a, b) => a - b);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  /** The run of the next video segment (they come in order): a new one at a discontinuity without a new picture size. */
  private videoRun(cc: number, size: string | undefined): number {
    const last = this.lastVideo;
    let run = 0;
    if (last) {
      const resized = cc === last.cc + 1 && size !== undefined && last.size !== undefined && size !== last.size;
      run = cc === last.cc || resized ? last.run : last.run + 1;
    }
    this.lastVideo = { cc, size: size ?? last?.size, run };
    this.runOfCc.set(cc, run);
    return run;
  }

  private async poll(): Promise<void> {
    const out = await this.out;
    for (const kind of ['video', 'audio'] as const) {
      const text = await readFile(join(this.hlsDir, `${this.streamId}-${kind}.m3u8`), 'utf8').catch(() => undefined);
      if (!text) continue;
      for (const segment of parsePlaylistSegments(text).segments) {
        if (segment.gap || this.segments[kind].some((s) => s.seq === segment.seq)) continue;
        // Audio waits until the video has told which run its discontinuity count is.
        if (kind === 'audio' && !this.runOfCc.has(segment.cc)) continue;
        const path = join(out, segment.uri);
        // Read once: copied, and (video) its picture size read from the same bytes.
        const data = await readFile(join(this.hlsDir, segment.uri)).catch(() => undefined);
        if (!data) continue; // slid out and removed before we got to it: the next poll is sooner
        await writeFile(path, data);
        const run = kind === 'video' ? this.videoRun(segment.cc, pictureSizesOf(data)[0]) : this.runOfCc.get(segment.cc)!;
        this.segments[kind].push({ path, seq: segment.seq, cc: segment.cc, run, duration: segment.duration });
      }
    }
  }
}

/** Start time (s) of a segment's first packet, on the segments' own clock. */
export async function startTime(path: string): Promise<number> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=start_time', '-of', 'csv=p=0', path]);
  return Number(stdout.trim());
}
