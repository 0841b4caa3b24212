/**
 * Errors of the Low-Latency HLS pieces. Each carries the HTTP status the delivery layer answers with,
 * so the controller maps them without knowing which piece threw (this folder imports nothing from
 * other src/ folders, hence its own base class rather than common/errors.ts).
 */
export abstract class LlHlsError extends Error {
  abstract readonly status: number;
  abstract readonly code: string;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A malformed or unreachable delivery directive (`_HLS_msn`, `_HLS_part`, `_HLS_skip`): 400. */
export class InvalidDirectiveError extends LlHlsError {
  readonly status = 400;
  readonly code = 'BAD_REQUEST';
}

/** A blocked playlist request that the playlist did not satisfy in time: 503 (RFC 8216bis 6.2.5.2). */
export class BlockingTimeoutError extends LlHlsError {
  readonly status = 503;
  readonly code = 'UNAVAILABLE';
}

/** The playlist was removed (stream gone, retention over, shutdown) while a request waited: 404. */
export class PlaylistClosedError extends LlHlsError {
  readonly status = 404;
  readonly code = 'NOT_FOUND';
}

/** A client already holds as many blocked requests as it may: 429. */
export class TooManyBlockedRequestsError extends LlHlsError {
  readonly status = 429;
  readonly code = 'RATE_LIMITED';
}

/** The waiting request went away (its AbortSignal fired); nobody is left to answer, 499 by nginx's convention. */
export class WaitAbortedError extends LlHlsError {
  readonly status = 499;
  readonly code = 'ABORTED';
}
