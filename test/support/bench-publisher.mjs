#!/usr/bin/env node
// One publisher of the bench's load generator (bench/load-publisher.mjs: socket.io signaling, ICE,
// DTLS and SRTP into mediasoup from node-datachannel, pre-encoded media) in a process of its own:
// Jest runs tests as CommonJS and cannot import the bench's ES modules, and a process of its own can
// also be frozen (SIGSTOP: a publisher that vanishes without leaving) or killed.
//
//   node test/support/bench-publisher.mjs '{"serverUrl":"http://127.0.0.1:4000","variant":"h264","gopSeconds":2,"answerKeyframeRequests":false}'
//
// stdout, one JSON object per line: {"peerId"} once signaling is up, {"connected":true} once ICE, DTLS
// and the producers are, {"error"} if it failed. SIGTERM (or stdin closing: the parent died) closes it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { publish, shutdown } from '../../bench/load-publisher.mjs';
import { RECIPES } from '../../bench/prepare-media.mjs';

const MEDIA_DIR = join(tmpdir(), 'webrtc-hls-test-media');
const SECONDS = 20;

/** Encodes a media file once per machine (cached by name in the temp directory). */
function ensure(name, args) {
  const path = join(MEDIA_DIR, name);
  if (existsSync(path) && statSync(path).size > 0) return path;
  mkdirSync(MEDIA_DIR, { recursive: true });
  const partial = `${path}.${process.pid}.part`;
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args, partial], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000 });
  if (r.status !== 0) throw new Error(`ffmpeg could not make ${name} (status ${r.status})`);
  renameSync(partial, path); // atomic: concurrent publishers never read half a file
  return path;
}

/**
 * H264 Constrained Baseline 640x360 30 fps, 1 Mbit/s, a keyframe every `gop` seconds exactly, AUD and
 * SPS/PPS before each (the bench's recipe at a smaller size and a chosen GOP).
 */
function h264(gop) {
  const frames = String(Math.round(gop * 30));
  return ensure(`video-gop${gop}.h264`, [
    '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=30:duration=${SECONDS}`, '-vf', 'format=yuv420p',
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-level:v', '3.1',
    '-g', frames, '-keyint_min', frames, '-sc_threshold', '0', '-bf', '0',
    '-b:v', '1000k', '-maxrate', '1000k', '-bufsize', '1000k', '-x264-params', 'aud=1:repeat-headers=1',
    '-an', '-f', 'h264',
  ]);
}

function vp8(gop) {
  const frames = String(Math.round(gop * 30));
  return ensure(`video-gop${gop}.ivf`, [
    '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=30:duration=${SECONDS}`, '-vf', 'format=yuv420p',
    '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-g', frames, '-keyint_min', frames,
    '-auto-alt-ref', '0', '-lag-in-frames', '0', '-error-resilient', '1', '-b:v', '1000k',
    '-an', '-f', 'ivf',
  ]);
}

const emit = (object) => process.stdout.write(`${JSON.stringify(object)}\n`);

const options = JSON.parse(process.argv[2] ?? '{}');
const { gopSeconds = 1, ...rest } = options;
let publisher;
const close = async (code) => {
  await publisher?.close().catch(() => undefined);
  shutdown();
  process.exit(code);
};
process.on('SIGTERM', () => void close(0));
process.stdin.on('end', () => void close(0));
process.stdin.resume();

try {
  const variant = rest.variant ?? 'h264';
  const media = { opus: ensure('audio.opus', RECIPES['audio.opus'](SECONDS)) };
  if (variant === 'h264') media.h264 = h264(gopSeconds);
  if (variant === 'vp8') media.vp8 = vp8(gopSeconds);
  publisher = await publish({ connectTimeoutMs: 30_000, ...rest, media, log: (line) => process.stderr.write(`${line}\n`) });
  emit({ peerId: publisher.peerId });
  await publisher.connected;
  emit({ connected: true });
} catch (error) {
  emit({ error: String(error?.message ?? error) });
  await close(1);
}
