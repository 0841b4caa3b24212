// Client for the server's Server-Sent Events at GET /api/live-streams (`init`, `peerLive`, `peerLeft`),
// so a bench can time "publisher connected -> HLS playable" per peer.
//
//   const live = watchLiveStreams('http://127.0.0.1:4100');
//   const ms = await live.waitFor(peerId, 20_000);   // resolves when peerLive {peerId} arrives
//   live.close();

export function watchLiveStreams(serverUrl, { onEvent = () => {} } = {}) {
  const controller = new AbortController();
  const seen = new Map(); // peerId -> time (performance.now()) of peerLive
  const waiters = new Map(); // peerId -> [resolve]
  const left = new Set();
  const ready = (async () => {
    const res = await fetch(new URL('/api/live-streams', serverUrl), { headers: { accept: 'text/event-stream' }, signal: controller.signal });
    if (!res.ok || !res.body) throw new Error(`GET /api/live-streams: ${res.status}`);
    return res.body;
  })();
  const pump = (async () => {
    const body = await ready;
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of body) {
      buffer += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let type = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) type = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
        }
        if (data.length === 0) continue;
        let payload;
        try {
          payload = JSON.parse(data.join('\n'));
        } catch {
          continue;
        }
        onEvent(type, payload);
        if (type === 'peerLive' && payload.peerId) {
          seen.set(payload.peerId, performance.now());
          for (const resolve of waiters.get(payload.peerId) ?? []) resolve();
          waiters.delete(payload.peerId);
        } else if (type === 'peerLeft' && payload.peerId) {
          left.add(payload.peerId);
        } else if (type === 'init') {
          for (const { peerId } of payload.livePeers ?? []) seen.set(peerId, performance.now());
        }
      }
    }
  })().catch((e) => {
    if (!controller.signal.aborted) throw e;
  });
  pump.catch(() => {});
  return {
    /** Resolves once the SSE stream is open (events before that are not seen). */
    opened: ready.then(() => undefined),
    isLive: (peerId) => seen.has(peerId) && !left.has(peerId),
    /** Resolves with the time (ms) waited for peerLive of peerId; rejects after timeoutMs. */
    waitFor(peerId, timeoutMs = 30_000) {
      const t0 = performance.now();
      if (seen.has(peerId)) return Promise.resolve(0);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no peerLive for ${peerId} within ${timeoutMs} ms`)), timeoutMs);
        const list = waiters.get(peerId) ?? [];
        list.push(() => {
          clearTimeout(timer);
          resolve(performance.now() - t0);
        });
        waiters.set(peerId, list);
      });
    },
    close() {
      controller.abort();
    },
  };
}
