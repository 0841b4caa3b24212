import { advancePartLimit, assertDirectivesReachable, parseDeliveryDirectives } from './delivery-directives';
import { InvalidDirectiveError } from './ll-errors';
import { LlLivePosition } from './ll-playlist-state';

const rejects = (query: string, message: RegExp): void => {
  expect(() => parseDeliveryDirectives(query)).toThrow(InvalidDirectiveError);
  expect(() => parseDeliveryDirectives(query)).toThrow(message);
};

describe('parseDeliveryDirectives', () => {
  it('reads msn, part and skip, with or without the leading "?", from a string or URLSearchParams', () => {
    expect(parseDeliveryDirectives('_HLS_msn=12&_HLS_part=3&_HLS_skip=YES')).toEqual({ msn: 12, part: 3, skip: 'YES' });
    expect(parseDeliveryDirectives('?_HLS_msn=0')).toEqual({ msn: 0 });
    expect(parseDeliveryDirectives(new URLSearchParams({ _HLS_skip: 'v2' }))).toEqual({ skip: 'v2' });
    expect(parseDeliveryDirectives('')).toEqual({});
    expect(parseDeliveryDirectives('_HLS_msn=9007199254740991')).toEqual({ msn: Number.MAX_SAFE_INTEGER });
    expect(parseDeliveryDirectives('_HLS_msn=007')).toEqual({ msn: 7 }); // decimal-integer allows leading zeros
  });

  it('ignores other parameters, cache busters and unknown _HLS_ ones included', () => {
    expect(parseDeliveryDirectives('t=123&_HLS_msn=4&_HLS_future=x&_HLS_MSN=abc')).toEqual({ msn: 4 });
  });

  it.each([
    ['_HLS_msn=abc', /_HLS_msn must be a non-negative decimal integer, got "abc"/],
    ['_HLS_msn=-1', /_HLS_msn must be a non-negative decimal integer, got "-1"/],
    ['_HLS_msn=1.5', /got "1.5"/],
    ['_HLS_msn=1e3', /got "1e3"/],
    ['_HLS_msn=%2B3', /got "\+3"/],
    ['_HLS_msn=+3', /got " 3"/], // "+" is a space in a query string
    ['_HLS_msn=0x10', /got "0x10"/],
    ['_HLS_msn=', /got ""/],
    ['_HLS_msn=%201', /got " 1"/],
    ['_HLS_msn=9007199254740992', /_HLS_msn=9007199254740992 is larger than 2\^53 - 1/],
    ['_HLS_msn=99999999999999999999', /got "99999999999999999999"/],
    ['_HLS_msn=5&_HLS_part=x', /_HLS_part must be a non-negative decimal integer, got "x"/],
    ['_HLS_part=2', /_HLS_part=2 needs _HLS_msn/],
    ['_HLS_msn=5&_HLS_msn=6', /_HLS_msn appears 2 times/],
    ['_HLS_msn=5&_HLS_part=1&_HLS_part=1', /_HLS_part appears 2 times/],
    ['_HLS_skip=yes', /_HLS_skip must be YES or v2, got "yes"/],
    ['_HLS_skip=YES&_HLS_skip=YES', /_HLS_skip appears 2 times/],
  ])('rejects %s', (query, message) => rejects(query, message));

  it('cuts a huge value in its message', () => {
    const huge = 'x'.repeat(100_000);
    try {
      parseDeliveryDirectives(`_HLS_msn=${huge}`);
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidDirectiveError);
      expect((error as InvalidDirectiveError).message.length).toBeLessThan(120);
      expect((error as InvalidDirectiveError).status).toBe(400);
    }
  });
});

describe('assertDirectivesReachable', () => {
  // Segments up to msn 20 complete, segment 21 in progress with parts 0..2; PART-TARGET 0.2 s: limit 15 parts.
  const live: LlLivePosition = { mediaSequence: 10, lastCompleteMsn: 20, lastPart: { msn: 21, index: 2 }, ended: false };
  const ok = (msn: number, part?: number, position = live): void => assertDirectivesReachable({ msn, part }, position, 0.2);
  const bad = (msn: number, part: number | undefined, message: RegExp, position = live): void =>
    expect(() => assertDirectivesReachable({ msn, part }, position, 0.2)).toThrow(message);

  it('accepts segments up to two beyond the last complete one, and old ones', () => {
    ok(22);
    ok(3); // no longer in the playlist: answered at once with the whole playlist
    ok(21, 0);
    bad(23, undefined, /_HLS_msn=23 is more than two segments beyond the last segment of the playlist \(msn 20\)/);
    bad(23, 0, /more than two segments beyond/);
  });

  it('applies the Advance Part Limit from the newest part, counting one part per segment boundary crossed', () => {
    expect(advancePartLimit(0.2)).toBe(15);
    expect(advancePartLimit(0.3)).toBe(10);
    expect(advancePartLimit(1)).toBe(3);
    expect(advancePartLimit(2)).toBe(3);
    ok(21, 17); // 15 parts beyond part 2
    bad(21, 18, /_HLS_msn=21&_HLS_part=18 is at least 16 parts beyond the newest part \(msn 21 part 2\); the Advance Part Limit is 15/);
    ok(22, 14); // at least 15 parts ahead (the rest of segment 21 may be empty)
    bad(22, 15, /at least 16 parts beyond/);
    ok(20, 1000); // an old segment: normalised to later parts that exist
  });

  it('measures from the last complete segment when no part exists yet, and ignores everything once ended', () => {
    const empty: LlLivePosition = { mediaSequence: 0, lastCompleteMsn: -1, ended: false };
    ok(0, 14, empty);
    ok(1, undefined, empty);
    bad(2, undefined, /more than two segments beyond the last segment of the playlist \(msn -1\)/, empty);
    bad(0, 15, /at least 16 parts beyond/, empty);
    assertDirectivesReachable({ msn: 1e9, part: 1e9 }, { ...live, ended: true }, 0.2);
  });
});
