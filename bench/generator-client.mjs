// Parent side of generator-process.mjs: starts it pinned with `taskset -c <cores>` (all its threads,
// libdatachannel's included, inherit the mask) and talks to it over the IPC channel.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withTimeout } from './stats.mjs';

const SCRIPT = fileURLToPath(new URL('./generator-process.mjs', import.meta.url));

/**
 * @param {{ cores: string, serverUrl: string, mediaDir?: string, onPublisher?: (event) => void,
 *           onFailure?: (event) => void, onError?: (error: string) => void, maxLifetimeMs?: number }} options
 *   onPublisher gets { peerId, variant, connectedAt } (wall-clock ms) or { peerId?, error } per publisher;
 *   onFailure { peerId, error, at } when a connected publisher fails; onError an error no publisher owned.
 */
export async function startGenerator({
  cores,
  serverUrl,
  mediaDir,
  onPublisher = () => {},
  onFailure = () => {},
  onError = () => {},
  maxLifetimeMs = 30 * 60_000,
}) {
  // taskset execs node in place, keeping fds and env: the IPC channel (NODE_CHANNEL_FD) survives.
  const child = spawn('taskset', ['-c', cores, process.execPath, SCRIPT], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, BENCH_GENERATOR_MAX_MS: String(maxLifetimeMs) },
  });
  const pending = new Map();
  let nextId = 1;
  let exited = false;
  const exit = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      exited = true;
      for (const { reject } of pending.values()) reject(new Error(`generator exited (code ${code}, signal ${signal})`));
      pending.clear();
      resolve({ code, signal });
    }),
  );
  const ready = new Promise((resolve, reject) => {
    child.on('message', (msg) => {
      if (msg.type === 'ready') resolve(msg.pid);
      else if (msg.type === 'publisher') onPublisher(msg);
      else if (msg.type === 'publisher-failed') onFailure(msg);
      else if (msg.type === 'generator-error') onError(msg.error);
      else if (msg.type === 'reply') {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (!p) return;
        if (msg.error) p.reject(new Error(msg.error));
        else p.resolve(msg.result);
      }
    });
    child.once('exit', () => reject(new Error('generator exited before it was ready')));
  });
  await withTimeout(ready, 15_000, 'generator process did not start within 15 s');

  const request = (cmd, data = {}, timeoutMs = 60_000) => {
    if (exited) return Promise.reject(new Error('generator has exited'));
    const id = nextId++;
    const promise = new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
    child.send({ id, cmd, serverUrl, mediaDir, ...data });
    return withTimeout(promise, timeoutMs, `generator: no answer to ${cmd} within ${timeoutMs} ms`);
  };

  return {
    pid: child.pid,
    get exited() {
      return exited;
    },
    /** Adds `count` publishers of `variant`, `batch` at a time; per-publisher results go to onPublisher. */
    add: (count, variant, batch = 5) => request('add', { count, variant, batch }, 30_000 + count * 5_000),
    stats: () => request('stats', {}, 15_000),
    close: (peerIds) => request('close', { peerIds }, 30_000),
    /** Test hook: closes one publisher's first track under it (see load-publisher.mjs injectFault). */
    fault: (peerId) => request('fault', { peerId }, 5_000),
    /** Closes every publisher and ends the process (SIGKILL if it does not end in time). */
    async stop(timeoutMs = 15_000) {
      if (!exited) {
        await request('exit', {}, 5_000).catch(() => undefined);
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        await exit;
        clearTimeout(timer);
      }
      return exit;
    },
  };
}
