import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface ObsMedia {
  video: string;
  audio: string;
  keyframeSeconds: number;
}

/**
 * What OBS's x264 sends with "Keyframe Interval" set to `keyframeSeconds`: H264 High, 30 fps, a
 * keyframe every `keyframeSeconds` and at no scene cut, no B-frames (OBS's WHIP output turns them
 * off), SPS/PPS before every IDR; and Opus 48 kHz stereo in 20 ms packets. Encoded once per machine
 * (cached in the temp directory by recipe).
 */
export function prepareObsMedia(keyframeSeconds = 2, seconds = 12): ObsMedia {
  const gop = String(30 * keyframeSeconds);
  // prettier-ignore
  const videoArgs = [
    '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=30:duration=${seconds}`, '-vf', 'format=yuv420p',
    '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'high', '-b:v', '1200k', '-maxrate', '1200k', '-bufsize', '1200k',
    '-g', gop, '-keyint_min', gop, '-sc_threshold', '0', '-bf', '0', '-x264-params', 'aud=1:repeat-headers=1', '-an', '-f', 'h264',
  ];
  // prettier-ignore
  const audioArgs = [
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`, '-ac', '2',
    '-c:a', 'libopus', '-b:a', '64k', '-frame_duration', '20', '-vn', '-f', 'ogg',
  ];
  const dir = join(tmpdir(), 'webrtc-hls-obs-media');
  mkdirSync(dir, { recursive: true });
  const make = (args: string[], extension: string) => {
    const path = join(dir, `${createHash('sha256').update(args.join(' ')).digest('hex').slice(0, 16)}.${extension}`);
    if (existsSync(path)) return path;
    const partial = `${path}.${process.pid}.part`;
    const result = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args, partial], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 120_000,
    });
    if (result.status !== 0) throw new Error(`ffmpeg failed making ${path}: ${result.stderr}`);
    renameSync(partial, path);
    return path;
  };
  return { video: make(videoArgs, 'h264'), audio: make(audioArgs, 'opus'), keyframeSeconds };
}

export interface ObsPosted {
  status: number;
  location: string;
  etag: string;
  links: string | null;
  postMs: number;
  /** Date.now() when the POST left. */
  postStartedAt: number;
}

export interface ObsStandIn {
  /** The 201 (rejects with the status and body of a refusal). */
  posted: Promise<ObsPosted>;
  /** ICE and DTLS up, tracks open: media flows from now on. */
  connected: Promise<{ connectedMs: number }>;
  /** Like OBS's Stop Streaming: closes the peer connection, then DELETE; resolves with the DELETE's status. */
  stop(): Promise<{
    status: number;
    stats: { videoFrames: number; keyframes: number; audioPackets: number; keyframeRequestsIgnored: number };
  }>;
  /** Like a crashed OBS: SIGKILL, nothing more is sent. */
  kill(): void;
  exited: Promise<number | null>;
  process: ChildProcess;
}

/** Starts the OBS stand-in (test/support/obs-whip-client.mjs) publishing to a WHIP endpoint URL. */
export function startObsStandIn(url: string, media: ObsMedia, token?: string): ObsStandIn {
  const args = [join(__dirname, 'obs-whip-client.mjs'), '--url', url, '--video', media.video, '--audio', media.audio];
  if (token) args.push('--token', token);
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const waiting = new Map<string, { resolve: (value: any) => void; reject: (error: Error) => void }>();
  const promiseFor = <T>(event: string) => new Promise<T>((resolve, reject) => waiting.set(event, { resolve, reject }));
  const posted = promiseFor<ObsPosted>('posted');
  const connected = promiseFor<{ connectedMs: number }>('connected');
  const deleted = promiseFor<any>('deleted');
  for (const p of [posted, connected, deleted]) p.catch(() => undefined);
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let event: any;
    try {
      event = JSON.parse(line);
    } catch {
      return;
    }
    if (event.event === 'refused' || event.event === 'error') {
      const error = Object.assign(new Error(`OBS stand-in ${event.event}: ${event.status ?? ''} ${event.body ?? event.message}`), event);
      for (const waiter of waiting.values()) waiter.reject(error);
      return;
    }
    waiting.get(event.event)?.resolve(event);
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      const error = new Error(`OBS stand-in exited (code ${code}) ${stderr.slice(-500)}`);
      for (const waiter of waiting.values()) waiter.reject(error);
      resolve(code);
    }),
  );
  return {
    posted,
    connected,
    stop: () => {
      child.stdin!.write('stop\n');
      return deleted;
    },
    kill: () => child.kill('SIGKILL'),
    exited,
    process: child,
  };
}
