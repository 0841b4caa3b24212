import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParameterSetWatch } from '../media/h264';
import { SegmentCutter } from '../transcode/segment-cutter';
import type { MediaUnit, RunTrack } from '../transcode/media-unit';
import { SegmentStore } from './segment-store';
import type { Continuity } from './continuity';
import { PackagerEvents, StreamPackager } from './stream-packager';

const CLOCK = 90_000;
/** A real 640x480 Constrained Baseline SPS and PPS (from libx264), so the master's CODECS are derived. */
const SPS = Buffer.from('6742c01ed900a03db0110000030001000003003c0f162e48', 'hex');
const PPS = Buffer.from('68cb83cb20', 'hex');
const START = Buffer.from([0, 0, 0, 1]);
const HEADERS = Buffer.alloc(376, 0x47);
const TRACKS: RunTrack[] = [
  { rendition: 'video', kind: 'video', source: 'rtp' },
  { rendition: 'audio', kind: 'audio', source: 'rtp' },
];

/** A real 1280x720 High SPS: the picture size a publisher's encoder switches to in `formatChange`. */
const SPS_720 = Buffer.from('67640028acd9405005bb0110000003001000000303c0f1831960', 'hex');

/**
 * Units as a run hands them on: 30 fps video with a keyframe each second, 48 kHz AAC, cut by the real
 * cutter. `formatChange`: from that second on (a keyframe there, then each second) the video's SPS is SPS_720.
 */
function runUnits(
  seconds: number,
  startSeconds: number,
  tracks = TRACKS,
  formatChange?: number,
): Array<{ rendition: string; unit: MediaUnit }> {
  const out: Array<{ rendition: string; unit: MediaUnit }> = [];
  const cutter = new SegmentCutter<Omit<MediaUnit, 'segment'>>(
    tracks.map((t) => ({ name: t.rendition, kind: t.kind })),
    { targetSeconds: 1 },
    (rendition, unit, segment) => out.push({ rendition, unit: { ...unit, segment } }),
  );
  const unit = (t: number, keyframe: boolean, data: Buffer) => {
    const pts = Math.round((startSeconds + t) * CLOCK);
    return { pts, dts: pts, keyframe, data, packets: Buffer.alloc(188 * 4, 1), programHeaders: HEADERS };
  };
  let a = 0;
  const hasAudio = tracks.some((t) => t.kind === 'audio');
  const hasVideo = tracks.some((t) => t.kind === 'video');
  const formats = new ParameterSetWatch(); // as FfmpegRun marks them
  const changeFrame = formatChange === undefined ? Infinity : Math.round(formatChange * 30);
  for (let f = 0; f < seconds * 30; f++) {
    const t = f / 30;
    while (hasAudio && a * (1024 / 48000) <= t) cutter.push('audio', unit(a++ * (1024 / 48000), true, Buffer.alloc(300)));
    // Keyframes come when asked, a target after the last cut (the change made one).
    const key = (f < changeFrame ? f : f - changeFrame) % 30 === 0;
    const sps = f >= changeFrame ? SPS_720 : SPS;
    const video = unit(
      t,
      key,
      key ? Buffer.concat([START, sps, START, PPS, START, Buffer.from([0x65, 1, 2])]) : Buffer.from([0, 0, 0, 1, 0x41, 1]),
    );
    if (hasVideo) cutter.push('video', { ...video, formatChange: formats.changes(video) });
  }
  cutter.end();
  return out;
}

describe('StreamPackager', () => {
  let dir: string;
  let events: { live: number; written: Array<{ rendition: string; seconds: number }>; failed: string[] };
  let packager: StreamPackager;
  const listener: PackagerEvents = {
    live: () => events.live++,
    segmentWritten: (rendition, _kind, seconds) => events.written.push({ rendition, seconds }),
    writeFailed: (what) => events.failed.push(what),
  };
  const playlist = (name: string) => readFileSync(join(dir, name), 'utf8');
  const play = (run: number, seconds: number, start: number, tracks = TRACKS, formatChange?: number) => {
    packager.onRunStarted(run, tracks);
    for (const { rendition, unit } of runUnits(seconds, start, tracks, formatChange)) packager.onUnit(run, rendition, unit);
    packager.onRunEnded(run);
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'packager-'));
    events = { live: 0, written: [], failed: [] };
    packager = new StreamPackager('s1', { segmentSeconds: 1, listSize: 6 }, new SegmentStore(dir), listener);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('numbers video and audio segments alike from 001, writes the master once both have one, and goes live once', async () => {
    play(1, 3.5, 10);
    await packager.settled();
    const video = playlist('s1-video.m3u8');
    const audio = playlist('s1-audio.m3u8');
    expect(video).toContain('#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:1\n');
    expect(audio).toContain('#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:1\n');
    expect(video).toContain('video_s1_001.ts\n');
    expect(audio).toContain('audio_s1_004.ts\n');
    expect(playlist('s1.m3u8')).toContain('CODECS="avc1.42c01e,mp4a.40.2",RESOLUTION=640x480,AUDIO="aud"');
    expect(events.live).toBe(1);
    // Files start with PAT + PMT, then the units' packets as they came.
    const first = readFileSync(join(dir, 'video_s1_001.ts'));
    expect(first.subarray(0, 376).equals(HEADERS)).toBe(true);
    expect(first.length).toBe(376 + 30 * 188 * 4);
  });

  it('continues numbering across runs, with one discontinuity per run, in every rendition alike', async () => {
    play(1, 3, 10);
    play(2, 2, 14); // a restart: a new run, timestamps go on
    await packager.settled();
    for (const rendition of ['video', 'audio']) {
      const text = playlist(`s1-${rendition}.m3u8`);
      expect(text).toContain(`${rendition}_s1_003.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:`);
      expect(text).toContain(`${rendition}_s1_004.ts\n`);
      expect(text).toContain(`${rendition}_s1_005.ts\n`);
    }
  });

  it('a picture size change within a run starts a segment after a discontinuity in every rendition; the count goes on across runs', async () => {
    play(1, 4.5, 10, TRACKS, 2.5); // the encoder switches to 1280x720 at 2.5 s, mid-segment
    expect(packager.continuity().cc).toBe(1);
    play(2, 2, 15);
    await packager.settled();
    for (const rendition of ['video', 'audio']) {
      const text = playlist(`s1-${rendition}.m3u8`);
      // 3 is cut short at the change; 4 starts with it, 6 is the next run's first.
      expect(text).toMatch(
        new RegExp(`#EXTINF:0\\.5\\d*,\n${rendition}_s1_003\\.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:[\\d.]+,\n${rendition}_s1_004\\.ts\n`),
      );
      expect(text).toContain(`${rendition}_s1_005.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:`);
      expect(text.match(/#EXT-X-DISCONTINUITY\n/g)).toHaveLength(2);
    }
    expect(packager.continuity().cc).toBe(2);
  });

  it('a kind that joins in a later run starts at the stream-wide number and discontinuity count', async () => {
    play(1, 3, 10, [TRACKS[0]]);
    await packager.settled();
    expect(playlist('s1.m3u8')).not.toContain('AUDIO=');
    play(2, 2, 14);
    await packager.settled();
    const audio = playlist('s1-audio.m3u8');
    expect(audio).toContain('#EXT-X-MEDIA-SEQUENCE:4\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n');
    expect(playlist('s1.m3u8')).toContain('AUDIO="aud"');
    // The video-only segments leave the video playlist with the master that adds audio: a player
    // starting there would wait for audio that segment 1..3 never had. Their files stay a while.
    const video = playlist('s1-video.m3u8');
    expect(video).toContain('#EXT-X-MEDIA-SEQUENCE:4\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n');
    expect(video).not.toContain('#EXT-X-DISCONTINUITY\n');
    expect(video.split('\n').filter((l) => l.endsWith('.ts'))).toEqual(['video_s1_004.ts', 'video_s1_005.ts']);
    expect(readdirSync(dir)).toContain('video_s1_001.ts');
  });

  it('a master that keeps its renditions keeps the earlier runs in the playlists (a restart is a discontinuity, not a cut)', async () => {
    play(1, 3, 10);
    play(2, 2, 14);
    await packager.settled();
    expect(playlist('s1-video.m3u8')).toContain('#EXT-X-MEDIA-SEQUENCE:1\n');
    expect(playlist('s1-audio.m3u8')).toContain('#EXT-X-MEDIA-SEQUENCE:1\n');
  });

  describe('a master of simulcast layers (written once)', () => {
    /** Layers as a browser ramps them up: r0 first; `video` (the top) is declared but absent. */
    const LOW_ONLY: RunTrack[] = [
      { rendition: 'video.r0', kind: 'video', source: 'rtp' },
      { rendition: 'video', kind: 'video', source: 'absent' },
      { rendition: 'audio', kind: 'audio', source: 'rtp' },
    ];
    const BOTH: RunTrack[] = [
      { rendition: 'video', kind: 'video', source: 'rtp' },
      { rendition: 'video.r0', kind: 'video', source: 'rtp' },
      { rendition: 'audio', kind: 'audio', source: 'rtp' },
    ];
    let now = 1_000_000;
    beforeEach(() => {
      now = 1_000_000;
      jest.spyOn(Date, 'now').mockImplementation(() => now);
    });
    afterEach(() => jest.restoreAllMocks());
    /**
     * A run's units from `start` (its segments numbered as one cutter numbers them), handed on in
     * slices up to a time: every video unit to each of the tracks' flowing video renditions.
     */
    const runOf = (run: number, tracks: RunTrack[], start: number, late?: { rendition: string; from: number }) => {
      const videos = tracks.filter((t) => t.kind === 'video' && t.source === 'rtp').map((t) => t.rendition);
      const units = runUnits(8, start);
      return async (until: number) => {
        while (units.length > 0 && units[0].unit.pts < until * CLOCK) {
          const { rendition, unit } = units.shift()!;
          for (const name of rendition === 'video' ? videos : [rendition]) {
            if (name !== late?.rendition || unit.pts >= late.from * CLOCK) packager.onUnit(run, name, unit);
          }
        }
        await packager.settled();
      };
    };
    const master = () => readdirSync(dir).includes('s1.m3u8') && playlist('s1.m3u8');

    it('waits while a run that brings a layer is prepared, then names every layer', async () => {
      packager.onRunStarted(1, LOW_ONLY);
      const run1 = runOf(1, LOW_ONLY, 10);
      await run1(13);
      expect(master()).toBe(false); // waiting for the other layer
      now += 3000;
      packager.onRunPreparing(BOTH, 6000); // the layer flows; its run starts while run 1 plays on
      now += 3000; // past the 4 s after the first video segment
      await run1(15);
      expect(master()).toBe(false);
      now += 2000;
      packager.onRunStarted(2, BOTH);
      await runOf(2, BOTH, 21)(23.5);
      expect(master()).toMatch(/s1-video\.m3u8\n[^]*s1-video\.r0\.m3u8\n/);
      expect(events.live).toBe(1);
    });

    it("starts every playlist where all layers have media when one layer's first keyframe came late", async () => {
      packager.onRunStarted(1, LOW_ONLY);
      await runOf(1, LOW_ONLY, 10)(13);
      packager.onRunPreparing(BOTH, 6000);
      now += 3000;
      packager.onRunStarted(2, BOTH);
      await runOf(2, BOTH, 21, { rendition: 'video.r0', from: 23 })(26.5); // r0 misses its first two segments
      const lists = ['s1-video.m3u8', 's1-video.r0.m3u8', 's1-audio.m3u8'].map(playlist);
      expect(lists[1]).not.toContain('#EXT-X-GAP');
      const sequences = lists.map((text) => /#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)![1]);
      expect(new Set(sequences).size).toBe(1);
      const firstNumbers = lists.map((text) => Number(/_(\d+)\.ts\n/.exec(text)![1]));
      expect(firstNumbers).toEqual(Array(3).fill(Number(sequences[0])));
      expect(master()).toMatch(/s1-video\.m3u8\n[^]*s1-video\.r0\.m3u8\n/);
    });

    it('a prepared run that never starts holds the master no longer than it said', async () => {
      packager.onRunStarted(1, LOW_ONLY);
      const run1 = runOf(1, LOW_ONLY, 10);
      await run1(13);
      packager.onRunPreparing(BOTH, 6000);
      now += 5000;
      await run1(15);
      expect(master()).toBe(false);
      now += 1500;
      await run1(17);
      expect(master()).toContain('s1-video.r0.m3u8');
      expect(master()).not.toContain('s1-video.m3u8');
    });
  });

  it('slides the window, and deletes a segment one window after it left the playlist', async () => {
    play(1, 14, 10);
    await packager.settled();
    const video = playlist('s1-video.m3u8');
    expect(video).toContain('#EXT-X-MEDIA-SEQUENCE:9\n');
    const files = readdirSync(dir)
      .filter((f) => f.startsWith('video_'))
      .sort();
    expect(files[0]).toBe('video_s1_003.ts'); // 3..8 left the window and are kept one more window
    expect(files.at(-1)).toBe('video_s1_014.ts');
  });

  it('fixes TARGETDURATION from the first segment when keyframes come slower than the target', async () => {
    packager.onRunStarted(1, [TRACKS[0]]);
    // Keyframes every 2 s, as from a publisher that ignores requests.
    const cutter = new SegmentCutter<Omit<MediaUnit, 'segment'>>(
      [{ name: 'video', kind: 'video' }],
      { targetSeconds: 1 },
      (r, u, segment) => packager.onUnit(1, r, { ...u, segment }),
    );
    for (let f = 0; f < 30 * 7; f++) {
      const key = f % 60 === 0;
      const pts = Math.round((f / 30) * CLOCK);
      const data = key ? Buffer.concat([START, SPS, START, PPS, START, Buffer.from([0x65])]) : Buffer.from([0, 0, 0, 1, 0x41]);
      cutter.push('video', { pts, dts: pts, keyframe: key, data, packets: Buffer.alloc(188), programHeaders: HEADERS });
    }
    await packager.settled();
    const text = playlist('s1-video.m3u8');
    expect(text).toContain('#EXT-X-TARGETDURATION:2\n');
    for (const extinf of text.match(/#EXTINF:([\d.]+)/g)!) expect(Math.round(Number(extinf.slice(8)))).toBeLessThanOrEqual(2);
  });

  it('decides TARGETDURATION from video when audio runs ahead of a late first keyframe, and never writes another', async () => {
    const store = new SegmentStore(dir);
    const written: string[] = [];
    const real = store.writePlaylist.bind(store);
    store.writePlaylist = async (name, text) => {
      if (name.includes('-')) written.push(text);
      return real(name, text);
    };
    packager = new StreamPackager('s1', { segmentSeconds: 1, listSize: 6 }, store, listener);
    packager.onRunStarted(1, TRACKS);
    // A publisher that ignores keyframe requests: GOP 2 s, its first keyframe 1.7 s after audio began.
    const clock = { ms: 0 };
    const cutter = new SegmentCutter<Omit<MediaUnit, 'segment'>>(
      TRACKS.map((t) => ({ name: t.rendition, kind: t.kind })),
      { targetSeconds: 1, now: () => clock.ms },
      (r, u, segment) => packager.onUnit(1, r, { ...u, segment }),
    );
    const unit = (t: number, keyframe: boolean, data: Buffer) => ({
      pts: Math.round(t * CLOCK),
      dts: Math.round(t * CLOCK),
      keyframe,
      data,
      packets: Buffer.alloc(188),
      programHeaders: HEADERS,
    });
    let a = 0;
    for (let f = 0; f < 30 * 12; f++) {
      const t = f / 30;
      clock.ms = t * 1000;
      while (a * (1024 / 48000) <= t) cutter.push('audio', unit(a++ * (1024 / 48000), true, Buffer.alloc(300)));
      if (t < 1.7) continue;
      const key = (f - 51) % 60 === 0;
      cutter.push(
        'video',
        unit(t, key, key ? Buffer.concat([START, SPS, START, PPS, START, Buffer.from([0x65])]) : Buffer.from([0, 0, 0, 1, 0x41])),
      );
    }
    cutter.end();
    packager.onRunEnded(1);
    await packager.settled();
    expect(written.length).toBeGreaterThan(8);
    for (const text of written) {
      expect(text).toContain('#EXT-X-TARGETDURATION:2\n');
      for (const m of text.matchAll(/#EXTINF:([\d.]+)/g)) expect(Math.round(Number(m[1]))).toBeLessThanOrEqual(2);
    }
    // Audio started before video: its playlist begins earlier, in the same numbering.
    const firstOf = (rendition: string) => written.find((text) => text.includes(`${rendition}_s1_`))!;
    expect(firstOf('audio')).toContain('#EXT-X-MEDIA-SEQUENCE:1\n');
    expect(firstOf('video')).toMatch(/#EXT-X-MEDIA-SEQUENCE:[23]\n/);
  });

  it('lists a segment it could not write as a gap and carries on', async () => {
    const store = new SegmentStore(dir);
    const real = store.writeSegment.bind(store);
    // The disk is full while segment 3 is written.
    store.writeSegment = async (name, data) => {
      if (name.endsWith('_003.ts')) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      return real(name, data);
    };
    packager = new StreamPackager('s1', { segmentSeconds: 1, listSize: 6 }, store, listener);
    play(1, 5, 10);
    await packager.settled();
    const video = playlist('s1-video.m3u8');
    expect(video).toContain('#EXT-X-GAP\n#EXTINF:1.000,\nvideo_s1_003.ts\n');
    expect(video).toContain('video_s1_004.ts\n');
    expect(events.failed.some((f) => f.includes('video_s1_003.ts'))).toBe(true);
  });

  it('lists the numbers a rendition has no media for as gaps, timed and counted as the other rendition has them', async () => {
    // Run 1: audio stops after 2 s (its RTP went quiet) while video goes on to 5 s; then run 2 (the filler run).
    packager.onRunStarted(1, TRACKS);
    for (const { rendition, unit } of runUnits(5, 10)) {
      if (rendition === 'audio' && unit.pts >= 12 * CLOCK) continue;
      packager.onUnit(1, rendition, unit);
    }
    packager.onRunEnded(1);
    play(2, 3, 15.1);
    await packager.settled();
    const numbers = (text: string) => [...text.matchAll(/_(\d{3})\.ts/g)].map((m) => Number(m[1]));
    const video = playlist('s1-video.m3u8');
    const audio = playlist('s1-audio.m3u8');
    // Same numbers in the same places: a playlist numbers segments by position.
    expect(numbers(audio)).toEqual(numbers(video));
    // The missing ones are gaps with the video's durations, before the same discontinuity.
    expect(audio).toContain('#EXT-X-GAP\n#EXTINF:1.000,\naudio_s1_003.ts\n#EXT-X-GAP\n#EXTINF:1.000,\naudio_s1_004.ts\n');
    const before = (text: string) => text.slice(0, text.indexOf('#EXT-X-DISCONTINUITY\n'));
    expect(numbers(before(audio))).toEqual(numbers(before(video)));
    expect(audio).toContain('#EXT-X-VERSION:8\n'); // EXT-X-GAP needs version 8
  });

  it('ends every playlist with ENDLIST and removes only its own files', async () => {
    play(1, 3, 10);
    await packager.end();
    expect(playlist('s1-video.m3u8').endsWith('#EXT-X-ENDLIST\n')).toBe(true);
    expect(playlist('s1-audio.m3u8').endsWith('#EXT-X-ENDLIST\n')).toBe(true);
    const other = new StreamPackager('s1_2', { segmentSeconds: 1, listSize: 6 }, new SegmentStore(dir), listener);
    other.onRunStarted(1, TRACKS);
    for (const { rendition, unit } of runUnits(2.5, 0)) other.onUnit(1, rendition, unit);
    other.onRunEnded(1);
    await other.settled();
    await packager.removeFiles();
    const left = readdirSync(dir);
    expect(left.some((f) => f.includes('_s1_0') || f.startsWith('s1.') || f.startsWith('s1-'))).toBe(false);
    expect(left).toContain('s1_2.m3u8');
    expect(left).toContain('video_s1_2_001.ts');
  });

  describe('continued on another node (cluster)', () => {
    it('saves where it stands before listing each segment: next number, discontinuities, timeline end, target, each window', async () => {
      const saved: Continuity[] = [];
      packager = new StreamPackager(
        's1',
        { segmentSeconds: 1, listSize: 3, saveContinuity: async (c) => (saved.push(c), true) },
        new SegmentStore(dir),
        listener,
      );
      play(1, 3, 10);
      play(2, 2, 14);
      await packager.settled();
      const last = saved.at(-1)!;
      const video = playlist('s1-video.m3u8');
      const lastNumber = Number(/video_s1_(\d+)\.ts\n$/.exec(video)![1]);
      expect(last).toMatchObject({ nextNumber: lastNumber + 1, cc: 1, targetDuration: 1 });
      // The timeline end is the end of the last segment (90 kHz), past the last unit of the second run.
      expect(last.nextPts).toBeGreaterThan(15.9 * CLOCK);
      expect(last.nextPts).toBeLessThan(16.2 * CLOCK);
      // Each rendition's window as its playlist lists it (at most listSize), the one being listed included.
      expect(last.renditions!.video.map((s) => s.uri)).toEqual(
        video
          .split('\n')
          .filter((l) => l.endsWith('.ts'))
          .slice(-3),
      );
      expect(last.renditions!.audio.length).toBeLessThanOrEqual(3);
      // Saved in order: numbers never go back.
      const numbers = saved.map((c) => c.nextNumber);
      expect([...numbers].sort((a, b) => a - b)).toEqual(numbers);
    });

    it('lists nothing more once the store refuses (another node has the stream), and abandon() writes no ENDLIST', async () => {
      let allowed = true;
      packager = new StreamPackager(
        's1',
        { segmentSeconds: 1, listSize: 6, saveContinuity: async () => allowed },
        new SegmentStore(dir),
        listener,
      );
      play(1, 3, 10);
      await packager.settled();
      const before = playlist('s1-video.m3u8');
      allowed = false;
      play(2, 3, 14);
      await packager.abandon();
      expect(playlist('s1-video.m3u8')).toBe(before);
      expect(before).not.toContain('#EXT-X-ENDLIST');
      expect(events.failed).toEqual([]);
    });

    it("starts with the other node's last window, then its own segments after a discontinuity, at the same target", async () => {
      const window = (rendition: string) =>
        [40, 41, 42].map((number) => ({ uri: `${rendition}_s1_0${number}.ts`, number, duration: 2, cc: number === 42 ? 4 : 3 }));
      const continueFrom: Continuity = {
        nextNumber: 43,
        cc: 4,
        nextPts: 86 * CLOCK,
        targetDuration: 2,
        renditions: { video: window('video'), audio: window('audio') },
      };
      packager = new StreamPackager('s1', { segmentSeconds: 1, listSize: 4, continueFrom }, new SegmentStore(dir), listener);
      play(1, 6, 87);
      await packager.settled();
      const video = playlist('s1-video.m3u8');
      expect(video).toContain('#EXT-X-TARGETDURATION:2\n');
      expect(video).toMatch(/#EXT-X-DISCONTINUITY-SEQUENCE:[45]\n/);
      const uris = video.split('\n').filter((l) => l.endsWith('.ts'));
      const numbers = uris.map((u) => Number(/_(\d+)\.ts$/.exec(u)![1]));
      expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
      expect(numbers.at(-1)).toBeGreaterThan(43);
      // The window slid past the other node's segments without touching them (they are not here to delete).
      expect(events.failed).toEqual([]);
      expect(
        readdirSync(dir)
          .filter((f) => f.startsWith('video_'))
          .map((f) => Number(/_(\d+)\.ts$/.exec(f)![1]))[0],
      ).toBe(43);
    });

    it('a number the other node listed in one rendition only (it stopped between the two) is a gap in the other, so both number alike', async () => {
      const window = (rendition: string, numbers: number[]) =>
        numbers.map((number) => ({ uri: `${rendition}_s1_0${number}.ts`, number, duration: number === 42 ? 1.5 : 1, cc: 2 }));
      const continueFrom: Continuity = {
        nextNumber: 43,
        cc: 2,
        nextPts: 50 * CLOCK,
        targetDuration: 2,
        renditions: { video: window('video', [40, 41, 42]), audio: window('audio', [40, 41]) },
      };
      packager = new StreamPackager('s1', { segmentSeconds: 1, listSize: 10, continueFrom }, new SegmentStore(dir), listener);
      play(1, 3, 51);
      await packager.settled();
      const audio = playlist('s1-audio.m3u8');
      expect(audio).toContain('#EXT-X-MEDIA-SEQUENCE:40\n');
      expect(audio).toContain('audio_s1_041.ts\n#EXT-X-GAP\n#EXTINF:1.500,\naudio_s1_042.ts\n#EXT-X-DISCONTINUITY\n');
      for (const name of ['s1-video.m3u8', 's1-audio.m3u8']) {
        const numbers = playlist(name)
          .split('\n')
          .filter((l) => l.endsWith('.ts'))
          .map((u) => Number(/_(\d+)\.ts$/.exec(u)![1]));
        expect(numbers).toEqual(numbers.map((_, i) => 40 + i)); // a segment's number is its position
        expect(numbers.length).toBeGreaterThan(4);
      }
      expect(events.failed).toEqual([]);
    });

    it("lists the other node's window first while it is still in the window", async () => {
      const continueFrom: Continuity = {
        nextNumber: 8,
        cc: 2,
        nextPts: 20 * CLOCK,
        targetDuration: 1,
        renditions: { video: [6, 7].map((number) => ({ uri: `video_s1_00${number}.ts`, number, duration: 1, cc: 2 })) },
      };
      packager = new StreamPackager('s1', { segmentSeconds: 1, listSize: 6, continueFrom }, new SegmentStore(dir), listener);
      play(1, 2.5, 21, [TRACKS[0]]);
      await packager.settled();
      const video = playlist('s1-video.m3u8');
      expect(video).toContain('#EXT-X-MEDIA-SEQUENCE:6\n#EXT-X-DISCONTINUITY-SEQUENCE:2\n');
      expect(video).toContain('video_s1_007.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:');
      expect(video).toContain('video_s1_008.ts\n');
      expect(readdirSync(dir)).not.toContain('video_s1_007.ts');
    });
  });
});
