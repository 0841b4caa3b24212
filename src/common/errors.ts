/** Errors a client can cause; the gateway answers them as `{ error: message, code }`. */
export abstract class ClientError extends Error {
  abstract readonly code: string;
}

export class NotFoundError extends ClientError {
  readonly code = 'NOT_FOUND';
}

export class InvalidStateError extends ClientError {
  readonly code = 'INVALID_STATE';
}

export class LimitExceededError extends ClientError {
  readonly code = 'LIMIT_EXCEEDED';
}

export class BadRequestError extends ClientError {
  readonly code = 'BAD_REQUEST';
}

export class UnavailableError extends ClientError {
  readonly code = 'UNAVAILABLE';
}

/** Valid, but not something this server can do (e.g. a codec the router or the client lacks). */
export class UnsupportedError extends ClientError {
  readonly code = 'UNSUPPORTED';
}

export const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export class RateLimitedError extends ClientError {
  readonly code = 'RATE_LIMITED';
}

/** Publishing needs a valid token for the stream's name (PUBLISH_AUTH=token). */
export class UnauthorizedError extends ClientError {
  readonly code = 'UNAUTHORIZED';
}

/** Another publisher holds this stream name and may not be taken over. */
export class StreamInUseError extends ClientError {
  readonly code = 'STREAM_IN_USE';
}
