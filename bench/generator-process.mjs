#!/usr/bin/env node
// The load generator's own process (started by generator-client.mjs under `taskset -c <cores>`): it
// holds the publishers (load-publisher.mjs) and does nothing else, so its CPU is the generator's
// alone. Driven over the IPC channel:
//   { id, cmd: 'add', count, variant, batch }  -> { type: 'publisher', peerId, variant, connectedAt } per
//                                                  publisher (or { type: 'publisher', error }), then the reply;
//                                                  `batch` publishers connect at once (all of them: a burst)
//   { id, cmd: 'stats' }                        -> reply { publishers: [stats()], eventLoop, rssMiB }
//   { id, cmd: 'close', peerIds? }              -> closes those (all by default)
//   { id, cmd: 'fault', peerId? }               -> test hook: closes one publisher's first track under it
//   { id, cmd: 'exit' }                         -> closes everything, libdatachannel cleanup, exits
// Unsolicited: { type: 'publisher-failed', peerId, error, at } when a connected publisher fails (it
// has stopped; the others go on), { type: 'generator-error', error } for an error no publisher owned.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { publish, shutdown } from './load-publisher.mjs';

// Date.now(): the realtime clock every process shares (see stats.mjs wallNow).
const wallNow = () => Date.now();
const publishers = new Map();
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
const send = (msg) => {
  if (process.connected) process.send(msg);
};

// Bounded life: if the parent vanishes without saying goodbye, do not linger with open peers.
process.on('disconnect', () => void finish(3));
const lifetime = setTimeout(() => void finish(4), Number(process.env.BENCH_GENERATOR_MAX_MS ?? 30 * 60_000));
lifetime.unref();
// Publishers catch their own failures; anything else is reported (the step then says the generator
// misbehaved) rather than ending every publisher of the run.
process.on('uncaughtException', (error) => send({ type: 'generator-error', error: String(error?.stack ?? error) }));
process.on('unhandledRejection', (error) => send({ type: 'generator-error', error: String(error?.stack ?? error) }));

let finishing = false;
async function finish(code) {
  if (finishing) return;
  finishing = true;
  await Promise.all([...publishers.values()].map((p) => p.close().catch(() => undefined)));
  await new Promise((r) => setTimeout(r, 300));
  try {
    shutdown();
  } catch {
    // exiting anyway
  }
  process.exit(code);
}

async function addOne(variant, serverUrl, connectTimeoutMs, mediaDir) {
  let p;
  try {
    p = await publish({ serverUrl, variant, connectTimeoutMs, mediaDir, onFailure: (f) => send({ type: 'publisher-failed', ...f }) });
    publishers.set(p.peerId, p);
    await p.connected;
    send({ type: 'publisher', peerId: p.peerId, variant, connectedAt: wallNow() });
  } catch (error) {
    send({ type: 'publisher', peerId: p?.peerId, variant, error: String(error?.message ?? error) });
  }
}

const handlers = {
  async add({ count, variant, serverUrl, batch = 5, connectTimeoutMs = 20_000, mediaDir }) {
    for (let i = 0; i < count; i += batch) {
      await Promise.all(Array.from({ length: Math.min(batch, count - i) }, () => addOne(variant, serverUrl, connectTimeoutMs, mediaDir)));
    }
    return { publishers: publishers.size };
  },
  async stats() {
    const list = [...publishers.values()].map((p) => ({ ...p.stats(), closed: p.closed }));
    const loop = { p99Ms: delay.percentile(99) / 1e6, maxMs: delay.max / 1e6 };
    delay.reset();
    return { publishers: list, eventLoop: loop, rssMiB: process.memoryUsage().rss / 2 ** 20 };
  },
  async close({ peerIds }) {
    const ids = peerIds ?? [...publishers.keys()];
    await Promise.all(ids.map((id) => publishers.get(id)?.close()));
    for (const id of ids) publishers.delete(id);
    return { publishers: publishers.size };
  },
  async fault({ peerId }) {
    const p = peerId ? publishers.get(peerId) : [...publishers.values()].find((x) => !x.closed);
    if (!p) throw new Error('no publisher to break');
    p.injectFault();
    return { peerId: p.peerId };
  },
  async exit() {
    setTimeout(() => void finish(0), 10);
    return {};
  },
};

process.on('message', async (msg) => {
  const handler = handlers[msg?.cmd];
  try {
    if (!handler) throw new Error(`unknown command ${msg?.cmd}`);
    const result = await handler(msg);
    send({ type: 'reply', id: msg.id, result });
  } catch (error) {
    send({ type: 'reply', id: msg.id, error: String(error?.message ?? error) });
  }
});
send({ type: 'ready', pid: process.pid });
