import type { Page } from 'playwright-core';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSps } from '../src/media/h264';
import { llMediaPlaylistUrl, mediaPlaylistName } from '../src/packaging/hls-names';
import { waitFor } from './support/app';
import { readPlaylist } from './support/hls';
import { useHlsFixture } from './support/hls-fixture';
import { parseLlMediaPlaylist } from './support/ll-hls-rules';
import { pictureSizesOf } from './support/playlist-watch';
import { playerState, playWithHlsJs, waitUntilPlaying } from './support/publisher';

jest.setTimeout(240_000);

describe('a publisher whose picture size changes mid-stream (copied H264)', () => {
  // A window long enough to still list the change once both players have played well past it.
  const fx = useHlsFixture({ HLS_LIST_SIZE: '60' });

  it('starts a segment at the change after a discontinuity (classic; LL with a new map); hls.js plays on at the new size, in both layouts', async () => {
    const { page, peerId } = await fx.goLive({ video: 'camera', audio: 'mic', codec: 'H264', width: 640, height: 480 }, 30_000);
    const viewers: Array<[string, Page]> = [
      ['classic', await playWithHlsJs(fx.browser, fx.app.url, `${fx.app.url}/live/${peerId}.m3u8`)],
      ['LL', await playWithHlsJs(fx.browser, fx.app.url, `${fx.app.url}/live/${peerId}.ll.m3u8`, { lowLatency: true })],
    ];
    // The browser itself may start smaller and step up as its bandwidth estimate grows (another
    // change of size, handled alike): the resize comes once both show the full size.
    for (const [layout, viewer] of viewers) {
      await waitUntilPlaying(viewer, 2, 60_000);
      await waitFor(`the ${layout} viewer showing 640x480`, async () => (await playerState(viewer)).videoWidth === 640, 60_000, 200);
    }

    expect(await page.evaluate(() => (window as any).harness.resize(320, 240))).toEqual({ width: 320, height: 240 });

    // What a viewer sees: the new size, playing on 3 s past its first frame, nothing refused.
    for (const [layout, viewer] of viewers) {
      let shownAt: number | undefined;
      await waitFor(
        `the ${layout} viewer playing 3 s at 320x240`,
        async () => {
          const state = await viewer.evaluate(() => (window as any).player.state());
          if (state.videoHeight === 240) shownAt ??= state.currentTime;
          if (shownAt !== undefined && state.currentTime > shownAt + 3) return true;
          throw new Error(JSON.stringify({ ...state, switches: undefined, waits: undefined }).slice(0, 2000));
        },
        90_000,
        200,
      );
      const state = await viewer.evaluate(() => (window as any).player.state());
      expect([layout, state.fatalErrors, state.elementErrors]).toEqual([layout, [], []]);
    }

    // The classic playlist: no segment holds two sizes, a segment of another size than the one before
    // follows a discontinuity, and there is no other discontinuity (one FFmpeg run throughout).
    const video = (await readPlaylist(fx.app.hlsDir, mediaPlaylistName(peerId, 'video')))!;
    const sizes = await Promise.all(video.segments.map(async (s) => pictureSizesOf(await readFile(join(fx.app.hlsDir, s.uri)))));
    console.log(`sizes of the listed segments: ${sizes.map((s) => s.join('+') || '-').join(' ')}`);
    const changes: number[] = [];
    let size: string | undefined;
    for (const [i, s] of sizes.entries()) {
      expect([video.segments[i].uri, s]).toEqual([video.segments[i].uri, s.slice(0, 1)]);
      if (s[0] && size && s[0] !== size) changes.push(i);
      size = s[0] ?? size;
    }
    expect(video.segments.flatMap((s, i) => (s.discontinuity ? [i] : []))).toEqual(changes);
    const changedAt = sizes.findIndex((s, i) => s[0] === '320x240' && i > sizes.findIndex((t) => t[0] === '640x480'));
    expect(changes).toContain(changedAt);
    const number = video.mediaSequence + changedAt;
    // Every rendition has the discontinuities at the same numbers (the counts stay equal).
    const audio = (await readPlaylist(fx.app.hlsDir, mediaPlaylistName(peerId, 'audio')))!;
    const numbersOf = (list: typeof video) => list.segments.flatMap((s, i) => (s.discontinuity ? [list.mediaSequence + i] : []));
    expect(numbersOf(audio)).toEqual(numbersOf(video));

    // LL: the same msn starts after a discontinuity with a new init section of the new size.
    const response = await fetch(`${fx.app.url}${llMediaPlaylistUrl(peerId, 'video')}`);
    const ll = parseLlMediaPlaylist(await response.text());
    const llChanged = ll.segments.find((s) => s.msn === number);
    expect(llChanged?.discontinuity).toBe(true);
    const before = ll.segments.find((s) => s.msn === number - 1);
    expect(llChanged!.mapUri).not.toBe(before?.mapUri);
    const init = Buffer.from(await (await fetch(`${fx.app.url}/live/${llChanged!.mapUri}`)).arrayBuffer());
    const avcC = init.indexOf('avcC', 0, 'latin1');
    const spsLength = init.readUInt16BE(avcC + 10);
    expect(parseSps(init.subarray(avcC + 12, avcC + 12 + spsLength))).toMatchObject({ width: 320, height: 240 });
  });
});
