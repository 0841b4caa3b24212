import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  checkLlMediaPlaylist,
  checkLlRenditionSet,
  checkMasterPlaylist,
  compareLlReloads,
  formatViolations,
  listedParts,
  LlCheckOptions,
  parseLlMediaPlaylist,
} from '../../test/support/ll-hls-rules';
import { decodeErrors, demux, makeTsFixtures, seededRandom, tempDir } from '../media/testing/ffmpeg-fixtures';
import { SegmentCutter } from '../transcode/segment-cutter';
import { parseMediaPlaylist } from '../../test/support/hls';
import { extractParameterSets, nalType, NalType, parseSps, splitAnnexB } from '../media/h264';
import type { MasterPlaylistInput } from './master-playlist';
import { SegmentStore } from './segment-store';
import { Continuity, StreamPackager } from './stream-packager';
import type { TsAccessUnit } from '../media/ts-demuxer';
import type { MediaKind, MediaUnit, RunTrack } from '../transcode/media-unit';
import { llMediaPlaylistName, parseLlName } from './hls-names';
import { llPartTiming, PlaylistWaiters } from './ll';
import { LlStreamPackager } from './ll-stream';

const CLOCK = 90_000;
const TIMING = llPartTiming(0.2);
const STREAM = 'cam1';
const VIDEO_URI = llMediaPlaylistName(STREAM, 'video');
const AUDIO_URI = llMediaPlaylistName(STREAM, 'audio');
const BOTH: RunTrack[] = [
  { rendition: 'video', kind: 'video', source: 'rtp' },
  { rendition: 'audio', kind: 'audio', source: 'rtp' },
];
const VIDEO_ONLY: RunTrack[] = [BOTH[0]];
/** A real 1280x720 High SPS, for an encoder that changes its picture size. */
const SPS_720 = Buffer.from('67640028acd9405005bb0110000003001000000303c0f1831960', 'hex');
/** The access unit with its SPS replaced. */
const withSps = (data: Buffer, sps: Buffer): Buffer =>
  Buffer.concat(splitAnnexB(data).flatMap((nal) => [Buffer.from([0, 0, 0, 1]), nalType(nal) === NalType.SPS ? sps : nal]));
const AUDIO_ONLY: RunTrack[] = [BOTH[1]];

let fixtures: { dir: string; remove: () => void };
let videoUnits: TsAccessUnit[];
let audioUnits: TsAccessUnit[];

beforeAll(() => {
  fixtures = tempDir('ll-stream');
  const paths = makeTsFixtures(fixtures.dir, ['video', 'audio']);
  videoUnits = demux(readFileSync(paths.video)).units;
  audioUnits = demux(readFileSync(paths.audio)).units;
});

afterAll(() => fixtures.remove());

/** The sample flags of a fragment's trun: which of its samples are sync samples. */
function syncSamples(fragment: Buffer): boolean[] {
  const at = fragment.indexOf('trun', 0, 'latin1');
  const count = fragment.readUInt32BE(at + 8);
  return Array.from({ length: count }, (_, i) => (fragment.readUInt32BE(at + 16 + i * 16 + 8) & 0x02000000) !== 0);
}

/** The base media decode time of a fragment (tfdt v1). */
function decodeTime(fragment: Buffer): number {
  const at = fragment.indexOf('tfdt', 0, 'latin1');
  return Number(fragment.readBigUInt64BE(at + 8));
}

/** The media timescale of an init section (mdhd version 0: version/flags, two dates, then the timescale). */
function timescaleOf(init: Buffer): number {
  return init.readUInt32BE(init.indexOf('mdhd', 0, 'latin1') + 16);
}

/** Where Chromium's buffered range ends after `ticks` on a `timescale` clock: in whole microseconds, truncated. */
const bufferedEnd = (ticks: number, timescale: number): number => Math.floor((ticks * 1_000_000) / timescale + 1e-9) / 1_000_000;

/** Sum of a fragment's sample durations. */
function fragmentDuration(fragment: Buffer): number {
  const at = fragment.indexOf('trun', 0, 'latin1');
  const count = fragment.readUInt32BE(at + 8);
  let total = 0;
  for (let i = 0; i < count; i++) total += fragment.readUInt32BE(at + 16 + i * 16);
  return total;
}

const partNumber = (uri: string): number | undefined => {
  const name = parseLlName(uri);
  return name?.type === 'part' ? name.number : undefined;
};

/**
 * A stand-in for the StreamPackager and the transcoder: drives an LlStreamPackager with real H264
 * and AAC access units (FFmpeg's) on timestamps the test chooses, numbering segments like the
 * SegmentCutter (video cut at keyframes at least 0.8 s apart, audio by the video's cuts).
 */
class Harness {
  readonly ll: LlStreamPackager;
  readonly texts: Record<string, string[]> = { video: [], audio: [] };
  /** For each text: the other renditions that had a playlist then (each must be reported). */
  private readonly others: Record<string, string[][]> = { video: [], audio: [] };
  readonly warnings: string[] = [];
  targetDuration: number | undefined = 1;
  private run = 0;
  private runBase = 0;
  private segment = -1;
  private cuts: number[] = [];
  private frame = 0;
  private mediaTime = 0;
  private tracks: RunTrack[] = [];
  private keyframeFlags = new Map<string, boolean>();
  /** Keyframes from now on carry SPS_720 (the encoder changed its picture size); the first is marked. */
  resized = false;
  private resizeMarked = false;

  constructor(windowSegments = 12, graceSegments = 4) {
    this.ll = new LlStreamPackager(
      STREAM,
      { timing: TIMING, windowSegments, graceSegments },
      () => this.targetDuration,
      // Units arrive as their media time passes, one second of media per second of wall clock.
      { warn: (message) => this.warnings.push(message), now: () => Date.UTC(2026, 0, 1) + Math.round(this.mediaTime * 1000) },
      () => this.classicMaster(),
    );
  }

  /** What the classic master would say: written once every rendition of the run has a segment. */
  classicMaster(): MasterPlaylistInput | undefined {
    if (this.tracks.some((t) => !this.ll.rendition(t.rendition)?.segments.length)) return undefined;
    const sps = parseSps(extractParameterSets(videoUnits[0].data).sps[0]);
    return {
      streamId: STREAM,
      video: this.tracks
        .filter((t) => t.kind === 'video')
        .map((t) => ({ rendition: t.rendition, codec: sps.codec, width: sps.width, height: sps.height, bandwidth: 1_000_000 })),
      audio: this.tracks.some((t) => t.kind === 'audio') ? { codec: 'mp4a.40.2', channels: 2, bandwidth: 140_000 } : undefined,
    };
  }

  startRun(tracks: RunTrack[] = BOTH): void {
    if (this.run > 0) this.runBase += this.segment + 1;
    this.run++;
    this.segment = -1;
    this.cuts = [];
    this.tracks = tracks;
    this.ll.onRunStarted(this.run, tracks);
  }

  endRun(): void {
    this.ll.onRunEnded(this.run);
  }

  /** A video frame at `seconds`; a keyframe starts a segment when ≥ 0.8 s after the last cut. */
  video(seconds: number, keyframe: boolean): void {
    const pts = Math.round(seconds * CLOCK);
    // As FfmpegRun marks it and the cutter cuts there, however soon.
    const formatChange = keyframe && this.resized && !this.resizeMarked;
    if (formatChange) this.resizeMarked = true;
    if (keyframe && (this.cuts.length === 0 || pts - this.cuts[this.cuts.length - 1] >= 0.8 * CLOCK || formatChange)) {
      this.cuts.push(pts);
      this.segment++;
    }
    if (this.segment < 0) this.segment = 0;
    // Real access units: the IDR (with SPS/PPS) for keyframes, P-frames otherwise.
    const source = keyframe ? videoUnits[0] : videoUnits[1 + (this.frame++ % 28)];
    const data = keyframe && this.resized ? withSps(source.data, SPS_720) : source.data;
    this.push('video', 'video', { pts, dts: pts, keyframe, data, segment: this.segment, formatChange });
  }

  /** An AAC frame at `seconds`, in the segment whose cut it follows. */
  audio(seconds: number): void {
    const pts = Math.round(seconds * CLOCK);
    let segment = 0;
    if (!this.tracks.some((t) => t.kind === 'video')) {
      // Audio alone leads: a segment every second of its own timeline.
      if (this.cuts.length === 0) this.cuts.push(pts);
      segment = Math.floor((pts - this.cuts[0]) / CLOCK + 1e-6);
    } else {
      this.cuts.forEach((cut, i) => {
        if (pts >= cut) segment = i;
      });
    }
    this.push('audio', 'audio', { pts, dts: pts, keyframe: true, data: audioUnits[this.frame % audioUnits.length].data, segment });
  }

  /** Video at `fps` (timestamps from `times` when given), a keyframe every `gop` seconds, audio along. */
  play(from: number, seconds: number, options: { fps?: number; times?: number[]; gop?: number; audio?: boolean } = {}): number {
    const { fps = 30, gop = 1, audio = true } = options;
    const times = options.times ?? Array.from({ length: Math.round(seconds * fps) }, (_, i) => from + i / fps);
    const audioFrame = 1024 / 48000;
    let nextAudio = Math.ceil(from / audioFrame - 1e-9) * audioFrame;
    let lastKey = -Infinity;
    for (const t of times) {
      while (audio && nextAudio <= t) {
        this.audio(nextAudio);
        nextAudio += audioFrame;
      }
      const keyframe = t - lastKey >= gop - 1e-6;
      if (keyframe) lastKey = t;
      this.video(t, keyframe);
    }
    return times[times.length - 1] + (times.length > 1 ? times[times.length - 1] - times[times.length - 2] : 1 / fps);
  }

  push(rendition: string, kind: MediaKind, unit: Omit<MediaUnit, 'packets' | 'programHeaders'>): void {
    this.mediaTime = Math.max(this.mediaTime, unit.pts / CLOCK);
    this.ll.onUnit(rendition, kind, { ...unit, packets: Buffer.alloc(0), programHeaders: Buffer.alloc(0) }, this.runBase + unit.segment);
    for (const name of ['video', 'audio']) {
      const text = this.ll.playlist(name);
      const texts = this.texts[name];
      if (text !== undefined && texts[texts.length - 1] !== text) {
        texts.push(text);
        const others = ['video', 'audio'].filter((other) => other !== name && this.tracks.some((t) => t.rendition === other));
        const current = others.filter((other) => this.ll.playlist(other) !== undefined && this.ll.rendition(other)!.lastRun === this.run);
        this.others[name].push(current.map((o) => llMediaPlaylistName(STREAM, o)));
      }
    }
  }

  /** Whether the part at `uri` holds a sync sample, read from its fragment. */
  keyframePart = (uri: string): boolean | undefined => {
    const name = parseLlName(uri);
    if (name?.type !== 'part') return undefined;
    const data = this.ll.rendition(name.rendition)?.part(name.number);
    if (!data) return this.keyframeFlags.get(uri);
    const flag = syncSamples(data).some(Boolean);
    this.keyframeFlags.set(uri, flag);
    return flag;
  };

  /** Every playlist seen, checked alone and against the one before it; returns the violations. */
  violations(name: string, options: LlCheckOptions & { reports?: boolean } = {}): string {
    const texts = this.texts[name];
    const self = llMediaPlaylistName(STREAM, name);
    const problems: string[] = [];
    texts.forEach((text, i) => {
      const expectedRenditionReports = options.reports ? this.others[name][i] : undefined;
      const checked = checkLlMediaPlaylist(text, {
        keyframeParts: this.keyframePart,
        partIndexOf: partNumber,
        selfUri: self,
        expectedRenditionReports,
        ...options,
      });
      if (checked.length) problems.push(`playlist ${i}:\n${formatViolations(checked)}\n${text}`);
      if (i > 0) {
        const compared = compareLlReloads(texts[i - 1], text);
        if (compared.length) problems.push(`reload ${i}:\n${formatViolations(compared)}\n${texts[i - 1]}\n---\n${text}`);
      }
    });
    return problems.join('\n\n');
  }
}

describe('LlStreamPackager: parts', () => {
  it('derives PART-TARGET from the nominal duration: 0.2 s parts sit in the middle of [0.85, 1] × PART-TARGET', () => {
    expect(TIMING).toEqual({ nominal: 0.2, partTarget: 0.216, minPart: expect.closeTo(0.1836, 6) });
    expect(llPartTiming(0.5).partTarget).toBe(0.541);
    expect(() => llPartTiming(0)).toThrow(RangeError);
  });

  it.each([
    [30, 6],
    [25, 5],
    [20, 4],
    [15, 3],
  ])('cuts parts on media time: at %i fps a part is %i frames (0.2 s), the first of each segment independent', (fps, frames) => {
    const h = new Harness();
    h.startRun(VIDEO_ONLY);
    h.play(10, 4, { fps, audio: false });
    const video = h.ll.rendition('video')!;
    const parts = video.segments.flatMap((s) => s.parts);
    expect(video.segments.length).toBe(3);
    for (const segment of video.segments) {
      expect(segment.parts.map((p) => p.duration)).toEqual(Array(5).fill(expect.closeTo(0.2, 9)));
      expect(segment.parts.map((p) => p.independent)).toEqual([true, false, false, false, false]);
      expect(segment.duration).toBeCloseTo(1, 9);
    }
    expect(parts.map((p) => syncSamples(p.data).length)).toEqual(Array(parts.length).fill(frames));
    expect(h.violations('video')).toBe('');
    expect(h.warnings).toEqual([]);
  });

  it('keeps every part within [0.85, 1] × PART-TARGET whatever the frame timing (jitter, 15–60 fps, dropped frames, freezes)', () => {
    const random = seededRandom(7);
    const h = new Harness();
    h.startRun(BOTH);
    const times: number[] = [];
    let t = 100;
    while (t < 160) {
      times.push(t);
      const fps = [15, 20, 24, 25, 30, 60][Math.floor(random() * 6)];
      const roll = random();
      // Mostly jitter of a few ms; sometimes one or two dropped frames; rarely a 0.4 s freeze.
      t += roll < 0.9 ? 1 / fps + (random() - 0.5) * 0.012 : roll < 0.99 ? (1 + Math.ceil(random() * 2)) / fps : 0.4;
    }
    h.play(100, 60, { times });
    const video = h.ll.rendition('video')!;
    const all = [...video.segments.flatMap((s) => s.parts), ...(video.inProgress?.parts ?? [])];
    for (const segment of video.segments) {
      segment.parts.forEach((part, i) => {
        expect(part.duration).toBeLessThanOrEqual(TIMING.partTarget + 1e-9);
        if (!part.independent && i < segment.parts.length - 1) expect(part.duration).toBeGreaterThanOrEqual(TIMING.minPart - 1e-9);
      });
      const sum = segment.parts.reduce((total, p) => total + p.duration, 0);
      expect(segment.duration).toBeCloseTo(sum, 9);
    }
    // The media says the same: each part's fragment lasts what the playlist says and starts where the
    // previous one ended (a sample after a gap is decoded from the part's end on, presented at its own time).
    const scale = timescaleOf(video.init(0)!);
    all.forEach((part, i) => {
      expect(fragmentDuration(part.data) / scale).toBeCloseTo(part.duration, 9);
      if (i > 0) expect(decodeTime(part.data)).toBe(decodeTime(all[i - 1].data) + fragmentDuration(all[i - 1].data));
    });
    // So the parts add up to the media's time: from the first frame to the start of the part in progress.
    const total = video.segments.reduce((sum, s) => sum + s.duration, 0);
    const firstFrame = decodeTime(all[0].data);
    const lastComplete = video.segments[video.segments.length - 1].parts.at(-1)!.data;
    const inProgressStart = video.inProgress?.parts[0]
      ? decodeTime(video.inProgress.parts[0].data)
      : decodeTime(lastComplete) + fragmentDuration(lastComplete);
    expect(total).toBeCloseTo((inProgressStart - firstFrame) / scale, 6);
    expect(h.violations('video', { reports: true })).toBe('');
    expect(h.violations('audio', { reports: true })).toBe('');
    expect(h.warnings.some((w) => /gap of \d+ ms/.test(w))).toBe(true);
  });

  it('a keyframe starts a part; one that comes early in a part makes that part independent (it holds one)', () => {
    const h = new Harness();
    h.startRun(VIDEO_ONLY);
    // 30 fps with an extra keyframe at 0.4 s (a part boundary) and one at 0.667 s (inside a part); segments cut every second.
    for (let i = 0; i < 75; i++) h.video(10 + i / 30, i % 30 === 0 || i === 12 || i === 20);
    const parts = h.ll.rendition('video')!.segments[0].parts;
    expect(parts.map((p) => [syncSamples(p.data).indexOf(true), p.independent])).toEqual([
      [0, true],
      [-1, false],
      [0, true], // starts with the keyframe at 0.4 s
      [2, true], // holds the one at 0.667 s, two frames in: not cut there, the part before would be short
      [-1, false],
    ]);
    expect(h.violations('video')).toBe('');
  });

  it('names parts by one counter: the preload hint is the next part, across segment boundaries too', () => {
    const h = new Harness();
    h.startRun(BOTH);
    h.play(0, 5);
    const video = parseLlMediaPlaylist(h.ll.playlist('video')!);
    const hint = video.preloadHints.find((p) => p.type === 'PART')!;
    expect(partNumber(hint.uri)).toBe(h.ll.rendition('video')!.nextPartNumber);
    // Every reload after every unit: the hinted part is the one that appears next (compareLlReloads), numbers consecutive.
    expect(h.texts.video.length).toBeGreaterThan(40);
    expect(h.violations('video')).toBe('');
    expect(h.violations('audio')).toBe('');
    // Some of those reloads ended a segment with its last part: the hint there named part 0 of the next segment.
    const boundaries = h.texts.video.filter((text) => {
      const parsed = parseLlMediaPlaylist(text);
      return !parsed.pending?.parts.length && parsed.segments.length > 0;
    });
    expect(boundaries.length).toBeGreaterThan(0);
  });

  it('fills holes in the audio with silence, so its parts stay 9 frames long and its timeline has no gap', () => {
    const h = new Harness();
    h.startRun(AUDIO_ONLY);
    const frame = 1024 / 48000;
    for (let i = 0; i < 200; i++) {
      if (i >= 50 && i < 56) continue; // 128 ms without audio, as the encoder produces when packets stop
      h.audio(20 + i * frame);
    }
    h.endRun();
    const segments = h.ll.rendition('audio')!.segments;
    for (const segment of segments) {
      // Segments are cut every second (by the audio's own timeline here); parts are 9 frames but a segment's last.
      expect(segment.parts.slice(0, -1).map((p) => p.duration)).toEqual(Array(segment.parts.length - 1).fill(expect.closeTo(0.192, 9)));
    }
    const parts = segments.flatMap((s) => s.parts);
    parts.forEach((part, i) => {
      if (i > 0) expect(decodeTime(part.data)).toBe(decodeTime(parts[i - 1].data) + fragmentDuration(parts[i - 1].data));
    });
    expect(parts.reduce((n, p) => n + syncSamples(p.data).length, 0)).toBe(200);
    expect(h.violations('audio')).toBe('');
  });
});

describe('LlStreamPackager: segments, runs and memory', () => {
  it('an FFmpeg restart continues the playlist with a discontinuity and a new map; a request blocked before it is answered by the new run', async () => {
    const h = new Harness();
    h.startRun(BOTH);
    const end = h.play(50, 3.1);
    h.endRun(); // FFmpeg killed: the segment in progress completes with the parts it has
    const before = h.ll.rendition('video')!.position();
    expect(before.lastCompleteMsn).toBe(before.lastPart!.msn);
    const waiters = h.ll.waitersFor('video')!;
    expect(waiters).toBeInstanceOf(PlaylistWaiters);
    // What a player asks for next: the part after the last one, which the next run will bring.
    const next = { msn: before.lastPart!.msn, part: before.lastPart!.index + 1 };
    let answered = false;
    const blocked = waiters.wait(next).then(() => (answered = true));
    await Promise.resolve();
    expect(answered).toBe(false);
    expect(parseLlMediaPlaylist(h.ll.playlist('video')!).pending).toBeUndefined();
    h.startRun(BOTH);
    h.play(end + 0.1, 3);
    await blocked;
    const text = h.ll.playlist('video')!;
    const parsed = parseLlMediaPlaylist(text);
    const restarted = parsed.segments.find((s) => s.discontinuity)!;
    expect(restarted).toBeDefined();
    expect(restarted.mapLine).toBeDefined();
    expect(restarted.mapUri).not.toBe(parsed.segments[0].mapUri);
    expect(restarted.programDateTime).toBeDefined();
    expect(restarted.msn).toBe(next.msn + 1);
    expect(h.violations('video', { reports: true })).toBe('');
    expect(h.violations('audio', { reports: true })).toBe('');
    expect(checkLlRenditionSet({ [VIDEO_URI]: text, [AUDIO_URI]: h.ll.playlist('audio')! })).toEqual([]);
  });

  it('a picture size change within a run: the video has a new map and a discontinuity there, the audio a discontinuity at the same msn', () => {
    const h = new Harness();
    h.startRun(BOTH);
    const end = h.play(50, 2.5); // keyframes at 50, 51, 52
    h.resized = true;
    h.play(end, 3); // a keyframe at 52.5: a segment starts there, 0.5 s after the last
    const video = parseLlMediaPlaylist(h.ll.playlist('video')!);
    const audio = parseLlMediaPlaylist(h.ll.playlist('audio')!);
    const changed = video.segments.find((s) => s.discontinuity)!;
    expect(changed).toBeDefined();
    expect(video.segments.filter((s) => s.discontinuity)).toHaveLength(1);
    const before = video.segments[video.segments.indexOf(changed) - 1];
    expect(before.duration).toBeCloseTo(0.5, 2);
    expect(changed.mapUri).not.toBe(before.mapUri);
    const initOf = (uri: string) => h.ll.rendition('video')!.init((parseLlName(uri) as { number: number }).number)!;
    expect(initOf(changed.mapUri!).includes(SPS_720)).toBe(true);
    expect(initOf(before.mapUri!).includes(SPS_720)).toBe(false);
    expect(audio.segments.filter((s) => s.discontinuity).map((s) => s.msn)).toEqual([changed.msn]);
    expect(h.violations('video', { reports: true })).toBe('');
    expect(h.violations('audio', { reports: true })).toBe('');
    expect(checkLlRenditionSet({ [VIDEO_URI]: h.ll.playlist('video')!, [AUDIO_URI]: h.ll.playlist('audio')! })).toEqual([]);
  });

  it.each([
    ['off the millisecond grid, as WebRTC timestamps are', 0.0137],
    ['on it (dates are whole milliseconds, and the audio of segment 19 starts on one)', 0],
  ])(
    'places every part, as a player adds up the playlist, where its media ends in the buffer; audio never after it (hls.js waited for audio it had): media starting %s',
    (_, from) => {
      const h = new Harness();
      h.startRun(BOTH);
      h.play(from, 21);
      const listed = (name: string) => {
        const rendition = h.ll.rendition(name)!;
        const playlist = parseLlMediaPlaylist(h.ll.playlist(name)!);
        const scale = timescaleOf(rendition.init(0)!);
        const fragment = (uri: string) => rendition.part(partNumber(uri)!)!;
        /** Where a part's media starts (s), and where the buffer ends once it is appended (as Chromium keeps it). */
        const start = (uri: string) => decodeTime(fragment(uri)) / scale;
        const buffered = (uri: string) => bufferedEnd(decodeTime(fragment(uri)) + fragmentDuration(fragment(uri)), scale);
        /** A listed segment's first sample (older segments are listed without their parts). */
        const stored = (uri: string) => rendition.segments.find((s) => s.uri === uri)!;
        const segmentStart = (uri: string) => decodeTime(stored(uri).parts[0].data) / scale;
        /** The date a segment has (written for the first and after a discontinuity; hls.js aligns by any). */
        const dateOf = (uri: string) => stored(uri).programDateTime;
        const segments = playlist.segments.filter((s) => s.parts.length > 0);
        return {
          date: playlist.segments[0].programDateTime!.ms,
          first: playlist.segments[0].uri,
          parts: listedParts(playlist),
          segments,
          start,
          segmentStart,
          dateOf,
          buffered,
        };
      };
      const video = listed('video');
      const audio = listed('audio');
      expect(video.segments.length).toBeGreaterThan(1);
      expect(audio.segments.length).toBeGreaterThan(1);
      // hls.js places a segment at its first sample's time once it has parsed it, and its parts by adding
      // up their durations: each part then ends where the buffer does, to the microsecond (a part that
      // ends later, by any amount, looks like one it must still load).
      for (const track of [video, audio]) {
        for (const segment of track.segments) {
          let end = track.start(segment.parts[0].uri);
          for (const part of segment.parts) {
            end += part.duration;
            expect(Math.abs(end - track.buffered(part.uri))).toBeLessThan(1e-9);
          }
        }
      }
      // Before that, it places the video's first listed segment at its first frame, and audio by the date
      // of one of its segments against the video's.
      const videoZero = video.segmentStart(video.first);
      for (const { part, end } of video.parts) expect(Math.abs(videoZero + end - video.buffered(part.uri))).toBeLessThan(1e-9);
      for (const segment of audio.segments) {
        let declared = videoZero + (audio.dateOf(segment.uri) - video.date) / 1000; // as the player sums it
        for (const part of segment.parts) {
          declared += part.duration;
          const buffered = audio.buffered(part.uri);
          expect(buffered - declared).toBeGreaterThan(5e-6); // short of it, by more than any float sum's error
          expect(buffered - declared).toBeLessThan(0.0025);
        }
      }
    },
  );

  it('keeps a bounded window in memory: old parts and segments go, a delta update skips what lies beyond CAN-SKIP-UNTIL', () => {
    const h = new Harness(12, 4);
    h.startRun(BOTH);
    h.play(0, 60);
    const video = h.ll.rendition('video')!;
    expect(video.segments.length).toBe(12);
    const after60 = h.ll.memoryBytes;
    h.play(60, 120);
    expect(video.segments.length).toBe(12);
    expect(h.ll.memoryBytes).toBeLessThan(after60 * 1.2);
    expect(video.part(0)).toBeUndefined();
    expect(video.segment(0)).toBeUndefined();
    expect(video.segment(video.segments[0].msn - 4)).toBeDefined(); // grace: still served for a while
    expect(video.part(video.nextPartNumber - 1)).toBeDefined();
    const delta = parseLlMediaPlaylist(h.ll.playlist('video', 'YES')!);
    expect(delta.skip?.skippedSegments).toBeGreaterThanOrEqual(5);
    expect(checkLlMediaPlaylist(delta, { request: { skip: 'YES' }, partIndexOf: partNumber })).toEqual([]);
    expect(compareLlReloads(h.ll.playlist('video')!, delta)).toEqual([]);
  });

  it('serves nothing before the first part and before TARGETDURATION is fixed; the master once the classic one is written, naming the LL playlists', () => {
    const h = new Harness();
    h.targetDuration = undefined;
    h.startRun(BOTH);
    expect(h.ll.playlist('video')).toBeUndefined();
    h.play(0, 0.5);
    expect(h.ll.playlist('video')).toBeUndefined(); // parts exist, the target duration does not yet
    h.targetDuration = 1;
    expect(h.ll.playlist('video')).toContain('#EXT-X-PART:');
    expect(h.ll.master()).toBeUndefined();
    h.play(0.5, 1.1); // the keyframe at 1.5 s cuts segment 1: segment 0 is complete
    const master = h.ll.master()!;
    expect(checkMasterPlaylist(master)).toEqual([]);
    expect(master).toContain(`URI="${AUDIO_URI}"`);
    expect(master).toMatch(/CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"/);
    expect(master.trim().split('\n').pop()).toBe(VIDEO_URI);
  });

  it('a rendition missing from a run restarts its playlist at the next msn it has (msns in a playlist stay consecutive)', () => {
    const h = new Harness();
    h.startRun(BOTH);
    let end = h.play(0, 3.05);
    h.endRun();
    h.startRun(VIDEO_ONLY);
    end = h.play(end + 0.1, 3.05, { audio: false });
    h.endRun();
    h.startRun(BOTH);
    h.play(end + 0.1, 3);
    const audio = parseLlMediaPlaylist(h.ll.playlist('audio')!);
    expect(audio.discontinuitySequence).toBe(2);
    expect(audio.mediaSequence).toBeGreaterThan(5);
    // While audio was out of the run its playlist stood still, so its report of the video fell behind.
    expect(h.violations('audio', { renditionSkewSegments: 10 })).toBe('');
    expect(h.violations('video')).toBe('');
    expect(h.warnings.some((w) => /playlist restarts/.test(w))).toBe(true);
  });

  it('the end completes every playlist with ENDLIST and answers blocked requests; close fails them', async () => {
    const h = new Harness();
    h.startRun(BOTH);
    h.play(0, 2.5);
    const position = h.ll.rendition('audio')!.position();
    const answered = h.ll.waitersFor('audio')!.wait({ msn: position.lastCompleteMsn + 2 });
    h.ll.end();
    await answered;
    const text = h.ll.playlist('audio')!;
    expect(text).toContain('#EXT-X-ENDLIST');
    expect(text).not.toContain('PRELOAD-HINT');
    expect(checkLlMediaPlaylist(text)).toEqual([]);
    const h2 = new Harness();
    h2.startRun(BOTH);
    h2.play(0, 2.5);
    const p2 = h2.ll.rendition('video')!.position();
    const failed = h2.ll.waitersFor('video')!.wait({ msn: p2.lastCompleteMsn + 1 });
    h2.ll.close('gone');
    await expect(failed).rejects.toMatchObject({ status: 404 });
    expect(h2.ll.rendition('video')).toBeUndefined();
  });
});

describe('LlStreamPackager: what players read', () => {
  it('FFmpeg reads the LL playlist as ordinary HLS: init + fMP4 segments decode without an error, A/V on one timeline', () => {
    const h = new Harness();
    h.startRun(BOTH);
    // Real frames in their real order, so they decode: the fixture's 60 frames at 30 fps.
    const audioFrame = 1024 / 48000;
    let nextAudio = 0;
    let segment = -1;
    videoUnits.forEach((unit, i) => {
      const t = 5 + i / 30;
      while (nextAudio <= i / 30) {
        h.push('audio', 'audio', {
          pts: Math.round((5 + nextAudio) * CLOCK),
          dts: Math.round((5 + nextAudio) * CLOCK),
          keyframe: true,
          data: audioUnits[Math.round(nextAudio / audioFrame) % audioUnits.length].data,
          segment: Math.max(segment, 0),
        });
        nextAudio += audioFrame;
      }
      if (unit.keyframe) segment++;
      h.push('video', 'video', {
        pts: Math.round(t * CLOCK),
        dts: Math.round(t * CLOCK),
        keyframe: unit.keyframe,
        data: unit.data,
        segment,
      });
    });
    h.ll.end();
    const dir = fixtures.dir;
    for (const name of ['video', 'audio']) {
      const text = h.ll.playlist(name)!;
      const rendition = h.ll.rendition(name)!;
      for (const line of text.split('\n')) {
        const uri = /URI="([^"]+)"/.exec(line)?.[1] ?? (line && !line.startsWith('#') ? line : undefined);
        const parsed = uri && parseLlName(uri);
        if (!parsed || parsed.type === 'master' || parsed.type === 'playlist') continue;
        const data =
          parsed.type === 'init'
            ? rendition.init(parsed.number)
            : parsed.type === 'part'
              ? rendition.part(parsed.number)
              : rendition.segment(parsed.number);
        writeFileSync(join(dir, uri), data!);
      }
      writeFileSync(join(dir, llMediaPlaylistName(STREAM, name)), text);
    }
    writeFileSync(join(dir, `${STREAM}.ll.m3u8`), h.ll.master()!);
    const master = join(dir, `${STREAM}.ll.m3u8`);
    expect(decodeErrors(master)).toBe('');
    const probe = JSON.parse(
      execFileSync('ffprobe', ['-v', 'error', '-of', 'json', '-show_entries', 'stream=codec_name,start_time', master], {
        encoding: 'utf8',
      }),
    );
    const codecs = probe.streams.map((s: { codec_name: string }) => s.codec_name).sort();
    expect(codecs).toEqual(['aac', 'h264']);
    const starts = probe.streams.map((s: { start_time: string }) => Number(s.start_time));
    expect(Math.abs(starts[0] - starts[1])).toBeLessThan(0.05);
  });
});

/**
 * The classic and LL layouts of one stream, packaged by a real StreamPackager (`continueFrom`: where an
 * earlier packaging of the stream left off) from two FFmpeg runs cut by the real SegmentCutter.
 */
async function packageTwoRuns(
  continueFrom?: Continuity,
): Promise<{ classic: Record<string, string>; ll: LlStreamPackager; classicMaster: string }> {
  const { dir, remove } = tempDir('ll-classic');
  try {
    const ll = new LlStreamPackager(
      STREAM,
      { timing: TIMING, windowSegments: 12, graceSegments: 4, firstDiscontinuitySequence: continueFrom ? continueFrom.cc + 1 : 0 },
      () => packager.fixedTargetDuration,
      { warn: () => undefined },
      () => packager.master,
    );
    const packager: StreamPackager = new StreamPackager(
      STREAM,
      { segmentSeconds: 1, listSize: 20, continueFrom },
      new SegmentStore(dir),
      { live: () => undefined, segmentWritten: () => undefined, writeFailed: () => undefined },
      ll,
    );
    // Two runs, units cut by the real SegmentCutter, as FfmpegRun hands them on.
    const run = (number: number, start: number) => {
      packager.onRunStarted(number, BOTH);
      const cutter = new SegmentCutter<Omit<MediaUnit, 'segment'>>(
        BOTH.map((t) => ({ name: t.rendition, kind: t.kind })),
        { targetSeconds: 1 },
        (rendition, unit, segment) => packager.onUnit(number, rendition, { ...unit, segment }),
      );
      let a = 0;
      for (let f = 0; f < 4 * 30; f++) {
        const t = start + f / 30;
        while (start + a * (1024 / 48000) <= t) {
          const pts = Math.round((start + a * (1024 / 48000)) * CLOCK);
          const data = audioUnits[a++ % audioUnits.length];
          cutter.push('audio', {
            pts,
            dts: pts,
            keyframe: true,
            data: data.data,
            packets: data.packets,
            programHeaders: Buffer.alloc(376, 0x47),
          });
        }
        const source = videoUnits[f % 60];
        const pts = Math.round(t * CLOCK);
        cutter.push('video', {
          pts,
          dts: pts,
          keyframe: source.keyframe,
          data: source.data,
          packets: source.packets,
          programHeaders: Buffer.alloc(376, 0x47),
        });
      }
      cutter.end();
      packager.onRunEnded(number);
    };
    run(1, 10);
    run(2, 14.2);
    await packager.end();
    const classic: Record<string, string> = {};
    for (const name of ['video', 'audio']) classic[name] = readFileSync(join(dir, `${STREAM}-${name}.m3u8`), 'utf8');
    return { classic, ll, classicMaster: readFileSync(join(dir, `${STREAM}.m3u8`), 'utf8') };
  } finally {
    remove();
  }
}

describe('LL and classic layouts of one stream', () => {
  it('share one timeline: LL segment n is classic segment n (same msn, same duration), across an FFmpeg restart', async () => {
    const { classic: classicTexts, ll, classicMaster } = await packageTwoRuns();
    for (const name of ['video', 'audio']) {
      const classic = parseMediaPlaylist(classicTexts[name]);
      const low = parseLlMediaPlaylist(ll.playlist(name)!);
      const classicByMsn = classic.segments.map((s, i) => ({
        msn: classic.mediaSequence + i,
        duration: s.duration,
        discontinuity: s.discontinuity,
      }));
      const llByMsn = low.segments.map((s) => ({ msn: s.msn, duration: s.duration, discontinuity: s.discontinuity }));
      expect(llByMsn.map((s) => s.msn)).toEqual(classicByMsn.map((s) => s.msn));
      expect(llByMsn.map((s) => s.discontinuity)).toEqual(classicByMsn.map((s) => s.discontinuity));
      llByMsn.forEach((s, i) => expect(Math.abs(s.duration - classicByMsn[i].duration)).toBeLessThan(0.0015));
    }
    // The LL master says what the classic one says, naming the LL playlists.
    expect(ll.master()).toBe(classicMaster.replace(`${STREAM}-video.m3u8`, VIDEO_URI).replace(`${STREAM}-audio.m3u8`, AUDIO_URI));
  });

  it('continued from an earlier packaging (another node): LL goes on from the same media and discontinuity sequence as classic', async () => {
    const continueFrom: Continuity = { nextNumber: 41, cc: 3, nextPts: 9 * CLOCK, targetDuration: 1 };
    const { classic, ll } = await packageTwoRuns(continueFrom);
    for (const name of ['video', 'audio']) {
      const position = (text: string) => parseLlMediaPlaylist(text).segments.map((s) => ({ msn: s.msn, dsn: s.dsn }));
      const low = position(ll.playlist(name)!);
      expect(low).toEqual(position(classic[name]));
      expect(low[0]).toEqual({ msn: 41, dsn: 4 }); // one discontinuity past where the earlier packaging stopped
      expect(low.at(-1)!.dsn).toBe(5); // and one more at the FFmpeg restart
    }
  });
});
