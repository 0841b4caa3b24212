import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AppConfig } from '../../config/app.config';

/** What POST takes (RFC 9725 §4.2) and what PATCH takes and answers (RFC 8840 §9). */
export const SDP_TYPE = 'application/sdp';
export const SDPFRAG_TYPE = 'application/trickle-ice-sdpfrag';

/**
 * The largest body we read. Real offers are 1–10 KB (Chromium with every codec and simulcast: ~9 KB),
 * fragments far less; the socket.io path allows 64 KB per message too.
 */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * A refusal, as the HTTP answer: status, a stable `code`, a message for the person reading the
 * client's log, and headers that go with it (WWW-Authenticate, Allow, Retry-After).
 */
export class WhipHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'WhipHttpError';
  }
}

/** `type/subtype` of a Content-Type header, lower-cased, without parameters; undefined if there is none. */
export function mediaTypeOf(header: string | undefined): string | undefined {
  const type = header?.split(';', 1)[0].trim().toLowerCase();
  return type ? type : undefined;
}

/** Refuses a body whose Content-Type is not `expected` (415, naming what we take). */
export function assertContentType(header: string | undefined, expected: string, what: string): void {
  const type = mediaTypeOf(header);
  if (type === expected) return;
  throw new WhipHttpError(
    415,
    'UNSUPPORTED_MEDIA_TYPE',
    `${what} must be sent with Content-Type: ${expected}, got ${type === undefined ? 'none' : JSON.stringify(header)}`,
    expected === SDP_TYPE ? { 'Accept-Post': SDP_TYPE } : { 'Accept-Patch': SDPFRAG_TYPE },
  );
}

/**
 * The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1), undefined without the
 * header; a header of another scheme or without a token is refused (401).
 */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const match = /^\s*bearer\s+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header);
  if (!match) {
    const scheme = header.trim().split(/\s+/, 1)[0];
    throw unauthorized(
      /^bearer$/i.test(scheme)
        ? 'the Authorization header has no token: send "Authorization: Bearer <publish token>"'
        : `the Authorization header uses the ${JSON.stringify(scheme.slice(0, 20))} scheme; send "Authorization: Bearer <publish token>"`,
      'invalid_request',
    );
  }
  return match[1];
}

/** 401 with the challenge RFC 6750 §3 asks for. */
export function unauthorized(message: string, error: 'invalid_request' | 'invalid_token' = 'invalid_token'): WhipHttpError {
  return new WhipHttpError(401, 'UNAUTHORIZED', message, { 'WWW-Authenticate': `Bearer realm="whip", error="${error}"` });
}

/** 403: a valid token for another stream. */
export function forbidden(message: string): WhipHttpError {
  return new WhipHttpError(403, 'FORBIDDEN', message, { 'WWW-Authenticate': 'Bearer realm="whip", error="insufficient_scope"' });
}

export type IfMatch = 'absent' | 'any' | 'match' | 'mismatch';

/** An If-Match header (RFC 9110 §13.1.1) against the resource's strong entity-tag. */
export function ifMatch(header: string | undefined, etag: string): IfMatch {
  if (header === undefined || header.trim() === '') return 'absent';
  if (header.trim() === '*') return 'any';
  // A list of entity-tags; a weak one (W/"…") never matches under the strong comparison If-Match uses.
  const tags = header.split(',').map((tag) => tag.trim());
  return tags.includes(etag) ? 'match' : 'mismatch';
}

/** A new strong entity-tag: one per ICE session of a resource. */
export function newEtag(): string {
  return `"${randomBytes(12).toString('base64url')}"`;
}

/** An unguessable resource id (192 bits): knowing a stream's name is not enough to end or patch its session. */
export function newResourceId(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * The `Link: <uri>; rel="ice-server"` values of a 201 (RFC 9725 §4.6), one per configured STUN/TURN
 * server. With a TURN shared secret, credentials are made for this session as coturn's TURN REST API
 * expects them: username `<expiry>:<label>`, password base64(HMAC-SHA1(secret, username)).
 */
export function iceServerLinks(whip: AppConfig['whip'], label: string, now = Date.now()): string[] {
  const links = whip.stunUrls.map((url) => `<${url}>; rel="ice-server"`);
  const { turn } = whip;
  if (turn.urls.length === 0) return links;
  let username = turn.username;
  let credential = turn.credential;
  if (turn.secret) {
    username = `${Math.floor(now / 1000) + turn.ttlSeconds}:${label}`;
    credential = createHmac('sha1', turn.secret).update(username).digest('base64');
  }
  for (const url of turn.urls) {
    links.push(`<${url}>; rel="ice-server"; username="${username}"; credential="${credential}"; credential-type="password"`);
  }
  return links;
}

/**
 * The request body as text, at most `limit` bytes (413 beyond, before reading when Content-Length
 * says so already), valid UTF-8 (RFC 8866 §5: SDP is UTF-8; 400 otherwise).
 */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<string> {
  const tooLarge = (size: string) =>
    new WhipHttpError(413, 'PAYLOAD_TOO_LARGE', `the body is ${size}; at most ${limit} bytes are accepted`, { Connection: 'close' });
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(`${declared} bytes`));
  // Nothing else reads these bodies (Nest's parsers take JSON and forms only); a consumed stream would never end.
  if (req.readableEnded) return Promise.reject(new WhipHttpError(400, 'BAD_REQUEST', 'the body was already consumed'));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (error?: Error) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      if (error) {
        // Stop reading: the answer says Connection: close, the rest of the upload is not wanted.
        req.pause();
        reject(error);
        return;
      }
      try {
        resolve(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks)));
      } catch {
        reject(new WhipHttpError(400, 'BAD_REQUEST', 'the body is not valid UTF-8'));
      }
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) done(tooLarge(`over ${limit} bytes`));
      else chunks.push(chunk);
    };
    const onEnd = () => done();
    const onError = (error: Error) => done(new WhipHttpError(400, 'BAD_REQUEST', `the body could not be read: ${error.message}`));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
