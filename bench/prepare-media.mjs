#!/usr/bin/env node
// Pre-encodes the load generator's media ONCE with FFmpeg, so publishers only packetize and encrypt:
//   video.h264  H264 Constrained Baseline 3.1 (profile-level-id 42e01f), 1280x720 30 fps, ~2.5 Mbit/s CBR,
//               GOP 30 frames (1 s), no B-frames, AUD + SPS/PPS before every IDR (Annex B)
//   video.ivf   VP8 1280x720 30 fps ~2.5 Mbit/s, keyframe every 30 frames, no alt-ref (one visible frame each)
//   audio.opus  Opus 48 kHz stereo 64 kbit/s, 20 ms frames (Ogg)
//   sim-r0.h264, sim-r1.h264, sim-r2.h264   the 'browser' variant's simulcast encodings: H264 CB 3.1,
//               320x180 / 640x360 / 1280x720 at 30 fps, 0.1 / 0.3 / 0.9 Mbit/s (VBV, no filler),
//               one IDR per 20 s file: the publisher sends another only when asked (PLI/FIR)
// Usage: node bench/prepare-media.mjs [--out DIR] [--seconds N] [--force]
// Default DIR is bench/media (git-ignored). Skips files whose recorded settings are unchanged.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEFAULT_MEDIA_DIR = resolve(dirname(fileURLToPath(import.meta.url)), 'media');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

// prettier-ignore
const VIDEO_SRC = (seconds, size = '1280x720') => [
  '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=30:duration=${seconds}`,
  // Temporal noise keeps x264/libvpx at the target rate (a clean test pattern would need far less).
  '-vf', 'noise=alls=12:allf=t,format=yuv420p',
];

/**
 * A simulcast encoding as Chromium's H264 encoder makes it, but with keyframes decided by the sender:
 * the file has one IDR (its first frame); the publisher answers a keyframe request by jumping to it
 * at once (RTP time continues), so every keyframe but one per loop is one that was asked for.
 */
// prettier-ignore
const SIMULCAST = (size, kbps) => (s) => [
  ...VIDEO_SRC(s, size),
  '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency',
  '-profile:v', 'baseline', '-level:v', '3.1',
  '-g', String(30 * s), '-keyint_min', String(30 * s), '-sc_threshold', '0', '-bf', '0',
  '-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${kbps}k`,
  '-x264-params', 'aud=1:repeat-headers=1:force-cfr=1',
  '-an', '-f', 'h264',
];

// prettier-ignore
export const RECIPES = {
  'video.h264': (s) => [
    ...VIDEO_SRC(s),
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency',
    '-profile:v', 'baseline', '-level:v', '3.1',
    '-g', '30', '-keyint_min', '30', '-sc_threshold', '0', '-bf', '0',
    '-b:v', '2500k', '-maxrate', '2500k', '-bufsize', '2500k',
    '-x264-params', 'aud=1:repeat-headers=1:nal-hrd=cbr:force-cfr=1',
    '-an', '-f', 'h264',
  ],
  'video.ivf': (s) => [
    ...VIDEO_SRC(s),
    '-c:v', 'libvpx', '-deadline', 'good', '-cpu-used', '4', '-threads', '2',
    '-g', '30', '-keyint_min', '30', '-auto-alt-ref', '0', '-lag-in-frames', '0', '-error-resilient', '1',
    '-b:v', '2500k', '-minrate', '2500k', '-maxrate', '2500k', '-bufsize', '2500k', '-undershoot-pct', '95',
    '-an', '-f', 'ivf',
  ],
  'sim-r0.h264': SIMULCAST('320x180', 100),
  'sim-r1.h264': SIMULCAST('640x360', 300),
  'sim-r2.h264': SIMULCAST('1280x720', 900),
  'audio.opus': (s) => [
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${s}`,
    '-f', 'lavfi', '-i', `sine=frequency=660:sample_rate=48000:duration=${s}`,
    '-filter_complex', '[0:a][1:a]join=inputs=2:channel_layout=stereo[a]', '-map', '[a]',
    '-c:a', 'libopus', '-b:a', '64k', '-vbr', 'off', '-ar', '48000', '-ac', '2', '-frame_duration', '20', '-application', 'audio',
    '-vn', '-f', 'ogg',
  ],
};

/** `only`: the file names to make (default all); a smoke run needs no VP8, the slowest to encode. Returns the directory. */
export function prepareMedia({ outDir = DEFAULT_MEDIA_DIR, seconds = 20, force = false, ffmpeg = 'ffmpeg', log = console.log, only } = {}) {
  mkdirSync(outDir, { recursive: true });
  const manifestPath = join(outDir, 'manifest.json');
  const manifest = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : {};
  for (const [file, recipe] of Object.entries(RECIPES)) {
    if (only && !only.includes(file)) continue;
    const args = recipe(seconds);
    const key = JSON.stringify(args);
    const path = join(outDir, file);
    if (!force && manifest[file] === key && existsSync(path) && statSync(path).size > 0) {
      log(`[prepare-media] ${file}: up to date`);
      continue;
    }
    const t0 = Date.now();
    const r = spawnSync(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', ...args, path], {
      stdio: ['ignore', 'inherit', 'inherit'],
      timeout: 600_000,
    });
    if (r.status !== 0) throw new Error(`ffmpeg failed for ${file} (status ${r.status}${r.error ? `, ${r.error.message}` : ''})`);
    manifest[file] = key;
    writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
    const kbps = ((statSync(path).size * 8) / seconds / 1000).toFixed(0);
    log(`[prepare-media] ${file}: ${seconds} s, ${kbps} kbit/s, encoded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  return outDir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  prepareMedia({
    outDir: resolve(arg('--out', DEFAULT_MEDIA_DIR)),
    seconds: Number(arg('--seconds', 20)),
    force: process.argv.includes('--force'),
  });
}
