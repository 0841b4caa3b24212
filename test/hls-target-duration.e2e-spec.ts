/**
 * EXT-X-TARGETDURATION never changes (issue 11, item 4; RFC 8216 6.2.1), under a publisher the server
 * cannot steer: keyframes only every 2 s and keyframe requests ignored, as OBS publishes. The
 * publisher is the bench's load generator (node-datachannel: real ICE, DTLS, SRTP) sending a
 * pre-encoded H264 file through the socket.io protocol; the viewer is hls.js in Chromium.
 */
import type { Browser, Response } from 'playwright-core';
import { startApp, streamInfo, TestApp, waitFor } from './support/app';
import { startBenchPublisher, BenchPublisher } from './support/bench-publisher';
import { launchChromium } from './support/browser';
import { SseClient } from './support/hls';
import { FetchedPlaylist, parsePlaylistSegments, PlaylistWatch } from './support/playlist-watch';
import { openTestPage } from './support/pages';
import { longestStall, playerStalls, waitUntilPlaying } from './support/publisher';

jest.setTimeout(180_000);

const GOP_SECONDS = 2;
const LIST_SIZE = 6;

describe('TARGETDURATION under a publisher whose keyframes come late (2 s GOP, requests ignored)', () => {
  let app: TestApp;
  let browser: Browser;
  let publisher: BenchPublisher | undefined;

  beforeAll(async () => {
    app = await startApp({ HLS_RETENTION_SECONDS: process.env.KEEP ? '-1' : '0', HLS_LIST_SIZE: String(LIST_SIZE) });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await publisher?.stop();
    await browser?.close();
    await app?.close();
  });

  it('every playlist ever fetched has the same TARGETDURATION, every EXTINF rounds to at most it, the window spans 3 targets, and hls.js plays', async () => {
    const sse = new SseClient(`${app.url}/api/live-streams`);
    try {
      publisher = await startBenchPublisher({
        serverUrl: app.url,
        variant: 'h264',
        gopSeconds: GOP_SECONDS,
        answerKeyframeRequests: false,
      });
      const { peerId } = publisher;
      const names = [`${peerId}-video.m3u8`, `${peerId}-audio.m3u8`];
      // Watching from before the first playlist exists: the first one written is checked too.
      const watch = new PlaylistWatch(app.url, names, 100);
      await waitFor('peerLive', () => sse.find('peerLive', peerId), 30_000);

      // hls.js's own fetches count too: every media playlist it loads is kept.
      const playerFetched: FetchedPlaylist[] = [];
      const player = await openTestPage(browser, app.url, 'player');
      player.on('response', (response: Response) => {
        const name = new URL(response.url()).pathname.split('/').pop()!;
        if (!names.includes(name) || response.status() !== 200) return;
        void response.text().then(
          (text) => playerFetched.push({ name, at: Date.now(), text, ...parsePlaylistSegments(text) }),
          () => undefined,
        );
      });
      await player.evaluate((url) => (window as any).player.play(url), `${app.url}/live/${peerId}.m3u8`);
      await waitUntilPlaying(player, 2, 30_000);
      const from = Date.now();
      // Long enough for the window to slide: more segments than the list holds.
      await waitFor(
        `${LIST_SIZE + 3} more video segments`,
        () => watch.segments(names[0]).filter((s) => s.firstSeenAt >= from).length >= LIST_SIZE + 3,
        90_000,
        200,
      );
      await watch.stop();

      const fetched = [...watch.fetched, ...playerFetched];
      const targets = new Set(fetched.map((p) => p.targetDuration));
      const durations = watch.segments(names[0]).map((s) => s.duration.toFixed(2));
      console.log(
        `late keyframes: ${fetched.length} playlists fetched (${playerFetched.length} by hls.js), TARGETDURATION ${[...targets].join(',')}; ` +
          `video EXTINF ${durations.join(' ')}`,
      );
      // One value in every playlist ever fetched, fixed from the publisher's keyframe interval.
      expect([...targets]).toEqual([GOP_SECONDS]);
      expect(playerFetched.length).toBeGreaterThan(3);
      for (const playlist of fetched) {
        for (const segment of playlist.segments) expect(Math.round(segment.duration)).toBeLessThanOrEqual(playlist.targetDuration);
      }
      // Once segments leave the window, what stays spans at least three targets (RFC 8216 6.2.2).
      for (const name of names) {
        const firstSeq = Math.min(...watch.segments(name).map((s) => s.seq));
        const slid = fetched.filter((p) => p.name === name && p.segments[0] && p.segments[0].seq > firstSeq);
        expect(slid.length).toBeGreaterThan(0);
        for (const playlist of slid) {
          const span = playlist.segments.reduce((sum, s) => sum + s.duration, 0);
          expect(span).toBeGreaterThanOrEqual(3 * playlist.targetDuration);
        }
      }
      // hls.js plays through it: no stall past 2 s since it started, no fatal error, no restart.
      const { stalls, playingSince } = await playerStalls(player);
      expect(longestStall(stalls, playingSince)).toBeLessThanOrEqual(2000);
      expect((await player.evaluate(() => (window as any).player.state())).fatalErrors).toEqual([]);
      expect((await streamInfo(app, peerId)).restarts).toBe(0);
    } finally {
      sse.close();
    }
  });
});
