/**
 * ClusterModule in a Nest application: single node without Redis options, the registry with them,
 * started with the module, reporting Redis's state by name, and leaving the cluster on close.
 */
import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ClusterRegistry } from '../src/cluster/cluster-registry';
import { CLUSTER } from '../src/cluster/cluster.constants';
import { ClusterHealthIndicator } from '../src/cluster/cluster.health';
import { ClusterModule } from '../src/cluster/cluster.module';
import type { Cluster, ClusterEvents, ClusterSnapshot } from '../src/cluster/cluster.types';
import { LocalCluster } from '../src/cluster/local-cluster';
import { RedisServer } from './support/redis-server';

Logger.overrideLogger(['error']);

/** The first `name` event that satisfies `accept`, or a rejection naming what did not happen. */
function waitFor<K extends keyof ClusterEvents>(node: Cluster, name: K, accept: (...args: ClusterEvents[K]) => boolean, what: string) {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${node.nodeId}: no ${what} within 20 s`)), 20_000);
    const dispose = node.on(name, (...args: ClusterEvents[K]) => {
      if (!accept(...args)) return;
      clearTimeout(timer);
      dispose();
      resolve();
    });
  });
}

async function untilView(node: Cluster, accept: (view: ClusterSnapshot) => boolean, what: string): Promise<void> {
  if (!accept(node.view())) await waitFor(node, 'view', () => accept(node.view()), what);
}

async function boot(options: ConstructorParameters<typeof ClusterRegistry>[0] | null) {
  const moduleRef = await Test.createTestingModule({ imports: [ClusterModule.forRootAsync({ useFactory: () => options })] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return { app, cluster: app.get<Cluster>(CLUSTER), health: app.get(ClusterHealthIndicator) };
}

describe('ClusterModule', () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(() => redis?.stop());

  it('is a single node without Redis options', async () => {
    const { app, cluster, health } = await boot(null);
    try {
      expect(cluster).toBeInstanceOf(LocalCluster);
      expect(await cluster.claim('s', { state: 'live' })).toEqual({ ok: true, mode: 'local' });
      expect(await cluster.streams()).toEqual([]);
      expect(health.check()).toEqual({ redis: expect.objectContaining({ status: 'up', mode: 'single' }) });
    } finally {
      await app.close();
    }
  });

  it('runs the registry with Redis options, names Redis in readiness, and deregisters on close', async () => {
    const observer = new ClusterRegistry({
      redisUrl: redis.url,
      nodeId: 'observer',
      address: 'http://127.0.0.1:4199',
      capacity: 1,
      keyPrefix: 'mod:',
    });
    await observer.start();
    const { app, cluster, health } = await boot({
      redisUrl: redis.url,
      nodeId: 'app',
      address: 'http://127.0.0.1:4198',
      capacity: 5,
      keyPrefix: 'mod:',
    });
    let closed = false;
    try {
      expect(cluster).toBeInstanceOf(ClusterRegistry);
      expect(cluster.status()).toMatchObject({ state: 'up', mode: 'cluster' });
      expect((await observer.nodes()).map((n) => n.id).sort()).toEqual(['app', 'observer']);
      expect(await cluster.claim('s', { state: 'live' })).toEqual({ ok: true, mode: 'cluster' });
      expect(health.check()).toEqual({ redis: expect.objectContaining({ status: 'up', mode: 'cluster', node: 'app' }) });

      const down = waitFor(cluster, 'status', (s) => s.state === 'down', 'status down');
      await redis.kill();
      await down;
      expect(health.check()).toEqual({
        redis: expect.objectContaining({ status: 'up', degraded: true, error: expect.stringContaining('redis') }),
      });
      expect(health.check('redis', { required: true })).toEqual({ redis: expect.objectContaining({ status: 'down', degraded: true }) });

      const ups = [cluster, observer].map((node) => waitFor(node, 'status', (s) => s.state === 'up', 'status up'));
      await redis.restart();
      await Promise.all(ups);
      expect((await observer.streams()).map((s) => `${s.name}@${s.node}`)).toEqual(['s@app']);

      // The observer must have seen the app back before it can see it leave.
      await untilView(observer, (v) => v.nodes.some((n) => n.id === 'app') && v.streams.some((s) => s.name === 's'), 'app back in view');
      const nodeLeft = waitFor(observer, 'view', (v) => v.nodesRemoved.some((n) => n.id === 'app'), 'app removed');
      const streamLeft = waitFor(observer, 'view', (v) => v.streamsRemoved.some((s) => s.name === 's'), 's removed');
      await app.close();
      closed = true;
      await Promise.all([nodeLeft, streamLeft]);
      expect(await observer.streams()).toEqual([]);
    } finally {
      if (!closed) await app.close();
      await observer.close();
    }
  });
});
