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
import { dirname, join } from 'node:path';
import { publish, shutdown } from '../../bench/load-publisher.mjs';
import { RECIPES } from '../../bench/prepare-media.mjs';

const MEDIA_DIR = join(tmpdir(), 'webrtc-hls-test-media');
const SECONDS = 20;

/** Encodes a media file once per machine (cached by path in the temp directory). */
function ensure(path, args) {
  if (existsSync(path) && statSync(path).size > 0) return;
  mkdirSync(dirname(path), { recursive: true });
  const partial = `${path}.${process.pid}.part`;
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args, partial], {
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`ffmpeg could not make ${path} (status ${r.status})`);
  renameSync(partial, path); // atomic: concurrent publishers never read half a file
}

/**
 * The media directory the generator reads (its file names: video.h264, video.ivf, audio.opus) for a
 * keyframe interval of `gop` seconds: H264 Constrained Baseline or VP8, 640x360 30 fps, 1 Mbit/s, a
 * keyframe every `gop` seconds exactly (AUD and SPS/PPS before each H264 one), and the bench's Opus.
 */
function mediaDirFor(variant, gop) {
  const dir = join(MEDIA_DIR, `gop${gop}`);
  const frames = String(Math.round(gop * 30));
  const source = ['-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=30:duration=${SECONDS}`, '-vf', 'format=yuv420p'];
  ensure(join(dir, 'audio.opus'), RECIPES['audio.opus'](SECONDS));
  if (variant === 'h264') {
    ensure(join(dir, 'video.h264'), [
      ...source,
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-tune',
      'zerolatency',
      '-profile:v',
      'baseline',
      '-level:v',
      '3.1',
      '-g',
      frames,
      '-keyint_min',
      frames,
      '-sc_threshold',
      '0',
      '-bf',
      '0',
      '-b:v',
      '1000k',
      '-maxrate',
      '1000k',
      '-bufsize',
      '1000k',
      '-x264-params',
      'aud=1:repeat-headers=1',
      '-an',
      '-f',
      'h264',
    ]);
  }
  if (variant === 'vp8') {
    ensure(join(dir, 'video.ivf'), [
      ...source,
      '-c:v',
      'libvpx',
      '-deadline',
      'realtime',
      '-cpu-used',
      '8',
      '-g',
      frames,
      '-keyint_min',
      frames,
      '-auto-alt-ref',
      '0',
      '-lag-in-frames',
      '0',
      '-error-resilient',
      '1',
      '-b:v',
      '1000k',
      '-an',
      '-f',
      'ivf',
    ]);
  }
  return dir;
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
  const mediaDir = mediaDirFor(rest.variant ?? 'h264', gopSeconds);
  publisher = await publish({ connectTimeoutMs: 30_000, ...rest, mediaDir, log: (line) => process.stderr.write(`${line}\n`) });
  emit({ peerId: publisher.peerId });
  await publisher.connected;
  emit({ connected: true });
} catch (error) {
  emit({ error: String(error?.message ?? error) });
  await close(1);
}
