import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { LlDeliveryService } from '../src/delivery/ll-delivery.service';
import { TranscoderService } from '../src/transcode/transcoder.service';
import type { Browser } from 'playwright-core';
import { startApp, streamInfo, TestApp, waitFor } from './support/app';
import { launchChromium } from './support/browser';
import { readPlaylist, SseClient } from './support/hls';
import { checkLlMediaPlaylist, formatViolations, llPlaylistPosition, parseLlMediaPlaylist } from './support/ll-hls-rules';
import { holdsKeyframe, llPartIndex, LlPlaylistObserver, splitTolerated } from './support/ll-observer';
import { playWithHlsJs, publishFromChromium, waitUntilPlaying } from './support/publisher';

const run = promisify(execFile);

jest.setTimeout(240_000);

describe('Low-Latency HLS (real worker, FFmpeg, Chromium, hls.js)', () => {
  // One publisher for the whole block (the shared fixture closes every page after each test).
  const fx = {} as { app: TestApp; browser: Browser; sse: SseClient };
  let peerId: string;
  const live = (name: string) => `${fx.app.url}/live/${name}`;
  const video = () => `${peerId}-video.ll.m3u8`;

  /** The video LL playlist now, parsed, and where it stands. */
  const current = async (name = video()) => {
    const response = await fetch(live(name));
    expect(response.status).toBe(200);
    const text = await response.text();
    return { text, parsed: parseLlMediaPlaylist(text), position: llPlaylistPosition(parseLlMediaPlaylist(text)) };
  };

  /** What a player asks for next: the part after the newest one. */
  const nextPart = (position: ReturnType<typeof llPlaylistPosition>) => ({
    msn: position.lastPart!.msn,
    part: position.lastPart!.index + 1,
  });

  beforeAll(async () => {
    // The watch page is served from public/app/, which only the build writes.
    execFileSync(process.execPath, [join(__dirname, '..', 'scripts', 'build-web.mjs')], { stdio: 'pipe' });
    fx.app = await startApp({ HLS_RETENTION_SECONDS: '2' });
    fx.browser = await launchChromium();
    fx.sse = new SseClient(`${fx.app.url}/api/live-streams`);
    // 320x240 keeps Chromium's encoding and decoding light on a shared two-core host.
    ({ peerId } = await publishFromChromium(fx.browser, fx.app.url, { video: 'camera', audio: 'mic', width: 320, height: 240 }));
    await waitFor(`SSE peerLive for ${peerId}`, () => fx.sse.find('peerLive', peerId), 20_000);
  });

  afterAll(async () => {
    fx.sse?.close();
    await fx.browser?.close();
    await fx.app?.close();
  });

  it('names the LL master in /api/streams and in SSE peerLive; the watch page plays it with hls.js lowLatencyMode near the live edge, every playlist it saw obeying the spec', async () => {
    const notice = fx.sse.find('peerLive', peerId)!;
    expect(notice.data).toEqual({ peerId, llMasterUrl: `/live/${peerId}.ll.m3u8` });
    expect(await streamInfo(fx.app, peerId)).toMatchObject({ masterUrl: `/live/${peerId}.m3u8`, llMasterUrl: `/live/${peerId}.ll.m3u8` });

    const page = await fx.browser.newPage();
    const seen = new LlPlaylistObserver(page);
    await page.goto(`${fx.app.url}/watch/${peerId}`);
    const watching = () =>
      page.evaluate(() => {
        const video = document.querySelector<HTMLVideoElement>('#player')!;
        return {
          layout: video.dataset.layout,
          currentTime: video.currentTime,
          videoWidth: video.videoWidth,
          latency: Number(document.querySelector('#latency')!.getAttribute('data-seconds') || NaN),
          latencyText: document.querySelector('#latency')!.textContent,
          /** hls.js's target latency as the page shows it: PART-HOLD-BACK, raised by each stall. */
          target: Number(/target (\d+\.\d) s/.exec(document.querySelector('#latency')!.textContent ?? '')?.[1] ?? NaN),
          info: document.querySelector('#player-info')!.textContent,
          status: document.querySelector('#player-status')!.getAttribute('data-state'),
        };
      });
    await waitFor(
      'the watch page playing',
      async () => {
        const state = await watching();
        return state.currentTime > 2 && state.videoWidth > 0 ? state : undefined;
      },
      30_000,
      200,
    );
    // The bound: PART-HOLD-BACK + 0.5 s, and the page shows one decimal of hls.js's latency (±0.05 s).
    // A stall (a host too busy to decode in real time) makes hls.js raise its target (by 0.25 s on the
    // watch page); the bound then follows the target the page shows.
    const PART_HOLD_BACK = 0.648;
    const bound = (target: number) => Math.max(PART_HOLD_BACK, Number.isFinite(target) ? target : 0) + 0.5 + 0.05;
    // hls.js starts at the keyframe before its target and catches up by playing faster, hovering at the
    // bound on the way (a slower host takes longer): the steady state starts once the page has stayed
    // within the bound for 2 s in a row. From then on, what the page shows as "behind live" (hls.js's
    // latency), every 250 ms, over 10 s of uninterrupted playback. A moment the host could not play in
    // real time (a wait for data, hls.js raising its target, or the picture advancing less than half
    // the wall-clock time: a renderer starved by a busy host, which fires no "waiting") is not the
    // server's latency: the page settles again and the 10 s start over (within 120 s).
    let samples: Array<{ latency: number; target: number }> = [];
    const deadline = Date.now() + 120_000;
    let state = await watching();
    const restarts: string[] = [];
    const settle = async () => {
      let withinSince: number | undefined;
      await waitFor(
        'the watch page near the live edge for 2 s in a row',
        async () => {
          state = await watching();
          if (!(state.latency <= bound(state.target))) withinSince = undefined;
          else withinSince ??= Date.now();
          return withinSince !== undefined && Date.now() - withinSince >= 2000;
        },
        Math.max(1000, deadline - Date.now()),
        100,
      );
    };
    await settle();
    let windowStart = Date.now();
    let previous = { at: Date.now(), currentTime: state.currentTime };
    while (Date.now() - windowStart < 10_000) {
      if (Date.now() > deadline)
        throw new Error(
          `no 10 s of real-time playback within 120 s (restarts: ${restarts.join('; ')}); last: ${JSON.stringify(samples.slice(-8))}`,
        );
      await page.waitForTimeout(250);
      state = await watching();
      const now = { at: Date.now(), currentTime: state.currentTime };
      const played = now.currentTime - previous.currentTime;
      const starved = played < ((now.at - previous.at) / 1000) * 0.5;
      const why =
        state.status === 'buffering'
          ? 'buffering'
          : starved
            ? `played ${played.toFixed(2)} s in ${now.at - previous.at} ms`
            : samples.length > 0 && state.target !== samples[0].target
              ? `target ${samples[0].target} → ${state.target}`
              : undefined;
      if (why) {
        restarts.push(why);
        samples = [];
        await settle();
        windowStart = Date.now();
        previous = { at: Date.now(), currentTime: state.currentTime };
        continue;
      }
      previous = now;
      if (Number.isFinite(state.latency)) samples.push({ latency: state.latency, target: state.target });
    }
    expect(state.layout).toBe('low-latency');
    expect(['playing', 'buffering']).toContain(state.status);
    expect(state.info).toContain('Low-Latency HLS');
    expect(state.latencyText).toMatch(/^\d+\.\d s \(target \d+\.\d s\)$/);
    await seen.settle();
    const partHoldBack = parseLlMediaPlaylist(seen.seen[seen.seen.length - 1].text).serverControl!.partHoldBack!;
    expect(partHoldBack).toBe(PART_HOLD_BACK);
    const latencies = samples.map((s) => s.latency).sort((a, b) => a - b);
    const targets = [...new Set(samples.map((s) => s.target))];
    console.log(
      `LL latency behind the live edge over 10 s (${samples.length} samples; started over after: ${restarts.join('; ') || 'none'}): median ${latencies[Math.floor(latencies.length / 2)]} s, ` +
        `max ${latencies[latencies.length - 1]} s (PART-HOLD-BACK ${partHoldBack} s, targets shown ${targets.join(', ')}): ` +
        samples.map((s) => s.latency).join(' '),
    );
    const outside = samples.filter((s) => s.latency > bound(s.target));
    // A moment behind (a frame decoded late on a busy host) is not "staying" behind: nine in ten within.
    expect(outside.length).toBeLessThanOrEqual(Math.floor(samples.length / 10));

    expect(seen.masters.length).toBeGreaterThan(0);
    expect(seen.seen.filter((s) => s.request.msn !== undefined).length).toBeGreaterThan(20); // blocking reloads
    // INDEPENDENT=YES exactly on the parts that hold a keyframe: read from the parts themselves.
    const keyframes = new Map<string, boolean>();
    for (const uri of seen.latestParts(video())) {
      const response = await fetch(live(uri));
      if (response.status === 200) keyframes.set(uri, holdsKeyframe(Buffer.from(await response.arrayBuffer())));
    }
    expect([...keyframes.values()].filter(Boolean).length).toBeGreaterThan(0);
    const violations = seen.violations((uri) => keyframes.get(uri));
    expect(formatViolations(violations)).toBe('');
    await page.close();
  });

  it('answers a blocked request right after its part completes, with the right caching; the hinted part is held until it exists', async () => {
    // Requests that really waited (the server then reports how long after the part it answered).
    const delays: number[] = [];
    const emitter = fx.app.app.get(EventEmitter2);
    const listener = ({ afterUpdateMs }: { afterUpdateMs: number }) => delays.push(afterUpdateMs);
    emitter.on('delivery.ll-blocked-answered', listener);
    try {
      const { parsed, position } = await current();
      const target = nextPart(position);
      const hint = parsed.preloadHints.find((h) => h.type === 'PART')!.uri;
      const [blocked, hinted] = await Promise.all([
        fetch(live(`${video()}?_HLS_msn=${target.msn}&_HLS_part=${target.part}`)),
        fetch(live(hint)),
      ]);
      expect(blocked.status).toBe(200);
      expect(blocked.headers.get('cache-control')).toBe('public, max-age=1');
      expect(blocked.headers.get('access-control-allow-origin')).toBe('*');
      const answer = parseLlMediaPlaylist(await blocked.text());
      expect(splitTolerated(checkLlMediaPlaylist(answer, { request: target, partIndexOf: llPartIndex })).failing).toEqual([]);
      const listed = [...answer.segments.flatMap((s) => s.parts), ...(answer.pending?.parts ?? [])];
      expect(listed.some((p) => p.uri === hint)).toBe(true); // the hint named the part that came
      // The hinted part came as soon as it existed: fMP4, immutable.
      expect(hinted.status).toBe(200);
      expect(hinted.headers.get('content-type')).toBe('video/mp4');
      expect(hinted.headers.get('cache-control')).toBe('public, max-age=86400, immutable');
      const part = Buffer.from(await hinted.arrayBuffer());
      expect(part.toString('latin1', 4, 8)).toBe('moof');

      const plain = await fetch(live(video()));
      expect(plain.headers.get('cache-control')).toBe('no-cache');
      expect(plain.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
      const init = await fetch(live(parsed.maps[0].uri));
      expect(init.status).toBe(200);
      expect(Buffer.from(await init.arrayBuffer()).toString('latin1', 4, 8)).toBe('ftyp');
      const segment = await fetch(live(parsed.segments[parsed.segments.length - 1].uri));
      expect(segment.headers.get('cache-control')).toBe('public, max-age=86400, immutable');
      expect(Buffer.from(await segment.arrayBuffer()).toString('latin1', 4, 8)).toBe('moof');

      // Right after: an answer to a request that waited holds the part it asked for, and at most the
      // one after it (a part lasts 0.2 s). A request that came after its part (this process was slow
      // to send it) is answered at once and says nothing about the wait.
      let waited = 0;
      for (let i = 0; i < 10; i++) {
        const { position: now } = await current();
        const next = nextPart(now);
        const before = delays.length;
        const response = await fetch(live(`${video()}?_HLS_msn=${next.msn}&_HLS_part=${next.part}`));
        expect(response.status).toBe(200);
        const got = llPlaylistPosition(parseLlMediaPlaylist(await response.text()));
        if (delays.length === before) continue;
        waited++;
        const newest = got.lastPart!;
        // The asked-for part, or the one after it; across a boundary, the next segment's first or second part.
        const rightAfter = newest.msn === next.msn ? newest.index - next.part <= 1 : newest.msn === next.msn + 1 && newest.index <= 1;
        expect({ asked: next, newest, rightAfter }).toEqual({ asked: next, newest, rightAfter: true });
      }
      console.log(`blocked requests answered after their part: ${delays.map((d) => d.toFixed(1)).join(', ')} ms (${waited} of 10 waited)`);
      expect(waited).toBeGreaterThan(0);
    } finally {
      emitter.off('delivery.ll-blocked-answered', listener);
    }
  });

  it('bad directives get a clear 400 at once; _HLS_skip=YES gives a delta update', async () => {
    const { position } = await current();
    const cases: Array<[string, RegExp]> = [
      [`_HLS_msn=${position.lastCompleteMsn + 3}`, /more than two segments beyond/],
      ['_HLS_part=1', /needs _HLS_msn/],
      ['_HLS_msn=abc', /non-negative decimal integer, got "abc"/],
      ['_HLS_msn=-1', /non-negative decimal integer/],
      ['_HLS_msn=99999999999999999', /non-negative decimal integer, got "99999999999999999"/],
      ['_HLS_msn=9007199254740993', /larger than 2\^53 - 1/],
      [`_HLS_msn=${position.lastCompleteMsn}&_HLS_msn=1`, /appears 2 times/],
      [`_HLS_msn=${position.lastCompleteMsn + 1}&_HLS_part=500`, /Advance Part Limit/],
      ['_HLS_skip=NO', /_HLS_skip must be YES or v2/],
    ];
    for (const [query, message] of cases) {
      const response = await fetch(live(`${video()}?${query}`));
      expect([query, response.status]).toEqual([query, 400]); // checked before anything blocks
      const body = await response.json();
      expect(body).toMatchObject({ statusCode: 400, error: 'BAD_REQUEST' });
      expect(body.message).toMatch(message);
    }
    expect((await fetch(live(`${peerId}-nothing.ll.m3u8`))).status).toBe(404);
    expect((await fetch(live(`${peerId}-video.ll.zzz.p1.m4s`))).status).toBe(404); // another publication's epoch
    expect((await fetch(live(`nobody-video.ll.m3u8`))).status).toBe(404);

    // Delta updates once more than CAN-SKIP-UNTIL (6 s) of segments are listed.
    const delta = await waitFor(
      'a delta update',
      async () => {
        const text = await (await fetch(live(`${video()}?_HLS_skip=YES`))).text();
        return text.includes('#EXT-X-SKIP:') ? text : undefined;
      },
      30_000,
      500,
    );
    expect(splitTolerated(checkLlMediaPlaylist(delta, { request: { skip: 'YES' }, partIndexOf: llPartIndex })).failing).toEqual([]);

    // LL segment n is classic segment n: same number, same length (the classic one on disk).
    for (const rendition of ['video', 'audio']) {
      const classic = (await readPlaylist(fx.app.hlsDir, `${peerId}-${rendition}.m3u8`))!;
      const low = (await current(`${peerId}-${rendition}.ll.m3u8`)).parsed;
      const lengths = new Map(low.segments.map((segment) => [segment.msn, segment.duration]));
      const common = classic.segments
        .map((segment, i) => [classic.mediaSequence + i, segment.duration] as const)
        .filter(([msn]) => lengths.has(msn));
      expect(common.length).toBeGreaterThan(2);
      // Equal to the millisecond, but where a part had to end at PART-TARGET at a segment's end (a frame
      // gap): the next segment's first frame is then decoded that much earlier (at most a frame gap).
      for (const [msn, duration] of common)
        expect([rendition, msn, Math.abs(lengths.get(msn)! - duration) < 0.1]).toEqual([rendition, msn, true]);
    }
  });

  it('limits blocked requests per connection (429 past four), releases a blocked request when its client goes away', async () => {
    const delivery = fx.app.app.get(LlDeliveryService);
    await waitFor('no blocked request left from earlier tests', () => delivery.blocked === 0, 10_000);
    const { position } = await current();
    // Ten pipelined requests on one connection for the next segment's first part: four block, six are
    // refused at once (HTTP/1.1 sends the answers in order, so the 429s come after the four 200s).
    const socket = connect(Number(new URL(fx.app.url).port), '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const request = `GET /live/${video()}?_HLS_msn=${position.lastCompleteMsn + 2}&_HLS_part=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
    socket.write(request.repeat(10));
    await waitFor('four blocked requests', () => delivery.blocked === 4, 5_000, 5);
    // Another connection is not affected.
    const other = await fetch(live(`${video()}?_HLS_msn=${position.lastCompleteMsn}`));
    expect(other.status).toBe(200);
    expect(delivery.blocked).toBeLessThanOrEqual(4);
    const statuses = await waitFor(
      'ten answers',
      () => {
        const all = [...received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
        return all.length === 10 ? all : undefined;
      },
      10_000,
    ).catch((error) => {
      throw new Error(
        `${error.message}; statuses ${[...received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1])}; tail ${JSON.stringify(received.slice(-1500))}; blocked ${delivery.blocked}`,
      );
    });
    expect(statuses).toEqual([...Array(4).fill('200'), ...Array(6).fill('429')]);
    expect(received).toContain('already holds 4 blocked playlist requests (limit 4)');
    socket.destroy();

    // A client that goes away: its blocked request is released at once, not at its deadline.
    const now = (await current()).position;
    const abort = new AbortController();
    const pending = fetch(live(`${video()}?_HLS_msn=${now.lastCompleteMsn + 2}`), { signal: abort.signal }).catch(() => 'aborted');
    await waitFor('one blocked request', () => delivery.blocked === 1, 2_000, 5);
    abort.abort();
    expect(await pending).toBe('aborted');
    await waitFor('released', () => delivery.blocked === 0, 1_000, 5);
  });

  it('FFmpeg and ffprobe read the LL master as ordinary HLS', async () => {
    const master = live(`${peerId}.ll.m3u8`);
    const { stdout } = await run(
      'ffprobe',
      ['-v', 'error', '-of', 'json', '-show_entries', 'stream=codec_name,codec_type,width,height', master],
      { timeout: 30_000 },
    );
    const streams = JSON.parse(stdout).streams as Array<{ codec_name: string; codec_type: string }>;
    expect(streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    const decoded = await run(
      'ffmpeg',
      ['-v', 'error', '-i', master, '-t', '3', '-fps_mode', 'passthrough', '-enc_time_base', '-1', '-f', 'null', '-'],
      {
        timeout: 60_000,
      },
    );
    expect(decoded.stderr).toBe('');
  });

  it('hls.js with lowLatencyMode off plays the LL master as ordinary HLS (whole fMP4 segments, no parts)', async () => {
    const viewer = await playWithHlsJs(fx.browser, fx.app.url, live(`${peerId}.ll.m3u8`));
    const parts: string[] = [];
    viewer.on('request', (request) => {
      if (/\.p\d+\.m4s$/.test(request.url())) parts.push(request.url());
    });
    const state = await waitUntilPlaying(viewer, 3, 30_000);
    expect(state.fatalErrors).toEqual([]);
    expect(parts).toEqual([]);
    await viewer.close();
  });

  it('an FFmpeg restart continues the LL playlists with a discontinuity and a new map; blocked requests wait across the gap', async () => {
    const transcoder = fx.app.app.get(TranscoderService);
    const [pid] = transcoder.pids();
    const before = await current();
    const audioBefore = await current(`${peerId}-audio.ll.m3u8`);
    // The killed run's last units drain from its pipes, then the run ends and completes its segment:
    // from then on the next part is the new run's.
    const emitter = fx.app.app.get(EventEmitter2);
    const runEnded = new Promise<void>((resolve) =>
      emitter.on('transcode.run-ended', function listener({ streamId }: { streamId: string }) {
        if (streamId !== peerId) return;
        emitter.off('transcode.run-ended', listener);
        setImmediate(resolve); // after packaging's own listener
      }),
    );
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await runEnded;
    const afterKill = await current();
    expect(afterKill.parsed.pending).toBeUndefined();
    const target = nextPart(afterKill.position);
    const started = Date.now();
    const response = await fetch(live(`${video()}?_HLS_msn=${target.msn}&_HLS_part=${target.part}`));
    const waited = Date.now() - started;
    const restartedAfter = await waitFor('a new FFmpeg', () => transcoder.pids().find((p) => p !== pid), 15_000);
    expect(restartedAfter).toBeDefined();
    if (response.status === 503) {
      // Allowed only if the new run's first part took longer than the spec's three target durations.
      expect(waited).toBeGreaterThanOrEqual(2_900);
      console.log(`the restart took over 3 target durations (blocked request: 503 after ${waited} ms)`);
    } else {
      expect(response.status).toBe(200);
      console.log(`blocked request across the restart answered after ${waited} ms (${Date.now() - killedAt} ms after the kill)`);
    }
    const after = await waitFor(
      'the new run in the playlist',
      async () => {
        const now = await current();
        return now.parsed.segments.some((s) => s.discontinuity) || now.parsed.pending?.discontinuity ? now : undefined;
      },
      20_000,
      200,
    );
    const restarted = [...after.parsed.segments, ...(after.parsed.pending ? [after.parsed.pending] : [])].find((s) => s.discontinuity)!;
    expect(restarted.mapLine).toBeDefined();
    expect(restarted.programDateTime).toBeDefined();
    expect(restarted.msn).toBe(target.msn + 1);
    const audioAfter = await current(`${peerId}-audio.ll.m3u8`);
    for (const [older, newer, name] of [
      [before, after, video()],
      [audioBefore, audioAfter, `${peerId}-audio.ll.m3u8`],
    ] as const) {
      const { failing } = splitTolerated([
        ...checkLlMediaPlaylist(newer.text, { partIndexOf: llPartIndex, selfUri: name }),
        ...checkLlMediaPlaylist(older.text, { partIndexOf: llPartIndex, selfUri: name }),
      ]);
      expect(formatViolations(failing)).toBe('');
    }
    expect(after.position.lastCompleteMsn).toBeGreaterThan(before.position.lastCompleteMsn);
  });
});
