import type { Consumer } from 'mediasoup/node/lib/Consumer';
import type { Producer } from 'mediasoup/node/lib/Producer';
import type { MediaKind } from 'mediasoup/node/lib/RtpParameters';
import type { WebRtcTransport } from 'mediasoup/node/lib/WebRtcTransport';
import type { WorkerSlot } from '../mediasoup/worker-pool.service';

export type TransportDirection = 'send' | 'recv';

/**
 * One connected socket. Owns its two WebRTC transports; closing them makes mediasoup close the
 * producers and consumers on them, whose close handlers only drop the references here.
 */
export class Peer {
  readonly transports = new Map<TransportDirection, WebRtcTransport>();
  /** Transports whose connect was requested (marked before the worker answers; unmarked if it fails). */
  readonly connected = new Set<string>();
  readonly producers = new Map<MediaKind, Producer>();
  readonly consumers = new Map<string, Consumer>();
  /**
   * Requests still waiting on the worker, counted against the limits: otherwise thirty concurrent
   * createWebRtcTransport would all pass the check and make the worker create thirty transports.
   */
  readonly pending = {
    transports: new Set<TransportDirection>(),
    producers: new Set<MediaKind>(),
    consumers: 0,
  };
  /** The tail of each kind's pause/resume queue (see PeersService.setProducerPaused). */
  readonly pausing = new Map<MediaKind, Promise<void>>();
  readonly joinedAt = new Date();
  closed = false;

  constructor(
    readonly id: string,
    readonly slot: WorkerSlot,
  ) {}

  transportById(transportId: string): WebRtcTransport | undefined {
    return [...this.transports.values()].find((transport) => transport.id === transportId);
  }

  /** Idempotent; the caller (PeersService) emits the events. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const transport of this.transports.values()) transport.close();
    this.transports.clear();
    this.producers.clear();
    this.consumers.clear();
  }
}
