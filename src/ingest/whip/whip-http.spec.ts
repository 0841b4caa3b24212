import { createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import {
  assertContentType,
  bearerToken,
  iceServerLinks,
  ifMatch,
  MAX_BODY_BYTES,
  mediaTypeOf,
  newEtag,
  newResourceId,
  readBody,
  WhipHttpError,
} from './whip-http';

const refusal = (fn: () => unknown): WhipHttpError => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(WhipHttpError);
    return error as WhipHttpError;
  }
  throw new Error('expected a refusal');
};

const request = (chunks: Array<string | Buffer>, headers: Record<string, string> = {}): IncomingMessage =>
  Object.assign(Readable.from(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c))), { headers }) as unknown as IncomingMessage;

describe('WHIP HTTP helpers', () => {
  it('reads the media type of a Content-Type, parameters and case aside', () => {
    expect(mediaTypeOf('application/sdp')).toBe('application/sdp');
    expect(mediaTypeOf('Application/SDP; charset=utf-8')).toBe('application/sdp');
    expect(mediaTypeOf(undefined)).toBeUndefined();
    expect(mediaTypeOf(' ')).toBeUndefined();
    expect(() => assertContentType('application/sdp;charset=UTF-8', 'application/sdp', 'the offer')).not.toThrow();
    const wrong = refusal(() => assertContentType('application/json', 'application/sdp', 'the offer'));
    expect([wrong.status, wrong.code, wrong.headers]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE', { 'Accept-Post': 'application/sdp' }]);
    expect(wrong.message).toBe('the offer must be sent with Content-Type: application/sdp, got "application/json"');
    expect(refusal(() => assertContentType(undefined, 'application/trickle-ice-sdpfrag', 'a PATCH')).message).toMatch(/got none$/);
  });

  it('takes a Bearer token, refuses other schemes and an empty one with a challenge', () => {
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('bearer  abc-_~+/=')).toBe('abc-_~+/=');
    const basic = refusal(() => bearerToken('Basic dXNlcjpwYXNz'));
    expect([basic.status, basic.headers['WWW-Authenticate']]).toEqual([401, 'Bearer realm="whip", error="invalid_request"']);
    expect(basic.message).toBe('the Authorization header uses the "Basic" scheme; send "Authorization: Bearer <publish token>"');
    expect(refusal(() => bearerToken('Bearer')).message).toMatch(/has no token/);
    expect(refusal(() => bearerToken('Bearer a b')).status).toBe(401);
  });

  it('matches If-Match strongly against the ETag, * matching any', () => {
    const etag = newEtag();
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{16}"$/);
    expect(ifMatch(undefined, etag)).toBe('absent');
    expect(ifMatch('*', etag)).toBe('any');
    expect(ifMatch(etag, etag)).toBe('match');
    expect(ifMatch(`"other", ${etag}`, etag)).toBe('match');
    expect(ifMatch(`W/${etag}`, etag)).toBe('mismatch');
    expect(ifMatch('"stale"', etag)).toBe('mismatch');
  });

  it('makes resource ids nobody can guess: 192 random bits, URL-safe', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newResourceId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });

  it('writes one Link per STUN/TURN server (RFC 9725 §4.6), TURN REST credentials from a secret', () => {
    const whip = { stunUrls: ['stun:stun.example.net'], turn: { urls: [], username: '', credential: '', secret: '', ttlSeconds: 3600 } };
    expect(iceServerLinks(whip, 'studio')).toEqual(['<stun:stun.example.net>; rel="ice-server"']);
    const withTurn = { ...whip, turn: { ...whip.turn, urls: ['turn:turn.example.net?transport=udp'], username: 'u', credential: 'p' } };
    expect(iceServerLinks(withTurn, 'studio')[1]).toBe(
      '<turn:turn.example.net?transport=udp>; rel="ice-server"; username="u"; credential="p"; credential-type="password"',
    );
    const withSecret = {
      ...whip,
      stunUrls: [],
      turn: { ...whip.turn, urls: ['turns:turn.example.net:443?transport=tcp'], secret: 's3cret' },
    };
    const [link] = iceServerLinks(withSecret, 'studio', Date.UTC(2030, 0, 1));
    const username = `${Date.UTC(2030, 0, 1) / 1000 + 3600}:studio`;
    const credential = createHmac('sha1', 's3cret').update(username).digest('base64');
    expect(link).toBe(
      `<turns:turn.example.net:443?transport=tcp>; rel="ice-server"; username="${username}"; credential="${credential}"; credential-type="password"`,
    );
    expect(iceServerLinks({ ...whip, stunUrls: [] }, 'x')).toEqual([]);
  });

  describe('readBody', () => {
    it('reads UTF-8 text in chunks', async () => {
      await expect(readBody(request(['v=0\r\n', 'o=- 1 1 IN IP4 0.0.0.0\r\n', Buffer.from('s=é\r\n')]))).resolves.toBe(
        'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=é\r\n',
      );
    });

    it('refuses more than the limit: at once when Content-Length says so, else when it is passed', async () => {
      const declared = request(['x'], { 'content-length': String(MAX_BODY_BYTES + 1) });
      await expect(readBody(declared)).rejects.toMatchObject({
        status: 413,
        code: 'PAYLOAD_TOO_LARGE',
        message: `the body is ${MAX_BODY_BYTES + 1} bytes; at most ${MAX_BODY_BYTES} bytes are accepted`,
      });
      const chunked = request([Buffer.alloc(40_000, 0x61), Buffer.alloc(40_000, 0x61)]);
      await expect(readBody(chunked)).rejects.toMatchObject({ status: 413, headers: { Connection: 'close' } });
      await expect(readBody(request([Buffer.alloc(MAX_BODY_BYTES, 0x61)]))).resolves.toHaveLength(MAX_BODY_BYTES);
    });

    it('refuses bytes that are not UTF-8', async () => {
      await expect(readBody(request([Buffer.from([0x76, 0x3d, 0x30, 0xff, 0xfe])]))).rejects.toMatchObject({
        status: 400,
        message: 'the body is not valid UTF-8',
      });
    });
  });
});
