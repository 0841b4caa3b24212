/** Retries a keyframe that has not come this often (a lost PLI, a lost keyframe). */
const RETRY_MS = 300;
/** How late past the target a segment may run before the keyframe counts as overdue. */
const OVERDUE_SLACK_MS = 150;
const INITIAL_LEAD_MS = 150;

/**
 * Asks the publisher for keyframes on the segment cadence when video is copied (a copied segment can
 * only start on one, and browsers send them only when asked). Each request is timed from the last cut
 * so the keyframe arrives about one target later, using the measured delay between asking and
 * receiving; an overdue keyframe is asked for again. A transcoded stream only needs the first one
 * (x264 makes its own), so `periodic` is off there.
 */
export class KeyframeRequester {
  private timer?: NodeJS.Timeout;
  private requestedAt?: number;
  private lastCutAt?: number;
  private leadMs = INITIAL_LEAD_MS;
  private stopped = false;
  private lastAskAt?: number;

  constructor(
    private readonly request: () => void,
    private readonly targetMs: number,
    private readonly periodic: boolean,
    private readonly now: () => number = Date.now,
  ) {}

  /** The run's first keyframe: FFmpeg cannot start a copied stream (or decode VP8) without one. */
  start(): void {
    this.ask();
    this.arm(RETRY_MS);
  }

  /** A segment started on a keyframe just now. */
  onCut(): void {
    if (this.stopped) return;
    const now = this.now();
    if (this.requestedAt !== undefined) {
      // Smoothed, and bounded so one slow answer cannot make us ask absurdly early.
      const sample = Math.min(now - this.requestedAt, this.targetMs / 2);
      this.leadMs = Math.round(this.leadMs * 0.7 + sample * 0.3);
      this.requestedAt = undefined;
    }
    this.lastCutAt = now;
    if (this.periodic) this.arm(Math.max(0, this.targetMs - this.leadMs));
    else this.disarm();
  }

  /** A rendition missed a keyframe: ask now, unless a request went out moments ago. */
  askSoon(): void {
    if (this.stopped) return;
    const now = this.now();
    if (this.lastAskAt !== undefined && now - this.lastAskAt < RETRY_MS) return;
    this.ask();
  }

  stop(): void {
    this.stopped = true;
    this.disarm();
  }

  /** The expected delay between asking for a keyframe and cutting on it, in ms. */
  get lead(): number {
    return this.leadMs;
  }

  private arm(delayMs: number): void {
    this.disarm();
    this.timer = setTimeout(() => this.fire(), delayMs);
    this.timer.unref();
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private fire(): void {
    if (this.stopped) return;
    this.ask();
    // Ask again if it does not come: before the first cut every RETRY_MS, later once the segment
    // runs past its target.
    const overdueAt = this.lastCutAt === undefined ? 0 : this.lastCutAt + this.targetMs + OVERDUE_SLACK_MS;
    this.arm(Math.max(RETRY_MS, overdueAt - this.now()));
  }

  private ask(): void {
    this.requestedAt ??= this.now();
    this.lastAskAt = this.now();
    this.request();
  }
}
