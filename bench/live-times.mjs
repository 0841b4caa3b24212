// The server's Server-Sent Events (GET /api/live-streams: `init`, `peerLive`, `peerLeft`) with
// wall-clock arrival times, comparable with the generator's `connectedAt` (another process), and the
// payload of each peerLive (a Low-Latency master is announced there as `llMasterUrl`).
import { SseClient } from '../test/support/shared/sse.js';
import { wallNow } from './stats.mjs';

export function watchLiveTimes(serverUrl) {
  const liveAt = new Map();
  const leftAt = new Map();
  const livePayload = new Map();
  const waiters = { peerLive: new Map(), peerLeft: new Map() };
  const settle = (type, peerId, at) => {
    for (const resolve of waiters[type].get(peerId) ?? []) resolve(at);
    waiters[type].delete(peerId);
  };
  const sse = new SseClient(new URL('/api/live-streams', serverUrl).href, {
    onEvent({ type, data }) {
      const at = wallNow();
      const peerId = data?.peerId;
      if (type === 'peerLive' && peerId) {
        liveAt.set(peerId, at);
        livePayload.set(peerId, data);
        settle('peerLive', peerId, at);
      } else if (type === 'peerLeft' && peerId) {
        leftAt.set(peerId, at);
        settle('peerLeft', peerId, at);
      }
    },
  });
  const wait = (type, map, peerId, timeoutMs) => {
    if (map.has(peerId)) return Promise.resolve(map.get(peerId));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} for ${peerId} within ${timeoutMs} ms`)), timeoutMs);
      const list = waiters[type].get(peerId) ?? [];
      list.push((at) => {
        clearTimeout(timer);
        resolve(at);
      });
      waiters[type].set(peerId, list);
    });
  };
  return {
    opened: sse.opened,
    liveAt,
    leftAt,
    /** The peerLive event's data ({ peerId, llMasterUrl? ... }). */
    livePayload: (peerId) => livePayload.get(peerId),
    /** Wall-clock ms of peerLive for peerId (at once if it already came). */
    waitForLive: (peerId, timeoutMs = 30_000) => wait('peerLive', liveAt, peerId, timeoutMs),
    waitForLeft: (peerId, timeoutMs = 30_000) => wait('peerLeft', leftAt, peerId, timeoutMs),
    close: () => sse.close(),
  };
}
