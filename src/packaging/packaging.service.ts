import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { appConfig, AppConfig } from '../config/app.config';
import { errorMessage } from '../common/errors';
import { BusEvents, EventBus, OnBusEvent } from '../events/events';
import { isHlsFile, masterPlaylistUrl } from './hls-names';
import { SegmentStore } from './segment-store';
import { PackagingInfo, StreamPackager } from './stream-packager';

interface Entry {
  packager: StreamPackager;
  startedAt: number;
  retentionTimer?: NodeJS.Timeout;
}

/**
 * Turns the access units of every stream into HLS files. Learns of streams and units from the event
 * bus only; owns one StreamPackager per stream from its first run until its files are removed after
 * the retention time.
 */
@Injectable()
export class PackagingService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(PackagingService.name);
  private readonly entries = new Map<string, Entry>();
  private readonly store: SegmentStore;

  constructor(
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly bus: EventBus,
  ) {
    this.store = new SegmentStore(config.hls.dir);
  }

  /** Nothing is live at start-up: what a previous run left (but recordings) is stale. */
  async onModuleInit(): Promise<void> {
    const dir = this.config.hls.dir;
    try {
      await mkdir(dir, { recursive: true });
      await rm(join(dir, '.work'), { recursive: true, force: true });
      if (this.config.hls.retentionSeconds === -1) return;
      const stale = (await this.store.list()).filter(isHlsFile);
      const failed: string[] = [];
      await Promise.all(stale.map((name) => this.store.remove(name).catch((error) => failed.push(`${name}: ${errorMessage(error)}`))));
      if (failed.length > 0) this.logger.warn(`could not remove ${failed.length} stale HLS file(s) from ${dir}, e.g. ${failed[0]}`);
      if (stale.length > 0) this.logger.log(`removed ${stale.length} stale HLS file(s) from ${dir}`);
    } catch (error) {
      // Not fatal: readiness reports the directory (disk check) until it is usable.
      this.logger.error(`HLS directory ${dir} is not usable: ${errorMessage(error)}`);
    }
  }

  info(streamId: string): PackagingInfo | undefined {
    return this.entries.get(streamId)?.packager.info();
  }

  @OnBusEvent('stream.started')
  onStreamStarted({ streamId }: BusEvents['stream.started']): void {
    const existing = this.entries.get(streamId);
    if (existing) {
      // An id used again before the old stream's retention ended: its files go now.
      clearTimeout(existing.retentionTimer);
      void existing.packager.removeFiles();
    }
    const packager = new StreamPackager(
      streamId,
      { segmentSeconds: this.config.hls.segmentSeconds, listSize: this.config.hls.retentionSeconds === -1 ? 0 : this.config.hls.listSize },
      this.store,
      {
        live: () => this.wentLive(streamId),
        segmentWritten: (rendition, kind, seconds, bytes) => this.bus.emit('packaging.segment-written', { streamId, rendition, kind, seconds, bytes }),
        writeFailed: (what, error, op) => {
          this.logger.error(`[stream:${streamId}] ${what}: ${error}`);
          this.bus.emit('packaging.write-failed', { streamId, what, error, op });
        },
      },
    );
    this.entries.set(streamId, { packager, startedAt: Date.now() });
  }

  @OnBusEvent('transcode.run-started')
  onRunStarted({ streamId, run, tracks }: BusEvents['transcode.run-started']): void {
    this.entries.get(streamId)?.packager.onRunStarted(run, tracks);
  }

  @OnBusEvent('transcode.unit')
  onUnit({ streamId, run, rendition, unit }: BusEvents['transcode.unit']): void {
    this.entries.get(streamId)?.packager.onUnit(run, rendition, unit);
  }

  @OnBusEvent('transcode.run-ended')
  onRunEnded({ streamId, run }: BusEvents['transcode.run-ended']): void {
    this.entries.get(streamId)?.packager.onRunEnded(run);
  }

  /** After transcoding has stopped: playlists end; files stay for the retention time. */
  @OnBusEvent('stream.ended')
  async onStreamEnded({ streamId }: BusEvents['stream.ended']): Promise<void> {
    const entry = this.entries.get(streamId);
    if (!entry) return;
    await entry.packager.end();
    this.scheduleRemoval(streamId, entry);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.entries.values()].map((entry) => entry.packager.end()));
    for (const entry of this.entries.values()) clearTimeout(entry.retentionTimer);
  }

  private wentLive(streamId: string): void {
    const entry = this.entries.get(streamId);
    if (!entry) return;
    const elapsedMs = Date.now() - entry.startedAt;
    const masterUrl = masterPlaylistUrl(streamId);
    this.logger.log(`[stream:${streamId}] live after ${elapsedMs} ms: ${masterUrl}`);
    this.bus.emit('stream.live', { streamId, masterUrl, elapsedMs });
  }

  private scheduleRemoval(streamId: string, entry: Entry): void {
    const retention = this.config.hls.retentionSeconds;
    if (retention === -1) return; // a recording: kept
    const remove = async () => {
      if (this.entries.get(streamId) !== entry) return;
      this.entries.delete(streamId);
      await entry.packager.removeFiles();
      this.bus.emit('stream.removed', { streamId });
    };
    if (retention === 0) void remove();
    else {
      entry.retentionTimer = setTimeout(() => void remove(), retention * 1000);
      entry.retentionTimer.unref(); // a process shutting down does not wait for it
    }
  }
}
