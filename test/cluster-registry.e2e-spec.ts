/**
 * The cluster registry on a real redis-server: several ClusterRegistry instances in this process
 * stand for the nodes (each has its own two connections, as separate processes would). Every
 * wait is for an event, with deadlines far above what the registry needs.
 */
import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { ClusterRegistry } from '../src/cluster/cluster-registry';
import { ClusterUnavailableError } from '../src/cluster/cluster.errors';
import { ClusterEvents, ClusterRegistryOptions, ClusterSnapshot, ReceivedClusterEvent, StreamLost } from '../src/cluster/cluster.types';
import { RedisServer } from './support/redis-server';

Logger.overrideLogger(['error', 'warn']);

const timings: Record<string, number> = {};

/** Resolves with the first `name` event that satisfies `accept`; registered before the action that causes it. */
function waitFor<K extends keyof ClusterEvents>(
  node: ClusterRegistry,
  name: K,
  accept: (...args: ClusterEvents[K]) => boolean,
  what: string,
  deadlineMs = 20_000,
): Promise<ClusterEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      dispose();
      reject(new Error(`${node.nodeId}: no ${what} within ${deadlineMs} ms`));
    }, deadlineMs);
    const dispose = node.on(name, (...args: ClusterEvents[K]) => {
      if (!accept(...args)) return;
      clearTimeout(timer);
      dispose();
      resolve(args);
    });
  });
}

/** Resolves once the node's heartbeat view satisfies `accept` (at once if it already does). */
async function untilView(node: ClusterRegistry, accept: (view: ClusterSnapshot) => boolean, what: string): Promise<void> {
  if (accept(node.view())) return;
  await waitFor(node, 'view', () => accept(node.view()), what);
}

/** Calls that must not wait for an absent Redis: resolves with the result and how long it took. */
async function timed<T>(call: () => Promise<T>): Promise<{ value?: T; error?: unknown; ms: number }> {
  const started = performance.now();
  try {
    const value = await call();
    return { value, ms: performance.now() - started };
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
}

function cluster(redis: () => RedisServer) {
  const running: ClusterRegistry[] = [];
  let port = 4100;
  return {
    async start(nodeId: string, keyPrefix: string, extra: Partial<ClusterRegistryOptions> = {}): Promise<ClusterRegistry> {
      const node = new ClusterRegistry({
        redisUrl: redis().url,
        nodeId,
        address: `http://127.0.0.1:${port++}`,
        capacity: 20,
        keyPrefix,
        ...extra,
      });
      running.push(node);
      await node.start();
      return node;
    },
    async closeAll(): Promise<void> {
      await Promise.all(running.splice(0).map((node) => node.close()));
    },
  };
}

afterAll(() => {
  process.stdout.write(`\ncluster timings (ms): ${JSON.stringify(timings)}\n`);
});

describe('ClusterRegistry on a running Redis', () => {
  let redis: RedisServer;
  const nodes = cluster(() => redis);
  let prefixes = 0;
  const prefix = () => `test${++prefixes}:`;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterEach(() => nodes.closeAll());
  afterAll(() => redis?.stop());

  it('registers every node with its record', async () => {
    const p = prefix();
    const a = await nodes.start('a', p);
    await nodes.start('b', p);
    await nodes.start('c', p);
    expect(a.status()).toMatchObject({ state: 'up', mode: 'cluster' });
    const listed = await a.nodes();
    expect(listed.map((n) => n.id).sort()).toEqual(['a', 'b', 'c']);
    const b = listed.find((n) => n.id === 'b')!;
    expect(b).toMatchObject({ address: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), capacity: 20, load: 0, streams: 0 });
    expect(b.heartbeatAt).toBeGreaterThanOrEqual(b.startedAt);
  });

  it('gives each name to exactly one of several nodes claiming it at the same moment', async () => {
    const p = prefix();
    const racers = await Promise.all(['n1', 'n2', 'n3', 'n4'].map((id) => nodes.start(id, p)));
    const names = Array.from({ length: 250 }, (_, i) => `race-${i}`);
    // Every node claims every name at once: 1000 claims in flight on four pairs of connections.
    const results = await Promise.all(
      names.flatMap((name) =>
        racers.map(async (node) => ({ name, node: node.nodeId, result: await node.claim(name, { state: 'starting' }) })),
      ),
    );
    const winners = new Map<string, string>();
    for (const name of names) {
      const forName = results.filter((r) => r.name === name);
      const won = forName.filter((r) => r.result.ok);
      expect(won).toHaveLength(1);
      expect(won[0].result).toEqual({ ok: true, mode: 'cluster' });
      winners.set(name, won[0].node);
      for (const lost of forName.filter((r) => !r.result.ok)) {
        expect(lost.result).toMatchObject({ ok: false, holder: { name, node: won[0].node, state: 'starting' } });
      }
    }
    // How the wins spread depends on the host's timing; that each name has exactly one winner does not.
    console.log(
      `claims won per node: ${JSON.stringify([...winners.values()].reduce((m, n) => ({ ...m, [n]: (m[n] ?? 0) + 1 }), {} as Record<string, number>))}`,
    );
    for (const node of racers) for (const name of names) expect(node.holds(name)).toBe(winners.get(name) === node.nodeId);
    const listed = await racers[0].streams();
    expect(listed).toHaveLength(names.length);
    for (const stream of listed) expect(stream.node).toBe(winners.get(stream.name));
  });

  it('lets exactly one of two nodes take over a holder, and the holder learns it at once', async () => {
    const p = prefix();
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => nodes.start(id, p)));
    expect(await a.claim('cam', { state: 'live' })).toEqual({ ok: true, mode: 'cluster' });
    const refused = await b.claim('cam', { state: 'live' });
    if (refused.ok) throw new Error('second claim won');
    expect(refused.holder).toMatchObject({ node: 'a', state: 'live', address: expect.any(String), lease: expect.any(String) });

    const lost = waitFor(a, 'lost', (l: StreamLost) => l.name === 'cam', 'lost(cam)');
    const heard = waitFor(c, 'event', (e: ReceivedClusterEvent) => e.type === 'publisherChanged' && e.stream === 'cam', 'publisherChanged');
    const [byB, byC] = await Promise.all([
      b.takeover('cam', { state: 'live' }, { lease: refused.holder.lease }),
      c.takeover('cam', { state: 'live' }, { lease: refused.holder.lease }),
    ]);
    expect([byB.ok, byC.ok].filter(Boolean)).toHaveLength(1);
    const [winner, loser] = byB.ok ? [b, byC] : [c, byB];
    expect(loser).toMatchObject({ ok: false, holder: { node: winner.nodeId } });
    expect(byB.ok ? byB : byC).toMatchObject({ ok: true, mode: 'cluster', previous: { node: 'a', lease: refused.holder.lease } });
    const [loss] = await lost;
    expect(loss).toMatchObject({ name: 'cam', reason: 'taken-over', node: winner.nodeId });
    expect(a.holds('cam')).toBe(false);
    if (winner === b) expect((await heard)[0]).toMatchObject({ node: 'b', data: { previousNode: 'a' } });
    expect(await a.locate('cam')).toMatchObject({ node: winner.nodeId });
  });

  it('releases only its own claim (compare and delete), and finds a silent takeover at its next heartbeat', async () => {
    const p = prefix();
    // a heartbeats once a minute here, so nothing but release() touches its claim during the test.
    const a = await nodes.start('a', p, { heartbeatMs: 60_000, ttlMs: 120_000, continuityTtlMs: 240_000 });
    const b = await nodes.start('b', p);
    expect((await a.claim('mine', { state: 'live' })).ok).toBe(true);
    expect(await a.release('mine')).toBe(true);
    expect(await b.locate('mine')).toBeNull();
    expect((await b.claim('mine', { state: 'live' })).ok).toBe(true);

    // Another claim replaces a's without telling it (as a takeover whose event was missed would).
    const raw = new Redis(redis.url);
    try {
      expect((await a.claim('other', { state: 'live' })).ok).toBe(true);
      await raw.hset(`${p}stream:other`, 'lease', 'someone-else', 'node', 'b');
      expect(a.holds('other')).toBe(true);
      expect(await a.release('other')).toBe(false); // a still believed it held it: the other claim stays
      expect(await b.locate('other')).toMatchObject({ node: 'b', lease: 'someone-else' });

      // b heartbeats every 2 s: the same replacement of its claim is found at its next heartbeat.
      expect((await b.claim('other2', { state: 'live' })).ok).toBe(true);
      const lost = waitFor(b, 'lost', (l: StreamLost) => l.name === 'other2', 'lost(other2) at a heartbeat');
      await raw.hset(`${p}stream:other2`, 'lease', 'someone-else', 'node', 'a');
      const [loss] = await lost;
      expect(loss).toMatchObject({ reason: 'taken-over', holder: { node: 'a', lease: 'someone-else' } });
      expect(b.holds('other2')).toBe(false);
    } finally {
      raw.disconnect();
    }
  });

  it('shows state changes to the other nodes', async () => {
    const p = prefix();
    const a = await nodes.start('a', p);
    const b = await nodes.start('b', p);
    await a.claim('s', { state: 'starting' });
    await untilView(b, (v) => v.streams.some((s) => s.name === 's'), "s in b's view");
    const changed = waitFor(b, 'view', (v) => v.streamsChanged.some((s) => s.name === 's' && s.state === 'parked'), 'view with s parked');
    expect(await a.update('s', 'parked', { codecs: 'avc1.42e01f,mp4a.40.2' })).toBe(true);
    const [change] = await changed;
    expect(change.streamsChanged.find((s) => s.name === 's')).toMatchObject({ node: 'a', meta: { codecs: 'avc1.42e01f,mp4a.40.2' } });
    expect((await b.streams()).find((s) => s.name === 's')).toMatchObject({ state: 'parked' });
    expect(await b.update('s', 'live')).toBe(false); // b does not hold it
  });

  it('delivers events to the other nodes and not back to the sender', async () => {
    const p = prefix();
    const a = await nodes.start('a', p);
    const b = await nodes.start('b', p);
    const received: Record<string, ReceivedClusterEvent[]> = { a: [], b: [] };
    a.on('event', (e) => received.a.push(e));
    b.on('event', (e) => received.b.push(e));
    const atB = waitFor(b, 'event', (e) => e.type === 'peerLive' && e.stream === 'x', 'peerLive at b');
    expect(await a.publish({ type: 'peerLive', stream: 'x', data: { masterUrl: '/live/x.m3u8' } })).toBe(true);
    expect((await atB)[0]).toMatchObject({ type: 'peerLive', stream: 'x', node: 'a', data: { masterUrl: '/live/x.m3u8' } });
    // Redis delivers one channel's messages in order: once b's marker reaches a, a's own event would have too.
    const marker = waitFor(a, 'event', (e) => e.type === 'peerLeft' && e.stream === 'marker', 'marker at a');
    expect(await b.publish({ type: 'peerLeft', stream: 'marker' })).toBe(true);
    await marker;
    expect(received.a.map((e) => e.stream)).toEqual(['marker']);
    expect(received.b.map((e) => e.stream)).toEqual(['x']);
  });

  it('hands a stream numbering from one node to another, and only the holder may save it', async () => {
    const p = prefix();
    const a = await nodes.start('a', p);
    const b = await nodes.start('b', p);
    const numbering = { renditions: { video: { mediaSequence: 41, discontinuitySequence: 2, nextSegment: 47, timelineEnd: 46.96 } } };
    expect(await a.saveContinuity('studio', numbering)).toBe(false); // not claimed yet
    const claimed = await a.claim('studio', { state: 'live' });
    expect(claimed.ok).toBe(true);
    expect(await a.saveContinuity('studio', numbering)).toBe(true);
    expect(await b.loadContinuity('studio')).toMatchObject({ name: 'studio', node: 'a', data: numbering });

    const holder = await b.locate('studio');
    expect((await b.takeover('studio', { state: 'live' }, { lease: holder!.lease })).ok).toBe(true);
    expect(await a.saveContinuity('studio', { renditions: { video: { mediaSequence: 99 } } })).toBe(false);
    expect((await b.loadContinuity('studio'))?.data).toEqual(numbering);
    // Continuity outlives the claim: a publisher coming back after the release still continues.
    expect(await b.release('studio')).toBe(true);
    expect((await a.loadContinuity('studio'))?.node).toBe('a');
    expect(await a.loadContinuity('never-saved')).toBeNull();
  });

  it('drops a node that stops heartbeating, and its streams, within 10 s', async () => {
    const p = prefix();
    const a = await nodes.start('a', p);
    const b = await nodes.start('b', p);
    await a.claim('dead-1', { state: 'live' });
    await a.claim('dead-2', { state: 'parked' });
    await untilView(b, (v) => v.streams.filter((s) => s.node === 'a').length === 2, "a's streams in b's view");

    const nodeGone = waitFor(b, 'view', (v) => v.nodesRemoved.some((n) => n.id === 'a'), 'a removed');
    const streamsGone = waitFor(b, 'view', (v) => v.streamsRemoved.filter((s) => s.node === 'a').length === 2, "a's streams removed");
    const died = performance.now();
    await a.close({ deregister: false }); // connections dropped, records left behind: a crash
    const [[nodeChange], [streamChange]] = await Promise.all([nodeGone, streamsGone]);
    timings.deadNodeVanishedMs = Math.round(performance.now() - died);
    expect(timings.deadNodeVanishedMs).toBeLessThan(10_000);
    expect(streamChange.streamsRemoved.map((s) => s.name).sort()).toEqual(['dead-1', 'dead-2']);
    expect(nodeChange.nodesRemoved.map((n) => n.id)).toEqual(['a']);
    expect((await b.nodes()).map((n) => n.id)).toEqual(['b']);
    expect(await b.streams()).toEqual([]);
    expect(await b.locate('dead-1')).toBeNull();
    // The names are free again.
    expect(await b.claim('dead-1', { state: 'live' })).toEqual({ ok: true, mode: 'cluster' });
  });

  it('drops a node that leaves cleanly at the others next heartbeat', async () => {
    const p = prefix();
    const a = await nodes.start('a', p);
    const b = await nodes.start('b', p);
    await a.claim('bye', { state: 'live' });
    await untilView(b, (v) => v.streams.some((s) => s.name === 'bye'), "bye in b's view");
    // Deregistration is one script: the node and its streams leave the same view.
    const gone = waitFor(b, 'view', (v) => v.nodesRemoved.some((n) => n.id === 'a'), 'a left');
    const left = performance.now();
    await a.close();
    const [change] = await gone;
    timings.cleanLeaveSeenMs = Math.round(performance.now() - left);
    expect(change.streamsRemoved.map((s) => s.name)).toEqual(['bye']);
    expect(await b.streams()).toEqual([]);
  });
});

describe('ClusterRegistry when Redis goes away and comes back', () => {
  let redis: RedisServer;
  const nodes = cluster(() => redis);

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterEach(() => nodes.closeAll());
  afterAll(() => redis?.stop());

  it('re-subscribes by itself when only the event connection drops', async () => {
    const a = await nodes.start('a', 'subscriber:');
    const b = await nodes.start('b', 'subscriber:');
    // Both nodes' subscribers are killed: each goes down and comes back by itself.
    const downs = [a, b].map((node) => waitFor(node, 'status', (s) => s.state === 'down', 'status down'));
    const ups = [a, b].map((node) => waitFor(node, 'status', (s) => s.state === 'up', 'status up again'));
    const raw = new Redis(redis.url);
    try {
      await raw.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    } finally {
      raw.disconnect();
    }
    for (const [status] of await Promise.all(downs)) expect(status.reason).toMatch(/^redis subscriber connection lost/);
    await Promise.all(ups);
    const heard = waitFor(a, 'event', (e) => e.stream === 'again', 'event after re-subscribing');
    expect(await b.publish({ type: 'peerLive', stream: 'again' })).toBe(true);
    await heard;
  });

  it('treats a Redis that stops answering as down after one command timeout, and recovers when it answers', async () => {
    const a = await nodes.start('a', 'hang:');
    const b = await nodes.start('b', 'hang:');
    expect((await a.claim('s', { state: 'live' })).ok).toBe(true);
    const downs = [a, b].map((node) => waitFor(node, 'status', (s) => s.state === 'down', 'status down'));
    const ups = [a, b].map((node) => waitFor(node, 'status', (s) => s.state === 'up', 'status up'));
    redis.pause();
    const paused = performance.now();
    try {
      // Each finds out at its next heartbeat, one command timeout later.
      const [[status]] = await Promise.all(downs);
      timings.downAfterHangMs = Math.round(performance.now() - paused);
      expect(status.reason).toMatch(/^redis \w+ failed: .*timed out/i);
      const calls = await Promise.all([timed(() => a.claim('x', { state: 'live' })), timed(() => a.streams())]);
      expect(calls[0].value).toEqual({ ok: true, mode: 'local' });
      expect(calls[1].error).toBeInstanceOf(ClusterUnavailableError);
      expect(Math.max(...calls.map((c) => c.ms))).toBeLessThan(1000);
    } finally {
      redis.resume();
    }
    const resumed = performance.now();
    await Promise.all(ups);
    timings.upAfterResumeMs = Math.round(performance.now() - resumed);
    expect((await b.streams()).map((s) => `${s.name}@${s.node}`).sort()).toEqual(['s@a', 'x@a']);
  });

  it('goes down at once, answers without waiting, and recovers registration and claims by itself', async () => {
    const p = 'outage:';
    const a = await nodes.start('a', p);
    const b = await nodes.start('b', p);
    expect((await a.claim('before', { state: 'live' })).ok).toBe(true);
    expect(await a.saveContinuity('before', { mediaSequence: 10 })).toBe(true);
    const lost: StreamLost[] = [];
    a.on('lost', (l) => lost.push(l));
    b.on('lost', (l) => lost.push(l));

    // Redis dies.
    const downs = [a, b].map((node) => waitFor(node, 'status', (s) => s.state === 'down', 'status down'));
    const killed = performance.now();
    await redis.kill();
    await Promise.all(downs);
    timings.downAfterKillMs = Math.round(performance.now() - killed);
    expect(a.status()).toMatchObject({ state: 'down', reason: expect.stringMatching(/^redis (commands|subscriber) connection lost/) });

    // Nothing waits for it: writes are kept locally, reads refuse at once.
    const calls = await Promise.all([
      timed(() => a.claim('during', { state: 'live' })),
      timed(() => a.claim('dup', { state: 'live' })),
      timed(() => b.claim('dup', { state: 'live' })),
      timed(() => a.update('before', 'parked')),
      timed(() => a.saveContinuity('before', { mediaSequence: 11 })),
      timed(() => a.publish({ type: 'peerLive', stream: 'during' })),
      timed(() => a.streams()),
      timed(() => a.nodes()),
      timed(() => a.locate('before')),
      timed(() => a.loadContinuity('before')),
    ]);
    const [during, dupA, dupB, update, save, publish, ...reads] = calls;
    expect(during.value).toEqual({ ok: true, mode: 'local' });
    expect(dupA.value).toEqual({ ok: true, mode: 'local' });
    expect(dupB.value).toEqual({ ok: true, mode: 'local' });
    expect(update.value).toBe(false);
    expect(save.value).toBe(false);
    expect(publish.value).toBe(false);
    for (const read of reads) expect(read.error).toBeInstanceOf(ClusterUnavailableError);
    timings.slowestCallWhileDownMs = Math.round(Math.max(...calls.map((c) => c.ms)));
    expect(timings.slowestCallWhileDownMs).toBeLessThan(1000);

    // A node starting during the outage starts, down, and joins later.
    const startedAt = performance.now();
    const c = await nodes.start('c', p);
    timings.startWhileDownMs = Math.round(performance.now() - startedAt);
    expect(c.status()).toMatchObject({ state: 'down', reason: expect.stringContaining('ECONNREFUSED') });

    // Redis returns, empty.
    const ups = [a, b, c].map((node) => waitFor(node, 'status', (s) => s.state === 'up', 'status up'));
    await redis.restart();
    const restarted = performance.now();
    await Promise.all(ups);
    timings.upAfterRestartMs = Math.round(performance.now() - restarted);

    expect((await b.nodes()).map((n) => n.id).sort()).toEqual(['a', 'b', 'c']);
    const streams = await c.streams();
    expect(streams.find((s) => s.name === 'before')).toMatchObject({ node: 'a', state: 'parked' });
    expect(streams.find((s) => s.name === 'during')).toMatchObject({ node: 'a', state: 'live' });
    // Both took 'dup' locally; the first to re-assert keeps it, the other is told.
    const dupHolder = streams.find((s) => s.name === 'dup')!.node;
    expect(lost).toEqual([{ name: 'dup', reason: 'conflict', node: dupHolder, holder: expect.objectContaining({ node: dupHolder }) }]);
    expect(a.holds('dup')).toBe(dupHolder === 'a');
    expect(b.holds('dup')).toBe(dupHolder === 'b');
    // The continuity saved during the outage was written when Redis returned.
    expect(await b.loadContinuity('before')).toMatchObject({ node: 'a', data: { mediaSequence: 11 } });
    // And events flow again.
    const heard = waitFor(c, 'event', (e) => e.stream === 'after', 'event after recovery');
    expect(await a.publish({ type: 'peerLive', stream: 'after' })).toBe(true);
    await heard;
  });
});
