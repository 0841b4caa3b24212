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
import type { Cluster, ClusterStatus } from '../src/cluster/cluster.types';
import { LocalCluster } from '../src/cluster/local-cluster';
import { RedisServer } from './support/redis-server';

Logger.overrideLogger(['error']);

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

      const down = new Promise<ClusterStatus>((resolve) => cluster.on('status', (s) => s.state === 'down' && resolve(s)));
      await redis.kill();
      await down;
      expect(health.check()).toEqual({
        redis: expect.objectContaining({ status: 'up', degraded: true, error: expect.stringContaining('redis') }),
      });
      expect(health.check('redis', { required: true })).toEqual({ redis: expect.objectContaining({ status: 'down', degraded: true }) });

      const ups = [cluster, observer].map(
        (node) => new Promise<void>((resolve) => node.on('status', (s) => s.state === 'up' && resolve())),
      );
      await redis.restart();
      await Promise.all(ups);
      expect((await observer.streams()).map((s) => `${s.name}@${s.node}`)).toEqual(['s@app']);

      const left = new Promise<void>((resolve) =>
        observer.on('view', (v) => v.nodesRemoved.some((n) => n.id === 'app') && v.streamsRemoved.some((s) => s.name === 's') && resolve()),
      );
      await app.close();
      closed = true;
      await left;
      expect(await observer.streams()).toEqual([]);
    } finally {
      if (!closed) await app.close();
      await observer.close();
    }
  });
});
