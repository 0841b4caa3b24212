import { useHlsFixture } from './support/hls-fixture';
import { streamInfo } from './support/app';
import { beepTimes, collectSegments, flashTimes, median, pairOffsets, theilSen } from './support/av-offset';
import { readPlaylist } from './support/hls';
import { playerState, playWithHlsJs, waitForNewSegments, waitUntilPlaying } from './support/publisher';

jest.setTimeout(150_000);

describe('HLS media behaviour: A/V sync, simulcast, pause and resume', () => {
  const fx = useHlsFixture({ HLS_RETENTION_SECONDS: '1', HLS_LIST_SIZE: '10' });

  it('(d) audio and video share one timeline: a flash and its beep stay within 100 ms, without drift', async () => {
    const { peerId } = await fx.goLive({ video: 'canvas', audio: 'beep', codec: 'H264' });
    const segments = await collectSegments(fx.app.hlsDir, peerId, 22);
    const [flashes, beeps] = await Promise.all([flashTimes(segments.video), beepTimes(segments.audio)]);
    const pairs = pairOffsets(flashes, beeps);
    const start = flashes[0];
    const settled = pairs.filter((p) => p.at - start >= 6);
    expect(settled.length).toBeGreaterThanOrEqual(6);
    const offsets = settled.map((p) => p.offsetMs);
    const med = median(offsets);
    // Theil–Sen slope (median of pairwise slopes): frame quantisation (±33 ms) and one late flash
    // would swing a least-squares fit over a window this short.
    const slopeMsPerMin = theilSen(settled.map((p) => [p.at, p.offsetMs])) * 60;
    console.log(`(d) A/V offsets (audio − video, ms) after 6 s: ${offsets.join(', ')}; median ${med} ms, slope ${slopeMsPerMin.toFixed(1)} ms/min`);
    expect(Math.abs(med)).toBeLessThan(100);
    // 16 s of settled media cannot resolve 20 ms/min against that noise; three times it still catches real drift.
    expect(Math.abs(slopeMsPerMin)).toBeLessThan(60);
  });

  it('(f) simulcast H264 (three encodings) from a 640x480 camera plays within seconds, segments near the target', async () => {
    const { peerId, liveAfterMs: liveMs } = await fx.goLive({ video: 'camera', audio: 'mic', codec: 'H264', simulcast: true, width: 640, height: 480 });
    const viewer = await playWithHlsJs(fx.browser, fx.app.url, `${fx.app.url}/live/${peerId}.m3u8`);
    await waitUntilPlaying(viewer, 1, 20_000);
    // The top declared layer (640x480) never flows at this size: the master names the renditions that do.
    const top = /#EXT-X-STREAM-INF:.*\n(.*)/.exec((await readPlaylist(fx.app.hlsDir, `${peerId}.m3u8`))!.text)![1];
    await waitForNewSegments(fx.app.hlsDir, top, 8, 30_000);
    const list = (await readPlaylist(fx.app.hlsDir, top))!;
    // The first segment may hold the start-up keyframe wait; every later one must stay near 1 s.
    const durations = list.segments.filter((s) => !s.uri.endsWith('_001.ts')).map((s) => s.duration);
    console.log(`(f) simulcast live after ${liveMs} ms; segment durations ${durations.join(', ')}`);
    for (const d of durations) {
      expect(d).toBeGreaterThanOrEqual(0.5);
      expect(d).toBeLessThanOrEqual(1.5);
    }
    const master = (await readPlaylist(fx.app.hlsDir, `${peerId}.m3u8`))!.text;
    console.log(`(f) master:\n${master}`);
    expect((await playerState(viewer)).fatalErrors).toEqual([]);
  });

  it('(g) mic and camera paused for 5 s and resumed: the viewer keeps playing without a reload', async () => {
    const { page, peerId } = await fx.goLive({ video: 'camera', audio: 'mic' });
    const viewer = await playWithHlsJs(fx.browser, fx.app.url, `${fx.app.url}/live/${peerId}.m3u8`);
    await waitUntilPlaying(viewer, 2);

    const samples: Array<{ at: number; t: number }> = [];
    // The scenario's own clock: sample the player every 250 ms for `ms` (a pause lasts 5 s).
    const sampleFor = async (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        samples.push({ at: Date.now(), t: (await playerState(viewer)).currentTime });
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    };
    await page.evaluate(() => {
      (window as any).harness.pause('audio');
      (window as any).harness.pause('video');
    });
    await sampleFor(5000);
    await page.evaluate(() => {
      (window as any).harness.resume('audio');
      (window as any).harness.resume('video');
    });
    const resumedAt = Date.now();
    await sampleFor(8000);
    // Playing again within 2 s of the resume: currentTime advances between samples in that window...
    const early = samples.filter((s) => s.at >= resumedAt && s.at <= resumedAt + 2000);
    expect(early.at(-1)!.t).toBeGreaterThan(early[0].t);
    // ...and keeps advancing at about real time to the end.
    const late = samples.filter((s) => s.at >= resumedAt + 3000);
    const rate = (late.at(-1)!.t - late[0].t) / ((late.at(-1)!.at - late[0].at) / 1000);
    const during = samples.filter((s) => s.at < resumedAt);
    console.log(
      `(g) currentTime during pause ${during[0].t.toFixed(2)} → ${during.at(-1)!.t.toFixed(2)}, ` +
        `after resume ${early[0].t.toFixed(2)} → ${samples.at(-1)!.t.toFixed(2)}, rate ${rate.toFixed(2)}`,
    );
    expect(rate).toBeGreaterThan(0.7);
    expect((await playerState(viewer)).fatalErrors).toEqual([]);
    // No restart loop while paused: one restart to pause, one to resume (two each at most).
    expect((await streamInfo(fx.app, peerId)).restarts).toBeLessThanOrEqual(4);
    // A viewer who joins after the pause plays too.
    const late2 = await playWithHlsJs(fx.browser, fx.app.url, `${fx.app.url}/live/${peerId}.m3u8`);
    await waitUntilPlaying(late2, 1);
  });
});
