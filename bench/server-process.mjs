// The service under test: `node dist/main.js` pinned to the server's cores with `taskset` (its
// mediasoup worker and FFmpeg children inherit the affinity), on its own port block and HLS directory.
// BENCH_SERVER_NODE_ARGS adds Node options to the server alone (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`
// to see where its time goes; Node refuses --cpu-prof in NODE_OPTIONS, which every child would get).
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { processTree } from './proc-sampler.mjs';
import { sleep } from './stats.mjs';

const require = createRequire(import.meta.url);

/** Newest mtime of what dist/ is built from (the same inputs as test/global-setup.js). */
function newestSource(root) {
  let newest = Math.max(...['tsconfig.json', 'package-lock.json'].map((file) => statSync(join(root, file)).mtimeMs));
  const walk = (dir, depth) => {
    if (depth > 20) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path, depth + 1);
      else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  walk(join(root, 'src'), 0);
  return newest;
}

/** Compiles src/ into dist/ with tsc when dist/main.js is missing or older than a source (as the tests do). */
export function ensureBuilt(root, log = () => {}) {
  const built = join(root, 'dist', 'main.js');
  if (existsSync(built) && statSync(built).mtimeMs > newestSource(root)) return false;
  const t0 = Date.now();
  log('dist/ is missing or stale: compiling with tsc -p tsconfig.json');
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], {
    cwd: root,
    stdio: 'pipe',
    timeout: 300_000,
  });
  log(`compiled in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return true;
}

/** Last resort (hard time limit, Ctrl-C): SIGKILL a process and every descendant, children first. */
export function killTree(pid) {
  for (const p of processTree(pid).reverse()) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Port layout of one benchmark server from a base port (defaults follow the brief: 14000…16999). */
export function portBlock(base) {
  return {
    webRtcServerPort: base,
    rtcMin: base + 10,
    rtcMax: base + 999,
    http: base + 400,
    ffmpegMin: base + 1000,
    ffmpegMax: base + 2999,
  };
}

/** Fails early and clearly if something already listens where the benchmark server would. */
export async function assertPortsFree(ports) {
  for (const [port, proto] of [
    [ports.http, 'tcp'],
    [ports.webRtcServerPort, 'tcp'],
  ]) {
    await new Promise((resolve, reject) => {
      const server = createServer();
      server.once('error', (error) =>
        reject(new Error(`${proto} port ${port} on 127.0.0.1 is in use (${error.code}); pick another --port-base`)),
      );
      server.listen(port, '127.0.0.1', () => server.close(resolve));
    });
  }
}

/**
 * Starts the server and resolves once /health/ready answers 200. Returns { pid, url, stop() }.
 * stdout/stderr go to `logFile`.
 */
export async function startServer({
  root,
  profile,
  cores,
  ports,
  hlsDir,
  logFile,
  env = {},
  readyTimeoutMs = 30_000,
  rmemDefault,
  log = () => {},
}) {
  // Experiment (--server-rmem): mediasoup 3.12 leaves SO_RCVBUF at net.core.rmem_default, taken when
  // the worker opens its WebRtcServer socket at start-up; raise it only until the server is ready.
  const rmemPath = '/proc/sys/net/core/rmem_default';
  const savedRmem = rmemDefault ? readFileSync(rmemPath, 'utf8').trim() : undefined;
  if (rmemDefault) {
    writeFileSync(rmemPath, String(rmemDefault));
    log(`net.core.rmem_default ${savedRmem} -> ${rmemDefault} while the server starts`);
  }
  try {
    return await spawnServer({ root, profile, cores, ports, hlsDir, logFile, env, readyTimeoutMs, log });
  } finally {
    if (rmemDefault) {
      writeFileSync(rmemPath, savedRmem);
      log(`net.core.rmem_default restored to ${savedRmem}`);
    }
  }
}

async function spawnServer({ root, profile, cores, ports, hlsDir, logFile, env, readyTimeoutMs, log }) {
  const vars = {
    ...process.env,
    HOST: '127.0.0.1',
    ANNOUNCED_IP: '127.0.0.1',
    PORT: String(ports.http),
    MEDIASOUP_WORKERS: '1',
    WEBRTC_SERVER: 'true',
    WEBRTC_SERVER_PORT: String(ports.webRtcServerPort),
    RTC_MIN_PORT: String(ports.rtcMin),
    RTC_MAX_PORT: String(ports.rtcMax),
    FFMPEG_MIN_PORT: String(ports.ffmpegMin),
    FFMPEG_MAX_PORT: String(ports.ffmpegMax),
    HLS_DIR: hlsDir,
    HLS_PROFILE: profile,
    HLS_MIN_FREE_MB: '0',
    // The ramp goes past the default cap (the loss-free figure it measures).
    MAX_PEERS: '0',
    SHUTDOWN_GRACE_MS: '0',
    LOG_LEVEL: 'log',
    ...env,
  };
  const out = createWriteStream(logFile, { flags: 'a' });
  out.write(`\n===== ${new Date().toISOString()} HLS_PROFILE=${profile} taskset -c ${cores} node dist/main.js\n`);
  // taskset execs node in place: the pid is the Nest process's, and every child inherits the mask.
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn('taskset', ['-c', cores, process.execPath, ...nodeArgs, join(root, 'dist', 'main.js')], {
    cwd: root,
    env: vars,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(out, { end: false });
  child.stderr.pipe(out, { end: false });
  let exited = false;
  const exit = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      exited = true;
      resolve({ code, signal });
    }),
  );
  const url = `http://127.0.0.1:${ports.http}`;
  const deadline = Date.now() + readyTimeoutMs;
  for (let i = 0; ; i++) {
    if (exited) throw new Error(`server exited during start-up; see ${logFile}`);
    try {
      const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || i > 1000) {
      child.kill('SIGKILL');
      throw new Error(`server not ready within ${readyTimeoutMs} ms; see ${logFile}`);
    }
    await sleep(100);
  }
  log(`server ready: pid ${child.pid}, ${url}, HLS_PROFILE=${profile}, cores ${cores}`);
  return {
    pid: child.pid,
    url,
    get exited() {
      return exited;
    },
    /** SIGTERM (the service stops FFmpeg, peers and workers), SIGKILL after `graceMs`. */
    async stop(graceMs = 15_000) {
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const result = await exit;
        clearTimeout(timer);
        out.write(`===== exited ${JSON.stringify(result)}\n`);
      }
      await new Promise((resolve) => out.end(resolve));
      return exit;
    },
  };
}
