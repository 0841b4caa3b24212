import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ParsedPlaylist {
  text: string;
  targetDuration: number;
  mediaSequence: number;
  segments: Array<{ uri: string; duration: number; discontinuity: boolean }>;
  ended: boolean;
}

/** Where a media playlist stands: its sequence numbers, segments and discontinuity tags. */
export interface PlaylistState {
  mediaSequence: number;
  discontinuitySequence: number;
  uris: string[];
  discontinuities: number;
}

export function playlistState(text: string): PlaylistState {
  const lines = text.split('\n');
  return {
    mediaSequence: Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1]),
    discontinuitySequence: Number(/#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)/.exec(text)?.[1]),
    uris: lines.filter((l) => l.endsWith('.ts')),
    discontinuities: lines.filter((l) => l === '#EXT-X-DISCONTINUITY').length,
  };
}

/** Every state of one media playlist seen, in order: what a player reloading it saw. */
export class PlaylistHistory<S extends PlaylistState = PlaylistState> {
  readonly seen: S[] = [];

  /** Every segment URI ever listed, in order of first appearance. */
  allUris(): string[] {
    const all: string[] = [];
    for (const s of this.seen) for (const uri of s.uris) if (!all.includes(uri)) all.push(uri);
    return all;
  }

  /** The number of source changes seen: discontinuity sequence plus tags still in the window, at its highest. */
  changes(): number {
    return Math.max(...this.seen.map((s) => s.discontinuitySequence + s.discontinuities));
  }
}

export function parseMediaPlaylist(text: string): ParsedPlaylist {
  const lines = text.split('\n');
  const segments: ParsedPlaylist['segments'] = [];
  let discontinuity = false;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] === '#EXT-X-DISCONTINUITY') discontinuity = true;
    const extinf = /^#EXTINF:([\d.]+),/.exec(lines[i]);
    if (extinf) {
      segments.push({ uri: lines[i + 1], duration: Number(extinf[1]), discontinuity });
      discontinuity = false;
    }
  }
  return {
    text,
    targetDuration: Number(/#EXT-X-TARGETDURATION:(\d+)/.exec(text)?.[1]),
    mediaSequence: Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1]),
    segments,
    ended: text.includes('#EXT-X-ENDLIST'),
  };
}

export async function readPlaylist(dir: string, name: string): Promise<ParsedPlaylist | undefined> {
  const text = await readFile(join(dir, name), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseMediaPlaylist(text);
}

export interface ProbedStream {
  codec_name: string;
  codec_type: string;
  profile?: string;
  level?: number;
  width?: number;
  height?: number;
  sample_rate?: string;
  channels?: number;
}

export async function ffprobe(path: string): Promise<{ streams: ProbedStream[]; format: { duration?: string } }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', path]);
  return JSON.parse(stdout);
}

/** A Server-Sent Events client that records every named event. */
export class SseClient {
  /** `receivedAt`: Date.now() when the event was read. */
  readonly events: Array<{ type: string; data: any; receivedAt: number }> = [];
  private req?: ReturnType<typeof request>;

  constructor(url: string) {
    this.req = request(url, { headers: { accept: 'text/event-stream' } }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const type = /^event: ?(.*)$/m.exec(block)?.[1] ?? 'message';
          const data = /^data: ?(.*)$/m.exec(block)?.[1];
          if (data !== undefined) this.events.push({ type, data: JSON.parse(data), receivedAt: Date.now() });
        }
      });
    });
    this.req.on('error', () => undefined);
    this.req.end();
  }

  find(type: string, peerId?: string) {
    return this.events.find((e) => e.type === type && (peerId === undefined || e.data?.peerId === peerId));
  }

  close(): void {
    this.req?.destroy();
  }
}

/**
 * What FFmpeg's metadata filters print for `input` (with each frame's pts_time): the mean luma (YAVG)
 * of every video frame, or the RMS level of every 5 ms of audio. `copyts` keeps the input's own clock.
 */
export async function printFrameMetadata(input: string, measure: 'luma' | 'rms', options: { copyts?: boolean } = {}): Promise<string> {
  const filter =
    measure === 'luma'
      ? ['-an', '-vf', 'scale=64:48,signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-']
      : ['-vn', '-af', 'asetnsamples=n=240:p=0,astats=metadata=1:reset=1,ametadata=print:key=lavfi.astats.Overall.RMS_level:file=-'];
  const args = ['-v', 'error', ...(options.copyts ? ['-copyts'] : []), '-i', input, ...filter, '-f', 'null', '-'];
  return (await run('ffmpeg', args, { maxBuffer: 64 * 1024 * 1024 })).stdout;
}

/** Mean luma (YAVG, 16–235) of a segment's video: about 16 for the black filler. */
export async function meanLuma(path: string): Promise<number> {
  const stdout = await printFrameMetadata(path, 'luma');
  const values = [...stdout.matchAll(/lavfi\.signalstats\.YAVG=([\d.]+)/g)].map((m) => Number(m[1]));
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
}

/** Peak RMS level (dBFS, over 5 ms windows) of a segment's audio: -inf for the silent filler. */
export async function peakAudioLevel(path: string): Promise<number> {
  const stdout = await printFrameMetadata(path, 'rms');
  const values = [...stdout.matchAll(/lavfi\.astats\.Overall\.RMS_level=(-?[\d.]+|-inf)/g)].map((m) =>
    m[1] === '-inf' ? -Infinity : Number(m[1]),
  );
  return Math.max(-Infinity, ...values);
}
