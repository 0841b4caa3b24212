import { SignJWT } from 'jose';

/**
 * Publish tokens for tests, good and bad: `alg` another algorithm (or `none`, hand-built, unsigned),
 * `exp`/`nbf` in seconds from now.
 */
export async function sign(name: string, secret: string, options: { alg?: string; exp?: number; nbf?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { sub: name, iat: now, exp: now + (options.exp ?? 600) };
  if (options.nbf !== undefined) claims.nbf = now + options.nbf;
  if (options.alg === 'none') {
    const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
  }
  return new SignJWT(claims).setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret));
}
