import { KeyframeCadence } from './keyframe-cadence';

const at = (cadence: KeyframeCadence, seconds: number[]) => seconds.forEach((s) => cadence.keyframe(Math.round(s * 90_000)));

describe('KeyframeCadence', () => {
  it('measures from two intervals on, and calls keyframes slow only over a full window of five', () => {
    const cadence = new KeyframeCadence();
    at(cadence, [0, 2]);
    expect(cadence.intervalSeconds).toBeUndefined();
    expect(cadence.slowerThan(1)).toBe(false);
    at(cadence, [4]);
    expect(cadence.intervalSeconds).toBe(2);
    expect(cadence.slowerThan(1)).toBe(false); // two intervals: a slow start proves nothing yet
    at(cadence, [6, 8]);
    expect(cadence.slowerThan(1)).toBe(false);
    at(cadence, [10]);
    expect(cadence.slowerThan(1)).toBe(true);
    expect(cadence.slowerThan(2)).toBe(false);
  });

  it('a publisher that answers requests but started slowly is not called slow', () => {
    const cadence = new KeyframeCadence();
    at(cadence, [0, 1.3, 2.6, 3.62, 4.65, 5.7]); // first two 1.3 s apart, then on request
    expect(cadence.slowerThan(1)).toBe(false);
  });

  it('keyframes on request (about one target apart, a little late) are not slow', () => {
    const cadence = new KeyframeCadence();
    at(cadence, [0, 1.04, 2.1, 3.12, 4.15]);
    expect(cadence.intervalSeconds).toBe(1.04);
    expect(cadence.slowerThan(1)).toBe(false);
  });

  it('takes the median of the last five: one odd keyframe does not change it', () => {
    const cadence = new KeyframeCadence();
    at(cadence, [0, 2, 4, 4.3, 6.3, 8.3, 10.3]);
    expect(cadence.intervalSeconds).toBe(2);
  });

  it('does not measure across runs (timestamps jump)', () => {
    const cadence = new KeyframeCadence();
    at(cadence, [0, 1, 2]);
    cadence.reset();
    at(cadence, [50, 51]);
    expect(cadence.intervalSeconds).toBe(1);
  });
});
