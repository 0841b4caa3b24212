/**
 * The in-memory model of one Low-Latency media playlist (one rendition: `video`, `audio`, `video.r1` ...),
 * as the packager keeps it and `renderLlPlaylist` writes it. Plain data: the owner mutates or replaces
 * it; every function here only reads it.
 *
 * Media Sequence Numbers are implicit: `segments[i]` has msn `mediaSequence + i`, the segment in
 * progress has `mediaSequence + segments.length`. Part indexes are positions in a segment's `parts`.
 *
 * Invariants the owner keeps (the renderer trusts them; test/support/ll-hls-rules.ts checks the output):
 * - every part lasts at most `partTarget`; every part but an independent one or the last of its
 *   segment lasts at least 85 % of it (RFC 8216bis 4.4.4.9);
 * - a complete segment's `duration` is the sum of its parts, and rounds to at most `targetDuration`;
 * - `discontinuitySequence` grows by 0 or 1 from one segment to the next (a DISCONTINUITY tag counts one);
 * - parts already published are never taken back: on a restart the segment in progress is completed
 *   with the parts it has before the next run's segment starts;
 * - `programDateTime` is derived from media time within a run, so dates and durations agree.
 */

export interface LlPart {
  /** URI as written in the playlist (the caller names it; by a global part counter of the rendition). */
  uri: string;
  /** Seconds, from media timestamps. */
  duration: number;
  /** The part holds an independent (key) frame: `INDEPENDENT=YES`. Every audio part does. */
  independent: boolean;
}

export interface LlSegmentCommon {
  /** URI of the init section (EXT-X-MAP) this segment needs; a new source run brings a new one. */
  mapUri: string;
  /**
   * Discontinuity Sequence Number of the segment: segments of one source run share it, each new run
   * (FFmpeg restart, publisher reconnect) adds one. Kept per segment rather than as a flag plus a
   * playlist counter, so EXT-X-DISCONTINUITY-SEQUENCE follows by itself as old segments slide out.
   */
  discontinuitySequence: number;
  /** Wall-clock time of the segment's first sample, ms since the epoch (EXT-X-PROGRAM-DATE-TIME). */
  programDateTime: number;
  /** The segment's parts, in order. Complete segments keep them after they stop being listed. */
  parts: readonly LlPart[];
}

export interface LlSegment extends LlSegmentCommon {
  uri: string;
  /** EXTINF, seconds. */
  duration: number;
}

/** The segment being cut: its complete parts so far (possibly none yet). */
export type LlSegmentInProgress = LlSegmentCommon;

/** Where another rendition stands (EXT-X-RENDITION-REPORT); `llRenditionReport` computes it. */
export interface LlRenditionReport {
  /** Relative to the playlist that carries the report. */
  uri: string;
  lastMsn: number;
  /** Index of the last part in segment `lastMsn`; absent when that rendition has no part yet. */
  lastPart?: number;
}

export interface LlPlaylistState {
  /** Integer seconds, fixed for the playlist's life (RFC 8216bis 6.2.1: it MUST NOT change). */
  targetDuration: number;
  /** PART-TARGET, seconds: at least the longest part. Written rounded up to the millisecond. */
  partTarget: number;
  /** Msn of `segments[0]`. */
  mediaSequence: number;
  /** Complete segments still kept, oldest first. */
  segments: readonly LlSegment[];
  /** The segment being cut; absent while no source is running (e.g. between a stop and a restart). */
  inProgress?: LlSegmentInProgress;
  /** URI of the next part to come (EXT-X-PRELOAD-HINT); not written once `ended`. */
  preloadHintUri?: string;
  /** EXT-X-ENDLIST: no more segments will come. The owner completes `inProgress` first. */
  ended: boolean;
  /** EXT-X-INDEPENDENT-SEGMENTS: every segment starts with an independent frame. */
  independentSegments: boolean;
  /** One per other rendition of the master (not this one). */
  renditionReports: readonly LlRenditionReport[];
  /** PART-HOLD-BACK, seconds; default and minimum `PART_HOLD_BACK_PARTS` × partTarget. */
  partHoldBack?: number;
  /** CAN-SKIP-UNTIL, seconds; default and minimum `SKIP_BOUNDARY_TARGETS` × targetDuration; 0 disables delta updates. */
  canSkipUntil?: number;
  /** EXT-X-VERSION; raised to what the playlist needs (6 for EXT-X-MAP, 9 when EXT-X-SKIP may appear). */
  version?: number;
}

/**
 * PART-HOLD-BACK in parts. RFC 8216bis 4.4.3.8: at least 2 ×, SHOULD be at least 3 × PART-TARGET.
 * We take exactly the SHOULD: hls.js in low-latency mode plays PART-HOLD-BACK behind the live edge, so
 * every extra part adds its duration to glass-to-glass latency, and 3 parts still leave two parts of
 * buffer when one part arrives a whole part late.
 */
export const PART_HOLD_BACK_PARTS = 3;
/** CAN-SKIP-UNTIL in target durations: the spec's minimum (4.4.3.8). */
export const SKIP_BOUNDARY_TARGETS = 6;
/** Parts are listed for segments that start within this many target durations of the end (6.2.2). */
export const PART_LIST_TARGETS = 3;
/** Blocked requests wait at most this many target durations, then 503 (6.2.5.2). */
export const BLOCKING_TIMEOUT_TARGETS = 3;

export interface LlPartPosition {
  msn: number;
  /** Index of the part in its segment. */
  index: number;
}

/** What a blocked request or a rendition report needs to know of a playlist. */
export interface LlLivePosition {
  mediaSequence: number;
  /** Msn of the last complete segment; `mediaSequence - 1` when there is none. */
  lastCompleteMsn: number;
  /** The newest part, in the segment in progress or else in the last complete segment. */
  lastPart?: LlPartPosition;
  ended: boolean;
}

export function llLivePosition(state: LlPlaylistState): LlLivePosition {
  const lastCompleteMsn = state.mediaSequence + state.segments.length - 1;
  let lastPart: LlPartPosition | undefined;
  if (state.inProgress && state.inProgress.parts.length > 0) {
    lastPart = { msn: lastCompleteMsn + 1, index: state.inProgress.parts.length - 1 };
  } else {
    const last = state.segments[state.segments.length - 1];
    if (last && last.parts.length > 0) lastPart = { msn: lastCompleteMsn, index: last.parts.length - 1 };
  }
  return { mediaSequence: state.mediaSequence, lastCompleteMsn, lastPart, ended: state.ended };
}

/**
 * The report other renditions carry about this one: LAST-MSN is the msn of the last part when there
 * are parts (RFC 8216bis 4.4.5.4), LAST-PART its index.
 */
export function llRenditionReport(uri: string, state: LlPlaylistState): LlRenditionReport {
  const position = llLivePosition(state);
  if (position.lastPart) return { uri, lastMsn: position.lastPart.msn, lastPart: position.lastPart.index };
  return { uri, lastMsn: Math.max(position.lastCompleteMsn, 0) };
}
