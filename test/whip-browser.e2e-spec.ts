/**
 * WHIP from a browser: whip-whep's WHIPClient (npm, by one of the WHIP specification's authors)
 * publishing Chromium's camera and microphone, on the real server, with PUBLISH_AUTH off (no token)
 * and STREAM_TAKEOVER on.
 */
import type { Browser, Page } from 'playwright-core';
import { startApp, streamInfo, TestApp, waitFor } from './support/app';
import { launchChromium } from './support/browser';
import { readPlaylist, SseClient } from './support/hls';
import { openTestPage } from './support/pages';
import { playerState, playWithHlsJs, waitForNewSegments, waitUntilPlaying } from './support/publisher';
import { serverCounts, whipRequest } from './support/whip';

jest.setTimeout(240_000);

const TIMEOUT_S = 3;
const GRACE_S = 8;

interface Published {
  location: string;
  etag: string;
  postStartedAt: number;
}

describe('WHIP from Chromium with whip-whep', () => {
  let app: TestApp;
  let browser: Browser;
  let sse: SseClient;

  beforeAll(async () => {
    app = await startApp({
      MEDIASOUP_WORKERS: '1',
      PUBLISHER_TIMEOUT_SECONDS: String(TIMEOUT_S),
      STREAM_RECONNECT_GRACE_SECONDS: String(GRACE_S),
      STREAM_TAKEOVER: 'true',
      HLS_RETENTION_SECONDS: '30',
    });
    browser = await launchChromium();
    sse = new SseClient(`${app.url}/api/live-streams`);
  });
  afterEach(async () => {
    for (const context of browser?.contexts() ?? []) await context.close();
  });
  afterAll(async () => {
    sse?.close();
    await browser?.close();
    await app?.close();
  });

  async function publish(name: string, codec: 'H264' | 'VP8'): Promise<{ page: Page; published: Published }> {
    const page = await openTestPage(browser, app.url, 'whip');
    const published: Published = await page.evaluate(([url, c]) => (window as any).whip.publish(url, { codec: c }), [
      `${app.url}/whip/${name}`,
      codec,
    ] as const);
    return { page, published };
  }

  it.each([
    ['H264', 'copy'],
    ['VP8', 'transcode'],
  ] as const)('%s: goes live, is listed by SSE and REST, plays in hls.js, ends on DELETE', async (codec, mode) => {
    const name = `cam-${codec.toLowerCase()}`;
    const { page, published } = await publish(name, codec);
    expect(published.location).toMatch(new RegExp(`^${app.url}/whip/${name}/[A-Za-z0-9_-]{32}$`));
    await waitFor(
      'ICE and DTLS connected',
      async () => (await page.evaluate(() => (window as any).whip.state())).connection === 'connected',
      20_000,
    );
    expect((await page.evaluate(() => (window as any).whip.state())).codec).toBe(`video/${codec}`);

    await waitFor(`SSE peerLive for ${name}`, () => sse.find('peerLive', name), 30_000);
    const info = await streamInfo(app, name);
    expect(info).toMatchObject({
      state: 'live',
      named: true,
      tracks: { video: { codecIn: codec, codecOut: 'H264', mode, source: 'rtp' }, audio: { codecIn: 'opus' } },
    });
    const listed = (await (await fetch(`${app.url}/api/streams?state=live`)).json()) as Array<{ peerId: string }>;
    expect(listed.map((s) => s.peerId)).toContain(name);

    const viewer = await playWithHlsJs(browser, app.url, `${app.url}/live/${name}.m3u8`);
    const playing = await waitUntilPlaying(viewer, 2, 60_000);
    expect(playing.videoWidth).toBe(640);
    expect(playing.fatalErrors).toEqual([]);

    // It answers keyframe requests: over a full window of keyframes (five intervals; six more
    // segments), no notice that keyframes come too seldom.
    await waitForNewSegments(app.hlsDir, `${name}-video.m3u8`, 6, 30_000);
    expect((await streamInfo(app, name)).notices).toEqual([]);

    // whip-whep trickles its candidates by PATCH with the ETag: each one taken (204).
    const requests: Array<{ method: string; status: number }> = await page.evaluate(() => (window as any).whip.requests);
    expect(requests[0]).toMatchObject({ method: 'POST', status: 201 });
    const patches = requests.filter((r) => r.method === 'PATCH');
    expect(patches.length).toBeGreaterThan(0);
    expect(patches.every((r) => r.status === 204)).toBe(true);

    // stop(): the peer connection closes, then DELETE; the stream ends at once (no grace period).
    expect(await page.evaluate(() => (window as any).whip.stop())).toBe(200);
    expect((await streamInfo(app, name)).state).toBe('ended');
    expect((await readPlaylist(app.hlsDir, `${name}-video.m3u8`))!.ended).toBe(true);
    await waitFor(`SSE peerLeft for ${name}`, () => sse.find('peerLeft', name));
    expect(sse.events.filter((e) => e.data?.peerId === name).map((e) => e.type)).toEqual(['peerLive', 'peerLeft']);
  });

  it('a killed page gets the grace period: parked, no peerLeft until it has passed', async () => {
    const name = 'cam-killed';
    const { page } = await publish(name, 'H264');
    await waitFor(`SSE peerLive for ${name}`, () => sse.find('peerLive', name), 30_000);
    // The renderer dies: no DELETE, not even a DTLS close; only silence tells.
    const cdp = await page.context().newCDPSession(page);
    const killedAt = Date.now();
    void cdp.send('Page.crash').catch(() => undefined);
    await waitFor(`${name} parked`, async () => (await streamInfo(app, name)).state === 'parked', 20_000);
    expect(sse.find('peerLeft', name)).toBeUndefined();
    const left = await waitFor(`SSE peerLeft for ${name}`, () => sse.find('peerLeft', name), (TIMEOUT_S + GRACE_S + 20) * 1000, 200);
    expect(left.receivedAt - killedAt).toBeGreaterThanOrEqual((TIMEOUT_S + GRACE_S) * 1000 - 200);
    expect((await readPlaylist(app.hlsDir, `${name}-video.m3u8`))!.ended).toBe(true);
  });

  it('with STREAM_TAKEOVER=true a second browser takes a live stream over: the viewer keeps playing, the first session is over', async () => {
    const name = 'shared';
    const first = await publish(name, 'H264');
    await waitFor(`SSE peerLive for ${name}`, () => sse.find('peerLive', name), 30_000);
    const firstPublisher = (await streamInfo(app, name)).publisherId;
    const viewer = await playWithHlsJs(browser, app.url, `${app.url}/live/${name}.m3u8`);
    await waitUntilPlaying(viewer, 2, 60_000);

    const second = await publish(name, 'H264');
    await waitFor(`SSE publisherChanged for ${name}`, () => sse.find('publisherChanged', name), 30_000);
    const info = await waitFor(
      'the second browser feeds the stream',
      async () => {
        const i = await streamInfo(app, name);
        return i.publisherId !== firstPublisher && i.tracks.video?.source === 'rtp' ? i : undefined;
      },
      30_000,
    );
    expect(info.state).toBe('live');
    // The first session ended with the takeover: its URL leads nowhere.
    const patched = await whipRequest(first.published.location, {
      method: 'PATCH',
      contentType: 'application/trickle-ice-sdpfrag',
      body: 'a=end-of-candidates\r\n',
    });
    expect(patched.status).toBe(404);
    const before = await playerState(viewer);
    await waitFor('viewer keeps playing', async () => (await playerState(viewer)).currentTime > before.currentTime + 3, 30_000);
    const after = await playerState(viewer);
    expect(after.fatalErrors).toEqual([]);
    expect(after.manifestLoads).toBe(1);

    expect(await second.page.evaluate(() => (window as any).whip.stop())).toBe(200);
    await waitFor(`SSE peerLeft for ${name}`, () => sse.find('peerLeft', name));
    expect(sse.events.filter((e) => e.data?.peerId === name).map((e) => e.type)).toEqual(['peerLive', 'publisherChanged', 'peerLeft']);
    expect(await serverCounts(app.url)).toEqual({ peers: 0, ffmpeg: 0 });
  });
});
