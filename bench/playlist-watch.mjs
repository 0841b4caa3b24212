// Segment timeliness, media lag and time-to-playable, as a viewer would see them.
//
// PlaylistWatcher polls the public media playlists in HLS_DIR (the very files /live serves, under the
// same names) rather than over HTTP: a playlist GET costs the server ~0.9 ms of CPU here, so polling
// 2N playlists five times a second would add ~0.2 core at N=20 to the core being measured. A
// playlist's mtime is the moment the server rewrote it, i.e. when its new segment appeared: the
// interval between appearances is measured to the millisecond whatever the polling period.
//
// waitForPlayableMaster polls over HTTP, like a player: GET /live/<peer>.m3u8 answers 200 and
// every media playlist it names answers 200 with at least one segment.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseMasterPlaylist, parseMediaPlaylist } from '../test/support/shared/playlist.js';
import { percentile, round, sleep, wallNow } from './stats.mjs';
import { MAX_LAG_GROWTH_SECONDS } from './verdict.js';

/**
 * Watches the media playlists of many streams. Each playlist keeps the list of segments it gained,
 * with EXTINF and the wall-clock time they appeared (the playlist file's mtime).
 */
export class PlaylistWatcher {
  constructor({ hlsDir, targetSeconds, pollMs = 200 }) {
    this.hlsDir = hlsDir;
    this.targetSeconds = targetSeconds;
    this.pollMs = pollMs;
    /** key `${peerId}:${kind}` -> state */
    this.playlists = new Map();
    this.timer = undefined;
  }

  watch(peerId, kinds) {
    for (const kind of kinds) {
      const key = `${peerId}:${kind}`;
      if (!this.playlists.has(key)) {
        this.playlists.set(key, {
          peerId,
          kind,
          path: join(this.hlsDir, `${peerId}-${kind}.m3u8`),
          mtimeMs: 0,
          lastSeq: -1,
          appeared: [],
          batched: 0,
          ended: false,
          discontinuitySequence: 0,
        });
      }
    }
  }

  unwatch(peerId) {
    for (const key of [...this.playlists.keys()]) if (key.startsWith(`${peerId}:`)) this.playlists.delete(key);
  }

  start() {
    if (this.timer) return;
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.timer.unref?.();
  }

  stop() {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  poll() {
    for (const p of this.playlists.values()) {
      let mtimeMs;
      try {
        mtimeMs = statSync(p.path).mtimeMs;
      } catch {
        continue; // not written yet
      }
      if (mtimeMs === p.mtimeMs) continue;
      p.mtimeMs = mtimeMs;
      let parsed;
      try {
        parsed = parseMediaPlaylist(readFileSync(p.path, 'utf8'));
      } catch {
        continue;
      }
      p.ended = parsed.ended;
      p.discontinuitySequence = parsed.discontinuitySequence;
      const fresh = parsed.segments.filter((s) => s.seq > p.lastSeq);
      if (fresh.length > 1 && p.lastSeq >= 0) p.batched += fresh.length - 1; // versions written between two polls
      for (const s of fresh) {
        // `mono`: the same instant on the monotonic clock that paces the publishers (see lagGrowthOf).
        p.appeared.push({ seq: s.seq, duration: s.duration, at: mtimeMs, mono: performance.now() - (Date.now() - mtimeMs) });
        p.lastSeq = s.seq;
      }
      if (p.appeared.length > 4000) p.appeared.splice(0, p.appeared.length - 4000); // bounded memory
    }
  }

  /**
   * Timeliness of every watched playlist over [t0, t1] (wall-clock ms): EXTINF of the segments that
   * appeared, the intervals between appearances (from the last one before t0), the longest gap
   * without a new segment (up to t1), and media seconds gained per wall second.
   */
  windowReport(t0, t1, peerIds) {
    const target = this.targetSeconds;
    const wanted = peerIds ? new Set(peerIds) : undefined;
    const perPlaylist = [];
    for (const p of this.playlists.values()) {
      if (wanted && !wanted.has(p.peerId)) continue;
      const before = p.appeared.filter((a) => a.at < t0).at(-1);
      const inside = p.appeared.filter((a) => a.at >= t0 && a.at <= t1);
      const times = [...(before ? [before.at] : [t0]), ...inside.map((a) => a.at)];
      const intervals = [];
      for (let i = 1; i < times.length; i++) intervals.push((times[i] - times[i - 1]) / 1000);
      const firstIsAnchor = !!before;
      const measuredIntervals = firstIsAnchor ? intervals : intervals.slice(1);
      const maxGap = Math.max(...intervals, (t1 - times.at(-1)) / 1000);
      const durations = inside.map((a) => a.duration);
      const rateSpan = inside.length >= 2 ? (inside.at(-1).at - inside[0].at) / 1000 : 0;
      const rate = rateSpan > 0 ? inside.slice(1).reduce((s, a) => s + a.duration, 0) / rateSpan : undefined;
      const lateIntervals = measuredIntervals.filter((v) => v > 1.5 * target).length;
      const lagGrowth = lagGrowthOf(before, inside);
      const longSegments = durations.filter((d) => d > 1.5 * target).length;
      const stalled = maxGap > 3 * target || inside.length === 0;
      const slow = rate !== undefined && rate < 0.9;
      perPlaylist.push({
        peerId: p.peerId,
        kind: p.kind,
        segments: inside.length,
        extinfMedian: percentile(durations, 50),
        extinfMax: durations.length ? Math.max(...durations) : undefined,
        intervalMedian: percentile(measuredIntervals, 50),
        intervalP95: percentile(measuredIntervals, 95),
        intervalMax: measuredIntervals.length ? Math.max(...measuredIntervals) : undefined,
        maxGap,
        rate,
        lateIntervals,
        intervals: measuredIntervals.length,
        longSegments,
        batched: p.batched,
        ended: p.ended,
        stalled,
        lagGrowth,
        // A stream falls behind: no new segment for 3 targets, a segment > 1.5 targets long, media
        // advancing at < 0.9x real time, or more than one late (> 1.5 target) advance in the window.
        behind: stalled || longSegments > 0 || slow || lateIntervals > 1 || p.ended,
        lagging: lagGrowth !== undefined && lagGrowth > MAX_LAG_GROWTH_SECONDS,
      });
    }
    const all = (f) => perPlaylist.flatMap(f);
    return {
      playlists: perPlaylist.length,
      segments: perPlaylist.reduce((s, p) => s + p.segments, 0),
      extinfMedian: round(
        percentile(
          all((p) => (p.extinfMedian !== undefined ? [p.extinfMedian] : [])),
          50,
        ),
      ),
      extinfMax: round(Math.max(0, ...all((p) => (p.extinfMax !== undefined ? [p.extinfMax] : [])))),
      intervalMedian: round(
        percentile(
          all((p) => (p.intervalMedian !== undefined ? [p.intervalMedian] : [])),
          50,
        ),
      ),
      intervalP95: round(
        percentile(
          all((p) => (p.intervalP95 !== undefined ? [p.intervalP95] : [])),
          95,
        ),
      ),
      intervalMax: round(Math.max(0, ...all((p) => (p.intervalMax !== undefined ? [p.intervalMax] : [])))),
      maxGap: round(Math.max(0, ...perPlaylist.map((p) => p.maxGap))),
      rateMin: round(Math.min(...all((p) => (p.rate !== undefined ? [p.rate] : [])))),
      intervals: perPlaylist.reduce((s, p) => s + p.intervals, 0),
      lateIntervals: perPlaylist.reduce((s, p) => s + p.lateIntervals, 0),
      longSegments: perPlaylist.reduce((s, p) => s + p.longSegments, 0),
      stalledPlaylists: perPlaylist.filter((p) => p.stalled).length,
      behindPeers: [...new Set(perPlaylist.filter((p) => p.behind).map((p) => p.peerId))],
      lagGrowthMax: round(Math.max(...all((p) => (p.lagGrowth !== undefined ? [p.lagGrowth] : [])))),
      laggingPeers: [...new Set(perPlaylist.filter((p) => p.lagging).map((p) => p.peerId))],
      unmeasuredPlaylists: perPlaylist.filter((p) => p.lagGrowth === undefined).length,
      perPlaylist,
    };
  }
}

async function getText(url, timeoutMs) {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { 'cache-control': 'no-cache' } });
  if (!res.ok) return undefined;
  return res.text();
}

/**
 * How much a playlist's media time fell behind wall time over a window: lag(t) = wall time since
 * the anchor - media time (EXTINF) added since, at each segment's appearance; growth = the mean lag
 * of the last three appearances - that of the first three (the anchor, the last appearance before
 * the window, counts as one with lag 0), so one segment published a little late or early does not
 * decide it. A stream at 0.97x real time grows 0.6 s in 20 s. Undefined with under 4 appearances.
 * Wall time here is the monotonic clock that paces the generator's media, not the realtime clock:
 * on these VMs the two differ by 0.5 %, which would read as 0.15 s of lag per 30 s that the server
 * did not cause.
 */
export function lagGrowthOf(before, inside) {
  const points = before ? [before, ...inside] : inside;
  if (points.length < 4) return undefined;
  const lags = [0];
  let media = 0;
  for (let i = 1; i < points.length; i++) {
    media += points[i].duration;
    lags.push((points[i].mono - points[0].mono) / 1000 - media);
  }
  const k = Math.min(3, Math.floor(lags.length / 2));
  const mean = (list) => list.reduce((a, b) => a + b, 0) / list.length;
  return mean(lags.slice(-k)) - mean(lags.slice(0, k));
}

/**
 * Resolves with the wall-clock time at which the master was first playable over HTTP, or undefined
 * if it was not before `deadline` (wall-clock ms). With `hlsDir`, the master file's appearance on
 * disk (polled every `fileEveryMs`, free for the server) triggers the HTTP checks, so N joining
 * streams do not each cost the measured server 30 requests a second.
 */
export async function waitForPlayableMaster(serverUrl, peerId, deadline, { hlsDir, everyMs = 100, fileEveryMs = 25 } = {}) {
  const masterUrl = new URL(`/live/${peerId}.m3u8`, serverUrl);
  const masterFile = hlsDir && join(hlsDir, `${peerId}.m3u8`);
  for (let i = 0; i < 100_000 && wallNow() < deadline; i++) {
    if (masterFile && !existsSync(masterFile)) {
      await sleep(fileEveryMs);
      continue;
    }
    try {
      const master = await getText(masterUrl, 2000);
      if (master) {
        const uris = parseMasterPlaylist(master).uris;
        const media = await Promise.all(uris.map((u) => getText(new URL(u, masterUrl), 2000).catch(() => undefined)));
        if (uris.length > 0 && media.every((m) => m && /#EXTINF:/.test(m))) return wallNow();
      }
    } catch {
      // not answering yet: poll again
    }
    await sleep(everyMs);
  }
  return undefined;
}
