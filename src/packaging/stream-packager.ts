import { Logger } from '@nestjs/common';
import { errorMessage } from '../common/errors';
import { extractParameterSets, parseSps } from '../media/h264';
import type { MediaKind, MediaUnit, RunTrack } from '../transcode/media-unit';
import { ClassicRendition, FinishedSegment } from './classic-rendition';
import { belongsTo, masterPlaylistName, masterPlaylistUrl, mediaPlaylistName, mediaPlaylistUrl, segmentName } from './hls-names';
import { renderMasterPlaylist } from './master-playlist';
import { MediaPlaylist, Segment } from './media-playlist';
import type { SegmentStore } from './segment-store';

export interface PackagerOptions {
  segmentSeconds: number;
  /** Segments kept in a live playlist; 0 keeps them all (a recording). */
  listSize: number;
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

export interface VideoInfo {
  codec: string;
  width: number;
  height: number;
}

export interface PackagingInfo {
  masterUrl: string;
  live: boolean;
  playlists: Partial<Record<MediaKind, string>>;
  segments: Partial<Record<MediaKind, number>>;
  resolution?: string;
  bitrateKbps: Partial<Record<MediaKind, number>>;
  targetDuration?: number;
}

/** Segments that may wait for the stream's first video segment before the target is decided without it. */
const MAX_UNLISTED = 8;
/** Segments shorter than this say more about TS overhead than about the bitrate. */
const MIN_SECONDS_FOR_PEAK = 0.5;

/**
 * One stream's HLS: the numbering of its segments (one media sequence for every rendition, continued
 * across FFmpeg runs, a discontinuity per run), its media playlists, the master playlist (written once
 * every rendition it names has a segment: the moment the stream is live), and the clean-up of old
 * segments. It receives units; it never holds a transcoder.
 */
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
  /** The stream's discontinuity count: one more for each run after the first that wrote segments. */
  private cc = 0;
  private runWrote = false;
  private anyWritten = false;
  private targetDuration?: number;
  /** Segments completed before the target was known (see complete). */
  private readonly unlisted: Array<{ rendition: ClassicRendition; finished: FinishedSegment }> = [];
  /** Duration and discontinuity count of each recent segment number, from whichever rendition had it first. */
  private readonly numbered = new Map<number, { duration: number; cc: number }>();
  private video?: VideoInfo;
  private declaredBandwidth = 0;
  private masterKey = '';
  private isLive = false;
  private ended = false;
  private writes: Promise<void> = Promise.resolve();

  constructor(
    readonly streamId: string,
    private readonly options: PackagerOptions,
    private readonly store: SegmentStore,
    private readonly events: PackagerEvents,
  ) {}

  private get prefix(): string {
    return `[stream:${this.streamId}]`;
  }

  onRunStarted(run: number, tracks: RunTrack[]): void {
    this.flushAll();
    if (this.runWrote) this.cc++;
    this.currentRun = run;
    this.runBase = this.nextNumber;
    this.runWrote = false;
    this.wanted = tracks;
  }

  onUnit(run: number, rendition: string, unit: MediaUnit): void {
    if (run !== this.currentRun || this.ended) return;
    let target = this.renditions.get(rendition);
    if (!target) {
      const kind = this.wanted.find((t) => t.rendition === rendition)?.kind ?? 'video';
      target = new ClassicRendition(rendition, kind);
      this.renditions.set(rendition, target);
    }
    if (target.kind === 'video' && unit.keyframe) this.noteVideo(unit.data);
    const finished = target.push(unit, this.runBase + unit.segment, this.cc);
    if (finished) this.complete(target, finished);
  }

  onRunEnded(run: number): void {
    if (run === this.currentRun) this.flushAll();
  }

  /** Every playlist gets EXT-X-ENDLIST; resolves once written. */
  async end(): Promise<void> {
    if (this.ended) return this.writes;
    this.flushAll();
    if (this.unlisted.length > 0) this.decideTarget();
    this.ended = true;
    for (const rendition of this.renditions.values()) {
      const playlist = rendition.playlist;
      if (!playlist) continue;
      playlist.end();
      this.write(`${rendition.name} playlist`, () => this.store.writePlaylist(mediaPlaylistName(this.streamId, rendition.name), playlist.render()));
    }
    await this.writes;
  }

  /** Deletes every file of this stream (playlists and segments). */
  async removeFiles(): Promise<void> {
    await this.writes;
    const names = (await this.store.list()).filter((name) => belongsTo(this.streamId, name));
    await Promise.all(names.map((name) => this.store.remove(name).catch((error) => this.events.writeFailed(`removing ${name}`, errorMessage(error), 'remove'))));
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
      live: this.isLive,
      playlists,
      segments,
      resolution: this.video ? `${this.video.width}x${this.video.height}` : undefined,
      bitrateKbps,
      targetDuration: this.targetDuration,
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

  private noteVideo(data: Buffer): void {
    const sps = extractParameterSets(data).sps[0];
    if (!sps) return;
    try {
      const info = parseSps(sps);
      this.video = { codec: info.codec, width: info.width, height: info.height };
    } catch (error) {
      this.logger.warn(`${this.prefix} unreadable SPS: ${errorMessage(error)}`);
    }
  }

  private complete(rendition: ClassicRendition, finished: FinishedSegment): void {
    this.runWrote = true;
    this.anyWritten = true;
    this.nextNumber = Math.max(this.nextNumber, finished.number + 1);
    if (!this.numbered.has(finished.number)) this.numbered.set(finished.number, { duration: finished.duration, cc: finished.cc });
    for (const number of [...this.numbered.keys()]) if (number < finished.number - 4 * Math.max(this.options.listSize, 6)) this.numbered.delete(number);
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
      this.logger.warn(`${this.prefix} ${rendition.name} segment ${finished.number} lasts ${finished.duration.toFixed(3)} s, over the ${target} s target`);
    }
    rendition.playlist ??= new MediaPlaylist(target, this.options.listSize);
    const playlist = rendition.playlist;
    const gaps = this.missingBefore(rendition, finished);
    const uri = segmentName(this.streamId, rendition.name, finished.number);
    const segment: Segment = { uri, number: finished.number, duration: finished.duration, bytes: finished.data.length, cc: finished.cc };
    this.write(`segment ${uri}`, async () => {
      try {
        await this.store.writeSegment(uri, finished.data);
      } catch (error) {
        // Disk full or gone: the segment is listed as a gap, so numbering and timing hold for players.
        segment.gap = true;
        this.events.writeFailed(`segment ${uri}`, errorMessage(error), 'segment');
      }
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
      const known = this.numbered.get(number);
      gaps.push({
        uri: segmentName(this.streamId, rendition.name, number),
        number,
        duration: known?.duration ?? this.options.segmentSeconds,
        bytes: 0,
        cc: known?.cc ?? finished.cc,
        gap: true,
      });
    }
    return gaps;
  }

  /** Written when every rendition it names has a segment; rewritten when what it says changes. */
  private async writeMasterIfDue(): Promise<void> {
    const ready = (kind: MediaKind) => {
      const track = this.wanted.find((t) => t.kind === kind);
      return track ? this.renditions.get(track.rendition)?.playlist?.segmentCount : undefined;
    };
    if (this.wanted.some((t) => !this.renditions.get(t.rendition)?.playlist?.segmentCount)) return;
    const hasVideo = !!ready('video');
    if (hasVideo && !this.video) return; // the codec string comes from the SPS
    const hasAudio = !!ready('audio');
    const peak = [...this.renditions.values()].reduce((sum, r) => sum + r.peakBps, 0);
    const key = `${hasVideo}+${hasAudio}|${this.video?.codec}|${this.video?.width}x${this.video?.height}`;
    if (this.isLive && key === this.masterKey && peak <= this.declaredBandwidth) return;
    // 10% above the measured peak, so small variations do not rewrite the master every segment.
    this.declaredBandwidth = Math.max(this.declaredBandwidth, Math.ceil(peak * 1.1));
    this.masterKey = key;
    const average = [...this.renditions.values()].reduce((sum, r) => sum + r.averageBps, 0);
    const text = renderMasterPlaylist({
      streamId: this.streamId,
      video: hasVideo ? this.video : undefined,
      audio: hasAudio ? { codec: 'mp4a.40.2', channels: 2 } : undefined,
      bandwidth: this.declaredBandwidth,
      averageBandwidth: Math.ceil(average),
    });
    await this.store.writePlaylist(masterPlaylistName(this.streamId), text);
    if (!this.isLive) {
      this.isLive = true;
      this.events.live();
    }
  }

  /** Segments that slid out of the window stay one more window (players may still fetch them). */
  private async expire(rendition: ClassicRendition, slid: Segment[]): Promise<void> {
    rendition.expired.push(...slid.filter((s) => !s.gap).map((s) => s.uri));
    while (rendition.expired.length > this.options.listSize) {
      const uri = rendition.expired.shift()!;
      await this.store.remove(uri).catch((error) => this.events.writeFailed(`removing ${uri}`, errorMessage(error), 'remove'));
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
