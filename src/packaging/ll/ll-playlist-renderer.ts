import {
  LlPart,
  LlPlaylistState,
  LlSegmentCommon,
  PART_HOLD_BACK_PARTS,
  PART_LIST_TARGETS,
  SKIP_BOUNDARY_TARGETS,
} from './ll-playlist-state';

/** What of the request changes the text: a delta update (`_HLS_skip=YES|v2`). */
export interface LlRenderRequest {
  skip?: 'YES' | 'v2';
}

/** Float noise guard for comparisons of sums of durations (seconds). */
const EPSILON = 1e-6;

/** Seconds with 3 decimals (CAN-SKIP-UNTIL, PART-HOLD-BACK): bounds, not positions. */
export function formatSeconds(seconds: number): string {
  return (Math.round(seconds * 1000) / 1000).toFixed(3);
}

/**
 * Media durations (EXTINF, part DURATION, PART-TARGET) to the microsecond. A player places every
 * segment and part by adding up the durations written before it; at whole milliseconds that sum drifted
 * from the media by several ms over a 12-segment playlist (AAC frames are 21.333 ms), and hls.js, which
 * takes a part to end where the sum says, waited for audio it already had (a stall).
 */
export function formatDuration(seconds: number): string {
  return (Math.round(seconds * 1e6) / 1e6).toFixed(6);
}

/**
 * Rounded UP to the millisecond: PART-HOLD-BACK, so that it stays at least 3 × PART-TARGET as written
 * (PART-TARGET itself is rounded up to the microsecond, so that a part, rounded to the nearest
 * microsecond, is never above it).
 */
export function formatSecondsUp(seconds: number): string {
  return ceilMs(seconds).toFixed(3);
}

/** The values written in EXT-X-SERVER-CONTROL / EXT-X-PART-INF / EXT-X-VERSION for a state (seconds rounded up to the ms). */
export interface LlPlaylistControl {
  version: number;
  partTarget: number;
  partHoldBack: number;
  /** 0 when delta updates are off. */
  canSkipUntil: number;
}

export function llPlaylistControl(state: LlPlaylistState): LlPlaylistControl {
  // Hold back is computed from PART-TARGET as written (rounded up), so the written values keep the ratio.
  const partTarget = ceilUs(state.partTarget);
  const minHoldBack = PART_HOLD_BACK_PARTS * partTarget;
  const minSkip = SKIP_BOUNDARY_TARGETS * state.targetDuration;
  const canSkipUntil = state.canSkipUntil === 0 ? 0 : Math.max(state.canSkipUntil ?? minSkip, minSkip);
  // EXT-X-MAP needs 6, EXT-X-SKIP 9 (RFC 8216bis 8). Written as 9 in every response of a playlist that
  // may skip, so a client never sees the version change between a full and a delta response.
  const version = Math.max(state.version ?? 0, canSkipUntil > 0 ? 9 : 6);
  return { version, partTarget, partHoldBack: ceilMs(Math.max(state.partHoldBack ?? minHoldBack, minHoldBack)), canSkipUntil };
}

function ceilMs(seconds: number): number {
  return Math.ceil(seconds * 1000 - EPSILON) / 1000;
}

function ceilUs(seconds: number): number {
  return Math.ceil(seconds * 1e6 - 1e-3) / 1e6;
}

/**
 * How many of the oldest segments a delta update replaces with EXT-X-SKIP (RFC 8216bis 6.2.5.1): those
 * lying wholly further than CAN-SKIP-UNTIL from the end of the last complete segment. Never across a
 * discontinuity: the DISCONTINUITY tag of a skipped segment would vanish while
 * EXT-X-DISCONTINUITY-SEQUENCE stays (4.4.5.2), so a client counting tags would number the remaining
 * segments wrong; skipping resumes once the older run has slid out.
 */
export function llSkippedSegments(state: LlPlaylistState, request: LlRenderRequest = {}): number {
  const { canSkipUntil } = llPlaylistControl(state);
  if (!request.skip || canSkipUntil === 0 || state.ended || state.segments.length === 0) return 0;
  const segments = state.segments;
  let distance = sumDurations(segments); // from the first segment's start to the last one's end
  let skipped = 0;
  for (const segment of segments) {
    distance -= segment.duration; // now: from this segment's end to the end of the last segment
    if (distance - canSkipUntil <= EPSILON) break;
    if (segment.discontinuitySequence !== segments[0].discontinuitySequence) break;
    skipped++;
  }
  return skipped;
}

/**
 * The playlist text for `state`, a full playlist or a delta update (`request.skip`). Layout:
 * header tags; EXT-X-SKIP; per segment DISCONTINUITY / MAP / PROGRAM-DATE-TIME before its first
 * EXT-X-PART (4.4.4.9), then EXTINF and URI; the parts of the segment in progress; PRELOAD-HINT;
 * RENDITION-REPORTs; ENDLIST.
 */
export function renderLlPlaylist(state: LlPlaylistState, request: LlRenderRequest = {}): string {
  const control = llPlaylistControl(state);
  const segments = state.segments;
  const inProgress = state.inProgress && state.inProgress.parts.length > 0 ? state.inProgress : undefined;
  const firstDsn = (segments[0] ?? state.inProgress)?.discontinuitySequence ?? 0;

  const serverControl = ['CAN-BLOCK-RELOAD=YES'];
  if (control.canSkipUntil > 0) serverControl.push(`CAN-SKIP-UNTIL=${formatSeconds(control.canSkipUntil)}`);
  serverControl.push(`PART-HOLD-BACK=${formatSecondsUp(control.partHoldBack)}`);
  const lines = [
    '#EXTM3U',
    `#EXT-X-VERSION:${control.version}`,
    `#EXT-X-TARGETDURATION:${state.targetDuration}`,
    `#EXT-X-SERVER-CONTROL:${serverControl.join(',')}`,
    `#EXT-X-PART-INF:PART-TARGET=${formatDuration(control.partTarget)}`,
    `#EXT-X-MEDIA-SEQUENCE:${state.mediaSequence}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${firstDsn}`,
  ];
  if (state.independentSegments) lines.push('#EXT-X-INDEPENDENT-SEGMENTS');

  const skipped = llSkippedSegments(state, request);
  if (skipped > 0) {
    // v2 asks to skip date ranges too: we have none, so none were recently removed (the attribute is
    // REQUIRED for such a request, and an empty list needs no higher version).
    lines.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}${request.skip === 'v2' ? ',RECENTLY-REMOVED-DATERANGES=""' : ''}`);
  }

  // Parts are listed for segments starting within PART_LIST_TARGETS target durations of the playlist's
  // end, the end of the newest part (6.2.2: remove them once further than that), so every listed part is.
  const total = sumDurations(segments) + sumDurations(inProgress?.parts ?? []);
  const partWindow = PART_LIST_TARGETS * state.targetDuration + EPSILON;
  let segmentStart = sumDurations(segments.slice(0, skipped));

  let previous: LlSegmentCommon | undefined = skipped > 0 ? segments[skipped - 1] : undefined;
  let mapUri: string | undefined; // the map in force for the last written segment
  const writeSegmentTags = (segment: LlSegmentCommon, first: boolean): void => {
    const discontinuity = previous !== undefined && segment.discontinuitySequence !== previous.discontinuitySequence;
    if (discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    // The map applies until the next one: written before the first segment shown (a delta update
    // included, since the skipped MAP still applies) and wherever it changes.
    if (segment.mapUri !== mapUri) lines.push(`#EXT-X-MAP:URI="${segment.mapUri}"`);
    mapUri = segment.mapUri;
    if (first || discontinuity) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(segment.programDateTime).toISOString()}`);
    previous = segment;
  };

  for (let i = skipped; i < segments.length; i++) {
    const segment = segments[i];
    writeSegmentTags(segment, i === skipped);
    if (total - segmentStart <= partWindow) writeParts(lines, segment.parts, state.partTarget);
    segmentStart += segment.duration;
    lines.push(`#EXTINF:${formatDuration(segment.duration)},`, segment.uri);
  }
  if (inProgress) {
    writeSegmentTags(inProgress, skipped === segments.length);
    writeParts(lines, inProgress.parts, state.partTarget);
  }

  if (!state.ended && state.preloadHintUri !== undefined) {
    // Appendix B.1: when the hinted part needs another init section than the last one written, hint
    // that too. Known only once the next run's segment exists, before its first part.
    if (state.inProgress && state.inProgress.parts.length === 0 && state.inProgress.mapUri !== mapUri) {
      lines.push(`#EXT-X-PRELOAD-HINT:TYPE=MAP,URI="${state.inProgress.mapUri}"`);
    }
    lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${state.preloadHintUri}"`);
  }
  for (const report of state.renditionReports) {
    const lastPart = report.lastPart === undefined ? '' : `,LAST-PART=${report.lastPart}`;
    lines.push(`#EXT-X-RENDITION-REPORT:URI="${report.uri}",LAST-MSN=${report.lastMsn}${lastPart}`);
  }
  if (state.ended) lines.push('#EXT-X-ENDLIST');
  return lines.join('\n') + '\n';
}

function sumDurations(items: readonly { duration: number }[]): number {
  return items.reduce((sum, item) => sum + item.duration, 0);
}

/**
 * A part cut at ≥ 85 % of the real PART-TARGET can still round under 85 % of PART-TARGET as written
 * (rounded up), by a microsecond or two; such a part is written at that floor instead, so the text
 * obeys 4.4.4.9 exactly. Decided from the part alone (not from whether it ends its segment), so a part
 * is written the same in every reload.
 */
function writeParts(lines: string[], parts: readonly LlPart[], partTarget: number): void {
  const floor = ceilUs(0.85 * ceilUs(partTarget));
  for (const part of parts) {
    let written = Math.round(part.duration * 1e6) / 1e6;
    if (!part.independent && written < floor && part.duration >= 0.85 * partTarget - EPSILON) written = floor;
    lines.push(`#EXT-X-PART:DURATION=${formatDuration(written)},URI="${part.uri}"${part.independent ? ',INDEPENDENT=YES' : ''}`);
  }
}
