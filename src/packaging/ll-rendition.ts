import { AAC_FRAME_SAMPLES, audioSpecificConfig, parseAdts } from '../media/aac';
import { silentAacFrame } from '../media/aac-silence';
import { Fmp4Sample, Fmp4Track, initSegment, mediaFragment } from '../media/fmp4';
import { annexBToAvcc, extractParameterSets, parseSps } from '../media/h264';
import type { MediaKind, MediaUnit } from '../transcode/media-unit';
import { llInitName, llPartName, llSegmentName } from './hls-names';
import { LlLivePosition, LlPart, LlPartTiming, LlPlaylistState, LlRenditionReport, LlSegment, LlSegmentInProgress } from './ll';

const CLOCK = 90_000;

/**
 * Fragments count time in microseconds, both tracks. Chromium keeps buffered ranges in whole
 * microseconds and the playlist lists durations to the microsecond, so a part ends, as a player adds
 * the playlist up, where its media ends in the buffer. On 48 kHz or 90 kHz ticks the two differ by a
 * fraction of a microsecond, and hls.js, its audio buffer ending short of the part it had loaded,
 * took the next load for loop loading and loaded no audio until playback stalled (seen in the bench).
 */
const TIMESCALE = 1_000_000;

/** `value` ticks of a `from` Hz clock on a `to` Hz clock, rounded; exact at any size (no 2^53 overflow). */
function rescale(value: number, from: number, to: number): number {
  const whole = Math.floor(value / from);
  return whole * to + Math.round(((value - whole * from) * to) / from);
}

/** A published part: its place in the rendition's part counter and its bytes (moof + mdat). */
export interface LlStoredPart extends LlPart {
  number: number;
  data: Buffer;
}

/** A complete segment: the concatenation of its parts (they are views into `data`). */
export interface LlStoredSegment extends LlSegment {
  msn: number;
  parts: LlStoredPart[];
  data: Buffer;
}

interface InProgress extends LlSegmentInProgress {
  msn: number;
  parts: LlStoredPart[];
}

/** A sample in microseconds (TIMESCALE), its duration not known until the next one arrives. */
interface Sample {
  dts: number;
  pts: number;
  keyframe: boolean;
  data: Buffer;
}

interface OpenPart {
  start: number;
  samples: Sample[];
  independent: boolean;
}

/** The init section in force and what the master needs to know of it. */
interface Track {
  number: number;
  uri: string;
  run: number;
  minTicks: number;
  maxTicks: number;
  /** Video: the SPS it was made from (a keyframe starting a segment with another one gets a new init). */
  sps?: Buffer;
  pps?: Buffer[];
  /** Audio: the frame clock (its sample rate; an AAC frame is 1024 ticks of it). */
  sampleRate?: number;
  /** Audio: a silent frame of its configuration, to fill holes (none for layouts without one). */
  silence?: Buffer;
  /** Discontinuity sequence of the segments it serves (set by the first of them). */
  dsn?: number;
}

/** What the stream tells a rendition about the run its units belong to. */
export interface LlRunContext {
  run: number;
  /**
   * Discontinuity Sequence Number of the run's segment `msn` (the stream's, the same in every
   * rendition): the run's, plus one for each picture size change in the run up to `msn`.
   */
  dsnAt(msn: number): number;
  /** Wall-clock ms of a 90 kHz timestamp of this run (EXT-X-PROGRAM-DATE-TIME), for a rendition of `kind`. */
  dateOf(pts90: number, kind: MediaKind): number;
  /** The msn whose time covers `pts90` by the leader's cuts, at least `from` (to place filled audio). */
  msnAt(pts90: number, from: number): number;
}

export interface LlRenditionOptions {
  streamId: string;
  name: string;
  kind: MediaKind;
  /** Names this packaging of the stream in part and segment URLs (see hls-names.ts). */
  epoch: string;
  timing: LlPartTiming;
  /**
   * The playlist lists at least this many segments, and at least this many target durations of them
   * (a delta update skips what lies beyond CAN-SKIP-UNTIL, six target durations; segments may be
   * shorter than the target), never more than four times this many segments.
   */
  windowSegments: number;
  /** The stream's TARGETDURATION (undefined until its first segment). */
  targetDuration: () => number | undefined;
  /** Segments kept (still served) after they left the playlist, for clients holding an older one. */
  graceSegments: number;
}

export interface LlRenditionEvents {
  /** Something a playlist shows changed: a segment started, a part or a segment completed, the end. */
  changed(rendition: LlRendition, what: 'segment-started' | 'part' | 'segment' | 'ended'): void;
  /** Samples were dropped or timing repaired; said once per kind of problem and run. */
  warn(message: string): void;
}

/**
 * One rendition of the Low-Latency layout: CMAF fMP4 built in memory from the run's access units.
 * An init section per run (and when the SPS changes at a segment start), parts cut on media time inside
 * the classic segments (same msn, same boundaries), named by one part counter so the preload hint is
 * right across segment boundaries and runs. Keeps a window of `windowSegments` segments (or target durations) in the playlist and
 * `graceSegments` more in memory; parts are views into their segment once it is complete.
 */
export class LlRendition {
  /** Complete segments listed in the playlist, oldest first; msns consecutive. */
  readonly segments: LlStoredSegment[] = [];
  inProgress?: InProgress;
  ended = false;
  /** Every segment so far starts with an independent frame (EXT-X-INDEPENDENT-SEGMENTS). */
  independentSegments = true;
  private readonly retired: LlStoredSegment[] = [];
  private readonly parts = new Map<number, LlStoredPart>();
  private readonly inits = new Map<number, Buffer>();
  private track?: Track;
  private open?: OpenPart;
  private nextPart = 0;
  private nextInit = 0;
  private partRun?: number;
  private lastMsn?: number;
  /** The last gap between two samples (µs): the duration given to a run's last sample. */
  private sampleTicks = 0;
  /** Audio: when the next frame is due (ticks of the frame clock), to snap jitter and fill holes. */
  private audioNext?: number;
  private warned = new Set<string>();

  constructor(
    readonly options: LlRenditionOptions,
    private readonly events: LlRenditionEvents,
  ) {}

  get name(): string {
    return this.options.name;
  }

  get kind(): MediaKind {
    return this.options.kind;
  }

  /** The run that gave this rendition its last part. */
  get lastRun(): number | undefined {
    return this.partRun;
  }

  /** The number the next part will have (the preload hint's). */
  get nextPartNumber(): number {
    return this.nextPart;
  }

  /** A playlist can be served: at least one part exists. */
  get servable(): boolean {
    return this.segments.length > 0 || (this.inProgress?.parts.length ?? 0) > 0;
  }

  /** Adds a unit of the run in `context` that belongs to segment `msn`. */
  push(unit: MediaUnit, msn: number, context: LlRunContext): void {
    if (this.ended) return;
    if (this.lastMsn !== undefined && msn <= this.lastMsn) {
      this.warnOnce(`late-${context.run}`, `a unit of segment ${msn} came after segment ${this.lastMsn} was complete; dropped`);
      return;
    }
    if (this.kind === 'video') this.pushVideo(unit, msn, context);
    else this.pushAudio(unit, msn, context);
  }

  /** The run ended: its last part and segment are complete (the last sample lasts as long as the one before). */
  flush(): void {
    const open = this.open;
    if (open) this.closePart(open.samples[open.samples.length - 1].dts + Math.max(1, this.sampleTicks), true);
    if (this.inProgress) this.completeSegment();
    this.audioNext = undefined;
  }

  /** No more media: the playlist gets EXT-X-ENDLIST. */
  end(): void {
    if (this.ended) return;
    this.flush();
    this.ended = true;
    this.events.changed(this, 'ended');
  }

  /** The playlist model for the renderer. */
  state(targetDuration: number, renditionReports: readonly LlRenditionReport[]): LlPlaylistState {
    return {
      targetDuration,
      partTarget: this.options.timing.partTarget,
      mediaSequence: this.mediaSequence,
      segments: this.segments,
      inProgress: this.inProgress,
      preloadHintUri: this.ended ? undefined : this.partUri(this.nextPart),
      ended: this.ended,
      independentSegments: this.independentSegments,
      renditionReports,
    };
  }

  /** What blocked requests wait on (the same as llLivePosition of `state()`, without building it). */
  position(): LlLivePosition {
    const mediaSequence = this.mediaSequence;
    const lastCompleteMsn = mediaSequence + this.segments.length - 1;
    const inProgress = this.inProgress;
    let lastPart: LlLivePosition['lastPart'];
    if (inProgress && inProgress.parts.length > 0) lastPart = { msn: inProgress.msn, index: inProgress.parts.length - 1 };
    else {
      const last = this.segments[this.segments.length - 1];
      if (last) lastPart = { msn: last.msn, index: last.parts.length - 1 };
    }
    return { mediaSequence, lastCompleteMsn, lastPart, ended: this.ended };
  }

  init(number: number): Buffer | undefined {
    return this.inits.get(number);
  }

  part(number: number): Buffer | undefined {
    return this.parts.get(number)?.data;
  }

  segment(msn: number): Buffer | undefined {
    const find = (list: LlStoredSegment[]) => {
      const first = list[0];
      return first && msn >= first.msn ? list[msn - first.msn] : undefined;
    };
    // Both lists hold consecutive msns, except across a reset (see startSegment): check the msn found.
    const found = find(this.segments) ?? this.retired.find((s) => s.msn === msn);
    return found?.msn === msn ? found.data : undefined;
  }

  /** Bytes held in memory (parts are views into their segment once it is complete). */
  get memoryBytes(): number {
    let total = 0;
    for (const segment of this.segments) total += segment.data.length;
    for (const segment of this.retired) total += segment.data.length;
    for (const part of this.inProgress?.parts ?? []) total += part.data.length;
    for (const init of this.inits.values()) total += init.length;
    return total;
  }

  private get mediaSequence(): number {
    return this.segments[0]?.msn ?? this.inProgress?.msn ?? (this.lastMsn ?? -1) + 1;
  }

  private pushVideo(unit: MediaUnit, msn: number, context: LlRunContext): void {
    const startsSegment = this.inProgress?.msn !== msn;
    if (unit.keyframe && (startsSegment || !this.track || this.track.run !== context.run)) {
      const { sps, pps } = extractParameterSets(unit.data);
      const current = this.track;
      const same = current && sps[0] && current.sps?.equals(sps[0]) && current.run === context.run;
      if (sps[0] && pps.length > 0 && !same) this.newVideoTrack(context.run, sps[0], pps);
    }
    if (this.track && this.track.run !== context.run) {
      // A run that starts without a keyframe (mediasoup normally forwards one first): the previous
      // run's parameter sets are the best guess; the frames before the first keyframe will not decode.
      this.warnOnce(`no-keyframe-${context.run}`, `run ${context.run} starts without a keyframe; reusing the previous parameter sets`);
      this.newVideoTrack(context.run, this.track.sps!, this.track.pps!);
    }
    const track = this.track;
    if (!track) return; // nothing decodable before the first keyframe with its SPS
    const dts = rescale(unit.dts, CLOCK, TIMESCALE);
    const pts = rescale(unit.pts, CLOCK, TIMESCALE);
    this.addSample({ dts, pts, keyframe: unit.keyframe, data: annexBToAvcc(unit.data, { dropAud: true }) }, msn, unit.pts, context);
  }

  private newVideoTrack(run: number, sps: Buffer, pps: Buffer[]): void {
    let info;
    try {
      info = parseSps(sps);
    } catch (error) {
      this.warnOnce(`sps-${run}`, `unreadable SPS (${(error as Error).message}); keeping the previous init section`);
      return;
    }
    const track: Fmp4Track = { kind: 'video', timescale: TIMESCALE, width: info.width, height: info.height, sps: [sps], pps };
    this.setTrack(run, initSegment(track), { sps, pps });
  }

  private pushAudio(unit: MediaUnit, msn: number, context: LlRunContext): void {
    const { frames } = parseAdts(unit.data);
    if (frames.length === 0) return;
    const first = frames[0];
    // One init per run: FFmpeg's encoder settings do not change within a run.
    if (!this.track || this.track.run !== context.run) {
      const asc = audioSpecificConfig(first);
      const { sampleRate, channels } = first;
      const track: Fmp4Track = { kind: 'audio', timescale: TIMESCALE, sampleRate, channels, audioSpecificConfig: asc };
      this.setTrack(context.run, initSegment(track), { sampleRate, silence: silentAacFrame(first.objectType, channels) });
      this.audioNext = undefined;
    }
    const track = this.track!;
    const rate = track.sampleRate!;
    // Frames are placed on the frame clock, where they follow each other by exactly 1024 ticks, and
    // written in microseconds (21,333 or 21,334 µs at 48 kHz, adding up without drift).
    const frameTicks = AAC_FRAME_SAMPLES;
    const us = (ticks: number) => rescale(ticks, rate, TIMESCALE);
    const at90 = (ticks: number) => rescale(ticks, rate, CLOCK);
    let time = rescale(unit.pts, CLOCK, rate);
    const next = this.audioNext;
    if (next !== undefined) {
      if (time >= next + frameTicks / 2 && track.silence) {
        // A hole in the audio (the encoder got no packets for a while): silence keeps the player's
        // buffer in one piece. Each silent frame goes to the segment its time falls in.
        const holeFrames = Math.round((time - next) / frameTicks);
        for (let i = 0; i < holeFrames; i++) {
          const at = next + i * frameTicks;
          const fillMsn = Math.min(msn, context.msnAt(at90(at), this.inProgress?.msn ?? msn));
          this.addSample({ dts: us(at), pts: us(at), keyframe: true, data: track.silence }, fillMsn, at90(at), context);
        }
        time = next + holeFrames * frameTicks;
      } else if (time < next + frameTicks / 2) {
        time = next; // timestamp jitter (or an overlap): AAC frames follow each other exactly
      }
    }
    frames.forEach((frame, i) => {
      const at = time + i * frameTicks;
      this.addSample({ dts: us(at), pts: us(at), keyframe: true, data: frame.data }, msn, at90(at), context);
    });
    this.audioNext = time + frames.length * frameTicks;
  }

  private setTrack(run: number, init: Buffer, details: Omit<Track, 'number' | 'uri' | 'run' | 'minTicks' | 'maxTicks'>): void {
    const number = this.nextInit++;
    const { timing } = this.options;
    this.inits.set(number, init);
    this.track = {
      number,
      uri: llInitName(this.options.streamId, this.name, this.options.epoch, number),
      run,
      // A part ends at the first sample at or after minTicks, and never after maxTicks (PART-TARGET).
      minTicks: Math.ceil(timing.minPart * TIMESCALE - 1e-6),
      maxTicks: Math.floor(timing.partTarget * TIMESCALE + 1e-6),
      ...details,
    };
  }

  /** Cuts parts and segments around a new sample, then adds it. `pts90` is its 90 kHz time, for dates. */
  private addSample(sample: Sample, msn: number, pts90: number, context: LlRunContext): void {
    const track = this.track!;
    const open = this.open;
    if (open) {
      const last = open.samples[open.samples.length - 1];
      if (sample.dts <= last.dts) sample.dts = last.dts + 1; // decode times must grow
      if (this.inProgress && this.inProgress.msn !== msn) {
        this.startAt(sample, this.closePart(sample.dts));
        this.completeSegment();
      } else if (sample.dts - open.start >= track.minTicks || (sample.keyframe && open.independent && this.kind === 'video')) {
        // Long enough (or a keyframe after an independent part, which may be short): a new part.
        this.startAt(sample, this.closePart(sample.dts));
      } else if (sample.keyframe) {
        open.independent = true; // the part holds an independent frame, though not at its start
      }
    } else if (this.inProgress && this.inProgress.msn !== msn) {
      this.completeSegment();
    }
    if (!this.inProgress) this.startSegment(msn, sample, pts90, context);
    if (!this.open) this.open = { start: sample.dts, samples: [], independent: sample.keyframe };
    this.open.samples.push(sample);
  }

  private startSegment(msn: number, sample: Sample, pts90: number, context: LlRunContext): void {
    if (this.lastMsn !== undefined && msn !== this.lastMsn + 1 && this.segments.length > 0) {
      // This rendition has nothing for the msns in between (it was absent from a run): msns in a
      // playlist are consecutive, so the listed segments go (they stay fetchable for a while) and
      // the playlist goes on from `msn`, as if they had slid out.
      this.warnOnce(`reset-${msn}`, `no media for segments ${this.lastMsn + 1}..${msn - 1}; the playlist restarts at ${msn}`);
      while (this.segments.length > 0) this.retire(this.segments.shift()!);
    }
    if (this.kind === 'video' && !sample.keyframe) this.independentSegments = false;
    const dsn = context.dsnAt(msn);
    const track = this.track!;
    if (track.dsn === undefined) track.dsn = dsn;
    else if (track.dsn !== dsn) {
      // A discontinuity another rendition brought (a picture size change) within the run: the same
      // init under a new number, so every discontinuity is followed by its own EXT-X-MAP.
      const number = this.nextInit++;
      this.inits.set(number, this.inits.get(track.number)!);
      this.track = { ...track, number, uri: llInitName(this.options.streamId, this.name, this.options.epoch, number), dsn };
    }
    this.inProgress = {
      msn,
      parts: [],
      mapUri: this.track!.uri,
      discontinuitySequence: dsn,
      programDateTime: context.dateOf(pts90, this.kind),
    };
    this.events.changed(this, 'segment-started');
  }

  /**
   * The sample after a part that had to end at PART-TARGET (a gap in the media) is decoded from the
   * part's end on and presented at its own time (its composition offset grows by the difference), so
   * the decode timeline has no hole and the parts' durations add up to the media's.
   */
  private startAt(sample: Sample, end: number): void {
    if (end < sample.dts) sample.dts = end;
  }

  /** Completes the open part; returns where it ends (the next sample's decode time, at most PART-TARGET after its start). */
  private closePart(nextDts: number, flushing = false): number {
    const open = this.open!;
    const track = this.track!;
    this.open = undefined;
    const samples = open.samples;
    const last = samples[samples.length - 1];
    let end = Math.min(nextDts, open.start + track.maxTicks);
    if (end <= last.dts) end = last.dts + 1;
    if (nextDts > open.start + track.maxTicks && !flushing) {
      this.warnOnce(
        `long-gap-${track.run}`,
        `a gap of ${((nextDts - last.dts) / 1000).toFixed(0)} ms between samples; the part ends at PART-TARGET`,
      );
    }
    const fmp4: Fmp4Sample[] = samples.map((sample, i) => ({
      duration: (i + 1 < samples.length ? samples[i + 1].dts : end) - sample.dts,
      keyframe: sample.keyframe,
      compositionOffset: sample.pts - sample.dts,
      data: sample.data,
    }));
    if (samples.length > 1) this.sampleTicks = Math.max(1, Math.round((last.dts - samples[0].dts) / (samples.length - 1)));
    const number = this.nextPart++;
    const part: LlStoredPart = {
      uri: this.partUri(number),
      number,
      duration: (end - open.start) / TIMESCALE,
      independent: open.independent,
      data: mediaFragment(number + 1, open.start, fmp4),
    };
    this.parts.set(number, part);
    this.partRun = track.run;
    this.inProgress!.parts.push(part);
    this.events.changed(this, 'part');
    return end;
  }

  private completeSegment(): void {
    const segment = this.inProgress!;
    this.inProgress = undefined;
    if (segment.parts.length === 0) return;
    const data = Buffer.concat(segment.parts.map((p) => p.data));
    let offset = 0;
    let duration = 0;
    for (const part of segment.parts) {
      part.data = data.subarray(offset, offset + part.data.length); // one copy in memory, not two
      offset += part.data.length;
      duration += part.duration;
    }
    const stored: LlStoredSegment = {
      uri: llSegmentName(this.options.streamId, this.name, this.options.epoch, segment.msn),
      msn: segment.msn,
      duration,
      parts: segment.parts,
      mapUri: segment.mapUri,
      discontinuitySequence: segment.discontinuitySequence,
      programDateTime: segment.programDateTime,
      data,
    };
    this.segments.push(stored);
    this.lastMsn = segment.msn;
    this.slideWindow();
    this.events.changed(this, 'segment');
  }

  private slideWindow(): void {
    const { windowSegments } = this.options;
    const seconds = windowSegments * (this.options.targetDuration() ?? 1);
    let total = 0;
    for (const segment of this.segments) total += segment.duration;
    while (this.segments.length > windowSegments) {
      const first = this.segments[0];
      if (this.segments.length <= 4 * windowSegments && total - first.duration < seconds) break;
      total -= first.duration;
      this.retire(this.segments.shift()!);
    }
  }

  /** Takes the segments before `msn` out of the playlist (they stay fetchable as retired ones). */
  dropBefore(msn: number): void {
    let dropped = false;
    while (this.segments.length > 0 && this.segments[0].msn < msn) {
      this.retire(this.segments.shift()!);
      dropped = true;
    }
    if (dropped) this.events.changed(this, 'segment');
  }

  /** Out of the playlist; kept `graceSegments` more, then forgotten with its parts and (unused) init. */
  private retire(segment: LlStoredSegment): void {
    this.retired.push(segment);
    while (this.retired.length > this.options.graceSegments) {
      const old = this.retired.shift()!;
      for (const part of old.parts) this.parts.delete(part.number);
    }
    const inUse = new Set<string>([...this.segments, ...this.retired].map((s) => s.mapUri));
    if (this.inProgress) inUse.add(this.inProgress.mapUri);
    if (this.track) inUse.add(this.track.uri);
    for (const number of this.inits.keys()) {
      if (!inUse.has(llInitName(this.options.streamId, this.name, this.options.epoch, number))) this.inits.delete(number);
    }
  }

  private partUri(number: number): string {
    return llPartName(this.options.streamId, this.name, this.options.epoch, number);
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    if (this.warned.size > 64) this.warned.clear();
    this.events.warn(`${this.name}: ${message}`);
  }
}
