import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { types as mediasoupTypes } from 'mediasoup';
import type { Consumer } from 'mediasoup/node/lib/Consumer';
import type { Producer } from 'mediasoup/node/lib/Producer';
import type { Router } from 'mediasoup/node/lib/Router';
import type { DtlsParameters, IceCandidate, IceParameters } from 'mediasoup/node/lib/WebRtcTransport';
import type { MediaKind, RtpCapabilities, RtpParameters } from 'mediasoup/node/lib/RtpParameters';
import {
  BadRequestError,
  errorMessage,
  InvalidStateError,
  LimitExceededError,
  NotFoundError,
  UnavailableError,
  UnsupportedError,
} from '../common/errors';
import { appConfig, AppConfig } from '../config/app.config';
import { EventBus, OnBusEvent, BusEvents } from '../events/events';
import { WorkerPoolService } from '../mediasoup/worker-pool.service';
import { PEER_LIMITS } from './limits';
import { Peer, TransportDirection } from './peer';
import { PublisherActivity } from './publisher-activity';
import { RouterPipes } from './router-pipes';

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
/** How often publishers' transports are checked for received bytes. */
const ACTIVITY_POLL_MS = 1000;

/**
 * Registry of connected peers and sole owner of their transports, producers and consumers.
 * Life events go to the bus; nothing here knows about HLS or sockets.
 */
@Injectable()
export class PeersService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(PeersService.name);
  private readonly peers = new Map<string, Peer>();
  /** Makes producers consumable by peers on other workers. */
  private readonly pipes = new RouterPipes();
  private readonly activity: PublisherActivity;
  private activityTimer?: NodeJS.Timeout;

  constructor(
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly pool: WorkerPoolService,
    private readonly bus: EventBus,
  ) {
    this.activity = new PublisherActivity(config.streams.publisherTimeoutMs, (peerId, silentMs) => {
      this.logger.warn(`[peer:${peerId}] its transport received nothing for ${silentMs} ms: gone`);
      this.bus.emit('peer.timed-out', { peerId, silentMs });
    });
  }

  onModuleInit(): void {
    this.activityTimer = setInterval(() => void this.activity.poll(), ACTIVITY_POLL_MS);
    this.activityTimer.unref();
  }

  /** How long the peer's send transport has received nothing: 0 while media flows, undefined without one. */
  publisherSilentForMs(peerId: string): number | undefined {
    return this.activity.silentForMs(peerId);
  }

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

  /** Whether the peer is connected (joined and not left). */
  isConnected(peerId: string): boolean {
    const peer = this.peers.get(peerId);
    return peer !== undefined && !peer.closed;
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
    if (peer.transports.has(direction) || peer.pending.transports.has(direction)) {
      throw new LimitExceededError(`peer already has a ${direction} transport (limit: one per direction)`);
    }
    if (peer.transports.size + peer.pending.transports.size >= PEER_LIMITS.transports) {
      throw new LimitExceededError(`transport limit reached (${PEER_LIMITS.transports} per peer)`);
    }
    // MAX_PEERS caps publishers (a send transport each, pending ones included); viewers are not counted.
    const maxPeers = this.config.maxPeers;
    if (direction === 'send' && maxPeers > 0) {
      const publishing = this.all().filter((p) => !p.closed && (p.transports.has('send') || p.pending.transports.has('send'))).length;
      if (publishing >= maxPeers) throw new LimitExceededError(`server full: ${publishing} publishing peers (MAX_PEERS=${maxPeers})`);
    }
    peer.pending.transports.add(direction);
    let transport;
    try {
      transport = await this.pool.createWebRtcTransport(peer.slot, { peerId, direction });
    } finally {
      peer.pending.transports.delete(direction);
    }
    if (peer.closed) {
      // The peer left while the worker created this one.
      transport.close();
      throw new InvalidStateError(`peer ${peerId} left`);
    }
    peer.transports.set(direction, transport);
    if (direction === 'send') this.activity.watch(peerId, transport);
    transport.on('dtlsstatechange', (state) => {
      // Only the client's doing: a transport we close emits nothing more.
      if (transport.closed || (state !== 'failed' && state !== 'closed')) return;
      const reason = state === 'failed' ? 'DTLS failed' : 'DTLS closed by the client';
      this.logger.log(`[peer:${peerId}] ${direction} transport: ${reason}`);
      this.bus.emit('peer.transport-failed', { peerId, direction, reason });
    });
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
    // Marked before the await, so a concurrent second connect is refused here, not by the worker.
    peer.connected.add(transportId);
    try {
      await transport.connect({ dtlsParameters });
    } catch (error) {
      peer.connected.delete(transportId);
      throw refusedByWorker(`cannot connect transport ${transportId}`, error);
    }
  }

  /**
   * New local ICE credentials for a transport (an ICE restart asked for by the client); its candidates
   * stay. The client's checks with the new credentials then select a new path.
   */
  async restartIce(peerId: string, transportId: string): Promise<{ iceParameters: IceParameters; iceCandidates: IceCandidate[] }> {
    const transport = this.get(peerId).transportById(transportId);
    if (!transport) throw new NotFoundError(`transport ${transportId} not found`);
    const iceParameters = await transport.restartIce();
    return { iceParameters, iceCandidates: transport.iceCandidates };
  }

  async produce(peerId: string, kind: MediaKind, rtpParameters: RtpParameters): Promise<string> {
    const peer = this.get(peerId);
    const transport = peer.transports.get('send');
    if (!transport) throw new InvalidStateError('create a send transport (createWebRtcTransport {isConsumer:false}) first');
    if (!peer.connected.has(transport.id)) throw new InvalidStateError('connect the send transport (connectTransport) before producing');
    if (peer.producers.has(kind) || peer.pending.producers.has(kind)) {
      throw new LimitExceededError(`peer already produces ${kind} (limit: one per kind)`);
    }
    peer.pending.producers.add(kind);
    let producer: Producer;
    try {
      producer = await transport.produce({ kind, rtpParameters, appData: { peerId } });
    } catch (error) {
      throw refusedByWorker(`cannot produce ${kind}`, error);
    } finally {
      peer.pending.producers.delete(kind);
    }
    if (peer.closed || transport.closed) {
      producer.close();
      throw new InvalidStateError(`peer ${peerId} left`);
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

  /**
   * Serialized per kind: `producer.paused` changes only when the worker answers, so a resume sent
   * right after a pause (the original front end toggles mute without acks) would otherwise find the
   * producer "not paused yet", do nothing, and leave it paused.
   */
  async setProducerPaused(peerId: string, kind: MediaKind, paused: boolean): Promise<void> {
    const peer = this.get(peerId);
    if (!peer.producers.has(kind)) throw new NotFoundError(`peer has no ${kind} producer`);
    const run = (peer.pausing.get(kind) ?? Promise.resolve()).then(() => this.applyPaused(peer, kind, paused));
    peer.pausing.set(
      kind,
      run.catch(() => undefined),
    ); // the caller gets the error; the queue moves on
    await run;
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
    if (peer.consumers.size + peer.pending.consumers >= PEER_LIMITS.consumers) {
      throw new LimitExceededError(`consumer limit reached (${PEER_LIMITS.consumers} per peer)`);
    }
    const owner = this.all().find((other) => [...other.producers.values()].some((p) => p.id === producerId));
    const source = owner && [...owner.producers.values()].find((p) => p.id === producerId);
    if (!owner || !source) throw new NotFoundError(`producer ${producerId} not found`);
    const router = peer.slot.router;
    peer.pending.consumers++;
    let consumer: Consumer;
    try {
      if (owner.slot.router !== router) await this.pipes.pipe(source, owner.slot.router, router);
      if (!router.canConsume({ producerId, rtpCapabilities })) {
        throw new UnsupportedError(`these rtpCapabilities cannot consume producer ${producerId} (no common codec)`);
      }
      consumer = await transport.consume({ producerId, rtpCapabilities, paused: true, appData: { peerId } });
    } catch (error) {
      // Its publisher left meanwhile: mediasoup would say "Producer not found" as a TypeError.
      if (source.closed) throw new NotFoundError(`producer ${producerId} closed`);
      throw refusedByWorker(`cannot consume producer ${producerId}`, error);
    } finally {
      peer.pending.consumers--;
    }
    if (peer.closed || transport.closed) {
      consumer.close();
      throw new InvalidStateError(`peer ${peerId} left`);
    }
    this.track(peer, consumer);
    return { id: consumer.id, producerId, kind: consumer.kind, rtpParameters: consumer.rtpParameters };
  }

  async resumeConsumer(peerId: string, consumerId: string): Promise<void> {
    const consumer = this.get(peerId).consumers.get(consumerId);
    if (!consumer) throw new NotFoundError(`consumer ${consumerId} not found`);
    await consumer.resume();
  }

  /**
   * Tells listeners first (awaited, bounded) so FFmpeg stops while packets still flow, then closes.
   * `intentional`: the client ended on purpose; otherwise it is gone and its stream may wait for it.
   */
  async leave(peerId: string, reason: string, intentional: boolean): Promise<void> {
    const peer = this.peers.get(peerId);
    if (!peer || peer.closed) return;
    const startedAt = Date.now();
    const listening = this.bus.emitAndWait('peer.leaving', { peerId, reason, intentional });
    if (!(await withTimeout(listening, LEAVING_TIMEOUT_MS))) {
      // Its transports close now, under a listener still at work (FFmpeg then takes ~9 s to stop).
      this.logger.warn(`[peer:${peerId}] listeners of its leaving took over ${LEAVING_TIMEOUT_MS} ms; closing its transports anyway`);
      this.bus.emit('peer.leaving-timed-out', { peerId, waitedMs: Date.now() - startedAt });
    }
    if (this.peers.get(peerId) !== peer) return;
    this.peers.delete(peerId);
    peer.close();
    this.logger.log(`[peer:${peerId}] left: ${reason}`);
    this.bus.emit('peer.left', { peerId, reason, intentional });
  }

  @OnBusEvent('worker.died')
  async onWorkerDied({ workerId }: BusEvents['worker.died']): Promise<void> {
    // Pipes across the dead worker close with its transports (RouterPipes listens for that).
    const victims = this.all().filter((peer) => peer.slot.id === workerId);
    // Not their doing: their publishers may come back (on the replacement worker).
    await Promise.all(victims.map((peer) => this.leave(peer.id, 'worker-died', false)));
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.activityTimer);
    await Promise.all(this.all().map((peer) => this.leave(peer.id, 'shutdown', true)));
  }

  private async applyPaused(peer: Peer, kind: MediaKind, paused: boolean): Promise<void> {
    const producer = peer.producers.get(kind);
    if (!producer) throw new NotFoundError(`peer has no ${kind} producer`);
    if (producer.paused === paused) return;
    if (paused) await producer.pause();
    else await producer.resume();
    this.bus.emit(paused ? 'producer.paused' : 'producer.resumed', { peerId: peer.id, producerId: producer.id, kind });
  }

  private track(peer: Peer, consumer: Consumer): void {
    peer.consumers.set(consumer.id, consumer);
    consumer.observer.once('close', () => peer.consumers.delete(consumer.id));
  }
}

/** Resolves true when `work` settled within `ms`, false when the time ran out first. */
async function withTimeout(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]).finally(() => clearTimeout(timer));
}

/**
 * mediasoup rejects what the client sent with a TypeError (argument checks), an UnsupportedError
 * (codecs) or, from the worker, a plain Error ("MID already exists"): all of them the client's doing.
 * Its InvalidStateError (a closed transport or channel) is ours and passes through.
 */
function refusedByWorker(what: string, error: unknown): unknown {
  if (error instanceof Error && (error.constructor === Error || error.constructor === TypeError)) {
    return new BadRequestError(`${what}: ${error.message}`);
  }
  if (error instanceof mediasoupTypes.UnsupportedError) return new UnsupportedError(`${what}: ${error.message}`);
  return error;
}
