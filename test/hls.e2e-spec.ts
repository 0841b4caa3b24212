import type { Browser, Page } from 'playwright-core';
import { join } from 'node:path';
import { startApp, TestApp, waitFor } from './support/app';
import { launchChromium } from './support/browser';
import { ffprobe, readPlaylist, SseClient } from './support/hls';
import { openTestPage } from './support/pages';

jest.setTimeout(120_000);

describe('HLS from a Chromium publisher (real worker, FFmpeg, Chromium)', () => {
  let app: TestApp;
  let browser: Browser;
  let sse: SseClient;

  beforeAll(async () => {
    app = await startApp({ HLS_RETENTION_SECONDS: '2' });
    browser = await launchChromium();
    sse = new SseClient(`${app.url}/api/live-streams`);
  });

  afterAll(async () => {
    sse?.close();
    await browser?.close();
    await app?.close();
  });

  async function publish(options: Record<string, unknown>): Promise<{ page: Page; peerId: string }> {
    const page = await openTestPage(browser, app.url, 'harness');
    const peerId = await page.evaluate(() => (window as any).harness.connect());
    await page.evaluate((o) => (window as any).harness.publish(o), options);
    return { page, peerId };
  }

  it('(a) H264 + Opus from the fake camera: peerLive, valid playlists, copied H264 + AAC, hls.js plays', async () => {
    const producedAt = Date.now();
    const { page, peerId } = await publish({ video: 'camera', audio: 'mic', codec: 'H264' });
    await waitFor('SSE peerLive', () => sse.find('peerLive', peerId), 20_000);
    const liveAfterMs = Date.now() - producedAt;

    const master = await readPlaylist(app.hlsDir, `${peerId}.m3u8`);
    expect(master!.text.startsWith('#EXTM3U\n')).toBe(true);
    const video = await readPlaylist(app.hlsDir, `${peerId}-video.m3u8`);
    const audio = await readPlaylist(app.hlsDir, `${peerId}-audio.m3u8`);
    expect(video!.segments.length).toBeGreaterThan(0);
    expect(audio!.segments.length).toBeGreaterThan(0);
    expect(video!.segments[0].uri).toBe(`video_${peerId}_001.ts`);
    expect(audio!.segments[0].uri).toBe(`audio_${peerId}_001.ts`);

    // Chromium starts below the capture size while its bandwidth estimate ramps up; once it sends
    // 640x480, the copied segments and the master must say so.
    const latest = await waitFor('a 640x480 segment', async () => {
      const list = await readPlaylist(app.hlsDir, `${peerId}-video.m3u8`);
      const uri = list!.segments.at(-1)!.uri;
      const v = (await ffprobe(join(app.hlsDir, uri))).streams.find((s) => s.codec_type === 'video')!;
      return v.width === 640 && v.height === 480 ? v : undefined;
    }, 30_000, 500);
    expect(latest.codec_name).toBe('h264');
    const audioNow = await readPlaylist(app.hlsDir, `${peerId}-audio.m3u8`);
    const a = (await ffprobe(join(app.hlsDir, audioNow!.segments.at(-1)!.uri))).streams[0];
    expect(a.codec_name).toBe('aac');
    const master2 = await waitFor('master with RESOLUTION=640x480', async () => {
      const text = (await readPlaylist(app.hlsDir, `${peerId}.m3u8`))!.text;
      return text.includes('RESOLUTION=640x480') ? text : undefined;
    }, 5_000);
    const profileHex = (latest.profile === 'Constrained Baseline' ? '42' : 'xx');
    expect(master2).toMatch(new RegExp(`CODECS="avc1\\.${profileHex}[0-9a-f]{2}${(latest.level ?? 0).toString(16).padStart(2, '0')},mp4a\\.40\\.2"`));

    const info = await (await fetch(`${app.url}/api/streams/${peerId}`)).json();
    expect(info.tracks.video).toMatchObject({ codecIn: 'H264', mode: 'copy', resolution: '640x480' });

    const viewer = await openTestPage(browser, app.url, 'player');
    await viewer.evaluate((url) => (window as any).player.play(url), `${app.url}/live/${peerId}.m3u8`);
    const playing = await waitFor('hls.js playing', async () => {
      const s = await viewer.evaluate(() => (window as any).player.state());
      return s.currentTime > 2 && s.videoWidth > 0 ? s : undefined;
    }, 30_000);
    console.log(`(a) live after ${liveAfterMs} ms; player state`, playing);
    await viewer.close();
    await page.close();
    await waitFor('SSE peerLeft', () => sse.find('peerLeft', peerId), 15_000);
    const ended = await readPlaylist(app.hlsDir, `${peerId}-video.m3u8`);
    expect(ended?.ended).toBe(true);
  });
});
