import { existsSync } from 'node:fs';
import { TranscoderService } from '../src/transcode/transcoder.service';
import { useHlsFixture } from './support/hls-fixture';
import { startApp, streamInfo, waitFor } from './support/app';
import { launchChromium } from './support/browser';
import { playlistState, readPlaylist, SseClient } from './support/hls';
import { playerState, playWithHlsJs, publishFromChromium, waitForNewSegments, waitUntilPlaying } from './support/publisher';

jest.setTimeout(120_000);

describe('HLS resilience: FFmpeg crash, late producer, port exhaustion', () => {
  const fx = useHlsFixture({ HLS_RETENTION_SECONDS: '0' });

  it('FFmpeg killed under a live stream restarts; the playlist goes on with a discontinuity and the viewer keeps playing', async () => {
    const transcoder = fx.app.app.get(TranscoderService);
    const { peerId } = await fx.goLive({ video: 'camera', audio: 'mic' });
    const viewer = await playWithHlsJs(fx.browser, fx.app.url, `${fx.app.url}/live/${peerId}.m3u8`);
    await waitUntilPlaying(viewer, 2);
    const [pid] = transcoder.pids();
    const before = (await readPlaylist(fx.app.hlsDir, `${peerId}-video.m3u8`))!;
    process.kill(pid, 'SIGKILL');
    await waitFor('a new FFmpeg', () => transcoder.pids().some((p) => p !== pid), 30_000);
    await waitForNewSegments(fx.app.hlsDir, `${peerId}-video.m3u8`, 3);
    const after = (await readPlaylist(fx.app.hlsDir, `${peerId}-video.m3u8`))!;
    // One discontinuity more than before the kill (counted as the sequence plus the tags listed).
    const changes = (text: string) => playlistState(text).discontinuitySequence + playlistState(text).discontinuities;
    expect(changes(after.text)).toBeGreaterThan(changes(before.text));
    expect(after.mediaSequence).toBeGreaterThanOrEqual(before.mediaSequence);
    const numbers = after.segments.map((s) => Number(/_(\d+)\.ts$/.exec(s.uri)![1]));
    expect([...numbers].sort((a, b) => a - b)).toEqual(numbers); // numbering goes on, nothing overwritten
    const t0 = (await playerState(viewer)).currentTime;
    await waitFor('viewer still advancing', async () => (await playerState(viewer)).currentTime > t0 + 2, 30_000);
    expect((await playerState(viewer)).fatalErrors).toEqual([]);
    expect((await streamInfo(fx.app, peerId)).restarts).toBe(1);
  });

  it('audio arriving long after video joins the same stream: restart with a discontinuity, audio in the master', async () => {
    const { page, peerId } = await fx.goLive({ video: 'camera', audio: false });
    expect((await readPlaylist(fx.app.hlsDir, `${peerId}.m3u8`))!.text).not.toContain('AUDIO=');
    await page.evaluate(() => (window as any).harness.publish({ video: false, audio: 'mic' }));
    await waitFor(
      'audio group in the master',
      async () => (await readPlaylist(fx.app.hlsDir, `${peerId}.m3u8`))!.text.includes('AUDIO="aud"'),
      15_000,
    );
    // The restart counts as a discontinuity, and the video-only segments left with the master that
    // added audio: both playlists start at the same number, so a player starts where both have media.
    const video = (await readPlaylist(fx.app.hlsDir, `${peerId}-video.m3u8`))!;
    const audio = (await readPlaylist(fx.app.hlsDir, `${peerId}-audio.m3u8`))!;
    expect(video.text).toMatch(/#EXT-X-DISCONTINUITY-SEQUENCE:[1-9]/);
    expect(video.mediaSequence).toBe(audio.mediaSequence);
    const viewer = await playWithHlsJs(fx.browser, fx.app.url, `${fx.app.url}/live/${peerId}.m3u8`);
    const asked = Date.now();
    try {
      await waitUntilPlaying(viewer, 1);
      console.log(`late audio: a new viewer played 1 s ${Date.now() - asked} ms after loading the master`);
    } catch (error) {
      // What the player was given, to tell a packaging fault from a player one.
      for (const name of [`${peerId}.m3u8`, `${peerId}-video.m3u8`, `${peerId}-audio.m3u8`]) {
        console.error(`${name}:\n${(await readPlaylist(fx.app.hlsDir, name))?.text}`);
      }
      throw error;
    }
  });

  it('with retention 0 the files go as soon as FFmpeg has exited', async () => {
    const { page, peerId } = await fx.goLive({ video: 'camera', audio: 'mic' });
    await page.close();
    await fx.waitForLeft(peerId);
    await waitFor('files gone', () => !existsSync(`${fx.app.hlsDir}/${peerId}.m3u8`), 20_000);
  });
});

describe('HLS when FFmpeg ports run out', () => {
  it('answers a clear error to the publisher that does not fit, and serves the one that does', async () => {
    const app = await startApp({ FFMPEG_MIN_PORT: '23000', FFMPEG_MAX_PORT: '23007' });
    const browser = await launchChromium();
    const sse = new SseClient(`${app.url}/api/live-streams`);
    try {
      const first = await publishFromChromium(browser, app.url, { video: 'camera', audio: 'mic' });
      await waitFor('first live', () => sse.find('peerLive', first.peerId), 20_000);
      const second = await publishFromChromium(browser, app.url, { video: 'camera', audio: 'mic' });
      const error = await waitFor('error at the second publisher', () =>
        second.page.evaluate(() => (window as any).harness.events.find((e: { name: string }) => e.name === 'error')),
      );
      expect(error.data).toMatchObject({ code: 'HLS_FAILED' });
      expect(error.data.error).toMatch(/no free FFmpeg ports left in 23000-23007/);
      const firstEvents = await first.page.evaluate(() => (window as any).harness.events.map((e: { name: string }) => e.name));
      expect(firstEvents).not.toContain('error');
      await waitForNewSegments(app.hlsDir, `${first.peerId}-video.m3u8`, 2);
    } finally {
      sse.close();
      await browser.close();
      await app.close();
    }
  });
});

describe('HLS_PROFILE=legacy (the original design, kept to benchmark against)', () => {
  it('re-encodes video at 15 fps in its own FFmpeg and audio in another, and still goes live', async () => {
    const app = await startApp({ HLS_PROFILE: 'legacy' });
    const browser = await launchChromium();
    const sse = new SseClient(`${app.url}/api/live-streams`);
    try {
      const { peerId } = await publishFromChromium(browser, app.url, { video: 'camera', audio: 'mic' });
      await waitFor('live', () => sse.find('peerLive', peerId), 20_000);
      expect(app.app.get(TranscoderService).pids()).toHaveLength(2);
      const info = await streamInfo(app, peerId);
      expect(info.tracks.video).toMatchObject({ codecIn: 'H264', mode: 'transcode' });
    } finally {
      sse.close();
      await browser.close();
      await app.close();
    }
  });
});
