import { useHlsFixture } from './support/hls-fixture';
import { streamInfo, waitFor } from './support/app';
import { TranscoderService } from '../src/transcode/transcoder.service';
import { beepTimes, flashTimes, median, pairOffsets, SegmentCollector, startTime, theilSen } from './support/av-offset';
import { readPlaylist } from './support/hls';
import { PlaylistWatch } from './support/playlist-watch';
import { longestStall, playerStalls, playerState, playWithHlsJs, waitForNewSegments, waitUntilPlaying } from './support/publisher';

jest.setTimeout(240_000);

describe('HLS media behaviour: A/V sync, simulcast, pause and resume', () => {
  const fx = useHlsFixture({ HLS_RETENTION_SECONDS: '1', HLS_LIST_SIZE: '10' });

  it('(d) audio and video share one timeline from the first frame, after an FFmpeg crash and after a pause: each flash within 100 ms of its beep, no drift', async () => {
    const transcoder = fx.app.app.get(TranscoderService);
    const { page, peerId } = await fx.goLive({ video: 'canvas', audio: 'beep', codec: 'H264' });
    const collector = new SegmentCollector(fx.app.hlsDir, peerId);
    const both = (seconds: number, run: (run: number) => boolean) => () =>
      collector.seconds('video', run) >= seconds && collector.seconds('audio', run) >= seconds;
    let afterKill = 0;
    try {
      // The first run: 46 s. The drift check wants 40 s after the first 6: the publisher's own flash/beep
      // jitter reaches ±30 ms on a busy host, and over 16 s that alone swings the slope past 60 ms/min.
      await waitFor(
        '46 s of the first run',
        both(46, (run) => run === 0),
        150_000,
        200,
      );
      // A crash: FFmpeg killed under the stream.
      const [pid] = transcoder.pids();
      process.kill(pid, 'SIGKILL');
      await waitFor(
        '8 s of a run after the kill',
        both(8, (run) => run >= 1),
        60_000,
        200,
      );
      afterKill = Math.max(...collector.runs());
      // A pause of mic and camera, then both resumed.
      await page.evaluate(() => {
        (window as any).harness.pause('audio');
        (window as any).harness.pause('video');
      });
      await waitFor(
        'filler while paused',
        both(2, (run) => run > afterKill),
        30_000,
        200,
      );
      const paused = Math.max(...collector.runs());
      await page.evaluate(() => {
        (window as any).harness.resume('audio');
        (window as any).harness.resume('video');
      });
      await waitFor(
        '8 s of a run after the resume',
        both(8, (run) => run > paused),
        60_000,
        200,
      );
    } finally {
      await collector.stop();
    }

    // Every run on its own: the first 6 s of each (from its first video frame) and the rest.
    const runs: Array<{ run: number; early: number[]; pairs: Array<{ at: number; offsetMs: number }>; start: number }> = [];
    for (const run of collector.runs()) {
      const video = collector.segments.video.filter((s) => s.run === run).map((s) => s.path);
      const audio = collector.segments.audio.filter((s) => s.run === run).map((s) => s.path);
      if (video.length === 0 || audio.length === 0) continue;
      const [flashes, beeps, start] = await Promise.all([flashTimes(video), beepTimes(audio), startTime(video[0])]);
      const pairs = pairOffsets(flashes, beeps);
      runs.push({ run, start, pairs, early: pairs.filter((p) => p.at - start < 6).map((p) => p.offsetMs) });
    }
    console.log(
      `(d) A/V offsets (audio − video, ms) in the first 6 s of each stretch: ${runs.map((r) => `stretch ${r.run}: [${r.early.join(', ')}]`).join('; ')}`,
    );
    const first = runs.find((r) => r.run === 0)!;
    const killed = runs.find((r) => r.run === afterKill)!;
    const resumed = runs.at(-1)!;
    // From the first frame, right after a crash, right after a resume: a flash and its beep stay within 100 ms.
    for (const run of [first, killed, resumed]) {
      expect(run.early.length).toBeGreaterThanOrEqual(3);
      for (const offset of run.early) expect(Math.abs(offset)).toBeLessThan(100);
    }
    expect(new Set([first.run, killed.run, resumed.run]).size).toBe(3);
    // And in every run that has both (filler runs have neither flash nor beep).
    for (const run of runs) for (const pair of run.pairs) expect(Math.abs(pair.offsetMs)).toBeLessThan(100);

    // Steady state of the first run: the median offset and no drift.
    const settled = first.pairs.filter((p) => p.at - first.start >= 6);
    expect(settled.length).toBeGreaterThanOrEqual(30);
    const offsets = settled.map((p) => p.offsetMs);
    const med = median(offsets);
    // Theil–Sen slope (median of pairwise slopes): frame quantisation (±33 ms) and one late flash
    // would swing a least-squares fit over a window this short.
    const slopeMsPerMin = theilSen(settled.map((p) => [p.at, p.offsetMs])) * 60;
    console.log(`(d) after 6 s: ${offsets.join(', ')}; median ${med} ms, slope ${slopeMsPerMin.toFixed(1)} ms/min`);
    expect(Math.abs(med)).toBeLessThan(100);
    // 40 s of settled media resolve about 20 ms/min against that noise; three times it catches real drift.
    expect(Math.abs(slopeMsPerMin)).toBeLessThan(60);
  });

  it('(f) simulcast H264 (three encodings) from a 640x480 camera plays within seconds, segments near the target', async () => {
    const { peerId, liveAfterMs: liveMs } = await fx.goLive(
      { video: 'camera', audio: 'mic', codec: 'H264', simulcast: true, width: 640, height: 480 },
      60_000,
    );
    const viewer = await playWithHlsJs(fx.browser, fx.app.url, `${fx.app.url}/live/${peerId}.m3u8`);
    await waitUntilPlaying(viewer, 1, 60_000);
    // The top layer that flows is the master's first variant (at 640x480 Chromium may not send r2).
    const master = (await readPlaylist(fx.app.hlsDir, `${peerId}.m3u8`))!.text;
    const top = /#EXT-X-STREAM-INF:.*\n(.*)/.exec(master)![1];
    await waitForNewSegments(fx.app.hlsDir, top, 8, 60_000);
    const list = (await readPlaylist(fx.app.hlsDir, top))!;
    // The first segment may hold the start-up keyframe wait. Later ones: the cadence holds (median
    // near 1 s) and none is as long as two targets. A keyframe Chromium answers late on a busy host
    // makes one segment longer (up to ~1.8 s measured at load 17), which this does not fail on.
    const durations = list.segments.filter((s) => !s.uri.endsWith('_001.ts')).map((s) => s.duration);
    console.log(
      `(f) simulcast live after ${liveMs} ms; ${top}: TARGETDURATION ${list.targetDuration}, segment durations ${durations.join(', ')}`,
    );
    const sorted = [...durations].sort((a, b) => a - b);
    const middle = sorted[Math.floor(sorted.length / 2)];
    expect(middle).toBeGreaterThanOrEqual(0.8);
    expect(middle).toBeLessThanOrEqual(1.2);
    for (const d of durations) expect(d).toBeLessThan(2 * list.targetDuration);
    console.log(`(f) master:\n${master}`);
    expect((await playerState(viewer)).fatalErrors).toEqual([]);
  });

  it('(g) mic and camera paused for 5 s and resumed: the viewer keeps playing without a reload, the stream loses no time', async () => {
    const { page, peerId } = await fx.goLive({ video: 'camera', audio: 'mic' });
    const viewer = await playWithHlsJs(fx.browser, fx.app.url, `${fx.app.url}/live/${peerId}.m3u8`);
    await waitUntilPlaying(viewer, 2);
    const video = `${peerId}-video.m3u8`;
    const watch = new PlaylistWatch(fx.app.url, [video]);

    await page.evaluate(() => {
      (window as any).harness.pause('audio');
      (window as any).harness.pause('video');
    });
    // The scenario itself: a pause of 5 s (filler plays meanwhile).
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const atResume = await playerState(viewer);
    const resumedAt = Date.now();
    const before = watch.segments(video).at(-1)!;
    await page.evaluate(() => {
      (window as any).harness.resume('audio');
      (window as any).harness.resume('video');
    });
    // Back to the publisher's media: the stream has moved on by several segments, and so has the viewer.
    await waitForNewSegments(fx.app.hlsDir, video, 6, 60_000);
    await watch.stop();
    // Media time listed since the last segment before the resume against the wall clock over the same
    // span: the new run's start (FFmpeg, the first keyframe) must not open a hole in the stream. Every
    // second lost is a second of every viewer's buffer gone (make before break; see TranscodeSession).
    const after = watch.segments(video).filter((s) => s.seq > before.seq);
    const listedSeconds = after.reduce((sum, s) => sum + s.duration, 0);
    const wallSeconds = (after.at(-1)!.firstSeenAt - before.firstSeenAt) / 1000;
    console.log(
      `(g) across the resume: ${listedSeconds.toFixed(2)} s of media listed in ${wallSeconds.toFixed(2)} s (${after.length} segments from ${((before.firstSeenAt - resumedAt) / 1000).toFixed(1)} s)`,
    );
    expect(wallSeconds - listedSeconds).toBeLessThanOrEqual(1);
    await waitFor('the viewer 5 s further', async () => (await playerState(viewer)).currentTime > atResume.currentTime + 5, 60_000, 200);
    // What the viewer saw, sampled in its page: it never stood still for long, and it never reloaded.
    const state = await playerState(viewer);
    const { stalls } = await playerStalls(viewer);
    console.log(
      `(g) currentTime at resume ${atResume.currentTime.toFixed(2)} → ${state.currentTime.toFixed(2)}; longest stall ${longestStall(stalls)} ms`,
    );
    expect(longestStall(stalls)).toBeLessThanOrEqual(2000);
    expect(state.fatalErrors).toEqual([]);
    expect(state.manifestLoads).toBe(1);
    // No restart loop while paused: one restart to pause, one to resume (two each at most).
    expect((await streamInfo(fx.app, peerId)).restarts).toBeLessThanOrEqual(4);
    // A viewer who joins after the pause plays too.
    const late = await playWithHlsJs(fx.browser, fx.app.url, `${fx.app.url}/live/${peerId}.m3u8`);
    await waitUntilPlaying(late, 1);
  });
});
