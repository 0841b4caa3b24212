import { ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, relative, sep } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { waitFor } from './support/app';
import { randomPortEnv } from './support/ports';
import { stripColors } from './support/text';

/**
 * `npm start` as systemd, a Procfile runner, pm2 or a CI step runs it, stopped the way they stop it.
 *
 * It runs in a copy of the project (sources, scripts, package.json; node_modules linked): `npm start`
 * builds with `nest build`, which deletes dist/ first, and would pull it from under a server that a
 * test run next to this one has started from the working tree (test/global-setup.js avoids `nest build`
 * for the same reason). Same package.json, same scripts, same build: only the directory differs.
 */

// A full build (tsc over the project, esbuild for the pages) takes 25-40 s on a loaded 2-core machine.
jest.setTimeout(420_000);

const ROOT = join(__dirname, '..');
const GRACE_MS = 500;
const READY_WITHIN_MS = 300_000;
const STOPPED_WITHIN_MS = 30_000;

interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
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
    return { pid, ppid: Number(fields[1]), pgid: Number(fields[2]), state: fields[0], startTime: Number(fields[19]), name };
  } catch {
    return undefined;
  }
}

const allPids = () =>
  readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number);

/** Every live process below `pid`, children first. */
function descendantsOf(pid: number): ProcInfo[] {
  const all = allPids()
    .map(procInfo)
    .filter((info): info is ProcInfo => info !== undefined);
  const found: ProcInfo[] = [];
  for (let parents = new Set([pid]); parents.size > 0;) {
    const next = all.filter((info) => parents.has(info.ppid) && info.state !== 'Z');
    found.push(...next);
    parents = new Set(next.map((info) => info.pid));
  }
  return found;
}

/** Every live process whose working directory is in `dir`: whatever `npm start` there started, reparented or not. */
function processesIn(dir: string): ProcInfo[] {
  return allPids()
    .filter((pid) => {
      try {
        const cwd = readlinkSync(`/proc/${pid}/cwd`);
        return cwd === dir || cwd.startsWith(dir + sep);
      } catch {
        return false;
      }
    })
    .map(procInfo)
    .filter((info): info is ProcInfo => info !== undefined && info.state !== 'Z');
}

/** Still running: same pid and start time, and not a zombie (a zombie has exited, only unreaped). */
function stillRunning(proc: ProcInfo): boolean {
  const now = procInfo(proc.pid);
  return now !== undefined && now.startTime === proc.startTime && now.state !== 'Z';
}

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '';
  }
};

/** True once something may listen on 127.0.0.1:`port` again. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function readiness(url: string): Promise<number> {
  try {
    return (await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2000) })).status;
  } catch {
    return 0;
  }
}

/** The project's files, without what a build or a run produces; node_modules linked, not copied. */
function copyProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'webrtc-hls-npm-start-'));
  const skip = new Set(['node_modules', 'dist', '.git', 'test-artifacts', 'bench-results', join('public', 'app'), join('public', 'live')]);
  cpSync(ROOT, dir, { recursive: true, filter: (source) => !skip.has(relative(ROOT, source)) });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

interface NpmStart {
  npm: ChildProcess;
  startedAt: number;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/**
 * `npm start` in `dir`. `detached` makes npm the leader of a process group of its own, as a terminal does
 * for its foreground job, so the test can send Ctrl-C's SIGINT to the whole group; SIGTERM goes to npm alone.
 */
function npmStart(dir: string, hlsDir: string): NpmStart {
  const startedAt = Date.now();
  const npm = spawn('npm', ['start'], {
    cwd: dir,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      ANNOUNCED_IP: '127.0.0.1',
      HLS_DIR: hlsDir,
      MEDIASOUP_WORKERS: '2',
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
      LOG_LEVEL: 'log',
      ...randomPortEnv(),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  npm.stdout!.on('data', (chunk) => (output += chunk));
  npm.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    npm.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  return { npm, startedAt, output: () => output, exited };
}

/** npm's exit, or a failure naming the deadline if it is still running `withinMs` from now. */
async function exitWithin(run: NpmStart, withinMs: number) {
  const exit = await Promise.race([run.exited, delay(withinMs, undefined, { ref: false })]);
  if (!exit) throw new Error(`npm start still running ${withinMs} ms after the signal:\n${run.output()}`);
  return exit;
}

describe('npm start stops on SIGTERM and on Ctrl-C: graceful, exit 0, nothing left', () => {
  let dir: string;
  let hlsDir: string;
  let run: NpmStart | undefined;
  let seen: ProcInfo[] = [];

  beforeAll(() => {
    dir = copyProject();
    hlsDir = mkdtempSync(join(tmpdir(), 'webrtc-hls-npm-start-hls-'));
  });

  afterEach(() => {
    // Only if a test failed half-way: end what it started, by pid (the recorded ones and any still working in the copy).
    for (const proc of [...seen, ...processesIn(dir)]) if (stillRunning(proc)) process.kill(proc.pid, 'SIGKILL');
    run = undefined;
    seen = [];
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(hlsDir, { recursive: true, force: true });
  });

  /** Starts `npm start`, waits until it is ready; returns the URL and the process tree under npm. */
  async function startReady() {
    run = npmStart(dir, hlsDir);
    const current = run;
    const url = await waitFor(
      'npm start to build and listen',
      () => {
        if (current.npm.exitCode !== null || current.npm.signalCode !== null) throw new Error(`npm start exited:\n${current.output()}`);
        return /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stripColors(current.output()))?.[1];
      },
      READY_WITHIN_MS,
      200,
    );
    const listeningAt = Date.now();
    await waitFor('readiness 200', async () => (await readiness(url)) === 200, 60_000, 100);
    const readyAt = Date.now();
    const tree = descendantsOf(current.npm.pid!);
    seen = tree;
    return {
      run: current,
      url,
      port: Number(new URL(url).port),
      tree,
      timings: { listening: listeningAt - current.startedAt, ready: readyAt - current.startedAt },
    };
  }

  /** npm's only child is the server itself (no shell between them), with its two mediasoup workers. */
  function expectServerUnderNpm(npmPid: number, tree: ProcInfo[]) {
    const children = tree.filter((proc) => proc.ppid === npmPid);
    expect(children.map((proc) => proc.name)).toEqual(['node']);
    const server = children[0];
    expect(cmdline(server.pid)).toMatch(/node scripts\/start\.mjs$/);
    expect(tree.filter((proc) => proc.ppid === server.pid && proc.name === 'mediasoup-worker')).toHaveLength(2);
    return server;
  }

  /** After npm has exited: nothing it started runs, in its tree or reparented, and the port is free. */
  async function expectNothingLeft(tree: ProcInfo[], port: number) {
    expect(tree.filter(stillRunning).map((proc) => `${proc.pid} ${proc.name}`)).toEqual([]);
    expect(processesIn(dir).map((proc) => `${proc.pid} ${proc.name} ${cmdline(proc.pid)}`)).toEqual([]);
    expect(await portFree(port)).toBe(true);
  }

  it('SIGTERM to npm alone: readiness fails first, the server shuts down gracefully, npm exits 0', async () => {
    const { run, url, port, tree, timings } = await startReady();
    const server = expectServerUnderNpm(run.npm.pid!, tree);
    try {
      const sentAt = Date.now();
      process.kill(run.npm.pid!, 'SIGTERM');
      // The server got it, through npm: readiness answers 503 during the grace period.
      await waitFor('readiness 503', async () => (await readiness(url)) === 503, STOPPED_WITHIN_MS, 20);
      const unreadyAt = Date.now();
      const exit = await exitWithin(run, STOPPED_WITHIN_MS);
      const output = stripColors(run.output());
      console.log(
        `npm start: listening after ${timings.listening} ms, ready after ${timings.ready} ms; ` +
          `SIGTERM to npm → 503 after ${unreadyAt - sentAt} ms, npm exit after ${exit.at - sentAt} ms (${JSON.stringify(exit)})\n` +
          output.slice(output.indexOf('Received termination signal')),
      );
      expect(exit).toMatchObject({ code: 0, signal: null });
      expect(exit.at - sentAt).toBeGreaterThanOrEqual(GRACE_MS);
      expect(output).toMatch(/Received termination signal SIGTERM/);
      expect(output).not.toMatch(/Error during shutdown/i);
      expect(stillRunning(server)).toBe(false);
      await expectNothingLeft(tree, port);
    } catch (error) {
      console.log(`npm start output:\n${stripColors(run.output())}`);
      throw error;
    }
  });

  // Ctrl-C in a terminal sends SIGINT to the whole foreground group; systemd's default KillMode=control-group
  // and `timeout` send SIGTERM to every process at once. npm forwards it again: the server gets it twice.
  it.each(['SIGINT', 'SIGTERM'] as const)(
    '%s to the whole process group: the server shuts down gracefully, npm exits 0',
    async (signal) => {
      const { run, port, tree, timings } = await startReady();
      expectServerUnderNpm(run.npm.pid!, tree);
      try {
        const sentAt = Date.now();
        process.kill(-run.npm.pid!, signal);
        const exit = await exitWithin(run, STOPPED_WITHIN_MS);
        const output = stripColors(run.output());
        console.log(
          `npm start: ready after ${timings.ready} ms; ${signal} to the group → npm exit after ${exit.at - sentAt} ms (${JSON.stringify(exit)})`,
        );
        expect(exit).toMatchObject({ code: 0, signal: null });
        expect(output).toContain(`Received termination signal ${signal}`);
        expect(output).not.toMatch(/Error during shutdown/i);
        // Workers died with the group, as shutdown.e2e-spec.ts checks for the bare server: not taken for crashes.
        expect(output).not.toMatch(/replacing it/);
        await expectNothingLeft(tree, port);
      } catch (error) {
        console.log(`npm start output:\n${stripColors(run.output())}`);
        throw error;
      }
    },
  );

  it('SIGTERM during the build: the whole build stops, no server starts, npm exits 0', async () => {
    run = npmStart(dir, hlsDir);
    const current = run;
    // Evidence the build is under way: the Nest CLI (a node process, not the shell that starts it) is compiling.
    await waitFor(
      'the build to be compiling',
      () => descendantsOf(current.npm.pid!).find((proc) => proc.name === 'node' && /\bnest build$/.test(cmdline(proc.pid))),
      READY_WITHIN_MS,
      50,
    );
    const tree = descendantsOf(current.npm.pid!);
    seen = tree;
    try {
      const sentAt = Date.now();
      process.kill(current.npm.pid!, 'SIGTERM');
      const exit = await exitWithin(current, STOPPED_WITHIN_MS);
      const output = stripColors(current.output());
      console.log(
        `SIGTERM to npm while the Nest CLI compiled → npm exit after ${exit.at - sentAt} ms (${JSON.stringify(exit)}); ` +
          `processes then: ${tree.map((proc) => `${proc.pid}/${proc.pgid} ${proc.name}`).join(', ')}`,
      );
      expect(exit).toMatchObject({ code: 0, signal: null });
      expect(output).toMatch(/npm start: SIGTERM during the build; build stopped, server not started/);
      expect(output).not.toMatch(/listening on/);
      expect(tree.filter(stillRunning).map((proc) => `${proc.pid} ${proc.name}`)).toEqual([]);
      expect(processesIn(dir).map((proc) => `${proc.pid} ${proc.name} ${cmdline(proc.pid)}`)).toEqual([]);
    } catch (error) {
      console.log(`npm start output:\n${current.output()}`);
      throw error;
    }
  });
});
