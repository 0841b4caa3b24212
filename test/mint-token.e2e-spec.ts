import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { verifyPublishToken } from '../src/streams/publish-token';
import { validateStreamName } from '../src/streams/stream-name';

const ROOT = join(__dirname, '..');
const SECRET = 'mint-token-test-secret-0123456789-abcdefghij';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `npm run -s token -- <args>` as a user types it; `env` replaces the secret variables of this process's environment. */
function mint(args: string[], env: Record<string, string> = { PUBLISH_JWT_SECRET: SECRET }): Promise<Run> {
  const base = { ...process.env };
  delete base.PUBLISH_JWT_SECRET;
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '-s', 'token', '--', ...args], {
      cwd: ROOT,
      env: { ...base, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run token', () => {
  it('prints only a token, for that name, that the server verifies; one hour by default', async () => {
    const before = Math.floor(Date.now() / 1000);
    const run = await mint(['studio-1']);
    expect(run).toMatchObject({ code: 0 });
    expect(run.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const token = run.stdout.trim();
    await expect(verifyPublishToken(token, SECRET, 'studio-1')).resolves.toMatchObject({ sub: 'studio-1' });
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT' });
    const claims = decodeJwt(token);
    expect(claims.exp! - claims.iat!).toBe(3600);
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect(run.stderr).toMatch(/^publish token for stream "studio-1", signed with \$PUBLISH_JWT_SECRET, valid until \S+ \(3600 s\)\n$/);
  });

  it('--ttl sets the lifetime; --secret-env reads the secret from another variable', async () => {
    const other = 'a-different-secret-of-more-than-32-bytes-xyz';
    const run = await mint(['cam_2', '--ttl', '90', '--secret-env', 'MY_PUBLISH_SECRET'], {
      MY_PUBLISH_SECRET: other,
      PUBLISH_JWT_SECRET: SECRET,
    });
    expect(run).toMatchObject({ code: 0 });
    const token = run.stdout.trim();
    const claims = decodeJwt(token);
    expect(claims.exp! - claims.iat!).toBe(90);
    await expect(verifyPublishToken(token, other, 'cam_2')).resolves.toMatchObject({ sub: 'cam_2' });
    await expect(verifyPublishToken(token, SECRET, 'cam_2')).rejects.toMatchObject({ problem: 'BAD_SIGNATURE' });
  });

  it.each(['cam-video', 'a b', 'x'.repeat(65)])('refuses the stream name %j with the server’s own message', async (name) => {
    const run = await mint([name]);
    expect(run).toEqual({ code: 1, stdout: '', stderr: `mint-token: ${validateStreamName(name)!.message}\n` });
  });

  it('refuses a secret shorter than 32 bytes, and a missing one, without printing it', async () => {
    const short = await mint(['cam'], { PUBLISH_JWT_SECRET: 'too-short-secret' });
    expect(short).toMatchObject({ code: 1, stdout: '' });
    expect(short.stderr).toMatch(
      /^mint-token: PUBLISH_JWT_SECRET is 16 bytes long; HS256 needs a secret of at least 32 bytes \(RFC 7518 §3\.2\)/,
    );
    expect(short.stderr).not.toContain('too-short-secret');

    const unset = await mint(['cam', '--secret-env', 'UNSET_PUBLISH_SECRET'], {});
    expect(unset).toMatchObject({ code: 1, stdout: '' });
    expect(unset.stderr).toMatch(/^mint-token: UNSET_PUBLISH_SECRET is not set;/);
  });

  it.each([
    [['cam', '--ttl', '0'], /--ttl must be a whole number of seconds \(1 or more\), got "0"/],
    [['cam', '--ttl', '1h'], /--ttl must be a whole number of seconds \(1 or more\), got "1h"/],
    [[], /expected one stream name, got 0\nusage: /],
    [['a', 'b'], /expected one stream name, got 2\nusage: /],
    [['cam', '--secret', 'x'], /Unknown option '--secret'/],
  ])('a wrong command line %j exits 2 with usage', async (args, message) => {
    const run = await mint(args);
    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toMatch(message);
  });
});
