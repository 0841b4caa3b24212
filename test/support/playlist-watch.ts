import { extractParameterSets, parseSps } from '../../src/media/h264';
import { TsDemuxer } from '../../src/media/ts-demuxer';

/**
 * Watches media playlists over HTTP the way a player does (GET every `everyMs`), and keeps
 * everything it saw: every fetched playlist (for rules that must hold in all of them) and every
 * segment with the moment it first appeared (for "how soon after X did Y show up").
 */

export interface WatchedSegment {
  uri: string;
  /** Media sequence number. */
  seq: number;
  /** Discontinuity count: which FFmpeg run it comes from. */
  cc: number;
  duration: number;
  gap: boolean;
  /** Wall clock (ms since the epoch) of the fetch that first listed it. */
  firstSeenAt: number;
  /** Video, where asked (readCodedFormats): the coded format of its first keyframe. */
  format?: CodedFormat;
}

/** An H264 stream's coded format: its picture size (e.g. `640x480`) and its SPS and PPS, in hex. */
export interface CodedFormat {
  size: string;
  parameterSets: string;
}

/**
 * The coded formats of an MPEG-TS video segment, in order, from its keyframes' SPS and PPS (each
 * change once): a new size, or the same size from another encoder (the filler picture).
 */
export function codedFormatsOf(segment: Buffer): CodedFormat[] {
  const formats: CodedFormat[] = [];
  const demuxer = new TsDemuxer((unit) => {
    if (!unit.keyframe) return;
    const { sps, pps } = extractParameterSets(unit.data);
    if (!sps[0]) return;
    const { width, height } = parseSps(sps[0]);
    const parameterSets = Buffer.concat([...sps, ...pps]).toString('hex');
    if (formats.at(-1)?.parameterSets !== parameterSets) formats.push({ size: `${width}x${height}`, parameterSets });
  });
  demuxer.push(segment);
  demuxer.end();
  return formats;
}

/** The picture sizes of an MPEG-TS video segment, in order, from its keyframes' SPS (each change once). */
export function pictureSizesOf(segment: Buffer): string[] {
  return codedFormatsOf(segment)
    .map((f) => f.size)
    .filter((size, i, sizes) => size !== sizes[i - 1]);
}

export interface FetchedPlaylist {
  name: string;
  at: number;
  text: string;
  targetDuration: number;
  segments: WatchedSegment[];
}

/** Segments of a media playlist with their sequence number, discontinuity count and gap flag. */
export function parsePlaylistSegments(text: string, at = Date.now()): { targetDuration: number; segments: WatchedSegment[] } {
  const lines = text.split('\n');
  let seq = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0);
  let cc = Number(/#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0);
  const segments: WatchedSegment[] = [];
  let gap = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '#EXT-X-DISCONTINUITY') cc++;
    else if (line === '#EXT-X-GAP') gap = true;
    else if (line.startsWith('#EXTINF:')) {
      const duration = Number(/^#EXTINF:([\d.]+)/.exec(line)![1]);
      segments.push({ uri: lines[i + 1].trim(), seq: seq++, cc, duration, gap, firstSeenAt: at });
      gap = false;
      i++;
    }
  }
  return { targetDuration: Number(/#EXT-X-TARGETDURATION:(\d+)/.exec(text)?.[1]), segments };
}

export class PlaylistWatch {
  readonly fetched: FetchedPlaylist[] = [];
  /** Fetches that failed (network errors; a 404 before the playlist exists is not one). */
  readonly errors: string[] = [];
  /** Per playlist name: every segment ever listed, by URI, in order of appearance. */
  readonly seen = new Map<string, Map<string, WatchedSegment>>();
  private stopped = false;
  private readonly done: Promise<void>;
  private readonly sized = new Set<string>();

  constructor(
    private readonly baseUrl: string,
    private readonly names: string[],
    private readonly everyMs = 100,
    /** Bounds the watch even if stop() is never called. */
    maxMs = 15 * 60_000,
  ) {
    for (const name of names) this.seen.set(name, new Map());
    const until = Date.now() + maxMs;
    this.done = (async () => {
      while (!this.stopped && Date.now() < until) {
        await Promise.all(this.names.map((name) => this.poll(name)));
        // Unref'd: a watch a failed test never stopped must not keep Jest from exiting.
        await new Promise((resolve) => setTimeout(resolve, this.everyMs).unref());
      }
    })();
  }

  /** Every segment of `name` seen so far, in order of appearance. */
  segments(name: string): WatchedSegment[] {
    return [...(this.seen.get(name)?.values() ?? [])];
  }

  /** Reads the coded format of each segment of `name` (a video playlist) as it is first listed. */
  readCodedFormats(name: string): this {
    this.sized.add(name);
    return this;
  }

  /**
   * The segments of `name` (read with readCodedFormats) from `fromSeq` on that follow a discontinuity
   * other than a change of coded format (which packaging marks within a run: a new picture size, the
   * filler picture of a paused camera): those of new FFmpeg runs.
   */
  runStarts(name: string, fromSeq = -Infinity): WatchedSegment[] {
    const list = this.segments(name)
      .filter((s) => s.seq >= fromSeq)
      .sort((a, b) => a.seq - b.seq);
    return list.filter((s, i) => {
      const before = list[i - 1];
      if (!before || s.cc === before.cc) return false;
      const reformatted = s.format !== undefined && before.format !== undefined && s.format.parameterSets !== before.format.parameterSets;
      return !reformatted || s.cc - before.cc > 1;
    });
  }

  /** The first segment of `name` to appear after `since` that satisfies `test`, if any yet. */
  firstAfter(name: string, since: number, test: (s: WatchedSegment) => boolean = () => true): WatchedSegment | undefined {
    return this.segments(name).find((s) => s.firstSeenAt >= since && test(s));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  private async poll(name: string): Promise<void> {
    // A failed fetch is a poll missed, as a player would retry; it is counted, not thrown.
    const text = await fetch(`${this.baseUrl}/live/${name}`)
      .then((response) => (response.ok ? response.text() : undefined))
      .catch((error) => {
        this.errors.push(`${name}: ${error?.cause?.message ?? error}`);
        return undefined;
      });
    if (text === undefined) return;
    const at = Date.now();
    const { targetDuration, segments } = parsePlaylistSegments(text, at);
    this.fetched.push({ name, at, text, targetDuration, segments });
    const known = this.seen.get(name)!;
    for (const segment of segments) {
      if (known.has(segment.uri)) continue;
      known.set(segment.uri, segment);
      if (this.sized.has(name) && !segment.gap) {
        const data = await fetch(`${this.baseUrl}/live/${segment.uri}`)
          .then(async (response) => (response.ok ? Buffer.from(await response.arrayBuffer()) : undefined))
          .catch(() => undefined);
        if (data) segment.format = codedFormatsOf(data)[0];
      }
    }
  }
}
