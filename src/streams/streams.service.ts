import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Observable, Subject } from 'rxjs';
import { appConfig, AppConfig } from '../config/app.config';
import { errorMessage, InvalidStateError, StreamInUseError, UnauthorizedError } from '../common/errors';
import { CLUSTER } from '../cluster/cluster.constants';
import type { Cluster, StreamLost, StreamRecord as ClusterStreamRecord } from '../cluster/cluster.types';
import { fetchFromNode } from '../cluster/node-http';
import { BusEvents, EventBus, OnBusEvent } from '../events/events';
import { Continuity, isContinuity } from '../packaging/continuity';
import { PeersService } from '../peers/peers.service';
import type { MediaKind } from '../transcode/media-unit';

export type StreamState = 'starting' | 'live' | 'parked' | 'ended';

/**
 * What happens to this node's streams, for the lists. `publisherChanged` with `fromNode`: the stream
 * moved here from another node (which has told the cluster). `moved`: it goes on on another node (no
 * peerLeft: it did not end).
 */
export type LiveNotice =
  | { type: 'peerLive' | 'peerLeft'; peerId: string }
  | { type: 'publisherChanged'; peerId: string; fromNode?: string }
  | { type: 'moved'; peerId: string; toNode: string };

/** The node a stream was continued from, and its address (it still serves the stream's earlier files). */
export interface PreviousHolder {
  node: string;
  address: string;
}

/** What a connecting publisher asked for: a stream name, and whether its token allows publishing it. */
export interface PublisherIntent {
  name?: string;
  authorized: boolean;
}

/** A stream's identity and lifecycle. */
export interface StreamRecord {
  id: string;
  /** A name the publisher chose (it may come back to it); otherwise the id is its connection's. */
  named: boolean;
  generation: number;
  /** The peer publishing it now; undefined while parked or ended. */
  publisherId?: string;
  /** While parked: the publisher that is gone (it may still end the stream on purpose, e.g. a late WHIP DELETE). */
  parkedBy?: string;
  startedAt: Date;
  state: StreamState;
  /** Kinds it has carried: they stay (as filler) while no publisher feeds them. */
  tracks: Set<MediaKind>;
  endedAt?: Date;
  graceTimer?: NodeJS.Timeout;
  ending?: Promise<void>;
  /** Where numbering goes on from (the cluster's registry: another node, or the name's previous stream). */
  continueFrom?: Continuity;
  /** It was taken over from another node, which still serves what it listed before. */
  previousHolder?: PreviousHolder;
  /** It went on on this node of the cluster: not listed here any more (its files stay for the retention time). */
  movedTo?: string;
}

/** A holder that has sent nothing for this long may be taken over by a returning publisher. */
const HOLDER_SILENT_MS = 2000;
/** How long a holder node gets to say whether its publisher is silent. */
const HOLDER_QUERY_TIMEOUT_MS = 1000;
/** A holder node that has not renewed its claim for this long (a missed heartbeat) is taken for silent. */
const HOLDER_IDLE_MS = 2500;

/**
 * Streams: which peer publishes which stream, and each stream's life from its first track to its end.
 * Turns connection events (peers, producers) into stream events, which transcoding and packaging follow.
 *
 * A stream's id is the name its publisher chose, or else the publisher's connection id. A named
 * stream outlives its publisher's connection: when the publisher is gone (not when it ends on purpose)
 * the stream is parked for the grace period, playing filler, and a publisher that arrives with the same
 * name takes it over; the playlists go on.
 */
@Injectable()
export class StreamsService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(StreamsService.name);
  /** The current stream of each id (ended ones stay until a new one takes the id or their files go). */
  private readonly streams = new Map<string, StreamRecord>();
  /** Ended streams whose files retention still keeps, including ones whose id a new stream took. */
  private readonly retired: StreamRecord[] = [];
  private readonly publishers = new Map<string, string>();
  private readonly intents = new Map<string, PublisherIntent>();
  private readonly generations = new Map<string, number>();
  private readonly notices = new Subject<LiveNotice>();
  /** Admissions of one name run one at a time: claiming it in the cluster takes a round trip. */
  private readonly admissions = new Map<string, Promise<unknown>>();
  private shuttingDown = false;
  private stopListening?: () => void;

  constructor(
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly peers: PeersService,
    private readonly bus: EventBus,
    @Inject(CLUSTER) private readonly cluster: Cluster,
  ) {}

  onModuleInit(): void {
    this.stopListening = this.cluster.on('lost', (lost) => this.onLost(lost));
  }

  /** peerLive / peerLeft / publisherChanged as they happen (the SSE stream). */
  get liveNotices(): Observable<LiveNotice> {
    return this.notices.asObservable();
  }

  /** Current streams, and ended ones whose files are kept (not those that went on on another node). */
  all(): StreamRecord[] {
    return [...this.streams.values(), ...this.retired].filter((s) => s.movedTo === undefined);
  }

  get(streamId: string): StreamRecord | undefined {
    const stream = this.streams.get(streamId);
    return stream?.movedTo === undefined ? stream : undefined;
  }

  liveIds(): string[] {
    return [...this.streams.values()].filter((s) => s.state === 'live' || s.state === 'parked').map((s) => s.id);
  }

  /**
   * The streams this node announces as live: live and parked ones, and ones continued from another
   * node that are not live here yet (for viewers they never stopped: the other node serves them meanwhile).
   */
  announcedIds(): string[] {
    return [...this.streams.values()]
      .filter((s) => s.state === 'live' || s.state === 'parked' || (s.state === 'starting' && s.previousHolder !== undefined && !s.ending))
      .map((s) => s.id);
  }

  /** The node this node's stream was continued from (it serves the files listed before the move). */
  previousHolderOf(streamId: string): PreviousHolder | undefined {
    const stream = this.streams.get(streamId);
    return stream && stream.state !== 'ended' ? stream.previousHolder : undefined;
  }

  /** Who publishes a stream held here and how long it has sent nothing, for another node deciding on a takeover. */
  holderActivity(streamId: string): { publisherId: string | null; silentMs: number | null } | undefined {
    const stream = this.get(streamId);
    if (!stream || stream.state === 'ended' || stream.ending) {
      // A publisher being admitted here: in use, not silent. Not only once the registry says it holds
      // the name: the asking node read this node's claim from Redis, whose reply may not have reached
      // this node yet (answering "not here" then would let both nodes publish the name).
      return this.admissions.has(streamId) ? { publisherId: null, silentMs: 0 } : undefined;
    }
    if (stream.publisherId === undefined) return { publisherId: null, silentMs: null };
    return { publisherId: stream.publisherId, silentMs: this.peers.publisherSilentForMs(stream.publisherId) ?? 0 };
  }

  /** The stream a peer publishes, if any. */
  streamOf(peerId: string): StreamRecord | undefined {
    const id = this.publishers.get(peerId);
    return id === undefined ? undefined : this.streams.get(id);
  }

  /** What a connecting publisher asked for (socket.io handshake, WHIP request), checked by the caller. */
  registerPublisher(peerId: string, intent: PublisherIntent): void {
    this.intents.set(peerId, intent);
  }

  /**
   * Lets a peer publish (before its first producer): decides its stream, taking over a parked or
   * silent holder of the same name, on this node or on another node of the cluster (whose numbering
   * it then continues). Throws UnauthorizedError or StreamInUseError.
   */
  async admitPublisher(peerId: string): Promise<string> {
    const current = this.publishers.get(peerId);
    if (current !== undefined) return current;
    const intent = this.intents.get(peerId) ?? { authorized: false };
    if (this.config.streams.publishAuth === 'token' && !intent.authorized) {
      throw new UnauthorizedError('publishing needs a token: connect with auth { stream: <name>, token: <JWT for that name> }');
    }
    const id = intent.name ?? peerId;
    return this.oneAtATime(id, () => this.admit(peerId, id, intent));
  }

  private async admit(peerId: string, id: string, intent: PublisherIntent): Promise<string> {
    let stream = this.streams.get(id);
    if (stream?.ending && stream.state !== 'ended') await stream.ending;
    stream = this.streams.get(id);
    if (this.publishers.has(peerId)) return this.publishers.get(peerId)!; // admitted meanwhile
    if (!stream || stream.state === 'ended') {
      const named = intent.name !== undefined;
      const { continueFrom, previousHolder } = await this.claimInCluster(id, named);
      if (!this.peers.isConnected(peerId)) {
        // It left while the cluster answered: nothing downstream knows of it, and the name is free again.
        await this.cluster.release(id).catch(() => undefined); // best effort: the lease expires anyway
        throw new InvalidStateError(`publisher ${peerId} left while being admitted`);
      }
      stream = this.streams.get(id);
      if (stream) this.retire(stream);
      const generation = (this.generations.get(id) ?? 0) + 1;
      this.generations.set(id, generation);
      stream = {
        id,
        named,
        generation,
        publisherId: peerId,
        startedAt: new Date(),
        state: 'starting',
        tracks: new Set(),
        continueFrom,
        previousHolder,
      };
      this.streams.set(id, stream);
      if (previousHolder) {
        this.logger.log(
          `[stream:${id}] publisher ${peerId} continues it here, from node ${previousHolder.node} (segment ${continueFrom?.nextNumber ?? '?'} on)`,
        );
        this.notices.next({ type: 'publisherChanged', peerId: id, fromNode: previousHolder.node });
      }
    } else if (stream.publisherId !== undefined && stream.publisherId !== peerId) {
      const holder = stream.publisherId;
      const silentMs = this.peers.publisherSilentForMs(holder) ?? 0;
      if (!this.config.streams.takeover && silentMs < HOLDER_SILENT_MS) {
        throw new StreamInUseError(`stream "${id}" is being published by another connection (takeover is off)`);
      }
      await this.handOver(stream, peerId, silentMs >= HOLDER_SILENT_MS ? `holder silent for ${silentMs} ms` : 'takeover');
    } else {
      await this.handOver(stream, peerId, 'publisher came back');
    }
    this.publishers.set(peerId, id);
    return id;
  }

  /**
   * A publisher that is already gone says it ended on purpose (a WHIP client whose peer connection
   * closed, then sends DELETE): its stream, if still parked waiting for it, ends now instead of after
   * the grace period. False when no stream waits for that publisher (another took it over, or it ended).
   */
  async endParked(peerId: string, reason: string): Promise<boolean> {
    const stream = this.parkedStream(peerId);
    if (!stream) return false;
    await this.end(stream, reason);
    return true;
  }

  /** The id of the stream that waits (parked) for `peerId` to come back, if any. */
  parkedStreamOf(peerId: string): string | undefined {
    return this.parkedStream(peerId)?.id;
  }

  @OnBusEvent('producer.created')
  onProducerCreated({ peerId, producerId, kind }: BusEvents['producer.created']): void {
    const stream = this.streamOf(peerId);
    if (!stream || stream.state === 'ended') return;
    if (stream.tracks.size === 0 && stream.state === 'starting') {
      this.bus.emit('stream.started', {
        streamId: stream.id,
        publisherId: peerId,
        generation: stream.generation,
        named: stream.named,
        continueFrom: stream.continueFrom,
      });
    }
    stream.tracks.add(kind);
    this.bus.emit('stream.track-set', { streamId: stream.id, publisherId: peerId, kind, producerId });
  }

  @OnBusEvent('producer.paused')
  onProducerPaused({ peerId, kind }: BusEvents['producer.paused']): void {
    const stream = this.streamOf(peerId);
    if (stream && stream.state !== 'ended') this.bus.emit('stream.track-paused', { streamId: stream.id, kind, paused: true });
  }

  @OnBusEvent('producer.resumed')
  onProducerResumed({ peerId, kind }: BusEvents['producer.resumed']): void {
    const stream = this.streamOf(peerId);
    if (stream && stream.state !== 'ended') this.bus.emit('stream.track-paused', { streamId: stream.id, kind, paused: false });
  }

  @OnBusEvent('producer.closed')
  onProducerClosed({ peerId, kind }: BusEvents['producer.closed']): void {
    const stream = this.streamOf(peerId);
    if (!stream || stream.state === 'ended' || stream.ending) return;
    this.bus.emit('stream.track-set', { streamId: stream.id, publisherId: peerId, kind, producerId: null });
  }

  /** Awaited by PeersService before it closes the transports: FFmpeg lets go of them first. */
  @OnBusEvent('peer.leaving')
  async onPeerLeaving({ peerId, reason, intentional }: BusEvents['peer.leaving']): Promise<void> {
    await this.publisherLeft(peerId, reason, intentional);
  }

  @OnBusEvent('peer.left')
  async onPeerLeft({ peerId, reason, intentional }: BusEvents['peer.left']): Promise<void> {
    await this.publisherLeft(peerId, reason, intentional);
    this.intents.delete(peerId);
  }

  @OnBusEvent('stream.live')
  onStreamLive({ streamId }: BusEvents['stream.live']): void {
    const stream = this.streams.get(streamId);
    if (!stream || stream.state !== 'starting') return;
    stream.state = 'live';
    this.share(stream);
    // Continued from another node: for viewers it never stopped (publisherChanged went out at the takeover).
    if (!stream.previousHolder) this.notices.next({ type: 'peerLive', peerId: streamId });
  }

  @OnBusEvent('stream.removed')
  onStreamRemoved({ streamId, generation }: BusEvents['stream.removed']): void {
    const index = this.retired.findIndex((s) => s.id === streamId && s.generation === generation);
    if (index >= 0) this.retired.splice(index, 1);
    const current = this.streams.get(streamId);
    if (current?.state === 'ended' && current.generation === generation) this.streams.delete(streamId);
  }

  async onApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    this.stopListening?.();
    await Promise.all([...this.streams.values()].map((stream) => this.end(stream, 'shutdown')));
    this.notices.complete();
  }

  /** Another publisher takes the stream: the old one's tracks stop feeding it first. */
  private async handOver(stream: StreamRecord, publisherId: string, why: string): Promise<void> {
    clearTimeout(stream.graceTimer);
    stream.graceTimer = undefined;
    stream.parkedBy = undefined;
    const previous = stream.publisherId ?? null;
    if (previous !== null) {
      this.publishers.delete(previous);
      await this.releaseTracks(stream);
    }
    stream.publisherId = publisherId;
    if (stream.state === 'parked') {
      stream.state = 'live';
      this.share(stream);
    }
    this.logger.log(`[stream:${stream.id}] publisher ${publisherId} takes over (${why})`);
    this.bus.emit('stream.publisher-changed', { streamId: stream.id, publisherId, previousPublisherId: previous });
    if (stream.state !== 'starting') this.notices.next({ type: 'publisherChanged', peerId: stream.id });
  }

  /** Every kind of the stream plays filler until a publisher feeds it again. Awaited: FFmpeg lets go of the old producers. */
  private async releaseTracks(stream: StreamRecord): Promise<void> {
    await Promise.all(
      [...stream.tracks].map((kind) =>
        this.bus.emitAndWait('stream.track-set', { streamId: stream.id, publisherId: null, kind, producerId: null }),
      ),
    );
  }

  private async publisherLeft(peerId: string, reason: string, intentional: boolean): Promise<void> {
    const stream = this.streamOf(peerId);
    if (!stream || stream.publisherId !== peerId) return;
    if (stream.tracks.size === 0) {
      // It never published anything: nothing downstream knows of it.
      this.publishers.delete(peerId);
      if (this.streams.get(stream.id) === stream) {
        this.streams.delete(stream.id);
        await this.cluster.release(stream.id).catch(() => undefined); // best effort: the lease expires anyway
      }
      return;
    }
    if (intentional || !stream.named || this.shuttingDown) {
      await this.end(stream, reason);
      return;
    }
    await this.park(stream, peerId, reason);
  }

  private async park(stream: StreamRecord, peerId: string, reason: string): Promise<void> {
    this.publishers.delete(peerId);
    stream.publisherId = undefined;
    stream.parkedBy = peerId;
    if (stream.state === 'live') {
      stream.state = 'parked';
      this.share(stream);
    }
    const graceMs = this.config.streams.reconnectGraceMs;
    this.logger.log(`[stream:${stream.id}] publisher ${peerId} is gone (${reason}); waiting ${graceMs} ms for it to come back`);
    await this.releaseTracks(stream);
    this.bus.emit('stream.parked', { streamId: stream.id, publisherId: peerId, reason, graceMs });
    stream.graceTimer = setTimeout(() => {
      stream.graceTimer = undefined;
      if (stream.publisherId === undefined) void this.end(stream, `publisher did not come back within ${graceMs} ms`);
    }, graceMs);
  }

  /**
   * Transcoding stops, playlists end, the name is free in the cluster, peerLeft goes out. Runs once;
   * later callers wait for it. `movedTo`: the stream goes on on that node; here it only stops
   * (no EXT-X-ENDLIST, no peerLeft).
   */
  private end(stream: StreamRecord, reason: string, movedTo?: string): Promise<void> {
    stream.ending ??= (async () => {
      clearTimeout(stream.graceTimer);
      if (stream.publisherId !== undefined) this.publishers.delete(stream.publisherId);
      const started = stream.tracks.size > 0;
      await this.bus.emitAndWait('stream.ending', { streamId: stream.id, reason });
      stream.state = 'ended';
      stream.endedAt = new Date();
      stream.publisherId = undefined;
      stream.movedTo = movedTo;
      await this.bus.emitAndWait('stream.ended', { streamId: stream.id, reason, generation: stream.generation, movedTo });
      if (movedTo === undefined) {
        // After ENDLIST is written: a node claiming the name next starts after these playlists' end.
        await this.cluster
          .release(stream.id)
          .catch((error) => this.logger.warn(`[stream:${stream.id}] cluster release: ${errorMessage(error)}`));
      }
      this.logger.log(`[stream:${stream.id}] ended: ${reason}`);
      if (movedTo !== undefined) this.notices.next({ type: 'moved', peerId: stream.id, toNode: movedTo });
      else if (started) this.notices.next({ type: 'peerLeft', peerId: stream.id });
    })();
    return stream.ending;
  }

  private parkedStream(peerId: string): StreamRecord | undefined {
    return [...this.streams.values()].find((s) => s.parkedBy === peerId && s.publisherId === undefined && s.state !== 'ended' && !s.ending);
  }

  /**
   * Claims the stream's id in the cluster (on a single node this always succeeds). Held on another
   * node: taken over if that holder is parked or silent, or with STREAM_TAKEOVER; otherwise
   * StreamInUseError. Then loads where the name's numbering stands, for the stream to continue it.
   */
  private async claimInCluster(id: string, named: boolean): Promise<{ continueFrom?: Continuity; previousHolder?: PreviousHolder }> {
    const meta = { named };
    let result = await this.cluster.claim(id, { state: 'starting', meta });
    let previousHolder: PreviousHolder | undefined;
    if (!result.ok) {
      const holder = result.holder;
      const why = await this.mayTakeOver(id, holder);
      if (!why) throw new StreamInUseError(`stream "${id}" is being published on node ${holder.node} (takeover is off)`);
      // A holder that was live or parked has playlists that viewers are reading: this stream continues them.
      const continues = holder.state === 'live' || holder.state === 'parked';
      if (continues) previousHolder = { node: holder.node, address: holder.address };
      const info = { state: 'starting' as const, meta: previousHolder ? { ...meta, continuedFrom: previousHolder } : meta };
      // Only if that claim still holds it: of two nodes taking over one holder, one wins.
      result = await this.cluster.takeover(id, info, { lease: holder.lease });
      if (!result.ok) throw new StreamInUseError(`stream "${id}" was just claimed on node ${result.holder.node}`);
      this.logger.log(`[stream:${id}] taken over from node ${holder.node} (${why})`);
    }
    const continueFrom = named ? await this.loadContinuity(id) : undefined;
    // Only the same stream lists the last segments again; a new stream of the name numbers past them
    // (at the same target, for viewers playing on through a republish; its timeline follows theirs).
    if (continueFrom && !previousHolder) delete continueFrom.renditions;
    return { continueFrom, previousHolder };
  }

  /** Why a holder on another node may be taken over, or undefined if it may not. */
  private async mayTakeOver(id: string, holder: ClusterStreamRecord): Promise<string | undefined> {
    if (holder.state === 'parked') return 'its publisher is gone';
    if (this.config.streams.takeover) return 'takeover';
    let silentMs: number;
    try {
      const response = await fetchFromNode(
        holder.address,
        `/api/cluster/streams/${encodeURIComponent(id)}/publisher`,
        this.cluster.nodeId,
        HOLDER_QUERY_TIMEOUT_MS,
      );
      if (response.status === 404) return 'its node does not have it';
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = (await response.json()) as { silentMs?: number | null };
      silentMs = typeof body.silentMs === 'number' ? body.silentMs : Infinity;
    } catch (error) {
      // Its node does not answer: if it has stopped renewing its claim too, it is most likely dead.
      if (holder.idleMs >= HOLDER_IDLE_MS) return `its node ${holder.node} neither answers nor renews its claim (${holder.idleMs} ms)`;
      this.logger.warn(`[stream:${id}] holder node ${holder.node} did not answer (${errorMessage(error)}): the name stays in use`);
      return undefined;
    }
    return silentMs >= HOLDER_SILENT_MS ? `holder silent for ${silentMs === Infinity ? 'ever' : `${silentMs} ms`}` : undefined;
  }

  private async loadContinuity(id: string): Promise<Continuity | undefined> {
    try {
      const record = await this.cluster.loadContinuity<unknown>(id);
      return record && isContinuity(record.data) ? record.data : undefined;
    } catch (error) {
      // Redis unreachable: numbering starts here (as on a single node).
      this.logger.warn(`[stream:${id}] numbering not continued: ${errorMessage(error)}`);
      return undefined;
    }
  }

  /** Tells the cluster the stream's state (fire and forget: kept and re-sent by the registry while Redis is away). */
  private share(stream: StreamRecord): void {
    if (stream.state === 'ended') return;
    this.cluster
      .update(stream.id, stream.state)
      .catch((error) => this.logger.warn(`[stream:${stream.id}] cluster update: ${errorMessage(error)}`));
  }

  /** This node no longer holds a stream in the cluster: it stops here; its publisher is told. */
  private onLost({ name, node, reason }: StreamLost): void {
    const stream = this.streams.get(name);
    if (!stream || stream.state === 'ended' || stream.ending) return;
    const publisherId = stream.publisherId ?? null;
    const to = node ?? 'another node';
    if (reason === 'taken-over') {
      void this.end(stream, `taken over by node ${to}`, node ?? 'unknown');
    } else {
      void this.end(stream, `node ${to} held the name when Redis came back (both accepted it while it was unreachable)`);
    }
    this.bus.emit('stream.lost', { streamId: name, publisherId, reason, node });
  }

  private oneAtATime<T>(id: string, task: () => Promise<T>): Promise<T> {
    const previous = this.admissions.get(id) ?? Promise.resolve();
    const run = previous.then(task, task);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.admissions.set(id, settled);
    void settled.then(() => {
      if (this.admissions.get(id) === settled) this.admissions.delete(id);
    });
    return run;
  }

  private retire(stream: StreamRecord): void {
    if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id);
    this.retired.push(stream);
  }
}
