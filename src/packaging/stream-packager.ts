import { Logger } from '@nestjs/common';
import { errorMessage } from '../common/errors';
import { extractParameterSets, parseSps } from '../media/h264';
import type { MediaKind, MediaUnit, RunTrack } from '../transcode/media-unit';
import { ClassicRendition, FinishedSegment } from './classic-rendition';
import {
  liveUrl,
  llMasterPlaylistUrl,
  masterPlaylistName,
  masterPlaylistUrl,
  mediaPlaylistName,
  mediaPlaylistUrl,
  recordingMasterName,
  recordingPlaylistName,
  segmentName,
} from './hls-names';
import type { LlStreamPackager } from './ll-stream';
import { MasterPlaylistInput, renderMasterPlaylist } from './master-playlist';
import { FormatBreaks } from './format-breaks';
import { KeyframeCadence } from './keyframe-cadence';
import { MediaPlaylist, Segment } from './media-playlist';
import type { SegmentStore } from './segment-store';
import type { Continuity, ListedSegment } from './continuity';

export type { Continuity };

export interface PackagerOptions {
  segmentSeconds: number;
  /** Segments kept in a live playlist; 0 keeps them all (a recording). */
  listSize: number;
  /**
   * Where an earlier stream of the same name left off (numbering continues past its files), or where
   * this stream stood on the node it comes from (its last window is listed first, see Continuity).
   */
  continueFrom?: Continuity;
  /**
   * Called with where the stream stands once a segment is written, before it is listed; `false`
   * means the stream is no longer this node's: nothing more is listed (see ContinuityStore).
   */
  saveContinuity?: (continuity: Continuity) => Promise<boolean>;
}

/** The kinds of disk work packaging does: a failed one is a gap, a stale playlist, or a file left behind. */
export type WriteOp = 'segment' | 'playlist' | 'remove';

/** What packaging reports to its owner. */
export interface PackagerEvents {
  live(): void;
  segmentWritten(rendition: string, kind: MediaKind, seconds: number, bytes: number): void;
  /** `op` says which kind of write failed (a label for metrics); `what` names the file. */
  writeFailed(what: string, error: string, op: WriteOp): void;
}

export interface PackagingInfo {
  masterUrl: string;
  /** The Low-Latency master (served from memory once the classic master is written). */
  llMasterUrl: string;
  live: boolean;
  playlists: Partial<Record<MediaKind, string>>;
  segments: Partial<Record<MediaKind, number>>;
  resolution?: string;
  bitrateKbps: Partial<Record<MediaKind, number>>;
  targetDuration?: number;
  /** The VOD master of a recording, once the stream has ended with HLS_RETENTION_SECONDS=-1. */
  recordingUrl?: string;
  /** Median time between the video's keyframes (seconds), once measured. */
  keyframeIntervalSeconds?: number;
  /** Keyframes come further apart than the segment target: segments last a keyframe interval. */
  keyframesSlowerThanTarget: boolean;
  /** HLS_SEGMENT_SECONDS. */
  segmentTargetSeconds: number;
}

/** Segments that may wait for the stream's first video segment before the target is decided without it. */
const MAX_UNLISTED = 8;
const CLOCK = 90_000;
/** Segments per rendition saved for another node to list first, when playlists keep them all (a recording). */
const KEPT_FOR_CONTINUITY = 10;
/** Segments shorter than this say more about TS overhead than about the bitrate. */
const MIN_SECONDS_FOR_PEAK = 0.5;
/** Headroom over a bitrate for BANDWIDTH: TS overhead and the encoder's own peaks. */
const BANDWIDTH_HEADROOM = 1.15;
/**
 * With several video renditions (simulcast layers) the master is written once, so it waits this
 * long after the first video segment for the other layers (a browser starts its top layer only
 * once its bandwidth estimate allows), and as long after a run that brings a layer has started,
 * for that layer's first segment; a layer that has not flowed by then is not announced. While such
 * a run is being prepared (the current one plays on until it has media) the wait goes on too.
 */
const LAYERS_WAIT_MS = 4000;

/**
 * One stream's HLS: the numbering of its segments (one media sequence for every rendition, continued
 * across FFmpeg runs, a discontinuity per run), its media playlists, the master playlist (written once
 * every rendition it names has a segment: the moment the stream is live), and the clean-up of old
 * segments. It receives units; it never holds a transcoder.
 */
/** The media playlists a master names, in its order. */
const renditionsOf = (master: MasterPlaylistInput): string[] => [
  ...master.video.map((v) => v.rendition),
  ...(master.audio ? ['audio'] : []),
];

export class StreamPackager {
  private readonly logger = new Logger('Packager');
  private readonly renditions = new Map<string, ClassicRendition>();
  /** Renditions of the current run: the master names these. */
  private wanted: RunTrack[] = [];
  private currentRun?: number;
  /** Number of the current run's segment 0. */
  private runBase = 1;
  /** The next run's segment 0 gets this number. */
  private nextNumber = 1;
  /**
   * The stream's discontinuity count at the current run's start: one more for each run after the
   * first that wrote segments, and for each format change within a run (runBreaks).
   */
  private cc = 0;
  /** Indexes of the current run's segments that start with a new coded format (a new picture size). */
  private readonly runBreaks = new FormatBreaks();
  private runWrote = false;
  /** Segment files written and not yet deleted: exactly what removal deletes (a later stream of the same name has its own). */
  private readonly files = new Set<string>();
  private recordingUrl?: string;
  private targetDuration?: number;
  /** Segments completed before the target was known (see complete). */
  private readonly unlisted: Array<{ rendition: ClassicRendition; finished: FinishedSegment }> = [];
  /** Duration and discontinuity count of each recent segment number, from whichever rendition had it first. */
  private readonly numbered = new Map<number, { duration: number; cc: number }>();
  private declaredBandwidth = 0;
  /** Until when a master of several video renditions waits for those without a segment yet. */
  private layersDeadline?: number;
  private sawVideoSegment = false;
  private masterKey = '';
  private isLive = false;
  private masterInput?: MasterPlaylistInput;
  private ended = false;
  /** The stream went on elsewhere: nothing more is listed here. */
  private fenced = false;
  /** End of the latest segment on the stream's timeline (90 kHz). */
  private timelineEnd = 0;
  /** Where the segments listed so far leave the stream (what another node would continue from). */
  private listed: Continuity = { nextNumber: 1, cc: 0 };
  private writes: Promise<void> = Promise.resolve();
  private readonly keyframes = new KeyframeCadence();

  constructor(
    readonly streamId: string,
    private readonly options: PackagerOptions,
    private readonly store: SegmentStore,
    private readonly events: PackagerEvents,
    /** The Low-Latency layout, fed the same units with the same numbers (none: classic only). */
    private readonly ll?: LlStreamPackager,
  ) {
    if (options.continueFrom) {
      this.nextNumber = options.continueFrom.nextNumber;
      // The first run after an earlier stream is a discontinuity from it.
      this.cc = options.continueFrom.cc + 1;
      this.targetDuration = options.continueFrom.targetDuration;
      this.timelineEnd = options.continueFrom.nextPts ?? 0;
      const { nextNumber, cc, nextPts, targetDuration } = options.continueFrom;
      this.listed = { nextNumber, cc, nextPts, targetDuration };
    }
  }

  /** TARGETDURATION, fixed by the stream's first segment; undefined before. */
  get fixedTargetDuration(): number | undefined {
    return this.targetDuration;
  }

  /** What the master written last says (renditions, codecs, sizes, bandwidth); undefined before it is written. */
  get master(): MasterPlaylistInput | undefined {
    return this.masterInput;
  }

  private get prefix(): string {
    return `[stream:${this.streamId}]`;
  }

  /** Where a later stream of the same name should continue. */
  continuity(): Continuity {
    return {
      nextNumber: this.nextNumber,
      cc: this.cc + this.runBreaks.count,
      nextPts: this.timelineEnd,
      targetDuration: this.targetDuration,
    };
  }

  onRunStarted(run: number, tracks: RunTrack[]): void {
    this.flushAll();
    this.cc += this.runBreaks.take();
    if (this.runWrote) this.cc++;
    this.currentRun = run;
    this.runBase = this.nextNumber;
    this.runWrote = false;
    this.wanted = tracks;
    this.keyframes.reset();
    this.ll?.onRunStarted(run, tracks);
    if (this.bringsLayers(tracks)) this.waitForLayersUntil(Date.now() + LAYERS_WAIT_MS);
  }

  /**
   * A run is starting while the current one plays on; it is announced (onRunStarted) within
   * `withinMs` or never. A master still waiting for its layers waits for this run's.
   */
  onRunPreparing(tracks: RunTrack[], withinMs: number): void {
    if (this.bringsLayers(tracks)) this.waitForLayersUntil(Date.now() + withinMs);
  }

  /** Whether, before the master is written, these tracks carry a video rendition that has no segment yet. */
  private bringsLayers(tracks: RunTrack[]): boolean {
    if (this.isLive) return false;
    return tracks.some((t) => t.kind === 'video' && t.source === 'rtp' && !this.segmentsOf(t.rendition));
  }

  /** Segments a rendition has had listed (0 before its first). */
  private segmentsOf(rendition: string): number {
    return this.renditions.get(rendition)?.playlist?.segmentCount ?? 0;
  }

  private waitForLayersUntil(deadline: number): void {
    this.layersDeadline = Math.max(this.layersDeadline ?? 0, deadline);
  }

  onUnit(run: number, rendition: string, unit: MediaUnit): void {
    if (run !== this.currentRun || this.ended) return;
    let target = this.renditions.get(rendition);
    if (!target) {
      const kind = this.wanted.find((t) => t.rendition === rendition)?.kind ?? 'video';
      target = new ClassicRendition(rendition, kind);
      this.renditions.set(rendition, target);
    }
    if (target.kind === 'video' && unit.keyframe) {
      this.noteVideo(target, unit.data);
      if (unit.formatChange && this.runBreaks.add(unit.segment)) this.logBreak(target, unit.segment);
      if (rendition === this.wanted.find((t) => t.kind === 'video')?.rendition) this.keyframes.keyframe(unit.pts);
    }
    const finished = target.push(unit, this.runBase + unit.segment, this.ccOf(unit.segment));
    if (finished) this.complete(target, finished);
    // After the classic rendition, so a first segment completed by this unit has fixed TARGETDURATION.
    this.ll?.onUnit(rendition, target.kind, unit, this.runBase + unit.segment);
  }

  /** The current run's discontinuity count at its segment `index`. */
  private ccOf(index: number): number {
    return this.cc + this.runBreaks.upTo(index);
  }

  /**
   * A video rendition's picture size changed within the run (the cutter started a segment at the
   * keyframe; runBreaks has it): every rendition gets a discontinuity there (ccOf), so a player sets
   * its decoders up again (hls.js keeps a TS stream's first SPS until one) and the renditions' counts
   * stay equal.
   */
  private logBreak(rendition: ClassicRendition, index: number): void {
    const size = rendition.video ? ` to ${rendition.video.width}x${rendition.video.height}` : '';
    this.logger.log(
      `${this.prefix} ${rendition.name}: the coded format changed${size} at segment ${this.runBase + index}; a discontinuity starts there`,
    );
  }

  onRunEnded(run: number): void {
    if (run !== this.currentRun) return;
    this.flushAll();
    this.ll?.onRunEnded(run);
  }

  /**
   * The stream goes on on another node: stop here without EXT-X-ENDLIST (players follow it there),
   * and without flushing, so no segment under a number the other node now gives is listed here.
   */
  async abandon(): Promise<void> {
    this.ended = true;
    this.fenced = true;
    await this.writes;
  }

  /** Every playlist gets EXT-X-ENDLIST; resolves once written. */
  async end(): Promise<void> {
    if (this.ended) return this.writes;
    this.flushAll();
    if (this.unlisted.length > 0) this.decideTarget();
    this.ended = true;
    this.ll?.end();
    for (const rendition of this.renditions.values()) {
      const playlist = rendition.playlist;
      if (!playlist) continue;
      playlist.end();
      this.write(`${rendition.name} playlist`, () =>
        this.store.writePlaylist(mediaPlaylistName(this.streamId, rendition.name), playlist.render()),
      );
    }
    await this.writes;
  }

  /**
   * A recording: VOD playlists of every rendition from the stream's first segment, and a master.
   * Named by `tag`, so the live names (which a later stream of the same name reuses) stay free.
   */
  async writeRecording(tag: string): Promise<void> {
    await this.writes;
    const master = this.masterInput;
    if (!master) return;
    for (const rendition of this.renditions.values()) {
      if (!rendition.playlist) continue;
      const name = recordingPlaylistName(this.streamId, rendition.name, tag);
      await this.store.writePlaylist(name, rendition.playlist.render({ vod: true }));
      this.files.add(name);
    }
    const text = renderMasterPlaylist({ ...master, playlistName: (rendition) => recordingPlaylistName(this.streamId, rendition, tag) });
    const name = recordingMasterName(this.streamId, tag);
    await this.store.writePlaylist(name, text);
    this.files.add(name);
    this.recordingUrl = liveUrl(name);
  }

  /**
   * Deletes this stream's files: its segments (exactly those it wrote) and, unless a later stream of
   * the same name has taken them over, its playlists.
   */
  async removeFiles(options: { playlists: boolean } = { playlists: true }): Promise<void> {
    await this.writes;
    const names = [...this.files];
    if (options.playlists) {
      names.push(masterPlaylistName(this.streamId), ...[...this.renditions.keys()].map((r) => mediaPlaylistName(this.streamId, r)));
    }
    await Promise.all(
      names.map((name) =>
        this.store.remove(name).catch((error) => this.events.writeFailed(`removing ${name}`, errorMessage(error), 'remove')),
      ),
    );
    this.files.clear();
  }

  info(): PackagingInfo {
    const playlists: PackagingInfo['playlists'] = {};
    const segments: PackagingInfo['segments'] = {};
    const bitrateKbps: PackagingInfo['bitrateKbps'] = {};
    for (const rendition of this.renditions.values()) {
      if (!rendition.playlist) continue;
      playlists[rendition.kind] = mediaPlaylistUrl(this.streamId, rendition.name);
      segments[rendition.kind] = rendition.playlist.segmentCount;
      if (rendition.seconds > 0) bitrateKbps[rendition.kind] = Math.round(rendition.averageBps / 1000);
    }
    return {
      masterUrl: masterPlaylistUrl(this.streamId),
      llMasterUrl: llMasterPlaylistUrl(this.streamId),
      live: this.isLive,
      playlists,
      segments,
      resolution: this.topVideo?.video ? `${this.topVideo.video.width}x${this.topVideo.video.height}` : undefined,
      bitrateKbps,
      targetDuration: this.targetDuration,
      recordingUrl: this.recordingUrl,
      keyframeIntervalSeconds: this.keyframes.intervalSeconds,
      keyframesSlowerThanTarget: this.keyframes.slowerThan(this.options.segmentSeconds),
      segmentTargetSeconds: this.options.segmentSeconds,
    };
  }

  /** Resolves once everything queued so far is on disk. */
  settled(): Promise<void> {
    return this.writes;
  }

  private flushAll(): void {
    for (const rendition of this.renditions.values()) {
      const finished = rendition.flush();
      if (finished) this.complete(rendition, finished);
    }
  }

  /** The first video rendition (the top layer), whose size /api/streams reports. */
  private get topVideo(): ClassicRendition | undefined {
    return [...this.renditions.values()].find((r) => r.kind === 'video');
  }

  private noteVideo(rendition: ClassicRendition, data: Buffer): void {
    const sps = extractParameterSets(data).sps[0];
    if (!sps) return;
    try {
      const info = parseSps(sps);
      rendition.video = { codec: info.codec, width: info.width, height: info.height };
    } catch (error) {
      this.logger.warn(`${this.prefix} unreadable SPS: ${errorMessage(error)}`);
    }
  }

  private complete(rendition: ClassicRendition, finished: FinishedSegment): void {
    // A layer whose keyframe opened the segment before another layer's showed the format change.
    if (finished.number >= this.runBase) finished.cc = Math.max(finished.cc, this.ccOf(finished.number - this.runBase));
    this.runWrote = true;
    this.nextNumber = Math.max(this.nextNumber, finished.number + 1);
    if (!this.numbered.has(finished.number)) this.numbered.set(finished.number, { duration: finished.duration, cc: finished.cc });
    for (const number of [...this.numbered.keys()])
      if (number < finished.number - 4 * Math.max(this.options.listSize, 6)) this.numbered.delete(number);
    if (this.targetDuration === undefined) {
      // TARGETDURATION is fixed before any playlist exists and never changes (RFC 8216 6.2.1). Video
      // decides: its first segment that ended on a keyframe measures the keyframe interval (the
      // configured target where keyframes come when asked, the publisher's own where it ignores the
      // requests). Segments completed before that wait, unlisted; they are never longer than it.
      const decides = rendition.kind === 'video' ? finished.endedAtCut : !this.wanted.some((t) => t.kind === 'video');
      this.unlisted.push({ rendition, finished });
      if (!decides && this.unlisted.length < MAX_UNLISTED) return;
      this.decideTarget();
      return;
    }
    this.list(rendition, finished);
  }

  /** Fixes the target from the segments waiting for it, and lists them in the order they completed. */
  private decideTarget(): void {
    const longest = Math.max(0, ...this.unlisted.map((u) => u.finished.duration));
    this.targetDuration = Math.max(Math.ceil(this.options.segmentSeconds), Math.round(longest));
    const waiting = this.unlisted.splice(0);
    for (const { rendition, finished } of waiting) this.list(rendition, finished);
  }

  private list(rendition: ClassicRendition, finished: FinishedSegment): void {
    const target = this.targetDuration!;
    if (Math.round(finished.duration) > target) {
      this.logger.warn(
        `${this.prefix} ${rendition.name} segment ${finished.number} lasts ${finished.duration.toFixed(3)} s, over the ${target} s target`,
      );
    }
    if (!rendition.playlist) {
      rendition.playlist = new MediaPlaylist(target, this.options.listSize);
      this.seed(rendition, rendition.playlist, finished.number);
    }
    const playlist = rendition.playlist;
    const gaps = this.missingBefore(rendition, finished);
    const uri = segmentName(this.streamId, rendition.name, finished.number);
    const segment: Segment = { uri, number: finished.number, duration: finished.duration, bytes: finished.data.length, cc: finished.cc };
    const segmentEnd = finished.firstPts + Math.round(finished.duration * CLOCK);
    this.timelineEnd = Math.max(this.timelineEnd, segmentEnd);
    this.write(`segment ${uri}`, async () => {
      if (this.fenced) return;
      try {
        await this.store.writeSegment(uri, finished.data);
        this.files.add(uri);
      } catch (error) {
        // Disk full or gone: the segment is listed as a gap, so numbering and timing hold for players.
        segment.gap = true;
        this.events.writeFailed(`segment ${uri}`, errorMessage(error), 'segment');
      }
      if (!(await this.mayList(this.listingContinuity(rendition.name, [...gaps, segment], segmentEnd)))) return;
      const slid = gaps.flatMap((gap) => playlist.append(gap));
      slid.push(...playlist.append(segment));
      if (!segment.gap) {
        rendition.measure(segment, MIN_SECONDS_FOR_PEAK);
        this.events.segmentWritten(rendition.name, rendition.kind, segment.duration, segment.bytes);
      }
      await this.store.writePlaylist(mediaPlaylistName(this.streamId, rendition.name), playlist.render());
      await this.writeMasterIfDue();
      await this.expire(rendition, slid);
    });
  }

  /** Where the stream stands once `added` of `rendition` are listed (the other renditions as they are). */
  private listingContinuity(renditionName: string, added: Segment[], segmentEnd: number): Continuity {
    const keep = this.options.listSize || KEPT_FOR_CONTINUITY;
    const window = (list: readonly Segment[]): ListedSegment[] =>
      list
        .slice(-keep)
        .map(({ uri, number, duration, cc, gap }) => (gap ? { uri, number, duration, cc, gap } : { uri, number, duration, cc }));
    const renditions: Record<string, ListedSegment[]> = {};
    for (const rendition of this.renditions.values()) {
      const listed = rendition.playlist?.segments ?? [];
      renditions[rendition.name] = window(rendition.name === renditionName ? [...listed, ...added] : listed);
    }
    const last = added[added.length - 1];
    this.listed = {
      nextNumber: Math.max(this.listed.nextNumber, last.number + 1),
      cc: Math.max(this.listed.cc, last.cc),
      nextPts: Math.max(this.listed.nextPts ?? 0, segmentEnd),
      targetDuration: this.targetDuration,
    };
    return { ...this.listed, renditions };
  }

  /**
   * A rendition's first playlist starts with what the node the stream came from listed last. That node
   * may have stopped between two renditions' listings of one number (the first listed it, the stream
   * moved before the second did): the numbers this rendition lacks there are listed as gaps, with the
   * duration and discontinuity count another rendition gave them, so every rendition numbers by
   * position alike. Numbers after those are this node's own (missingBefore fills them from here).
   */
  private seed(rendition: ClassicRendition, playlist: MediaPlaylist, firstNumber: number): void {
    const from = this.options.continueFrom;
    const listed = from?.renditions?.[rendition.name];
    if (!from || !listed?.length) return;
    const earlier = listed.filter((s) => s.number < firstNumber).sort((a, b) => a.number - b.number);
    const increasing = earlier.filter((s, i) => i === 0 || s.number > earlier[i - 1].number);
    const seeded: Segment[] = increasing.map((s) => ({ ...s, bytes: 0 }));
    const last = seeded.at(-1);
    if (!last) return;
    const others = Object.entries(from.renditions!)
      .filter(([name]) => name !== rendition.name)
      .flatMap(([, segments]) => segments);
    for (let number = last.number + 1; number < Math.min(firstNumber, from.nextNumber); number++) {
      seeded.push(this.gap(rendition, number, others.find((s) => s.number === number) ?? { cc: last.cc }));
    }
    playlist.seed(seeded);
    rendition.lastNumber = seeded.at(-1)!.number;
  }

  /** Saves where the stream stands (when asked to); false once the stream is no longer this node's. */
  private async mayList(continuity: Continuity): Promise<boolean> {
    if (this.fenced) return false;
    if (!this.options.saveContinuity) return true;
    let allowed: boolean;
    try {
      allowed = await this.options.saveContinuity(continuity);
    } catch (error) {
      // A failing store must not stop a node from serving its own stream.
      this.logger.warn(`${this.prefix} saving continuity: ${errorMessage(error)}`);
      allowed = true;
    }
    if (!allowed && !this.fenced) {
      this.fenced = true;
      this.logger.log(
        `${this.prefix} another node continues the stream: segment ${continuity.nextNumber - 1} and later are not listed here`,
      );
    }
    return allowed;
  }

  /**
   * Numbers this rendition has no media for (its source stalled while the others went on): a playlist
   * numbers its segments by position, so each gets an EXT-X-GAP entry with the time and discontinuity
   * count the other renditions gave that number. Renditions then agree on every number.
   */
  private missingBefore(rendition: ClassicRendition, finished: FinishedSegment): Segment[] {
    const last = rendition.lastNumber;
    rendition.lastNumber = finished.number;
    if (last === undefined) return [];
    const gaps: Segment[] = [];
    for (let number = last + 1; number < finished.number; number++) {
      gaps.push(this.gap(rendition, number, this.numbered.get(number) ?? { cc: finished.cc }));
    }
    return gaps;
  }

  /** An EXT-X-GAP entry for `number`, timed and counted as another rendition had it (else a target long). */
  private gap(rendition: ClassicRendition, number: number, like: { duration?: number; cc: number }): Segment {
    const uri = segmentName(this.streamId, rendition.name, number);
    return { uri, number, duration: like.duration ?? this.options.segmentSeconds, bytes: 0, cc: like.cc, gap: true };
  }

  /**
   * Written when every rendition it names has a segment: the moment the stream is live. With one video
   * rendition it is rewritten when what it says changes (a browser ramps its resolution up); with
   * several (simulcast layers) it is written once, so it never changes under a playing viewer.
   */
  private async writeMasterIfDue(): Promise<void> {
    const segments = (track: RunTrack) => this.segmentsOf(track.rendition);
    const videoTracks = this.wanted.filter((t) => t.kind === 'video');
    const audioTrack = this.wanted.find((t) => t.kind === 'audio');
    if (audioTrack && !segments(audioTrack)) return;
    const flowing = videoTracks.filter((t) => segments(t) > 0);
    if (videoTracks.length > 0 && flowing.length === 0) return;
    if (flowing.length > 0 && !this.sawVideoSegment) {
      this.sawVideoSegment = true;
      this.waitForLayersUntil(Date.now() + LAYERS_WAIT_MS);
    }
    const layered = videoTracks.length > 1;
    if (layered && this.isLive) return;
    if (layered && flowing.length < videoTracks.length && Date.now() < (this.layersDeadline ?? 0)) return;
    const variants = flowing.map((t) => ({ track: t, rendition: this.renditions.get(t.rendition)! }));
    if (variants.some((v) => !v.rendition.video)) return; // the codec string comes from the SPS
    const audio = audioTrack && this.renditions.get(audioTrack.rendition);
    const audioPeak = audio ? audio.peakBps * BANDWIDTH_HEADROOM : 0;
    const input: MasterPlaylistInput = {
      streamId: this.streamId,
      video: variants.map(({ track, rendition }) => ({
        rendition: rendition.name,
        codec: rendition.video!.codec,
        width: rendition.video!.width,
        height: rendition.video!.height,
        frameRate: layered ? rendition.frameRate : undefined,
        // A layer's own ceiling when the publisher declared one: measured peaks of the first seconds
        // undershoot what a browser sends once its bandwidth estimate has ramped up.
        bandwidth: Math.max(rendition.peakBps, track.maxBitrate ?? 0) * BANDWIDTH_HEADROOM,
        averageBandwidth: rendition.averageBps,
      })),
      audio: audio ? { codec: 'mp4a.40.2', channels: 2, bandwidth: audioPeak, averageBandwidth: audio.averageBps } : undefined,
    };
    // Other renditions than the master written last: written once each of them has a segment of this
    // run (the earlier runs' segments then leave the playlists, and none may be left empty).
    const named = renditionsOf(input);
    const renamed = this.isLive && named.join(',') !== renditionsOf(this.masterInput!).join(',');
    if (renamed && named.some((name) => (this.renditions.get(name)?.playlist?.lastNumber ?? -1) < this.runBase)) return;
    // The first master: where a rendition it names starts with gaps (a layer whose first keyframe came
    // a segment after the others'), every playlist starts where all of them have media. A player
    // starts near the front; hls.js, finding a gap in the rendition a viewer picked, leaves it.
    let from: number | undefined;
    if (!this.isLive) {
      from = this.firstCommonMedia(named);
      if (from === undefined) return;
    }
    const peak = input.video.reduce((max, v) => Math.max(max, v.bandwidth), 0) + audioPeak;
    const key = JSON.stringify(input.video.map((v) => [v.rendition, v.codec, v.width, v.height])) + `|${!!audio}`;
    if (this.isLive && key === this.masterKey && peak <= this.declaredBandwidth) return;
    // Not rewritten for small variations: only when what it names changes or the peak grows past it.
    this.declaredBandwidth = Math.max(this.declaredBandwidth, Math.ceil(peak));
    if (!layered && input.video[0]) input.video[0].bandwidth = this.declaredBandwidth - audioPeak;
    this.masterKey = key;
    if (renamed) await this.dropBefore(this.runBase);
    else if (from !== undefined && this.gapsBefore(named, from)) await this.dropBefore(from);
    await this.store.writePlaylist(masterPlaylistName(this.streamId), renderMasterPlaylist(input));
    this.masterInput = input;
    if (!this.isLive) {
      this.isLive = true;
      this.events.live();
    }
  }

  /**
   * Segments numbered below `number` leave every playlist, classic and Low-Latency; they stay
   * fetchable for players already in them. Used when the master is about to name other renditions
   * (audio joined a video-only stream, or left it: a player starting in the earlier runs' segments
   * finds no media for a rendition the new master promises, and hls.js waits for it forever), and
   * when the first master's renditions start with gaps.
   */
  private async dropBefore(number: number): Promise<void> {
    for (const rendition of this.renditions.values()) {
      const playlist = rendition.playlist;
      const dropped = playlist?.dropBefore(number) ?? [];
      if (!playlist || dropped.length === 0) continue;
      await this.store.writePlaylist(mediaPlaylistName(this.streamId, rendition.name), playlist.render());
      await this.expire(rendition, dropped);
    }
    this.ll?.dropBefore(number);
  }

  /** The first number, at or after the start of every one of these playlists, at which each has media. */
  private firstCommonMedia(names: string[]): number | undefined {
    const windows = names.map((name) => this.renditions.get(name)?.playlist?.segments ?? []);
    if (windows.some((w) => w.length === 0)) return undefined;
    const start = Math.max(...windows.map((w) => w[0].number));
    const candidates = windows[0].filter((s) => s.number >= start && !s.gap).map((s) => s.number);
    return candidates.find((n) => windows.every((w) => w.some((s) => s.number === n && !s.gap)));
  }

  /** Whether any of these playlists lists a gap before `number`. */
  private gapsBefore(names: string[], number: number): boolean {
    return names.some((name) => this.renditions.get(name)?.playlist?.segments.some((s) => s.number < number && s.gap));
  }

  /** Segments that slid out of the window stay one more window (players may still fetch them). */
  private async expire(rendition: ClassicRendition, slid: Segment[]): Promise<void> {
    // Segments listed from another node are that node's files.
    rendition.expired.push(...slid.filter((s) => !s.gap && !s.elsewhere).map((s) => s.uri));
    while (rendition.expired.length > this.options.listSize) {
      const uri = rendition.expired.shift()!;
      await this.store.remove(uri).then(
        () => this.files.delete(uri),
        (error) => this.events.writeFailed(`removing ${uri}`, errorMessage(error), 'remove'),
      );
    }
  }

  private write(what: string, work: () => Promise<void>): void {
    this.writes = this.writes.then(work).catch((error) => {
      this.logger.error(`${this.prefix} writing ${what}: ${errorMessage(error)}`);
      // What is left of a job after its segment (playlists, master) failed.
      this.events.writeFailed(what, errorMessage(error), 'playlist');
    });
  }
}
