// peerLive / peerLeft with wall-clock arrival times (comparable with the generator's `connectedAt`,
// which comes from another process), on top of live-events.mjs's SSE client.
import { watchLiveStreams } from './live-events.mjs';
import { wallNow } from './stats.mjs';

export function watchLiveTimes(serverUrl) {
  const liveAt = new Map();
  const leftAt = new Map();
  const waiters = { peerLive: new Map(), peerLeft: new Map() };
  const settle = (type, peerId, at) => {
    for (const resolve of waiters[type].get(peerId) ?? []) resolve(at);
    waiters[type].delete(peerId);
  };
  const sse = watchLiveStreams(serverUrl, {
    onEvent(type, payload) {
      const at = wallNow();
      if (type === 'peerLive' && payload.peerId) {
        liveAt.set(payload.peerId, at);
        settle('peerLive', payload.peerId, at);
      } else if (type === 'peerLeft' && payload.peerId) {
        leftAt.set(payload.peerId, at);
        settle('peerLeft', payload.peerId, at);
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
    /** Wall-clock ms of peerLive for peerId (at once if it already came). */
    waitForLive: (peerId, timeoutMs = 30_000) => wait('peerLive', liveAt, peerId, timeoutMs),
    waitForLeft: (peerId, timeoutMs = 30_000) => wait('peerLeft', leftAt, peerId, timeoutMs),
    close: () => sse.close(),
  };
}
