import {
  LlPart,
  LlPlaylistState,
  LlRenditionReport,
  LlSegment,
  LlSegmentInProgress,
  llLivePosition,
  llRenditionReport,
  renderLlPlaylist,
} from '../../src/packaging/ll';
import {
  LlCheckOptions,
  Violation,
  checkLlMediaPlaylist,
  checkLlRenditionSet,
  checkMasterPlaylist,
  compareLlReloads,
  formatViolations,
  masterMediaUris,
  parseAttributeList,
  parseLlMediaPlaylist,
} from './ll-hls-rules';

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0, 0);
const FRAME = 1 / 30;

/**
 * A stand-in packager for one rendition: parts named by a global counter, segments cut on request,
 * restarts that bring a discontinuity and a new init section, a sliding window. It feeds the real
 * renderer, so the checker is tried on what the server will write.
 */
class Rendition {
  segments: LlSegment[] = [];
  inProgress: LlSegmentInProgress | undefined;
  mediaSequence = 0;
  keyframes = new Set<string>();
  reports: () => LlRenditionReport[] = () => [];
  private partNumber = 0;
  private run = 0;
  private runStart = T0;
  private runMedia = 0;

  constructor(
    readonly name: string,
    readonly keep = 12,
  ) {
    this.startRun();
  }

  get partUri(): string {
    return `${this.name}-p${this.partNumber}.m4s`;
  }

  addPart(duration: number, independent: boolean): void {
    const part: LlPart = { uri: this.partUri, duration, independent };
    if (independent) this.keyframes.add(part.uri);
    this.inProgress = { ...this.inProgress!, parts: [...this.inProgress!.parts, part] };
    this.partNumber++;
    this.runMedia += duration;
  }

  /** Completes the segment in progress and opens the next one of the same run. */
  cut(): void {
    const current = this.inProgress!;
    const msn = this.mediaSequence + this.segments.length;
    const duration = current.parts.reduce((sum, part) => sum + part.duration, 0);
    this.segments.push({ ...current, uri: `${this.name}-s${msn}.m4s`, duration });
    while (this.segments.length > this.keep) {
      this.segments.shift();
      this.mediaSequence++;
    }
    this.inProgress = { ...current, parts: [], programDateTime: this.runStart + Math.round(this.runMedia * 1000) };
  }

  /** The source stops: what is in progress is completed; nothing runs until `startRun`. */
  stop(): void {
    if (this.inProgress && this.inProgress.parts.length > 0) this.cut();
    this.inProgress = undefined;
  }

  startRun(gapMs = 0): void {
    const wall = this.runStart + Math.round(this.runMedia * 1000) + gapMs;
    if (this.inProgress !== undefined || this.segments.length > 0) this.run++;
    this.runStart = wall;
    this.runMedia = 0;
    this.inProgress = { parts: [], mapUri: `${this.name}-init${this.run}.mp4`, discontinuitySequence: this.run, programDateTime: wall };
  }

  /** `reports` false: without rendition reports (what another rendition reads to report this one). */
  state(ended = false, reports = true): LlPlaylistState {
    return {
      targetDuration: 1,
      // 7 frames at 30 fps, rounded up to the millisecond: 6-frame parts (0.200 s) stay above 85 % of it.
      partTarget: 0.234,
      mediaSequence: this.mediaSequence,
      segments: [...this.segments],
      inProgress: this.inProgress,
      preloadHintUri: this.partUri,
      ended,
      independentSegments: true,
      renditionReports: reports ? this.reports() : [],
    };
  }

  render(request: { skip?: 'YES' | 'v2' } = {}): string {
    return renderLlPlaylist(this.state(), request);
  }

  options(extra: LlCheckOptions = {}): LlCheckOptions {
    return {
      keyframeParts: (uri) => this.keyframes.has(uri),
      partIndexOf: (uri) => Number(new RegExp(`^${this.name}-p(\\d+)\\.m4s$`).exec(uri)?.[1] ?? NaN),
      expectedRenditionReports: [this.name === 'video' ? 'audio.m3u8' : 'video.m3u8'],
      selfUri: `${this.name}.m3u8`,
      ...extra,
    };
  }
}

/** Video cut on 30 fps timestamps (parts of 6 or 7 frames, the last one shorter) and audio beside it. */
function pair(): { video: Rendition; audio: Rendition; step: (part: number) => void } {
  const video = new Rendition('video');
  const audio = new Rendition('audio');
  video.reports = () => [llRenditionReport('audio.m3u8', audio.state(false, false))];
  audio.reports = () => [llRenditionReport('video.m3u8', video.state(false, false))];
  const frames = [6, 7, 6, 7, 4]; // 30 frames: one segment of 1.000 s, parts ≤ 0.233 s
  const step = (part: number): void => {
    const index = part % frames.length;
    video.addPart(frames[index] * FRAME, index === 0);
    audio.addPart(frames[index] * FRAME, true);
    if (index === frames.length - 1) {
      video.cut();
      audio.cut();
    }
  };
  return { video, audio, step };
}

const rules = (violations: Violation[]): string[] => [...new Set(violations.map((v) => v.rule))];

/** Asserts the checker reports `rule` (and, when given, a message matching `message`) for `text`. */
function expectRule(text: string, rule: string, message?: RegExp, options: LlCheckOptions = {}): void {
  const found = checkLlMediaPlaylist(text, options).filter((v) => v.rule === rule);
  if (found.length === 0)
    throw new Error(
      `expected a "${rule}" violation, got:\n${formatViolations(checkLlMediaPlaylist(text, options)) || '(none)'}\n--- playlist ---\n${text}`,
    );
  if (message && !found.some((v) => message.test(v.message)))
    throw new Error(`no "${rule}" message matches ${message}:\n${formatViolations(found)}`);
}

/** A small, valid LL playlist to break by hand (line numbers fixed by this text). */
const GOOD = `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:1
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6.000,PART-HOLD-BACK=0.750
#EXT-X-PART-INF:PART-TARGET=0.250
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-DISCONTINUITY-SEQUENCE:0
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="init0.mp4"
#EXT-X-PROGRAM-DATE-TIME:2025-06-01T12:00:00.000Z
#EXT-X-PART:DURATION=0.250,URI="p0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.250,URI="p1.m4s"
#EXT-X-PART:DURATION=0.250,URI="p2.m4s"
#EXT-X-PART:DURATION=0.250,URI="p3.m4s"
#EXTINF:1.000,
s10.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="init1.mp4"
#EXT-X-PROGRAM-DATE-TIME:2025-06-01T12:00:05.000Z
#EXT-X-PART:DURATION=0.250,URI="p4.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.250,URI="p5.m4s"
#EXT-X-PART:DURATION=0.100,URI="p6.m4s"
#EXTINF:0.600,
s11.m4s
#EXT-X-PART:DURATION=0.250,URI="p7.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.100,URI="p8.m4s"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p9.m4s"
#EXT-X-RENDITION-REPORT:URI="audio.m3u8",LAST-MSN=12,LAST-PART=1
`;
const partNumber = (uri: string): number | undefined => {
  const match = /^p(\d+)\.m4s$/.exec(uri);
  return match ? Number(match[1]) : undefined;
};
const replace = (from: string | RegExp, to: string, text = GOOD): string => {
  const out = text.replace(from, to);
  if (out === text) throw new Error(`the test's replacement of ${from} changed nothing`);
  return out;
};

describe('checkLlMediaPlaylist on the renderer output', () => {
  it('finds nothing wrong in a live session with restarts, full and delta reloads, and blocking answers', () => {
    const { video, audio, step } = pair();
    let previousFull: string | undefined;
    let previousAudio: string | undefined;
    let checked = 0;
    const check = (): void => {
      const full = video.render();
      const delta = video.render({ skip: 'YES' });
      const audioText = audio.render({ skip: 'v2' });
      const position = llLivePosition(video.state());
      const request = position.lastPart ? { msn: position.lastPart.msn, part: position.lastPart.index } : undefined;
      const problems = [
        ...checkLlMediaPlaylist(full, video.options({ request })),
        ...checkLlMediaPlaylist(delta, video.options({ request: { ...request, skip: 'YES' } })),
        ...checkLlMediaPlaylist(audioText, audio.options({ request: { skip: 'v2' } })),
        ...checkLlRenditionSet({ 'video.m3u8': full, 'audio.m3u8': audio.render() }),
        ...(previousFull ? compareLlReloads(previousFull, full) : []),
        ...(previousFull ? compareLlReloads(previousFull, delta) : []),
        ...(previousAudio ? compareLlReloads(previousAudio, audio.render()) : []),
      ];
      if (problems.length > 0) throw new Error(`${formatViolations(problems)}\n--- video ---\n${full}\n--- delta ---\n${delta}`);
      previousFull = full;
      previousAudio = audio.render();
      checked++;
    };
    let part = 0;
    for (; part < 60; part++) {
      step(part);
      check();
    }
    // The source stops mid-segment and comes back 2 s later (a publisher reconnect).
    step(part++);
    step(part);
    video.stop();
    audio.stop();
    check();
    video.startRun(2000);
    audio.startRun(2000);
    check(); // the next run exists without parts: a MAP preload hint
    part = 0;
    for (; part < 90; part++) {
      step(part);
      check();
    }
    expect(checked).toBe(152);
    const text = video.render({ skip: 'YES' });
    expect(text).toContain('#EXT-X-SKIP:SKIPPED-SEGMENTS=');
    expect(parseLlMediaPlaylist(video.render()).segments.some((s) => s.discontinuity)).toBe(false); // the old run slid out
    // The stream ends: the segment in progress is completed, ENDLIST, no hint, directives ignored.
    step(part);
    video.stop();
    const ended = renderLlPlaylist(video.state(true), { skip: 'YES' });
    expect(ended.endsWith('#EXT-X-ENDLIST\n')).toBe(true);
    expect([
      ...checkLlMediaPlaylist(ended, video.options({ request: { msn: 999, part: 3, skip: 'YES' } })),
      ...compareLlReloads(previousFull!, ended),
    ]).toEqual([]);
  });

  it('finds nothing wrong for random part targets and part durations that obey the rules (seeded)', () => {
    let seed = 42;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let trial = 0; trial < 300; trial++) {
      const targetDuration = 1 + Math.floor(random() * 2);
      const partTarget = 0.15 + random() * 0.35;
      let n = 0;
      let time = 0;
      const segments: LlSegment[] = [];
      const makeParts = (seconds: number): LlPart[] => {
        const parts: LlPart[] = [];
        for (let left = seconds; left > 1e-9;) {
          const duration = Math.min(left, partTarget * (0.85 + 0.15 * random()));
          parts.push({ uri: `p${n++}.m4s`, duration, independent: parts.length === 0 });
          left -= duration;
        }
        return parts;
      };
      for (let i = 0; i < 20; i++) {
        const parts = makeParts((targetDuration + 0.49) * (0.5 + 0.5 * random())); // rounds to at most the target duration
        const duration = parts.reduce((sum, part) => sum + part.duration, 0);
        const dsn = i < 8 ? 0 : 1;
        segments.push({
          uri: `s${i}.m4s`,
          duration,
          parts,
          mapUri: `init${dsn}.mp4`,
          discontinuitySequence: dsn,
          programDateTime: T0 + Math.round(time * 1000) + dsn * 1500,
        });
        time += duration;
      }
      const state: LlPlaylistState = {
        targetDuration,
        partTarget,
        mediaSequence: 0,
        segments,
        inProgress: {
          parts: makeParts(partTarget * 1.5),
          mapUri: 'init1.mp4',
          discontinuitySequence: 1,
          programDateTime: T0 + Math.round(time * 1000) + 1500,
        },
        preloadHintUri: `p${n}.m4s`,
        ended: false,
        independentSegments: true,
        renditionReports: [],
      };
      const options = { partIndexOf: partNumber, request: { skip: 'YES' as const } };
      const full = renderLlPlaylist(state);
      const delta = renderLlPlaylist(state, { skip: 'YES' });
      const problems = [
        ...checkLlMediaPlaylist(full, { ...options, request: undefined }),
        ...checkLlMediaPlaylist(delta, options),
        ...compareLlReloads(full, delta),
      ];
      if (problems.length > 0)
        throw new Error(`trial ${trial} (TD ${targetDuration}, PART-TARGET ${partTarget}):\n${formatViolations(problems)}\n${full}`);
    }
  });

  it('flags an answer that lacks what a blocking request asked for, across the segment boundary too', () => {
    const { video, step } = pair();
    for (let part = 0; part < 5; part++) step(part); // segment 0 complete with 5 parts, nothing in progress
    const text = video.render();
    expect(checkLlMediaPlaylist(text, video.options({ request: { msn: 0, part: 4 } }))).toEqual([]);
    expect(checkLlMediaPlaylist(text, video.options({ request: { msn: 0 } }))).toEqual([]);
    expectRule(
      text,
      'blocking-request',
      /_HLS_msn=0&_HLS_part=5 must contain part 5 of msn 0 or later \(part 0 of msn 1 when msn 0 ended with fewer parts\), but the playlist ends at msn 0 part 4/,
      video.options({ request: { msn: 0, part: 5 } }),
    );
    expectRule(text, 'blocking-request', /_HLS_msn=1 must contain a complete segment 1 or later/, video.options({ request: { msn: 1 } }));
    step(5);
    expect(checkLlMediaPlaylist(video.render(), video.options({ request: { msn: 0, part: 5 } }))).toEqual([]);
  });
});

describe('each rule fires on a broken playlist', () => {
  const options: LlCheckOptions = { partIndexOf: partNumber, expectedRenditionReports: ['audio.m3u8'] };

  it('accepts the hand-made reference playlist', () => {
    expect(checkLlMediaPlaylist(GOOD, options)).toEqual([]);
    const parsed = parseLlMediaPlaylist(GOOD);
    expect(parsed.segments.map((s) => [s.msn, s.dsn, s.mapUri])).toEqual([
      [10, 0, 'init0.mp4'],
      [11, 1, 'init1.mp4'],
    ]);
    expect(parsed.pending?.msn).toBe(12);
    expect(parsed.pending?.parts.map((p) => p.uri)).toEqual(['p7.m4s', 'p8.m4s']);
  });

  it('first-line, syntax, duplicate-tag, tag-order, master-tag-in-media', () => {
    expectRule(' ' + GOOD, 'first-line', /line 1: the first line must be exactly #EXTM3U, found " #EXTM3U"/);
    expectRule('\ufeff' + GOOD, 'first-line');
    expectRule(replace('URI="p2.m4s"', 'URI=p2.m4s'), 'syntax', /line 13: EXT-X-PART needs a quoted, non-empty URI attribute/);
    expectRule(
      replace('DURATION=0.250,URI="p2.m4s"', 'DURATION=0.25s,URI="p2.m4s"'),
      'syntax',
      /line 13: DURATION must be a decimal number, found "0.25s"/,
    );
    expectRule(replace('#EXTINF:1.000,\n', ''), 'syntax', /line 15: URI line "s10.m4s" without a preceding EXTINF/);
    expectRule(
      replace('#EXTINF:1.000,\n', '#EXTINF:1.000,\n#EXTINF:1.000,\n'),
      'syntax',
      /line 16: EXTINF follows the EXTINF of line 15 without a URI line between them/,
    );
    expectRule(replace('s11.m4s\n', ''), 'syntax', /line 23: EXTINF without a URI line after it/);
    expectRule(
      replace('#EXT-X-VERSION:9\n', '#EXT-X-VERSION:9\n#EXT-X-VERSION:9\n'),
      'duplicate-tag',
      /EXT-X-VERSION appears 2 times \(lines 2, 3\)/,
    );
    expectRule(
      replace('#EXT-X-MEDIA-SEQUENCE:10\n', '').replace('s10.m4s\n', 's10.m4s\n#EXT-X-MEDIA-SEQUENCE:10\n'),
      'tag-order',
      /EXT-X-MEDIA-SEQUENCE must come before the first segment/,
    );
    expectRule(
      replace('#EXT-X-MAP:URI="init1.mp4"\n', '').replace(
        'URI="p4.m4s",INDEPENDENT=YES\n',
        'URI="p4.m4s",INDEPENDENT=YES\n#EXT-X-MAP:URI="init1.mp4"\n',
      ),
      'tag-order',
      /EXT-X-MAP must come before the first EXT-X-PART/,
    );
    expectRule(
      replace('#EXTINF:1.000,\ns10.m4s', '#EXTINF:1.000,\n#EXT-X-PART:DURATION=0.250,URI="px.m4s"\ns10.m4s'),
      'tag-order',
      /EXT-X-PART after the EXTINF of line 15/,
    );
    expectRule(
      replace('#EXT-X-INDEPENDENT-SEGMENTS\n', '#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:BANDWIDTH=1\n'),
      'master-tag-in-media',
    );
  });

  it('version', () => {
    expectRule(replace('#EXT-X-VERSION:9', '#EXT-X-VERSION:5'), 'version', /EXT-X-VERSION is 5 but EXT-X-MAP needs at least 6/);
    const delta = replace('#EXT-X-MEDIA-SEQUENCE:10\n', '#EXT-X-MEDIA-SEQUENCE:9\n').replace(
      '#EXT-X-INDEPENDENT-SEGMENTS\n',
      '#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-SKIP:SKIPPED-SEGMENTS=1\n',
    );
    expectRule(replace('#EXT-X-VERSION:9', '#EXT-X-VERSION:6', delta), 'version', /EXT-X-SKIP needs at least 9/);
  });

  it('target-duration and media-sequence', () => {
    expectRule(
      replace('#EXTINF:1.000,', '#EXTINF:1.500,'),
      'target-duration',
      /line 15: EXTINF 1.500 \(msn 10\) rounds to 2 s, above EXT-X-TARGETDURATION 1/,
    );
    expectRule(replace('#EXT-X-TARGETDURATION:1\n', ''), 'target-duration', /EXT-X-TARGETDURATION is missing/);
    expectRule(replace('#EXT-X-MEDIA-SEQUENCE:10\n', ''), 'media-sequence');
  });

  it('part-inf, part-duration-max, part-duration-min (with the spec exemptions), part-sum', () => {
    expectRule(replace('#EXT-X-PART-INF:PART-TARGET=0.250\n', ''), 'part-inf', /EXT-X-PART used without EXT-X-PART-INF/);
    expectRule(
      replace('DURATION=0.250,URI="p5.m4s"', 'DURATION=0.251,URI="p5.m4s"'),
      'part-duration-max',
      /part 1 of msn 11 \(p5.m4s\) lasts 0.251 s, above PART-TARGET 0.25/,
    );
    // An independent part overrunning is still too long: the exemptions are for the 85 % floor only.
    expectRule(replace('DURATION=0.250,URI="p4.m4s"', 'DURATION=0.300,URI="p4.m4s"'), 'part-duration-max');
    expectRule(
      replace('DURATION=0.250,URI="p2.m4s"', 'DURATION=0.200,URI="p2.m4s"').replace('#EXTINF:1.000,', '#EXTINF:0.950,'),
      'part-duration-min',
      /part 2 of msn 10 \(p2.m4s\) lasts 0.200 s, under 85 % of PART-TARGET 0.25 \(0.2125 s\)/,
    );
    // Exempt: the last part of a segment (p6, 0.100), an independent part, the last part of the segment in progress (p8).
    const exempt = replace('DURATION=0.250,URI="p4.m4s",INDEPENDENT=YES', 'DURATION=0.050,URI="p4.m4s",INDEPENDENT=YES').replace(
      '#EXTINF:0.600,',
      '#EXTINF:0.400,',
    );
    expect(rules(checkLlMediaPlaylist(exempt, options))).toEqual([]);
    // GAP parts and parts followed by one are exempt too.
    const gap = replace('DURATION=0.250,URI="p1.m4s"', 'DURATION=0.100,URI="p1.m4s"')
      .replace('DURATION=0.250,URI="p2.m4s"', 'DURATION=0.100,URI="p2.m4s",GAP=YES')
      .replace('#EXTINF:1.000,', '#EXTINF:0.700,');
    expect(rules(checkLlMediaPlaylist(gap, options))).toEqual([]);
    expectRule(
      replace('#EXTINF:1.000,', '#EXTINF:1.020,'),
      'part-sum',
      /the 4 parts of msn 10 add up to 1.0000 s but its EXTINF is 1.020 \(allowed difference 0.0125 s for rounding\)/,
    );
  });

  it("independent (from the caller's keyframe list) and independent-segments", () => {
    const keyframes = new Set(['p0.m4s', 'p4.m4s', 'p7.m4s', 'p5.m4s']);
    expectRule(GOOD, 'independent', /p5.m4s holds an independent frame but lacks INDEPENDENT=YES/, {
      ...options,
      keyframeParts: (uri) => keyframes.has(uri),
    });
    expectRule(GOOD, 'independent', /p7.m4s is marked INDEPENDENT=YES but holds no independent frame/, {
      ...options,
      keyframeParts: (uri) => uri !== 'p7.m4s' && keyframes.has(uri),
    });
    expectRule(
      replace('URI="p4.m4s",INDEPENDENT=YES', 'URI="p4.m4s"'),
      'independent-segments',
      /msn 11 starts with part p4.m4s without INDEPENDENT=YES/,
    );
  });

  it('server-control, part-hold-back, can-skip-until', () => {
    expectRule(replace('CAN-BLOCK-RELOAD=YES,', ''), 'server-control', /lacks CAN-BLOCK-RELOAD=YES/);
    expectRule(replace(/#EXT-X-SERVER-CONTROL:.*\n/, ''), 'server-control', /EXT-X-SERVER-CONTROL is missing/);
    expectRule(
      replace('PART-HOLD-BACK=0.750', 'PART-HOLD-BACK=0.625'),
      'part-hold-back',
      /PART-HOLD-BACK 0.625 is under 3 × PART-TARGET 0.25 = 0.75 \(4.4.3.8: MUST be ≥ 2 ×, SHOULD be ≥ 3 ×; this server requires 3 ×\)/,
    );
    expectRule(replace(',PART-HOLD-BACK=0.750', ''), 'part-hold-back', /PART-HOLD-BACK is missing/);
    expectRule(
      replace('CAN-SKIP-UNTIL=6.000', 'CAN-SKIP-UNTIL=5.000'),
      'can-skip-until',
      /CAN-SKIP-UNTIL 5 is under 6 × EXT-X-TARGETDURATION 1 = 6/,
    );
  });

  it('map and map-after-discontinuity', () => {
    expectRule(replace('#EXT-X-MAP:URI="init0.mp4"\n', ''), 'map', /no EXT-X-MAP before the first segment \(msn 10\)/);
    expectRule(
      replace('#EXT-X-MAP:URI="init1.mp4"\n', ''),
      'map-after-discontinuity',
      /line 17: EXT-X-DISCONTINUITY of msn 11 is not followed by a new EXT-X-MAP/,
    );
  });

  it('program-date-time', () => {
    expectRule(GOOD.replace(/#EXT-X-PROGRAM-DATE-TIME:.*\n/g, ''), 'program-date-time', /no EXT-X-PROGRAM-DATE-TIME/);
    expectRule(
      replace('#EXT-X-PROGRAM-DATE-TIME:2025-06-01T12:00:05.000Z\n', ''),
      'program-date-time',
      /msn 11 follows a discontinuity without EXT-X-PROGRAM-DATE-TIME/,
    );
    expectRule(
      replace('2025-06-01T12:00:00.000Z', '2025-06-01 12:00:00'),
      'program-date-time',
      /is not an ISO 8601 date-time with milliseconds and a time zone/,
    );
    expectRule(
      replace('2025-06-01T12:00:05.000Z', '2025-06-01T11:59:59.000Z'),
      'program-date-time',
      /goes 2.000 s back into the previous run/,
    );
    // Within one run, a date must agree with the previous one plus the media between them.
    const sameRun = replace('#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init1.mp4"\n', '');
    expect(checkLlMediaPlaylist(replace('12:00:05.000Z', '12:00:01.000Z', sameRun), options)).toEqual([]);
    expectRule(
      replace('12:00:05.000Z', '12:00:01.200Z', sameRun),
      'program-date-time',
      /PROGRAM-DATE-TIME of msn 11 is 0.200 s off the date extrapolated from line 10 over 1.000 s of media/,
    );
  });

  it('parts-near-live-edge and parts-at-live-edge', () => {
    // Four more 1 s segments without parts after s10 and s11 would put s10's parts 4.85 s from the end.
    const old = replace('s11.m4s\n', 's11.m4s\n#EXTINF:1.000,\ns12.m4s\n#EXTINF:1.000,\ns13.m4s\n#EXTINF:1.000,\ns14.m4s\n').replace(
      /#EXT-X-PART:DURATION=0.250,URI="p[4-8]\.m4s".*\n|#EXT-X-PART:DURATION=0.100,URI="p[68]\.m4s"\n/g,
      '',
    );
    expectRule(
      old,
      'parts-near-live-edge',
      /part p0.m4s \(msn 10\) ends 4.350 s before the end of the playlist; parts further than 3 target durations \(3 s\) should be removed/,
    );
    expectRule(old, 'parts-near-live-edge', /msn 11 lists no parts although an older segment does/);
    expectRule(old, 'parts-at-live-edge', /neither the segment in progress nor the last segment lists parts/);
  });

  it('preload-hint and part-numbering', () => {
    expectRule(
      replace('#EXT-X-RENDITION-REPORT', '#EXT-X-ENDLIST\n#EXT-X-RENDITION-REPORT'),
      'preload-hint',
      /EXT-X-PRELOAD-HINT in a playlist with EXT-X-ENDLIST/,
    );
    expectRule(replace(/#EXT-X-PRELOAD-HINT:.*\n/, ''), 'preload-hint', /no EXT-X-PRELOAD-HINT:TYPE=PART although the playlist has parts/);
    expectRule(replace('URI="p9.m4s"', 'URI="p8.m4s"'), 'preload-hint', /the preload hint names p8.m4s, which is already listed as a part/);
    expectRule(
      replace('TYPE=PART,URI="p9.m4s"', 'TYPE=PART,URI="p9.m4s"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p10.m4s"'),
      'preload-hint',
      /more than one EXT-X-PRELOAD-HINT of TYPE=PART/,
    );
    expectRule(replace('TYPE=PART', 'TYPE=SEGMENT'), 'preload-hint', /TYPE must be PART or MAP, found "SEGMENT"/);
    expectRule(
      replace('URI="p9.m4s"', 'URI="p10.m4s"'),
      'part-numbering',
      /the preload hint names p10.m4s \(number 10\); the part after the last listed one \(p8.m4s\) is number 9/,
      options,
    );
    expectRule(
      replace('URI="p7.m4s"', 'URI="p17.m4s"'),
      'part-numbering',
      /part p17.m4s \(msn 12 part 0\) is number 17, expected 7 after p6.m4s/,
      options,
    );
  });

  it('skip, skip-boundary and skip-request', () => {
    // Twelve 1 s segments, of which the delta skips 5 (kept: 7 s ≥ 6 s) or, wrongly, 7 (kept: 5 s).
    const segments = Array.from({ length: 12 }, (_, i) => `#EXTINF:1.000,\ns${i}.m4s\n`);
    const header = GOOD.slice(0, GOOD.indexOf('#EXT-X-MAP')).replace('#EXT-X-MEDIA-SEQUENCE:10', '#EXT-X-MEDIA-SEQUENCE:0');
    const tail = '#EXT-X-PART:DURATION=0.250,URI="p7.m4s",INDEPENDENT=YES\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p8.m4s"\n';
    const delta = (skipped: number): string =>
      `${header}#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}\n#EXT-X-MAP:URI="init0.mp4"\n#EXT-X-PROGRAM-DATE-TIME:2025-06-01T12:00:05.000Z\n${segments.slice(skipped).join('')}${tail}`;
    expect(checkLlMediaPlaylist(delta(5), { request: { skip: 'YES' } })).toEqual([]);
    expectRule(
      delta(7),
      'skip-boundary',
      /the delta update keeps 5.000 s of complete segments after skipping 7; only segments further than CAN-SKIP-UNTIL 6 s/,
    );
    expectRule(delta(0), 'skip', /SKIPPED-SEGMENTS=0/);
    expectRule(replace('CAN-SKIP-UNTIL=6.000,', '', delta(5)), 'skip', /EXT-X-SKIP without CAN-SKIP-UNTIL/);
    expectRule(delta(5), 'skip-request', /EXT-X-SKIP in the answer to a request without _HLS_skip/, { request: { msn: 6 } });
    const full = `${header}#EXT-X-MAP:URI="init0.mp4"\n#EXT-X-PROGRAM-DATE-TIME:2025-06-01T12:00:00.000Z\n${segments.join('')}${tail}`;
    expect(checkLlMediaPlaylist(full)).toEqual([]);
    expectRule(
      full,
      'skip-request',
      /_HLS_skip=YES was asked and 5 segment\(s\) lie beyond CAN-SKIP-UNTIL 6 s, but the answer has no EXT-X-SKIP/,
      { request: { skip: 'YES' } },
    );
  });

  it('rendition-report', () => {
    expectRule(replace('URI="audio.m3u8"', 'URI="http://example.com/audio.m3u8"'), 'rendition-report', /must be relative to the playlist/);
    expectRule(
      replace('LAST-MSN=12', 'LAST-MSN=15'),
      'rendition-report',
      /LAST-MSN=15 is more than 1 segment\(s\) from this playlist's last msn 12/,
    );
    expectRule(
      replace('LAST-PART=1', 'LAST-PART=40'),
      'rendition-report',
      /LAST-PART=40 is beyond any part index a 1 s segment of 0.25 s parts can reach \(9\)/,
    );
    expectRule(GOOD, 'rendition-report', /no EXT-X-RENDITION-REPORT for video.r1.m3u8/, {
      expectedRenditionReports: ['audio.m3u8', 'video.r1.m3u8'],
    });
    expectRule(GOOD, 'rendition-report', /RENDITION-REPORT for audio.m3u8, the playlist itself/, { selfUri: 'audio.m3u8' });
    expectRule(GOOD, 'rendition-report', /RENDITION-REPORT for audio.m3u8, which is not another rendition of the master/, {
      expectedRenditionReports: ['video.r1.m3u8'],
    });
    expectRule(replace(/(#EXT-X-RENDITION-REPORT:.*\n)/, '$1$1'), 'rendition-report', /two RENDITION-REPORTs for audio.m3u8/);
    // An omitted LAST-MSN / LAST-PART means "same as this playlist" (4.4.5.4).
    expect(checkLlMediaPlaylist(replace(',LAST-MSN=12,LAST-PART=1', ''), options)).toEqual([]);
  });

  it('endlist', () => {
    const ended = replace(/#EXT-X-PRELOAD-HINT:.*\n/, '#EXT-X-ENDLIST\n');
    expectRule(ended, 'endlist', /EXT-X-ENDLIST, yet 2 part\(s\) after the last segment belong to no complete segment/);
  });
});

describe('compareLlReloads', () => {
  const { video, step } = pair();
  for (let part = 0; part < 12; part++) step(part);
  const before = video.render();
  step(12);
  const after = video.render();

  it('accepts a normal reload and flags each forbidden change', () => {
    expect(compareLlReloads(before, after)).toEqual([]);
    const expectReload = (next: string, rule: string, message: RegExp, previous = before): void => {
      const found = compareLlReloads(previous, next).filter((v) => v.rule === rule);
      if (!found.some((v) => message.test(v.message)))
        throw new Error(`no ${rule} matching ${message}: ${formatViolations(compareLlReloads(previous, next)) || '(none)'}`);
    };
    expectReload(
      after,
      'reload-media-sequence',
      /went back from 5 to 0/,
      replace('#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-MEDIA-SEQUENCE:5', before),
    );
    expectReload(
      after,
      'reload-discontinuity-sequence',
      /EXT-X-DISCONTINUITY-SEQUENCE went back from 2 to 0/,
      replace('#EXT-X-DISCONTINUITY-SEQUENCE:0', '#EXT-X-DISCONTINUITY-SEQUENCE:2', before),
    );
    expectReload(replace('#EXT-X-TARGETDURATION:1', '#EXT-X-TARGETDURATION:2', after), 'reload-target-duration', /changed from 1 to 2/);
    expectReload(
      replace('PART-TARGET=0.234000', 'PART-TARGET=0.300000', after),
      'reload-part-target',
      /PART-TARGET changed from 0.234 to 0.3/,
    );
    expectReload(replace('PART-HOLD-BACK=0.702', 'PART-HOLD-BACK=0.900', after), 'reload-server-control', /EXT-X-SERVER-CONTROL changed/);
    expectReload(after, 'reload-ended', /EXT-X-ENDLIST disappeared/, replace(/#EXT-X-PRELOAD-HINT:.*\n/, '#EXT-X-ENDLIST\n', before));
    expectReload(
      replace('video-s1.m4s', 'video-s1b.m4s', after),
      'reload-segment',
      /msn 1 \(line \d+\) changed URI from video-s1.m4s to video-s1b.m4s/,
    );
    expectReload(
      replace('#EXTINF:1.000000,\nvideo-s1.m4s', '#EXTINF:1.001000,\nvideo-s1.m4s', after),
      'reload-segment',
      /changed EXTINF from 1.000000 to 1.001000/,
    );
    expectReload(
      replace('URI="video-p11.m4s"', 'URI="video-p11b.m4s"', after),
      'reload-parts',
      /msn 2: part 1 changed from video-p11.m4s 0.233333 to video-p11b.m4s 0.233333/,
    );
    expectReload(
      replace(/#EXT-X-PART:[^\n]*video-p1[12].m4s"\n/g, '', after),
      'reload-parts',
      /msn 2: part 1 \(video-p11.m4s\) was published and is gone/,
    );
    expectReload(
      replace('URI="video-p12.m4s"', 'URI="video-p99.m4s"', after),
      'reload-preload-hint',
      /the previous reload hinted video-p12.m4s after msn 2 part 1, but the next part is video-p99.m4s \(msn 2 part 2\)/,
    );
    expectReload(
      after,
      'reload-segments',
      /the last segment went back from msn 2 to 1: segments are only removed from the start/,
      replace('#EXTINF:1.000000,\nvideo-s1.m4s\n', '#EXTINF:1.000000,\nvideo-s1.m4s\n#EXTINF:1.000000,\nvideo-s2.m4s\n', before).replace(
        /#EXT-X-PART:[^\n]*video-p1[01][^\n]*\n/g,
        '',
      ),
    );
    expectReload(
      replace('LAST-MSN=2,LAST-PART=2', 'LAST-MSN=2,LAST-PART=0', after),
      'reload-rendition-report',
      /RENDITION-REPORT audio.m3u8 went back from msn 2 part 1 to msn 2 part 0/,
    );
  });

  it('checks that a delta update skips only what the client already had', () => {
    const long = pair();
    for (let part = 0; part < 60; part++) long.step(part);
    const previous = long.video.render();
    long.step(60);
    const delta = long.video.render({ skip: 'YES' });
    expect(compareLlReloads(previous, delta)).toEqual([]);
    const tooMany = replace(/SKIPPED-SEGMENTS=\d+/, 'SKIPPED-SEGMENTS=20', delta);
    expect(rules(compareLlReloads(previous, tooMany))).toContain('reload-skip');
  });
});

describe('checkLlRenditionSet', () => {
  it('wants one target duration, one SERVER-CONTROL and reports of every other rendition', () => {
    const { video, audio, step } = pair();
    for (let part = 0; part < 7; part++) step(part);
    expect(checkLlRenditionSet({ 'video.m3u8': video.render(), 'audio.m3u8': audio.render() })).toEqual([]);
    const set = checkLlRenditionSet({
      'video.m3u8': video.render(),
      'audio.m3u8': replace('#EXT-X-TARGETDURATION:1', '#EXT-X-TARGETDURATION:2', audio.render()).replace(
        'PART-HOLD-BACK=0.702',
        'PART-HOLD-BACK=0.700',
      ),
      'video.r1.m3u8': replace('PART-TARGET=0.234', 'PART-TARGET=0.300', video.render()),
    });
    expect(rules(set)).toEqual([
      'renditions-target-duration',
      'renditions-server-control',
      'renditions-part-hold-back',
      'renditions-reports',
    ]);
    expect(formatViolations(set)).toContain('video.m3u8 has PART-HOLD-BACK 0.702, under 3 × the largest PART-TARGET of the renditions 0.3');
    expect(formatViolations(set)).toContain('video.m3u8 has no EXT-X-RENDITION-REPORT for video.r1.m3u8');
  });
});

describe('master playlists', () => {
  const MASTER = `#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=2800000,CODECS="avc1.42e01f,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=30.000,AUDIO="aud"
video.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=400000,CODECS="avc1.42e01f,mp4a.40.2",RESOLUTION=480x270,AUDIO="aud"
video.r1.m3u8
`;
  const expectMasterRule = (text: string, rule: string, message: RegExp): void => {
    const found = checkMasterPlaylist(text);
    if (!found.some((v) => v.rule === rule && message.test(v.message)))
      throw new Error(`no ${rule} matching ${message}: ${formatViolations(found) || '(none)'}`);
  };

  it('parses variants and renditions and lists every media playlist', () => {
    expect(checkMasterPlaylist(MASTER)).toEqual([]);
    expect(masterMediaUris(MASTER)).toEqual(['video.m3u8', 'video.r1.m3u8', 'audio.m3u8']);
  });

  it('flags what players refuse', () => {
    expectMasterRule(' ' + MASTER, 'first-line', /found " #EXTM3U"/);
    expectMasterRule(
      replace('BANDWIDTH=2800000,', '', MASTER),
      'variant',
      /line 5: EXT-X-STREAM-INF needs BANDWIDTH as a positive decimal integer, found undefined/,
    );
    expectMasterRule(
      replace('CODECS="avc1.42e01f,mp4a.40.2",RESOLUTION=480x270', 'RESOLUTION=480x270', MASTER),
      'variant',
      /line 7: EXT-X-STREAM-INF without a quoted CODECS/,
    );
    expectMasterRule(
      replace('AUDIO="aud"\nvideo.r1', 'AUDIO="audio"\nvideo.r1', MASTER),
      'variant',
      /AUDIO="audio" names no EXT-X-MEDIA:TYPE=AUDIO group/,
    );
    expectMasterRule(
      replace('RESOLUTION=1280x720', 'RESOLUTION=1280*720', MASTER),
      'variant',
      /RESOLUTION "1280\*720" is not WIDTHxHEIGHT/,
    );
    expectMasterRule(replace('NAME="audio",', '', MASTER), 'rendition', /EXT-X-MEDIA needs NAME/);
    expectMasterRule(replace(/(#EXT-X-MEDIA:.*\n)/, '$1$1', MASTER), 'rendition', /group AUDIO\/aud has 2 renditions with DEFAULT=YES/);
    expectMasterRule(replace('video.r1.m3u8\n', '', MASTER), 'syntax', /line 7: EXT-X-STREAM-INF at the end without its URI line/);
    expectMasterRule(
      replace('#EXT-X-VERSION:6\n', '#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n', MASTER),
      'media-tag-in-master',
      /EXT-X-TARGETDURATION is a Media Playlist tag/,
    );
    expectMasterRule(
      replace('#EXT-X-INDEPENDENT-SEGMENTS\n', '#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-INDEPENDENT-SEGMENTS\n', MASTER),
      'duplicate-tag',
      /EXT-X-INDEPENDENT-SEGMENTS appears 2 times/,
    );
  });
});

describe('parseAttributeList', () => {
  it('reads quoted values with commas and reports malformed lists', () => {
    const { attributes } = parseAttributeList('CODECS="avc1.42e01f,mp4a.40.2",BANDWIDTH=1,URI="a=b.m3u8"');
    expect([...attributes]).toEqual([
      ['CODECS', { value: 'avc1.42e01f,mp4a.40.2', quoted: true }],
      ['BANDWIDTH', { value: '1', quoted: false }],
      ['URI', { value: 'a=b.m3u8', quoted: true }],
    ]);
    expect(parseAttributeList('URI="x').error).toBe('unterminated quoted string for URI');
    expect(parseAttributeList('A=1,A=2').error).toBe('attribute A appears twice');
    expect(parseAttributeList('a=1').error).toBe('invalid attribute name "a"');
    expect(parseAttributeList('URI="x"Y=1').error).toMatch(/expected "," after URI/);
  });
});
