#!/usr/bin/env node
// A stand-in for OBS Studio's WHIP output (plugins/obs-webrtc/whip-output.cpp), as a process of its
// own, so a test can kill it like a crashed OBS. Built on libdatachannel (node-datachannel), as OBS:
//   - the peer connection and tracks of src/ingest/whip/fixtures/obs-like-peer.cjs (Opus on mid 0,
//     H264 on mid 1, one SSRC each), with OBS's media handler chain: an H264RtpPacketizer with
//     start-code separators, so every encoded frame goes out as one RTP packet per NAL unit (SPS, PPS
//     and IDR apart, large ones as FU-A), then the SR reporter and the NACK responder;
//   - no trickle: the offer is POSTed as libdatachannel wrote it, with its host candidates;
//   - media starts when the peer connection is connected (OBS starts its encoders then), the first
//     video frame a keyframe; keyframes come only from the encoder's interval (the file's GOP):
//     PLI/FIR are counted and ignored, as OBS does;
//   - stop: close the peer connection, then DELETE the resource (Authorization as for the POST).
//
//   node test/support/obs-whip-client.mjs --url http://127.0.0.1:4000/whip/studio [--token T] \
//       --video video.h264 --audio audio.opus
// stdout: one JSON object per line: {event:'posted', status, location, etag, links, postMs} or
// {event:'refused', status, body} (then exit 3); {event:'connected', connectedMs}; on "stop\n" from
// stdin: {event:'deleted', status, stats} and exit 0. Errors: {event:'error', message}, exit 1.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadTrack, opusSamples } from '../../bench/media-source.mjs';

const require = createRequire(import.meta.url);
const ndc = require('node-datachannel');
const { createObsLikePeer } = require('../../src/ingest/whip/fixtures/obs-like-peer.cjs');

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    token: { type: 'string' },
    video: { type: 'string' },
    audio: { type: 'string' },
    fps: { type: 'string', default: '30' },
  },
});
const emit = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
const started = performance.now();
let peer;
let timer;
let closed = false;

function fail(message) {
  emit({ event: 'error', message });
  shutdown(1);
}

function shutdown(code) {
  clearInterval(timer);
  if (peer && !closed) {
    closed = true;
    try {
      peer.close();
    } catch {
      // already closed
    }
  }
  ndc.cleanup();
  process.exit(code);
}

/** Annex B access units of an AUD-delimited H264 file, each without its AUD (x264's AUD only marks where frames split). */
function annexBFrames(data) {
  const starts = [];
  for (let i = 0; i + 3 < data.length; i++) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      starts.push(i + 3);
      i += 2;
    }
  }
  const frames = [];
  let current = [];
  const flush = () => {
    if (current.length)
      frames.push({
        data: Buffer.concat(current.flatMap((nal) => [Buffer.from([0, 0, 0, 1]), nal])),
        key: current.some((n) => (n[0] & 0x1f) === 5),
      });
    current = [];
  };
  starts.forEach((start, k) => {
    let end = k + 1 < starts.length ? starts[k + 1] - 3 : data.length;
    while (end > start && data[end - 1] === 0) end--;
    const nal = data.subarray(start, end);
    if ((nal[0] & 0x1f) === 9) flush();
    else current.push(nal);
  });
  flush();
  if (!frames[0]?.key) throw new Error('the video file must start with a keyframe');
  return frames;
}

/** Whether an incoming RTCP (compound) packet asks for a keyframe: PLI (PSFB FMT 1) or FIR (FMT 4). */
function keyframeRequests(buffer) {
  let count = 0;
  for (let off = 0; off + 4 <= buffer.length;) {
    const length = (buffer.readUInt16BE(off + 2) + 1) * 4;
    if ((buffer[off] & 0xc0) !== 0x80) break;
    if (buffer[off + 1] === 206 && [1, 4].includes(buffer[off] & 0x1f)) count++;
    off += length;
  }
  return count;
}

async function main() {
  const video = annexBFrames(readFileSync(args.video));
  const opus = loadTrack('opus', args.audio).frames.map((f) => f.payloads[0]);
  const fps = Number(args.fps);

  peer = createObsLikePeer(ndc, { bindAddress: '127.0.0.1', packetize: true });
  const stats = { videoFrames: 0, keyframes: 0, audioPackets: 0, keyframeRequestsIgnored: 0 };
  peer.video.track.onMessage((message) => {
    stats.keyframeRequestsIgnored += keyframeRequests(message);
  });

  const headers = { 'Content-Type': 'application/sdp' };
  if (args.token) headers.Authorization = `Bearer ${args.token}`;
  const postStartedAt = Date.now();
  const response = await fetch(args.url, { method: 'POST', headers, body: peer.offer });
  const body = await response.text();
  if (response.status !== 201) {
    emit({ event: 'refused', status: response.status, body });
    shutdown(3);
    return;
  }
  const location = new URL(response.headers.get('location'), args.url).toString();
  emit({
    event: 'posted',
    status: response.status,
    location,
    etag: response.headers.get('etag'),
    links: response.headers.get('link'),
    postMs: Math.round(performance.now() - started),
    postStartedAt,
  });
  peer.pc.setRemoteDescription(body, 'answer');

  await new Promise((resolve, reject) => {
    const check = setInterval(() => {
      const state = peer.pc.state();
      if (state === 'connected' && peer.audio.track.isOpen() && peer.video.track.isOpen()) {
        clearInterval(check);
        resolve();
      } else if (state === 'failed' || state === 'closed') {
        clearInterval(check);
        reject(new Error(`peer connection ${state}`));
      }
    }, 5);
  });
  emit({ event: 'connected', connectedMs: Math.round(performance.now() - started) });

  // Media as an encoder makes it: frame n due at t0 + n / fps, audio packet n at t0 + its samples / 48 kHz.
  const t0 = performance.now();
  let videoIndex = 0;
  let audioIndex = 0;
  let audioSamples = 0;
  const frameTicks = Math.round(90000 / fps);
  let lastSamples = 0;
  timer = setInterval(() => {
    if (closed) return;
    const now = performance.now();
    try {
      while (t0 + (videoIndex * 1000) / fps <= now) {
        const frame = video[videoIndex % video.length];
        if (videoIndex > 0) peer.video.config.timestamp = (peer.video.config.timestamp + frameTicks) >>> 0;
        peer.video.track.sendMessageBinary(frame.data);
        stats.videoFrames++;
        if (frame.key) stats.keyframes++;
        videoIndex++;
      }
      while (t0 + (audioSamples * 1000) / 48000 <= now) {
        const packet = opus[audioIndex % opus.length];
        peer.audio.config.timestamp = (peer.audio.config.timestamp + lastSamples) >>> 0;
        peer.audio.track.sendMessageBinary(packet);
        stats.audioPackets++;
        lastSamples = opusSamples(packet);
        audioSamples += lastSamples;
        audioIndex++;
      }
    } catch (error) {
      fail(`sending: ${error.message}`);
    }
  }, 5);

  process.stdin.setEncoding('utf8');
  process.stdin.on('data', async (text) => {
    if (!text.includes('stop')) return;
    clearInterval(timer);
    closed = true;
    peer.close();
    const deleteHeaders = args.token ? { Authorization: `Bearer ${args.token}` } : {};
    const deleted = await fetch(location, { method: 'DELETE', headers: deleteHeaders }).catch((error) => ({ status: 0, error }));
    emit({ event: 'deleted', status: deleted.status, stats });
    ndc.cleanup();
    process.exit(0);
  });
}

main().catch((error) => fail(error.message));
