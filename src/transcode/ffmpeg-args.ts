import type { MediaKind } from 'mediasoup/node/lib/RtpParameters';
import type { VideoMode } from './media-unit';

export type HlsProfile = 'copy' | 'legacy';

/** What one FFmpeg run reads and writes. Pure data: the arguments follow from it alone. */
export interface FfmpegPlan {
  /** The SDP of the live (RTP) tracks; absent when every track is a filler. */
  sdpPath?: string;
  /**
   * `renditions`: the video outputs, in the order of the SDP's video m-lines (one per copied simulcast
   * layer, the top one first; one otherwise). Filler makes each of them.
   */
  video?: ({ source: 'rtp'; mode: VideoMode } | { source: 'filler'; width: number; height: number }) & {
    renditions?: string[];
    /** Transcoded layers: each rendition's bitrate (its layer's declared ceiling); x264BitrateKbps otherwise. */
    bitratesKbps?: number[];
  };
  audio?: { source: 'rtp' } | { source: 'filler' };
  /** Keyframe cadence where FFmpeg encodes video itself (transcode, filler). */
  segmentSeconds: number;
  /** Added to every output timestamp, so a run's timeline starts where the previous one ended. */
  timelineOffsetSeconds: number;
  x264Preset: string;
  x264BitrateKbps: number;
  aacBitrateKbps: number;
  /** `legacy`: the original design's settings, kept to measure against (see buildFfmpegCommands). */
  profile?: HlsProfile;
}

/** One output of a process: a rendition written as MPEG-TS to the pipe at fd 3 + its index. */
export interface FfmpegOutput {
  rendition: string;
  kind: MediaKind;
}

/** One FFmpeg process of a run: which kinds it reads, from which SDP, with which arguments. */
export interface FfmpegCommand {
  kinds: MediaKind[];
  sdpPath?: string;
  args: string[];
  outputs: FfmpegOutput[];
  /** It changes the video's frame rate (legacy: 15 fps): the frames it drops doing so are not loss. */
  convertsFrameRate?: boolean;
}

/** The original design's video settings: everything re-encoded, 15 fps. */
const LEGACY_FPS = 15;
/** The colour of every filler picture: filler runs draw it, and VP8 and H264 gaps are filled with it (FillPictures). */
export const FILLER_COLOR = 'black';
/** Filler video is cheap on purpose: it only keeps the timeline moving while a camera is off. */
const FILLER_FPS = 15;
/** Loopback keyframe bursts overflow the default UDP receive buffer. */
const RTP_RECEIVE_BUFFER = 4 * 1024 * 1024;
const FIRST_OUTPUT_FD = 3;

/**
 * The processes for a plan: one for both kinds (so they share one timeline), or with the `legacy`
 * profile one per kind, as the original design ran them.
 */
export function buildFfmpegCommands(plan: FfmpegPlan): FfmpegCommand[] {
  const kinds = (['video', 'audio'] as const).filter((kind) => plan[kind]);
  if (plan.profile !== 'legacy') return [{ kinds: [...kinds], sdpPath: plan.sdpPath, ...buildFfmpegArgs(plan) }];
  return kinds.map((kind) => {
    const live = plan[kind]!.source === 'rtp';
    const sdpPath = live && plan.sdpPath ? plan.sdpPath.replace(/\.sdp$/, `-${kind}.sdp`) : undefined;
    const single: FfmpegPlan = {
      ...plan,
      sdpPath,
      video: kind === 'video' ? plan.video : undefined,
      audio: kind === 'audio' ? plan.audio : undefined,
    };
    return { kinds: [kind], sdpPath, ...buildFfmpegArgs(single) };
  });
}

/**
 * FFmpeg receives RTP (or makes filler), encodes what must be encoded, and writes each rendition as
 * MPEG-TS to its own pipe, one PES per frame, flushed at once. It writes no HLS: Node cuts the
 * segments from these bytes, at the same instants for every rendition.
 */
export function buildFfmpegArgs(plan: FfmpegPlan): { args: string[]; outputs: FfmpegOutput[]; convertsFrameRate: boolean } {
  const { video, audio } = plan;
  if (!video && !audio) throw new RangeError('an FFmpeg plan needs video or audio');
  const args = ['-hide_banner', '-loglevel', 'info', '-nostdin', '-nostats', '-progress', 'pipe:1', '-stats_period', '0.5'];
  const inputs: string[][] = [];
  if (plan.sdpPath) {
    // No probing: the SDP names every codec, the packager reads sizes from the SPS, and probing held
    // the first units back about a second at every start and restart (viewers saw it as a stall).
    inputs.push([
      '-protocol_whitelist',
      'file,udp,rtp',
      '-buffer_size',
      String(RTP_RECEIVE_BUFFER),
      '-analyzeduration',
      '0',
      '-fpsprobesize',
      '0',
      '-i',
      plan.sdpPath,
    ]);
  }
  const rtpInput = 0;
  let videoInput = rtpInput;
  let audioInput = rtpInput;
  // Filler alone (no RTP to keep in step with) starts with one segment at once, then runs in real
  // time: a publisher that vanished leaves nothing to play on, and the filler's first segment would
  // otherwise come a whole segment after FFmpeg starts, while viewers drain their buffers.
  const lead = plan.sdpPath ? 0 : plan.segmentSeconds;
  if (video?.source === 'filler') {
    videoInput = inputs.length;
    inputs.push(fillerInput(`color=c=${FILLER_COLOR}:s=${video.width}x${video.height}:r=${FILLER_FPS}`, 'video', lead));
  }
  if (audio?.source === 'filler') {
    audioInput = inputs.length;
    inputs.push(fillerInput('anullsrc=r=48000:cl=stereo', 'audio', lead));
  }
  args.push(...inputs.flat());

  const outputs: FfmpegOutput[] = [];
  const keyframes = `expr:gte(t,n_forced*${plan.segmentSeconds})`;
  for (const [index, rendition] of (video ? (video.renditions ?? ['video']) : []).entries()) {
    if (!video) break;
    // Each copied layer arrives on its own m-line; filler is one source encoded for each rendition.
    args.push('-map', `${videoInput}:v:${video.source === 'rtp' ? index : 0}`);
    if (video.source === 'rtp' && plan.profile === 'legacy') {
      args.push(
        ...x264('ultrafast'),
        '-r',
        String(LEGACY_FPS),
        '-g',
        String(LEGACY_FPS),
        '-keyint_min',
        String(LEGACY_FPS),
        '-sc_threshold',
        '0',
      );
    } else if (video.source === 'rtp' && video.mode === 'copy') {
      args.push('-c:v', 'copy');
    } else if (video.source === 'rtp') {
      const kbps = video.bitratesKbps?.[index] ?? plan.x264BitrateKbps;
      args.push(
        ...x264(plan.x264Preset),
        '-b:v',
        `${kbps}k`,
        '-maxrate',
        `${kbps}k`,
        '-bufsize',
        `${kbps * 2}k`,
        '-sc_threshold',
        '0',
        '-force_key_frames',
        keyframes,
        // Keep the sender's frame rate: RTP input is probed as a high tbr and would be duplicated up to it.
        '-fps_mode',
        'passthrough',
      );
    } else {
      args.push(...x264('ultrafast'), '-b:v', '200k', '-force_key_frames', keyframes);
    }
    args.push(...tsOutput(plan, FIRST_OUTPUT_FD + outputs.length));
    outputs.push({ rendition, kind: 'video' });
  }
  if (audio) {
    args.push('-map', `${audioInput}:a:0`, '-c:a', 'aac', '-b:a', `${plan.aacBitrateKbps}k`, '-ar', '48000', '-ac', '2');
    args.push(...tsOutput(plan, FIRST_OUTPUT_FD + outputs.length));
    outputs.push({ rendition: 'audio', kind: 'audio' });
  }
  const convertsFrameRate = video?.source === 'rtp' && plan.profile === 'legacy';
  return { args, outputs, convertsFrameRate };
}

/**
 * A lavfi source in real time (`-re`), or with its first `leadSeconds` at once and the rest in real
 * time from there (the realtime filter paces from the first frame it sees, after the lead).
 */
function fillerInput(source: string, kind: 'video' | 'audio', leadSeconds: number): string[] {
  if (leadSeconds <= 0) return ['-re', '-f', 'lavfi', '-i', source];
  const a = kind === 'audio' ? 'a' : '';
  const graph =
    `${source},${a}split[lead][rest];[lead]${a}trim=end=${leadSeconds}[first];` +
    `[rest]${a}trim=start=${leadSeconds},${a}setpts=PTS-STARTPTS,${a}realtime[paced];` +
    `[first][paced]concat=n=2:v=${a ? 0 : 1}:a=${a ? 1 : 0}[out0]`;
  return ['-f', 'lavfi', '-i', graph];
}

/** libx264 as every encode here runs it: no lookahead (zerolatency), 4:2:0 for every player. */
function x264(preset: string): string[] {
  return ['-c:v', 'libx264', '-preset', preset, '-tune', 'zerolatency', '-pix_fmt', 'yuv420p'];
}

/**
 * MPEG-TS to a pipe: one PES per frame (audio frames are not bundled, so audio can be cut at any
 * frame), every packet flushed at once (a segment is complete as soon as its last frame is), and video
 * PES lengths written where they fit, so a frame can be handed on at its last packet rather than when
 * the next one starts (one frame less of latency; keyframes over 64 KiB still wait).
 */
function tsOutput(plan: FfmpegPlan, fd: number): string[] {
  return [
    '-output_ts_offset',
    plan.timelineOffsetSeconds.toFixed(6),
    '-f',
    'mpegts',
    '-pes_payload_size',
    '0',
    '-omit_video_pes_length',
    '0',
    '-flush_packets',
    '1',
    `pipe:${fd}`,
  ];
}
