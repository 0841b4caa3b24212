import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { Consumer } from 'mediasoup/node/lib/Consumer';
import type { Producer } from 'mediasoup/node/lib/Producer';
import type { Router } from 'mediasoup/node/lib/Router';
import type { DtlsParameters } from 'mediasoup/node/lib/WebRtcTransport';
import type { MediaKind, RtpCapabilities, RtpParameters } from 'mediasoup/node/lib/RtpParameters';
import { errorMessage, InvalidStateError, LimitExceededError, NotFoundError, UnavailableError } from '../common/errors';
import { EventBus, OnBusEvent, BusEvents } from '../events/events';
import { WorkerPoolService } from '../mediasoup/worker-pool.service';
import { PEER_LIMITS } from './limits';
import { Peer, TransportDirection } from './peer';

export interface TransportInfo {
  id: string;
  iceParameters: unknown;
  iceCandidates: unknown;
  dtlsParameters: unknown;
}

export interface ConsumerInfo {
  id: string;
  producerId: string;
  kind: MediaKind;
  rtpParameters: RtpParameters;
}

/** Waits this long at most for listeners of peer.leaving / producer.closing (FFmpeg stops in ~30 ms). */
const LEAVING_TIMEOUT_MS = 3000;

/**
 * Registry of connected peers and sole owner of their transports, producers and consumers.
 * Life events go to the bus; nothing here knows about HLS or sockets.
 */
@Injectable()
export class PeersService implements OnApplicationShutdown {
  private readonly logger = new Logger(PeersService.name);
  private readonly peers = new Map<string, Peer>();
  /** Producers piped into another worker's router, keyed `${producerId}:${routerId}`. */
  private readonly pipes = new Map<string, Promise<void>>();

  constructor(
    private readonly pool: WorkerPoolService,
    private readonly bus: EventBus,
  ) {}

  join(peerId: string): Peer {
    const existing = this.peers.get(peerId);
    if (existing) return existing;
    let slot;
    try {
      slot = this.pool.pickSlot();
    } catch (error) {
      throw new UnavailableError(errorMessage(error));
    }
    const peer = new Peer(peerId, slot);
    this.peers.set(peerId, peer);
    this.logger.log(`[peer:${peerId}] joined worker ${slot.id}`);
    this.bus.emit('peer.joined', { peerId, workerId: slot.id });
    return peer;
  }

  get(peerId: string): Peer {
    const peer = this.peers.get(peerId);
    if (!peer || peer.closed) throw new NotFoundError(`peer ${peerId} is not connected`);
    return peer;
  }

  find(peerId: string): Peer | undefined {
    return this.peers.get(peerId);
  }

  all(): Peer[] {
    return [...this.peers.values()];
  }

  /** The live producer of `peerId` for `kind`, if any (used by the HLS side to consume it). */
  producer(peerId: string, kind: MediaKind): Producer | undefined {
    const producer = this.peers.get(peerId)?.producers.get(kind);
    return producer && !producer.closed ? producer : undefined;
  }

  routerOf(peerId: string): Router {
    return this.get(peerId).slot.router;
  }

  rtpCapabilities(peerId: string): RtpCapabilities {
    return this.get(peerId).slot.router.rtpCapabilities;
  }

  async createTransport(peerId: string, isConsumer: boolean): Promise<TransportInfo> {
    const peer = this.get(peerId);
    const direction: TransportDirection = isConsumer ? 'recv' : 'send';
    if (peer.transports.has(direction)) {
      throw new LimitExceededError(`peer already has a ${direction} transport (limit: one per direction)`);
    }
    if (peer.transports.size >= PEER_LIMITS.transports) throw new LimitExceededError('transport limit reached');
    const transport = await this.pool.createWebRtcTransport(peer.slot, { peerId, direction });
    if (peer.closed || peer.transports.has(direction)) {
      // The peer left, or a concurrent request won, while the worker created this one.
      transport.close();
      throw new InvalidStateError(`peer ${peerId} closed or already has a ${direction} transport`);
    }
    peer.transports.set(direction, transport);
    transport.observer.once('close', () => {
      if (peer.transports.get(direction) === transport) peer.transports.delete(direction);
      peer.connected.delete(transport.id);
    });
    return {
      id: transport.id,
      iceParameters: transport.iceParameters,
      iceCandidates: transport.iceCandidates,
      dtlsParameters: transport.dtlsParameters,
    };
  }

  async connectTransport(peerId: string, transportId: string, dtlsParameters: DtlsParameters): Promise<void> {
    const peer = this.get(peerId);
    const transport = peer.transportById(transportId);
    if (!transport) throw new NotFoundError(`transport ${transportId} not found`);
    if (peer.connected.has(transportId)) throw new InvalidStateError(`transport ${transportId} is already connected`);
    await transport.connect({ dtlsParameters });
    peer.connected.add(transportId);
  }

  async produce(peerId: string, kind: MediaKind, rtpParameters: RtpParameters): Promise<string> {
    const peer = this.get(peerId);
    const transport = peer.transports.get('send');
    if (!transport) throw new InvalidStateError('create a send transport (createWebRtcTransport {isConsumer:false}) first');
    if (!peer.connected.has(transport.id)) throw new InvalidStateError('connect the send transport (connectTransport) before producing');
    if (peer.producers.has(kind)) throw new LimitExceededError(`peer already produces ${kind} (limit: one per kind)`);
    const producer = await transport.produce({ kind, rtpParameters, appData: { peerId } });
    if (peer.closed || peer.producers.has(kind)) {
      producer.close();
      throw new InvalidStateError(`peer ${peerId} closed or already produces ${kind}`);
    }
    peer.producers.set(kind, producer);
    producer.observer.once('close', () => {
      if (peer.producers.get(kind) === producer) peer.producers.delete(kind);
      this.bus.emit('producer.closed', { peerId, producerId: producer.id, kind });
    });
    const encodings = rtpParameters.encodings?.length ?? 1;
    this.logger.log(
      `[peer:${peerId} producer:${producer.id}] ${kind} ${producer.rtpParameters.codecs[0]?.mimeType} (${encodings} encoding(s))`,
    );
    this.bus.emit('producer.created', { peerId, producerId: producer.id, kind, paused: producer.paused });
    return producer.id;
  }

  async setProducerPaused(peerId: string, kind: MediaKind, paused: boolean): Promise<void> {
    const producer = this.get(peerId).producers.get(kind);
    if (!producer) throw new NotFoundError(`peer has no ${kind} producer`);
    if (producer.paused === paused) return;
    if (paused) await producer.pause();
    else await producer.resume();
    const payload = { peerId, producerId: producer.id, kind };
    this.bus.emit(paused ? 'producer.paused' : 'producer.resumed', payload);
  }

  /** Other peers' producers, as the original protocol's getProducers lists them. */
  producersExcept(peerId: string): Array<{ peerId: string; producerId: string }> {
    return this.all()
      .filter((peer) => peer.id !== peerId && !peer.closed)
      .flatMap((peer) => [...peer.producers.values()].map((producer) => ({ peerId: peer.id, producerId: producer.id })));
  }

  async consume(peerId: string, producerId: string, rtpCapabilities: RtpCapabilities): Promise<ConsumerInfo> {
    const peer = this.get(peerId);
    const transport = peer.transports.get('recv');
    if (!transport) throw new InvalidStateError('create a receive transport (createWebRtcTransport {isConsumer:true}) first');
    if (peer.consumers.size >= PEER_LIMITS.consumers) {
      throw new LimitExceededError(`consumer limit reached (${PEER_LIMITS.consumers} per peer)`);
    }
    const owner = this.all().find((other) => [...other.producers.values()].some((p) => p.id === producerId));
    if (!owner) throw new NotFoundError(`producer ${producerId} not found`);
    const router = peer.slot.router;
    if (owner.slot.router !== router) await this.pipe(producerId, owner.slot.router, router);
    if (!router.canConsume({ producerId, rtpCapabilities })) {
      throw new InvalidStateError(`these rtpCapabilities cannot consume producer ${producerId}`);
    }
    const consumer = await transport.consume({ producerId, rtpCapabilities, paused: true, appData: { peerId } });
    if (peer.closed) {
      consumer.close();
      throw new InvalidStateError(`peer ${peerId} closed`);
    }
    this.track(peer, consumer);
    return { id: consumer.id, producerId, kind: consumer.kind, rtpParameters: consumer.rtpParameters };
  }

  async resumeConsumer(peerId: string, consumerId: string): Promise<void> {
    const consumer = this.get(peerId).consumers.get(consumerId);
    if (!consumer) throw new NotFoundError(`consumer ${consumerId} not found`);
    await consumer.resume();
  }

  /** Tells listeners first (awaited, bounded) so FFmpeg stops while packets still flow, then closes. */
  async leave(peerId: string, reason: string): Promise<void> {
    const peer = this.peers.get(peerId);
    if (!peer || peer.closed) return;
    await withTimeout(this.bus.emitAndWait('peer.leaving', { peerId, reason }), LEAVING_TIMEOUT_MS);
    if (this.peers.get(peerId) !== peer) return;
    this.peers.delete(peerId);
    peer.close();
    this.logger.log(`[peer:${peerId}] left: ${reason}`);
    this.bus.emit('peer.left', { peerId, reason });
  }

  @OnBusEvent('worker.died')
  async onWorkerDied({ workerId }: BusEvents['worker.died']): Promise<void> {
    const victims = this.all().filter((peer) => peer.slot.id === workerId);
    for (const key of this.pipes.keys()) this.pipes.delete(key);
    await Promise.all(victims.map((peer) => this.leave(peer.id, 'worker-died')));
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.all().map((peer) => this.leave(peer.id, 'shutdown')));
  }

  private track(peer: Peer, consumer: Consumer): void {
    peer.consumers.set(consumer.id, consumer);
    consumer.observer.once('close', () => peer.consumers.delete(consumer.id));
  }

  private pipe(producerId: string, from: Router, to: Router): Promise<void> {
    const key = `${producerId}:${to.id}`;
    let piping = this.pipes.get(key);
    if (!piping) {
      piping = from.pipeToRouter({ producerId, router: to }).then(
        ({ pipeProducer }) => {
          pipeProducer?.observer.once('close', () => this.pipes.delete(key));
        },
        (error) => {
          this.pipes.delete(key);
          throw error;
        },
      );
      this.pipes.set(key, piping);
    }
    return piping;
  }
}

async function withTimeout(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    work.catch(() => undefined),
    new Promise((resolve) => (timer = setTimeout(resolve, ms))),
  ]).finally(() => clearTimeout(timer));
}
