import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { join } from 'node:path';
import type { MediaKind } from 'mediasoup/node/lib/RtpParameters';
import { appConfig, AppConfig } from '../config/app.config';
import { errorMessage } from '../common/errors';
import { BusEvents, EventBus, OnBusEvent } from '../events/events';
import { LifecycleService } from '../lifecycle/lifecycle.service';
import { PeersService } from '../peers/peers.service';
import { PortPool } from './port-pool';
import { ProcessRunner } from './process-runner';
import { TrackInfo, TranscodeSession } from './transcode-session';
import { FillPictures, H264_FILL, VP8_FILL } from './fill-pictures';

/** How long the first producer waits for the other kind, so both share one FFmpeg and one timeline. */
export const JOIN_WINDOW_MS = 400;
/** How often sessions look for producers gone silent and FFmpeg runs gone quiet. */
const ACTIVITY_CHECK_MS = 250;

export type { TrackInfo };

export interface TranscodeInfo {
  tracks: Partial<Record<MediaKind, TrackInfo>>;
  restarts: number;
}

interface Entry {
  streamId: string;
  /** Producers waiting for the join window, before the first run. */
  pending: Partial<Record<MediaKind, { producerId: string; publisherId: string }>>;
  joinTimer?: NodeJS.Timeout;
  /** Set once the session is open; every later change goes to it. */
  opened?: Promise<TranscodeSession | undefined>;
  session?: TranscodeSession;
  closing?: Promise<void>;
}

/**
 * Owns every FFmpeg run and what feeds it: the FFmpeg port pool and one TranscodeSession per stream,
 * from its first track until the stream ends. Learns what to transcode from stream events, and hands
 * the access units FFmpeg produces on as `transcode.*` events. A session's ports go back to the pool
 * only after its last FFmpeg has exited.
 */
@Injectable()
export class TranscoderService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(TranscoderService.name);
  private readonly ports: PortPool;
  private readonly entries = new Map<string, Entry>();
  /** Where a stream's timeline starts (continued from another node), until its session opens. */
  private readonly timelineStarts = new Map<string, number>();
  private activityTimer?: NodeJS.Timeout;
  /** Filler keyframes for VP8 and H264 streams, shared by every stream (a set per picture size). */
  private readonly fillPictures: { vp8: FillPictures; h264: FillPictures };

  constructor(
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly lifecycle: LifecycleService,
    private readonly peers: PeersService,
    private readonly runner: ProcessRunner,
    private readonly bus: EventBus,
  ) {
    this.ports = new PortPool(config.ffmpeg.ports);
    this.fillPictures = {
      vp8: new FillPictures(runner, config.ffmpeg.path, VP8_FILL),
      h264: new FillPictures(runner, config.ffmpeg.path, H264_FILL),
    };
  }

  onModuleInit(): void {
    this.activityTimer = setInterval(() => this.checkActivity(), ACTIVITY_CHECK_MS);
    this.activityTimer.unref();
  }

  /** A stream continued from elsewhere keeps its timeline moving forward (90 kHz). */
  @OnBusEvent('stream.started')
  onStreamStarted({ streamId, continueFrom }: BusEvents['stream.started']): void {
    if (continueFrom?.nextPts) this.timelineStarts.set(streamId, continueFrom.nextPts);
    else this.timelineStarts.delete(streamId);
  }

  @OnBusEvent('stream.track-set')
  async onTrackSet({ streamId, publisherId, kind, producerId }: BusEvents['stream.track-set']): Promise<void> {
    let entry = this.entries.get(streamId);
    if (!entry) {
      if (!producerId) return;
      entry = { streamId, pending: {} };
      this.entries.set(streamId, entry);
    }
    if (entry.closing) return;
    if (!entry.opened) {
      if (producerId && publisherId) entry.pending[kind] = { producerId, publisherId };
      else delete entry.pending[kind];
      if (entry.pending.video && entry.pending.audio) this.open(entry);
      else entry.joinTimer ??= setTimeout(() => this.open(entry!), JOIN_WINDOW_MS);
      return;
    }
    // A track that arrives later joins by restarting FFmpeg (a discontinuity in the playlists).
    const session = await entry.opened;
    if (!session) return;
    // No producer (its publisher is gone or changing): the kind plays filler until one comes.
    const wanted = producerId && publisherId ? this.resolve(publisherId, kind, producerId) : undefined;
    if (producerId && !wanted) return; // it closed meanwhile
    await session.setTracks({ [kind]: wanted }, `${kind} ${wanted ? 'from a producer' : 'without a producer'}`);
  }

  @OnBusEvent('stream.track-paused')
  async onTrackPaused({ streamId, kind, paused }: BusEvents['stream.track-paused']): Promise<void> {
    const session = await this.entries.get(streamId)?.opened;
    await session?.refresh(`${kind} ${paused ? 'paused' : 'resumed'}`);
  }

  /** Awaited by the stream's end: FFmpeg stops while packets still flow, its last units come out. */
  @OnBusEvent('stream.ending')
  async onStreamEnding({ streamId }: BusEvents['stream.ending']): Promise<void> {
    await this.close(streamId);
  }

  info(streamId: string): TranscodeInfo | undefined {
    const session = this.entries.get(streamId)?.session;
    return session && { tracks: session.info(), restarts: session.restarts };
  }

  /** Copied simulcast renditions of every stream: how many carry a flowing layer now, how many wait for theirs. */
  videoRenditions(): { flowing: number; stopped: number } {
    const counts = { flowing: 0, stopped: 0 };
    for (const entry of this.entries.values()) {
      for (const r of entry.session?.info().video?.renditions ?? []) counts[r.flowing ? 'flowing' : 'stopped']++;
    }
    return counts;
  }

  /** FFmpeg processes running now. */
  get processCount(): number {
    return this.pids().length;
  }

  pids(): number[] {
    return [...this.entries.values()].flatMap((entry) => entry.session?.pids ?? []);
  }

  get portsInUse(): number {
    return this.ports.inUse;
  }

  /** Whether one more stream could get its FFmpeg ports now (ingest refuses a new stream early when not). */
  hasRoomForStream(): boolean {
    return this.ports.available > 0;
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.activityTimer);
    if (this.entries.size > 0) this.logger.log(`stopping ${this.entries.size} FFmpeg session(s)`);
    await Promise.all([...this.entries.keys()].map((streamId) => this.close(streamId)));
    this.fillPictures.vp8.close();
    this.fillPictures.h264.close();
  }

  private open(entry: Entry): void {
    clearTimeout(entry.joinTimer);
    if (entry.opened) return;
    const pending = entry.pending;
    entry.pending = {};
    entry.opened = (async () => {
      const lease = await this.ports.lease();
      const workDir = join(this.config.hls.dir, '.work', entry.streamId);
      const timelineStart = this.timelineStarts.get(entry.streamId) ?? 0;
      this.timelineStarts.delete(entry.streamId);
      const session = new TranscodeSession(
        entry.streamId,
        lease,
        () => this.ports.lease(),
        this.config,
        this.runner,
        this.listenerFor(entry.streamId),
        workDir,
        () => this.lifecycle.shuttingDown,
        timelineStart,
        this.fillPictures,
      );
      entry.session = session;
      const tracks = Object.fromEntries(
        Object.entries(pending)
          .map(([kind, p]) => [kind, this.resolve(p.publisherId, kind as MediaKind, p.producerId)])
          .filter(([, wanted]) => wanted),
      );
      this.logger.log(`[stream:${entry.streamId}] transcoding ${Object.keys(tracks).join(' + ')}`);
      await session.setTracks(tracks, 'stream started');
      return session;
    })().catch((error) => {
      const publisherId = Object.values(pending)[0]?.publisherId ?? entry.streamId;
      this.logger.error(`[stream:${entry.streamId}] transcoding could not start: ${errorMessage(error)}`);
      this.bus.emit('stream.failed', { streamId: entry.streamId, publisherId, error: errorMessage(error) });
      return undefined;
    });
  }

  private resolve(publisherId: string, kind: MediaKind, producerId: string) {
    const producer = this.peers.producer(publisherId, kind);
    if (!producer || producer.id !== producerId) return undefined;
    return { producer, router: this.peers.routerOf(publisherId) };
  }

  private listenerFor(streamId: string) {
    return {
      onRunStarted: (run: number, tracks: BusEvents['transcode.run-started']['tracks'], reason: string) =>
        this.bus.emit('transcode.run-started', { streamId, run, tracks, reason }),
      onRunPreparing: (run: number, tracks: BusEvents['transcode.run-preparing']['tracks'], withinMs: number) =>
        this.bus.emit('transcode.run-preparing', { streamId, run, tracks, withinMs }),
      onUnit: (run: number, rendition: string, unit: BusEvents['transcode.unit']['unit']) =>
        this.bus.emit('transcode.unit', { streamId, run, rendition, unit }),
      onRunEnded: (run: number, reason: string) => this.bus.emit('transcode.run-ended', { streamId, run, reason }),
      onRestart: (reason: string) => this.bus.emit('transcode.restarted', { streamId, reason }),
      onIngestCounted: (kind: MediaKind, packets: number, lost: number) => {
        if (packets > 0 || lost > 0) this.bus.emit('transcode.ingest-counted', { streamId, kind, packets, lost });
      },
      onFfmpegLoss: (missedPackets: number, droppedFrames: number) =>
        this.bus.emit('transcode.ffmpeg-loss', { streamId, missedPackets, droppedFrames }),
      onLayerFailed: (kind: MediaKind, layer: number, error: string) =>
        this.bus.emit('transcode.layer-failed', { streamId, kind, layer, error }),
      onReceiving: (run: number, producerIds: string[]) => this.bus.emit('transcode.receiving', { streamId, run, producerIds }),
    };
  }

  private close(streamId: string): Promise<void> {
    this.timelineStarts.delete(streamId);
    const entry = this.entries.get(streamId);
    if (!entry) return Promise.resolve();
    entry.closing ??= (async () => {
      clearTimeout(entry.joinTimer);
      const session = await entry.opened;
      await session?.close();
      if (this.entries.get(streamId) === entry) this.entries.delete(streamId);
    })();
    return entry.closing;
  }

  private checkActivity(): void {
    for (const entry of this.entries.values()) {
      if (entry.session && !entry.closing) {
        entry.session
          .checkActivity()
          .catch((error) => this.logger.warn(`[stream:${entry.streamId}] activity check: ${errorMessage(error)}`));
      }
    }
  }
}
