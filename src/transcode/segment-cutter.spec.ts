import { SegmentCutter, TimedUnit } from './segment-cutter';

const CLOCK = 90_000;
const video = (seconds: number, keyframe = false): TimedUnit => ({
  pts: Math.round(seconds * CLOCK),
  dts: Math.round(seconds * CLOCK),
  keyframe,
});
const audio = (seconds: number): TimedUnit => ({ pts: Math.round(seconds * CLOCK), dts: Math.round(seconds * CLOCK), keyframe: true });

type Kind = 'video' | 'audio';

function collect(
  renditions: Array<{ name: string; kind: Kind }> = [
    { name: 'video', kind: 'video' },
    { name: 'audio', kind: 'audio' },
  ],
  target = 1,
) {
  const out: Array<{ rendition: string; t: number; segment: number; keyframe: boolean }> = [];
  const cuts: number[] = [];
  const clock = { now: 0 };
  const cutter = new SegmentCutter<TimedUnit>(
    renditions,
    { targetSeconds: target, now: () => clock.now },
    (rendition, unit, segment) => out.push({ rendition, t: unit.pts / CLOCK, segment, keyframe: unit.keyframe }),
    (index) => cuts.push(index),
  );
  const of = (rendition: string) => out.filter((o) => o.rendition === rendition);
  return { cutter, out, cuts, of, clock };
}

describe('SegmentCutter', () => {
  it('cuts video at keyframes and audio at the same instants, so segment n covers the same time in both', () => {
    const { cutter, of } = collect();
    // 30 fps video with keyframes at 0, 1.02, 2.01; 21.33 ms audio frames, the audio pipe a little ahead.
    const frames = Array.from({ length: 90 }, (_, i) => i / 30);
    const keyframes = new Set([0, 31, 60]);
    let a = 0;
    for (const [i, t] of frames.entries()) {
      while (a * 0.021333 <= t + 0.05) cutter.push('audio', audio(a++ * 0.021333));
      cutter.push('video', video(t, keyframes.has(i)));
    }
    cutter.end();
    const starts = (rendition: string) => [0, 1, 2].map((s) => of(rendition).find((o) => o.segment === s)!.t);
    expect(starts('video')).toEqual([0, 31 / 30, 2]);
    // Each audio segment starts at the first audio frame at or after the video cut.
    starts('audio').forEach((t, s) => {
      expect(t).toBeGreaterThanOrEqual(starts('video')[s] - 1e-9);
      expect(t - starts('video')[s]).toBeLessThan(0.0214);
    });
    // Segment indexes only grow, per rendition.
    for (const r of ['video', 'audio']) expect(of(r).map((o) => o.segment)).toEqual([...of(r).map((o) => o.segment)].sort((x, y) => x - y));
  });

  it('ignores a keyframe that comes too early in a segment (an unasked one), cutting on the next', () => {
    const { cutter, of, cuts } = collect([{ name: 'video', kind: 'video' }]);
    cutter.push('video', video(0, true));
    cutter.push('video', video(0.3, true)); // another viewer's PLI
    cutter.push('video', video(0.95, true));
    cutter.push('video', video(1.1));
    expect(of('video').map((o) => o.segment)).toEqual([0, 0, 1, 1]);
    expect(cuts).toEqual([0, 1]);
  });

  it('starts a segment at a keyframe in a new format however soon after the last cut (a new picture size cannot share one)', () => {
    const { cutter, of, cuts } = collect([{ name: 'video', kind: 'video' }]);
    cutter.push('video', video(0, true));
    cutter.push('video', video(0.2, true)); // the same format, too early: no cut
    cutter.push('video', { ...video(0.3, true), formatChange: true });
    cutter.push('video', video(0.4));
    cutter.push('video', video(1.3, true));
    cutter.end();
    expect(cuts).toEqual([0, 1, 2]);
    expect(of('video').map((o) => [o.t, o.segment])).toEqual([
      [0, 0],
      [0.2, 0],
      [0.3, 1],
      [0.4, 1],
      [1.3, 2],
    ]);
  });

  it('holds audio until the video has passed its time: a keyframe arriving later on its pipe still cuts it', () => {
    const { cutter, of } = collect();
    cutter.push('video', video(0, true));
    for (let t = 0; t < 1.2; t += 0.02) cutter.push('audio', audio(t));
    expect(of('audio').every((o) => o.t <= 0)).toBe(true); // held: video has not passed them
    cutter.push('video', video(1.0, true));
    cutter.push('video', video(1.2));
    const late = of('audio').filter((o) => o.t >= 1.0);
    expect(late.length).toBeGreaterThan(0);
    expect(late.every((o) => o.segment === 1)).toBe(true);
    expect(
      of('audio')
        .filter((o) => o.t < 1.0)
        .every((o) => o.segment === 0),
    ).toBe(true);
  });

  it('does not hold audio when video stops coming: it is cut every target on its own, and video rejoins at a keyframe', () => {
    const { cutter, of, clock } = collect();
    cutter.push('video', video(0, true));
    for (let i = 0; i < 150; i++) {
      clock.now = i * 20; // wall time passes with the audio
      cutter.push('audio', audio(i * 0.02));
    }
    const placed = of('audio');
    expect(placed.length).toBeGreaterThan(100);
    expect(Math.max(...placed.map((o) => o.segment))).toBeGreaterThanOrEqual(2); // not one long segment
    cutter.push('video', video(3.1)); // not a keyframe: video waits for one
    cutter.push('video', video(3.2, true));
    const back = of('video').at(-1)!;
    expect(back.keyframe).toBe(true);
    expect(
      of('video')
        .filter((o) => o.t > 0)
        .every((o) => o.keyframe || o.segment === back.segment),
    ).toBe(true);
  });

  it('cuts every simulcast layer at its own keyframe of the same captured frame, with the same index', () => {
    const layers = [
      { name: 'video', kind: 'video' as const },
      { name: 'video.r1', kind: 'video' as const },
      { name: 'video.r0', kind: 'video' as const },
      { name: 'audio', kind: 'audio' as const },
    ];
    const { cutter, of } = collect(layers);
    let a = 0;
    for (let f = 0; f < 120; f++) {
      const t = f / 30;
      const key = f % 30 === 0;
      // The layers' pipes deliver in any order; a lower layer sometimes first.
      for (const layer of f % 2 ? ['video.r0', 'video', 'video.r1'] : ['video', 'video.r1', 'video.r0']) cutter.push(layer, video(t, key));
      while (a * 0.021333 <= t) cutter.push('audio', audio(a++ * 0.021333));
    }
    cutter.end();
    for (const layer of ['video', 'video.r1', 'video.r0']) {
      const starts = [0, 1, 2, 3].map((s) => of(layer).find((o) => o.segment === s)!);
      expect(starts.map((o) => o.t)).toEqual([0, 1, 2, 3]);
      expect(starts.every((o) => o.keyframe)).toBe(true);
    }
  });

  it('a layer that never flows does not hold the others back; one that starts late starts at its first keyframe', () => {
    const { cutter, of, clock } = collect([
      { name: 'video', kind: 'video' },
      { name: 'video.r1', kind: 'video' },
      { name: 'audio', kind: 'audio' },
    ]);
    let a = 0;
    for (let f = 0; f < 150; f++) {
      const t = f / 30;
      clock.now = t * 1000;
      const key = f % 30 === 0;
      cutter.push('video.r1', video(t, key));
      // The top layer starts 2.5 s in, mid-segment, and sends its first keyframe at 3 s.
      if (t >= 2.5) cutter.push('video', video(t, key || f === 75 ? key : false));
      while (a * 0.021333 <= t) cutter.push('audio', audio(a++ * 0.021333));
    }
    expect(of('audio').length).toBeGreaterThan(200);
    const top = of('video');
    expect(top[0]).toMatchObject({ t: 3, keyframe: true, segment: 3 });
    expect(of('video.r1').find((o) => o.segment === 3)!.t).toBe(3);
  });

  it('cuts audio alone while video has stalled (no video by wall clock), and video rejoins at a keyframe', () => {
    const { cutter, of, clock } = collect();
    // 2 s of normal stream: keyframes every second.
    const step = (t: number, withVideo: boolean, keyframe = false) => {
      clock.now = t * 1000;
      cutter.push('audio', audio(t));
      if (withVideo) cutter.push('video', video(t, keyframe));
    };
    for (let i = 0; i < 100; i++) step(i * 0.02, true, i % 50 === 0);
    // Video stops for 4 s (a camera unplugged); audio goes on.
    for (let i = 100; i < 300; i++) step(i * 0.02, false);
    // Video comes back without a keyframe first, then one at 6.1 s and every second after.
    for (let i = 300; i < 400; i++) step(i * 0.02, true, i === 305 || i === 355);
    cutter.end();
    const audioSegments = new Map<number, number[]>();
    for (const o of of('audio')) audioSegments.set(o.segment, [...(audioSegments.get(o.segment) ?? []), o.t]);
    const spans = [...audioSegments.entries()].sort(([a], [b]) => a - b).map(([, ts]) => ts.at(-1)! - ts[0]);
    // No audio segment spans the stall: each one rounds to the 1 s target at most.
    for (const span of spans) expect(span).toBeLessThan(1.5);
    expect(spans.length).toBeGreaterThanOrEqual(7);
    // Video has no unit between the stall and its keyframe, and its first unit back is that keyframe.
    const videoBack = of('video').filter((o) => o.t >= 2);
    expect(videoBack[0].t).toBeCloseTo(6.1, 5);
    // Segment indexes agree in time: the keyframe's segment is the audio's segment for the same time
    // (but for audio placed at once while video was away, up to the moment the keyframe came).
    const audioAt = of('audio').find((o) => o.t > 6.1 + 0.02)!;
    expect(videoBack[0].segment).toBe(audioAt.segment);
  });

  it('a leader that lags but keeps producing (a slow encoder) is waited for, not cut around', () => {
    const { cutter, of, cuts, clock } = collect();
    // Video's pipe runs 2 s behind audio's, but a video frame comes out every 33 ms of wall time.
    for (let i = 0; i < 300; i++) {
      clock.now = i * 20;
      cutter.push('audio', audio(i * 0.02));
      if (i >= 100 && i % 2 === 0) cutter.push('video', video((i - 100) * 0.02, (i - 100) % 50 === 0));
    }
    expect(cuts).toEqual([0, 1, 2, 3]);
    // Audio is placed by the video's cuts (held, not cut alone).
    expect(
      of('audio')
        .filter((o) => o.segment === 1)
        .every((o) => o.t >= 1 && o.t < 2),
    ).toBe(true);
  });

  it('a host too busy to read its pipes for 1.5 s (then each pipe in one burst, audio first) does not cut audio apart from video', () => {
    const { cutter, of, clock } = collect();
    let a = 0;
    // Keyframes every 1.1 s (a publisher's own cadence), so audio cut alone would start elsewhere.
    const keyframeAt = (f: number) => f % 33 === 0;
    const stalled: TimedUnit[] = [];
    for (let f = 0; f < 150; f++) {
      const t = f / 30;
      clock.now = t * 1000;
      if (t >= 2 && t < 3.5) {
        // Nothing read from 2 s to 3.5 s; then the audio pipe's backlog, then the video pipe's.
        stalled.push(video(t, keyframeAt(f)));
        continue;
      }
      if (stalled.length > 0) {
        while (a * 0.021333 < t) cutter.push('audio', audio(a++ * 0.021333));
        for (const unit of stalled.splice(0)) cutter.push('video', unit);
      }
      while (a * 0.021333 <= t) cutter.push('audio', audio(a++ * 0.021333));
      cutter.push('video', video(t, keyframeAt(f)));
    }
    cutter.end();
    // Every audio segment starts with the video's keyframe: nothing was cut on audio's own timeline.
    for (let segment = 0; segment < 5; segment++) {
      const start = (segment * 33) / 30;
      const first = of('audio').find((o) => o.segment === segment)!;
      expect(of('video').find((o) => o.segment === segment)).toMatchObject({ t: start, keyframe: true });
      expect(first.t).toBeGreaterThanOrEqual(start - 1e-9);
      expect(first.t - start).toBeLessThan(0.0214);
    }
  });

  it('cuts audio alone every target on its own timeline, averaging the target', () => {
    const { cutter, of } = collect([{ name: 'audio', kind: 'audio' }]);
    for (let i = 0; i < 470; i++) cutter.push('audio', audio(i * 0.021333));
    const starts = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((s) => of('audio').find((o) => o.segment === s)!.t);
    starts.forEach((t, i) => expect(Math.abs(t - (i + 1))).toBeLessThan(0.0214));
  });
});
