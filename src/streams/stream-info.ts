import type { MediaKind } from 'mediasoup/node/lib/RtpParameters';
import type { PackagingInfo } from '../packaging/stream-packager';
import { llMasterPlaylistUrl, masterPlaylistUrl } from '../packaging/hls-names';
import type { TrackInfo, TranscodeInfo } from '../transcode/transcoder.service';
import type { StreamRecord, StreamState } from './streams.service';

/** What /api/streams says of a stream (the original shape: `peerId` is the stream's id). */
export interface StreamInfo {
  peerId: string;
  named: boolean;
  publisherId?: string;
  startedAt: string;
  state: StreamState;
  endedAt?: string;
  recordingUrl?: string;
  masterUrl: string;
  /** The Low-Latency master (fMP4 parts, blocking reload), served from memory while the stream is live. */
  llMasterUrl: string;
  playlists: Partial<Record<MediaKind, string>>;
  tracks: Partial<Record<MediaKind, TrackInfo & { resolution?: string; bitrateKbps?: number }>>;
  segments: Partial<Record<MediaKind, number>>;
  restarts: number;
  /** Median time between video keyframes, once measured. */
  keyframeIntervalSeconds?: number;
  /** What an operator or publisher should know about the stream, in words (e.g. keyframes too far apart). */
  notices: string[];
  /** Cluster mode only: the node that has the stream (serves its files; a viewer may use any node). */
  node?: string;
}

/** Joins what each module knows of one stream: identity (streams), tracks (transcode), files (packaging). */
export function streamInfo(stream: StreamRecord, transcode?: TranscodeInfo, packaging?: PackagingInfo, node?: string): StreamInfo {
  const tracks: StreamInfo['tracks'] = {};
  for (const [kind, track] of Object.entries(transcode?.tracks ?? {}) as Array<[MediaKind, TrackInfo]>) {
    tracks[kind] = {
      ...track,
      resolution: kind === 'video' ? packaging?.resolution : undefined,
      bitrateKbps: packaging?.bitrateKbps[kind],
    };
  }
  return {
    peerId: stream.id,
    named: stream.named,
    publisherId: stream.publisherId,
    startedAt: stream.startedAt.toISOString(),
    state: stream.state,
    endedAt: stream.endedAt?.toISOString(),
    recordingUrl: packaging?.recordingUrl,
    masterUrl: packaging?.masterUrl ?? masterPlaylistUrl(stream.id),
    llMasterUrl: packaging?.llMasterUrl ?? llMasterPlaylistUrl(stream.id),
    playlists: packaging?.playlists ?? {},
    tracks,
    segments: packaging?.segments ?? {},
    restarts: transcode?.restarts ?? 0,
    keyframeIntervalSeconds: packaging?.keyframeIntervalSeconds,
    notices: packaging ? notices(packaging) : [],
    ...(node !== undefined ? { node } : {}),
  };
}

/**
 * What the registry alone says of a stream of another node, when that node did not answer for its
 * list: its id, state and node, and where to play it (any node serves it).
 */
export function registryStreamInfo(record: {
  name: string;
  node: string;
  state: StreamState;
  claimedAt: number;
  meta: Record<string, unknown>;
}): StreamInfo {
  return {
    peerId: record.name,
    named: record.meta.named !== false,
    startedAt: new Date(record.claimedAt).toISOString(),
    state: record.state,
    masterUrl: masterPlaylistUrl(record.name),
    llMasterUrl: llMasterPlaylistUrl(record.name),
    playlists: {},
    tracks: {},
    segments: {},
    restarts: 0,
    notices: [],
    node: record.node,
  };
}

function notices(packaging: PackagingInfo): string[] {
  const found: string[] = [];
  if (packaging.keyframesSlowerThanTarget && packaging.keyframeIntervalSeconds !== undefined) {
    const interval = packaging.keyframeIntervalSeconds;
    const target = packaging.segmentTargetSeconds;
    found.push(
      `keyframes arrive every ${interval} s, slower than the ${target} s segment target: the publisher does not send keyframes ` +
        `when asked (OBS, many hardware encoders), so segments last ${interval} s and viewers are that much further behind; ` +
        `set its keyframe interval to ${target} s (OBS: Settings → Output → Keyframe Interval)`,
    );
  }
  return found;
}
