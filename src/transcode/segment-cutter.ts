import type { MediaKind } from 'mediasoup/node/lib/RtpParameters';

/** What the cutter needs of an access unit (TsAccessUnit has more). */
export interface TimedUnit {
  pts: number;
  dts: number;
  keyframe: boolean;
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
   * Follower units wait at most this long for the leader: media time they are ahead of it, and wall
   * time since the leader's last unit (a lagging leader that still produces is not stalled).
   */
  maxHoldSeconds?: number;
  /** Wall clock, for the leader's stall (tests pass their own). */
  now?: () => number;
}

const CLOCK = 90_000;

/**
 * Decides where the segments of one FFmpeg run are cut, the same instants for every rendition, so
 * that segment n of the video and of the audio cover the same time (players align renditions by
 * media sequence number).
 *
 * The leader is the first video rendition: its keyframes decide (a segment must start with one).
 * Without video, audio is cut every target on its own timeline. Other renditions follow: a unit is
 * placed once the leader has passed its time, so a keyframe that arrives after it on another pipe
 * still counts.
 *
 * When the leader stalls (its RTP stopped: the publisher's camera, a network hiccup) the followers do
 * not pile into one long segment: they are cut every target on their own, and those segments have no
 * video (packaging lists them as gaps there). The leader comes back at its next keyframe, so every
 * video segment still starts with one.
 */
export class SegmentCutter<U extends TimedUnit> {
  private readonly leader: string;
  private readonly leaderIsVideo: boolean;
  private readonly followers = new Map<string, { held: U[]; index: number }>();
  /** Start times (pts) of the run's segments, in order. */
  private readonly cuts: number[] = [];
  private leaderProgress = -Infinity;
  private readonly target: number;
  private readonly minShare: number;
  private readonly maxHold: number;
  private readonly now: () => number;
  /** Wall clock of the leader's last unit. */
  private leaderAt: number;
  /** The followers are being cut without the leader; it rejoins at a keyframe. */
  private leaderStalled = false;
  private ended = false;

  constructor(
    renditions: CutterRendition[],
    options: CutterOptions,
    private readonly emit: (rendition: string, unit: U, segment: number) => void,
    /** Called when a segment starts, with its index and start time (wall clock: at once). */
    private readonly onCut: (index: number, pts: number) => void = () => undefined,
  ) {
    if (renditions.length === 0) throw new RangeError('a cutter needs at least one rendition');
    const leader = renditions.find((r) => r.kind === 'video') ?? renditions[0];
    this.leader = leader.name;
    this.leaderIsVideo = leader.kind === 'video';
    for (const r of renditions) if (r.name !== this.leader) this.followers.set(r.name, { held: [], index: 0 });
    this.target = options.targetSeconds * CLOCK;
    this.minShare = options.minShare ?? 0.8;
    // Under the silence switch (1.5 s of no RTP, TranscodeSession): a stall is cut around before the
    // switch ends the run, so no follower segment stretches over it.
    this.maxHold = (options.maxHoldSeconds ?? 1) * CLOCK;
    this.now = options.now ?? Date.now;
    this.leaderAt = this.now();
  }

  get leaderName(): string {
    return this.leader;
  }

  /** Index of the segment in progress (-1 before the first unit of the leader). */
  get currentSegment(): number {
    return this.cuts.length - 1;
  }

  /** Start time of the segment in progress, if any. */
  get currentStart(): number | undefined {
    return this.cuts.at(-1);
  }

  push(rendition: string, unit: U): void {
    if (this.ended) return;
    if (rendition === this.leader) this.pushLeader(unit);
    else this.pushFollower(rendition, unit);
  }

  /** The run is over: everything held goes out in the segment its time says. */
  end(): void {
    if (this.ended) return;
    for (const [name, follower] of this.followers) this.release(name, follower, Infinity);
    this.ended = true;
  }

  private pushLeader(unit: U): void {
    this.leaderAt = this.now();
    const start = this.cuts.at(-1);
    if (this.leaderStalled) {
      // Segments went on without the leader: it may start again only with a keyframe.
      if (!unit.keyframe) return;
      this.leaderStalled = false;
      // Cut at it even soon after a follower's cut: waiting for the next keyframe would stretch this
      // segment over a whole keyframe interval more.
      if (start === undefined || unit.pts > start) this.cut(unit.pts);
    } else if (start === undefined || this.isCut(unit, start)) this.cut(unit.pts);
    this.leaderProgress = Math.max(this.leaderProgress, unit.dts);
    this.emit(this.leader, unit, this.cuts.length - 1);
    for (const [name, follower] of this.followers) this.release(name, follower, this.leaderProgress);
  }

  private isCut(unit: U, start: number): boolean {
    if (this.leaderIsVideo) return unit.keyframe && unit.pts - start >= this.target * this.minShare;
    // Audio alone: every target on the run's timeline, so durations average the target exactly.
    return unit.pts - this.cuts[0] >= this.target * this.cuts.length - CLOCK / 1000;
  }

  private pushFollower(name: string, unit: U): void {
    const follower = this.followers.get(name);
    if (!follower) return;
    follower.held.push(unit);
    const oldest = follower.held[0];
    if (!this.leaderStalled && unit.dts - oldest.dts >= this.maxHold && this.now() - this.leaderAt >= this.maxHold / CLOCK * 1000) {
      this.leaderStalled = true;
    }
    if (!this.leaderStalled) {
      this.release(name, follower, this.leaderProgress);
      return;
    }
    // The leader has stalled: cut every target on the follower's own time, and place at once.
    for (const held of follower.held) {
      const start = this.cuts.at(-1);
      if (start === undefined || held.pts - start >= this.target) this.cut(start === undefined ? held.pts : start + this.target * Math.floor((held.pts - start) / this.target));
    }
    this.release(name, follower, Infinity);
  }

  /** Emits held units whose time the leader has passed (all of them with `upTo` Infinity). */
  private release(name: string, follower: { held: U[]; index: number }, upTo: number): void {
    while (follower.held.length > 0 && (follower.held[0].pts <= upTo || upTo === Infinity)) {
      const unit = follower.held.shift()!;
      // Before the first cut a follower's units belong to segment 0; they never go back a segment.
      follower.index = Math.max(follower.index, this.segmentAt(unit.pts));
      this.emit(name, unit, follower.index);
    }
  }

  private segmentAt(pts: number): number {
    let index = 0;
    for (let i = this.cuts.length - 1; i > 0; i--) {
      if (pts >= this.cuts[i]) {
        index = i;
        break;
      }
    }
    return index;
  }

  private cut(pts: number): void {
    this.cuts.push(pts);
    this.onCut(this.cuts.length - 1, pts);
  }
}
