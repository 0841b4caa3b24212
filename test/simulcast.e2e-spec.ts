import type { Page } from 'playwright-core';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TsDemuxer } from '../src/media/ts-demuxer';
import { segmentNumber } from '../src/packaging/hls-names';
import { streamInfo, waitFor } from './support/app';
import { readPlaylist } from './support/hls';
import { useHlsFixture } from './support/hls-fixture';
import { playerState, playWithHlsJs, waitUntilPlaying } from './support/publisher';

jest.setTimeout(300_000);

/**
 * How long the alignment is measured. The target (99 % of segments within one frame over 2 minutes)
 * is measured with SIMULCAST_WINDOW_SECONDS=120 (README); the default run checks that alignment holds
 * by construction, allowing the rare segment a layer starts a few frames late (its keyframe came late
 * under load; the cut never starts a layer without one).
 */
const WINDOW_SECONDS = Number(process.env.SIMULCAST_WINDOW_SECONDS ?? 30);
const ALIGNED_SHARE = WINDOW_SECONDS >= 120 ? 0.99 : 0.9;
const FRAME_TICKS = 90_000 / 30;

async function firstPts(dir: string, name: string): Promise<number | undefined> {
  const data = await readFile(join(dir, name)).catch(() => undefined);
  if (!data) return undefined;
  let pts: number | undefined;
  const demuxer = new TsDemuxer((unit) => (pts ??= unit.pts));
  demuxer.push(data);
  demuxer.end();
  return pts;
}

const variantsOf = (master: string) =>
  [...master.matchAll(/#EXT-X-STREAM-INF:(.*)\n(.*)/g)].map(([, attrs, uri]) => ({
    uri,
    resolution: /RESOLUTION=(\d+x\d+)/.exec(attrs)?.[1],
    codecs: /CODECS="([^"]+)"/.exec(attrs)?.[1],
    bandwidth: Number(/BANDWIDTH=(\d+)/.exec(attrs)?.[1]),
  }));

describe('simulcast: every layer the original front end sends is its own copied rendition', () => {
  const fx = useHlsFixture({ HLS_RETENTION_SECONDS: '0', HLS_LIST_SIZE: '30' });

  it('1280x720 camera, three encodings (0.1/0.3/0.9 Mbit/s, S1T3): three renditions, each plays when forced, smooth switches, aligned segments', async () => {
    const { peerId } = await fx.goLive({ video: 'camera', audio: 'mic', codec: 'H264', simulcast: true, width: 1280, height: 720 }, 30_000);
    const master = (await readPlaylist(fx.app.hlsDir, `${peerId}.m3u8`))!.text;
    const variants = variantsOf(master);
    console.log(`simulcast master:\n${master}`);
    expect(variants.map((v) => v.uri)).toEqual([`${peerId}-video.m3u8`, `${peerId}-video.r1.m3u8`, `${peerId}-video.r0.m3u8`]);
    const heights = variants.map((v) => Number(v.resolution!.split('x')[1]));
    expect([...heights].sort((a, b) => b - a)).toEqual(heights); // top first, each smaller
    expect(new Set(heights).size).toBe(3);
    for (const v of variants) expect(v.codecs).toMatch(/^avc1\.[0-9a-f]{6},mp4a\.40\.2$/);
    expect(master.match(/#EXT-X-MEDIA:TYPE=AUDIO/g)).toHaveLength(1);

    // Each rendition plays when forced, with the size it says.
    const viewer: Page = await playWithHlsJs(fx.browser, fx.app.url, `${fx.app.url}/live/${peerId}.m3u8`);
    await waitUntilPlaying(viewer, 1);
    const levels = await viewer.evaluate(() => (window as any).player.levels());
    expect(levels).toHaveLength(3);
    for (let level = 0; level < levels.length; level++) {
      await viewer.evaluate((l) => (window as any).player.setLevel(l), level);
      const t0 = (await playerState(viewer)).currentTime;
      await waitFor(
        `level ${level} (${levels[level].width}x${levels[level].height}) playing`,
        async () => {
          const state = await viewer.evaluate(() => {
            const v = document.querySelector('video')!;
            return { w: v.videoWidth, h: v.videoHeight, t: v.currentTime, level: (window as any).player.hls.currentLevel };
          });
          // A layer the browser stopped for a while (CPU or bandwidth short: its segments are GAPs)
          // makes hls.js leave the forced level for the GAP segment; the viewer picks it again from the
          // next segment (nextLevel). Forcing it at once (currentLevel) would flush the buffer and put
          // the playhead back on the same GAP, over and over.
          if (state.level !== level) await viewer.evaluate((l) => ((window as any).player.hls.nextLevel = l), level);
          return state.w === levels[level].width && state.h === levels[level].height && state.t > t0 + 1.5;
        },
        30_000,
        200,
      ).catch(async (e) => {
        for (const r of ['', '-video', '-video.r1', '-video.r0', '-audio'])
          console.log(r, (await readPlaylist(fx.app.hlsDir, `${peerId}${r}.m3u8`))?.text);
        console.log(JSON.stringify(await viewer.evaluate(() => (window as any).player.state())).slice(0, 3000));
        throw e;
      });
    }

    // Smooth switches (hls.js nextLevel: at the next segment, no flush): down and up, no stall over 100 ms.
    await viewer.evaluate(() => (window as any).player.setLevel(-1));
    await new Promise((resolve) => setTimeout(resolve, 0));
    const before = await viewer.evaluate(() => (window as any).player.state());
    const sequence = [0, 2, 1, 0, 2];
    for (const level of sequence) {
      await viewer.evaluate((l) => ((window as any).player.hls.nextLevel = l), level);
      const since = (await viewer.evaluate(() => (window as any).player.state())).now;
      await waitFor(
        `switch to level ${level}`,
        async () => {
          const state = await viewer.evaluate(() => (window as any).player.state());
          return state.switches.some((s: { at: number; level: number }) => s.at >= since && s.level === level) && state.currentTime > 0;
        },
        30_000,
        200,
      );
    }
    // LEVEL_SWITCHED comes when the new level's segment is buffered, so on a fast host the five can
    // come within a second or two of playback: the player is then watched until it has played 3 s
    // past the first switch, and every wait for data in all that time counts.
    await waitFor(
      'playback 3 s past the first switch',
      async () => (await viewer.evaluate(() => (window as any).player.state())).currentTime > before.currentTime + 3,
      30_000,
      200,
    );
    const after = await viewer.evaluate(() => (window as any).player.state());
    const stalls = after.waits.filter((w: { at: number }) => w.at > before.now);
    console.log(`switch stalls (ms): ${JSON.stringify(stalls.map((w: { ms: number }) => Math.round(w.ms)))}`);
    expect(stalls.every((w: { ms: number }) => w.ms <= 100)).toBe(true);
    expect(after.fatalErrors).toEqual([]);

    // The watch page's quality picker: Auto plus one option per rendition, best first; picking the
    // smallest plays it (the picture's size says so), and Auto hands the choice back to hls.js.
    const watcher = await fx.browser.newPage();
    try {
      await watcher.goto(`${fx.app.url}/watch/${peerId}`);
      await waitFor(
        'the quality picker listing the renditions',
        async () => (await watcher.locator('#rendition option').count()) === 4,
        30_000,
        200,
      );
      const options = await watcher.locator('#rendition option').allTextContents();
      expect(options[0]).toBe('Auto');
      const optionHeights = options.slice(1).map((o) => Number(/×(\d+)/.exec(o)![1]));
      expect(optionHeights).toEqual([...heights]);
      expect(await watcher.locator('#rendition').isDisabled()).toBe(false);
      const smallest = levels.reduce((best: number, l: { height: number }, i: number) => (l.height < levels[best].height ? i : best), 0);
      await watcher.selectOption('#rendition', String(smallest));
      let pickedAt = Date.now();
      await waitFor(
        'the picked rendition playing on the watch page',
        async () => {
          const shown = await watcher.evaluate(() => {
            const v = document.querySelector('video')!;
            return {
              h: v.videoHeight,
              level: document.getElementById('rendition-playing')!.dataset.level,
              text: document.getElementById('rendition-playing')!.textContent,
              status: document.getElementById('player-status')!.textContent,
              layout: v.dataset.layout,
              currentTime: v.currentTime,
            };
          });
          if (shown.h === levels[smallest].height && shown.level === String(smallest) && !shown.text!.includes('(auto)')) return true;
          // hls.js hands a picked level back to Auto after an error on it (a layer the browser paused
          // for a moment); the viewer picks it again, as a person would.
          if (shown.text!.includes('(auto)') && Date.now() - pickedAt > 5000) {
            pickedAt = Date.now();
            await watcher.selectOption('#rendition', String(smallest));
          }
          throw new Error(`the page shows ${JSON.stringify(shown)}; wanted height ${levels[smallest].height}, level ${smallest}`);
        },
        30_000,
        200,
      );
      await watcher.selectOption('#rendition', '-1');
      await waitFor(
        'Auto on the watch page',
        async () => ((await watcher.textContent('#rendition-playing')) ?? '').includes('(auto)'),
        30_000,
        200,
      );
    } finally {
      await watcher.close();
    }

    // Aligned: segment n starts on the same captured frame in every rendition.
    // Read as the segments are listed (the window is longer than a playlist lists), each segment
    // number once all three renditions have it.
    const spreads = new Map<number, number>();
    const deadline = Date.now() + WINDOW_SECONDS * 3000;
    while (spreads.size < WINDOW_SECONDS && Date.now() < deadline) {
      const lists = await Promise.all(['video', 'video.r1', 'video.r0'].map((r) => readPlaylist(fx.app.hlsDir, `${peerId}-${r}.m3u8`)));
      const byNumber = lists.map((list) => new Map((list?.segments ?? []).map((s) => [segmentNumber(s.uri)!, s.uri])));
      for (const n of byNumber[0].keys()) {
        const names = byNumber.map((m) => m.get(n));
        if (spreads.has(n) || names.some((name) => !name)) continue;
        const pts = await Promise.all(names.map((name) => firstPts(fx.app.hlsDir, name!)));
        if (pts.some((p) => p === undefined)) continue; // a GAP segment, or one already rotated out
        spreads.set(n, Math.max(...(pts as number[])) - Math.min(...(pts as number[])));
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const offsets = [...spreads.values()];
    const compared = offsets.length;
    const aligned = offsets.filter((spread) => spread <= FRAME_TICKS).length;
    console.log(
      `alignment: ${aligned}/${compared} segments within one frame (spreads in ms: ${offsets.map((o) => Math.round(o / 90)).join(', ')})`,
    );
    expect(compared).toBeGreaterThanOrEqual(WINDOW_SECONDS);
    expect(aligned / compared).toBeGreaterThanOrEqual(ALIGNED_SHARE);
    const info = await streamInfo(fx.app, peerId);
    expect(info.tracks.video.mode).toBe('copy');
    expect(info.tracks.video.renditions).toEqual([
      { rendition: 'video', encoding: 'r2', flowing: true },
      { rendition: 'video.r1', encoding: 'r1', flowing: true },
      { rendition: 'video.r0', encoding: 'r0', flowing: true },
    ]);
    const metrics = await (await fetch(`${fx.app.url}/metrics`)).text();
    expect(metrics).toMatch(/^webrtc_hls_simulcast_renditions\{flowing="true"\} 3$/m);
  });

  it('640x480 camera: the browser sends two layers, so two renditions, and nothing announced that never flows', async () => {
    const { peerId } = await fx.goLive({ video: 'camera', audio: 'mic', codec: 'H264', simulcast: true, width: 640, height: 480 }, 30_000);
    const variants = variantsOf((await readPlaylist(fx.app.hlsDir, `${peerId}.m3u8`))!.text);
    expect(variants.map((v) => v.uri)).toEqual([`${peerId}-video.r1.m3u8`, `${peerId}-video.r0.m3u8`]);
    for (const v of variants) {
      const list = await readPlaylist(fx.app.hlsDir, v.uri);
      expect(list!.segments.length).toBeGreaterThan(0);
    }
    const viewer = await playWithHlsJs(fx.browser, fx.app.url, `${fx.app.url}/live/${peerId}.m3u8`);
    await waitUntilPlaying(viewer, 2);
    expect((await playerState(viewer)).fatalErrors).toEqual([]);
  });
});

describe('VP8 simulcast: transcoded, one layer unless HLS_TRANSCODE_LAYERS asks for more', () => {
  const fx = useHlsFixture({ HLS_RETENTION_SECONDS: '0', HLS_TRANSCODE_LAYERS: '2' });

  it('HLS_TRANSCODE_LAYERS=2: the two best flowing layers each become an x264 rendition, cut together', async () => {
    const { peerId } = await fx.goLive({ video: 'camera', audio: 'mic', codec: 'VP8', simulcast: true, width: 1280, height: 720 }, 30_000);
    const variants = variantsOf((await readPlaylist(fx.app.hlsDir, `${peerId}.m3u8`))!.text);
    expect(variants).toHaveLength(2);
    for (const v of variants) expect(v.codecs).toMatch(/^avc1\.64[0-9a-f]{4},mp4a\.40\.2$/); // x264 High
    const viewer = await playWithHlsJs(fx.browser, fx.app.url, `${fx.app.url}/live/${peerId}.m3u8`);
    await waitUntilPlaying(viewer, 2);
    expect((await playerState(viewer)).fatalErrors).toEqual([]);
    const info = await streamInfo(fx.app, peerId);
    expect(info.tracks.video).toMatchObject({ codecIn: 'VP8', mode: 'transcode' });
    expect(info.tracks.video.renditions.filter((r: { flowing: boolean }) => r.flowing)).toHaveLength(2);
  });
});
