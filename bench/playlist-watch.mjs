// Segment timeliness and time-to-playable, as a viewer would see them.
//
// PlaylistWatcher polls the public media playlists in HLS_DIR (the very files /live serves) rather
// than over HTTP, so that watching 2N playlists costs the measured server nothing. A playlist's
// mtime is the moment the server rewrote it, i.e. when its new segment appeared: the interval
// between appearances is measured to the millisecond whatever the polling period.
//
// waitForPlayableMaster polls over HTTP, like a player: GET /live/<peer>.m3u8 answers 200 and
// every media playlist it names answers 200 with at least one segment.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { percentile, round, sleep, wallNow } from './stats.mjs';

/** Parses a media playlist: media sequence, target duration, segments, discontinuities, ENDLIST. */
export function parseMediaPlaylist(text) {
  const lines = text.split('\n');
  const mediaSequence = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0);
  const target = Number(/#EXT-X-TARGETDURATION:(\d+)/.exec(text)?.[1] ?? NaN);
  const segments = [];
  let discontinuities = 0;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].startsWith('#EXT-X-DISCONTINUITY') && !lines[i].startsWith('#EXT-X-DISCONTINUITY-SEQUENCE')) discontinuities++;
    const m = /^#EXTINF:([\d.]+)/.exec(lines[i]);
    if (m && lines[i + 1] && !lines[i + 1].startsWith('#')) segments.push({ duration: Number(m[1]), uri: lines[i + 1].trim() });
  }
  const discontinuitySequence = Number(/#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0);
  return { mediaSequence, target, segments, discontinuities, discontinuitySequence, ended: text.includes('#EXT-X-ENDLIST') };
}

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
        this.playlists.set(key, { peerId, kind, path: join(this.hlsDir, `${peerId}-${kind}.m3u8`), mtimeMs: 0, lastSeq: -1, appeared: [], batched: 0, ended: false, discontinuitySequence: 0 });
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
      const fresh = parsed.segments
        .map((s, i) => ({ ...s, seq: parsed.mediaSequence + i }))
        .filter((s) => s.seq > p.lastSeq);
      if (fresh.length > 1 && p.lastSeq >= 0) p.batched += fresh.length - 1; // versions written between two polls
      for (const s of fresh) {
        p.appeared.push({ seq: s.seq, duration: s.duration, at: mtimeMs });
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
        // A stream falls behind: no new segment for 3 targets, a segment > 1.5 targets long, media
        // advancing at < 0.9x real time, or more than one late (> 1.5 target) advance in the window.
        behind: stalled || longSegments > 0 || slow || lateIntervals > 1 || p.ended,
      });
    }
    const all = (f) => perPlaylist.flatMap(f);
    return {
      playlists: perPlaylist.length,
      segments: perPlaylist.reduce((s, p) => s + p.segments, 0),
      extinfMedian: round(percentile(all((p) => (p.extinfMedian !== undefined ? [p.extinfMedian] : [])), 50)),
      extinfMax: round(Math.max(0, ...all((p) => (p.extinfMax !== undefined ? [p.extinfMax] : [])))),
      intervalMedian: round(percentile(all((p) => (p.intervalMedian !== undefined ? [p.intervalMedian] : [])), 50)),
      intervalP95: round(percentile(all((p) => (p.intervalP95 !== undefined ? [p.intervalP95] : [])), 95)),
      intervalMax: round(Math.max(0, ...all((p) => (p.intervalMax !== undefined ? [p.intervalMax] : [])))),
      maxGap: round(Math.max(0, ...perPlaylist.map((p) => p.maxGap))),
      rateMin: round(Math.min(...all((p) => (p.rate !== undefined ? [p.rate] : [])))),
      intervals: perPlaylist.reduce((s, p) => s + p.intervals, 0),
      lateIntervals: perPlaylist.reduce((s, p) => s + p.lateIntervals, 0),
      longSegments: perPlaylist.reduce((s, p) => s + p.longSegments, 0),
      stalledPlaylists: perPlaylist.filter((p) => p.stalled).length,
      behindPeers: [...new Set(perPlaylist.filter((p) => p.behind).map((p) => p.peerId))],
      perPlaylist,
    };
  }
}

async function getText(url, timeoutMs) {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { 'cache-control': 'no-cache' } });
  if (!res.ok) return undefined;
  return res.text();
}

/** Media playlist URIs a master names (EXT-X-STREAM-INF lines and EXT-X-MEDIA URI attributes). */
export function masterUris(text) {
  const uris = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t) continue;
    if (!t.startsWith('#')) uris.push(t);
    const m = /URI="([^"]+)"/.exec(t);
    if (m) uris.push(m[1]);
  }
  return [...new Set(uris)];
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
        const uris = masterUris(master);
        const media = await Promise.all(uris.map((u) => getText(new URL(u, masterUrl), 2000).catch(() => undefined)));
        if (uris.length > 0 && media.every((m) => m && /#EXTINF:/.test(m))) return wallNow();
      }
    } catch {}
    await sleep(everyMs);
  }
  return undefined;
}
