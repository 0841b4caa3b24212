import { MediaPlaylist, Segment } from './media-playlist';

const seg = (number: number, cc = 0, duration = 1, extra: Partial<Segment> = {}): Segment => ({
  uri: `video_p_${String(number).padStart(3, '0')}.ts`,
  number,
  duration,
  bytes: 1000,
  cc,
  ...extra,
});

describe('MediaPlaylist', () => {
  it('renders a live window whose MEDIA-SEQUENCE is its first segment number, and ENDLIST at the end', () => {
    const list = new MediaPlaylist(1, 3);
    for (let n = 1; n <= 4; n++) list.append(seg(n));
    expect(list.render()).toBe(
      '#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:2\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n' +
        '#EXT-X-INDEPENDENT-SEGMENTS\n#EXTINF:1.000,\nvideo_p_002.ts\n#EXTINF:1.000,\nvideo_p_003.ts\n#EXTINF:1.000,\nvideo_p_004.ts\n',
    );
    list.end();
    expect(list.render().endsWith('#EXT-X-ENDLIST\n')).toBe(true);
  });

  it('returns the segments that slide out', () => {
    const list = new MediaPlaylist(1, 3);
    for (let n = 1; n <= 3; n++) expect(list.append(seg(n))).toEqual([]);
    expect(list.append(seg(4)).map((s) => s.uri)).toEqual(['video_p_001.ts']);
  });

  it('keeps at least three target durations in the window, whatever the list size (RFC 8216 6.2.2)', () => {
    const list = new MediaPlaylist(2, 2);
    for (let n = 1; n <= 6; n++) list.append(seg(n, 0, 2));
    expect(list.segments.map((s) => s.number)).toEqual([4, 5, 6]);
  });

  it('marks restarts with DISCONTINUITY and counts removed ones in DISCONTINUITY-SEQUENCE', () => {
    const list = new MediaPlaylist(1, 3);
    list.append(seg(1));
    list.append(seg(2));
    list.append(seg(5, 1));
    expect(list.render()).toContain('video_p_002.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:1.000,\nvideo_p_005.ts');
    list.append(seg(6, 1));
    list.append(seg(7, 1));
    // 005 is now first: its tag is gone and counted instead.
    const text = list.render();
    expect(text).toContain('#EXT-X-MEDIA-SEQUENCE:5\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n');
    expect(text).not.toContain('#EXT-X-DISCONTINUITY\n');
  });

  it('a rendition that missed a run gets a tag per run, so its segments keep their discontinuity number as the window slides', () => {
    // hls.js numbers a segment DISCONTINUITY-SEQUENCE + the tags before it, and refuses a reload that
    // numbers the same segment otherwise ("discontinuity sequence mismatch").
    const numbered = (text: string) => {
      let dsn = Number(/#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)/.exec(text)![1]);
      const out: Record<string, number> = {};
      for (const line of text.split('\n')) {
        if (line === '#EXT-X-DISCONTINUITY') dsn++;
        if (line.endsWith('.ts')) out[line] = dsn;
      }
      return out;
    };
    const list = new MediaPlaylist(1, 3);
    list.append(seg(1, 0));
    list.append(seg(2, 0));
    list.append(seg(4, 2)); // run 1 wrote no segment of this rendition
    const before = numbered(list.render());
    expect(before['video_p_004.ts']).toBe(2);
    list.append(seg(5, 2));
    list.append(seg(6, 2));
    const after = numbered(list.render());
    expect(list.render()).toContain('#EXT-X-MEDIA-SEQUENCE:4\n#EXT-X-DISCONTINUITY-SEQUENCE:2\n');
    expect(after['video_p_004.ts']).toBe(before['video_p_004.ts']);
  });

  it("a playlist that starts mid-stream (a kind that joined later) starts at the stream's numbers", () => {
    const list = new MediaPlaylist(1, 3);
    list.append(seg(9, 2));
    expect(list.render()).toContain('#EXT-X-MEDIA-SEQUENCE:9\n#EXT-X-DISCONTINUITY-SEQUENCE:2\n');
    expect(list.render()).not.toContain('#EXT-X-DISCONTINUITY\n');
  });

  it('never changes TARGETDURATION, even when a late keyframe makes a long segment', () => {
    const list = new MediaPlaylist(1, 3);
    list.append(seg(1, 0, 1.6));
    for (let n = 2; n <= 5; n++) list.append(seg(n));
    expect(list.render()).toContain('#EXT-X-TARGETDURATION:1\n');
    expect(() => new MediaPlaylist(1.5, 3)).toThrow(RangeError);
  });

  it('refuses a segment that does not follow the last one', () => {
    const list = new MediaPlaylist(1, 3);
    list.append(seg(4));
    expect(() => list.append(seg(4))).toThrow(RangeError);
  });

  it('lists an unwritten segment as EXT-X-GAP (version 8), keeping numbers and timing', () => {
    const list = new MediaPlaylist(1, 5);
    list.append(seg(1));
    list.append(seg(2, 0, 1, { gap: true }));
    list.append(seg(3));
    const text = list.render();
    expect(text).toContain('#EXT-X-VERSION:8\n');
    expect(text).toContain('video_p_001.ts\n#EXT-X-GAP\n#EXTINF:1.000,\nvideo_p_002.ts\n#EXTINF:1.000,\nvideo_p_003.ts');
  });

  it('keeps every segment when listSize is 0 (recording)', () => {
    const list = new MediaPlaylist(1, 0);
    for (let n = 1; n <= 50; n++) expect(list.append(seg(n))).toEqual([]);
    expect(list.segmentCount).toBe(50);
    expect(list.render()).toContain('#EXT-X-MEDIA-SEQUENCE:1\n');
  });
});
