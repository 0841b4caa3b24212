import { createSocket } from 'node:dgram';
import type { PortRange } from '../config/app.config';
import { PORTS_PER_LEASE } from '../config/env.schema';

export { PORTS_PER_LEASE };

export interface PortPair {
  rtp: number;
  rtcp: number;
}

/** Video layers a lease has ports for (simulcast publishers send up to three). */
export const MAX_VIDEO_LAYERS = 3;

export interface PortLease {
  /** The (top) video layer's ports. */
  readonly video: PortPair;
  readonly audio: PortPair;
  /** Ports of video layer `index` (0 = the top one, as `video`; up to MAX_VIDEO_LAYERS − 1). */
  videoLayer(index: number): PortPair;
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
    // video, audio, then the other video layers: a stream without simulcast uses the first four.
    const videoLayer = (index: number): PortPair => {
      if (!Number.isInteger(index) || index < 0 || index >= MAX_VIDEO_LAYERS) throw new RangeError(`no ports for video layer ${index}`);
      const at = index === 0 ? base : base + 2 + 2 * index;
      return { rtp: at, rtcp: at + 1 };
    };
    return {
      video: videoLayer(0),
      audio: { rtp: base + 2, rtcp: base + 3 },
      videoLayer,
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
