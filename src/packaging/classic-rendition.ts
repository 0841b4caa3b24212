import type { MediaKind, MediaUnit } from '../transcode/media-unit';
import { MediaPlaylist, Segment } from './media-playlist';

/** A segment being collected from a run's units. */
interface OpenSegment {
  index: number;
  number: number;
  cc: number;
  firstPts: number;
  lastPts: number;
  chunks: Buffer[];
  bytes: number;
}

/** What a video rendition's segments carry, read from its SPS and its frames. */
export interface VideoInfo {
  codec: string;
  width: number;
  height: number;
}

/** A finished segment, ready to be written and listed. */
export interface FinishedSegment {
  number: number;
  cc: number;
  duration: number;
  data: Buffer;
  /** PTS of its first unit (90 kHz), for alignment checks and program date-times. */
  firstPts: number;
  /** It ended where the next segment began (a cut: for video, a keyframe), not at a run's end or a stall. */
  endedAtCut: boolean;
}

const CLOCK = 90_000;
/** Used for the last segment of a run when no frame interval has been seen yet. */
const DEFAULT_FRAME_TICKS: Record<MediaKind, number> = { video: CLOCK / 30, audio: (1024 * CLOCK) / 48_000 };

/**
 * One rendition of the classic layout (MPEG-TS segments): collects a run's units into segments
 * (PAT + PMT, then the units' TS packets exactly as FFmpeg wrote them) and owns the media playlist
 * once the stream's target duration is known. Numbering is decided by the stream (see StreamPackager).
 */
export class ClassicRendition {
  playlist?: MediaPlaylist;
  /** Number of the last segment handed to the playlist (appended once its write is done). */
  lastNumber?: number;
  private open?: OpenSegment;
  private frameTicks: number;
  private prevPts?: number;
  /** Segments that slid out of the window and are kept one more window for late players. */
  readonly expired: string[] = [];
  bytes = 0;
  seconds = 0;
  peakBps = 0;
  /** Video only: from the latest SPS. */
  video?: VideoInfo;
  /** Frames counted over whole segments, for FRAME-RATE. */
  private frames = 0;
  private framesOpen = 0;

  constructor(
    readonly name: string,
    readonly kind: MediaKind,
  ) {
    this.frameTicks = DEFAULT_FRAME_TICKS[kind];
  }

  get hasOpenSegment(): boolean {
    return this.open !== undefined;
  }

  /**
   * Adds a unit; returns the segment it completed, if it starts a new one. `number` and `cc` are
   * those of the unit's segment, given by the stream.
   */
  push(unit: MediaUnit, number: number, cc: number): FinishedSegment | undefined {
    let finished: FinishedSegment | undefined;
    // The next segment ends this one; after skipped indexes (segments this rendition has no media
    // for) its own last frame does, or it would stretch over the segments it skipped.
    if (this.open && unit.segment === this.open.index + 1) finished = this.finish(unit.pts, true);
    else if (this.open && unit.segment !== this.open.index)
      finished = this.finish(Math.min(unit.pts, this.open.lastPts + this.frameTicks), false);
    if (this.prevPts !== undefined && unit.pts > this.prevPts) this.frameTicks = unit.pts - this.prevPts;
    this.prevPts = unit.pts;
    if (!this.open) {
      this.open = {
        index: unit.segment,
        number,
        cc,
        firstPts: unit.pts,
        lastPts: unit.pts,
        chunks: [unit.programHeaders],
        bytes: unit.programHeaders.length,
      };
    }
    this.framesOpen++;
    this.open.chunks.push(unit.packets);
    this.open.bytes += unit.packets.length;
    this.open.lastPts = Math.max(this.open.lastPts, unit.pts);
    return finished;
  }

  /** The run ended: its last segment ends one frame after its last unit. */
  flush(): FinishedSegment | undefined {
    const open = this.open;
    if (!open) return undefined;
    this.prevPts = undefined;
    return this.finish(open.lastPts + this.frameTicks, false);
  }

  /** Records what was written, for the bitrate the master declares. */
  measure(segment: Segment, minSecondsForPeak: number): void {
    this.bytes += segment.bytes;
    this.seconds += segment.duration;
    if (segment.duration >= minSecondsForPeak) this.peakBps = Math.max(this.peakBps, (segment.bytes * 8) / segment.duration);
    else if (this.peakBps === 0 && segment.duration > 0) this.peakBps = (segment.bytes * 8) / segment.duration;
  }

  /** Frames per second over the segments finished so far (video). */
  get frameRate(): number | undefined {
    return this.seconds > 0 && this.frames > 0 ? this.frames / this.seconds : undefined;
  }

  get averageBps(): number {
    return this.seconds > 0 ? (this.bytes * 8) / this.seconds : 0;
  }

  private finish(endPts: number, endedAtCut: boolean): FinishedSegment {
    const open = this.open!;
    this.open = undefined;
    this.frames += this.framesOpen;
    this.framesOpen = 0;
    return {
      number: open.number,
      cc: open.cc,
      duration: Math.max(0, endPts - open.firstPts) / CLOCK,
      data: Buffer.concat(open.chunks, open.bytes),
      firstPts: open.firstPts,
      endedAtCut,
    };
  }
}
