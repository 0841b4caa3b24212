// The server's own counters from GET /metrics that the verdict uses. A counter the server does not
// expose is `undefined` (unknown), never 0: until the server exports loss counters, the loss they
// would show is unknown and the report says so.
import { metricSum, parsePrometheus } from '../test/support/shared/prometheus.js';

/** Counter names -> what they count (README's metric list; the loss counters come with the new pipeline). */
export const COUNTERS = {
  ingestPackets: 'webrtc_hls_ingest_rtp_packets_total', // RTP packets received from publishers (mediasoup producer stats)
  ingestLost: 'webrtc_hls_ingest_rtp_packets_lost_total', // of those, lost (RTCP view)
  ffmpegRtpMissed: 'webrtc_hls_ffmpeg_rtp_missed_packets_total', // loss FFmpeg saw between mediasoup and itself
  ffmpegDroppedFrames: 'webrtc_hls_ffmpeg_dropped_frames_total', // frames FFmpeg dropped
  ffmpegRestarts: 'webrtc_hls_ffmpeg_restarts_total',
};

/** One scrape: { name: value | undefined } for every COUNTERS entry; all undefined if /metrics fails. */
export async function scrapeCounters(serverUrl, timeoutMs = 3000) {
  let metrics;
  try {
    const res = await fetch(new URL('/metrics', serverUrl), { signal: AbortSignal.timeout(timeoutMs) });
    if (res.ok) metrics = parsePrometheus(await res.text());
  } catch {
    // unreachable: every counter unknown
  }
  return Object.fromEntries(Object.entries(COUNTERS).map(([key, name]) => [key, metrics ? metricSum(metrics, name) : undefined]));
}

/** Increase of each counter between two scrapes; undefined where either scrape lacks it. */
export function counterDelta(before, after) {
  return Object.fromEntries(
    Object.keys(COUNTERS).map((k) => [
      k,
      before[k] === undefined || after[k] === undefined ? undefined : Math.max(0, after[k] - before[k]),
    ]),
  );
}
