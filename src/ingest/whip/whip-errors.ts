import {
  BadRequestError,
  ClientError,
  LimitExceededError,
  NotFoundError,
  StreamInUseError,
  UnauthorizedError,
  UnavailableError,
  UnsupportedError,
} from '../../common/errors';
import { PublishTokenError } from '../../streams/publish-token';
import { WhipOfferError } from './errors';
import { forbidden, unauthorized, WhipHttpError } from './whip-http';

/** Clients may try again after this long when the server is full. */
export const RETRY_AFTER_SECONDS = 5;

/** 503: no room for another publisher now (worker, ports, peers). */
export function noCapacity(message: string): WhipHttpError {
  return new WhipHttpError(503, 'NO_CAPACITY', message, { 'Retry-After': String(RETRY_AFTER_SECONDS) });
}

/**
 * Any error of a WHIP request as its HTTP answer (RFC 9725 §4.2 and HTTP semantics); undefined for
 * our own failures (500, logged by the caller).
 */
export function toWhipHttpError(error: unknown): WhipHttpError | undefined {
  if (error instanceof WhipHttpError) return error;
  if (error instanceof WhipOfferError)
    return new WhipHttpError(error.status, error.status === 422 ? 'UNSUPPORTED_CODEC' : 'BAD_OFFER', error.message);
  if (error instanceof PublishTokenError) return error.problem === 'WRONG_STREAM' ? forbidden(error.message) : unauthorized(error.message);
  if (error instanceof UnauthorizedError) return unauthorized(error.message);
  if (error instanceof StreamInUseError) return new WhipHttpError(409, error.code, error.message);
  if (error instanceof NotFoundError) return new WhipHttpError(404, error.code, error.message);
  // Limits of the server (MAX_PEERS, a worker being replaced), not of this request.
  if (error instanceof LimitExceededError || error instanceof UnavailableError) return noCapacity(error.message);
  // mediasoup's worker: "no more available ports" when the RTC port range (WEBRTC_SERVER=false) is full.
  if (error instanceof Error && /no more available ports/i.test(error.message)) {
    return noCapacity(`no WebRTC port left on the server (${error.message})`);
  }
  if (error instanceof UnsupportedError) return new WhipHttpError(422, error.code, error.message);
  if (error instanceof BadRequestError) return new WhipHttpError(400, error.code, error.message);
  if (error instanceof ClientError) return new WhipHttpError(400, error.code, error.message);
  return undefined;
}
