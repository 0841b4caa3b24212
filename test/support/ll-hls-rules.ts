/**
 * Low-Latency HLS rules, for tests: parsers for media and master (multivariant) playlists, and checkers
 * that return every violation of RFC 8216bis (draft-pantos-hls-rfc8216bis, sections in the messages) and
 * of this server's Low-Latency profile. Each violation names its rule, its line and the values involved,
 * so an e2e test can run every playlist it fetches through `checkLlMediaPlaylist` and print what failed.
 *
 * Tolerant by design: a malformed line is reported (rule `syntax`) and parsing goes on, so one broken
 * tag does not hide the others. Durations are checked as written (what a client sees).
 */

export interface Violation {
  /** Stable rule id, e.g. `part-duration-max`: tests can filter or expect a rule by it. */
  rule: string;
  /** 1-based line number in the playlist, when the violation sits on a line. */
  line?: number;
  /** Human-readable, self-contained: line, values, the rule and where the spec says it. */
  message: string;
}

/** One message per line, for `expect(...).toEqual([])` failures and logs. */
export function formatViolations(violations: readonly Violation[]): string {
  return violations.map((v) => `[${v.rule}] ${v.message}`).join('\n');
}

const violation = (rule: string, line: number | undefined, text: string): Violation => ({
  rule,
  line,
  message: line === undefined ? text : `line ${line}: ${text}`,
});

// ---------------------------------------------------------------------------------------------------
// Attribute lists (RFC 8216bis 4.2)

export interface AttributeValue {
  value: string;
  quoted: boolean;
}

/** Parses `NAME=value,NAME="quoted, value"`; `error` says what was malformed (the rest still parsed). */
export function parseAttributeList(text: string): { attributes: Map<string, AttributeValue>; error?: string } {
  const attributes = new Map<string, AttributeValue>();
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) return { attributes, error: `attribute without "=" at ${JSON.stringify(text.slice(i))}` };
    const name = text.slice(i, eq);
    if (!/^[A-Z0-9-]+$/.test(name)) return { attributes, error: `invalid attribute name ${JSON.stringify(name)}` };
    let value: AttributeValue;
    if (text[eq + 1] === '"') {
      const close = text.indexOf('"', eq + 2);
      if (close < 0) return { attributes, error: `unterminated quoted string for ${name}` };
      value = { value: text.slice(eq + 2, close), quoted: true };
      i = close + 1;
    } else {
      const comma = text.indexOf(',', eq + 1);
      const end = comma < 0 ? text.length : comma;
      value = { value: text.slice(eq + 1, end), quoted: false };
      i = end;
    }
    if (attributes.has(name)) return { attributes, error: `attribute ${name} appears twice` };
    attributes.set(name, value);
    if (i < text.length) {
      if (text[i] !== ',') return { attributes, error: `expected "," after ${name}, found ${JSON.stringify(text.slice(i, i + 10))}` };
      i++;
    }
  }
  return { attributes };
}

const DECIMAL_INTEGER = /^[0-9]+$/;
const DECIMAL_FLOAT = /^[0-9]+(\.[0-9]*)?$/;
const DATE_TIME_MSEC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3,}(Z|[+-]\d{2}:?\d{2})$/;

// ---------------------------------------------------------------------------------------------------
// Media playlist model

export interface ParsedPart {
  uri: string;
  duration: number;
  /** DURATION as written. */
  durationText: string;
  independent: boolean;
  gap: boolean;
  line: number;
}

export interface ParsedSegmentTags {
  /** Msn: MEDIA-SEQUENCE + skipped segments + position. */
  msn: number;
  /** Discontinuity Sequence Number: DISCONTINUITY-SEQUENCE + DISCONTINUITY tags up to this segment. */
  dsn: number;
  discontinuity: boolean;
  discontinuityLine?: number;
  /** URI of the EXT-X-MAP in force for this segment. */
  mapUri?: string;
  /** Line of an EXT-X-MAP applied to this very segment. */
  mapLine?: number;
  programDateTime?: { text: string; ms: number; line: number };
  gap: boolean;
  parts: ParsedPart[];
}

export interface ParsedSegment extends ParsedSegmentTags {
  uri: string;
  duration: number;
  durationText: string;
  extinfLine: number;
  uriLine: number;
}

export interface ParsedServerControl {
  canBlockReload: boolean;
  canSkipUntil?: number;
  canSkipDateRanges: boolean;
  holdBack?: number;
  partHoldBack?: number;
  line: number;
  /** The attribute list as written, for comparisons between renditions and reloads. */
  text: string;
}

export interface ParsedMediaPlaylist {
  text: string;
  version?: number;
  targetDuration?: number;
  mediaSequence: number;
  hasMediaSequence: boolean;
  discontinuitySequence: number;
  independentSegments: boolean;
  partTarget?: number;
  serverControl?: ParsedServerControl;
  skip?: { skippedSegments: number; recentlyRemovedDateranges?: string; line: number };
  /** Complete segments written in full (skipped ones excluded). */
  segments: ParsedSegment[];
  /** The segment in progress: parts (and tags) after the last URI line. Absent when nothing follows it. */
  pending?: ParsedSegmentTags;
  preloadHints: Array<{ type: string; uri: string; line: number }>;
  renditionReports: Array<{ uri: string; lastMsn?: number; lastPart?: number; line: number }>;
  ended: boolean;
  maps: Array<{ uri: string; line: number }>;
  /** Tag name → lines, for every `#EXT` tag seen. */
  tagLines: Map<string, number[]>;
  /** Problems found while parsing (rules `first-line`, `syntax`, `tag-order`, `master-tag-in-media`). */
  problems: Violation[];
}

const MASTER_TAGS = new Set([
  'EXT-X-STREAM-INF',
  'EXT-X-MEDIA',
  'EXT-X-I-FRAME-STREAM-INF',
  'EXT-X-SESSION-DATA',
  'EXT-X-SESSION-KEY',
  'EXT-X-CONTENT-STEERING',
]);
const ONCE_TAGS = [
  'EXT-X-VERSION',
  'EXT-X-TARGETDURATION',
  'EXT-X-MEDIA-SEQUENCE',
  'EXT-X-DISCONTINUITY-SEQUENCE',
  'EXT-X-ENDLIST',
  'EXT-X-PLAYLIST-TYPE',
  'EXT-X-I-FRAMES-ONLY',
  'EXT-X-PART-INF',
  'EXT-X-SERVER-CONTROL',
  'EXT-X-INDEPENDENT-SEGMENTS',
  'EXT-X-START',
  'EXT-X-SKIP',
];
/** Tags that describe the whole playlist and so must come before its first segment. */
const HEADER_TAGS = new Set([
  'EXT-X-VERSION',
  'EXT-X-TARGETDURATION',
  'EXT-X-MEDIA-SEQUENCE',
  'EXT-X-DISCONTINUITY-SEQUENCE',
  'EXT-X-PART-INF',
  'EXT-X-SERVER-CONTROL',
  'EXT-X-INDEPENDENT-SEGMENTS',
  'EXT-X-SKIP',
]);

function splitLines(text: string): string[] {
  const lines = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export function parseLlMediaPlaylist(text: string): ParsedMediaPlaylist {
  const lines = splitLines(text);
  const problems: Violation[] = [];
  const playlist: ParsedMediaPlaylist = {
    text,
    mediaSequence: 0,
    hasMediaSequence: false,
    discontinuitySequence: 0,
    independentSegments: false,
    segments: [],
    preloadHints: [],
    renditionReports: [],
    ended: false,
    maps: [],
    tagLines: new Map(),
    problems,
  };
  if (lines[0] !== '#EXTM3U') {
    problems.push(
      violation(
        'first-line',
        1,
        `the first line must be exactly #EXTM3U, found ${JSON.stringify((lines[0] ?? '').slice(0, 40))} (4.4.1.1)`,
      ),
    );
  }

  let msn = 0;
  let dsn = 0;
  let mapUri: string | undefined;
  let firstSegmentLine: number | undefined; // first line of segment content (a segment tag, part or EXTINF)
  let firstDiscontinuityLine: number | undefined;
  let extinf: { duration: number; text: string; line: number } | undefined;
  let current: ParsedSegmentTags | undefined;
  const open = (line: number): ParsedSegmentTags => {
    firstSegmentLine ??= line;
    current ??= { msn, dsn, discontinuity: false, mapUri, gap: false, parts: [] };
    return current;
  };
  const number = (name: string, value: string, line: number, pattern = DECIMAL_INTEGER): number | undefined => {
    if (!pattern.test(value)) {
      problems.push(
        violation(
          'syntax',
          line,
          `${name} must be a ${pattern === DECIMAL_INTEGER ? 'decimal integer' : 'decimal number'}, found ${JSON.stringify(value)}`,
        ),
      );
      return undefined;
    }
    return Number(value);
  };
  const attributesOf = (name: string, value: string, line: number): Map<string, AttributeValue> => {
    const { attributes, error } = parseAttributeList(value);
    if (error) problems.push(violation('syntax', line, `${name}: ${error}`));
    return attributes;
  };
  const quotedUri = (name: string, attributes: Map<string, AttributeValue>, line: number): string | undefined => {
    const uri = attributes.get('URI');
    if (!uri || !uri.quoted || uri.value === '') {
      problems.push(violation('syntax', line, `${name} needs a quoted, non-empty URI attribute`));
      return undefined;
    }
    return uri.value;
  };

  lines.forEach((raw, index) => {
    const line = index + 1;
    if (index === 0 && raw === '#EXTM3U') return;
    if (raw.trim() === '') return;
    if (!raw.startsWith('#')) {
      if (!extinf) {
        problems.push(violation('syntax', line, `URI line ${JSON.stringify(raw.slice(0, 60))} without a preceding EXTINF`));
        return;
      }
      const tags = open(extinf.line);
      playlist.segments.push({
        ...tags,
        uri: raw.trim(),
        duration: extinf.duration,
        durationText: extinf.text,
        extinfLine: extinf.line,
        uriLine: line,
      });
      extinf = undefined;
      current = undefined;
      msn++;
      return;
    }
    if (!raw.startsWith('#EXT')) return; // a comment
    const colon = raw.indexOf(':');
    const name = (colon < 0 ? raw : raw.slice(0, colon)).slice(1);
    const value = colon < 0 ? '' : raw.slice(colon + 1);
    playlist.tagLines.set(name, [...(playlist.tagLines.get(name) ?? []), line]);
    if (name === 'EXTM3U') {
      problems.push(violation('syntax', line, '#EXTM3U may only be the first line'));
      return;
    }
    if (MASTER_TAGS.has(name)) {
      problems.push(
        violation('master-tag-in-media', line, `${name} is a Multivariant Playlist tag and must not appear in a Media Playlist (4.4.6)`),
      );
      return;
    }
    if (HEADER_TAGS.has(name) && firstSegmentLine !== undefined) {
      problems.push(violation('tag-order', line, `${name} must come before the first segment (line ${firstSegmentLine}) (4.4.3)`));
    }
    switch (name) {
      case 'EXT-X-VERSION':
        playlist.version = number(name, value, line);
        break;
      case 'EXT-X-TARGETDURATION':
        playlist.targetDuration = number(name, value, line);
        break;
      case 'EXT-X-MEDIA-SEQUENCE':
        playlist.mediaSequence = number(name, value, line) ?? 0;
        playlist.hasMediaSequence = true;
        msn = playlist.mediaSequence + (playlist.skip?.skippedSegments ?? 0);
        break;
      case 'EXT-X-DISCONTINUITY-SEQUENCE':
        if (firstDiscontinuityLine !== undefined) {
          problems.push(
            violation(
              'tag-order',
              line,
              `EXT-X-DISCONTINUITY-SEQUENCE must come before any EXT-X-DISCONTINUITY (line ${firstDiscontinuityLine}) (4.4.3.3)`,
            ),
          );
        }
        playlist.discontinuitySequence = number(name, value, line) ?? 0;
        dsn = playlist.discontinuitySequence;
        break;
      case 'EXT-X-INDEPENDENT-SEGMENTS':
        playlist.independentSegments = true;
        break;
      case 'EXT-X-ENDLIST':
        playlist.ended = true;
        break;
      case 'EXT-X-PART-INF': {
        const target = attributesOf(name, value, line).get('PART-TARGET');
        if (!target) problems.push(violation('syntax', line, 'EXT-X-PART-INF needs PART-TARGET (4.4.3.7)'));
        else playlist.partTarget = number('PART-TARGET', target.value, line, DECIMAL_FLOAT);
        break;
      }
      case 'EXT-X-SERVER-CONTROL': {
        const attributes = attributesOf(name, value, line);
        const seconds = (key: string): number | undefined => {
          const attribute = attributes.get(key);
          return attribute === undefined ? undefined : number(key, attribute.value, line, DECIMAL_FLOAT);
        };
        playlist.serverControl = {
          canBlockReload: attributes.get('CAN-BLOCK-RELOAD')?.value === 'YES',
          canSkipUntil: seconds('CAN-SKIP-UNTIL'),
          canSkipDateRanges: attributes.get('CAN-SKIP-DATERANGES')?.value === 'YES',
          holdBack: seconds('HOLD-BACK'),
          partHoldBack: seconds('PART-HOLD-BACK'),
          line,
          text: value,
        };
        break;
      }
      case 'EXT-X-SKIP': {
        if (firstSegmentLine !== undefined) break; // reported as tag-order above
        const attributes = attributesOf(name, value, line);
        const skipped = attributes.get('SKIPPED-SEGMENTS');
        const count = skipped ? number('SKIPPED-SEGMENTS', skipped.value, line) : undefined;
        if (!skipped) problems.push(violation('syntax', line, 'EXT-X-SKIP needs SKIPPED-SEGMENTS (4.4.5.2)'));
        if (playlist.skip) break; // reported as a duplicate
        playlist.skip = {
          skippedSegments: count ?? 0,
          recentlyRemovedDateranges: attributes.get('RECENTLY-REMOVED-DATERANGES')?.value,
          line,
        };
        msn += count ?? 0;
        break;
      }
      case 'EXTINF': {
        if (extinf)
          problems.push(violation('syntax', line, `EXTINF follows the EXTINF of line ${extinf.line} without a URI line between them`));
        const text = value.split(',')[0];
        const duration = number('EXTINF duration', text, line, DECIMAL_FLOAT);
        if (!value.includes(',')) problems.push(violation('syntax', line, 'EXTINF needs a comma after the duration (4.4.4.1)'));
        open(line);
        extinf = { duration: duration ?? 0, text, line };
        break;
      }
      case 'EXT-X-DISCONTINUITY': {
        const tags = open(line);
        if (tags.parts.length > 0)
          problems.push(violation('tag-order', line, 'EXT-X-DISCONTINUITY must come before the first EXT-X-PART of its segment (4.4.4.9)'));
        firstDiscontinuityLine ??= line;
        if (!tags.discontinuity) tags.dsn = ++dsn;
        tags.discontinuity = true;
        tags.discontinuityLine = line;
        break;
      }
      case 'EXT-X-MAP': {
        const tags = open(line);
        if (tags.parts.length > 0 || extinf)
          problems.push(
            violation('tag-order', line, 'EXT-X-MAP must come before the first EXT-X-PART and the EXTINF of its segment (4.4.4.9)'),
          );
        const uri = quotedUri(name, attributesOf(name, value, line), line);
        if (uri !== undefined) {
          mapUri = tags.mapUri = uri;
          tags.mapLine = line;
          playlist.maps.push({ uri, line });
        }
        break;
      }
      case 'EXT-X-PROGRAM-DATE-TIME': {
        const tags = open(line);
        if (tags.parts.length > 0)
          problems.push(
            violation('tag-order', line, 'EXT-X-PROGRAM-DATE-TIME must come before the first EXT-X-PART of its segment (4.4.4.9)'),
          );
        if (!DATE_TIME_MSEC.test(value) || Number.isNaN(Date.parse(value))) {
          problems.push(
            violation(
              'program-date-time',
              line,
              `EXT-X-PROGRAM-DATE-TIME ${JSON.stringify(value)} is not an ISO 8601 date-time with milliseconds and a time zone (4.4.4.6)`,
            ),
          );
        } else {
          tags.programDateTime = { text: value, ms: Date.parse(value), line };
        }
        break;
      }
      case 'EXT-X-GAP':
        open(line).gap = true;
        break;
      case 'EXT-X-PART': {
        const tags = open(line);
        if (extinf)
          problems.push(
            violation('tag-order', line, `EXT-X-PART after the EXTINF of line ${extinf.line}: a segment's parts come before its EXTINF`),
          );
        const attributes = attributesOf(name, value, line);
        const uri = quotedUri(name, attributes, line);
        const duration = attributes.get('DURATION');
        if (!duration) problems.push(violation('syntax', line, 'EXT-X-PART needs DURATION (4.4.4.9)'));
        const seconds = duration ? number('DURATION', duration.value, line, DECIMAL_FLOAT) : undefined;
        tags.parts.push({
          uri: uri ?? '',
          duration: seconds ?? 0,
          durationText: duration?.value ?? '',
          independent: attributes.get('INDEPENDENT')?.value === 'YES',
          gap: attributes.get('GAP')?.value === 'YES',
          line,
        });
        break;
      }
      case 'EXT-X-PRELOAD-HINT': {
        const attributes = attributesOf(name, value, line);
        const uri = quotedUri(name, attributes, line);
        playlist.preloadHints.push({ type: attributes.get('TYPE')?.value ?? '', uri: uri ?? '', line });
        break;
      }
      case 'EXT-X-RENDITION-REPORT': {
        const attributes = attributesOf(name, value, line);
        const uri = quotedUri(name, attributes, line);
        const lastMsn = attributes.get('LAST-MSN');
        const lastPart = attributes.get('LAST-PART');
        playlist.renditionReports.push({
          uri: uri ?? '',
          lastMsn: lastMsn ? number('LAST-MSN', lastMsn.value, line) : undefined,
          lastPart: lastPart ? number('LAST-PART', lastPart.value, line) : undefined,
          line,
        });
        break;
      }
      default:
        break; // other tags (KEY, BYTERANGE, DATERANGE, BITRATE, DEFINE, START, unknown ones) have no LL rule here
    }
  });
  if (extinf) problems.push(violation('syntax', extinf.line, 'EXTINF without a URI line after it'));
  if (current) playlist.pending = current;
  return playlist;
}

// ---------------------------------------------------------------------------------------------------
// Media playlist checks

export interface LlCheckOptions {
  /**
   * Apply this server's Low-Latency profile on top of the spec (default true): EXT-X-SERVER-CONTROL with
   * CAN-BLOCK-RELOAD=YES, CAN-SKIP-UNTIL and PART-HOLD-BACK, EXT-X-PART-INF, MEDIA-SEQUENCE, EXT-X-MAP
   * (fMP4), EXT-X-PROGRAM-DATE-TIME and a preload hint while live (Appendix B.1).
   */
  lowLatency?: boolean;
  /** Whether the part at `uri` holds an independent frame; undefined when unknown. */
  keyframeParts?: (uri: string) => boolean | undefined;
  /** The global part counter in a part URI, to check numbering and the preload hint arithmetic. */
  partIndexOf?: (uri: string) => number | undefined;
  /** The directives of the request this playlist answered: checks blocking and delta-update answers. */
  request?: { msn?: number; part?: number; skip?: 'YES' | 'v2' };
  /** URIs the RENDITION-REPORTs must name: every other media playlist of the master (Appendix B.1). */
  expectedRenditionReports?: readonly string[];
  /** This playlist's own URI as the reports would name it: it must not report itself. */
  selfUri?: string;
  /** How many segments another rendition's LAST-MSN may differ from this playlist's own (default 1). */
  renditionSkewSegments?: number;
  /** Allowed gap between a PROGRAM-DATE-TIME and the one extrapolated from the previous (default 0.1 s). */
  pdtToleranceSeconds?: number;
  /** Every discontinuity brings a new EXT-X-MAP (default true: a new source run has a new init section). */
  mapAfterDiscontinuity?: boolean;
}

/** Rounding of durations written with 3 decimals: each written value may be off by half a millisecond. */
const HALF_MS = 0.0005;
const EPS = 1e-9;

export interface PartAt {
  part: ParsedPart;
  msn: number;
  index: number;
  /** Its segment is complete (it has an EXTINF). */
  complete: boolean;
  /** Seconds from the playlist's first written segment to the part's end. */
  end: number;
}

/** Every listed part with its end, as a player adds up the playlist (EXTINF for each complete segment). */
export function listedParts(playlist: ParsedMediaPlaylist): PartAt[] {
  const out: PartAt[] = [];
  let time = 0;
  for (const segment of playlist.segments) {
    let partTime = time;
    segment.parts.forEach((part, index) => {
      partTime += part.duration;
      out.push({ part, msn: segment.msn, index, complete: true, end: partTime });
    });
    time += segment.duration;
  }
  let partTime = time;
  playlist.pending?.parts.forEach((part, index) => {
    partTime += part.duration;
    out.push({ part, msn: playlist.pending!.msn, index, complete: false, end: partTime });
  });
  return out;
}

/** Msn of the last complete segment, and the newest part (when its segment's parts are listed). */
export function llPlaylistPosition(playlist: ParsedMediaPlaylist): { lastCompleteMsn: number; lastPart?: { msn: number; index: number } } {
  const lastCompleteMsn = playlist.mediaSequence + (playlist.skip?.skippedSegments ?? 0) + playlist.segments.length - 1;
  const parts = listedParts(playlist);
  const last = parts[parts.length - 1];
  return { lastCompleteMsn, lastPart: last ? { msn: last.msn, index: last.index } : undefined };
}

function parsed(playlist: string | ParsedMediaPlaylist): ParsedMediaPlaylist {
  return typeof playlist === 'string' ? parseLlMediaPlaylist(playlist) : playlist;
}

/** Every violation of the spec's rules (and, by default, of this server's LL profile) in one media playlist. */
export function checkLlMediaPlaylist(input: string | ParsedMediaPlaylist, options: LlCheckOptions = {}): Violation[] {
  const playlist = parsed(input);
  const out: Violation[] = [...playlist.problems];
  const lowLatency = options.lowLatency ?? true;
  const { segments, pending, serverControl: control } = playlist;
  const td = playlist.targetDuration;
  const pt = playlist.partTarget;
  const parts = listedParts(playlist);
  const written = [...segments, ...(pending ? [pending] : [])];
  const firstLine = (name: string): number | undefined => playlist.tagLines.get(name)?.[0];

  // Each of these tags at most once (4.4.2, 4.4.3, 4.4.5).
  for (const name of ONCE_TAGS) {
    const lines = playlist.tagLines.get(name) ?? [];
    if (lines.length > 1)
      out.push(
        violation('duplicate-tag', lines[1], `${name} appears ${lines.length} times (lines ${lines.join(', ')}); it may appear once`),
      );
  }

  // EXT-X-VERSION high enough for what is used (section 8).
  const needs: Array<[number, string]> = [];
  if (segments.some((s) => !/^[0-9]+$/.test(s.durationText))) needs.push([3, 'decimal EXTINF durations']);
  if (playlist.maps.length > 0) needs.push([6, 'EXT-X-MAP']);
  if (playlist.skip) needs.push([9, 'EXT-X-SKIP']);
  for (const [version, why] of needs) {
    if ((playlist.version ?? 1) < version) {
      out.push(
        violation(
          'version',
          firstLine('EXT-X-VERSION'),
          `EXT-X-VERSION is ${playlist.version ?? 'absent (1)'} but ${why} need${why.endsWith('s') ? '' : 's'} at least ${version} (section 8)`,
        ),
      );
    }
  }

  // Target duration (4.4.3.1).
  if (td === undefined) out.push(violation('target-duration', undefined, 'EXT-X-TARGETDURATION is missing; it is REQUIRED (4.4.3.1)'));
  else if (td < 1)
    out.push(
      violation('target-duration', firstLine('EXT-X-TARGETDURATION'), `EXT-X-TARGETDURATION is ${td}; it must be at least 1 (4.4.3.1)`),
    );
  for (const segment of segments) {
    if (td !== undefined && Math.round(segment.duration) > td) {
      out.push(
        violation(
          'target-duration',
          segment.extinfLine,
          `EXTINF ${segment.durationText} (msn ${segment.msn}) rounds to ${Math.round(segment.duration)} s, above EXT-X-TARGETDURATION ${td} (4.4.3.1)`,
        ),
      );
    }
    if (segment.duration <= 0)
      out.push(violation('target-duration', segment.extinfLine, `EXTINF ${segment.durationText} (msn ${segment.msn}) must be positive`));
  }

  if (lowLatency && !playlist.hasMediaSequence)
    out.push(
      violation(
        'media-sequence',
        undefined,
        'EXT-X-MEDIA-SEQUENCE is missing: a live playlist that removes segments must carry it (6.2.2)',
      ),
    );

  // Partial segments (4.4.3.7, 4.4.4.9).
  if (parts.length > 0 && pt === undefined)
    out.push(violation('part-inf', parts[0].part.line, 'EXT-X-PART used without EXT-X-PART-INF:PART-TARGET (4.4.3.7: REQUIRED)'));
  if (lowLatency && pt === undefined && parts.length === 0)
    out.push(violation('part-inf', undefined, 'EXT-X-PART-INF is missing: a Low-Latency playlist has parts'));
  if (pt !== undefined && pt <= 0) out.push(violation('part-inf', firstLine('EXT-X-PART-INF'), `PART-TARGET ${pt} must be positive`));
  if (pt !== undefined && pt > 0) {
    for (const segment of written) {
      const complete = segment !== pending;
      segment.parts.forEach((part, index) => {
        const where = `part ${index} of msn ${segment.msn} (${part.uri})`;
        if (part.duration > pt + EPS) {
          out.push(
            violation(
              'part-duration-max',
              part.line,
              `${where} lasts ${part.durationText} s, above PART-TARGET ${pt} (4.4.4.9: every part MUST be ≤ PART-TARGET)`,
            ),
          );
        }
        const last = index === segment.parts.length - 1;
        const nextGap = segment.parts[index + 1]?.gap ?? false;
        // 4.4.4.9 exempts from the 85 % floor: INDEPENDENT=YES or GAP=YES parts, parts followed by a GAP
        // part, and the final part of its parent segment. The last part of the segment in progress may
        // become its final one, so it is judged once the segment is complete.
        if (!part.independent && !part.gap && !nextGap && !last && part.duration < 0.85 * pt - EPS) {
          out.push(
            violation(
              'part-duration-min',
              part.line,
              `${where} lasts ${part.durationText} s, under 85 % of PART-TARGET ${pt} (${+(0.85 * pt).toFixed(4)} s); only INDEPENDENT or GAP parts, ` +
                'parts followed by a GAP part, and the last part of a segment may be shorter (4.4.4.9)',
            ),
          );
        }
      });
      if (complete && segment.parts.length > 0) {
        const full = segment as ParsedSegment;
        const sum = segment.parts.reduce((total, part) => total + part.duration, 0);
        // Each written value may be off by half a millisecond, and a part at the 85 % floor may be
        // written up to 2.4 ms longer so that rounding does not put it under the floor.
        const tolerance = HALF_MS * (segment.parts.length + 1) + 0.0025 * segment.parts.length + EPS;
        if (Math.abs(sum - full.duration) > tolerance) {
          out.push(
            violation(
              'part-sum',
              full.extinfLine,
              `the ${segment.parts.length} parts of msn ${segment.msn} add up to ${sum.toFixed(4)} s but its EXTINF is ${full.durationText} (allowed difference ${tolerance.toFixed(4)} s for rounding)`,
            ),
          );
        }
      }
    }
  }
  for (const { part } of parts) {
    const keyframe = options.keyframeParts?.(part.uri);
    if (keyframe === true && !part.independent)
      out.push(
        violation('independent', part.line, `${part.uri} holds an independent frame but lacks INDEPENDENT=YES (4.4.4.9: SHOULD carry it)`),
      );
    if (keyframe === false && part.independent)
      out.push(
        violation(
          'independent',
          part.line,
          `${part.uri} is marked INDEPENDENT=YES but holds no independent frame: a client starting there cannot decode`,
        ),
      );
  }
  if (playlist.independentSegments) {
    for (const segment of written) {
      const first = segment.parts[0];
      if (first && !first.independent) {
        out.push(
          violation(
            'independent-segments',
            first.line,
            `msn ${segment.msn} starts with part ${first.uri} without INDEPENDENT=YES although EXT-X-INDEPENDENT-SEGMENTS says every segment starts with an independent frame`,
          ),
        );
      }
    }
  }

  // Server control (4.4.3.8) and this server's LL profile.
  if (lowLatency && !control) out.push(violation('server-control', undefined, 'EXT-X-SERVER-CONTROL is missing'));
  if (control) {
    if (lowLatency && !control.canBlockReload)
      out.push(violation('server-control', control.line, 'EXT-X-SERVER-CONTROL lacks CAN-BLOCK-RELOAD=YES'));
    if (pt !== undefined && control.partHoldBack === undefined) {
      out.push(
        violation('part-hold-back', control.line, 'PART-HOLD-BACK is missing; it is REQUIRED when EXT-X-PART-INF is present (4.4.3.8)'),
      );
    }
    if (pt !== undefined && control.partHoldBack !== undefined && control.partHoldBack < 3 * pt - EPS) {
      out.push(
        violation(
          'part-hold-back',
          control.line,
          `PART-HOLD-BACK ${control.partHoldBack} is under 3 × PART-TARGET ${pt} = ${+(3 * pt).toFixed(4)} (4.4.3.8: MUST be ≥ 2 ×, SHOULD be ≥ 3 ×; this server requires 3 ×)`,
        ),
      );
    }
    if (control.canSkipUntil === undefined && lowLatency)
      out.push(violation('can-skip-until', control.line, 'CAN-SKIP-UNTIL is missing: this server offers delta updates'));
    if (control.canSkipUntil !== undefined && td !== undefined && control.canSkipUntil < 6 * td - EPS) {
      out.push(
        violation(
          'can-skip-until',
          control.line,
          `CAN-SKIP-UNTIL ${control.canSkipUntil} is under 6 × EXT-X-TARGETDURATION ${td} = ${6 * td} (4.4.3.8: MUST be at least six times)`,
        ),
      );
    }
    if (control.canSkipDateRanges && control.canSkipUntil === undefined)
      out.push(violation('can-skip-until', control.line, 'CAN-SKIP-DATERANGES requires CAN-SKIP-UNTIL (4.4.3.8)'));
    if (control.holdBack !== undefined && td !== undefined && control.holdBack < 3 * td - EPS) {
      out.push(
        violation('server-control', control.line, `HOLD-BACK ${control.holdBack} is under 3 × EXT-X-TARGETDURATION ${td} (4.4.3.8)`),
      );
    }
  }

  // Init sections (4.4.4.5): fMP4 needs one in force from the first segment; a new source brings a new one.
  const firstWritten = written[0];
  if (lowLatency && firstWritten && firstWritten.mapUri === undefined) {
    out.push(
      violation(
        'map',
        firstWritten.parts[0]?.line ?? (firstWritten as ParsedSegment).extinfLine,
        `no EXT-X-MAP before the first segment (msn ${firstWritten.msn}): an fMP4 segment cannot be parsed without its init section`,
      ),
    );
  }
  if (options.mapAfterDiscontinuity ?? true) {
    for (const segment of written) {
      if (segment.discontinuity && segment.mapLine === undefined) {
        out.push(
          violation(
            'map-after-discontinuity',
            segment.discontinuityLine,
            `EXT-X-DISCONTINUITY of msn ${segment.msn} is not followed by a new EXT-X-MAP; a new source run has its own init section`,
          ),
        );
      }
    }
  }

  // Program date-time (6.2.1 SHOULD after each discontinuity; Appendix B.1: all LL playlists carry it).
  const dated = written.filter((segment) => segment.programDateTime);
  if (lowLatency && written.length > 0 && dated.length === 0)
    out.push(violation('program-date-time', undefined, 'no EXT-X-PROGRAM-DATE-TIME: Low-Latency playlists carry it (Appendix B.1)'));
  if (dated.length > 0) {
    for (const segment of written) {
      if (segment.discontinuity && !segment.programDateTime) {
        out.push(
          violation(
            'program-date-time',
            segment.discontinuityLine,
            `msn ${segment.msn} follows a discontinuity without EXT-X-PROGRAM-DATE-TIME (6.2.1: SHOULD)`,
          ),
        );
      }
    }
    const tolerance = options.pdtToleranceSeconds ?? 0.1;
    let previous: { segment: ParsedSegmentTags; index: number } | undefined;
    const durationOf = (s: ParsedSegmentTags): number =>
      s === pending ? s.parts.reduce((t, p) => t + p.duration, 0) : (s as ParsedSegment).duration;
    written.forEach((segment, index) => {
      const date = segment.programDateTime;
      if (!date) return;
      if (previous) {
        const between = written.slice(previous.index, index).reduce((t, s) => t + durationOf(s), 0);
        const expected = previous.segment.programDateTime!.ms + between * 1000;
        const gap = (date.ms - expected) / 1000;
        if (segment.dsn === previous.segment.dsn && Math.abs(gap) > tolerance) {
          out.push(
            violation(
              'program-date-time',
              date.line,
              `PROGRAM-DATE-TIME of msn ${segment.msn} is ${gap.toFixed(3)} s off the date extrapolated from line ${previous.segment.programDateTime!.line} over ${between.toFixed(3)} s of media in the same discontinuity run (tolerance ${tolerance} s)`,
            ),
          );
        }
        if (segment.dsn !== previous.segment.dsn && gap < -1) {
          out.push(
            violation(
              'program-date-time',
              date.line,
              `PROGRAM-DATE-TIME of msn ${segment.msn} goes ${(-gap).toFixed(3)} s back into the previous run: only sub-second overlaps are allowed (6.2.1)`,
            ),
          );
        }
      }
      previous = { segment, index };
    });
  }

  // Parts only near the live edge (6.2.2), removed oldest first, and present there while live.
  const end = segments.reduce((t, s) => t + s.duration, 0) + (pending?.parts.reduce((t, p) => t + p.duration, 0) ?? 0);
  if (td !== undefined) {
    for (const at of parts) {
      const distance = end - at.end;
      if (distance > 3 * td + HALF_MS * parts.length + EPS) {
        out.push(
          violation(
            'parts-near-live-edge',
            at.part.line,
            `part ${at.part.uri} (msn ${at.msn}) ends ${distance.toFixed(3)} s before the end of the playlist; parts further than 3 target durations (${3 * td} s) should be removed (6.2.2)`,
          ),
        );
      }
    }
  }
  let listing = false;
  for (const segment of segments) {
    if (segment.parts.length > 0) listing = true;
    else if (listing)
      out.push(
        violation(
          'parts-near-live-edge',
          segment.extinfLine,
          `msn ${segment.msn} lists no parts although an older segment does: parts are removed oldest first (6.2.2)`,
        ),
      );
  }
  if (lowLatency && !playlist.ended && pt !== undefined && written.length > 0) {
    const last = segments[segments.length - 1];
    if ((pending?.parts.length ?? 0) === 0 && (!last || last.parts.length === 0)) {
      out.push(
        violation(
          'parts-at-live-edge',
          undefined,
          'neither the segment in progress nor the last segment lists parts: a Low-Latency client has nothing to fetch',
        ),
      );
    }
  }

  // Preload hints (4.4.5.3, 6.2.6, Appendix B.1).
  const hintsOfType = new Map<string, number>();
  for (const hint of playlist.preloadHints) {
    if (playlist.ended)
      out.push(violation('preload-hint', hint.line, 'EXT-X-PRELOAD-HINT in a playlist with EXT-X-ENDLIST (4.4.5.3: MUST NOT)'));
    if (hint.type !== 'PART' && hint.type !== 'MAP')
      out.push(violation('preload-hint', hint.line, `EXT-X-PRELOAD-HINT TYPE must be PART or MAP, found ${JSON.stringify(hint.type)}`));
    hintsOfType.set(hint.type, (hintsOfType.get(hint.type) ?? 0) + 1);
    if (hintsOfType.get(hint.type) === 2)
      out.push(violation('preload-hint', hint.line, `more than one EXT-X-PRELOAD-HINT of TYPE=${hint.type} (6.2.6: SHOULD NOT)`));
    if (hint.type === 'PART' && parts.some((at) => at.part.uri === hint.uri)) {
      out.push(
        violation(
          'preload-hint',
          hint.line,
          `the preload hint names ${hint.uri}, which is already listed as a part: it must name the next part to come`,
        ),
      );
    }
  }
  const partHint = playlist.preloadHints.find((hint) => hint.type === 'PART');
  if (lowLatency && !playlist.ended && parts.length > 0 && !partHint) {
    out.push(
      violation('preload-hint', undefined, 'no EXT-X-PRELOAD-HINT:TYPE=PART although the playlist has parts and no ENDLIST (Appendix B.1)'),
    );
  }
  if (options.partIndexOf) {
    let previous: { index: number; uri: string } | undefined;
    for (const at of parts) {
      const index = options.partIndexOf(at.part.uri);
      if (index === undefined) {
        out.push(violation('part-numbering', at.part.line, `cannot read a part number from ${at.part.uri}`));
        continue;
      }
      if (previous && index !== previous.index + 1) {
        out.push(
          violation(
            'part-numbering',
            at.part.line,
            `part ${at.part.uri} (msn ${at.msn} part ${at.index}) is number ${index}, expected ${previous.index + 1} after ${previous.uri}`,
          ),
        );
      }
      previous = { index, uri: at.part.uri };
    }
    if (partHint && previous) {
      const hinted = options.partIndexOf(partHint.uri);
      if (hinted !== previous.index + 1) {
        out.push(
          violation(
            'part-numbering',
            partHint.line,
            `the preload hint names ${partHint.uri} (number ${hinted ?? 'unreadable'}); the part after the last listed one (${previous.uri}) is number ${previous.index + 1}`,
          ),
        );
      }
    }
  }

  // Delta updates (4.4.5.2, 6.2.5.1).
  const skip = playlist.skip;
  if (skip) {
    if (!control || control.canSkipUntil === undefined)
      out.push(
        violation(
          'skip',
          skip.line,
          'EXT-X-SKIP without CAN-SKIP-UNTIL in EXT-X-SERVER-CONTROL (6.2.5.1: the server must ignore _HLS_skip then)',
        ),
      );
    if (playlist.ended)
      out.push(
        violation('skip', skip.line, 'EXT-X-SKIP in a playlist with EXT-X-ENDLIST (6.2.5.1: the server must ignore _HLS_skip then)'),
      );
    if (skip.skippedSegments === 0)
      out.push(
        violation('skip', skip.line, 'EXT-X-SKIP:SKIPPED-SEGMENTS=0: a playlist too short to skip anything should not carry the tag'),
      );
    if (control?.canSkipUntil !== undefined) {
      const kept = segments.reduce((t, s) => t + s.duration, 0);
      if (kept < control.canSkipUntil - HALF_MS * (segments.length + 1)) {
        out.push(
          violation(
            'skip-boundary',
            skip.line,
            `the delta update keeps ${kept.toFixed(3)} s of complete segments after skipping ${skip.skippedSegments}; only segments further than CAN-SKIP-UNTIL ${control.canSkipUntil} s from the end of the last segment may be skipped (6.2.5.1)`,
          ),
        );
      }
    }
    if (options.request && !options.request.skip)
      out.push(
        violation(
          'skip-request',
          skip.line,
          'EXT-X-SKIP in the answer to a request without _HLS_skip: the client cannot merge a delta update it did not ask for',
        ),
      );
  } else if (options.request?.skip && control?.canSkipUntil !== undefined && !playlist.ended) {
    // Segments wholly beyond the skip boundary, before any discontinuity (skipping across one is optional).
    let distance = segments.reduce((t, s) => t + s.duration, 0);
    let skippable = 0;
    for (const segment of segments) {
      distance -= segment.duration;
      if (distance <= control.canSkipUntil + HALF_MS * segments.length || segment.discontinuity) break;
      skippable++;
    }
    if (skippable > 0) {
      out.push(
        violation(
          'skip-request',
          undefined,
          `_HLS_skip=${options.request.skip} was asked and ${skippable} segment(s) lie beyond CAN-SKIP-UNTIL ${control.canSkipUntil} s, but the answer has no EXT-X-SKIP (6.2.5.1: MUST respond with a delta update)`,
        ),
      );
    }
  }

  // Rendition reports (4.4.5.4, Appendix B.1).
  const own = llPlaylistPosition(playlist);
  const ownLastMsn = own.lastPart?.msn ?? own.lastCompleteMsn;
  const skew = options.renditionSkewSegments ?? 1;
  const seen = new Set<string>();
  for (const report of playlist.renditionReports) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(report.uri))
      out.push(violation('rendition-report', report.line, `RENDITION-REPORT URI ${report.uri} must be relative to the playlist (4.4.5.4)`));
    if (seen.has(report.uri)) out.push(violation('rendition-report', report.line, `two RENDITION-REPORTs for ${report.uri}`));
    seen.add(report.uri);
    if (options.selfUri !== undefined && report.uri === options.selfUri)
      out.push(
        violation(
          'rendition-report',
          report.line,
          `RENDITION-REPORT for ${report.uri}, the playlist itself (Appendix B.1: one for each other rendition)`,
        ),
      );
    const lastMsn = report.lastMsn ?? ownLastMsn; // an omitted attribute means "same as this playlist" (4.4.5.4)
    if (Math.abs(lastMsn - ownLastMsn) > skew) {
      out.push(
        violation(
          'rendition-report',
          report.line,
          `RENDITION-REPORT ${report.uri} LAST-MSN=${lastMsn} is more than ${skew} segment(s) from this playlist's last msn ${ownLastMsn}: renditions are updated in sync`,
        ),
      );
    }
    if (report.lastPart !== undefined && pt !== undefined && td !== undefined) {
      const max = Math.floor((td + 0.5) / (0.85 * pt)) + 2;
      if (report.lastPart > max) {
        out.push(
          violation(
            'rendition-report',
            report.line,
            `RENDITION-REPORT ${report.uri} LAST-PART=${report.lastPart} is beyond any part index a ${td} s segment of ${pt} s parts can reach (${max})`,
          ),
        );
      }
    }
  }
  for (const uri of options.expectedRenditionReports ?? []) {
    if (!seen.has(uri))
      out.push(
        violation(
          'rendition-report',
          undefined,
          `no EXT-X-RENDITION-REPORT for ${uri} (Appendix B.1: one for each other rendition of the master)`,
        ),
      );
  }
  if (options.expectedRenditionReports) {
    for (const report of playlist.renditionReports) {
      if (!options.expectedRenditionReports.includes(report.uri) && report.uri !== options.selfUri) {
        out.push(
          violation('rendition-report', report.line, `RENDITION-REPORT for ${report.uri}, which is not another rendition of the master`),
        );
      }
    }
  }

  // ENDLIST (4.4.3.4): nothing in progress after the end.
  if (playlist.ended && pending && pending.parts.length > 0) {
    out.push(
      violation(
        'endlist',
        pending.parts[0].line,
        `EXT-X-ENDLIST, yet ${pending.parts.length} part(s) after the last segment belong to no complete segment`,
      ),
    );
  }

  // The answer to a blocking request holds what was asked (6.2.5.2).
  const request = options.request;
  if (request?.msn !== undefined && !playlist.ended) {
    const { msn, part } = request;
    const reached =
      part === undefined
        ? own.lastCompleteMsn >= msn
        : (own.lastPart !== undefined && (own.lastPart.msn > msn || (own.lastPart.msn === msn && own.lastPart.index >= part))) ||
          own.lastCompleteMsn >= msn + 1;
    if (!reached) {
      const at = own.lastPart ? `msn ${own.lastPart.msn} part ${own.lastPart.index}` : `msn ${own.lastCompleteMsn}`;
      const wanted =
        part === undefined
          ? `a complete segment ${msn} or later`
          : `part ${part} of msn ${msn} or later (part 0 of msn ${msn + 1} when msn ${msn} ended with fewer parts)`;
      out.push(
        violation(
          'blocking-request',
          undefined,
          `answer to _HLS_msn=${msn}${part === undefined ? '' : `&_HLS_part=${part}`} must contain ${wanted}, but the playlist ends at ${at} (6.2.5.2)`,
        ),
      );
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Consecutive reloads

/**
 * What must hold between two consecutive reloads of one media playlist (6.2.1, 6.2.2): MEDIA-SEQUENCE and
 * DISCONTINUITY-SEQUENCE never go backwards, a segment keeps its URI, duration, init section,
 * discontinuity number and parts, published parts are never taken back, TARGETDURATION / PART-TARGET /
 * SERVER-CONTROL never change, a delta update skips only segments the client already had, and the part
 * the preload hint named is the next part that appears.
 */
export function compareLlReloads(previousInput: string | ParsedMediaPlaylist, nextInput: string | ParsedMediaPlaylist): Violation[] {
  const previous = parsed(previousInput);
  const next = parsed(nextInput);
  const out: Violation[] = [];
  const v = (rule: string, text: string, line?: number): void => void out.push(violation(rule, line, text));

  if (next.mediaSequence < previous.mediaSequence)
    v(
      'reload-media-sequence',
      `EXT-X-MEDIA-SEQUENCE went back from ${previous.mediaSequence} to ${next.mediaSequence} (6.2.2: MUST NOT decrease)`,
    );
  if (next.discontinuitySequence < previous.discontinuitySequence) {
    v(
      'reload-discontinuity-sequence',
      `EXT-X-DISCONTINUITY-SEQUENCE went back from ${previous.discontinuitySequence} to ${next.discontinuitySequence} (6.2.2: MUST NOT decrease)`,
    );
  }
  if (next.targetDuration !== previous.targetDuration)
    v(
      'reload-target-duration',
      `EXT-X-TARGETDURATION changed from ${previous.targetDuration} to ${next.targetDuration} (6.2.1: MUST NOT change)`,
    );
  if (next.partTarget !== previous.partTarget)
    v('reload-part-target', `PART-TARGET changed from ${previous.partTarget} to ${next.partTarget}`);
  if (next.serverControl?.text !== previous.serverControl?.text)
    v('reload-server-control', `EXT-X-SERVER-CONTROL changed from ${previous.serverControl?.text} to ${next.serverControl?.text}`);
  if (previous.ended && !next.ended) v('reload-ended', 'EXT-X-ENDLIST disappeared: an ended playlist stays ended');

  const prevPos = llPlaylistPosition(previous);
  const nextPos = llPlaylistPosition(next);
  if (nextPos.lastCompleteMsn < prevPos.lastCompleteMsn)
    v(
      'reload-segments',
      `the last segment went back from msn ${prevPos.lastCompleteMsn} to ${nextPos.lastCompleteMsn}: segments are only removed from the start`,
    );

  const prevByMsn = new Map(previous.segments.map((s) => [s.msn, s]));
  for (const segment of next.segments) {
    const old = prevByMsn.get(segment.msn);
    if (!old) continue;
    const where = `msn ${segment.msn} (line ${segment.uriLine})`;
    if (old.uri !== segment.uri) v('reload-segment', `${where} changed URI from ${old.uri} to ${segment.uri}`, segment.uriLine);
    if (old.durationText !== segment.durationText)
      v('reload-segment', `${where} changed EXTINF from ${old.durationText} to ${segment.durationText}`, segment.extinfLine);
    if (old.mapUri !== segment.mapUri)
      v('reload-segment', `${where} changed EXT-X-MAP from ${old.mapUri} to ${segment.mapUri}`, segment.extinfLine);
    if (old.dsn !== segment.dsn)
      v(
        'reload-discontinuity-sequence',
        `${where} changed Discontinuity Sequence Number from ${old.dsn} to ${segment.dsn} (6.2.2)`,
        segment.extinfLine,
      );
    if (old.parts.length > 0 && segment.parts.length > 0) comparePartLists(old.parts, segment.parts, where, true, v);
  }
  // Parts published in progress are never taken back: they reappear, in order, in the same segment.
  if (previous.pending && previous.pending.parts.length > 0) {
    const msn = previous.pending.msn;
    const later = next.segments.find((s) => s.msn === msn) ?? (next.pending?.msn === msn ? next.pending : undefined);
    if (later && later.parts.length > 0) comparePartLists(previous.pending.parts, later.parts, `msn ${msn}`, false, v);
    else if (next.pending?.msn === msn || (nextPos.lastCompleteMsn < msn && !next.ended)) {
      v('reload-parts', `the ${previous.pending.parts.length} part(s) already published for msn ${msn} are gone from the next reload`);
    }
  }
  // A delta update skips only segments the client already has.
  if (next.skip) {
    const lastSkipped = next.mediaSequence + next.skip.skippedSegments - 1;
    if (lastSkipped > prevPos.lastCompleteMsn) {
      v(
        'reload-skip',
        `the delta update skips msn ${next.mediaSequence}..${lastSkipped}, but the previous reload only had segments up to msn ${prevPos.lastCompleteMsn}`,
        next.skip.line,
      );
    }
  }
  // The hinted part is the next part to appear, wherever it lands (same segment or the next one).
  const hint = previous.preloadHints.find((h) => h.type === 'PART');
  const lastPart = prevPos.lastPart;
  if (hint && lastPart) {
    const nextParts = listedParts(next);
    const after = nextParts.find((at) => at.msn > lastPart.msn || (at.msn === lastPart.msn && at.index > lastPart.index));
    const adjacent =
      after &&
      ((after.msn === lastPart.msn && after.index === lastPart.index + 1) ||
        (after.msn === lastPart.msn + 1 &&
          after.index === 0 &&
          next.segments.find((s) => s.msn === lastPart.msn)?.parts.length === lastPart.index + 1));
    if (after && adjacent && after.part.uri !== hint.uri) {
      v(
        'reload-preload-hint',
        `the previous reload hinted ${hint.uri} after msn ${lastPart.msn} part ${lastPart.index}, but the next part is ${after.part.uri} (msn ${after.msn} part ${after.index}) (4.4.5.3: the hint MUST match the part's URI)`,
        after.part.line,
      );
    }
  }
  // Rendition reports never go back.
  for (const report of next.renditionReports) {
    const old = previous.renditionReports.find((r) => r.uri === report.uri);
    if (old?.lastMsn !== undefined && report.lastMsn !== undefined) {
      const back = report.lastMsn < old.lastMsn || (report.lastMsn === old.lastMsn && (report.lastPart ?? -1) < (old.lastPart ?? -1));
      if (back)
        v(
          'reload-rendition-report',
          `RENDITION-REPORT ${report.uri} went back from msn ${old.lastMsn} part ${old.lastPart} to msn ${report.lastMsn} part ${report.lastPart}`,
          report.line,
        );
    }
  }
  return out;
}

function comparePartLists(
  old: ParsedPart[],
  now: ParsedPart[],
  where: string,
  complete: boolean,
  v: (rule: string, text: string, line?: number) => void,
): void {
  if (complete && old.length !== now.length) v('reload-parts', `${where} had ${old.length} parts, now ${now.length}`, now[0]?.line);
  old.forEach((part, i) => {
    const later = now[i];
    if (!later) {
      v('reload-parts', `${where}: part ${i} (${part.uri}) was published and is gone`);
    } else if (later.uri !== part.uri || later.durationText !== part.durationText || later.independent !== part.independent) {
      v(
        'reload-parts',
        `${where}: part ${i} changed from ${part.uri} ${part.durationText}${part.independent ? ' INDEPENDENT' : ''} to ${later.uri} ${later.durationText}${later.independent ? ' INDEPENDENT' : ''}`,
        later.line,
      );
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// Renditions of one master

/**
 * Rules across the media playlists of one master, keyed by the URI the reports use (6.2.4): the same
 * TARGETDURATION and the same EXT-X-SERVER-CONTROL everywhere, and each playlist reporting every other.
 */
export function checkLlRenditionSet(playlists: Record<string, string | ParsedMediaPlaylist>): Violation[] {
  const out: Violation[] = [];
  const entries = Object.entries(playlists).map(([uri, playlist]) => [uri, parsed(playlist)] as const);
  const [firstUri, first] = entries[0] ?? [];
  for (const [uri, playlist] of entries.slice(1)) {
    if (playlist.targetDuration !== first!.targetDuration) {
      out.push(
        violation(
          'renditions-target-duration',
          undefined,
          `${uri} has EXT-X-TARGETDURATION ${playlist.targetDuration}, ${firstUri} has ${first!.targetDuration} (6.2.4: MUST be the same)`,
        ),
      );
    }
    if (playlist.serverControl?.text !== first!.serverControl?.text) {
      out.push(
        violation(
          'renditions-server-control',
          undefined,
          `${uri} has EXT-X-SERVER-CONTROL:${playlist.serverControl?.text}, ${firstUri} has ${first!.serverControl?.text} (6.2.4: MUST be the same)`,
        ),
      );
    }
  }
  const maxPartTarget = Math.max(...entries.map(([, p]) => p.partTarget ?? 0));
  for (const [uri, playlist] of entries) {
    const holdBack = playlist.serverControl?.partHoldBack;
    if (holdBack !== undefined && holdBack < 3 * maxPartTarget - EPS) {
      out.push(
        violation(
          'renditions-part-hold-back',
          undefined,
          `${uri} has PART-HOLD-BACK ${holdBack}, under 3 × the largest PART-TARGET of the renditions ${maxPartTarget} (4.4.3.8)`,
        ),
      );
    }
    const reported = new Set(playlist.renditionReports.map((r) => r.uri));
    for (const [other] of entries) {
      if (other !== uri && !reported.has(other))
        out.push(violation('renditions-reports', undefined, `${uri} has no EXT-X-RENDITION-REPORT for ${other} (Appendix B.1)`));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Master (multivariant) playlists

export interface ParsedVariant {
  uri: string;
  bandwidth?: number;
  codecs?: string;
  resolution?: string;
  frameRate?: number;
  audio?: string;
  line: number;
}

export interface ParsedRendition {
  type: string;
  groupId: string;
  name: string;
  uri?: string;
  isDefault: boolean;
  autoselect?: boolean;
  line: number;
}

export interface ParsedMasterPlaylist {
  variants: ParsedVariant[];
  renditions: ParsedRendition[];
  independentSegments: boolean;
  version?: number;
  problems: Violation[];
}

const MEDIA_PLAYLIST_TAGS = new Set([
  'EXTINF',
  'EXT-X-TARGETDURATION',
  'EXT-X-MEDIA-SEQUENCE',
  'EXT-X-DISCONTINUITY-SEQUENCE',
  'EXT-X-ENDLIST',
  'EXT-X-PLAYLIST-TYPE',
  'EXT-X-I-FRAMES-ONLY',
  'EXT-X-PART-INF',
  'EXT-X-SERVER-CONTROL',
  'EXT-X-PART',
  'EXT-X-MAP',
  'EXT-X-PROGRAM-DATE-TIME',
  'EXT-X-DISCONTINUITY',
  'EXT-X-SKIP',
  'EXT-X-PRELOAD-HINT',
  'EXT-X-RENDITION-REPORT',
  'EXT-X-BYTERANGE',
  'EXT-X-GAP',
]);

export function parseMasterPlaylist(text: string): ParsedMasterPlaylist {
  const lines = splitLines(text);
  const problems: Violation[] = [];
  const master: ParsedMasterPlaylist = { variants: [], renditions: [], independentSegments: false, problems };
  if (lines[0] !== '#EXTM3U')
    problems.push(
      violation(
        'first-line',
        1,
        `the first line must be exactly #EXTM3U, found ${JSON.stringify((lines[0] ?? '').slice(0, 40))} (4.4.1.1)`,
      ),
    );
  let pendingVariant: Omit<ParsedVariant, 'uri'> | undefined;
  const counts = new Map<string, number[]>();
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (index === 0 || raw.trim() === '') return;
    if (!raw.startsWith('#')) {
      if (!pendingVariant)
        problems.push(violation('syntax', line, `URI line ${JSON.stringify(raw.slice(0, 60))} without a preceding EXT-X-STREAM-INF`));
      else master.variants.push({ ...pendingVariant, uri: raw.trim() });
      pendingVariant = undefined;
      return;
    }
    if (!raw.startsWith('#EXT')) return;
    const colon = raw.indexOf(':');
    const name = (colon < 0 ? raw : raw.slice(0, colon)).slice(1);
    const value = colon < 0 ? '' : raw.slice(colon + 1);
    counts.set(name, [...(counts.get(name) ?? []), line]);
    if (pendingVariant) {
      problems.push(violation('syntax', pendingVariant.line, 'EXT-X-STREAM-INF must be followed by its URI line'));
      pendingVariant = undefined;
    }
    if (MEDIA_PLAYLIST_TAGS.has(name)) {
      problems.push(
        violation(
          'media-tag-in-master',
          line,
          `${name} is a Media Playlist tag and must not appear in a Multivariant Playlist (4.4.3, 4.4.4)`,
        ),
      );
      return;
    }
    const attributes = (): Map<string, AttributeValue> => {
      const { attributes: map, error } = parseAttributeList(value);
      if (error) problems.push(violation('syntax', line, `${name}: ${error}`));
      return map;
    };
    if (name === 'EXT-X-VERSION') master.version = Number(value);
    if (name === 'EXT-X-INDEPENDENT-SEGMENTS') master.independentSegments = true;
    if (name === 'EXT-X-STREAM-INF') {
      const a = attributes();
      const bandwidth = a.get('BANDWIDTH')?.value;
      const frameRate = a.get('FRAME-RATE')?.value;
      pendingVariant = {
        bandwidth: bandwidth !== undefined && DECIMAL_INTEGER.test(bandwidth) ? Number(bandwidth) : undefined,
        codecs: a.get('CODECS')?.value,
        resolution: a.get('RESOLUTION')?.value,
        frameRate: frameRate !== undefined && DECIMAL_FLOAT.test(frameRate) ? Number(frameRate) : undefined,
        audio: a.get('AUDIO')?.value,
        line,
      };
      if (bandwidth === undefined || !DECIMAL_INTEGER.test(bandwidth) || Number(bandwidth) <= 0) {
        problems.push(
          violation(
            'variant',
            line,
            `EXT-X-STREAM-INF needs BANDWIDTH as a positive decimal integer, found ${JSON.stringify(bandwidth)} (4.4.6.2)`,
          ),
        );
      }
      if (frameRate !== undefined && !DECIMAL_FLOAT.test(frameRate))
        problems.push(violation('variant', line, `FRAME-RATE ${JSON.stringify(frameRate)} is not a decimal number`));
      const resolution = a.get('RESOLUTION');
      if (resolution && !/^[0-9]+x[0-9]+$/.test(resolution.value))
        problems.push(violation('variant', line, `RESOLUTION ${JSON.stringify(resolution.value)} is not WIDTHxHEIGHT`));
      if (!a.get('CODECS')?.quoted)
        problems.push(
          violation('variant', line, 'EXT-X-STREAM-INF without a quoted CODECS: strict players refuse such variants (4.4.6.2: SHOULD)'),
        );
    }
    if (name === 'EXT-X-MEDIA') {
      const a = attributes();
      const rendition: ParsedRendition = {
        type: a.get('TYPE')?.value ?? '',
        groupId: a.get('GROUP-ID')?.value ?? '',
        name: a.get('NAME')?.value ?? '',
        uri: a.get('URI')?.value,
        isDefault: a.get('DEFAULT')?.value === 'YES',
        autoselect: a.has('AUTOSELECT') ? a.get('AUTOSELECT')?.value === 'YES' : undefined,
        line,
      };
      for (const key of ['TYPE', 'GROUP-ID', 'NAME'])
        if (!a.has(key)) problems.push(violation('rendition', line, `EXT-X-MEDIA needs ${key} (4.4.6.1)`));
      if (rendition.isDefault && rendition.autoselect === false)
        problems.push(violation('rendition', line, 'EXT-X-MEDIA with DEFAULT=YES must not have AUTOSELECT=NO (4.4.6.1)'));
      if (rendition.type === 'CLOSED-CAPTIONS' && rendition.uri !== undefined)
        problems.push(violation('rendition', line, 'CLOSED-CAPTIONS renditions have no URI (4.4.6.1)'));
      master.renditions.push(rendition);
    }
  });
  if (pendingVariant) problems.push(violation('syntax', pendingVariant.line, 'EXT-X-STREAM-INF at the end without its URI line'));
  for (const name of ['EXT-X-VERSION', 'EXT-X-INDEPENDENT-SEGMENTS', 'EXT-X-START']) {
    const at = counts.get(name) ?? [];
    if (at.length > 1) problems.push(violation('duplicate-tag', at[1], `${name} appears ${at.length} times; it may appear once`));
  }
  return master;
}

/** Spec violations of a master playlist, group references included. */
export function checkMasterPlaylist(input: string | ParsedMasterPlaylist): Violation[] {
  const master = typeof input === 'string' ? parseMasterPlaylist(input) : input;
  const out = [...master.problems];
  if (master.variants.length === 0)
    out.push(violation('variant', undefined, 'no EXT-X-STREAM-INF: a multivariant playlist lists at least one variant'));
  for (const variant of master.variants) {
    if (variant.audio !== undefined && !master.renditions.some((r) => r.type === 'AUDIO' && r.groupId === variant.audio)) {
      out.push(violation('variant', variant.line, `AUDIO="${variant.audio}" names no EXT-X-MEDIA:TYPE=AUDIO group (4.4.6.2)`));
    }
  }
  const groups = new Map<string, ParsedRendition[]>();
  for (const rendition of master.renditions)
    groups.set(`${rendition.type}/${rendition.groupId}`, [...(groups.get(`${rendition.type}/${rendition.groupId}`) ?? []), rendition]);
  for (const [key, members] of groups) {
    const defaults = members.filter((r) => r.isDefault);
    if (defaults.length > 1)
      out.push(
        violation(
          'rendition',
          defaults[1].line,
          `group ${key} has ${defaults.length} renditions with DEFAULT=YES; at most one (4.4.6.1.1)`,
        ),
      );
    const names = new Set<string>();
    for (const rendition of members) {
      if (names.has(rendition.name))
        out.push(
          violation(
            'rendition',
            rendition.line,
            `group ${key} has two renditions named ${JSON.stringify(rendition.name)} (4.4.6.1.1: NAME unique in a group)`,
          ),
        );
      names.add(rendition.name);
    }
  }
  return out;
}

/** Every media playlist URI of a master: variants first, then renditions with a URI, without duplicates. */
export function masterMediaUris(input: string | ParsedMasterPlaylist): string[] {
  const master = typeof input === 'string' ? parseMasterPlaylist(input) : input;
  return [...new Set([...master.variants.map((v) => v.uri), ...master.renditions.flatMap((r) => (r.uri === undefined ? [] : [r.uri]))])];
}
