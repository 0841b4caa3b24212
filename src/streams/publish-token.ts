import { decodeProtectedHeader, errors as jose, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { ClientError } from '../common/errors';

/** The one algorithm publish tokens may use: a shared secret (HMAC-SHA256), so the server needs no key infrastructure. */
export const PUBLISH_TOKEN_ALGORITHM = 'HS256';

/** RFC 7518 §3.2: an HS256 key MUST be at least as long as the hash output, 256 bits. */
export const MIN_PUBLISH_SECRET_BYTES = 32;

/** The environment variable that holds the secret, unless told otherwise. */
export const PUBLISH_SECRET_VARIABLE = 'PUBLISH_JWT_SECRET';

/**
 * Leeway on `exp` and `nbf`: the machine that mints a token and the server are different clocks, and
 * even NTP-synchronised ones disagree by a second or more (a phone or a fresh VM by more). Without it a
 * token minted with `nbf = now` is "not yet valid" on a server a second behind. 30 s is small beside
 * token lifetimes (minutes to hours) and a token is only checked when a publisher connects.
 * RFC 7519 §4.1.4/§4.1.5 allow such "small leeway".
 */
export const PUBLISH_TOKEN_CLOCK_TOLERANCE_SECONDS = 30;

/** Lifetime of a minted token unless told otherwise. */
export const DEFAULT_PUBLISH_TOKEN_TTL_SECONDS = 3600;

/** A verified token's claims: `sub` is the stream name it allows publishing to. */
export type PublishTokenClaims = JWTPayload & { sub: string };

export type PublishTokenProblem =
  | 'NO_TOKEN'
  | 'MALFORMED'
  | 'BAD_SIGNATURE'
  | 'ALG_NONE'
  | 'ALG_NOT_ALLOWED'
  | 'EXPIRED'
  | 'NOT_YET_VALID'
  | 'MISSING_SUB'
  | 'WRONG_STREAM';

/** A refused publish token: `problem` tells the cases apart for code, the message tells the publisher what is wrong. */
export class PublishTokenError extends ClientError {
  readonly code = 'UNAUTHORIZED';
  constructor(
    readonly problem: PublishTokenProblem,
    message: string,
  ) {
    super(message);
    this.name = 'PublishTokenError';
  }
}

/** The server's secret is missing or too short: a configuration error, never the publisher's fault. */
export class PublishSecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PublishSecretError';
  }
}

/**
 * What is wrong with the secret, or undefined when it is usable. For start-up validation, which lists
 * every bad variable; the message never contains the secret itself.
 */
export function checkPublishSecret(secret: string | undefined, variable = PUBLISH_SECRET_VARIABLE): string | undefined {
  const advice = `HS256 needs a secret of at least ${MIN_PUBLISH_SECRET_BYTES} bytes (RFC 7518 §3.2); generate one with \`openssl rand -base64 48\``;
  if (secret === undefined || secret === '') return `${variable} is not set; ${advice}`;
  const bytes = Buffer.byteLength(secret, 'utf8');
  if (bytes < MIN_PUBLISH_SECRET_BYTES) return `${variable} is ${bytes} bytes long; ${advice}`;
  return undefined;
}

/** Throws PublishSecretError unless `secret` is usable for HS256. */
export function assertPublishSecret(secret: string | undefined, variable = PUBLISH_SECRET_VARIABLE): asserts secret is string {
  const problem = checkPublishSecret(secret, variable);
  if (problem) throw new PublishSecretError(problem);
}

export interface SignPublishTokenOptions {
  /** Seconds from `now` until the token expires. */
  ttlSeconds?: number;
  /** Seconds from `now` before which the token is not valid (`nbf`); none by default. */
  notBeforeSeconds?: number;
  now?: Date;
}

/** A token allowing publishing to stream `name` (its `sub`), signed with HS256. */
export async function signPublishToken(name: string, secret: string, options: SignPublishTokenOptions = {}): Promise<string> {
  assertPublishSecret(secret);
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: PUBLISH_TOKEN_ALGORITHM, typ: 'JWT' })
    .setSubject(name)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.ttlSeconds ?? DEFAULT_PUBLISH_TOKEN_TTL_SECONDS));
  if (options.notBeforeSeconds !== undefined) jwt.setNotBefore(now + options.notBeforeSeconds);
  return jwt.sign(new TextEncoder().encode(secret));
}

export interface VerifyPublishTokenOptions {
  /** The time to check `exp` and `nbf` against (tests); the clock by default. */
  now?: Date;
}

/**
 * The claims of a valid publish token, or a PublishTokenError naming what is wrong. `expectedName`, when
 * given, must equal the token's `sub`. The signature is checked before any claim, so an altered token is
 * reported as such and not by whatever its forged claims say.
 */
export async function verifyPublishToken(
  token: unknown,
  secret: string,
  expectedName?: string,
  options: VerifyPublishTokenOptions = {},
): Promise<PublishTokenClaims> {
  assertPublishSecret(secret);
  if (token === undefined || token === null || token === '') throw new PublishTokenError('NO_TOKEN', 'no publish token was presented');
  if (typeof token !== 'string') throw malformed(`it is a ${typeof token}, not a string`);
  const parts = token.split('.').length;
  if (parts !== 3) throw malformed(`a JWT has 3 dot-separated parts, this has ${parts}`);

  // The header is read before verifying only to name the algorithm in the refusal; jwtVerify below
  // enforces the same allow-list itself.
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    throw malformed('its header is not base64url-encoded JSON');
  }
  if (typeof alg !== 'string' || alg === '') throw malformed('its header has no "alg"');
  // Any spelling: "None" and "NONE" are the classic ways around a case-sensitive check.
  if (alg.toLowerCase() === 'none') {
    throw new PublishTokenError(
      'ALG_NONE',
      `publish token is unsigned ("alg": "${alg}"); tokens must be signed with ${PUBLISH_TOKEN_ALGORITHM}`,
    );
  }
  if (alg !== PUBLISH_TOKEN_ALGORITHM) {
    throw new PublishTokenError('ALG_NOT_ALLOWED', `publish token is signed with ${alg}; only ${PUBLISH_TOKEN_ALGORITHM} is accepted`);
  }

  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, new TextEncoder().encode(secret), {
      algorithms: [PUBLISH_TOKEN_ALGORITHM],
      clockTolerance: PUBLISH_TOKEN_CLOCK_TOLERANCE_SECONDS,
      currentDate: options.now,
    }));
  } catch (error) {
    throw refusal(error, options.now ?? new Date());
  }

  if (payload.sub === undefined || payload.sub === '') {
    throw new PublishTokenError('MISSING_SUB', 'publish token has no "sub" claim (the stream name it allows publishing to)');
  }
  if (typeof payload.sub !== 'string') throw malformed(`its "sub" claim is a ${typeof payload.sub}, not a string`);
  if (expectedName !== undefined && payload.sub !== expectedName) {
    throw new PublishTokenError(
      'WRONG_STREAM',
      `publish token is for stream ${JSON.stringify(payload.sub)}, not ${JSON.stringify(expectedName)}`,
    );
  }
  return payload as PublishTokenClaims;
}

function malformed(detail: string): PublishTokenError {
  return new PublishTokenError('MALFORMED', `publish token is malformed: ${detail}`);
}

/** jose's error for a token that passed the header checks, as the refusal a publisher can act on. */
function refusal(error: unknown, now: Date): unknown {
  if (error instanceof jose.JWSSignatureVerificationFailed) {
    return new PublishTokenError('BAD_SIGNATURE', 'publish token signature does not verify: it was signed with another secret or altered');
  }
  if (error instanceof jose.JWTExpired) {
    return new PublishTokenError('EXPIRED', `publish token expired at ${when(error.payload.exp, now)}`);
  }
  if (error instanceof jose.JWTClaimValidationFailed) {
    if (error.claim === 'nbf' && error.reason === 'check_failed') {
      return new PublishTokenError('NOT_YET_VALID', `publish token is not valid yet: not before ${when(error.payload.nbf, now)}`);
    }
    // Only a claim of the wrong type gets here ("exp": "tomorrow"): we ask jose to check nothing else.
    return malformed(`its "${error.claim}" claim ${error.reason === 'invalid' ? 'is not a number' : 'is invalid'}`);
  }
  if (error instanceof jose.JWTInvalid) return malformed('its claims are not a JSON object');
  if (error instanceof jose.JWSInvalid) return malformed(error.message);
  return error;
}

/** `2024-05-01T10:00:00.000Z (90 s ago)`: the instant, and how far it is from the server's clock. */
function when(seconds: unknown, now: Date): string {
  // A date beyond year 275760 has no ISO form: print the number as it came.
  if (typeof seconds !== 'number' || Math.abs(seconds) > 8.64e12) return `${String(seconds)} (seconds since 1970)`;
  const delta = Math.round(seconds - now.getTime() / 1000);
  return `${new Date(seconds * 1000).toISOString()} (${delta < 0 ? `${-delta} s ago` : `in ${delta} s`}, server time ${now.toISOString()})`;
}
