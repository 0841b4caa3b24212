export interface Segment {
  /** File name inside the HLS directory, e.g. `video_<peer>_007.ts`. */
  uri: string;
  duration: number;
  bytes: number;
  /**
   * Discontinuity count: segments of one FFmpeg run share it, each new run (timestamps restart)
   * adds one. It is the stream's, not the playlist's, so audio and video agree on it even when one
   * kind joined later.
   */
  cc: number;
}

/**
 * A live media playlist that the application writes (FFmpeg's own is private): it keeps media and
 * discontinuity sequence numbers across FFmpeg restarts, and ends with EXT-X-ENDLIST.
 */
export class MediaPlaylist {
  private readonly window: Segment[] = [];
  private mediaSequence = 0;
  private maxDuration = 0;
  private ended = false;

  /** `listSize` 0 keeps every segment (a recording). */
  constructor(
    private readonly targetSeconds: number,
    private readonly listSize: number,
  ) {}

  get segmentCount(): number {
    return this.mediaSequence + this.window.length;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  get segments(): readonly Segment[] {
    return this.window;
  }

  /** Appends a segment; returns the segments that slid out of the window. */
  append(segment: Segment): Segment[] {
    this.window.push(segment);
    this.maxDuration = Math.max(this.maxDuration, segment.duration);
    const removed: Segment[] = [];
    while (this.listSize > 0 && this.window.length > this.listSize) {
      removed.push(this.window.shift()!);
      this.mediaSequence++;
    }
    return removed;
  }

  end(): void {
    this.ended = true;
  }

  render(): string {
    // TARGETDURATION must be >= every EXTINF rounded to the nearest integer (RFC 8216 4.3.3.1), and
    // must not change during the stream, so it only grows, from the configured target.
    const target = Math.max(Math.ceil(this.targetSeconds), Math.round(this.maxDuration));
    const lines = [
      '#EXTM3U',
      '#EXT-X-VERSION:6',
      `#EXT-X-TARGETDURATION:${target}`,
      `#EXT-X-MEDIA-SEQUENCE:${this.mediaSequence}`,
      `#EXT-X-DISCONTINUITY-SEQUENCE:${this.window[0]?.cc ?? 0}`,
      '#EXT-X-INDEPENDENT-SEGMENTS',
    ];
    this.window.forEach((segment, index) => {
      // The window's first segment needs no tag: DISCONTINUITY-SEQUENCE already counts it.
      if (index > 0 && segment.cc !== this.window[index - 1].cc) lines.push('#EXT-X-DISCONTINUITY');
      lines.push(`#EXTINF:${segment.duration.toFixed(3)},`, segment.uri);
    });
    if (this.ended) lines.push('#EXT-X-ENDLIST');
    return lines.join('\n') + '\n';
  }
}
