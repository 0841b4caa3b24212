#!/usr/bin/env node
// The load generator's own process (started by generator-client.mjs under `taskset -c <cores>`): it
// holds the publishers (load-publisher.mjs, libdatachannel) and does nothing else, so its CPU is
// the generator's alone. Driven over the IPC channel:
//   { id, cmd: 'add', count, variant, batch }  -> { type: 'publisher', peerId, variant, connectedAt } per
//                                                  publisher (or { type: 'publisher', error }), then the reply
//   { id, cmd: 'stats' }                        -> reply { publishers: [stats()] }
//   { id, cmd: 'close', peerIds? }              -> closes those (all by default)
//   { id, cmd: 'exit' }                         -> closes everything, libdatachannel cleanup, exits
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { publish, shutdown } from './load-publisher.mjs';

const wallNow = () => performance.timeOrigin + performance.now();
const publishers = new Map();
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();

// Bounded life: if the parent vanishes without saying goodbye, do not linger with open peers.
process.on('disconnect', () => void finish(3));
const lifetime = setTimeout(() => void finish(4), Number(process.env.BENCH_GENERATOR_MAX_MS ?? 30 * 60_000));
lifetime.unref();

let finishing = false;
async function finish(code) {
  if (finishing) return;
  finishing = true;
  await Promise.all([...publishers.values()].map((p) => p.close().catch(() => undefined)));
  await new Promise((r) => setTimeout(r, 300));
  try {
    shutdown();
  } catch {}
  process.exit(code);
}

async function addOne(variant, serverUrl, connectTimeoutMs) {
  let p;
  try {
    p = await publish({ serverUrl, variant, connectTimeoutMs });
    publishers.set(p.peerId, p);
    await p.connected;
    process.send({ type: 'publisher', peerId: p.peerId, variant, connectedAt: wallNow() });
  } catch (error) {
    process.send({ type: 'publisher', peerId: p?.peerId, variant, error: String(error?.message ?? error) });
  }
}

const handlers = {
  async add({ count, variant, serverUrl, batch = 5, connectTimeoutMs = 20_000 }) {
    for (let i = 0; i < count; i += batch) {
      await Promise.all(Array.from({ length: Math.min(batch, count - i) }, () => addOne(variant, serverUrl, connectTimeoutMs)));
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
    process.send({ type: 'reply', id: msg.id, result });
  } catch (error) {
    process.send({ type: 'reply', id: msg.id, error: String(error?.message ?? error) });
  }
});
process.send({ type: 'ready', pid: process.pid });
