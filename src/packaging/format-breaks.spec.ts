import { FormatBreaks } from './format-breaks';

describe('FormatBreaks', () => {
  it('counts the breaks at or before a position, each position once, and hands the run’s count over at a new run', () => {
    const breaks = new FormatBreaks();
    expect(breaks.add(7)).toBe(true);
    expect(breaks.add(3)).toBe(true);
    expect(breaks.add(7)).toBe(false); // another layer's keyframe of the same change
    expect([2, 3, 6, 7, 9].map((p) => breaks.upTo(p))).toEqual([0, 1, 1, 2, 2]);
    expect(breaks.count).toBe(2);
    expect(breaks.take()).toBe(2);
    expect([breaks.count, breaks.upTo(9)]).toEqual([0, 0]);
  });
});
