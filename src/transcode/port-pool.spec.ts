import { createSocket } from 'node:dgram';
import { PortPool, PortsExhaustedError } from './port-pool';

describe('PortPool', () => {
  it('hands out disjoint blocks of eight to concurrent leases (audio and three video layers), and errors clearly when full', async () => {
    const pool = new PortPool({ min: 24000, max: 24023 });
    const leases = await Promise.all([pool.lease(), pool.lease(), pool.lease()]);
    const ports = leases.flatMap((l) => [l.audio, l.videoLayer(0), l.videoLayer(1), l.videoLayer(2)].flatMap((p) => [p.rtp, p.rtcp]));
    expect(new Set(ports).size).toBe(24);
    expect(leases[0].video).toEqual(leases[0].videoLayer(0));
    expect(() => leases[0].videoLayer(3)).toThrow(RangeError);
    await expect(pool.lease()).rejects.toThrow(PortsExhaustedError);
    await expect(pool.lease()).rejects.toThrow(/no free FFmpeg ports left in 24000-24023/);
  });

  it('releases exactly once and reuses the least recently released block last', async () => {
    const pool = new PortPool({ min: 24100, max: 24115 });
    const a = await pool.lease();
    const b = await pool.lease();
    a.release();
    a.release();
    expect(pool.inUse).toBe(1);
    const c = await pool.lease();
    expect(c.video.rtp).toBe(a.video.rtp);
    b.release();
    c.release();
    expect(pool.inUse).toBe(0);
  });

  it('skips a block whose port another process holds', async () => {
    const squatter = createSocket('udp4');
    await new Promise<void>((resolve) => squatter.bind(24206, '127.0.0.1', resolve));
    try {
      const pool = new PortPool({ min: 24200, max: 24215 });
      const lease = await pool.lease();
      expect(lease.video.rtp).toBe(24208);
    } finally {
      squatter.close();
    }
  });
});
