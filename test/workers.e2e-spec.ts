import { EventEmitter2 } from '@nestjs/event-emitter';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import type { BusEvents } from '../src/events/events';
import { WorkerPoolService } from '../src/mediasoup/worker-pool.service';
import { webRtcServerPorts } from '../src/mediasoup/port-slices';
import { startApp, TestApp, waitFor } from './support/app';

jest.setTimeout(90_000);

/** The process is gone, or only a zombie waiting to be reaped. */
function processGone(pid: number): boolean {
  if (!existsSync(`/proc/${pid}`)) return true;
  try {
    return /^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

async function readiness(url: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}/health/ready`);
  return { status: response.status, body: await response.json() };
}

describe('mediasoup worker pool (real workers)', () => {
  let app: TestApp;
  let pool: WorkerPoolService;
  const events: Array<{ name: keyof BusEvents; payload: any; at: number }> = [];

  beforeAll(async () => {
    app = await startApp({ MEDIASOUP_WORKERS: '2' });
    pool = app.app.get(WorkerPoolService);
    const emitter = app.app.get(EventEmitter2);
    for (const name of ['worker.died', 'worker.started'] as const) {
      emitter.on(name, (payload: unknown) => events.push({ name, payload, at: Date.now() }));
    }
  });

  afterAll(async () => {
    await app?.close();
    if (app) rmSync(app.hlsDir, { recursive: true, force: true });
  });

  it('MEDIASOUP_WORKERS=2 starts two worker processes, each with a router, a WebRtcServer and its own RTC ports', async () => {
    expect(pool.size).toBe(2);
    const slots = pool.aliveSlots();
    expect(slots.map((slot) => slot.id).sort()).toEqual([0, 1]);
    const pids = slots.map((slot) => slot.worker.pid);
    expect(new Set(pids).size).toBe(2);
    for (const slot of slots) {
      expect(processGone(slot.worker.pid)).toBe(false);
      expect(readFileSync(`/proc/${slot.worker.pid}/cmdline`, 'utf8')).toContain('mediasoup-worker');
      expect(slot.router.closed).toBe(false);
      expect(slot.webRtcServers.length).toBeGreaterThan(0);
      expect(slot.webRtcServers.every((server) => !server.closed)).toBe(true);
    }
    const [a, b] = [...slots].sort((x, y) => x.id - y.id);
    expect(b.ports.min).toBe(a.ports.max + 1);
    expect(a.ports.min).toBe(app.config.mediasoup.rtcPorts.min);
    expect(b.ports.max).toBe(app.config.mediasoup.rtcPorts.max);

    const { status, body } = await readiness(app.url);
    expect(status).toBe(200);
    expect(body.info.mediasoup).toMatchObject({ status: 'up', expected: 2 });
    expect(body.info.mediasoup.workers.map((w: { pid: number }) => w.pid).sort()).toEqual([...pids].sort());
  });

  it('a SIGKILLed worker is detected and replaced with a new process; readiness goes 503 then 200', async () => {
    const victim = pool.slot(1)!;
    const survivor = pool.slot(0)!;
    const oldPid = victim.worker.pid;
    events.length = 0;

    // A readiness request starts the moment the pool reports the death: it is served before the
    // replacement (which waits at least 100 ms), so the 503 is observed, not raced for.
    const duringOutage = new Promise<{ status: number; body: any }>((resolve, reject) => {
      app.app.get(EventEmitter2).once('worker.died', () => readiness(app.url).then(resolve, reject));
    });
    process.kill(oldPid, 'SIGKILL');

    const outage = await waitFor('the readiness answer during the outage', () => duringOutage, 15_000);
    expect(outage.status).toBe(503);
    expect(outage.body.error.mediasoup).toMatchObject({ status: 'down', expected: 2 });
    expect(outage.body.error.mediasoup.workers).toEqual([{ id: 0, pid: survivor.worker.pid }]);

    const replacement = await waitFor(
      'worker 1 replaced',
      () => {
        const slot = pool.slot(1);
        return slot && slot.worker.pid !== oldPid ? slot : undefined;
      },
      30_000,
    );
    // Sequential probes only: overlapping readiness checks can trip over each other's disk probe file.
    const seen: number[] = [outage.status];
    await waitFor(
      'readiness 200 again',
      async () => {
        const { status } = await readiness(app.url);
        if (seen.at(-1) !== status) seen.push(status);
        return status === 200;
      },
      30_000,
    );

    expect(replacement.worker.pid).not.toBe(oldPid);
    expect(processGone(oldPid)).toBe(true);
    expect(processGone(replacement.worker.pid)).toBe(false);
    expect(replacement.router).not.toBe(victim.router);
    expect(replacement.router.closed).toBe(false);
    expect(replacement.webRtcServers.every((server) => !server.closed)).toBe(true);
    // Same slot, same ports, WebRtcServer port included (it was freed when the old worker died).
    expect(replacement.ports).toEqual(victim.ports);
    // The other worker was not touched.
    expect(pool.slot(0)!.worker.pid).toBe(survivor.worker.pid);

    expect(events.map(({ name, payload }) => [name, payload.workerId, payload.pid])).toEqual([
      ['worker.died', 1, oldPid],
      ['worker.started', 1, replacement.worker.pid],
    ]);
    expect(seen).toEqual([503, 200]);

    const { body } = await readiness(app.url);
    expect(body.info.mediasoup.workers).toEqual(
      expect.arrayContaining([
        { id: 0, pid: survivor.worker.pid },
        { id: 1, pid: replacement.worker.pid },
      ]),
    );
  });

  it('the replacement serves: a WebRTC transport can be created on it', async () => {
    const slot = pool.slot(1)!;
    const transport = await pool.createWebRtcTransport(slot, { test: true });
    try {
      expect(transport.iceCandidates.length).toBeGreaterThan(0);
      expect(transport.iceCandidates.every((c) => c.ip === '127.0.0.1')).toBe(true);
      // One of worker 1's WebRtcServers (the pool spreads transports over them).
      const { webRtcServerPort, webRtcServersPerWorker } = app.config.mediasoup;
      const ports = webRtcServerPorts(webRtcServerPort, 1, webRtcServersPerWorker, pool.size);
      expect(ports).toHaveLength(4); // the default
      expect(transport.iceCandidates.some((c) => ports.includes(c.port))).toBe(true);
    } finally {
      transport.close();
    }
  });

  it('killing both workers: both are replaced, each once', async () => {
    const old = pool.aliveSlots().map((slot) => slot.worker.pid);
    events.length = 0;
    for (const pid of old) process.kill(pid, 'SIGKILL');
    await waitFor(
      'both replaced',
      () => {
        const now = pool.aliveSlots().map((slot) => slot.worker.pid);
        return now.length === 2 && now.every((pid) => !old.includes(pid));
      },
      30_000,
    );
    await waitFor('readiness 200', async () => (await readiness(app.url)).status === 200, 30_000);
    expect(events.filter((e) => e.name === 'worker.died')).toHaveLength(2);
    expect(events.filter((e) => e.name === 'worker.started')).toHaveLength(2);
  });
});
