import {
  formatDuration,
  formatSeconds,
  formatSecondsUp,
  llPlaylistControl,
  llSkippedSegments,
  renderLlPlaylist,
} from './ll-playlist-renderer';
import { LlPart, LlPlaylistState, LlSegment, llLivePosition, llRenditionReport } from './ll-playlist-state';

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5, 0);

/**
 * A playlist of `count` complete segments of `parts` parts each (`partDuration` s; the first part of a
 * segment independent), numbered globally, then `inProgress` parts of the next segment.
 */
function build(options: {
  count: number;
  parts?: number;
  partDuration?: number;
  inProgress?: number;
  mediaSequence?: number;
  dsn?: (i: number) => number;
}): LlPlaylistState {
  const { count, parts = 5, partDuration = 0.2, inProgress = 0, mediaSequence = 0, dsn = () => 0 } = options;
  let partNumber = mediaSequence * parts;
  let time = 0;
  const makeParts = (n: number): LlPart[] =>
    Array.from({ length: n }, (_, i) => ({ uri: `part${partNumber++}.m4s`, duration: partDuration, independent: i === 0 }));
  const segments: LlSegment[] = [];
  for (let i = 0; i < count; i++) {
    const msn = mediaSequence + i;
    const segmentParts = makeParts(parts);
    segments.push({
      uri: `seg${msn}.m4s`,
      duration: parts * partDuration,
      parts: segmentParts,
      mapUri: `init${dsn(i)}.mp4`,
      discontinuitySequence: dsn(i),
      programDateTime: T0 + Math.round(time * 1000),
    });
    time += parts * partDuration;
  }
  const next = dsn(count);
  return {
    targetDuration: 1,
    partTarget: partDuration,
    mediaSequence,
    segments,
    inProgress: {
      parts: makeParts(inProgress),
      mapUri: `init${next}.mp4`,
      discontinuitySequence: next,
      programDateTime: T0 + Math.round(time * 1000),
    },
    preloadHintUri: `part${partNumber}.m4s`,
    ended: false,
    independentSegments: true,
    renditionReports: [{ uri: 'audio.m3u8', lastMsn: mediaSequence + count, lastPart: Math.max(inProgress - 1, 0) }],
  };
}

const lines = (text: string): string[] => text.split('\n');

describe('renderLlPlaylist', () => {
  it('writes the header, the parts of the recent segments, the segment in progress, the hint and the reports', () => {
    const text = renderLlPlaylist(build({ count: 2, parts: 2, partDuration: 0.25, inProgress: 1, mediaSequence: 7 }));
    expect(text).toBe(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:9',
        '#EXT-X-TARGETDURATION:1',
        '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6.000,PART-HOLD-BACK=0.750',
        '#EXT-X-PART-INF:PART-TARGET=0.250000',
        '#EXT-X-MEDIA-SEQUENCE:7',
        '#EXT-X-DISCONTINUITY-SEQUENCE:0',
        '#EXT-X-INDEPENDENT-SEGMENTS',
        '#EXT-X-MAP:URI="init0.mp4"',
        '#EXT-X-PROGRAM-DATE-TIME:2025-01-02T03:04:05.000Z',
        '#EXT-X-PART:DURATION=0.250000,URI="part14.m4s",INDEPENDENT=YES',
        '#EXT-X-PART:DURATION=0.250000,URI="part15.m4s"',
        '#EXTINF:0.500000,',
        'seg7.m4s',
        '#EXT-X-PART:DURATION=0.250000,URI="part16.m4s",INDEPENDENT=YES',
        '#EXT-X-PART:DURATION=0.250000,URI="part17.m4s"',
        '#EXTINF:0.500000,',
        'seg8.m4s',
        '#EXT-X-PART:DURATION=0.250000,URI="part18.m4s",INDEPENDENT=YES',
        '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part19.m4s"',
        '#EXT-X-RENDITION-REPORT:URI="audio.m3u8",LAST-MSN=9,LAST-PART=0',
        '',
      ].join('\n'),
    );
  });

  it('lists parts only for segments that start within three target durations of the end', () => {
    const state = build({ count: 8, inProgress: 2 }); // 1 s segments, 0.4 s in progress: the end is at 8.4 s
    const text = renderLlPlaylist(state);
    // seg5 starts 3.4 s before the end, seg6 2.4 s: parts from seg6 on.
    const withParts = state.segments.filter((s) => text.includes(`URI="${s.parts[1].uri}"`)).map((s) => s.uri);
    expect(withParts).toEqual(['seg6.m4s', 'seg7.m4s']);
    expect(text).toContain(`URI="${state.inProgress!.parts[1].uri}"`);
    // A segment starting exactly 3 target durations before the end is still listed.
    const exact = renderLlPlaylist(build({ count: 8, inProgress: 0 }));
    expect(exact).toContain('URI="part25.m4s",INDEPENDENT=YES'); // first part of seg5, which starts 3.000 s before the end
    expect(exact).not.toContain('URI="part24.m4s"');
  });

  it('marks a source change with DISCONTINUITY, a new MAP and a PROGRAM-DATE-TIME, and slides DISCONTINUITY-SEQUENCE', () => {
    const state = build({ count: 4, inProgress: 1, dsn: (i) => (i >= 2 ? 1 : 0) });
    const text = lines(renderLlPlaylist(state));
    const at = text.indexOf('#EXT-X-DISCONTINUITY');
    expect(text.slice(at, at + 4)).toEqual([
      '#EXT-X-DISCONTINUITY',
      '#EXT-X-MAP:URI="init1.mp4"',
      '#EXT-X-PROGRAM-DATE-TIME:2025-01-02T03:04:07.000Z',
      '#EXT-X-PART:DURATION=0.200000,URI="part10.m4s",INDEPENDENT=YES',
    ]);
    expect(text.filter((l) => l.startsWith('#EXT-X-MAP'))).toHaveLength(2);
    expect(text.filter((l) => l.startsWith('#EXT-X-PROGRAM-DATE-TIME'))).toHaveLength(2);
    expect(text).toContain('#EXT-X-DISCONTINUITY-SEQUENCE:0');
    // Once the old run slid out, the count moves into DISCONTINUITY-SEQUENCE and the tag goes.
    const slid = renderLlPlaylist({ ...state, mediaSequence: 2, segments: state.segments.slice(2) });
    expect(slid).toContain('#EXT-X-DISCONTINUITY-SEQUENCE:1\n');
    expect(slid).not.toContain('#EXT-X-DISCONTINUITY\n');
    expect(slid).toContain('#EXT-X-MAP:URI="init1.mp4"');
  });

  it('writes the tags of a new run only once its first part exists, and hints its init section meanwhile', () => {
    const state = build({ count: 3, dsn: (i) => (i >= 3 ? 1 : 0) }); // the segment in progress is a new run without parts yet
    const text = renderLlPlaylist(state);
    expect(text).not.toContain('#EXT-X-DISCONTINUITY\n');
    expect(text).toContain('#EXT-X-PRELOAD-HINT:TYPE=MAP,URI="init1.mp4"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part15.m4s"\n');
    // Same run: no MAP hint.
    expect(renderLlPlaylist(build({ count: 3 }))).not.toContain('TYPE=MAP');
    // No run at all (between a stop and a restart): the part hint alone.
    const idle = renderLlPlaylist({ ...state, inProgress: undefined });
    expect(idle).not.toContain('TYPE=MAP');
    expect(idle).toContain('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part15.m4s"');
  });

  it('ends with ENDLIST and no preload hint', () => {
    const state = { ...build({ count: 3 }), inProgress: undefined, ended: true };
    const text = renderLlPlaylist(state);
    expect(text.endsWith('#EXT-X-ENDLIST\n')).toBe(true);
    expect(text).not.toContain('PRELOAD-HINT');
    // A delta update is never made for an ended playlist (6.2.5.1).
    expect(renderLlPlaylist(state, { skip: 'YES' })).not.toContain('EXT-X-SKIP');
  });

  it('writes EXT-X-INDEPENDENT-SEGMENTS only when true', () => {
    expect(renderLlPlaylist(build({ count: 1 }))).toContain('#EXT-X-INDEPENDENT-SEGMENTS\n');
    expect(renderLlPlaylist({ ...build({ count: 1 }), independentSegments: false })).not.toContain('INDEPENDENT-SEGMENTS');
  });
});

describe('delta updates', () => {
  it('skips the segments lying wholly beyond CAN-SKIP-UNTIL, and repeats MAP and PROGRAM-DATE-TIME for the first one kept', () => {
    const state = build({ count: 10, inProgress: 2, mediaSequence: 100 });
    // The last segment ends at 10 s; seg100..seg103 end 6 s or more before: seg103 ends exactly 6 s
    // before, which is not further than the boundary, so 3 are skipped.
    expect(llSkippedSegments(state, { skip: 'YES' })).toBe(3);
    const text = renderLlPlaylist(state, { skip: 'YES' });
    const full = renderLlPlaylist(state);
    expect(text).toContain(
      '#EXT-X-MEDIA-SEQUENCE:100\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n',
    );
    expect(text).toContain(
      '#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n#EXT-X-MAP:URI="init0.mp4"\n#EXT-X-PROGRAM-DATE-TIME:2025-01-02T03:04:08.000Z\n#EXTINF:1.000000,\nseg103.m4s\n',
    );
    for (const msn of [100, 101, 102]) expect(text).not.toContain(`seg${msn}.m4s`);
    // Everything after the first kept segment is the same as in the full playlist.
    expect(full.endsWith(text.slice(text.indexOf('#EXTINF:1.000000,\nseg103.m4s')))).toBe(true);
  });

  it('answers v2 the same, with an empty RECENTLY-REMOVED-DATERANGES (we have no date ranges)', () => {
    const text = renderLlPlaylist(build({ count: 10 }), { skip: 'v2' });
    expect(text).toContain('#EXT-X-SKIP:SKIPPED-SEGMENTS=3,RECENTLY-REMOVED-DATERANGES=""\n');
  });

  it('does not skip when the playlist is too short, when disabled, or without the directive', () => {
    expect(renderLlPlaylist(build({ count: 7, inProgress: 3 }), { skip: 'YES' })).not.toContain('EXT-X-SKIP'); // seg0 ends 6 s before the last end
    expect(llSkippedSegments(build({ count: 8 }), { skip: 'YES' })).toBe(1);
    const disabled = { ...build({ count: 20 }), canSkipUntil: 0 };
    expect(renderLlPlaylist(disabled, { skip: 'YES' })).not.toContain('EXT-X-SKIP');
    expect(renderLlPlaylist(disabled)).toContain('#EXT-X-VERSION:6\n');
    expect(renderLlPlaylist(disabled)).not.toContain('CAN-SKIP-UNTIL');
    expect(renderLlPlaylist(build({ count: 20 }))).not.toContain('EXT-X-SKIP');
  });

  it('never skips across a discontinuity, and marks one right after the skipped segments', () => {
    const state = build({ count: 14, dsn: (i) => (i >= 4 ? 1 : 0) });
    expect(llSkippedSegments(state, { skip: 'YES' })).toBe(4); // 7 could go, but seg4 starts run 1
    const text = renderLlPlaylist(state, { skip: 'YES' });
    expect(text).toContain('#EXT-X-SKIP:SKIPPED-SEGMENTS=4\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init1.mp4"\n#EXT-X-PROGRAM-DATE-TIME:');
    const later = build({ count: 14, dsn: (i) => (i >= 1 ? 1 : 0) });
    expect(llSkippedSegments(later, { skip: 'YES' })).toBe(1);
  });
});

describe('formatting and derived values', () => {
  it('rounds PART-TARGET up so that every part stays at or under it once both are written', () => {
    const state = build({ count: 0 });
    for (let i = 0; i < 2000; i++) {
      const partTarget = 0.15 + Math.random() * 0.2;
      const part = partTarget * Math.random() ** 0.1; // many parts close to the target
      expect(Number(formatDuration(part))).toBeLessThanOrEqual(llPlaylistControl({ ...state, partTarget }).partTarget);
    }
    expect(llPlaylistControl({ ...state, partTarget: 0.2 }).partTarget).toBe(0.2); // no float noise pushes an exact value up
    expect(formatSecondsUp(0.2)).toBe('0.200');
    expect(formatSecondsUp(0.2001)).toBe('0.201');
    expect(formatSeconds(1 / 3)).toBe('0.333');
  });

  it('writes durations to the microsecond, so that their sums stay on the media (AAC frames are 21.333 ms)', () => {
    expect(formatDuration(1024 / 48000)).toBe('0.021333');
    expect(formatDuration((47 * 1024) / 48000)).toBe('1.002667');
    // Twelve such segments as written add up to the media within 6 µs; at whole milliseconds they were 4 ms off.
    const written = Array.from({ length: 12 }, () => Number(formatDuration((47 * 1024) / 48000))).reduce((a, b) => a + b, 0);
    expect(Math.abs(written - (12 * 47 * 1024) / 48000)).toBeLessThan(6e-6);
  });

  it('writes a part cut at 85 % of PART-TARGET at no less than 85 % of PART-TARGET as written', () => {
    // PART-TARGET 0.2 / 0.925 (0.2162162…) is written 0.216217, whose 85 % is 0.18378445: a part of
    // 0.1837838 s (85.0 % of the real target) would round to 0.183784 and break 4.4.4.9 on paper; it is
    // written 0.183785. Exempt or short parts are not touched.
    const state = build({ count: 0 });
    const parts: LlPart[] = [
      { uri: 'a.m4s', duration: 0.1837838, independent: true },
      { uri: 'b.m4s', duration: 0.1837838, independent: false },
      { uri: 'c.m4s', duration: 0.1, independent: false },
    ];
    const text = renderLlPlaylist({ ...state, partTarget: 0.2 / 0.925, inProgress: { ...state.inProgress!, parts } });
    expect(text).toContain('#EXT-X-PART-INF:PART-TARGET=0.216217\n');
    expect(text).toContain(
      '#EXT-X-PART:DURATION=0.183784,URI="a.m4s",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.183785,URI="b.m4s"\n#EXT-X-PART:DURATION=0.100000,URI="c.m4s"\n',
    );
  });

  it('holds back 3 part targets and skips from 6 target durations, never less', () => {
    const state = build({ count: 1, partDuration: 0.23 });
    expect(llPlaylistControl(state)).toEqual({ version: 9, partTarget: 0.23, partHoldBack: 0.69, canSkipUntil: 6 });
    const low = llPlaylistControl({ ...state, partHoldBack: 0.3, canSkipUntil: 2, version: 3 });
    expect(low.partHoldBack).toBe(0.69);
    expect(low.canSkipUntil).toBe(6);
    expect(low.version).toBe(9);
    expect(llPlaylistControl({ ...state, partHoldBack: 1.5, canSkipUntil: 12 })).toMatchObject({ partHoldBack: 1.5, canSkipUntil: 12 });
    expect(renderLlPlaylist(state)).toContain('PART-HOLD-BACK=0.690\n#EXT-X-PART-INF:PART-TARGET=0.230000\n');
    // Hold back follows PART-TARGET as written (rounded up to the µs), rounded up to the ms: 3 × 0.216217.
    expect(renderLlPlaylist({ ...state, partTarget: 0.2 / 0.925 })).toContain(
      'PART-HOLD-BACK=0.649\n#EXT-X-PART-INF:PART-TARGET=0.216217\n',
    );
  });
});

describe('llLivePosition and llRenditionReport', () => {
  it('point at the newest part, in the segment in progress or else in the last segment', () => {
    const state = build({ count: 3, inProgress: 2, mediaSequence: 5 });
    expect(llLivePosition(state)).toEqual({ mediaSequence: 5, lastCompleteMsn: 7, lastPart: { msn: 8, index: 1 }, ended: false });
    expect(llRenditionReport('video.m3u8', state)).toEqual({ uri: 'video.m3u8', lastMsn: 8, lastPart: 1 });
    const boundary = build({ count: 3, inProgress: 0, mediaSequence: 5 });
    expect(llLivePosition(boundary).lastPart).toEqual({ msn: 7, index: 4 });
    expect(llRenditionReport('video.m3u8', boundary)).toEqual({ uri: 'video.m3u8', lastMsn: 7, lastPart: 4 });
    const empty = build({ count: 0 });
    expect(llLivePosition(empty)).toEqual({ mediaSequence: 0, lastCompleteMsn: -1, lastPart: undefined, ended: false });
    expect(llRenditionReport('video.m3u8', empty)).toEqual({ uri: 'video.m3u8', lastMsn: 0 });
  });
});
