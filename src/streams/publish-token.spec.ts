import { CompactSign, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import {
  assertPublishSecret,
  checkPublishSecret,
  PUBLISH_TOKEN_CLOCK_TOLERANCE_SECONDS,
  PublishSecretError,
  PublishTokenError,
  signPublishToken,
  verifyPublishToken,
} from './publish-token';

const SECRET = 'test-secret-with-more-than-32-bytes-0123456789';
const OTHER_SECRET = 'another-secret-also-more-than-32-bytes-abcdef';
const key = (secret: string) => new TextEncoder().encode(secret);
const NOW = new Date('2030-01-01T00:00:00Z');
const NOW_S = NOW.getTime() / 1000;

const b64url = (value: string | object) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A token signed by jose itself, not by our helper, so the verifier is tested against the library's own output. */
function joseToken(payload: JWTPayload, alg = 'HS256', secret = SECRET): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg }).sign(key(secret));
}

/** Verifies and returns the PublishTokenError it must throw. */
async function refusal(token: unknown, expectedName?: string, now = NOW): Promise<PublishTokenError> {
  const error = await verifyPublishToken(token, SECRET, expectedName, { now }).then(
    (claims) => new Error(`accepted: ${JSON.stringify(claims)}`),
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(PublishTokenError);
  expect(error).toMatchObject({ code: 'UNAUTHORIZED' });
  return error as PublishTokenError;
}

describe('verifyPublishToken', () => {
  it('loads jose as its CommonJS build (the one `node dist/main.js` uses)', () => {
    expect(require.resolve('jose')).toMatch(/jose[\\/]dist[\\/]node[\\/]cjs[\\/]index\.js$/);
  });

  it('returns the claims of a token minted by signPublishToken, for its own name or without a name to check', async () => {
    const token = await signPublishToken('studio-1', SECRET, { ttlSeconds: 600, now: NOW });
    const claims = await verifyPublishToken(token, SECRET, 'studio-1', { now: NOW });
    expect(claims).toEqual({ sub: 'studio-1', iat: NOW_S, exp: NOW_S + 600 });
    await expect(verifyPublishToken(token, SECRET, undefined, { now: NOW })).resolves.toMatchObject({ sub: 'studio-1' });
  });

  it('accepts a token signed by jose directly, checked against the real clock', async () => {
    const token = await new SignJWT({ role: 'publisher' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('cam')
      .setExpirationTime('1h')
      .sign(key(SECRET));
    await expect(verifyPublishToken(token, SECRET, 'cam')).resolves.toMatchObject({ sub: 'cam', role: 'publisher' });
  });

  it.each([undefined, null, ''])('no token (%j)', async (token) => {
    expect(await refusal(token)).toMatchObject({ problem: 'NO_TOKEN', message: 'no publish token was presented' });
  });

  describe('malformed', () => {
    it.each([
      ['not a JWT', 'a JWT has 3 dot-separated parts, this has 1'],
      ['a.b', 'a JWT has 3 dot-separated parts, this has 2'],
      ['a.b.c.d.e', 'a JWT has 3 dot-separated parts, this has 5'],
      ['!!!.e30.sig', 'its header is not base64url-encoded JSON'],
      [`${b64url('[1,2]')}.e30.sig`, 'its header is not base64url-encoded JSON'],
      [`${b64url({ typ: 'JWT' })}.e30.sig`, 'its header has no "alg"'],
    ])('%s', async (token, detail) => {
      expect(await refusal(token)).toMatchObject({ problem: 'MALFORMED', message: `publish token is malformed: ${detail}` });
    });

    it('a token that is not a string', async () => {
      expect(await refusal(42)).toMatchObject({
        problem: 'MALFORMED',
        message: 'publish token is malformed: it is a number, not a string',
      });
    });

    it('a correctly signed payload that is not a JSON object', async () => {
      const token = await new CompactSign(new TextEncoder().encode('just text')).setProtectedHeader({ alg: 'HS256' }).sign(key(SECRET));
      expect(await refusal(token)).toMatchObject({
        problem: 'MALFORMED',
        message: 'publish token is malformed: its claims are not a JSON object',
      });
    });

    it('a correctly signed "exp" that is not a number', async () => {
      const token = await joseToken({ sub: 'cam', exp: 'tomorrow' as unknown as number });
      expect(await refusal(token)).toMatchObject({
        problem: 'MALFORMED',
        message: 'publish token is malformed: its "exp" claim is not a number',
      });
    });

    it('a correctly signed "sub" that is not a string', async () => {
      const token = await joseToken({ sub: 7 as unknown as string });
      expect(await refusal(token)).toMatchObject({
        problem: 'MALFORMED',
        message: 'publish token is malformed: its "sub" claim is a number, not a string',
      });
    });
  });

  describe('wrong signature', () => {
    const message = 'publish token signature does not verify: it was signed with another secret or altered';

    it('signed with another secret', async () => {
      const token = await signPublishToken('cam', OTHER_SECRET, { now: NOW });
      expect(await refusal(token, 'cam')).toMatchObject({ problem: 'BAD_SIGNATURE', message });
    });

    it('a payload swapped for another stream, keeping the signature', async () => {
      const [header, , signature] = (await signPublishToken('cam', SECRET, { now: NOW })).split('.');
      const forged = `${header}.${b64url({ sub: 'other', iat: NOW_S, exp: NOW_S + 3600 })}.${signature}`;
      expect(await refusal(forged, 'other')).toMatchObject({ problem: 'BAD_SIGNATURE', message });
    });

    it('is reported before the claims: an expired token for another name with a bad signature', async () => {
      const token = await signPublishToken('cam', OTHER_SECRET, { ttlSeconds: 10, now: new Date(0) });
      expect(await refusal(token, 'other')).toMatchObject({ problem: 'BAD_SIGNATURE' });
    });
  });

  describe('alg: none (hand-built: no library mints these on purpose)', () => {
    const payload = b64url({ sub: 'cam', exp: NOW_S + 3600 });
    it.each(['none', 'None', 'NONE', 'nOnE'])('"alg": "%s"', async (alg) => {
      const error = await refusal(`${b64url({ alg, typ: 'JWT' })}.${payload}.`, 'cam');
      expect(error).toMatchObject({
        problem: 'ALG_NONE',
        message: `publish token is unsigned ("alg": "${alg}"); tokens must be signed with HS256`,
      });
    });

    it('"alg": "none" carrying a genuine HS256 signature of the same payload', async () => {
      const signature = (
        await new CompactSign(new TextEncoder().encode(JSON.stringify({ sub: 'cam' })))
          .setProtectedHeader({ alg: 'HS256' })
          .sign(key(SECRET))
      ).split('.')[2];
      expect(await refusal(`${b64url({ alg: 'none' })}.${b64url({ sub: 'cam' })}.${signature}`)).toMatchObject({ problem: 'ALG_NONE' });
    });
  });

  describe('another algorithm than HS256', () => {
    it.each(['HS384', 'HS512'])('%s with the right secret', async (alg) => {
      const token = await joseToken({ sub: 'cam' }, alg);
      expect(await refusal(token, 'cam')).toMatchObject({
        problem: 'ALG_NOT_ALLOWED',
        message: `publish token is signed with ${alg}; only HS256 is accepted`,
      });
    });

    it.each(['RS256', 'ES256', 'EdDSA'])('%s (a key pair)', async (alg) => {
      const { privateKey } = await generateKeyPair(alg);
      const token = await new SignJWT({ sub: 'cam' }).setProtectedHeader({ alg }).sign(privateKey);
      expect(await refusal(token, 'cam')).toMatchObject({
        problem: 'ALG_NOT_ALLOWED',
        message: `publish token is signed with ${alg}; only HS256 is accepted`,
      });
    });
  });

  describe('exp and nbf, with a clock tolerance of 30 s', () => {
    it('expired: says when, and how long ago by the server clock', async () => {
      const token = await joseToken({ sub: 'cam', exp: NOW_S - 120 });
      expect(await refusal(token, 'cam')).toMatchObject({
        problem: 'EXPIRED',
        message: 'publish token expired at 2029-12-31T23:58:00.000Z (120 s ago, server time 2030-01-01T00:00:00.000Z)',
      });
    });

    it('expired by the real clock (minted an hour ago with a 10-minute lifetime)', async () => {
      const token = await signPublishToken('cam', SECRET, { ttlSeconds: 600, now: new Date(Date.now() - 3600_000) });
      await expect(verifyPublishToken(token, SECRET, 'cam')).rejects.toMatchObject({ problem: 'EXPIRED' });
    });

    it('not yet valid: says from when', async () => {
      const token = await signPublishToken('cam', SECRET, { notBeforeSeconds: 600, ttlSeconds: 3600, now: NOW });
      expect(await refusal(token, 'cam')).toMatchObject({
        problem: 'NOT_YET_VALID',
        message: 'publish token is not valid yet: not before 2030-01-01T00:10:00.000Z (in 600 s, server time 2030-01-01T00:00:00.000Z)',
      });
    });

    it('not yet valid by the real clock (nbf an hour ahead)', async () => {
      const token = await signPublishToken('cam', SECRET, { notBeforeSeconds: 3600, ttlSeconds: 7200 });
      await expect(verifyPublishToken(token, SECRET, 'cam')).rejects.toMatchObject({ problem: 'NOT_YET_VALID' });
    });

    it('tolerates clocks up to 30 s apart, and not one second more', async () => {
      const tolerance = PUBLISH_TOKEN_CLOCK_TOLERANCE_SECONDS;
      expect(tolerance).toBe(30);
      const expiredWithin = await joseToken({ sub: 'cam', exp: NOW_S - tolerance + 1 });
      const notBeforeWithin = await joseToken({ sub: 'cam', nbf: NOW_S + tolerance });
      await expect(verifyPublishToken(expiredWithin, SECRET, 'cam', { now: NOW })).resolves.toMatchObject({ sub: 'cam' });
      await expect(verifyPublishToken(notBeforeWithin, SECRET, 'cam', { now: NOW })).resolves.toMatchObject({ sub: 'cam' });

      expect(await refusal(await joseToken({ sub: 'cam', exp: NOW_S - tolerance }), 'cam')).toMatchObject({ problem: 'EXPIRED' });
      expect(await refusal(await joseToken({ sub: 'cam', nbf: NOW_S + tolerance + 1 }), 'cam')).toMatchObject({ problem: 'NOT_YET_VALID' });
    });

    it('a far-future nbf is still described', async () => {
      const error = await refusal(await joseToken({ sub: 'cam', nbf: 1e20 }), 'cam');
      expect(error).toMatchObject({
        problem: 'NOT_YET_VALID',
        message: 'publish token is not valid yet: not before 100000000000000000000 (seconds since 1970)',
      });
    });
  });

  describe('sub', () => {
    it.each([
      ['absent', {}],
      ['empty', { sub: '' }],
    ])('missing sub (%s)', async (_, claims) => {
      const token = await joseToken({ ...claims, exp: NOW_S + 60 });
      expect(await refusal(token, 'cam')).toMatchObject({
        problem: 'MISSING_SUB',
        message: 'publish token has no "sub" claim (the stream name it allows publishing to)',
      });
    });

    it('missing sub is refused even when no name is asked for', async () => {
      expect(await refusal(await joseToken({ exp: NOW_S + 60 }))).toMatchObject({ problem: 'MISSING_SUB' });
    });

    it('a token for another name than the one requested', async () => {
      const token = await signPublishToken('studio-1', SECRET, { now: NOW });
      expect(await refusal(token, 'studio-2')).toMatchObject({
        problem: 'WRONG_STREAM',
        message: 'publish token is for stream "studio-1", not "studio-2"',
      });
      // Exact match: no prefix, no case folding.
      expect(await refusal(token, 'studio-10')).toMatchObject({ problem: 'WRONG_STREAM' });
      expect(await refusal(token, 'Studio-1')).toMatchObject({ problem: 'WRONG_STREAM' });
    });
  });

  it('gives each of the nine cases its own problem and message', async () => {
    const cases = await Promise.all([
      refusal(undefined),
      refusal('x'),
      refusal(await signPublishToken('cam', OTHER_SECRET, { now: NOW }), 'cam'),
      refusal(`${b64url({ alg: 'none' })}.${b64url({ sub: 'cam' })}.`, 'cam'),
      refusal(await joseToken({ sub: 'cam' }, 'HS512'), 'cam'),
      refusal(await joseToken({ sub: 'cam', exp: NOW_S - 3600 }), 'cam'),
      refusal(await joseToken({ sub: 'cam', nbf: NOW_S + 3600 }), 'cam'),
      refusal(await joseToken({ exp: NOW_S + 3600 }), 'cam'),
      refusal(await joseToken({ sub: 'other' }), 'cam'),
    ]);
    expect(new Set(cases.map((error) => error.problem)).size).toBe(9);
    expect(new Set(cases.map((error) => error.message)).size).toBe(9);
  });

  it('refuses to verify with a short secret: a server misconfiguration, not the publisher’s fault', async () => {
    const token = await joseToken({ sub: 'cam' }, 'HS256', 'short');
    await expect(verifyPublishToken(token, 'short', 'cam')).rejects.toThrow(PublishSecretError);
  });
});

describe('publish secret', () => {
  it.each([
    [undefined, 'PUBLISH_JWT_SECRET is not set'],
    ['', 'PUBLISH_JWT_SECRET is not set'],
    ['x'.repeat(31), 'PUBLISH_JWT_SECRET is 31 bytes long'],
    ['é'.repeat(15), 'PUBLISH_JWT_SECRET is 30 bytes long'],
  ])('refuses %j: %s', (secret, start) => {
    expect(checkPublishSecret(secret)).toBe(
      `${start}; HS256 needs a secret of at least 32 bytes (RFC 7518 §3.2); generate one with \`openssl rand -base64 48\``,
    );
    expect(() => assertPublishSecret(secret)).toThrow(PublishSecretError);
  });

  it('counts bytes, not characters: 32 ASCII bytes or 16 two-byte characters are enough', () => {
    expect(checkPublishSecret('x'.repeat(32))).toBeUndefined();
    expect(checkPublishSecret('é'.repeat(16))).toBeUndefined();
    expect(() => assertPublishSecret('x'.repeat(32))).not.toThrow();
  });

  it('names the variable it was given and never prints the secret', () => {
    const problem = checkPublishSecret('hunter2', 'MY_SECRET');
    expect(problem).toMatch(/^MY_SECRET is 7 bytes long;/);
    expect(problem).not.toContain('hunter2');
  });

  it('signPublishToken refuses a short secret too', async () => {
    await expect(signPublishToken('cam', 'short')).rejects.toThrow(/PUBLISH_JWT_SECRET is 5 bytes long/);
  });
});
