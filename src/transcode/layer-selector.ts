export interface LayerScore {
  encodingIdx: number;
  score: number;
}

/**
 * Chooses which simulcast layer FFmpeg gets. Down at once (the layer stopped), up only after the
 * higher layer has flowed for `upgradeAfterMs`: following every flap of a layer makes near-empty
 * and double-length segments and a picture that keeps changing size.
 */
export class LayerSelector {
  private current?: number;
  private betterSince?: number;
  private scores: LayerScore[] = [];
  private firstUpdateAt?: number;

  /** During `settleMs` after the first scores, layers still ramping up are taken at once. */
  constructor(
    private readonly upgradeAfterMs = 6000,
    private readonly settleMs = 3000,
  ) {}

  get layer(): number | undefined {
    return this.current;
  }

  /** Feeds new producer scores; returns the layer to prefer when it changes. */
  update(scores: LayerScore[], now: number): number | undefined {
    this.scores = scores;
    this.firstUpdateAt ??= now;
    return this.evaluate(now);
  }

  /** Re-evaluates with the last scores (scores only arrive when they change). */
  evaluate(now: number): number | undefined {
    const flowing = this.scores.filter((s) => s.score > 0).map((s) => s.encodingIdx);
    if (flowing.length === 0) return undefined;
    const best = Math.max(...flowing);
    if (this.current === undefined || best < this.current || !flowing.includes(this.current)) {
      this.betterSince = undefined;
      return this.choose(best);
    }
    if (best > this.current) {
      if (now - (this.firstUpdateAt ?? now) < this.settleMs) return this.choose(best);
      this.betterSince ??= now;
      if (now - this.betterSince >= this.upgradeAfterMs) {
        this.betterSince = undefined;
        return this.choose(best);
      }
      return undefined;
    }
    this.betterSince = undefined;
    return undefined;
  }

  private choose(layer: number): number | undefined {
    if (layer === this.current) return undefined;
    this.current = layer;
    return layer;
  }
}
