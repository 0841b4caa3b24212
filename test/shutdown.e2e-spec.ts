import type { Browser } from 'playwright-core';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { waitFor } from './support/app';
import { launchChromium } from './support/browser';
import { openTestPage } from './support/pages';
import { randomPortEnv } from './support/ports';
import { stripColors } from './support/text';

jest.setTimeout(120_000);

const ROOT = join(__dirname, '..');
const GRACE_MS = 1500;
const EXIT_WITHIN_MS = 10_000;

interface ProcInfo {
  pid: number;
  ppid: number;
  state: string;
  /** Clock ticks after boot: tells a process from a later one that reuses its pid. */
  startTime: number;
  name: string;
}

/** /proc/<pid>/stat, or undefined once the process is gone. */
function procInfo(pid: number): ProcInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (in parentheses) may itself contain spaces or parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    let name: string;
    try {
      name = basename(readlinkSync(`/proc/${pid}/exe`));
    } catch {
      name = basename(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]);
    }
    return { pid, state: fields[0], ppid: Number(fields[1]), startTime: Number(fields[19]), name };
  } catch {
    return undefined;
  }
}

/** Every process whose parent is `ppid`. */
function childrenOf(ppid: number): ProcInfo[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map((entry) => procInfo(Number(entry)))
    .filter((info): info is ProcInfo => info?.ppid === ppid);
}

/** Still running: same pid and start time, and not a zombie (a zombie has exited, only unreaped). */
function stillRunning(proc: ProcInfo): boolean {
  const now = procInfo(proc.pid);
  return now !== undefined && now.startTime === proc.startTime && now.state !== 'Z';
}

interface Server {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/**
 * Starts `node dist/main.js` (built by test/global-setup.js) on a port the OS picks. `detached`
 * gives it a process group of its own, like a terminal's foreground job, so the test can signal
 * the group as Ctrl-C does.
 */
async function startServer(hlsDir: string, detached = false): Promise<Server> {
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      ANNOUNCED_IP: '127.0.0.1',
      HLS_DIR: hlsDir,
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
      MEDIASOUP_WORKERS: '2',
      LOG_LEVEL: 'log',
      ...randomPortEnv(),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached,
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const url = await waitFor(
    'the server to listen',
    () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server exited:\n${output}`);
      return /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
    },
    60_000,
    100,
  );
  return { child, url, output: () => output, exited };
}

async function readiness(url: string): Promise<{ status: number; body: any } | { status: 0; error: string }> {
  try {
    const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2000) });
    return { status: response.status, body: await response.json() };
  } catch (error) {
    return { status: 0, error: String((error as Error).cause ?? error) };
  }
}

/** Publishes the fake camera and microphone from a Chromium page and waits until HLS is live. */
async function publishLive(browser: Browser, url: string): Promise<string> {
  const page = await openTestPage(browser, url, 'harness');
  const peerId: string = await page.evaluate(() => (window as any).harness.connect());
  await page.evaluate(() => (window as any).harness.publish({ video: 'camera', audio: 'mic' }));
  await waitFor(
    `stream ${peerId} live`,
    async () => {
      const response = await fetch(`${url}/api/streams/${peerId}`);
      return response.ok && (await response.json()).state === 'live';
    },
    45_000,
    250,
  );
  return peerId;
}

/** Resolves with the exit, or undefined if the process is still running `withinMs` after `since`. */
async function exitWithin(server: Server, since: number, withinMs: number) {
  return Promise.race([server.exited, delay(Math.max(0, withinMs - (Date.now() - since)), undefined, { ref: false })]);
}

describe('shutdown of node dist/main.js with a live publisher (FFmpeg running)', () => {
  let server: Server | undefined;
  let browser: Browser | undefined;
  let hlsDir: string;
  let children: ProcInfo[] = [];

  beforeAll(async () => {
    hlsDir = mkdtempSync(join(tmpdir(), 'webrtc-hls-shutdown-'));
    browser = await launchChromium();
  });

  /** Starts the server and a live publisher; records the server's children (2 workers, 1 FFmpeg). */
  async function startWithPublisher(detached = false) {
    server = await startServer(hlsDir, detached);
    await waitFor('readiness 200', async () => (await readiness(server!.url)).status === 200, 30_000, 200);
    await publishLive(browser!, server.url);
    children = childrenOf(server.child.pid!);
    const workers = children.filter((proc) => proc.name === 'mediasoup-worker');
    const ffmpegs = children.filter((proc) => proc.name === 'ffmpeg');
    expect(workers).toHaveLength(2);
    expect(ffmpegs).toHaveLength(1);
    return { server, pid: server.child.pid!, workers, ffmpegs };
  }

  afterEach(async () => {
    for (const context of browser?.contexts() ?? []) await context.close();
    // Only if a test failed half-way: end what it started, by pid.
    if (server && server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
    for (const proc of children) if (stillRunning(proc)) process.kill(proc.pid, 'SIGKILL');
    server = undefined;
    children = [];
  });

  afterAll(async () => {
    await browser?.close();
    rmSync(hlsDir, { recursive: true, force: true });
  });

  it('SIGTERM: readiness fails first, then the process exits within 10 s leaving no worker or FFmpeg behind', async () => {
    const { server, pid, workers, ffmpegs } = await startWithPublisher();
    const { url } = server;
    try {
      const sentAt = Date.now();
      process.kill(pid, 'SIGTERM');

      // Readiness fails first: 503 while the server still answers and FFmpeg still runs.
      const first = await waitFor(
        'readiness 503',
        async () => {
          const answer = await readiness(url);
          return answer.status === 503 ? { answer, at: Date.now(), ffmpegRunning: ffmpegs.every(stillRunning) } : undefined;
          // Until the exit, not the grace: a slow host may answer the first probe late in the grace.
        },
        EXIT_WITHIN_MS,
        20,
      );
      expect(first.answer).toMatchObject({ status: 503, body: { status: 'shutting_down' } });
      expect(first.ffmpegRunning).toBe(true);
      expect(workers.every(stillRunning)).toBe(true);
      // Still answering 503 (not refusing connections) well into the grace period.
      await waitFor('the middle of the grace period', () => Date.now() - sentAt > GRACE_MS / 2, GRACE_MS, 20);
      const later = await readiness(url);
      if (Date.now() - sentAt < GRACE_MS) expect(later).toMatchObject({ status: 503, body: { status: 'shutting_down' } });

      const exit = await exitWithin(server, sentAt, EXIT_WITHIN_MS);
      expect(exit).toBeDefined();
      const exitedAfterMs = exit!.at - sentAt;
      console.log(
        `SIGTERM → first 503 after ${first.at - sentAt} ms, exit after ${exitedAfterMs} ms (${JSON.stringify(exit)})\n` +
          stripColors(server.output().slice(server.output().indexOf('Received termination signal'))),
      );
      expect(exitedAfterMs).toBeGreaterThanOrEqual(GRACE_MS);
      expect(exitedAfterMs).toBeLessThan(EXIT_WITHIN_MS);
      // A clean shutdown: main.ts exits with 0 once the hooks are done (1 would be a shutdown error).
      expect(exit).toMatchObject({ code: 0, signal: null });
      expect(server.output()).not.toMatch(/Error during shutdown/i);

      // Nothing it started survives it: not the workers, not FFmpeg.
      expect(children.filter(stillRunning)).toEqual([]);
      expect(childrenOf(pid).filter((proc) => proc.state !== 'Z')).toEqual([]);
    } catch (error) {
      console.log(`server output:\n${stripColors(server.output())}`);
      throw error;
    }
  });

  // Ctrl-C in a terminal sends SIGINT, `timeout` sends SIGTERM, to every process of the group at once.
  it.each(['SIGINT', 'SIGTERM'] as const)(
    '%s to the whole process group: workers and FFmpeg die with it and are not replaced',
    async (signal) => {
      const { server, pid } = await startWithPublisher(true);
      try {
        const sentAt = Date.now();
        process.kill(-pid, signal);
        const exit = await exitWithin(server, sentAt, EXIT_WITHIN_MS);
        expect(exit).toBeDefined();
        const output = stripColors(server.output());
        console.log(
          `group ${signal} → exit after ${exit!.at - sentAt} ms (${JSON.stringify(exit)})\n${output.slice(output.indexOf('HLS starting'))}`,
        );
        expect(exit).toMatchObject({ code: 0, signal: null });
        expect(output).not.toMatch(/Error during shutdown/i);
        // Not taken for crashes: no replacement worker, no second FFmpeg run.
        expect(output).not.toMatch(/replacing it/);
        expect(output).not.toMatch(/FFmpeg run 2/);
        expect(children.filter(stillRunning)).toEqual([]);
        expect(childrenOf(pid).filter((proc) => proc.state !== 'Z')).toEqual([]);
      } catch (error) {
        console.log(`server output:\n${stripColors(server.output())}`);
        throw error;
      }
    },
  );
});
