import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Producer } from 'mediasoup/node/lib/Producer';
import type { MediaKind } from 'mediasoup/node/lib/RtpParameters';
import { Observable, Subject } from 'rxjs';
import { appConfig, AppConfig } from '../config/app.config';
import { errorMessage } from '../common/errors';
import { BusEvents, EventBus, OnBusEvent } from '../events/events';
import { PeersService } from '../peers/peers.service';
import { HlsStream, StreamInfo } from './hls-stream';
import { TranscoderService } from './transcoder.service';

/** How long the first producer waits for the other kind, so both share one FFmpeg and one timeline. */
export const JOIN_WINDOW_MS = 400;

export type LiveNotice = { type: 'peerLive' | 'peerLeft'; peerId: string };

interface Publisher {
  stream: HlsStream;
  pending: Partial<Record<MediaKind, Producer>>;
  joinTimer?: NodeJS.Timeout;
  started?: Promise<void>;
  finished?: Promise<void>;
  retentionTimer?: NodeJS.Timeout;
}

/**
 * Turns publishers into HLS. Learns of peers and producers from the event bus only; owns one
 * HlsStream per publisher from its first producer until its files are removed after retention.
 */
@Injectable()
export class HlsService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(HlsService.name);
  private readonly publishers = new Map<string, Publisher>();
  private readonly notices = new Subject<LiveNotice>();

  constructor(
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly peers: PeersService,
    private readonly transcoder: TranscoderService,
    private readonly bus: EventBus,
  ) {}

  /** Nothing is live at start-up: what a previous run left (but recordings) is stale. */
  async onModuleInit(): Promise<void> {
    const dir = this.config.hls.dir;
    try {
      await mkdir(dir, { recursive: true });
      await rm(join(dir, '.work'), { recursive: true, force: true });
      if (this.config.hls.retentionSeconds === -1) return;
      const stale = (await readdir(dir)).filter((name) => /^(.+\.m3u8(\.tmp)?|(video|audio)_.+_\d+\.ts)$/.test(name));
      await Promise.all(stale.map((name) => rm(join(dir, name), { force: true })));
      if (stale.length > 0) this.logger.log(`removed ${stale.length} stale HLS file(s) from ${dir}`);
    } catch (error) {
      // Not fatal: readiness reports the directory (disk check) until it is usable.
      this.logger.error(`HLS directory ${dir} is not usable: ${errorMessage(error)}`);
    }
  }

  /** peerLive / peerLeft as they happen (the SSE stream). */
  get liveNotices(): Observable<LiveNotice> {
    return this.notices.asObservable();
  }

  livePeers(): string[] {
    return [...this.publishers.values()].filter((p) => p.stream.state === 'live').map((p) => p.stream.peerId);
  }

  streams(): StreamInfo[] {
    return [...this.publishers.values()].map((p) => p.stream.info());
  }

  stream(peerId: string): StreamInfo | undefined {
    return this.publishers.get(peerId)?.stream.info();
  }

  @OnBusEvent('producer.created')
  async onProducerCreated({ peerId, kind }: BusEvents['producer.created']): Promise<void> {
    const producer = this.peers.producer(peerId, kind);
    if (!producer) return;
    let publisher = this.publishers.get(peerId);
    if (publisher?.stream.state === 'ended') return;
    if (!publisher) {
      publisher = { stream: new HlsStream(peerId, this.config, (stream) => this.wentLive(stream), this.bus), pending: {} };
      this.publishers.set(peerId, publisher);
    }
    if (publisher.started) {
      // A producer that arrives later joins by restarting FFmpeg (a discontinuity in the playlists).
      await publisher.started;
      await publisher.stream.session?.setProducers({ [kind]: producer });
      return;
    }
    publisher.pending[kind] = producer;
    const both = publisher.pending.video && publisher.pending.audio;
    if (both) this.start(publisher);
    else publisher.joinTimer ??= setTimeout(() => this.start(publisher!), JOIN_WINDOW_MS);
  }

  @OnBusEvent('producer.paused')
  onProducerPaused({ peerId, kind }: BusEvents['producer.paused']): void {
    void this.publishers.get(peerId)?.stream.session?.refresh(`${kind} paused`);
  }

  @OnBusEvent('producer.resumed')
  onProducerResumed({ peerId, kind }: BusEvents['producer.resumed']): void {
    void this.publishers.get(peerId)?.stream.session?.refresh(`${kind} resumed`);
  }

  @OnBusEvent('producer.closed')
  async onProducerClosed({ peerId, kind }: BusEvents['producer.closed']): Promise<void> {
    const publisher = this.publishers.get(peerId);
    if (!publisher || publisher.stream.state === 'ended') return;
    if (!publisher.started) {
      delete publisher.pending[kind];
      return;
    }
    await publisher.started;
    await publisher.stream.session?.setProducers({ [kind]: undefined });
  }

  /** Awaited by PeersService before it closes the transports: FFmpeg stops while packets still flow. */
  @OnBusEvent('peer.leaving')
  async onPeerLeaving({ peerId, reason }: BusEvents['peer.leaving']): Promise<void> {
    await this.finish(peerId, reason);
  }

  @OnBusEvent('peer.left')
  async onPeerLeft({ peerId, reason }: BusEvents['peer.left']): Promise<void> {
    await this.finish(peerId, reason);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.publishers.keys()].map((peerId) => this.finish(peerId, 'shutdown')));
    for (const publisher of this.publishers.values()) clearTimeout(publisher.retentionTimer);
    this.notices.complete();
  }

  private start(publisher: Publisher): void {
    clearTimeout(publisher.joinTimer);
    if (publisher.started) return;
    const { stream } = publisher;
    publisher.started = (async () => {
      await mkdir(this.config.hls.dir, { recursive: true });
      const router = this.peers.routerOf(stream.peerId);
      stream.session = await this.transcoder.open(stream.peerId, router, stream);
      const pending = publisher.pending;
      publisher.pending = {};
      this.logger.log(`[peer:${stream.peerId}] HLS starting (${Object.keys(pending).join(' + ')})`);
      await stream.session.setProducers(pending);
    })().catch((error) => {
      this.logger.error(`[peer:${stream.peerId}] HLS could not start: ${errorMessage(error)}`);
      this.bus.emit('hls.failed', { peerId: stream.peerId, error: errorMessage(error) });
    });
  }

  private wentLive(stream: HlsStream): void {
    const elapsedMs = Date.now() - stream.startedAt.getTime();
    this.logger.log(`[peer:${stream.peerId}] live after ${elapsedMs} ms: ${stream.masterUrl}`);
    this.bus.emit('hls.live', { peerId: stream.peerId, masterUrl: stream.masterUrl, elapsedMs });
    this.notices.next({ type: 'peerLive', peerId: stream.peerId });
  }

  /** FFmpeg stops, playlists end, peerLeft goes out; files stay for the retention time. */
  private finish(peerId: string, reason: string): Promise<void> {
    const publisher = this.publishers.get(peerId);
    if (!publisher) return Promise.resolve();
    // peer.leaving and peer.left both ask; the first does it, the second waits for it.
    publisher.finished ??= this.end(publisher, reason);
    return publisher.finished;
  }

  private async end(publisher: Publisher, reason: string): Promise<void> {
    const peerId = publisher.stream.peerId;
    clearTimeout(publisher.joinTimer);
    const { stream } = publisher;
    const wasStarted = !!publisher.started;
    await publisher.started;
    if (stream.session) await this.transcoder.close(stream.session);
    await stream.end();
    this.logger.log(`[peer:${peerId}] HLS ended: ${reason}`);
    this.bus.emit('hls.ended', { peerId, reason });
    if (wasStarted) this.notices.next({ type: 'peerLeft', peerId });
    this.scheduleRemoval(peerId, publisher);
  }

  private scheduleRemoval(peerId: string, publisher: Publisher): void {
    const retention = this.config.hls.retentionSeconds;
    const remove = async () => {
      if (this.publishers.get(peerId) === publisher) this.publishers.delete(peerId);
      await publisher.stream.removeFiles();
    };
    if (retention === -1) {
      this.publishers.delete(peerId);
      return;
    }
    if (retention === 0) void remove();
    else {
      publisher.retentionTimer = setTimeout(() => void remove(), retention * 1000);
      publisher.retentionTimer.unref(); // a process shutting down does not wait for it
    }
  }
}
