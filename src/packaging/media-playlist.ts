export interface Segment {
  /** File name inside the HLS directory, e.g. `video_<id>_007.ts`. */
  uri: string;
  /** Media sequence number: the same for every rendition's segment of the same time. */
  number: number;
  duration: number;
  bytes: number;
  /**
   * Discontinuity count: segments of one FFmpeg run share it, each new run (a new source, new
   * timestamps) adds one. It is the stream's, not the playlist's, so every rendition agrees on it
   * even when one joined later.
   */
  cc: number;
  /** The file could not be written (disk full): listed as EXT-X-GAP so numbering and timing hold. */
  gap?: boolean;
  /** Listed by the node the stream came from, whose file it is (never written nor deleted here). */
  elsewhere?: boolean;
}

/**
 * A live media playlist: a sliding window over the segments, media and discontinuity sequence
 * numbers kept across FFmpeg runs, EXT-X-ENDLIST at the end. TARGETDURATION is fixed when the
 * playlist is made and never changes (RFC 8216 §6.2.1).
 */
export class MediaPlaylist {
  private readonly window: Segment[] = [];
  private ended = false;
  private written = 0;

  /** `listSize` 0 keeps every segment (a recording). */
  constructor(
    readonly targetDuration: number,
    private readonly listSize: number,
  ) {
    if (!Number.isInteger(targetDuration) || targetDuration < 1)
      throw new RangeError(`target duration must be a whole number of seconds, got ${targetDuration}`);
  }

  /** Segments appended since the playlist began. */
  get segmentCount(): number {
    return this.written;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  get segments(): readonly Segment[] {
    return this.window;
  }

  get lastNumber(): number | undefined {
    return this.window.at(-1)?.number;
  }

  /**
   * Starts the window with segments another node listed (the same stream, continued here), so the
   * playlist players reload overlaps the one they have. Not counted as written here.
   */
  seed(segments: readonly Segment[]): void {
    if (this.window.length > 0) throw new RangeError('a playlist is seeded before its first segment');
    this.window.push(...segments.map((segment) => ({ ...segment, elsewhere: true })));
  }

  /** Appends a segment; returns the segments that slid out of the window. */
  append(segment: Segment): Segment[] {
    const last = this.window.at(-1);
    if (last && segment.number <= last.number) throw new RangeError(`segment ${segment.number} does not follow ${last.number}`);
    this.window.push(segment);
    this.written++;
    const removed: Segment[] = [];
    // The window keeps listSize segments, and never less than three target durations (RFC 8216 §6.2.2).
    while (this.listSize > 0 && this.window.length > this.listSize && this.duration - this.window[0].duration >= 3 * this.targetDuration) {
      removed.push(this.window.shift()!);
    }
    return removed;
  }

  /**
   * Removes the segments numbered below `number` from the front (RFC 8216 6.2.2 allows removing
   * segments in order at any time; their files stay a while); returns them.
   */
  dropBefore(number: number): Segment[] {
    const removed: Segment[] = [];
    while (this.window.length > 0 && this.window[0].number < number) removed.push(this.window.shift()!);
    return removed;
  }

  end(): void {
    this.ended = true;
  }

  /** `vod`: the whole recording as video on demand (EXT-X-PLAYLIST-TYPE:VOD, ENDLIST). */
  render(options: { vod?: boolean } = {}): string {
    const first = this.window[0];
    const lines = [
      '#EXTM3U',
      `#EXT-X-VERSION:${this.window.some((s) => s.gap) ? 8 : 6}`,
      ...(options.vod ? ['#EXT-X-PLAYLIST-TYPE:VOD'] : []),
      `#EXT-X-TARGETDURATION:${this.targetDuration}`,
      `#EXT-X-MEDIA-SEQUENCE:${first?.number ?? 0}`,
      `#EXT-X-DISCONTINUITY-SEQUENCE:${first?.cc ?? 0}`,
      '#EXT-X-INDEPENDENT-SEGMENTS',
    ];
    this.window.forEach((segment, index) => {
      // The window's first segment needs no tag: DISCONTINUITY-SEQUENCE already counts it. A
      // rendition that had no segment in a run (its count jumps by more than one) gets one tag per
      // run it missed: a segment's discontinuity number is the sequence plus the tags before it, and
      // must stay the same when the window slides past the tags (RFC 8216 6.2.1; hls.js checks it).
      const previous = this.window[index - 1];
      for (let cc = previous?.cc ?? segment.cc; cc < segment.cc; cc++) lines.push('#EXT-X-DISCONTINUITY');
      if (segment.gap) lines.push('#EXT-X-GAP');
      lines.push(`#EXTINF:${segment.duration.toFixed(3)},`, segment.uri);
    });
    if (this.ended || options.vod) lines.push('#EXT-X-ENDLIST');
    return lines.join('\n') + '\n';
  }

  private get duration(): number {
    return this.window.reduce((sum, s) => sum + s.duration, 0);
  }
}
