/**
 * The positions in a run (segment indexes, or msns) that start with a new coded format: a picture
 * size change, one discontinuity more from there on. The classic and the LL layout keep one each,
 * fed the same units, so their discontinuity counts agree.
 */
export class FormatBreaks {
  private readonly at = new Set<number>();

  /** Records a break at `position`; false when it was known (another rendition's keyframe of the same change). */
  add(position: number): boolean {
    if (this.at.has(position)) return false;
    this.at.add(position);
    return true;
  }

  /** Breaks at or before `position`: what a segment there adds to the run's discontinuity count. */
  upTo(position: number): number {
    let count = 0;
    for (const b of this.at) if (b <= position) count++;
    return count;
  }

  /** All of the run's breaks. */
  get count(): number {
    return this.at.size;
  }

  /** A new run: returns the breaks of the one before (the caller adds them to its count) and forgets them. */
  take(): number {
    const count = this.at.size;
    this.at.clear();
    return count;
  }
}
