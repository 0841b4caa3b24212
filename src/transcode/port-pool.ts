import { createSocket } from 'node:dgram';
import type { PortRange } from '../config/app.config';
import { PORTS_PER_LEASE } from '../config/env.schema';

export { PORTS_PER_LEASE };

export interface PortLease {
  readonly video: { rtp: number; rtcp: number };
  readonly audio: { rtp: number; rtcp: number };
  /** Idempotent. Call only once the process that bound the ports has exited. */
  release(): void;
}

export class PortsExhaustedError extends Error {}

/**
 * The one place FFmpeg's receive ports come from. Blocks are handed out least-recently-released
 * first, skipped when something else on the machine holds one of their ports, and never given to
 * two streams at once.
 */
export class PortPool {
  private readonly free: number[] = [];
  private readonly leased = new Set<number>();

  constructor(private readonly range: PortRange) {
    for (let base = range.min; base + PORTS_PER_LEASE - 1 <= range.max; base += PORTS_PER_LEASE) this.free.push(base);
  }

  get capacity(): number {
    return this.free.length + this.leased.size;
  }

  get inUse(): number {
    return this.leased.size;
  }

  /** Blocks not leased now (one may still turn out to be held by another program when leased). */
  get available(): number {
    return this.free.length;
  }

  async lease(): Promise<PortLease> {
    const tried: number[] = [];
    try {
      while (this.free.length > 0) {
        const base = this.free.shift()!;
        // Reserved before the async probe, so a concurrent lease() cannot pick the same block.
        this.leased.add(base);
        if (await allFree(base)) return this.makeLease(base);
        this.leased.delete(base);
        tried.push(base);
      }
    } finally {
      this.free.push(...tried);
    }
    throw new PortsExhaustedError(
      `no free FFmpeg ports left in ${this.range.min}-${this.range.max} (${this.leased.size} streams use them)`,
    );
  }

  private makeLease(base: number): PortLease {
    let released = false;
    return {
      video: { rtp: base, rtcp: base + 1 },
      audio: { rtp: base + 2, rtcp: base + 3 },
      release: () => {
        if (released) return;
        released = true;
        this.leased.delete(base);
        this.free.push(base);
      },
    };
  }
}

async function allFree(base: number): Promise<boolean> {
  for (let port = base; port < base + PORTS_PER_LEASE; port++) {
    if (!(await udpPortFree(port))) return false;
  }
  return true;
}

function udpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
}
