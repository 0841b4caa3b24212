import type { MediaKind } from './media-unit';

/** What the cutter needs of an access unit (TsAccessUnit has more). */
export interface TimedUnit {
  pts: number;
  dts: number;
  keyframe: boolean;
  /** A keyframe in a new coded format (a new picture size): it starts a segment however soon. */
  formatChange?: boolean;
}

export interface CutterRendition {
  name: string;
  kind: MediaKind;
}

export interface CutterOptions {
  /** The configured segment target. */
  targetSeconds: number;
  /**
   * A keyframe at least this share of the target after the segment's start cuts the next segment.
   * Keyframes come when asked, a little early or late; an unasked one (another viewer's PLI) that
   * arrives early would otherwise make a short segment followed by a long one.
   */
  minShare?: number;
  /**
   * A video rendition that has sent nothing for this long (wall clock) and is this far behind the
   * run's newest media time (media clock) no longer holds the others back: a simulcast layer the
   * browser dropped, a camera that stopped. Both must hold: a busy host delivers nothing for a while
   * and then a burst (wall clock alone would cut audio apart from video), and a slow encoder runs
   * seconds behind while it keeps producing (media time alone would).
   */
  maxHoldSeconds?: number;
  /** The media-time half of `maxHoldSeconds` (default: 2 s, or 2 targets if longer). */
  maxLagSeconds?: number;
  /** Wall clock (tests pass their own). */
  now?: () => number;
}

const CLOCK = 90_000;
/** Keyframes of different layers of one captured frame carry the same timestamp; allow a little. */
const ALIGN_TICKS = CLOCK / 60;

interface VideoState {
  index: number;
  progress: number;
  lastAt: number;
  seen: boolean;
}

/**
 * Decides where the segments of one FFmpeg run are cut, the same instants for every rendition, so
 * that segment n of every rendition covers the same time (players align renditions, and switch
 * between them, by media sequence number).
 *
 * Video decides: a keyframe of any video rendition at least `minShare` of the target after the last
 * cut starts the next segment. Simulcast layers are asked for keyframes together, so theirs come from
 * the same captured frame, with the same timestamp: each layer starts its segment at its own keyframe
 * there, and a layer never starts a segment without one. Audio follows: an audio unit is placed once
 * every video rendition that is flowing has passed its time, so a keyframe that arrives later on
 * another pipe still counts. Without flowing video, audio is cut every target on its own timeline.
 */
export class SegmentCutter<U extends TimedUnit> {
  private readonly videos = new Map<string, VideoState>();
  private readonly others = new Map<string, { held: U[]; index: number }>();
  /** Start times (pts) of the run's segments, in order. */
  private readonly cuts: number[] = [];
  private readonly target: number;
  private readonly minShare: number;
  private readonly maxHoldMs: number;
  private readonly maxLagTicks: number;
  private readonly now: () => number;
  /** The run's first and newest decode times (any rendition). */
  private firstDts?: number;
  private latestDts = -Infinity;
  /** When the run's first unit came: video gets the hold time from then to start. */
  private startedAt?: number;
  private ended = false;

  constructor(
    renditions: CutterRendition[],
    options: CutterOptions,
    private readonly emit: (rendition: string, unit: U, segment: number) => void,
    /** Called when a segment starts, with its index and start time (at once, as its keyframe arrives). */
    private readonly onCut: (index: number, pts: number) => void = () => undefined,
    /** A video rendition missed a cut and waits for a keyframe (its frames until then are dropped). */
    private readonly onKeyframeNeeded: (rendition: string) => void = () => undefined,
  ) {
    if (renditions.length === 0) throw new RangeError('a cutter needs at least one rendition');
    this.now = options.now ?? Date.now;
    for (const r of renditions) {
      if (r.kind === 'video') this.videos.set(r.name, { index: -1, progress: -Infinity, lastAt: this.now(), seen: false });
      else this.others.set(r.name, { held: [], index: 0 });
    }
    this.target = options.targetSeconds * CLOCK;
    this.minShare = options.minShare ?? 0.8;
    this.maxHoldMs = (options.maxHoldSeconds ?? 1) * 1000;
    this.maxLagTicks = (options.maxLagSeconds ?? Math.max(2, 2 * options.targetSeconds)) * CLOCK;
  }

  /** Index of the segment in progress (-1 before the first cut). */
  get currentSegment(): number {
    return this.cuts.length - 1;
  }

  /** Start time of the segment in progress, if any. */
  get currentStart(): number | undefined {
    return this.cuts.at(-1);
  }

  push(rendition: string, unit: U): void {
    if (this.ended) return;
    this.startedAt ??= this.now();
    this.firstDts ??= unit.dts;
    this.latestDts = Math.max(this.latestDts, unit.dts);
    const video = this.videos.get(rendition);
    if (video) this.pushVideo(rendition, video, unit);
    else this.pushOther(rendition, unit);
  }

  /** The run is over: everything held goes out in the segment its time says. */
  end(): void {
    if (this.ended) return;
    for (const [name, other] of this.others) this.release(name, other, Infinity);
    this.ended = true;
  }

  private pushVideo(name: string, video: VideoState, unit: U): void {
    // Audio has been cut alone (no video flowing): the first video back cuts at its own keyframe,
    // even soon after audio's last cut, or that segment would stretch over a keyframe interval more.
    const cutAlone = unit.keyframe && this.cuts.length > 0 && !this.anyVideoFlowing();
    video.lastAt = this.now();
    video.seen = true;
    video.progress = Math.max(video.progress, unit.dts);
    if (unit.keyframe && this.cuts.length === 0) this.cutHeldBefore(unit.pts);
    if (unit.keyframe) {
      const start = this.cuts.at(-1);
      // A keyframe of the same instant as the last cut (another layer's) joins it; a later one far
      // enough on starts the next segment.
      const aligned = start !== undefined && Math.abs(unit.pts - start) <= ALIGN_TICKS;
      // A new format cannot share a segment with the old one: a player sets its decoder up per segment.
      const early = (cutAlone || unit.formatChange === true) && start !== undefined && unit.pts > start;
      if (!aligned && (start === undefined || unit.pts - start >= this.target * this.minShare || early)) this.cut(unit.pts);
      // Each rendition starts a segment only at its own keyframe: at the cut its time falls in.
      video.index = Math.max(video.index, this.segmentAt(unit.pts + ALIGN_TICKS));
    }
    // A rendition starts a segment only at its own keyframe. Frames past a cut it has no keyframe for
    // (a layer that starts late, video back after a stall, a lost keyframe) would stretch its previous
    // segment over the others' next one, and cannot open one: they are dropped until its keyframe.
    if (video.index < 0 || (!unit.keyframe && this.segmentAt(unit.pts) > video.index)) {
      this.onKeyframeNeeded(name);
      return;
    }
    this.emit(name, unit, video.index);
    this.releaseOthers();
  }

  private pushOther(name: string, unit: U): void {
    const other = this.others.get(name)!;
    other.held.push(unit);
    if (!this.anyVideoFlowing()) {
      // Audio alone (or video stopped): every target on its own timeline, so durations average it.
      for (const held of other.held) {
        const start = this.cuts.at(-1);
        if (start === undefined) this.cut(held.pts);
        else if (
          held.pts - this.cuts[0] >= this.target * this.cuts.length - CLOCK / 1000 &&
          held.pts - start >= this.target * this.minShare
        )
          this.cut(held.pts);
      }
      this.release(name, other, Infinity);
      return;
    }
    this.releaseOthers();
  }

  /**
   * The run's first keyframe came after audio had begun (a publisher's camera starts late, or keyframes
   * only come every few seconds): the audio held from before it is cut on its own timeline, every
   * target, up to the keyframe, so no segment stretches over both.
   */
  private cutHeldBefore(keyframePts: number): void {
    const heads = [...this.others.values()].flatMap((o) => (o.held.length > 0 ? [o.held[0].pts] : []));
    if (heads.length === 0) return;
    for (let cut = Math.min(...heads); keyframePts - cut >= this.target * this.minShare; cut += this.target) this.cut(cut);
  }

  /** Video renditions that count for holding audio: sending now (a dropped layer does not hold the rest). */
  private flowingVideos(): VideoState[] {
    const now = this.now();
    return [...this.videos.values()].filter(
      (v) => v.seen && (now - v.lastAt < this.maxHoldMs || this.latestDts - v.progress < this.maxLagTicks),
    );
  }

  private anyVideoFlowing(): boolean {
    if (this.videos.size === 0) return false;
    // Before any video has come, give it the hold time to start (FFmpeg starts every output at once).
    if (![...this.videos.values()].some((v) => v.seen)) {
      return (
        this.now() - (this.startedAt ?? this.now()) < this.maxHoldMs ||
        this.latestDts - (this.firstDts ?? this.latestDts) < this.maxLagTicks
      );
    }
    return this.flowingVideos().length > 0;
  }

  private releaseOthers(): void {
    const flowing = this.flowingVideos();
    const horizon = flowing.length > 0 ? Math.min(...flowing.map((v) => v.progress)) : -Infinity;
    for (const [name, other] of this.others) this.release(name, other, horizon);
  }

  /** Emits held units whose time every flowing video has passed (all of them with `upTo` Infinity). */
  private release(name: string, other: { held: U[]; index: number }, upTo: number): void {
    while (other.held.length > 0 && other.held[0].pts <= upTo) {
      const unit = other.held.shift()!;
      // Before the first cut a unit belongs to segment 0; a rendition never goes back a segment.
      other.index = Math.max(other.index, this.segmentAt(unit.pts));
      this.emit(name, unit, other.index);
    }
  }

  private segmentAt(pts: number): number {
    for (let i = this.cuts.length - 1; i > 0; i--) if (pts >= this.cuts[i]) return i;
    return 0;
  }

  private cut(pts: number): void {
    this.cuts.push(pts);
    this.onCut(this.cuts.length - 1, pts);
  }
}
