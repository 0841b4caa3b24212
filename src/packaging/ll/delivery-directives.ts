import { InvalidDirectiveError } from './ll-errors';
import { LlLivePosition } from './ll-playlist-state';

/** The Delivery Directives of a playlist request (RFC 8216bis 6.2.5), parsed and checked. */
export interface DeliveryDirectives {
  /** `_HLS_msn`: block until the playlist holds this segment (or the part below). */
  msn?: number;
  /** `_HLS_part`: with `msn`, block until the playlist holds this part of it. */
  part?: number;
  /** `_HLS_skip`: answer with a delta update. */
  skip?: 'YES' | 'v2';
}

const DIRECTIVES = ['_HLS_msn', '_HLS_part', '_HLS_skip'] as const;
/** Decimal-integer of the spec (4.2): digits only; no sign, exponent, fraction or spaces. */
const DECIMAL_INTEGER = /^[0-9]{1,16}$/;

/**
 * Parses the directives of a playlist request. Pass the raw query string (the part of the URL after
 * `?`, with or without it) or URLSearchParams, not a framework's parsed object: only those show
 * duplicates as they came. Other parameters (cache busters, future `_HLS_` ones) are ignored.
 * @throws InvalidDirectiveError for a duplicate, a value that is not a decimal integer up to 2^53 - 1,
 *   an unknown `_HLS_skip` value, or `_HLS_part` without `_HLS_msn` (6.2.5.2: MUST be 400).
 */
export function parseDeliveryDirectives(query: string | URLSearchParams): DeliveryDirectives {
  const params = typeof query === 'string' ? new URLSearchParams(query.startsWith('?') ? query.slice(1) : query) : query;
  for (const name of DIRECTIVES) {
    const count = params.getAll(name).length;
    if (count > 1) throw new InvalidDirectiveError(`${name} appears ${count} times; give it once`);
  }
  const directives: DeliveryDirectives = {};
  const msn = params.get('_HLS_msn');
  const part = params.get('_HLS_part');
  const skip = params.get('_HLS_skip');
  if (msn !== null) directives.msn = parseIndex('_HLS_msn', msn);
  if (part !== null) {
    directives.part = parseIndex('_HLS_part', part);
    if (directives.msn === undefined)
      throw new InvalidDirectiveError(`_HLS_part=${part} needs _HLS_msn: a part index means nothing without its segment`);
  }
  if (skip !== null) {
    if (skip !== 'YES' && skip !== 'v2') throw new InvalidDirectiveError(`_HLS_skip must be YES or v2, got ${quote(skip)}`);
    directives.skip = skip;
  }
  return directives;
}

/**
 * The checks that need the playlist (6.2.5.2), made before a request blocks, so a request that could
 * never be answered in time gets 400 at once instead of holding a connection:
 * - `_HLS_msn` more than two beyond the msn of the last segment;
 * - `_HLS_part` beyond the newest part by more than the Advance Part Limit (3 / PART-TARGET parts when
 *   PART-TARGET < 1 s, else 3). Parts still to come in the segment in progress are unknown, so the
 *   distance counted is its lower bound: one part per segment boundary crossed.
 * Does nothing once the playlist has ended: the server then ignores the directives.
 * @throws InvalidDirectiveError
 */
export function assertDirectivesReachable(directives: DeliveryDirectives, position: LlLivePosition, partTarget: number): void {
  const { msn, part } = directives;
  if (msn === undefined || position.ended) return;
  if (msn > position.lastCompleteMsn + 2) {
    throw new InvalidDirectiveError(
      `_HLS_msn=${msn} is more than two segments beyond the last segment of the playlist (msn ${position.lastCompleteMsn})`,
    );
  }
  if (part === undefined) return;
  const limit = advancePartLimit(partTarget);
  const last = position.lastPart ?? { msn: position.lastCompleteMsn, index: -1 };
  let ahead: number;
  if (msn < last.msn) ahead = 0;
  else if (msn === last.msn) ahead = part - last.index;
  else ahead = msn - last.msn - 1 + part + 1;
  if (ahead > limit) {
    throw new InvalidDirectiveError(
      `_HLS_msn=${msn}&_HLS_part=${part} is at least ${ahead} parts beyond the newest part (msn ${last.msn} part ${last.index}); ` +
        `the Advance Part Limit is ${limit}`,
    );
  }
}

/** RFC 8216bis 6.2.5.2: three divided by the Part Target Duration if it is under one second, else three. */
export function advancePartLimit(partTarget: number): number {
  return partTarget < 1 ? Math.floor(3 / partTarget + 1e-9) : 3;
}

function parseIndex(name: string, value: string): number {
  if (!DECIMAL_INTEGER.test(value)) {
    throw new InvalidDirectiveError(`${name} must be a non-negative decimal integer, got ${quote(value)}`);
  }
  const number = Number(value);
  if (!Number.isSafeInteger(number)) throw new InvalidDirectiveError(`${name}=${value} is larger than 2^53 - 1`);
  return number;
}

/** Quoted and cut, so a 1 MB query does not come back whole in an error message or a log line. */
function quote(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}
