import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Observable, Subject } from 'rxjs';
import { appConfig, AppConfig } from '../config/app.config';
import { StreamInUseError, UnauthorizedError } from '../common/errors';
import { BusEvents, EventBus, OnBusEvent } from '../events/events';
import { PeersService } from '../peers/peers.service';
import type { MediaKind } from '../transcode/media-unit';

export type StreamState = 'starting' | 'live' | 'parked' | 'ended';

export type LiveNotice = { type: 'peerLive' | 'peerLeft'; peerId: string } | { type: 'publisherChanged'; peerId: string };

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
}

/** A holder that has sent nothing for this long may be taken over by a returning publisher. */
const HOLDER_SILENT_MS = 2000;

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
export class StreamsService implements OnApplicationShutdown {
  private readonly logger = new Logger(StreamsService.name);
  /** The current stream of each id (ended ones stay until a new one takes the id or their files go). */
  private readonly streams = new Map<string, StreamRecord>();
  /** Ended streams whose files retention still keeps, including ones whose id a new stream took. */
  private readonly retired: StreamRecord[] = [];
  private readonly publishers = new Map<string, string>();
  private readonly intents = new Map<string, PublisherIntent>();
  private readonly generations = new Map<string, number>();
  private readonly notices = new Subject<LiveNotice>();
  private shuttingDown = false;

  constructor(
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly peers: PeersService,
    private readonly bus: EventBus,
  ) {}

  /** peerLive / peerLeft / publisherChanged as they happen (the SSE stream). */
  get liveNotices(): Observable<LiveNotice> {
    return this.notices.asObservable();
  }

  /** Current streams, and ended ones whose files are kept. */
  all(): StreamRecord[] {
    return [...this.streams.values(), ...this.retired];
  }

  get(streamId: string): StreamRecord | undefined {
    return this.streams.get(streamId);
  }

  liveIds(): string[] {
    return [...this.streams.values()].filter((s) => s.state === 'live' || s.state === 'parked').map((s) => s.id);
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
   * silent holder of the same name. Throws UnauthorizedError or StreamInUseError.
   */
  async admitPublisher(peerId: string): Promise<string> {
    const current = this.publishers.get(peerId);
    if (current !== undefined) return current;
    const intent = this.intents.get(peerId) ?? { authorized: false };
    if (this.config.streams.publishAuth === 'token' && !intent.authorized) {
      throw new UnauthorizedError('publishing needs a token: connect with auth { stream: <name>, token: <JWT for that name> }');
    }
    const id = intent.name ?? peerId;
    let stream = this.streams.get(id);
    if (stream?.ending && stream.state !== 'ended') await stream.ending;
    stream = this.streams.get(id);
    if (this.publishers.has(peerId)) return this.publishers.get(peerId)!; // admitted meanwhile
    if (!stream || stream.state === 'ended') {
      if (stream) this.retire(stream);
      const generation = (this.generations.get(id) ?? 0) + 1;
      this.generations.set(id, generation);
      stream = { id, named: intent.name !== undefined, generation, publisherId: peerId, startedAt: new Date(), state: 'starting', tracks: new Set() };
      this.streams.set(id, stream);
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
      this.bus.emit('stream.started', { streamId: stream.id, publisherId: peerId, generation: stream.generation });
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
    this.notices.next({ type: 'peerLive', peerId: streamId });
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
    if (stream.state === 'parked') stream.state = 'live';
    this.logger.log(`[stream:${stream.id}] publisher ${publisherId} takes over (${why})`);
    this.bus.emit('stream.publisher-changed', { streamId: stream.id, publisherId, previousPublisherId: previous });
    if (stream.state !== 'starting') this.notices.next({ type: 'publisherChanged', peerId: stream.id });
  }

  /** Every kind of the stream plays filler until a publisher feeds it again. Awaited: FFmpeg lets go of the old producers. */
  private async releaseTracks(stream: StreamRecord): Promise<void> {
    await Promise.all(
      [...stream.tracks].map((kind) => this.bus.emitAndWait('stream.track-set', { streamId: stream.id, publisherId: null, kind, producerId: null })),
    );
  }

  private async publisherLeft(peerId: string, reason: string, intentional: boolean): Promise<void> {
    const stream = this.streamOf(peerId);
    if (!stream || stream.publisherId !== peerId) return;
    if (stream.tracks.size === 0) {
      // It never published anything: nothing downstream knows of it.
      this.publishers.delete(peerId);
      if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id);
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
    if (stream.state === 'live') stream.state = 'parked';
    const graceMs = this.config.streams.reconnectGraceMs;
    this.logger.log(`[stream:${stream.id}] publisher ${peerId} is gone (${reason}); waiting ${graceMs} ms for it to come back`);
    await this.releaseTracks(stream);
    this.bus.emit('stream.parked', { streamId: stream.id, publisherId: peerId, reason, graceMs });
    stream.graceTimer = setTimeout(() => {
      stream.graceTimer = undefined;
      if (stream.publisherId === undefined) void this.end(stream, `publisher did not come back within ${graceMs} ms`);
    }, graceMs);
  }

  /** Transcoding stops, playlists end, peerLeft goes out. Runs once; later callers wait for it. */
  private end(stream: StreamRecord, reason: string): Promise<void> {
    stream.ending ??= (async () => {
      clearTimeout(stream.graceTimer);
      if (stream.publisherId !== undefined) this.publishers.delete(stream.publisherId);
      const started = stream.tracks.size > 0;
      await this.bus.emitAndWait('stream.ending', { streamId: stream.id, reason });
      stream.state = 'ended';
      stream.endedAt = new Date();
      stream.publisherId = undefined;
      await this.bus.emitAndWait('stream.ended', { streamId: stream.id, reason, generation: stream.generation });
      this.logger.log(`[stream:${stream.id}] ended: ${reason}`);
      if (started) this.notices.next({ type: 'peerLeft', peerId: stream.id });
    })();
    return stream.ending;
  }

  private parkedStream(peerId: string): StreamRecord | undefined {
    return [...this.streams.values()].find((s) => s.parkedBy === peerId && s.publisherId === undefined && s.state !== 'ended' && !s.ending);
  }

  private retire(stream: StreamRecord): void {
    if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id);
    this.retired.push(stream);
  }
}
