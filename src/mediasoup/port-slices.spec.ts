import { slicePortRange, webRtcServerPorts } from './port-slices';

describe('slicePortRange', () => {
  it('one worker gets the whole range', () => {
    expect(slicePortRange({ min: 20100, max: 21099 }, 1)).toEqual([{ min: 20100, max: 21099 }]);
  });

  it('splits evenly into disjoint, adjacent slices', () => {
    expect(slicePortRange({ min: 20100, max: 21099 }, 2)).toEqual([
      { min: 20100, max: 20599 },
      { min: 20600, max: 21099 },
    ]);
    expect(slicePortRange({ min: 10, max: 21 }, 4)).toEqual([
      { min: 10, max: 12 },
      { min: 13, max: 15 },
      { min: 16, max: 18 },
      { min: 19, max: 21 },
    ]);
  });

  it('the last slice takes the remainder', () => {
    expect(slicePortRange({ min: 100, max: 109 }, 3)).toEqual([
      { min: 100, max: 102 },
      { min: 103, max: 105 },
      { min: 106, max: 109 },
    ]);
  });

  it('one port per worker is enough', () => {
    expect(slicePortRange({ min: 5000, max: 5002 }, 3)).toEqual([
      { min: 5000, max: 5000 },
      { min: 5001, max: 5001 },
      { min: 5002, max: 5002 },
    ]);
  });

  it.each([
    [{ min: 20100, max: 21099 }, 7],
    [{ min: 20100, max: 21099 }, 64],
    [{ min: 1024, max: 65535 }, 13],
  ])('%j into %i slices covers every port exactly once', (range, count) => {
    const slices = slicePortRange(range, count);
    expect(slices).toHaveLength(count);
    expect(slices[0].min).toBe(range.min);
    expect(slices.at(-1)!.max).toBe(range.max);
    for (const [i, slice] of slices.entries()) {
      expect(slice.max).toBeGreaterThanOrEqual(slice.min);
      if (i > 0) expect(slice.min).toBe(slices[i - 1].max + 1);
    }
  });

  it('rejects a range too small for the workers, naming both', () => {
    expect(() => slicePortRange({ min: 5000, max: 5001 }, 3)).toThrow(new RangeError('port range 5000-5001 is too small for 3 workers'));
    expect(() => slicePortRange({ min: 5001, max: 5000 }, 1)).toThrow(RangeError);
  });

  it('rejects a worker count that is not a positive integer', () => {
    for (const count of [0, -1, 1.5, NaN]) expect(() => slicePortRange({ min: 5000, max: 6000 }, count)).toThrow(RangeError);
  });
});

describe('webRtcServerPorts', () => {
  it("keeps worker i's first server on WEBRTC_SERVER_PORT + i, and puts further servers after all workers' first ones", () => {
    expect(webRtcServerPorts(20000, 0, 1, 2)).toEqual([20000]);
    expect(webRtcServerPorts(20000, 1, 1, 2)).toEqual([20001]);
    expect(webRtcServerPorts(20000, 0, 3, 2)).toEqual([20000, 20002, 20004]);
    expect(webRtcServerPorts(20000, 1, 3, 2)).toEqual([20001, 20003, 20005]);
  });
});
