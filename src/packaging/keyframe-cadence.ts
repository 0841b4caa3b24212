const CLOCK = 90_000;
/** Intervals kept: the median of the last few ignores one odd keyframe (a scene cut, a late answer). */
const KEPT = 5;
/** Keyframes further apart than this share of the target do not come when asked. */
const SLOW_SHARE = 1.25;

/**
 * How often a stream's video keyframes come, measured on the units packaging receives. Where the
 * publisher answers keyframe requests they come about one segment target apart; where it does not
 * (OBS, most hardware encoders), at its own keyframe interval, and a segment cannot be shorter.
 */
export class KeyframeCadence {
  private last?: number;
  private readonly intervals: number[] = [];

  /** A new run: its timestamps start over, so no interval spans two runs. */
  reset(): void {
    this.last = undefined;
  }

  keyframe(pts: number): void {
    if (this.last !== undefined && pts > this.last) {
      this.intervals.push((pts - this.last) / CLOCK);
      if (this.intervals.length > KEPT) this.intervals.shift();
    }
    this.last = pts;
  }

  /** Median of the last intervals (seconds), once two were seen. */
  get intervalSeconds(): number | undefined {
    if (this.intervals.length < 2) return undefined;
    const sorted = [...this.intervals].sort((a, b) => a - b);
    return Math.round(sorted[Math.floor(sorted.length / 2)] * 100) / 100;
  }

  /**
   * Whether keyframes come too seldom for segments of `targetSeconds`: judged on a full window only.
   * A stream's first keyframes say little (a publisher that answers requests sent its first two 1.3 s
   * apart on a busy 2-core host), and the notice tells its user to change the encoder's settings.
   */
  slowerThan(targetSeconds: number): boolean {
    const interval = this.intervalSeconds;
    return this.intervals.length >= KEPT && interval !== undefined && interval > targetSeconds * SLOW_SHARE;
  }
}
