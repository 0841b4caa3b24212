import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TranscoderService } from '../src/transcode/transcoder.service';
import { WorkerPoolService } from '../src/mediasoup/worker-pool.service';
import { waitFor } from './support/app';
import { ffprobe, readPlaylist } from './support/hls';
import { useHlsFixture } from './support/hls-fixture';
import { filesOf, playWithHlsJs, waitForNewSegments, waitUntilPlaying } from './support/publisher';

jest.setTimeout(120_000);

describe('HLS from Chromium publishers (real worker, FFmpeg, Chromium)', () => {
  const fx = useHlsFixture({ HLS_RETENTION_SECONDS: '2' });

  const probeVideo = async (uri: string) => (await ffprobe(join(fx.app.hlsDir, uri))).streams.find((s) => s.codec_type === 'video')!;
  const hex = (n = 0) => n.toString(16).padStart(2, '0');

  it('(a) H264 + Opus from the fake camera: peerLive, valid playlists, copied H264 + AAC, hls.js plays', async () => {
    const { page, peerId, liveAfterMs } = await fx.goLive({ video: 'camera', audio: 'mic', codec: 'H264' });

    const master = await readPlaylist(fx.app.hlsDir, `${peerId}.m3u8`);
    expect(master!.text.startsWith('#EXTM3U\n')).toBe(true);
    expect(master!.text).toContain(`#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud"`);
    const video = await readPlaylist(fx.app.hlsDir, `${peerId}-video.m3u8`);
    const audio = await readPlaylist(fx.app.hlsDir, `${peerId}-audio.m3u8`);
    expect(video!.segments[0].uri).toBe(`video_${peerId}_001.ts`);
    expect(audio!.segments[0].uri).toBe(`audio_${peerId}_001.ts`);

    // Chromium starts below the capture size while its bandwidth estimate ramps up; once it sends
    // 640x480, the copied segments and the master must say so.
    const latest = await waitFor(
      'a 640x480 segment',
      async () => {
        const list = await readPlaylist(fx.app.hlsDir, `${peerId}-video.m3u8`);
        const v = await probeVideo(list!.segments.at(-1)!.uri);
        return v.width === 640 && v.height === 480 ? v : undefined;
      },
      30_000,
      500,
    );
    expect(latest.codec_name).toBe('h264');
    expect(latest.profile).toBe('Constrained Baseline');
    const audioNow = await readPlaylist(fx.app.hlsDir, `${peerId}-audio.m3u8`);
    const a = (await ffprobe(join(fx.app.hlsDir, audioNow!.segments.at(-1)!.uri))).streams[0];
    expect(a).toMatchObject({ codec_name: 'aac', sample_rate: '48000', channels: 2 });
    const masterText = await waitFor(
      'master with RESOLUTION=640x480',
      async () => {
        const text = (await readPlaylist(fx.app.hlsDir, `${peerId}.m3u8`))!.text;
        return text.includes('RESOLUTION=640x480') ? text : undefined;
      },
      20_000,
    );
    expect(masterText).toMatch(new RegExp(`CODECS="avc1\\.42[0-9a-f]{2}${hex(latest.level)},mp4a\\.40\\.2"`));
    const bandwidth = Number(/BANDWIDTH=(\d+)/.exec(masterText)![1]);
    expect(bandwidth).toBeGreaterThan(100_000);

    const info = await (await fetch(`${fx.app.url}/api/streams/${peerId}`)).json();
    expect(info).toMatchObject({ peerId, state: 'live', masterUrl: `/live/${peerId}.m3u8` });
    expect(info.tracks.video).toMatchObject({ codecIn: 'H264', codecOut: 'H264', mode: 'copy', resolution: '640x480' });
    expect(info.tracks.audio).toMatchObject({ codecIn: 'opus', codecOut: 'AAC', mode: 'transcode' });
    const list = await (await fetch(`${fx.app.url}/api/streams`)).json();
    expect(list.map((s: { peerId: string }) => s.peerId)).toContain(peerId);

    const response = await fetch(`${fx.app.url}/live/${peerId}.m3u8`);
    expect(response.headers.get('content-type')).toContain('application/vnd.apple.mpegurl');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    const segment = await fetch(`${fx.app.url}/live/${audioNow!.segments.at(-1)!.uri}`);
    expect(segment.headers.get('content-type')).toBe('video/mp2t');

    const viewer = await playWithHlsJs(fx.browser, fx.app.url, `${fx.app.url}/live/${peerId}.m3u8`);
    const playing = await waitUntilPlaying(viewer, 2);
    expect(playing.fatalErrors).toEqual([]);
    console.log(`(a) produce → peerLive ${liveAfterMs} ms; player`, playing);
    await viewer.close();
    await page.close();
    await fx.waitForLeft(peerId);
  });

  it('(b) VP8 + Opus is transcoded to H264 and plays, CODECS matching the x264 output', async () => {
    const { page, peerId } = await fx.goLive({ video: 'camera', audio: 'mic', codec: 'VP8' });
    const video = await readPlaylist(fx.app.hlsDir, `${peerId}-video.m3u8`);
    const v = await probeVideo(video!.segments.at(-1)!.uri);
    expect(v.codec_name).toBe('h264');
    const master = (await readPlaylist(fx.app.hlsDir, `${peerId}.m3u8`))!.text;
    const profile = { 'Constrained Baseline': '42', Baseline: '42', Main: '4d', High: '64' }[v.profile!];
    expect(master).toMatch(new RegExp(`CODECS="avc1\\.${profile}[0-9a-f]{2}${hex(v.level)},mp4a\\.40\\.2"`));
    expect(master).toContain(`RESOLUTION=${v.width}x${v.height}`);
    const info = await (await fetch(`${fx.app.url}/api/streams/${peerId}`)).json();
    expect(info.tracks.video).toMatchObject({ codecIn: 'VP8', codecOut: 'H264', mode: 'transcode' });
    // Forced keyframes make transcoded segments exactly the target length.
    await waitForNewSegments(fx.app.hlsDir, `${peerId}-video.m3u8`, 3);
    const durations = (await readPlaylist(fx.app.hlsDir, `${peerId}-video.m3u8`))!.segments.slice(1).map((s) => s.duration);
    for (const d of durations) expect(d).toBeGreaterThan(0.5);
    for (const d of durations) expect(d).toBeLessThan(1.5);

    const viewer = await playWithHlsJs(fx.browser, fx.app.url, `${fx.app.url}/live/${peerId}.m3u8`);
    await waitUntilPlaying(viewer, 1);
    await viewer.close();
    await page.close();
    await fx.waitForLeft(peerId);
  });

  it('(c) video only: a master without an audio group, and it plays', async () => {
    const { page, peerId } = await fx.goLive({ video: 'camera', audio: false });
    const master = (await readPlaylist(fx.app.hlsDir, `${peerId}.m3u8`))!.text;
    expect(master).not.toContain('EXT-X-MEDIA');
    expect(master).toMatch(/CODECS="avc1\.[0-9a-f]{6}",RESOLUTION=\d+x\d+\n/);
    expect(existsSync(join(fx.app.hlsDir, `${peerId}-audio.m3u8`))).toBe(false);
    const viewer = await playWithHlsJs(fx.browser, fx.app.url, `${fx.app.url}/live/${peerId}.m3u8`);
    await waitUntilPlaying(viewer, 1);
    await viewer.close();
    await page.close();
    await fx.waitForLeft(peerId);
  });

  it('(e) disconnect: ENDLIST, peerLeft, and after retention no file, process, transport or port remains', async () => {
    const transcoder = fx.app.app.get(TranscoderService);
    const pool = fx.app.app.get(WorkerPoolService);
    const { page, peerId } = await fx.goLive({ video: 'camera', audio: 'mic' });
    const pids = transcoder.pids();
    expect(pids.length).toBe(1);
    const leftAt = Date.now();
    await page.close();
    await fx.waitForLeft(peerId);
    const stoppedAfterMs = Date.now() - leftAt;
    for (const kind of ['video', 'audio']) {
      expect((await readPlaylist(fx.app.hlsDir, `${peerId}-${kind}.m3u8`))!.ended).toBe(true);
    }
    expect(pids.every((pid) => !existsSync(`/proc/${pid}`))).toBe(true);
    expect(transcoder.portsInUse).toBe(0);
    await waitFor('files removed after retention', async () => (await filesOf(fx.app.hlsDir, peerId)).length === 0, 30_000);
    expect(existsSync(join(fx.app.hlsDir, '.work', peerId))).toBe(false);
    const dumps = await Promise.all(pool.aliveSlots().map((slot) => slot.router.dump()));
    expect(dumps.flatMap((d) => d.transportIds)).toEqual([]);
    const info = await fetch(`${fx.app.url}/api/streams/${peerId}`);
    expect(info.status).toBe(404);
    console.log(`(e) page closed → peerLeft in ${stoppedAfterMs} ms`);
  });

  it('(h) a publisher joining 0.5 s after another left goes live at once and its playlists advance', async () => {
    const first = await fx.goLive({ video: 'camera', audio: 'mic' });
    await first.page.close();
    await fx.waitForLeft(first.peerId);
    await new Promise((resolve) => setTimeout(resolve, 500)); // the scenario itself: join 0.5 s later
    const second = await fx.goLive({ video: 'camera', audio: 'mic' });
    await waitForNewSegments(fx.app.hlsDir, `${second.peerId}-video.m3u8`, 3);
    await waitForNewSegments(fx.app.hlsDir, `${second.peerId}-audio.m3u8`, 3);
    await second.page.close();
    await fx.waitForLeft(second.peerId);
  });
});
