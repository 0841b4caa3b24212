import { WorkerPoolService } from '../src/mediasoup/worker-pool.service';
import { useHlsFixture } from './support/hls-fixture';
import { waitFor } from './support/app';
import { readPlaylist } from './support/hls';
import { publishFromChromium, waitForNewSegments } from './support/publisher';

jest.setTimeout(120_000);

describe('(i) a mediasoup worker dies under a live stream', () => {
  const fx = useHlsFixture({ MEDIASOUP_WORKERS: '1', HLS_RETENTION_SECONDS: '5' });

  it('the process survives, the stream ends with peerLeft and ENDLIST, and a new publisher goes live on the replacement', async () => {
    const pool = fx.app.app.get(WorkerPoolService);
    const { page, peerId } = await fx.goLive({ video: 'camera', audio: 'mic' });
    const [slot] = pool.aliveSlots();
    const oldPid = slot.worker.pid;

    process.kill(oldPid, 'SIGKILL');

    await fx.waitForLeft(peerId);
    for (const kind of ['video', 'audio']) {
      expect((await readPlaylist(fx.app.hlsDir, `${peerId}-${kind}.m3u8`))!.ended).toBe(true);
    }
    // The publisher is told, and disconnected so it can reconnect to the replacement.
    const told = await waitFor('publisher told', () =>
      page.evaluate(() => (window as any).harness.events.find((e: { name: string }) => e.name === 'error')),
    );
    expect(told.data).toMatchObject({ code: 'WORKER_DIED' });

    const replacement = await waitFor('replacement worker', () => pool.aliveSlots().find((s) => s.worker.pid !== oldPid));
    const health = await fetch(`${fx.app.url}/health/ready`);
    expect(health.status).toBe(200);

    const second = await publishFromChromium(fx.browser, fx.app.url, { video: 'camera', audio: 'mic' });
    await waitFor('second publisher live', () => fx.sse.find('peerLive', second.peerId), 20_000);
    await waitForNewSegments(fx.app.hlsDir, `${second.peerId}-video.m3u8`, 2);
    const dump = await replacement.router.dump();
    expect(dump.transportIds.length).toBeGreaterThan(0); // its transports live on the new worker
    await second.page.close();
    await page.close();
  });
});
