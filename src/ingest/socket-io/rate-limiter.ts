/**
 * A token bucket per socket: `burst` events at once, refilled at `perSecond`. Sized so a viewer
 * can consume 40 producers in one burst (transportConsume + resumeConsumer each, plus set-up) while
 * a client looping on events is cut off within a second.
 */
export class RateLimiter {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly burst = 150,
    private readonly perSecond = 30,
    now = Date.now(),
  ) {
    this.tokens = burst;
    this.updatedAt = now;
  }

  /** Takes one token; false when the bucket is empty. */
  take(now = Date.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.perSecond);
    this.updatedAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
