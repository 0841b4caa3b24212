// Load-generator publisher: one real WebRTC publisher (socket.io signaling, ICE, DTLS, SRTP into
// mediasoup) per call, sending media that prepare-media.mjs encoded ONCE: publishers only put an RTP
// header on shared, pre-packetized payloads and SRTP-protect them. See LOAD-GENERATOR.md.
//
//   import { publish } from './bench/load-publisher.mjs';
//   const p = await publish({ serverUrl: 'http://127.0.0.1:4100', variant: 'h264' });
//   await p.connected;            // ICE + DTLS connected and every producer created, or rejects
//   p.stats();                    // ICE/DTLS state, packets/bytes sent, mediasoup's RTCP receiver reports
//   await p.close();
//
// Two WebRTC stacks behind the same pacer (option `stack`):
//   'libdatachannel' (default)  node-datachannel: libdatachannel/libjuice/libsrtp in C++, prebuilt per
//                               platform on npm; ICE, DTLS, SRTP, RTCP SR and NACK answers native.
//   'werift'                    pure TypeScript; ~1.3-2x the CPU per stream here (LOAD-GENERATOR.md).
// Use one stack per process, and call shutdown() once at the end (libdatachannel keeps the process alive).
// Both speak SDP; mediasoup speaks ORTC: buildAnswer() writes the answer mediasoup would give (ICE-lite,
// DTLS server) from createWebRtcTransport's parameters, and the producers' rtpParameters are ours.
import { createRequire } from 'node:module';
import { randomBytes, randomInt } from 'node:crypto';
import { join } from 'node:path';
import { loadTrack, withVp8PictureId } from './media-source.mjs';
import { DEFAULT_MEDIA_DIR } from './prepare-media.mjs';

// CommonJS require honours NODE_PATH (experiments can point at a scratch node_modules); each stack is
// loaded on first use, so only the one in use must be installed.
const require = createRequire(import.meta.url);
const { io } = require('socket.io-client');
let werift = null;
let ndc = null;
const loadWerift = () => (werift ??= require('werift'));
const loadNdc = () => (ndc ??= require('node-datachannel'));

export const STACKS = ['libdatachannel', 'werift'];

export const DEFAULT_MEDIA = {
  h264: join(DEFAULT_MEDIA_DIR, 'video.h264'),
  vp8: join(DEFAULT_MEDIA_DIR, 'video.ivf'),
  opus: join(DEFAULT_MEDIA_DIR, 'audio.opus'),
};

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

export const VARIANTS = {
  h264: { video: 'h264', audio: 'opus' },
  vp8: { video: 'vp8', audio: 'opus' },
  audio: { audio: 'opus' },
};

const fmtp = (parameters) =>
  Object.entries(parameters)
    .map(([k, v]) => `${k}=${v}`)
    .join(';');

// ---------------------------------------------------------------- shared pacer

/** @type {Set<ReturnType<typeof newSendTrack>>} */
const active = new Set();
let timer = null;
/**
 * One timer for every track of the process, armed for the earliest moment any track has work
 * (a frame due, or pacing budget for a queued packet), but never more often than every MIN_TICK_MS.
 * Wake-ups are what costs at low N on this VM (~0.5 ms of CPU each: a bare 50/s timer that sends one
 * UDP packet takes 2.7 % of a core), so N publishers share them: at most 100 per second in all.
 * Packets leave up to 10 ms after their frame's time, about a browser's own jitter.
 */
const MIN_TICK_MS = 10;
const MAX_TICK_MS = 50;
/** A track this many frames late (event loop stalled) skips ahead instead of bursting them all. */
const MAX_CATCH_UP_FRAMES = 8;
/**
 * Pacing like libwebrtc's pacer: packets leave at PACING_FACTOR x the track's average packet rate,
 * at most MAX_BURST back to back. Unpaced, a 1 s-GOP keyframe (~80 packets) of several publishers
 * lands at once in the ONE UDP socket of mediasoup's WebRtcServer (212 KB default receive buffer)
 * and packets are dropped on loopback.
 */
const PACING_FACTOR = 2.5;
const MIN_PACE_PPS = 200;
const MAX_BURST = 12; // > pacing rate x MIN_TICK_MS for a 2.5 Mbit/s track (~8 packets)

/**
 * At most GLOBAL_BURST packets leave per wake-up across ALL tracks of the process, the rest after
 * DRAIN_TICK_MS: per-track pacing alone still lets 20 tracks' budgets fire in the same wake-up
 * (240 packets, ~300 KB: more than mediasoup's socket buffer holds).
 */
const GLOBAL_BURST = 48;
const DRAIN_TICK_MS = 2;
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
    t.pump(now);
    const wake = t.nextWake(now);
    if (wake < next) next = wake;
  }
  const minDelay = tickBudget <= 0 ? DRAIN_TICK_MS : MIN_TICK_MS;
  if (active.size > 0) timer = setTimeout(tick, Math.max(minDelay, next - performance.now()));
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
 * Per-publisher state of one track: sequence numbers, timestamps (random bases), VP8 picture ids,
 * pacing queue. `sink` is the stack's way out: send(seq, ts, marker, payload) and clock(rtpTs, perfNow)
 * (a sampled RTP/wall-clock pair for RTCP sender reports).
 */
function newSendTrack(media, sink, startIndex, { pacing = true } = {}) {
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
  let keyframeWanted = false;
  let seq = randomInt(0, 0x8000);
  const vp8 = media.codec === 'vp8';
  let pictureId = randomInt(0, 0x8000);
  const tsBase = randomInt(0, 0x7fffffff);
  let t0 = 0;
  let lastPump = 0;
  let budget = MAX_BURST;
  // Pacing queue as parallel arrays (no per-packet objects): payload, RTP timestamp, marker.
  let qPayload = [];
  let qTs = [];
  let qMarker = [];
  let qHead = 0;
  const stats = { frames: 0, packets: 0, payloadBytes: 0, skippedFrames: 0, droppedBacklog: 0, keyframesOnRequest: 0 };
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
    stats.keyframesOnRequest++;
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
    start() {
      t0 = lastPump = performance.now();
      addToPacer(this);
    },
    stop() {
      removeFromPacer(this);
    },
    /** A PLI/FIR arrived: like an encoder, make the next frame a keyframe (cheap here: skip to a GOP start). */
    requestKeyframe() {
      keyframeWanted = true;
    },
    /** When this track next has something to do (performance.now() time). */
    nextWake(now) {
      if (qHead < qPayload.length) return !pacing || budget >= 1 ? now : now + (1 - budget) / pacePerMs;
      return due();
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
          break;
        }
        if (keyframeWanted) {
          keyframeWanted = false;
          jumpToKeyframe();
        }
        const frame = frames[index];
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
      // RTP time is linear in wall time by construction (frame due times): a clock pair sampled
      // now is exact, whatever the pacing delay of the packets.
      if (queued > 0) sink.clock((tsBase + Math.round((now - t0) / msPerTick)) >>> 0, now);
      if (qPayload.length - qHead > maxBacklog) {
        // CPU-starved: a second of backlog would only grow; drop it (the stream recovers at a keyframe).
        stats.droppedBacklog += qPayload.length - qHead;
        qHead = qPayload.length;
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
    },
  };
}

// ---------------------------------------------------------------- RTCP helpers

/** Report blocks about `ssrc` in a (compound) RTCP packet: SR (200) and RR (201). */
export function reportBlocksFor(buf, ssrc) {
  const out = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    const count = buf[off] & 0x1f;
    const pt = buf[off + 1];
    const len = (buf.readUInt16BE(off + 2) + 1) * 4;
    if ((buf[off] & 0xc0) !== 0x80 || off + len > buf.length) break;
    if (pt === 200 || pt === 201) {
      let b = off + (pt === 200 ? 28 : 8);
      for (let i = 0; i < count && b + 24 <= off + len; i++, b += 24) {
        if (buf.readUInt32BE(b) !== ssrc) continue;
        const lost = buf.readUIntBE(b + 5, 3);
        out.push({ packetsLost: lost & 0x800000 ? lost - 0x1000000 : lost, highestSequence: buf.readUInt32BE(b + 8), jitter: buf.readUInt32BE(b + 12) });
      }
    }
    off += len;
  }
  return out;
}

/**
 * Whether a (compound) RTCP packet asks `ssrc` for a keyframe: PSFB (206) PLI (FMT 1, media SSRC at
 * byte 8) or FIR (FMT 4, SSRC in its FCI entries).
 */
export function asksForKeyframe(buf, ssrc) {
  let off = 0;
  while (off + 12 <= buf.length) {
    const fmt = buf[off] & 0x1f;
    const pt = buf[off + 1];
    const len = (buf.readUInt16BE(off + 2) + 1) * 4;
    if ((buf[off] & 0xc0) !== 0x80 || off + len > buf.length) break;
    if (pt === 206 && fmt === 1 && buf.readUInt32BE(off + 8) === ssrc) return true;
    if (pt === 206 && fmt === 4) for (let e = off + 12; e + 8 <= off + len; e += 8) if (buf.readUInt32BE(e) === ssrc) return true;
    off += len;
  }
  return false;
}

/** RTCP sender-report NTP time (RFC 3550 4) of a performance.now() instant. */
const NTP_EPOCH_OFFSET_MS = 2_208_988_800_000;
function ntpAt(perfNow) {
  const ms = performance.timeOrigin + perfNow + NTP_EPOCH_OFFSET_MS;
  const sec = Math.floor(ms / 1000);
  return (BigInt(sec) << 32n) | BigInt(Math.floor(((ms - sec * 1000) / 1000) * 2 ** 32));
}

// ---------------------------------------------------------------- stack: libdatachannel

/**
 * node-datachannel. We write whole RTP packets (our header + the shared payload) into the track;
 * its handler chain sends RTCP sender reports (RtcpSrReporter) and answers NACKs (RtcpNackResponder).
 */
function libdatachannelStack(tracks, rtcp) {
  const { PeerConnection, Video, Audio, RtpPacketizationConfig, RtcpSrReporter, RtcpNackResponder } = loadNdc();
  const cname = randomBytes(6).toString('hex');
  const stream = randomBytes(6).toString('hex');
  const pc = new PeerConnection('bench', {
    iceServers: [], // host candidates only, bound to loopback
    bindAddress: '127.0.0.1',
    enableIceTcp: false,
    disableAutoNegotiation: true,
  });
  const state = { ice: 'new', connection: 'new' };
  pc.onIceStateChange((s) => (state.ice = s));
  pc.onStateChange((s) => (state.connection = s));
  const out = tracks.map((t, i) => {
    const ssrc = randomInt(1, 2 ** 32 - 1);
    const mid = String(i);
    const media = t.kind === 'video' ? new Video(mid, 'SendOnly') : new Audio(mid, 'SendOnly');
    const c = t.codec;
    if (t.codecName === 'h264') media.addH264Codec(c.payloadType, fmtp(c.parameters));
    else if (t.codecName === 'vp8') media.addVP8Codec(c.payloadType);
    else media.addOpusCodec(c.payloadType, fmtp(c.parameters));
    media.addSSRC(ssrc, cname, stream, `${t.kind}-${stream}`);
    const track = pc.addTrack(media);
    const sr = new RtcpSrReporter(new RtpPacketizationConfig(ssrc, cname, c.payloadType, c.clockRate));
    sr.addToChain(new RtcpNackResponder(1024));
    track.setMediaHandler(sr);
    const entry = { ...t, ssrc, mid, cname, track, onKeyframeRequest: undefined };
    track.onMessage((msg) => {
      // Incoming RTCP that the chain passes up: mediasoup's receiver reports about this SSRC, and
      // its keyframe requests (PLI/FIR), which a browser's encoder answers with an IDR.
      for (const r of reportBlocksFor(msg, ssrc)) {
        rtcp.receiverReports++;
        rtcp.lastReport[t.kind] = r;
      }
      if (t.kind === 'video' && asksForKeyframe(msg, ssrc)) {
        rtcp.keyframeRequests++;
        entry.onKeyframeRequest?.();
      }
    });
    return entry;
  });
  return {
    tracks: out,
    async offer() {
      pc.setLocalDescription('offer');
      // With disableAutoNegotiation the description is produced synchronously; gathering may go on.
      for (let i = 0; i < 100 && !pc.localDescription(); i++) await new Promise((r) => setTimeout(r, 10));
      const d = pc.localDescription();
      if (!d) throw new Error('libdatachannel produced no local description');
      return d.sdp;
    },
    async answer(sdp) {
      pc.setRemoteDescription(sdp, 'answer');
    },
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
    sink(t) {
      const pt = t.codec.payloadType;
      return {
        send(seq, ts, marker, payload) {
          const b = Buffer.allocUnsafe(12 + payload.length);
          b[0] = 0x80;
          b[1] = marker ? pt | 0x80 : pt;
          b.writeUInt16BE(seq, 2);
          b.writeUInt32BE(ts, 4);
          b.writeUInt32BE(t.ssrc, 8);
          payload.copy(b, 12);
          t.track.sendMessageBinary(b);
        },
        clock() {}, // RtcpSrReporter pairs the last RTP timestamp with the current NTP time itself
      };
    },
    close() {
      for (const t of out) {
        try {
          t.track.close();
        } catch {}
      }
      pc.close();
    },
  };
}

// ---------------------------------------------------------------- stack: werift

/**
 * werift. Fast path: one reused RtpHeader, SRTP-protect and send through the DTLS transport directly,
 * keep werift's sender-report fields current (its own ntpTime() garbles the NTP fraction) and answer
 * NACKs from our own ring. RTCRtpSender.sendRtp (fastPath: false) does the same per packet plus
 * header-extension mapping, send-side BWE bookkeeping and an NTP clock read, at ~1.5x the CPU.
 */
function weriftStack(tracks, rtcp, { fastPath = true } = {}) {
  const { RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket } = loadWerift();
  const codec = (c) =>
    new RTCRtpCodecParameters({
      mimeType: c.mimeType,
      clockRate: c.clockRate,
      channels: c.channels,
      payloadType: c.payloadType,
      parameters: fmtp(c.parameters) || undefined,
      rtcpFeedback: c.rtcpFeedback,
    });
  const pc = new RTCPeerConnection({
    iceServers: [], // werift's default is a public STUN server: never leave the machine
    iceUseIpv6: false,
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceInterfaceAddresses: { udp4: '127.0.0.1' },
    iceFilterCandidatePair: (pair) => pair.localCandidate.host === '127.0.0.1' && pair.remoteCandidate.host === '127.0.0.1',
    bundlePolicy: 'max-bundle',
    codecs: {
      video: tracks.filter((t) => t.kind === 'video').map((t) => codec(t.codec)),
      audio: tracks.filter((t) => t.kind === 'audio').map((t) => codec(t.codec)),
    },
    headerExtensions: { video: [], audio: [] },
  });
  const out = tracks.map((t) => ({ ...t, transceiver: pc.addTransceiver(t.kind, { direction: 'sendonly' }) }));
  const subs = [];
  return {
    tracks: out,
    async offer() {
      await pc.setLocalDescription(await pc.createOffer());
      const sdp = pc.localDescription.sdp;
      const local = parseOffer(sdp);
      out.forEach((t, i) => {
        t.ssrc = t.transceiver.sender.ssrc;
        t.mid = t.transceiver.mid ?? local.media[i].mid;
        t.cname = local.media[i].cname;
        const sender = t.transceiver.sender;
        if (t.kind === 'video') {
          subs.push(
            sender.onPictureLossIndication.subscribe(() => {
              rtcp.keyframeRequests++;
              t.onKeyframeRequest?.();
            }),
          );
        }
        subs.push(
          sender.onRtcp.subscribe((packet) => {
            for (const r of packet.reports ?? []) {
              if (r.ssrc !== sender.ssrc) continue;
              rtcp.receiverReports++;
              rtcp.lastReport[t.kind] = { highestSequence: r.highestSequence, packetsLost: r.packetsLost, jitter: r.jitter };
            }
          }),
        );
      });
      return sdp;
    },
    async answer(sdp) {
      await pc.setRemoteDescription({ type: 'answer', sdp });
    },
    connected() {
      return new Promise((resolve, reject) => {
        const check = (s) => {
          if (s === 'connected') resolve();
          else if (s === 'failed' || s === 'closed') reject(new Error(`peer connection ${s}`));
        };
        subs.push(pc.connectionStateChange.subscribe(check));
        check(pc.connectionState);
      });
    },
    states() {
      const dtls = pc.dtlsTransports?.[0];
      return { ice: pc.iceConnectionState, dtls: dtls?.state ?? 'new', connection: pc.connectionState, bytesSent: dtls?.bytesSent };
    },
    sink(t) {
      const sender = t.transceiver.sender;
      const pt = t.codec.payloadType;
      if (!fastPath) {
        return {
          send(sequenceNumber, timestamp, marker, payload) {
            sender.sendRtp(new RtpPacket(new RtpHeader({ payloadType: pt, sequenceNumber, timestamp, marker, ssrc: sender.ssrc }), payload)).catch(() => {});
          },
          clock() {},
        };
      }
      const dtls = sender.dtlsTransport;
      const header = new RtpHeader({ payloadType: pt, ssrc: sender.ssrc }); // serialized synchronously by each send
      const RING = 1024;
      const ring = Array.from({ length: RING }, () => ({ seq: -1, ts: 0, marker: false, payload: null }));
      subs.push(
        sender.onGenericNack.subscribe((feedback) => {
          for (const lost of feedback.lost) {
            const slot = ring[lost % RING];
            if (slot.seq !== lost) continue;
            header.sequenceNumber = slot.seq;
            header.timestamp = slot.ts;
            header.marker = slot.marker;
            dtls.sendRtp(slot.payload, header).catch(() => {});
          }
        }),
      );
      sender.runRtcp(); // werift's SR/SDES loop (it starts on the first sendRtp otherwise)
      return {
        send(sequenceNumber, timestamp, marker, payload) {
          header.sequenceNumber = sequenceNumber;
          header.timestamp = timestamp;
          header.marker = marker;
          dtls.sendRtp(payload, header).catch(() => {});
          const slot = ring[sequenceNumber % RING];
          slot.seq = sequenceNumber;
          slot.ts = timestamp;
          slot.marker = marker;
          slot.payload = payload;
          sender.packetCount = (sender.packetCount + 1) >>> 0;
          sender.octetCount = (sender.octetCount + payload.length) >>> 0;
        },
        clock(rtpTs, perfNow) {
          sender.rtpTimestamp = rtpTs;
          sender.ntpTimestamp = ntpAt(perfNow);
        },
      };
    },
    close() {
      for (const s of subs) s.unSubscribe();
      pc.close().catch(() => {});
    },
  };
}

// ---------------------------------------------------------------- SDP helpers

export function parseOffer(sdp) {
  const sections = sdp.split(/\r?\n(?=m=)/);
  const fingerprintLine = sdp.match(/a=fingerprint:(\S+) (\S+)/);
  if (!fingerprintLine) throw new Error('local offer has no DTLS fingerprint');
  const media = sections.slice(1).map((s) => ({
    kind: s.match(/^m=(\w+)/)[1],
    mid: s.match(/a=mid:(\S+)/)?.[1],
    cname: s.match(/a=ssrc:\d+ cname:(\S+)/)?.[1],
  }));
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

/** mediasoup RtpParameters for one of our tracks. */
function rtpParameters(t) {
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
    headerExtensions: [],
    encodings: [{ ssrc: t.ssrc }],
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
 * @param {{ serverUrl: string, variant?: 'h264'|'vp8'|'audio', media?: {h264?: string, vp8?: string, opus?: string},
 *           stack?: 'libdatachannel'|'werift', connectTimeoutMs?: number, maxDurationMs?: number,
 *           startGop?: number, pacing?: boolean, fastPath?: boolean, answerKeyframeRequests?: boolean,
 *           log?: (msg: string) => void }} options
 *   media: file paths (default: bench/media from prepare-media.mjs). maxDurationMs: the publisher closes
 *   itself then (default 30 min). startGop: which GOP of the file video starts at (default: one more per
 *   publisher, so keyframes do not line up). fastPath (werift only): false = RTCRtpSender.sendRtp.
 *   answerKeyframeRequests: a PLI/FIR makes the next video frame a keyframe
 *   (the send track skips to the next GOP start), as a browser's encoder would; false keeps the
 *   file's fixed 1 s GOP.
 */
export async function publish({
  serverUrl,
  variant = 'h264',
  media = {},
  stack = 'libdatachannel',
  connectTimeoutMs = 20_000,
  maxDurationMs = 30 * 60_000,
  startGop,
  pacing = true,
  fastPath = true,
  answerKeyframeRequests = true,
  log = () => {},
}) {
  const plan = VARIANTS[variant];
  if (!plan) throw new Error(`variant must be one of ${Object.keys(VARIANTS).join(', ')}`);
  if (!STACKS.includes(stack)) throw new Error(`stack must be one of ${STACKS.join(', ')}`);
  const files = { ...DEFAULT_MEDIA, ...media };
  const ordinal = publisherCount++;
  // Load (and packetize, first time only) before touching the network, so a missing file fails fast.
  const kinds = Object.entries(plan).map(([kind, codecName]) => ({ kind, codecName, codec: CODECS[codecName], media: loadTrack(codecName, files[codecName]) }));

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
  const sendTracks = [];
  const rtcp = { receiverReports: 0, lastReport: {}, keyframeRequests: 0 };
  const producers = {};
  let lifetime = null;

  const close = async () => {
    if (closed) return;
    closed = true;
    clearTimeout(lifetime);
    for (const t of sendTracks) t.stop();
    try {
      rtc?.close();
    } catch {}
    socket.disconnect();
  };

  const setup = async () => {
    const t = connectTimeoutMs;
    const { rtpCapabilities } = await request(socket, 'getRouterRtpCapabilities', undefined, t);
    for (const k of kinds) {
      const ok = rtpCapabilities.codecs.some(
        (c) =>
          c.mimeType.toLowerCase() === k.codec.mimeType.toLowerCase() &&
          (k.codecName !== 'h264' || String(c.parameters?.['profile-level-id']).slice(0, 4) === k.codec.parameters['profile-level-id'].slice(0, 4)),
      );
      if (!ok) throw new Error(`router does not offer ${k.codec.mimeType}`);
    }
    const transport = await request(socket, 'createWebRtcTransport', { isConsumer: false }, t);
    if (closed) throw new Error('closed during setup');
    rtc = stack === 'werift' ? weriftStack(kinds, rtcp, { fastPath }) : libdatachannelStack(kinds, rtcp);
    const local = parseOffer(await rtc.offer());

    // mediasoup must know our fingerprint and DTLS role before our ClientHello arrives.
    await request(socket, 'connectTransport', { transportId: transport.id, dtlsParameters: { role: 'client', fingerprints: [local.fingerprint] } }, t);
    const connected = rtc.connected();
    await rtc.answer(buildAnswer(transport, rtc.tracks.map((k) => ({ kind: k.kind, mid: k.mid, codec: k.codec }))));
    for (const k of rtc.tracks) {
      const { id } = await request(socket, 'transportProduce', { kind: k.kind, rtpParameters: rtpParameters(k) }, t);
      producers[k.kind] = id;
    }
    await connected;
    if (closed) throw new Error('closed during setup');
    const s = rtc.states();
    if (!['connected', 'completed'].includes(s.ice) || s.dtls !== 'connected') throw new Error(`not connected: ice=${s.ice} dtls=${s.dtls}`);

    // Media starts only now; the first frame of every track is a keyframe (video starts on a GOP).
    for (const k of rtc.tracks) {
      const keys = k.media.keyIndexes;
      const start = k.kind === 'video' ? keys[(startGop ?? ordinal) % keys.length] : 0;
      const st = newSendTrack(k.media, rtc.sink(k), start, { pacing });
      st.kind = k.kind;
      if (k.kind === 'video' && answerKeyframeRequests) k.onKeyframeRequest = () => st.requestKeyframe();
      sendTracks.push(st);
      st.start();
    }
    lifetime = setTimeout(() => {
      log(`[${peerId}] maxDurationMs reached, closing`);
      close();
    }, maxDurationMs);
    log(`[${peerId}] ${variant} via ${stack}: ice=${s.ice} dtls=${s.dtls} producers=${JSON.stringify(producers)}`);
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
  socket.on('disconnect', () => close());

  return {
    peerId,
    variant,
    stack,
    connected,
    close,
    get closed() {
      return closed;
    },
    /** ICE/DTLS state, what was sent per track, and mediasoup's RTCP receiver reports about it. */
    stats() {
      const s = rtc?.states() ?? { ice: 'new', dtls: 'new', connection: 'new' };
      return {
        peerId,
        variant,
        stack,
        ice: s.ice,
        dtls: s.dtls,
        connection: s.connection,
        producers: { ...producers },
        tracks: Object.fromEntries(sendTracks.map((t) => [t.kind, { ...t.stats }])),
        bytesSent: s.bytesSent,
        rtcp: { receiverReports: rtcp.receiverReports, lastReport: { ...rtcp.lastReport }, keyframeRequests: rtcp.keyframeRequests },
      };
    },
  };
}

/**
 * Ends the native stack's threads (libdatachannel) once every publisher is closed; call once before
 * exiting, or the process does not exit by itself. Do not mix stacks in one process: cleanup() has
 * crashed in a process that had also run werift publishers.
 */
export function shutdown() {
  ndc?.cleanup();
}
