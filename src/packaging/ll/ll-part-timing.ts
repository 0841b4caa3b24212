/**
 * How parts are cut, and the PART-TARGET that makes every cut legal (RFC 8216bis 4.4.4.9: every part
 * ≤ PART-TARGET; every part but an independent one or the last of its segment ≥ 85 % of it).
 *
 * Parts are cut on media timestamps, at a sample boundary: a part ends at the first sample that
 * starts at least `minPart` (85 % of PART-TARGET) after the part's start, so no part is short unless
 * its segment ends. Such a cut is legal as long as that sample starts at most PART-TARGET after the
 * part's start, i.e. as long as the gap between the samples on each side of the 85 % mark is under
 * 15 % of PART-TARGET. The nominal duration is put in the middle of that window
 * (PART-TARGET = nominal / 0.925): with 0.2 s, PART-TARGET 0.216 s and parts of 0.1836–0.216 s. Every
 * frame rate that divides the nominal duration (5, 10, 15, 20, 25, 30, 60 fps for 0.2 s) then cuts
 * parts of exactly the nominal duration, with 16 ms of timestamp jitter allowed either way; AAC at
 * 48 kHz cuts parts of 9 frames (0.192 s). A part whose next sample lies beyond PART-TARGET (a
 * dropped frame, a frozen camera) is ended at PART-TARGET: the next sample is decoded from there on
 * and presented at its own time (a composition offset), so durations add up to the media's and the
 * decode timeline has no hole.
 */
export interface LlPartTiming {
  /** HLS_PART_SECONDS: the duration most parts have. */
  nominal: number;
  /** PART-TARGET, seconds, whole milliseconds. */
  partTarget: number;
  /** A part is cut at the first sample starting this long after the part's start (85 % of PART-TARGET). */
  minPart: number;
}

/** The part target's share that parts must at least last (4.4.4.9). */
export const MIN_PART_SHARE = 0.85;

export function llPartTiming(nominal: number): LlPartTiming {
  if (!(nominal > 0)) throw new RangeError(`the nominal part duration must be positive, got ${nominal}`);
  const partTarget = Math.round((nominal / ((1 + MIN_PART_SHARE) / 2)) * 1000) / 1000;
  return { nominal, partTarget, minPart: MIN_PART_SHARE * partTarget };
}
