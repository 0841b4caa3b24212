import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

jest.setTimeout(150_000);

const ROOT = join(__dirname, '..');

/** Runs a command to completion (or kills it after timeoutMs), collecting its output. */
function run(command: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    // SIGINT first: the bench stops its server and generator on it; SIGKILL if that hangs.
    const timer = setTimeout(() => {
      child.kill('SIGINT');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/**
 * `npm run bench -- --smoke`: two real WebRTC publishers (ICE, DTLS, SRTP) into the built server
 * (`node dist/main.js`, compiled by test/global-setup.js), pinned to its own core, for ~10 s.
 * Asserts what the smoke run must always produce; the capacity targets are the full benchmark's.
 */
describe('benchmark smoke run (scripts/bench.mjs --smoke)', () => {
  let out: string;

  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'webrtc-hls-bench-smoke-'));
  });

  afterAll(() => {
    rmSync(out, { recursive: true, force: true });
  });

  it('publishes N=2 streams and reports per-process CPU, RSS, time to live and segment timeliness', async () => {
    // Port block 17000…19999: clear of the tests' 24000–32000 and of the bench's default 14000.
    const { code, output } = await run(process.execPath, ['scripts/bench.mjs', '--smoke', '--out', out, '--port-base', '17000'], 100_000);
    expect({ code, output: code === 0 ? '' : output }).toEqual({ code: 0, output: '' });

    const name = readdirSync(out).find((file) => file.endsWith('-smoke.json'));
    expect(name).toBeDefined();
    const result = JSON.parse(readFileSync(join(out, name!), 'utf8'));
    expect(existsSync(join(out, name!.replace(/\.json$/, '.md')))).toBe(true);
    expect(readFileSync(join(out, name!.replace(/\.json$/, '.svg')), 'utf8')).toMatch(/^<svg /);

    expect(Object.keys(result.profiles)).toEqual(['copy']);
    const steps = result.profiles.copy.variants.h264.steps;
    expect(steps.map((s: { n: number }) => s.n)).toEqual([2]);
    const [step] = steps;
    expect(step.added).toBe(2);
    expect(step.failures).toMatchObject({ connect: 0, iceDtls: 0, notLive: 0, notPlayable: 0 });

    expect(step.serverCores).toBeGreaterThan(0);
    expect(step.split.node).toBeGreaterThan(0);
    expect(step.split.mediasoup).toBeGreaterThan(0);
    expect(step.split.ffmpeg).toBeGreaterThan(0);
    expect(step.processCounts).toMatchObject({ node: 1, mediasoup: 1, ffmpeg: 2 });
    expect(step.generatorCores).toBeGreaterThan(0);
    expect(step.rssMiB.node.maxProcess).toBeGreaterThan(0);
    expect(step.rssMiB.ffmpeg.maxCount).toBe(2);

    expect(step.produceToLive.count).toBe(2);
    expect(step.produceToLive.medianMs).toBeGreaterThan(0);
    expect(step.produceToPlayable.count).toBe(2);
    expect(step.produceToPlayable.p95Ms).toBeGreaterThan(0);
    // Both media playlists of both streams advanced during the measured window.
    expect(step.timeliness.playlists).toBe(4);
    expect(step.timeliness.segments).toBeGreaterThan(4);
  });
});
