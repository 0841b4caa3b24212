import { join } from 'node:path';

import type { MediaKind } from 'mediasoup/node/lib/RtpParameters';

export type VideoMode = 'copy' | 'transcode';
export type HlsProfile = 'copy' | 'legacy';

/** What one FFmpeg run reads and writes. Pure data: the arguments follow from it alone. */
export interface FfmpegPlan {
  peerId: string;
  /** The SDP of the live (RTP) tracks; absent when every track is a filler. */
  sdpPath?: string;
  video?: { source: 'rtp'; mode: VideoMode } | { source: 'filler'; width: number; height: number };
  audio?: { source: 'rtp' } | { source: 'filler' };
  hlsDir: string;
  /** FFmpeg's own playlists go here; the public ones are written by the application. */
  workDir: string;
  startNumber: number;
  segmentSeconds: number;
  x264Preset: string;
  x264BitrateKbps: number;
  aacBitrateKbps: number;
  /** `legacy`: the original design's settings, kept to measure against (see buildFfmpegCommands). */
  profile?: HlsProfile;
}

/** One FFmpeg process of a run: which kinds it reads, from which SDP, with which arguments. */
export interface FfmpegCommand {
  kinds: MediaKind[];
  sdpPath?: string;
  args: string[];
}

/** The original design's video settings: everything re-encoded, 15 fps, plain 1 s segments. */
const LEGACY_FPS = 15;

/** Filler video is cheap on purpose: it only keeps the timeline moving while a camera is off. */
const FILLER_FPS = 15;
/** Loopback keyframe bursts overflow the default UDP receive buffer. */
const RTP_RECEIVE_BUFFER = 4 * 1024 * 1024;

/** Segment file pattern; `%v` becomes `video`/`audio` (FFmpeg's var_stream_map names). */
export const segmentPattern = (peerId: string) => `%v_${peerId}_%03d.ts`;
export const privatePlaylistName = (peerId: string, kind: 'video' | 'audio') => `${peerId}-${kind}.m3u8`;

/**
 * FFmpeg cuts a copied stream at the first keyframe after each multiple of hls_time. Keyframes are
 * requested every `segmentSeconds`, and arrive a little late or early (jitter), so asking for a
 * slightly shorter hls_time makes each cut land on the requested keyframe rather than the next one.
 */
export const hlsTimeFor = (segmentSeconds: number) => Math.round(segmentSeconds * 0.9 * 1000) / 1000;

/**
 * The processes for a plan: one for both kinds (so they share one timeline), or with the `legacy`
 * profile one per kind, as the original design ran them.
 */
export function buildFfmpegCommands(plan: FfmpegPlan): FfmpegCommand[] {
  const kinds = (['video', 'audio'] as const).filter((kind) => plan[kind]);
  if (plan.profile !== 'legacy') return [{ kinds: [...kinds], sdpPath: plan.sdpPath, args: buildFfmpegArgs(plan) }];
  return kinds.map((kind) => {
    const live = plan[kind]!.source === 'rtp';
    const sdpPath = live && plan.sdpPath ? plan.sdpPath.replace(/\.sdp$/, `-${kind}.sdp`) : undefined;
    const single: FfmpegPlan = { ...plan, sdpPath, video: kind === 'video' ? plan.video : undefined, audio: kind === 'audio' ? plan.audio : undefined };
    return { kinds: [kind], sdpPath, args: buildFfmpegArgs(single) };
  });
}

export function buildFfmpegArgs(plan: FfmpegPlan): string[] {
  const { video, audio } = plan;
  if (!video && !audio) throw new RangeError('an FFmpeg plan needs video or audio');
  const args = ['-hide_banner', '-loglevel', 'info', '-nostdin', '-nostats', '-progress', 'pipe:1', '-stats_period', '0.5'];
  const inputs: string[][] = [];
  if (plan.sdpPath) {
    inputs.push(['-protocol_whitelist', 'file,udp,rtp', '-buffer_size', String(RTP_RECEIVE_BUFFER), '-i', plan.sdpPath]);
  }
  const rtpInput = 0;
  let videoInput = rtpInput;
  let audioInput = rtpInput;
  if (video?.source === 'filler') {
    videoInput = inputs.length;
    inputs.push(['-re', '-f', 'lavfi', '-i', `color=c=black:s=${video.width}x${video.height}:r=${FILLER_FPS}`]);
  }
  if (audio?.source === 'filler') {
    audioInput = inputs.length;
    inputs.push(['-re', '-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=stereo']);
  }
  args.push(...inputs.flat());

  const keyframes = `expr:gte(t,n_forced*${plan.segmentSeconds})`;
  const streams: string[] = [];
  if (video) {
    args.push('-map', `${videoInput}:v:0`);
    if (video.source === 'rtp' && plan.profile === 'legacy') {
      args.push(
        '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-r', String(LEGACY_FPS),
        '-g', String(LEGACY_FPS), '-keyint_min', String(LEGACY_FPS), '-sc_threshold', '0',
      );
    } else if (video.source === 'rtp' && video.mode === 'copy') {
      args.push('-c:v', 'copy');
    } else if (video.source === 'rtp') {
      const kbps = plan.x264BitrateKbps;
      args.push(
        '-c:v', 'libx264', '-preset', plan.x264Preset, '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
        '-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${kbps * 2}k`,
        '-sc_threshold', '0', '-force_key_frames', keyframes,
        // Keep the sender's frame rate: RTP input is probed as a high tbr and would be duplicated up to it.
        '-fps_mode', 'passthrough',
      );
    } else {
      args.push(
        '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
        '-b:v', '200k', '-force_key_frames', keyframes,
      );
    }
    streams.push('v:0,name:video');
  }
  if (audio) {
    args.push('-map', `${audioInput}:a:0`, '-c:a', 'aac', '-b:a', `${plan.aacBitrateKbps}k`, '-ar', '48000', '-ac', '2');
    streams.push('a:0,name:audio');
  }
  args.push(
    '-f', 'hls',
    '-hls_time', String(plan.profile === 'legacy' ? plan.segmentSeconds : hlsTimeFor(plan.segmentSeconds)),
    // FFmpeg's private list only needs to outlast our reading of it; the public one is ours.
    '-hls_list_size', '10',
    '-hls_flags', 'independent_segments',
    '-start_number', String(plan.startNumber),
    '-var_stream_map', streams.join(' '),
    '-hls_segment_filename', join(plan.hlsDir, segmentPattern(plan.peerId)),
    join(plan.workDir, `${plan.peerId}-%v.m3u8`),
  );
  return args;
}
