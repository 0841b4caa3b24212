// Load-generator publisher: one real WebRTC publisher (socket.io signaling, ICE, DTLS, SRTP into
// mediasoup, through node-datachannel = libdatachannel) per call, sending media that
// prepare-media.mjs encoded ONCE: publishers only put an RTP header on shared, pre-packetized
// payloads; libdatachannel SRTP-protects them. See LOAD-GENERATOR.md.
//
//   import { publish, shutdown } from './bench/load-publisher.mjs';
//   const p = await publish({ serverUrl: 'http://127.0.0.1:4100', variant: 'h264', onFailure: (f) => ... });
//   await p.connected;   // ICE + DTLS connected and every producer created, or rejects
//   p.stats();           // ICE/DTLS state, packets sent per RTP stream, mediasoup's RTCP receiver reports
//   await p.close();
//   shutdown();          // once, at the end (libdatachannel keeps the process alive otherwise)
//
// Variants: 'h264' (720p30 2.5 Mbit/s, 1 s GOP, + Opus), 'vp8', 'audio', 'browser-top' (the browser
// variant's top encoding alone), and 'browser': like Chromium
// with simulcast, three H264 encodings r0/r1/r2 (180p/360p/720p at 0.1/0.3/0.9 Mbit/s, MID and RID
// header extensions) whose only keyframes are the ones asked for (PLI/FIR) and one per 20 s loop.
//
// A publisher that fails after it connected (its peer connection closed under it, a send threw,
// signaling dropped) stops sending, closes, and reports once through onFailure; the others go on.
// mediasoup speaks ORTC, libdatachannel SDP: buildAnswer() writes the answer mediasoup would give
// (ICE-lite, DTLS server) from createWebRtcTransport's parameters; the producers' rtpParameters are ours.
import { createRequire } from 'node:module';
import { randomBytes, randomInt } from 'node:crypto';
import { join } from 'node:path';
import { loadTrack, withVp8PictureId } from './media-source.mjs';
import { DEFAULT_MEDIA_DIR } from './prepare-media.mjs';

const require = createRequire(import.meta.url);
const { io } = require('socket.io-client');
let ndc = null;
const loadNdc = () => (ndc ??= require('node-datachannel'));

const VIDEO_FEEDBACK = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }];

/** What we offer; each must match one of the router's codecs (src/mediasoup/media-codecs.ts). */
export const CODECS = {
  h264: {
    mimeType: 'video/H264',
    clockRate: 90000,
    payloadType: 102,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
    rtcpFeedback: VIDEO_FEEDBACK,
  },
  vp8: { mimeType: 'video/VP8', clockRate: 90000, payloadType: 96, parameters: {}, rtcpFeedback: VIDEO_FEEDBACK },
  opus: {
    mimeType: 'audio/opus',
    clockRate: 48000,
    channels: 2,
    payloadType: 111,
    parameters: { minptime: 10, useinbandfec: 1, 'sprop-stereo': 1 },
    rtcpFeedback: [],
  },
};

/** Chromium's header extension ids (src/ingest/whip/fixtures/chromium-h264-simulcast.sdp). */
const EXT = {
  mid: { id: 4, uri: 'urn:ietf:params:rtp-hdrext:sdes:mid' },
  rid: { id: 10, uri: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id' },
};

/**
 * Per variant, the tracks and their RTP streams: media file (in the media dir) and, for simulcast,
 * the rid and encoding parameters that mediasoup-client would send for Chromium (test/browser/harness.ts).
 */
export const VARIANTS = {
  h264: [
    { kind: 'video', codec: 'h264', streams: [{ file: 'video.h264' }] },
    { kind: 'audio', codec: 'opus', streams: [{ file: 'audio.opus' }] },
  ],
  vp8: [
    { kind: 'video', codec: 'vp8', streams: [{ file: 'video.ivf' }] },
    { kind: 'audio', codec: 'opus', streams: [{ file: 'audio.opus' }] },
  ],
  audio: [{ kind: 'audio', codec: 'opus', streams: [{ file: 'audio.opus' }] }],
  browser: [
    {
      kind: 'video',
      codec: 'h264',
      simulcast: true,
      streams: [
        { file: 'sim-r0.h264', rid: 'r0', encoding: { maxBitrate: 100_000, scaleResolutionDownBy: 4, scalabilityMode: 'S1T3' } },
        { file: 'sim-r1.h264', rid: 'r1', encoding: { maxBitrate: 300_000, scaleResolutionDownBy: 2, scalabilityMode: 'S1T3' } },
        { file: 'sim-r2.h264', rid: 'r2', encoding: { maxBitrate: 900_000, scaleResolutionDownBy: 1, scalabilityMode: 'S1T3' } },
      ],
    },
    { kind: 'audio', codec: 'opus', streams: [{ file: 'audio.opus' }] },
  ],
  // The browser variant's top encoding alone (one rendition): the simulcast variant's CPU less this
  // one's is what the two lower copied renditions cost.
  'browser-top': [
    { kind: 'video', codec: 'h264', streams: [{ file: 'sim-r2.h264' }] },
    { kind: 'audio', codec: 'opus', streams: [{ file: 'audio.opus' }] },
  ],
};

/** The media files a variant needs (names in the media dir). */
export const filesOf = (variant) => VARIANTS[variant].flatMap((t) => t.streams.map((s) => s.file));

const fmtp = (parameters) =>
  Object.entries(parameters)
    .map(([k, v]) => `${k}=${v}`)
    .join(';');

// ---------------------------------------------------------------- shared pacer

/** @type {Set<ReturnType<typeof newSendTrack>>} */
const active = new Set();
let timer = null;
/**
 * One timer for every RTP stream of the process, armed for the earliest moment any stream has work
 * (a frame due, or pacing budget for a queued packet), but never more often than every MIN_TICK_MS.
 * Wake-ups are what costs at low N on this VM (~0.5 ms of CPU each), so N publishers share them.
 * Packets leave up to 10 ms after their frame's time, about a browser's own jitter.
 */
const MIN_TICK_MS = 10;
const MAX_TICK_MS = 50;
/** A stream this many frames late (event loop stalled) skips ahead instead of bursting them all. */
const MAX_CATCH_UP_FRAMES = 8;
/**
 * Pacing like libwebrtc's pacer: packets leave at PACING_FACTOR x the stream's average packet rate,
 * at most MAX_BURST back to back. Unpaced, keyframes of several publishers land at once in the ONE
 * UDP socket of mediasoup's WebRtcServer and are dropped on loopback, which a browser would not cause.
 */
const PACING_FACTOR = 2.5;
const MIN_PACE_PPS = 200;
const MAX_BURST = 12;
/** At most GLOBAL_BURST packets leave per wake-up across ALL streams of the process, the rest after DRAIN_TICK_MS. */
const GLOBAL_BURST = 48;
const DRAIN_TICK_MS = 2;
/** RTCP sender reports every 0.5-1.5 s per RTP stream (RFC 3550 6.3.1 randomisation), as libwebrtc does. */
const SR_INTERVAL_MS = 1000;
let tickBudget = GLOBAL_BURST;
let rotation = 0;

function tick() {
  timer = null;
  const now = performance.now();
  let next = now + MAX_TICK_MS;
  tickBudget = GLOBAL_BURST;
  const list = [...active];
  const first = rotation++ % Math.max(1, list.length); // who goes first changes every wake-up
  for (let i = 0; i < list.length; i++) {
    const t = list[(first + i) % list.length];
    // One stream's failure (its track closed under it) must not stop the others: it leaves the pacer.
    try {
      t.pump(now);
    } catch (error) {
      removeFromPacer(t);
      t.onError(error);
      continue;
    }
    const wake = t.nextWake(now);
    if (wake < next) next = wake;
  }
  const minDelay = tickBudget <= 0 ? DRAIN_TICK_MS : MIN_TICK_MS;
  if (active.size > 0 && !timer) timer = setTimeout(tick, Math.max(minDelay, next - performance.now()));
}

function addToPacer(t) {
  active.add(t);
  if (!timer) timer = setTimeout(tick, 0);
}

function removeFromPacer(t) {
  active.delete(t);
  if (active.size === 0 && timer) {
    clearTimeout(timer);
    timer = null;
  }
}

/**
 * One RTP stream of a publisher: sequence numbers, timestamps (random bases), VP8 picture ids,
 * pacing queue, sender reports. `sink` is the stack's way out: send(seq, ts, marker, payload) and
 * senderReport(rtpTs, perfNow, packets, octets). `onError` is called once if a send throws.
 */
function newSendTrack(media, sink, startIndex, onError, { pacing = true } = {}) {
  const frames = media.frames;
  const msPerTick = 1000 / media.clockRate;
  const startTs = frames[startIndex].ts;
  const loopSeconds = media.loopTicks / media.clockRate;
  const packetsPerLoop = frames.reduce((n, f) => n + f.payloads.length, 0);
  const pacePerMs = Math.max(MIN_PACE_PPS, (PACING_FACTOR * packetsPerLoop) / loopSeconds) / 1000;
  const maxBacklog = Math.max(200, Math.round(pacePerMs * 1000)); // ~1 s of packets
  let index = startIndex;
  let loopTicks = 0; // ticks added by completed loops
  // Ticks added by keyframe jumps: skipping ahead to a GOP start keeps the timeline continuous.
  let jumpTicks = 0;
  /** Why the next frame must be a keyframe: a PLI/FIR ('request'), or frames skipped or cut ('resync'). */
  let keyframeWanted;
  let seq = randomInt(0, 0x8000);
  const vp8 = media.codec === 'vp8';
  let pictureId = randomInt(0, 0x8000);
  const tsBase = randomInt(0, 0x7fffffff);
  let t0 = 0;
  let lastPump = 0;
  let nextSr = 0;
  let budget = MAX_BURST;
  // Pacing queue as parallel arrays (no per-packet objects): payload, RTP timestamp, marker.
  let qPayload = [];
  let qTs = [];
  let qMarker = [];
  let qHead = 0;
  const stats = { frames: 0, packets: 0, payloadBytes: 0, skippedFrames: 0, droppedBacklog: 0, keyframesOnRequest: 0, keyframes: 0 };
  const due = () => t0 + (loopTicks + jumpTicks + frames[index].ts - startTs) * msPerTick;
  /** The next frame sent becomes the next GOP's keyframe, at the time the skipped frame was due. */
  const jumpToKeyframe = () => {
    if (frames[index].key) return;
    const virtual = loopTicks + jumpTicks + frames[index].ts;
    const next = media.keyIndexes.find((k) => k > index);
    if (next === undefined) {
      index = media.keyIndexes[0];
      loopTicks += media.loopTicks;
    } else {
      index = next;
    }
    jumpTicks = virtual - loopTicks - frames[index].ts;
  };
  const advance = () => {
    index++;
    if (index === frames.length) {
      index = 0;
      loopTicks += media.loopTicks;
    }
  };
  return {
    stats,
    onError,
    start() {
      t0 = lastPump = performance.now();
      nextSr = t0 + 200; // the first report soon, as a browser does
      addToPacer(this);
    },
    stop() {
      removeFromPacer(this);
    },
    /** A PLI/FIR arrived: like an encoder, make the next frame a keyframe (here: skip to a GOP start). */
    requestKeyframe() {
      keyframeWanted = 'request';
    },
    /** When this stream next has something to do (performance.now() time). */
    nextWake(now) {
      if (qHead < qPayload.length) return !pacing || budget >= 1 ? now : now + (1 - budget) / pacePerMs;
      return Math.min(due(), nextSr);
    },
    pump(now) {
      // 1. Frames whose time has come join the queue.
      let queued = 0;
      while (due() <= now) {
        if (queued === MAX_CATCH_UP_FRAMES) {
          // Fell behind (stalled loop): drop late frames rather than burst; bounded by one loop.
          for (let i = 0; i < frames.length && due() <= now; i++) {
            advance();
            stats.skippedFrames++;
          }
          // Like an encoder that never encoded the late frames, go on from a keyframe: an inter frame
          // after frames never sent refers to pictures the decoder lacks (the soak saw Chromium's player
          // fail on one, PIPELINE_ERROR_DECODE). Audio frames are all keyframes: no change there.
          keyframeWanted = 'resync';
          break;
        }
        if (keyframeWanted) {
          if (keyframeWanted === 'request' && !frames[index].key) stats.keyframesOnRequest++;
          keyframeWanted = undefined;
          jumpToKeyframe();
        }
        const frame = frames[index];
        if (frame.key) stats.keyframes++;
        const ts = (tsBase + loopTicks + jumpTicks + frame.ts - startTs) >>> 0;
        const last = frame.payloads.length - 1;
        for (let i = 0; i <= last; i++) {
          qPayload.push(vp8 ? withVp8PictureId(frame.payloads[i], pictureId) : frame.payloads[i]);
          qTs.push(ts);
          qMarker.push(i === last);
        }
        pictureId = (pictureId + 1) & 0x7fff;
        stats.frames++;
        queued++;
        advance();
      }
      if (qPayload.length - qHead > maxBacklog) {
        // CPU-starved: a second of backlog would only grow; drop it and go on from a keyframe.
        stats.droppedBacklog += qPayload.length - qHead;
        qHead = qPayload.length;
        keyframeWanted = 'resync'; // frames were cut: the next one must not refer to them
      }
      // 2. The pacer lets out what the elapsed time allows.
      budget = pacing ? Math.min(budget + (now - lastPump) * pacePerMs, MAX_BURST) : Infinity;
      lastPump = now;
      while (qHead < qPayload.length && budget >= 1 && tickBudget > 0) {
        const payload = qPayload[qHead];
        sink.send(seq, qTs[qHead], qMarker[qHead], payload);
        qPayload[qHead] = undefined;
        qHead++;
        seq = (seq + 1) & 0xffff;
        budget--;
        tickBudget--;
        stats.packets++;
        stats.payloadBytes += payload.length;
      }
      if (qHead === qPayload.length) {
        qPayload = [];
        qTs = [];
        qMarker = [];
        qHead = 0;
      } else if (qHead > 4096) {
        qPayload = qPayload.slice(qHead);
        qTs = qTs.slice(qHead);
        qMarker = qMarker.slice(qHead);
        qHead = 0;
      }
      // 3. Sender report: RTP time is linear in wall time by construction (frame due times), so the
      // pair (now, its RTP time) is exact whatever the pacing delay of the packets.
      if (now >= nextSr && stats.packets > 0) {
        sink.senderReport((tsBase + Math.round((now - t0) / msPerTick)) >>> 0, now, stats.packets, stats.payloadBytes);
        nextSr = now + SR_INTERVAL_MS * (0.5 + Math.random());
      }
    },
  };
}

// ---------------------------------------------------------------- RTCP

/** RTCP packets of a compound packet, with type, FMT/count and bounds. */
function* rtcpPackets(buf) {
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = (buf.readUInt16BE(off + 2) + 1) * 4;
    if ((buf[off] & 0xc0) !== 0x80 || off + len > buf.length) return;
    yield { off, len, pt: buf[off + 1], fmt: buf[off] & 0x1f };
    off += len;
  }
}

/** Report blocks about `ssrc` in a (compound) RTCP packet: SR (200) and RR (201). */
export function reportBlocksFor(buf, ssrc) {
  const out = [];
  for (const { off, len, pt, fmt: count } of rtcpPackets(buf)) {
    if (pt !== 200 && pt !== 201) continue;
    let b = off + (pt === 200 ? 28 : 8);
    for (let i = 0; i < count && b + 24 <= off + len; i++, b += 24) {
      if (buf.readUInt32BE(b) !== ssrc) continue;
      const lost = buf.readUIntBE(b + 5, 3);
      out.push({
        packetsLost: lost & 0x800000 ? lost - 0x1000000 : lost,
        highestSequence: buf.readUInt32BE(b + 8),
        jitter: buf.readUInt32BE(b + 12),
      });
    }
  }
  return out;
}

/** Whether a (compound) RTCP packet asks `ssrc` for a keyframe: PSFB (206) PLI (FMT 1) or FIR (FMT 4). */
export function asksForKeyframe(buf, ssrc) {
  for (const { off, len, pt, fmt } of rtcpPackets(buf)) {
    if (pt !== 206 || off + 12 > buf.length) continue;
    if (fmt === 1 && buf.readUInt32BE(off + 8) === ssrc) return true;
    if (fmt === 4) for (let e = off + 12; e + 8 <= off + len; e += 8) if (buf.readUInt32BE(e) === ssrc) return true;
  }
  return false;
}

/** Sequence numbers a Generic NACK (RTPFB 205, FMT 1; RFC 4585 6.2.1) asks `ssrc` to send again. */
export function nackedSequences(buf, ssrc) {
  const out = [];
  for (const { off, len, pt, fmt } of rtcpPackets(buf)) {
    if (pt !== 205 || fmt !== 1 || off + 12 > buf.length || buf.readUInt32BE(off + 8) !== ssrc) continue;
    for (let e = off + 12; e + 4 <= off + len; e += 4) {
      const pid = buf.readUInt16BE(e);
      const blp = buf.readUInt16BE(e + 2);
      out.push(pid);
      for (let bit = 0; bit < 16; bit++) if (blp & (1 << bit)) out.push((pid + bit + 1) & 0xffff);
    }
  }
  return out;
}

/** RTCP sender-report NTP time (RFC 3550 4) of a performance.now() instant. */
const NTP_EPOCH_OFFSET_MS = 2_208_988_800_000;
function ntpAt(perfNow) {
  const ms = performance.timeOrigin + perfNow + NTP_EPOCH_OFFSET_MS;
  const sec = Math.floor(ms / 1000);
  return { sec, frac: Math.floor(((ms - sec * 1000) / 1000) * 2 ** 32) >>> 0 };
}

/** Compound RTCP: a sender report (no report blocks) and an SDES with the CNAME (RFC 3550 6.4.1, 6.5). */
export function senderReport({ ssrc, cname, rtpTs, perfNow, packets, octets }) {
  const name = Buffer.from(cname);
  const sdesLen = Math.ceil((4 + 2 + name.length + 1) / 4) * 4; // chunk: SSRC, CNAME item, END, padding
  const b = Buffer.alloc(28 + 4 + sdesLen);
  const { sec, frac } = ntpAt(perfNow);
  b[0] = 0x80;
  b[1] = 200;
  b.writeUInt16BE(6, 2);
  b.writeUInt32BE(ssrc, 4);
  b.writeUInt32BE(sec >>> 0, 8);
  b.writeUInt32BE(frac, 12);
  b.writeUInt32BE(rtpTs >>> 0, 16);
  b.writeUInt32BE(packets >>> 0, 20);
  b.writeUInt32BE(octets >>> 0, 24);
  b[28] = 0x81;
  b[29] = 202;
  b.writeUInt16BE((4 + sdesLen) / 4 - 1, 30);
  b.writeUInt32BE(ssrc, 32);
  b[36] = 1; // CNAME
  b[37] = name.length;
  name.copy(b, 38);
  return b;
}

/** RTP one-byte header extension block (RFC 8285 4.2) with the given (id, text) elements, padded to 32 bits. */
export function headerExtension(elements) {
  const body = Buffer.concat(
    elements.map(([id, text]) => Buffer.concat([Buffer.from([(id << 4) | (Buffer.byteLength(text) - 1)]), Buffer.from(text)])),
  );
  const words = Math.ceil(body.length / 4);
  const b = Buffer.alloc(4 + words * 4);
  b.writeUInt16BE(0xbede, 0);
  b.writeUInt16BE(words, 2);
  body.copy(b, 4);
  return b;
}

// ---------------------------------------------------------------- WebRTC: libdatachannel

const RING = 512; // packets kept per RTP stream for NACKs (~2 s at 2.5 Mbit/s)

/**
 * node-datachannel peer connection with one track per kind. We write whole RTP packets (our header,
 * optional MID/RID extension, the shared payload) into the track and libdatachannel protects them;
 * sender reports and NACK answers are ours, per RTP stream, so that three simulcast SSRCs in one
 * track each get their own (libdatachannel's RtcpSrReporter and RtcpNackResponder know one SSRC).
 */
function rtcStack(tracks, onRtcpError) {
  const { PeerConnection, Video, Audio } = loadNdc();
  const cname = randomBytes(6).toString('hex');
  const msid = randomBytes(6).toString('hex');
  const pc = new PeerConnection('bench', {
    iceServers: [], // host candidates only, bound to loopback
    bindAddress: '127.0.0.1',
    enableIceTcp: false,
    disableAutoNegotiation: true,
  });
  const out = tracks.map((t, i) => {
    const mid = String(i);
    const media = t.kind === 'video' ? new Video(mid, 'SendOnly') : new Audio(mid, 'SendOnly');
    const c = t.codec;
    if (t.codecName === 'h264') media.addH264Codec(c.payloadType, fmtp(c.parameters));
    else if (t.codecName === 'vp8') media.addVP8Codec(c.payloadType);
    else media.addOpusCodec(c.payloadType, fmtp(c.parameters));
    const streams = t.streams.map((s) => {
      const ssrc = randomInt(1, 2 ** 32 - 1);
      media.addSSRC(ssrc, cname, msid, `${t.kind}-${msid}`);
      return {
        ...s,
        ssrc,
        key: s.rid ? `${t.kind}-${s.rid}` : t.kind,
        ext: t.simulcast
          ? headerExtension([
              [EXT.mid.id, mid],
              [EXT.rid.id, s.rid],
            ])
          : undefined,
        ring: new Array(RING),
        lastReport: undefined,
        retransmitted: 0,
        onKeyframeRequest: undefined,
      };
    });
    const track = pc.addTrack(media);
    const entry = { ...t, mid, cname, track, streams };
    track.onMessage((msg) => {
      // Incoming RTCP: mediasoup's receiver reports, keyframe requests (PLI/FIR) and NACKs per SSRC.
      // A malformed packet must not throw into libdatachannel's callback (it would end the process).
      try {
        for (const s of streams) {
          for (const r of reportBlocksFor(msg, s.ssrc)) s.lastReport = r;
          if (t.kind === 'video' && asksForKeyframe(msg, s.ssrc)) {
            s.keyframeRequests = (s.keyframeRequests ?? 0) + 1;
            s.onKeyframeRequest?.();
          }
          for (const seq of nackedSequences(msg, s.ssrc)) {
            const packet = s.ring[seq % RING];
            if (packet && packet.readUInt16BE(2) === seq && track.isOpen()) {
              track.sendMessageBinary(packet);
              s.retransmitted++;
            }
          }
        }
      } catch (error) {
        onRtcpError(error);
      }
    });
    return entry;
  });
  return {
    pc,
    tracks: out,
    async offer() {
      pc.setLocalDescription('offer');
      // With disableAutoNegotiation the description is produced synchronously; gathering may go on.
      for (let i = 0; i < 100 && !pc.localDescription(); i++) await new Promise((r) => setTimeout(r, 10));
      const d = pc.localDescription();
      if (!d) throw new Error('libdatachannel produced no local description');
      return d.sdp;
    },
    answer(sdp) {
      pc.setRemoteDescription(sdp, 'answer');
    },
    /** Resolves when the connection is up and every track open (SRTP keyed); rejects on failed/closed. */
    connected() {
      return new Promise((resolve, reject) => {
        const check = () => {
          const s = pc.state();
          if (s === 'connected' && out.every((t) => t.track.isOpen())) return resolve();
          if (s === 'failed' || s === 'closed') return reject(new Error(`peer connection ${s}`));
          setTimeout(check, 20);
        };
        check();
      });
    },
    /** DTLS: libdatachannel reports 'connected' only after the DTLS handshake; tracks open once SRTP is keyed. */
    states() {
      const connection = pc.state();
      const dtls = connection === 'connected' && out.every((t) => t.track.isOpen()) ? 'connected' : connection;
      return { ice: pc.iceState(), dtls, connection, bytesSent: pc.bytesSent() };
    },
    sink(t, s) {
      const pt = t.codec.payloadType;
      const ext = s.ext;
      const headerLen = 12 + (ext ? ext.length : 0);
      return {
        send(seq, ts, marker, payload) {
          const b = Buffer.allocUnsafe(headerLen + payload.length);
          b[0] = ext ? 0x90 : 0x80;
          b[1] = marker ? pt | 0x80 : pt;
          b.writeUInt16BE(seq, 2);
          b.writeUInt32BE(ts, 4);
          b.writeUInt32BE(s.ssrc, 8);
          if (ext) ext.copy(b, 12);
          payload.copy(b, headerLen);
          s.ring[seq % RING] = b;
          t.track.sendMessageBinary(b); // throws "Track is closed" once the connection is gone
        },
        senderReport(rtpTs, perfNow, packets, octets) {
          t.track.sendMessageBinary(senderReport({ ssrc: s.ssrc, cname, rtpTs, perfNow, packets, octets }));
        },
      };
    },
    close() {
      for (const t of out) {
        try {
          t.track.close();
        } catch {
          // already closed
        }
      }
      pc.close();
    },
  };
}

// ---------------------------------------------------------------- SDP / ORTC

export function parseOffer(sdp) {
  const sections = sdp.split(/\r?\n(?=m=)/);
  const fingerprintLine = sdp.match(/a=fingerprint:(\S+) (\S+)/);
  if (!fingerprintLine) throw new Error('local offer has no DTLS fingerprint');
  const media = sections.slice(1).map((s) => ({ kind: s.match(/^m=(\w+)/)[1], mid: s.match(/a=mid:(\S+)/)?.[1] }));
  return { fingerprint: { algorithm: fingerprintLine[1].toLowerCase(), value: fingerprintLine[2] }, media };
}

/** The answer mediasoup would give as an SDP endpoint: ICE-lite, DTLS server, recvonly, our codec only. */
export function buildAnswer({ iceParameters, iceCandidates, dtlsParameters }, sections) {
  const fp = dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256') ?? dtlsParameters.fingerprints[0];
  const candidates = iceCandidates
    .filter((c) => (c.protocol ?? 'udp') === 'udp')
    .map((c) => `a=candidate:${c.foundation} 1 udp ${c.priority} ${c.ip ?? c.address} ${c.port} typ ${c.type ?? 'host'}`);
  if (candidates.length === 0) throw new Error('server offered no UDP ICE candidate');
  const lines = ['v=0', `o=mediasoup ${randomInt(1, 2 ** 31)} 1 IN IP4 127.0.0.1`, 's=-', 't=0 0', 'a=ice-lite'];
  lines.push(`a=group:BUNDLE ${sections.map((s) => s.mid).join(' ')}`, 'a=msid-semantic: WMS *');
  for (const s of sections) {
    const c = s.codec;
    lines.push(
      `m=${s.kind} 7 UDP/TLS/RTP/SAVPF ${c.payloadType}`,
      'c=IN IP4 127.0.0.1',
      `a=mid:${s.mid}`,
      'a=recvonly',
      'a=rtcp-mux',
      'a=rtcp-rsize',
      `a=ice-ufrag:${iceParameters.usernameFragment}`,
      `a=ice-pwd:${iceParameters.password}`,
      ...candidates,
      'a=end-of-candidates',
      `a=fingerprint:${fp.algorithm} ${fp.value}`,
      'a=setup:passive', // mediasoup is the DTLS server, we connect as client (like mediasoup-client)
      `a=rtpmap:${c.payloadType} ${c.mimeType.split('/')[1]}/${c.clockRate}${c.channels ? `/${c.channels}` : ''}`,
    );
    const f = fmtp(c.parameters);
    if (f) lines.push(`a=fmtp:${c.payloadType} ${f}`);
    for (const fb of c.rtcpFeedback) lines.push(`a=rtcp-fb:${c.payloadType} ${fb.type}${fb.parameter ? ` ${fb.parameter}` : ''}`);
  }
  return lines.join('\r\n') + '\r\n';
}

/**
 * mediasoup RtpParameters for one of our tracks. Simulcast as mediasoup-client sends it for Chromium:
 * encodings by rid (mediasoup learns each SSRC from the RID header extension), MID extension.
 */
export function rtpParameters(t) {
  const c = t.codec;
  return {
    mid: t.mid,
    codecs: [
      {
        mimeType: c.mimeType,
        payloadType: c.payloadType,
        clockRate: c.clockRate,
        ...(c.channels ? { channels: c.channels } : {}),
        parameters: c.parameters,
        rtcpFeedback: c.rtcpFeedback,
      },
    ],
    headerExtensions: t.simulcast
      ? [
          { uri: EXT.mid.uri, id: EXT.mid.id, encrypt: false, parameters: {} },
          { uri: EXT.rid.uri, id: EXT.rid.id, encrypt: false, parameters: {} },
        ]
      : [],
    encodings: t.simulcast ? t.streams.map((s) => ({ rid: s.rid, active: true, ...s.encoding })) : [{ ssrc: t.streams[0].ssrc }],
    rtcp: { cname: t.cname, reducedSize: true },
  };
}

// ---------------------------------------------------------------- signaling

function request(socket, event, data, timeoutMs) {
  return new Promise((resolve, reject) => {
    socket.timeout(timeoutMs).emit(event, data, (err, res) => {
      if (err) reject(new Error(`${event}: no answer in ${timeoutMs} ms`));
      else if (res && res.error) reject(Object.assign(new Error(`${event}: ${res.error} (${res.code})`), { code: res.code }));
      else resolve(res);
    });
  });
}

let publisherCount = 0;

/**
 * Starts one publisher. Resolves once socket.io is connected (peerId known); `connected` resolves
 * when ICE and DTLS are connected and every producer exists on the server, and rejects otherwise
 * (after connectTimeoutMs at the latest; the publisher is then closed).
 * @param {{ serverUrl: string, variant?: keyof typeof VARIANTS, mediaDir?: string, connectTimeoutMs?: number,
 *           maxDurationMs?: number, startGop?: number, pacing?: boolean, answerKeyframeRequests?: boolean,
 *           onFailure?: (failure: { peerId: string, error: string, at: number }) => void,
 *           log?: (msg: string) => void }} options
 *   maxDurationMs: the publisher closes itself then (default 30 min). startGop: which GOP of the file
 *   video starts at (default: one more per publisher, so keyframes do not line up).
 *   answerKeyframeRequests: a PLI/FIR makes the next video frame a keyframe (the stream skips to the
 *   next GOP start of its file), as a browser's encoder would; false keeps the file's own GOP.
 *   onFailure: called once if the publisher fails after it connected (it has then stopped and closed).
 */
export async function publish({
  serverUrl,
  variant = 'h264',
  mediaDir = DEFAULT_MEDIA_DIR,
  connectTimeoutMs = 20_000,
  maxDurationMs = 30 * 60_000,
  startGop,
  pacing = true,
  answerKeyframeRequests = true,
  onFailure = () => {},
  log = () => {},
}) {
  const plan = VARIANTS[variant];
  if (!plan) throw new Error(`variant must be one of ${Object.keys(VARIANTS).join(', ')}`);
  const ordinal = publisherCount++;
  // Load (and packetize, first time only) before touching the network, so a missing file fails fast.
  const tracks = plan.map((t) => ({
    kind: t.kind,
    codecName: t.codec,
    codec: CODECS[t.codec],
    simulcast: !!t.simulcast,
    streams: t.streams.map((s) => ({ ...s, media: loadTrack(t.codec, join(mediaDir, s.file)) })),
  }));

  const socket = io(serverUrl, { transports: ['websocket'], reconnection: false, timeout: connectTimeoutMs, forceNew: true });
  const peerId = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no connectionSuccess from ${serverUrl} in ${connectTimeoutMs} ms`)), connectTimeoutMs);
    const fail = (message) => {
      clearTimeout(timer);
      reject(new Error(message));
    };
    socket.once('connectionSuccess', ({ socketId }) => {
      clearTimeout(timer);
      resolve(socketId);
    });
    socket.once('connect_error', (e) => fail(`socket.io connect to ${serverUrl} failed: ${e.message}`));
    socket.once('error', (e) => fail(`server refused: ${e?.error ?? e}`));
  }).catch((e) => {
    socket.disconnect();
    throw e;
  });

  let rtc = null;
  let closed = false;
  let isConnected = false;
  let failure;
  const sendTracks = [];
  const producers = {};
  let lifetime = null;

  const close = async () => {
    if (closed) return;
    closed = true;
    clearTimeout(lifetime);
    for (const t of sendTracks) t.stop();
    try {
      rtc?.close();
    } catch {
      // a native close of a connection that is already gone
    }
    socket.disconnect();
  };

  /** After it connected: stop, close, report once. Before, `connected` rejects instead. */
  const fail = (reason) => {
    if (closed || failure) return;
    failure = { peerId, error: String(reason?.message ?? reason), at: Date.now() };
    log(`[${peerId}] failed: ${failure.error}`);
    void close();
    if (isConnected) onFailure(failure);
  };

  const setup = async () => {
    const t = connectTimeoutMs;
    const { rtpCapabilities } = await request(socket, 'getRouterRtpCapabilities', undefined, t);
    for (const k of tracks) {
      const ok = rtpCapabilities.codecs.some(
        (c) =>
          c.mimeType.toLowerCase() === k.codec.mimeType.toLowerCase() &&
          (k.codecName !== 'h264' ||
            String(c.parameters?.['profile-level-id']).slice(0, 4) === k.codec.parameters['profile-level-id'].slice(0, 4)),
      );
      if (!ok) throw new Error(`router does not offer ${k.codec.mimeType}`);
    }
    const transport = await request(socket, 'createWebRtcTransport', { isConsumer: false }, t);
    if (closed) throw new Error('closed during setup');
    rtc = rtcStack(tracks, (error) => fail(`RTCP handling: ${error.message}`));
    const local = parseOffer(await rtc.offer());

    // mediasoup must know our fingerprint and DTLS role before our ClientHello arrives.
    await request(
      socket,
      'connectTransport',
      { transportId: transport.id, dtlsParameters: { role: 'client', fingerprints: [local.fingerprint] } },
      t,
    );
    const up = rtc.connected();
    rtc.answer(
      buildAnswer(
        transport,
        rtc.tracks.map((k) => ({ kind: k.kind, mid: k.mid, codec: k.codec })),
      ),
    );
    for (const k of rtc.tracks) {
      const { id } = await request(socket, 'transportProduce', { kind: k.kind, rtpParameters: rtpParameters(k) }, t);
      producers[k.kind] = id;
    }
    await up;
    if (closed) throw new Error('closed during setup');
    const s = rtc.states();
    if (!['connected', 'completed'].includes(s.ice) || s.dtls !== 'connected')
      throw new Error(`not connected: ice=${s.ice} dtls=${s.dtls}`);
    // From now on a connection that goes away is a failure of this publisher (not of the process).
    rtc.pc.onStateChange((state) => {
      if (['disconnected', 'failed', 'closed'].includes(state)) fail(`peer connection ${state}`);
    });

    // Media starts only now; the first frame of every stream is a keyframe (video starts on a GOP).
    for (const k of rtc.tracks) {
      for (const s of k.streams) {
        const keys = s.media.keyIndexes;
        const start = k.kind === 'video' ? keys[(startGop ?? ordinal) % keys.length] : 0;
        const st = newSendTrack(s.media, rtc.sink(k, s), start, (error) => fail(error), { pacing });
        st.key = s.key;
        st.stream = s;
        if (k.kind === 'video' && answerKeyframeRequests) s.onKeyframeRequest = () => st.requestKeyframe();
        sendTracks.push(st);
      }
    }
    for (const st of sendTracks) st.start();
    lifetime = setTimeout(() => {
      log(`[${peerId}] maxDurationMs reached, closing`);
      close();
    }, maxDurationMs);
    isConnected = true;
    log(`[${peerId}] ${variant}: ice=${s.ice} dtls=${s.dtls} producers=${JSON.stringify(producers)}`);
    return { peerId, producers: { ...producers } };
  };

  const connected = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const s = rtc?.states();
      reject(new Error(`[${peerId}] not connected within ${connectTimeoutMs} ms (ice=${s?.ice} dtls=${s?.dtls})`));
    }, connectTimeoutMs);
    setup().then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
  connected.catch(() => close());
  socket.on('disconnect', (reason) => fail(`signaling disconnected (${reason})`));

  return {
    peerId,
    variant,
    connected,
    close,
    get closed() {
      return closed;
    },
    get failure() {
      return failure;
    },
    /**
     * Test hook: closes the first track under the publisher without telling it, as when its
     * connection dies: the next send throws and this publisher, and only this one, must fail.
     */
    injectFault() {
      rtc?.tracks[0]?.track.close();
    },
    /** ICE/DTLS state, what was sent per RTP stream, and mediasoup's RTCP about each. */
    stats() {
      const s =
        !closed && rtc
          ? rtc.states()
          : { ice: closed ? 'closed' : 'new', dtls: closed ? 'closed' : 'new', connection: closed ? 'closed' : 'new' };
      return {
        peerId,
        variant,
        ice: s.ice,
        dtls: s.dtls,
        connection: s.connection,
        failure,
        producers: { ...producers },
        tracks: Object.fromEntries(
          sendTracks.map((t) => [
            t.key,
            {
              ...t.stats,
              retransmitted: t.stream.retransmitted,
              keyframeRequests: t.stream.keyframeRequests ?? 0,
              lastReport: t.stream.lastReport && { ...t.stream.lastReport },
            },
          ]),
        ),
        bytesSent: s.bytesSent,
      };
    },
  };
}

/** Ends libdatachannel's threads once every publisher is closed; call once before exiting. */
export function shutdown() {
  ndc?.cleanup();
}
