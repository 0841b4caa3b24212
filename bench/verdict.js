// The benchmark's verdict on one measured window, and the capacity of a ramp. Plain CommonJS (with
// verdict.d.ts) so that the .mjs bench and the TypeScript tests share it.
'use strict';

/** Loss the server causes above this share of packets (or of video frames, for dropped frames) fails a step. */
const MAX_LOSS_RATIO = 0.0001;
/** A stream whose media time falls this many seconds further behind wall time within the window fails it. */
const MAX_LAG_GROWTH_SECONDS = 0.5;
/** The generator is saturated (the step measures it, not the server) above this many cores ... */
const GENERATOR_LIMIT_CORES = 0.85;
/** ... or when it skipped or dropped more than this share of its frames or packets. */
const GENERATOR_LIMIT_RATIO = 0.01;

const pct = (ratio) => `${(ratio * 100).toFixed(ratio < 0.001 ? 4 : 2)} %`;

/**
 * Loss in a window, hop by hop. A packet lost on the way in is counted by several witnesses (the
 * WebRtcServer socket drops it, mediasoup then reports it lost in RTCP), so each hop takes the
 * largest of its witnesses and the hops add up:
 * - ingest (publisher -> mediasoup): drops at the worker's sockets (its WebRtcServer socket, or its
 *   transports' own sockets without one), the generator's view of mediasoup's receiver reports,
 *   the server's ingest loss counter;
 * - toFfmpeg (mediasoup -> FFmpeg): drops at FFmpeg's sockets, FFmpeg's own count of missed RTP;
 * - other: drops at any other socket of the server's processes.
 * A server counter that is not exposed is unknown: listed in `unknown`, never taken as 0.
 */
function lossOf(facts) {
  const d = facts.drops || {};
  const s = facts.server || {};
  const unknown = ['ingestLost', 'ffmpegRtpMissed', 'ffmpegDroppedFrames'].filter((k) => s[k] === undefined);
  const ingest = Math.max((d.webRtcServer || 0) + (d.worker || 0), facts.rtcpLost || 0, s.ingestLost || 0);
  const toFfmpeg = Math.max(d.ffmpeg || 0, s.ffmpegRtpMissed || 0);
  const other = (d.node || 0) + (d.other || 0);
  const total = ingest + toFfmpeg + other;
  const packets = s.ingestPackets !== undefined && s.ingestPackets > 0 ? s.ingestPackets : (facts.sent && facts.sent.packets) || 0;
  const droppedFrames = s.ffmpegDroppedFrames;
  const frames = (facts.sent && facts.sent.videoFrames) || 0;
  return {
    packets,
    ingest,
    toFfmpeg,
    other,
    total,
    ratio: packets > 0 ? total / packets : total > 0 ? 1 : 0,
    droppedFrames,
    frameRatio: droppedFrames === undefined ? undefined : frames > 0 ? droppedFrames / frames : droppedFrames > 0 ? 1 : 0,
    // false as soon as any witness saw loss; true only when every witness exists and saw none.
    lossFree: total > 0 || (droppedFrames || 0) > 0 ? false : unknown.length > 0 ? undefined : true,
    unknown,
  };
}

/**
 * Verdict on one window: 'fail' (the server lost packets or frames, a stream lagged or fell
 * behind, a publisher failed, FFmpeg restarted ...), else 'generator-limited' (the generator could
 * not keep up, so the window says more about it than about the server), else 'pass'.
 */
function judge(facts) {
  const reasons = [];
  const loss = lossOf(facts);
  if (loss.ratio > MAX_LOSS_RATIO) {
    reasons.push(
      `lost ${pct(loss.ratio)} of ${loss.packets} packets (ingest ${loss.ingest}, to FFmpeg ${loss.toFfmpeg}, other sockets ${loss.other})`,
    );
  }
  if (loss.frameRatio !== undefined && loss.frameRatio > MAX_LOSS_RATIO) reasons.push(`FFmpeg dropped ${loss.droppedFrames} frames`);
  const lag = facts.lag || {};
  if (lag.maxGrowth !== undefined && lag.maxGrowth > MAX_LAG_GROWTH_SECONDS) {
    reasons.push(
      `media fell ${lag.maxGrowth.toFixed(2)} s further behind wall time (${lag.laggingPeers} streams over ${MAX_LAG_GROWTH_SECONDS} s)`,
    );
  }
  const f = facts.failures || {};
  const count = (n, text) => n > 0 && reasons.push(`${n} ${text}`);
  count(f.connect, 'publishers failed to connect');
  count(f.iceDtls, 'lost ICE/DTLS');
  count(f.publishers, 'publishers failed while streaming');
  count(f.notLive, 'never went live');
  count(f.notPlayable, 'never playable');
  count(f.behind, 'streams fell behind');
  const restarts = facts.server && facts.server.ffmpegRestarts;
  count(restarts, 'FFmpeg restarts');
  const g = facts.generator || {};
  const limited = [];
  if (g.cores > GENERATOR_LIMIT_CORES) limited.push(`generator at ${g.cores.toFixed(2)} cores`);
  if (g.skippedFrames > GENERATOR_LIMIT_RATIO * (g.framesSent || 0)) limited.push(`generator skipped ${g.skippedFrames} frames`);
  if (g.droppedBacklog > GENERATOR_LIMIT_RATIO * (g.packetsSent || 0)) limited.push(`generator dropped ${g.droppedBacklog} packets`);
  if (g.errors > 0) limited.push(`${g.errors} generator errors`);
  const verdict = reasons.length > 0 ? 'fail' : limited.length > 0 ? 'generator-limited' : 'pass';
  return { verdict, reasons: reasons.length > 0 ? reasons : limited, loss };
}

/**
 * A ramp's capacity: the highest N that passed before the first step that did not (maxPass), and
 * the highest of those that lost nothing (lossFree; `lossFreeUnknown` when a loss counter the
 * server does not expose could still hide loss there). A step's `confirmation` (the same N measured
 * again, longer) counts too: loss there takes the step out of the loss-free count, a failure ends
 * the passing steps. lowerBound: the ramp ended without a failure.
 */
function capacityOf(steps) {
  let maxPass = 0;
  let lossFree = 0;
  let lossFreeUnknown = false;
  let firstFail;
  for (const s of steps || []) {
    if (s.verdict !== 'pass') {
      firstFail = s;
      break;
    }
    // A longer confirmation measurement of the same N overrules the step where it is worse.
    const c = s.confirmation;
    if (c && c.verdict !== 'pass') {
      firstFail = { n: s.n, verdict: c.verdict };
      break;
    }
    maxPass = s.n;
    const free = [s.loss, c && c.loss].filter(Boolean).map((l) => l.lossFree);
    if (free.length > 0 && !free.includes(false)) {
      lossFree = s.n;
      lossFreeUnknown = free.includes(undefined);
    }
  }
  return {
    maxPass,
    lossFree,
    lossFreeUnknown,
    firstFail: firstFail && firstFail.n,
    failVerdict: firstFail && firstFail.verdict,
    lowerBound: !firstFail,
  };
}

module.exports = { MAX_LOSS_RATIO, MAX_LAG_GROWTH_SECONDS, GENERATOR_LIMIT_CORES, lossOf, judge, capacityOf };
