import { Logger } from '@nestjs/common';
import { open, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MediaKind } from 'mediasoup/node/lib/RtpParameters';
import type { AppConfig } from '../config/app.config';
import type { EventBus } from '../events/events';
import { errorMessage } from '../common/errors';
import { h264InfoFromTs, H264Info } from './h264';
import { masterPlaylistName, mediaPlaylistName, renderMasterPlaylist } from './master-playlist';
import { MediaPlaylist, Segment } from './media-playlist';
import type { SegmentEvent, SessionListener, TrackInfo, TranscodeSession } from './transcode-session';

export type StreamState = 'starting' | 'live' | 'ended';

export interface StreamInfo {
  peerId: string;
  startedAt: string;
  state: StreamState;
  masterUrl: string;
  playlists: Partial<Record<MediaKind, string>>;
  tracks: Partial<Record<MediaKind, TrackInfo & { resolution?: string; bitrateKbps?: number }>>;
  segments: Partial<Record<MediaKind, number>>;
  restarts: number;
}

interface Bitrate {
  peakBps: number;
  bytes: number;
  seconds: number;
}

/** Segments shorter than this say more about TS overhead than about the bitrate. */
const MIN_SECONDS_FOR_PEAK = 0.5;

/**
 * One publisher's HLS: its public media playlists (continuous across FFmpeg runs), the master
 * playlist (written once every rendition it names has a segment, which is the moment it goes live),
 * segment clean-up, and its files' removal after the retention time.
 */
export class HlsStream implements SessionListener {
  private readonly logger = new Logger('HlsStream');
  readonly startedAt = new Date();
  state: StreamState = 'starting';
  private readonly playlists = new Map<MediaKind, MediaPlaylist>();
  private readonly bitrates = new Map<MediaKind, Bitrate>();
  private readonly expired: string[] = [];
  private video?: H264Info;
  private declaredBandwidth = 0;
  private masterKinds = '';
  private writes: Promise<void> = Promise.resolve();
  /** The stream's discontinuity count: one more for each FFmpeg run that wrote segments. */
  private cc = 0;
  private lastRun?: number;
  session?: TranscodeSession;

  constructor(
    readonly peerId: string,
    private readonly config: AppConfig,
    private readonly onLive: (stream: HlsStream) => void,
    private readonly bus: EventBus,
  ) {}

  get masterUrl(): string {
    return `/live/${masterPlaylistName(this.peerId)}`;
  }

  onSegment(event: SegmentEvent): void {
    const playlist = this.playlistFor(event.kind);
    if (this.lastRun !== undefined && event.run !== this.lastRun) this.cc++;
    this.lastRun = event.run;
    const segment: Segment = { uri: event.uri, duration: event.duration, bytes: event.bytes, cc: this.cc };
    const slid = playlist.append(segment);
    this.measure(event);
    this.bus.emit('hls.segment-written', { peerId: this.peerId, kind: event.kind, seconds: event.duration, bytes: event.bytes });
    this.write(async () => {
      if (event.kind === 'video' && event.source === 'rtp') await this.readVideoInfo(event.uri);
      await this.writeAtomic(mediaPlaylistName(this.peerId, event.kind), playlist.render());
      await this.writeMasterIfDue();
      await this.expire(slid);
    });
  }

  /** The playlists carry on; the next run's segments get the next discontinuity count. */
  onRestart(reason: string): void {
    this.bus.emit('hls.ffmpeg-restarted', { peerId: this.peerId, reason });
  }

  info(): StreamInfo {
    const session = this.session?.info() ?? {};
    const tracks: StreamInfo['tracks'] = {};
    for (const [kind, track] of Object.entries(session) as Array<[MediaKind, TrackInfo]>) {
      const bitrate = this.bitrates.get(kind);
      tracks[kind] = {
        ...track,
        resolution: kind === 'video' && this.video ? `${this.video.width}x${this.video.height}` : undefined,
        bitrateKbps: bitrate && bitrate.seconds > 0 ? Math.round((bitrate.bytes * 8) / bitrate.seconds / 1000) : undefined,
      };
    }
    const playlists: StreamInfo['playlists'] = {};
    const segments: StreamInfo['segments'] = {};
    for (const [kind, playlist] of this.playlists) {
      playlists[kind] = `/live/${mediaPlaylistName(this.peerId, kind)}`;
      segments[kind] = playlist.segmentCount;
    }
    return {
      peerId: this.peerId,
      startedAt: this.startedAt.toISOString(),
      state: this.state,
      masterUrl: this.masterUrl,
      playlists,
      tracks,
      segments,
      restarts: this.session?.restarts ?? 0,
    };
  }

  /** After FFmpeg has exited and its last segments are in: ENDLIST on every media playlist. */
  async end(): Promise<void> {
    if (this.state === 'ended') return;
    this.state = 'ended';
    for (const [kind, playlist] of this.playlists) {
      playlist.end();
      this.write(() => this.writeAtomic(mediaPlaylistName(this.peerId, kind), playlist.render()));
    }
    await this.writes;
  }

  /** Deletes every file this stream wrote (playlists and segments), and any FFmpeg left half-written. */
  async removeFiles(): Promise<void> {
    await this.writes;
    const dir = this.config.hls.dir;
    const ours = new RegExp(`^((video|audio)_${escape(this.peerId)}_\\d+\\.ts|${escape(this.peerId)}(-video|-audio)?\\.m3u8(\\.tmp)?)$`);
    const names = (await readdir(dir).catch(() => [] as string[])).filter((name) => ours.test(name));
    await Promise.all(names.map((name) => unlink(join(dir, name)).catch(() => undefined)));
  }

  private playlistFor(kind: MediaKind): MediaPlaylist {
    let playlist = this.playlists.get(kind);
    if (!playlist) {
      const keepAll = this.config.hls.retentionSeconds === -1;
      playlist = new MediaPlaylist(this.config.hls.segmentSeconds, keepAll ? 0 : this.config.hls.listSize);
      this.playlists.set(kind, playlist);
    }
    return playlist;
  }

  private measure(event: SegmentEvent): void {
    const bitrate = this.bitrates.get(event.kind) ?? { peakBps: 0, bytes: 0, seconds: 0 };
    bitrate.bytes += event.bytes;
    bitrate.seconds += event.duration;
    if (event.duration >= MIN_SECONDS_FOR_PEAK) bitrate.peakBps = Math.max(bitrate.peakBps, (event.bytes * 8) / event.duration);
    else if (bitrate.peakBps === 0 && event.duration > 0) bitrate.peakBps = (event.bytes * 8) / event.duration;
    this.bitrates.set(event.kind, bitrate);
  }

  private async readVideoInfo(uri: string): Promise<void> {
    try {
      const file = await open(join(this.config.hls.dir, uri), 'r');
      try {
        const { buffer, bytesRead } = await file.read(Buffer.alloc(64 * 1024), 0, 64 * 1024, 0);
        const info = h264InfoFromTs(buffer.subarray(0, bytesRead));
        if (info) {
          this.video = info;
          if (this.session) this.session.videoSize = { width: info.width, height: info.height };
        }
      } finally {
        await file.close();
      }
    } catch (error) {
      this.logger.warn(`[peer:${this.peerId}] could not read SPS from ${uri}: ${errorMessage(error)}`);
    }
  }

  /** Written when every rendition it names has a segment; rewritten when what it says changes. */
  private async writeMasterIfDue(): Promise<void> {
    const video = this.playlists.get('video');
    const audio = this.playlists.get('audio');
    const kinds = [video?.segmentCount ? 'video' : '', audio?.segmentCount ? 'audio' : ''].join('+');
    const wanted = (['video', 'audio'] as MediaKind[]).filter((kind) => this.session?.hasProducer(kind) || this.playlists.has(kind));
    if (wanted.some((kind) => !this.playlists.get(kind)?.segmentCount)) return;
    if (video?.segmentCount && !this.video) return; // the codec string comes from the SPS
    const peak = [...this.bitrates.values()].reduce((sum, b) => sum + b.peakBps, 0);
    const codecKey = `${kinds}|${this.video?.codec}|${this.video?.width}x${this.video?.height}`;
    if (this.state === 'live' && codecKey === this.masterKinds && peak <= this.declaredBandwidth) return;
    // 10% above the measured peak, so small variations do not rewrite the master every segment.
    this.declaredBandwidth = Math.max(this.declaredBandwidth, Math.ceil(peak * 1.1));
    this.masterKinds = codecKey;
    const totals = [...this.bitrates.values()];
    const average = totals.reduce((sum, b) => sum + (b.seconds ? (b.bytes * 8) / b.seconds : 0), 0);
    const text = renderMasterPlaylist({
      peerId: this.peerId,
      video: video?.segmentCount && this.video ? this.video : undefined,
      audio: audio?.segmentCount ? { codec: 'mp4a.40.2', channels: 2 } : undefined,
      bandwidth: this.declaredBandwidth,
      averageBandwidth: Math.ceil(average),
    });
    await this.writeAtomic(masterPlaylistName(this.peerId), text);
    if (this.state === 'starting') {
      this.state = 'live';
      this.onLive(this);
    }
  }

  /** Segments that slid out of the window stay one more window (players may still fetch them). */
  private async expire(slid: Segment[]): Promise<void> {
    this.expired.push(...slid.map((segment) => segment.uri));
    const keep = this.config.hls.listSize * this.playlists.size;
    while (this.expired.length > keep) {
      const uri = this.expired.shift()!;
      await unlink(join(this.config.hls.dir, uri)).catch(() => undefined);
    }
  }

  private write(work: () => Promise<void>): void {
    this.writes = this.writes
      .then(work)
      .catch((error) => this.logger.error(`[peer:${this.peerId}] writing playlists: ${errorMessage(error)}`));
  }

  private async writeAtomic(name: string, text: string): Promise<void> {
    const path = join(this.config.hls.dir, name);
    await writeFile(`${path}.tmp`, text);
    await rename(`${path}.tmp`, path);
  }
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
