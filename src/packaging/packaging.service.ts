import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit, Optional } from '@nestjs/common';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { appConfig, AppConfig } from '../config/app.config';
import { errorMessage } from '../common/errors';
import { BusEvents, EventBus, OnBusEvent } from '../events/events';
import { isHlsFile, masterPlaylistUrl, recordingTag, segmentNumber, segmentStream } from './hls-names';
import { CONTINUITY_STORE, ContinuityStore, laterContinuity } from './continuity';
import { llPartTiming, LlPartTiming, SKIP_BOUNDARY_TARGETS } from './ll';
import { LlStreamPackager } from './ll-stream';
import { SegmentStore } from './segment-store';
import { Continuity, PackagingInfo, StreamPackager } from './stream-packager';

/** Stream ids whose numbering is remembered after their files went (about 200 bytes each). */
const REMEMBERED_IDS = 10_000;
/** LL segments kept in memory after leaving the playlist, for players holding an older playlist. */
const LL_GRACE_SEGMENTS = 4;
/** With HLS_RETENTION_SECONDS=-1, how long an ended stream's LL layout stays in memory. */
const LL_KEPT_AFTER_END_MS = 60_000;

interface Entry {
  streamId: string;
  generation: number;
  packager: StreamPackager;
  /** Its Low-Latency layout, in memory (closed when the stream's files go, or a later stream of the id starts). */
  ll: LlStreamPackager;
  startedAt: Date;
  ended: boolean;
  retentionTimer?: NodeJS.Timeout;
}

/**
 * Turns the access units of every stream into HLS files. Learns of streams and units from the event
 * bus only; owns one StreamPackager per stream from its start until its files are removed after the
 * retention time. A stream name used again while an earlier stream's files are kept continues its
 * numbering past them, and each stream's removal touches only its own files.
 */
@Injectable()
export class PackagingService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(PackagingService.name);
  /** The current stream of each id. */
  private readonly entries = new Map<string, Entry>();
  /** Earlier streams of an id whose files retention still keeps. */
  private readonly retired = new Set<Entry>();
  /**
   * Where numbering goes on for ids no packager holds now: kept recordings found at start-up, and
   * streams whose files are gone (a name's numbers only ever grow, so a player or cache that saw the
   * old stream never meets a reused number). Bounded: the oldest ids are forgotten first.
   */
  private readonly continuities = new Map<string, Continuity>();
  private readonly store: SegmentStore;
  private readonly llTiming: LlPartTiming;

  constructor(
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly bus: EventBus,
    /** Where named streams' numbering is saved for another node to continue (the cluster); absent: nowhere. */
    @Optional() @Inject(CONTINUITY_STORE) private readonly continuityStore?: ContinuityStore,
  ) {
    this.store = new SegmentStore(config.hls.dir);
    this.llTiming = llPartTiming(config.hls.partSeconds);
  }

  /** Nothing is live at start-up: what a previous run left is stale, unless recordings are kept. */
  async onModuleInit(): Promise<void> {
    const dir = this.config.hls.dir;
    try {
      await mkdir(dir, { recursive: true });
      await rm(join(dir, '.work'), { recursive: true, force: true });
      const names = (await this.store.list()).filter(isHlsFile);
      if (this.config.hls.retentionSeconds === -1) {
        this.indexKeptSegments(names);
        return;
      }
      const failed: string[] = [];
      await Promise.all(names.map((name) => this.store.remove(name).catch((error) => failed.push(`${name}: ${errorMessage(error)}`))));
      if (failed.length > 0) this.logger.warn(`could not remove ${failed.length} stale HLS file(s) from ${dir}, e.g. ${failed[0]}`);
      if (names.length > 0) this.logger.log(`removed ${names.length - failed.length} stale HLS file(s) from ${dir}`);
    } catch (error) {
      // Not fatal: readiness reports the directory (disk check) until it is usable.
      this.logger.error(`HLS directory ${dir} is not usable: ${errorMessage(error)}`);
    }
  }

  info(streamId: string, generation?: number): PackagingInfo | undefined {
    const current = this.entries.get(streamId);
    if (generation === undefined || current?.generation === generation) return current?.packager.info();
    return [...this.retired].find((e) => e.streamId === streamId && e.generation === generation)?.packager.info();
  }

  /** A stream's Low-Latency layout (served from memory by delivery), while it is kept. */
  llStream(streamId: string): LlStreamPackager | undefined {
    const ll = this.entries.get(streamId)?.ll;
    return ll && !ll.closed ? ll : undefined;
  }

  @OnBusEvent('stream.started')
  onStreamStarted({ streamId, generation, named, continueFrom: fromCluster }: BusEvents['stream.started']): void {
    const previous = this.entries.get(streamId);
    if (previous) {
      this.retired.add(previous);
      // LL URLs name the id, not the generation: the new stream serves them from now on.
      previous.ll.close('a later stream of the same name started');
    }
    // Past whichever is further on: what this node knows of the name, or where the cluster says it stands.
    const continueFrom = laterContinuity(previous?.packager.continuity() ?? this.continuities.get(streamId), fromCluster);
    this.continuities.delete(streamId);
    const keepAll = this.config.hls.retentionSeconds === -1;
    const store = this.continuityStore;
    // Only a named stream can go on elsewhere; a connection's id never comes back.
    const saveContinuity = named && store ? (continuity: Continuity) => store.save(streamId, continuity) : undefined;
    const ll = new LlStreamPackager(
      streamId,
      {
        timing: this.llTiming,
        // Enough for a delta update to skip segments: CAN-SKIP-UNTIL is six target durations.
        windowSegments: this.config.hls.listSize + SKIP_BOUNDARY_TARGETS,
        graceSegments: LL_GRACE_SEGMENTS,
        // The StreamPackager's count (one more than where the earlier packaging left off): msn and
        // discontinuity sequence go on together, also for a stream continued from another node.
        firstDiscontinuitySequence: continueFrom ? continueFrom.cc + 1 : 0,
      },
      () => packager.fixedTargetDuration,
      { warn: (message) => this.logger.warn(`[stream:${streamId}] LL ${message}`) },
      () => packager.master,
    );
    const packager: StreamPackager = new StreamPackager(
      streamId,
      { segmentSeconds: this.config.hls.segmentSeconds, listSize: keepAll ? 0 : this.config.hls.listSize, continueFrom, saveContinuity },
      this.store,
      {
        live: () => this.wentLive(streamId),
        segmentWritten: (rendition, kind, seconds, bytes) =>
          this.bus.emit('packaging.segment-written', { streamId, rendition, kind, seconds, bytes }),
        writeFailed: (what, error, op) => {
          this.logger.error(`[stream:${streamId}] ${what}: ${error}`);
          this.bus.emit('packaging.write-failed', { streamId, what, error, op });
        },
      },
      ll,
    );
    this.entries.set(streamId, { streamId, generation, packager, ll, startedAt: new Date(), ended: false });
  }

  @OnBusEvent('transcode.run-started')
  onRunStarted({ streamId, run, tracks }: BusEvents['transcode.run-started']): void {
    this.entries.get(streamId)?.packager.onRunStarted(run, tracks);
  }

  @OnBusEvent('transcode.run-preparing')
  onRunPreparing({ streamId, tracks, withinMs }: BusEvents['transcode.run-preparing']): void {
    this.entries.get(streamId)?.packager.onRunPreparing(tracks, withinMs);
  }

  @OnBusEvent('transcode.unit')
  onUnit({ streamId, run, rendition, unit }: BusEvents['transcode.unit']): void {
    this.entries.get(streamId)?.packager.onUnit(run, rendition, unit);
  }

  @OnBusEvent('transcode.run-ended')
  onRunEnded({ streamId, run }: BusEvents['transcode.run-ended']): void {
    this.entries.get(streamId)?.packager.onRunEnded(run);
  }

  /**
   * After transcoding has stopped: playlists end (a recording gets its VOD playlists); files stay for
   * the retention time. A stream that moved to another node ends here without EXT-X-ENDLIST: its
   * playlists stay as they were (players are sent to the other node), its files for the retention time.
   */
  @OnBusEvent('stream.ended')
  async onStreamEnded({ streamId, generation, movedTo }: BusEvents['stream.ended']): Promise<void> {
    const entry = this.entries.get(streamId);
    if (!entry || entry.generation !== generation || entry.ended) return;
    entry.ended = true;
    if (movedTo !== undefined) {
      await entry.packager.abandon();
      this.logger.log(`[stream:${streamId}] continues on node ${movedTo}; files here kept for the retention time`);
      this.scheduleRemoval(entry);
      return;
    }
    await entry.packager.end();
    if (this.config.hls.retentionSeconds === -1) {
      await entry.packager
        .writeRecording(recordingTag(entry.startedAt))
        .catch((error) => this.logger.error(`[stream:${streamId}] recording: ${errorMessage(error)}`));
    }
    this.scheduleRemoval(entry);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.entries.values()].map((entry) => entry.packager.end()));
    for (const entry of [...this.entries.values(), ...this.retired]) {
      clearTimeout(entry.retentionTimer);
      entry.ll.close('the server is shutting down');
    }
  }

  private wentLive(streamId: string): void {
    const entry = this.entries.get(streamId);
    if (!entry) return;
    const elapsedMs = Date.now() - entry.startedAt.getTime();
    const masterUrl = masterPlaylistUrl(streamId);
    this.logger.log(`[stream:${streamId}] live after ${elapsedMs} ms: ${masterUrl}`);
    this.bus.emit('stream.live', { streamId, masterUrl, elapsedMs });
  }

  private scheduleRemoval(entry: Entry): void {
    const retention = this.config.hls.retentionSeconds;
    if (retention === -1) {
      // A recording: the files stay; the Low-Latency layout (memory, not a recording) goes after a while.
      entry.retentionTimer = setTimeout(() => entry.ll.close('the stream ended'), LL_KEPT_AFTER_END_MS);
      entry.retentionTimer.unref();
      return;
    }
    const remove = async () => {
      const current = this.entries.get(entry.streamId) === entry;
      if (current) {
        this.entries.delete(entry.streamId);
        this.remember(entry.streamId, entry.packager.continuity());
      }
      this.retired.delete(entry);
      entry.ll.close('the stream ended and its retention time is over');
      // The playlists' names belong to a later stream of the same id if there is one.
      await entry.packager.removeFiles({ playlists: current });
      this.bus.emit('stream.removed', { streamId: entry.streamId, generation: entry.generation });
    };
    if (retention === 0) void remove();
    else {
      entry.retentionTimer = setTimeout(() => void remove(), retention * 1000);
      entry.retentionTimer.unref(); // a process shutting down does not wait for it
    }
  }

  /** Recordings kept from earlier runs of the server: a stream of the same name numbers past them. */
  private indexKeptSegments(names: string[]): void {
    for (const name of names) {
      const streamId = segmentStream(name);
      const number = segmentNumber(name);
      if (streamId === undefined || number === undefined) continue;
      const known = this.continuities.get(streamId);
      if (!known || number >= known.nextNumber) this.remember(streamId, { nextNumber: number + 1, cc: 0 });
    }
  }

  private remember(streamId: string, continuity: Continuity): void {
    this.continuities.delete(streamId);
    this.continuities.set(streamId, continuity);
    while (this.continuities.size > REMEMBERED_IDS) this.continuities.delete(this.continuities.keys().next().value!);
  }
}
