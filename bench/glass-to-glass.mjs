// Glass-to-glass latency: a Chromium page publishes a canvas whose frames carry Date.now() as blocks
// (browser/stamp-publisher.js), another page of the SAME Chromium (same clock) plays the HLS output
// with hls.js defaults and reads the blocks back from every presented frame (browser/stamp-player.js).
// The pages are served through playwright's page.route on the service's own origin (getUserMedia and
// captureStream want a 127.0.0.1 origin; same-origin avoids CORS), as test/support/pages.ts does.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { percentile, round, sleep, wallNow, withTimeout } from './stats.mjs';
import { waitForPlayableMaster } from './playlist-watch.mjs';

const require = createRequire(import.meta.url);

// The same flags as the browser tests (offline, as root, fake devices).
export const CHROMIUM_FLAGS = require('../test/support/chromium-flags.json');

let bundles;
function bundle() {
  if (!bundles) {
    const { buildSync } = require('esbuild');
    const build = (file) =>
      buildSync({
        entryPoints: [fileURLToPath(new URL(`./browser/${file}`, import.meta.url))],
        bundle: true,
        write: false,
        format: 'iife',
        target: 'es2020',
        logLevel: 'silent',
      }).outputFiles[0].text;
    bundles = { publisher: build('stamp-publisher.js'), player: build('stamp-player.js') };
  }
  return bundles;
}

async function openPage(browser, serverUrl, which, log) {
  const page = await browser.newPage();
  const path = `/__bench/${which}.html`;
  await page.route(`${serverUrl}${path}`, (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><html><body><script>${bundle()[which].replace(/<\/script>/g, '<\\/script>')}</script></body></html>`,
    }),
  );
  page.on('pageerror', (error) => log(`[${which} page] ${error.message}`));
  await page.goto(`${serverUrl}${path}`);
  return page;
}

/** Where the server announces a Low-Latency master for `peerId`: the SSE peerLive event or GET /api/streams/:id. */
async function lowLatencyMaster(serverUrl, live, peerId) {
  const fromSse = live.livePayload?.(peerId)?.llMasterUrl;
  if (fromSse) return new URL(fromSse, serverUrl).href;
  try {
    const res = await fetch(new URL(`/api/streams/${peerId}`, serverUrl), { signal: AbortSignal.timeout(3000) });
    const url = res.ok ? (await res.json()).llMasterUrl : undefined;
    return url ? new URL(url, serverUrl).href : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `sessionCount` fresh players one after the other on `url`, each collecting for `seconds /
 * sessionCount` after `settleSeconds` of playing: where a player starts within a segment (and any
 * stall, which hls.js's defaults never catch up on) sets its latency, so one session is one draw.
 * Stalls ('waiting' while playing) are counted over each session's whole playback.
 */
async function playSessions(browser, serverUrl, url, config, { seconds, sessionCount, settleSeconds, log }) {
  const sessions = [];
  const samples = [];
  const hlsLatency = [];
  let stalls = 0;
  let playingSeconds = 0;
  for (let i = 0; i < sessionCount; i++) {
    const playerPage = await openPage(browser, serverUrl, 'player', log);
    await playerPage.evaluate(([u, c]) => window.stampPlayer.play(u, c), [url, config]);
    const deadline = Date.now() + 20_000;
    for (let j = 0; j < 200 && Date.now() < deadline; j++) {
      if ((await playerPage.evaluate(() => window.stampPlayer.frames)) > 10) break;
      await sleep(100);
    }
    await sleep(settleSeconds * 1000);
    await playerPage.evaluate(() => window.stampPlayer.collect(true));
    await sleep((seconds / sessionCount) * 1000);
    const report = await playerPage.evaluate(() => {
      window.stampPlayer.collect(false);
      return window.stampPlayer.report();
    });
    await playerPage.close();
    samples.push(...report.samples);
    hlsLatency.push(...report.hlsLatencySeconds);
    stalls += report.stalls;
    playingSeconds += report.playingSeconds;
    sessions.push({
      samples: report.samples.length,
      unreadableFrames: report.unreadable,
      medianMs: round(percentile(report.samples, 50), 0),
      p95Ms: round(percentile(report.samples, 95), 0),
      hlsJsLatencyMedianS: round(percentile(report.hlsLatencySeconds, 50), 2),
      hlsJsTargetLatencyS: round(report.targetLatency, 2),
      resolution: `${report.videoWidth}x${report.videoHeight}`,
      stalls: report.stalls,
      playingSeconds: round(report.playingSeconds, 1),
      hlsLog: report.hlsLog, // only for a player that stalled: what hls.js did up to the stall
      playerErrors: report.errors.slice(0, 5),
      droppedFrames: report.droppedFrames,
    });
  }
  return {
    url,
    config,
    samples: samples.length,
    unreadableFrames: sessions.reduce((s, x) => s + x.unreadableFrames, 0),
    medianMs: round(percentile(samples, 50), 0),
    p95Ms: round(percentile(samples, 95), 0),
    minMs: round(samples.length ? Math.min(...samples) : undefined, 0),
    maxMs: round(samples.length ? Math.max(...samples) : undefined, 0),
    hlsJsLatencyMedianS: round(percentile(hlsLatency, 50), 2),
    stalls,
    playingSeconds: round(playingSeconds, 1),
    stallsPerMinute: playingSeconds > 0 ? round((stalls * 60) / playingSeconds, 2) : undefined,
    resolution: sessions.at(-1)?.resolution,
    sessions,
  };
}

/**
 * Publishes one stamped stream from Chromium and measures glass-to-glass latency over `seconds` of
 * playback with hls.js defaults on the classic master and, when the server announces a Low-Latency
 * master (`llMasterUrl`), then with `lowLatencyMode: true` on that one.
 * `live` is the harness's SSE watcher (peerLive times and payloads).
 */
export async function measureGlassToGlass({
  serverUrl,
  hlsDir,
  live,
  seconds = 16,
  sessionCount = 3,
  settleSeconds = 3,
  chromiumPath = '/usr/bin/chromium',
  log = () => {},
}) {
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? chromiumPath,
    headless: true,
    args: CHROMIUM_FLAGS,
  });
  const result = {
    player: 'hls.js 1.7: classic master with default settings (new Hls()); Low-Latency master with { lowLatencyMode: true }',
  };
  try {
    const publisherPage = await openPage(browser, serverUrl, 'publisher', log);
    const { peerId, connectedAt } = await withTimeout(
      publisherPage.evaluate(() => window.stampPublisher.publish()),
      30_000,
      'Chromium publisher did not connect within 30 s',
    );
    result.peerId = peerId;
    const liveAt = await live.waitForLive(peerId, 20_000).catch(() => undefined);
    const playableAt = await waitForPlayableMaster(serverUrl, peerId, wallNow() + 20_000, { hlsDir });
    result.produceToLiveMs = liveAt && round(liveAt - connectedAt, 0);
    result.produceToPlayableMs = playableAt && round(playableAt - connectedAt, 0);
    if (!playableAt) throw new Error('the Chromium stream never became playable');
    const llUrl = await lowLatencyMaster(serverUrl, live, peerId);
    const options = { seconds, sessionCount, settleSeconds, log };
    // One layout after the other, never both players at once: they share the harness's core with the
    // Chromium publisher's encoder, and two players starting together saturated it (measured: Low-Latency
    // medians of 1.47-2.41 s beside a classic player, 1.02-1.26 s alone). A player that starts slowly
    // starts further behind, and hls.js's defaults never catch up; a viewer has a machine of its own.
    const classic = await playSessions(browser, serverUrl, `${serverUrl}/live/${peerId}.m3u8`, undefined, options);
    const lowLatency = llUrl ? await playSessions(browser, serverUrl, llUrl, { lowLatencyMode: true }, options) : undefined;
    Object.assign(result, classic, { seconds, lowLatency });
    result.publisherVideo = await publisherPage.evaluate(() => window.stampPublisher.stats()).catch((e) => ({ error: String(e) }));
    await publisherPage.evaluate(() => window.stampPublisher.close()).catch(() => undefined);
    await live.waitForLeft?.(peerId, 15_000).catch(() => undefined);
  } finally {
    await browser.close().catch(() => undefined);
  }
  return result;
}
