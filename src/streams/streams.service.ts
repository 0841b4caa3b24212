import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { MediaKind } from 'mediasoup/node/lib/RtpParameters';
import { Observable, Subject } from 'rxjs';
import { BusEvents, EventBus, OnBusEvent } from '../events/events';

export type StreamState = 'starting' | 'live' | 'ended';

export type LiveNotice = { type: 'peerLive' | 'peerLeft'; peerId: string };

/** A stream's identity and lifecycle. */
export interface StreamRecord {
  id: string;
  /** The peer publishing it now. */
  publisherId: string;
  startedAt: Date;
  state: StreamState;
  tracks: Set<MediaKind>;
  ending?: Promise<void>;
}

/**
 * Streams: which peer publishes which stream, and each stream's life from its first track to its end.
 * Turns connection events (peers, producers) into stream events, which transcoding and packaging
 * follow. Today a stream's id is its publisher's socket id.
 */
@Injectable()
export class StreamsService implements OnApplicationShutdown {
  private readonly logger = new Logger(StreamsService.name);
  private readonly streams = new Map<string, StreamRecord>();
  private readonly notices = new Subject<LiveNotice>();

  constructor(private readonly bus: EventBus) {}

  /** peerLive / peerLeft as they happen (the SSE stream). */
  get liveNotices(): Observable<LiveNotice> {
    return this.notices.asObservable();
  }

  all(): StreamRecord[] {
    return [...this.streams.values()];
  }

  get(streamId: string): StreamRecord | undefined {
    return this.streams.get(streamId);
  }

  liveIds(): string[] {
    return this.all()
      .filter((s) => s.state === 'live')
      .map((s) => s.id);
  }

  /** The stream a peer publishes (today: the one named after it). */
  streamOf(peerId: string): StreamRecord | undefined {
    const stream = this.streams.get(peerId);
    return stream?.publisherId === peerId ? stream : undefined;
  }

  @OnBusEvent('producer.created')
  onProducerCreated({ peerId, producerId, kind }: BusEvents['producer.created']): void {
    let stream = this.streams.get(peerId);
    if (stream?.state === 'ended') return;
    if (!stream) {
      stream = { id: peerId, publisherId: peerId, startedAt: new Date(), state: 'starting', tracks: new Set() };
      this.streams.set(peerId, stream);
      this.bus.emit('stream.started', { streamId: stream.id, publisherId: peerId });
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

  /** Awaited by PeersService before it closes the transports: FFmpeg stops while packets still flow. */
  @OnBusEvent('peer.leaving')
  async onPeerLeaving({ peerId, reason }: BusEvents['peer.leaving']): Promise<void> {
    await this.end(peerId, reason);
  }

  @OnBusEvent('peer.left')
  async onPeerLeft({ peerId, reason }: BusEvents['peer.left']): Promise<void> {
    await this.end(peerId, reason);
  }

  @OnBusEvent('stream.live')
  onStreamLive({ streamId }: BusEvents['stream.live']): void {
    const stream = this.streams.get(streamId);
    if (!stream || stream.state !== 'starting') return;
    stream.state = 'live';
    this.notices.next({ type: 'peerLive', peerId: streamId });
  }

  @OnBusEvent('stream.removed')
  onStreamRemoved({ streamId }: BusEvents['stream.removed']): void {
    if (this.streams.get(streamId)?.state === 'ended') this.streams.delete(streamId);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.all().map((stream) => this.end(stream.publisherId, 'shutdown')));
    this.notices.complete();
  }

  /** Transcoding stops, playlists end, peerLeft goes out. Runs once; later callers wait for it. */
  private end(peerId: string, reason: string): Promise<void> {
    const stream = this.streamOf(peerId);
    if (!stream) return Promise.resolve();
    stream.ending ??= (async () => {
      const streamId = stream.id;
      await this.bus.emitAndWait('stream.ending', { streamId, reason });
      stream.state = 'ended';
      await this.bus.emitAndWait('stream.ended', { streamId, reason });
      this.logger.log(`[stream:${streamId}] ended: ${reason}`);
      this.notices.next({ type: 'peerLeft', peerId: streamId });
    })();
    return stream.ending;
  }
}
