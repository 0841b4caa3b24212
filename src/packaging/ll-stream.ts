import type { MediaKind, MediaUnit, RunTrack } from '../transcode/media-unit';
import { FormatBreaks } from './format-breaks';
import { llMediaPlaylistName } from './hls-names';
import { BLOCKING_TIMEOUT_TARGETS, LlPartTiming, llRenditionReport, LlRenditionReport, PlaylistWaiters, renderLlPlaylist } from './ll';
import { LlRendition, LlRunContext } from './ll-rendition';
import { MasterPlaylistInput, renderMasterPlaylist } from './master-playlist';

export interface LlStreamOptions {
  timing: LlPartTiming;
  /** Segments (and target durations) listed in each LL playlist: enough that a delta update skips some. */
  windowSegments: number;
  /** Segments kept in memory after they left the playlist. */
  graceSegments: number;
  /**
   * Discontinuity sequence of the first run: where an earlier packaging of the stream left off plus
   * one, as the StreamPackager counts it (a stream continued from another node goes on from the
   * discontinuity sequence its players have). 0 by default.
   */
  firstDiscontinuitySequence?: number;
}

export interface LlStreamEvents {
  warn(message: string): void;
  /** Wall-clock ms now (Date.now); tests give media time instead. */
  now?(): number;
}

/** Leader cuts remembered to place filled audio (a hole in the audio never spans more than a few). */
const LEADER_CUTS_KEPT = 16;

/**
 * One stream's Low-Latency HLS, in memory: its renditions (fMP4 parts and segments cut from the same
 * units, at the same segment boundaries and numbers as the classic layout), the master, the rendered
 * playlists (cached until the next change) and the blocked requests of each playlist.
 *
 * Numbering comes from the StreamPackager (msn = the classic segment's number); the discontinuity
 * sequence is counted here, one per run that produced parts, the same in every rendition.
 */
export class LlStreamPackager {
  /** Names this packaging in part and segment URLs, so a stream published again never reuses them. */
  readonly epoch: string;
  private readonly renditions = new Map<string, LlRendition>();
  private readonly waiters = new Map<string, PlaylistWaiters>();
  private readonly cache = new Map<string, { version: number; text: string }>();
  private tracks: RunTrack[] = [];
  private run?: number;
  private dsn = 0;
  /** Msns of the run's segments that start with a new picture size (as the classic layout has them). */
  private readonly runBreaks = new FormatBreaks();
  private runProduced = false;
  private anchor?: { wall: number; pts: number };
  private leaderCuts: Array<{ msn: number; pts: number }> = [];
  private version = 0;
  private ended = false;
  private closeReason?: string;
  /** performance.now() of the last part, per rendition: how long blocked requests took to be answered. */
  private readonly lastPartAt = new Map<string, number>();

  constructor(
    readonly streamId: string,
    private readonly options: LlStreamOptions,
    /** The stream's TARGETDURATION, fixed by its first segment (undefined before). */
    private readonly targetDuration: () => number | undefined,
    private readonly events: LlStreamEvents,
    /** What the classic master says (undefined until it is written): the LL master says the same. */
    private readonly masterInput: () => MasterPlaylistInput | undefined = () => undefined,
  ) {
    this.epoch = this.now().toString(36);
    this.dsn = options.firstDiscontinuitySequence ?? 0;
  }

  private now(): number {
    return this.events.now?.() ?? Date.now();
  }

  get partTarget(): number {
    return this.options.timing.partTarget;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  get closed(): boolean {
    return this.closeReason !== undefined;
  }

  onRunStarted(run: number, tracks: RunTrack[]): void {
    if (this.ended) return;
    this.flush();
    this.dsn += this.runBreaks.take();
    if (this.runProduced) this.dsn++;
    this.runProduced = false;
    this.run = run;
    this.tracks = tracks;
    this.anchor = undefined;
    this.leaderCuts = [];
    this.changed();
  }

  onUnit(rendition: string, kind: MediaKind, unit: MediaUnit, msn: number): void {
    if (this.ended || this.run === undefined) return;
    // Dates follow media time from the run's first unit (every rendition of the run shares the clock).
    this.anchor ??= { wall: this.now(), pts: unit.pts };
    if (rendition === this.leader && this.leaderCuts[this.leaderCuts.length - 1]?.msn !== msn) {
      this.leaderCuts.push({ msn, pts: unit.pts });
      if (this.leaderCuts.length > LEADER_CUTS_KEPT) this.leaderCuts.shift();
    }
    // A new picture size: a discontinuity in every rendition there, as in the classic layout (the
    // video rendition starts a new init section too, seeing the new SPS).
    if (kind === 'video' && unit.formatChange) this.runBreaks.add(msn);
    let target = this.renditions.get(rendition);
    if (!target) {
      target = new LlRendition(
        {
          streamId: this.streamId,
          name: rendition,
          kind,
          epoch: this.epoch,
          timing: this.options.timing,
          windowSegments: this.options.windowSegments,
          targetDuration: this.targetDuration,
          graceSegments: this.options.graceSegments,
        },
        { changed: (r, what) => this.renditionChanged(r, what), warn: (message) => this.events.warn(message) },
      );
      this.renditions.set(rendition, target);
    }
    target.push(unit, msn, this.context);
  }

  /** Every rendition's playlist from segment `msn` on (what came before no longer matches the master). */
  dropBefore(msn: number): void {
    for (const rendition of this.renditions.values()) rendition.dropBefore(msn);
  }

  /** The run's units are all in: its last parts and segments complete. */
  onRunEnded(run: number): void {
    if (run === this.run) this.flush();
  }

  /** The stream ended: every playlist gets EXT-X-ENDLIST and every blocked request is answered. */
  end(): void {
    if (this.ended) return;
    for (const rendition of this.renditions.values()) rendition.end();
    this.ended = true;
    this.changed();
    for (const waiters of this.waiters.values()) waiters.notify();
  }

  /** Gone (retention over, id reused, shutdown): blocked requests fail with 404, nothing is served. */
  close(reason: string): void {
    if (this.closeReason !== undefined) return;
    this.closeReason = reason;
    for (const waiters of this.waiters.values()) waiters.close(reason);
  }

  rendition(name: string): LlRendition | undefined {
    return this.closed ? undefined : this.renditions.get(name);
  }

  /** A rendition whose playlist can be served (its TARGETDURATION is fixed and it has a part). */
  servable(name: string): LlRendition | undefined {
    const rendition = this.rendition(name);
    return rendition?.servable && this.targetDuration() !== undefined ? rendition : undefined;
  }

  /**
   * The LL master: the classic master's renditions, codecs, sizes and bandwidth (fMP4 needs less than
   * MPEG-TS, so the classic peak is an upper bound), naming the LL playlists; undefined until the
   * classic master is written (every rendition then has a segment) and while a rendition it names has
   * no LL playlist.
   */
  master(): string | undefined {
    const input = this.masterInput();
    if (this.closed || !input) return undefined;
    const names = [...input.video.map((v) => v.rendition), ...(input.audio ? ['audio'] : [])];
    if (names.some((name) => !this.servable(name))) return undefined;
    return renderMasterPlaylist({ ...input, playlistName: (rendition) => llMediaPlaylistName(this.streamId, rendition) });
  }

  /** A media playlist (full, or a delta update with `skip`); undefined while it cannot be served. */
  playlist(name: string, skip?: 'YES' | 'v2'): string | undefined {
    const rendition = this.servable(name);
    const targetDuration = this.targetDuration();
    if (!rendition || targetDuration === undefined) return undefined;
    const key = `${name}|${skip ?? ''}`;
    const cached = this.cache.get(key);
    if (cached?.version === this.version) return cached.text;
    const text = renderLlPlaylist(rendition.state(targetDuration, this.reportsFor(name, targetDuration)), { skip });
    this.cache.set(key, { version: this.version, text });
    return text;
  }

  /** The blocked requests of a rendition's playlist (and of its hinted part): one list, one timer. */
  waitersFor(name: string): PlaylistWaiters | undefined {
    const rendition = this.servable(name);
    const targetDuration = this.targetDuration();
    if (!rendition || targetDuration === undefined) return undefined;
    let waiters = this.waiters.get(name);
    if (!waiters) {
      waiters = new PlaylistWaiters(() => rendition.position(), { timeoutMs: BLOCKING_TIMEOUT_TARGETS * targetDuration * 1000 });
      this.waiters.set(name, waiters);
    }
    return waiters;
  }

  /** When the rendition's newest part was completed (performance.now()). */
  lastPartTime(name: string): number | undefined {
    return this.lastPartAt.get(name);
  }

  /** Requests blocked now, all playlists together. */
  get blockedRequests(): number {
    let total = 0;
    for (const waiters of this.waiters.values()) total += waiters.pending;
    return total;
  }

  get memoryBytes(): number {
    let total = 0;
    for (const rendition of this.renditions.values()) total += rendition.memoryBytes;
    return total;
  }

  private get leader(): string | undefined {
    return (this.tracks.find((t) => t.kind === 'video') ?? this.tracks[0])?.rendition;
  }

  private get context(): LlRunContext {
    const anchor = this.anchor!;
    const cuts = this.leaderCuts;
    return {
      run: this.run!,
      dsnAt: (msn) => this.dsn + this.runBreaks.upTo(msn),
      // Dates are whole milliseconds; hls.js places an audio rendition by its date against the
      // video's. Rounded up for video, and for audio to the last millisecond strictly before its time,
      // an audio part always ends, as a player adds it up, short of its media (by 11 µs or more): a
      // player that believes an audio part ends after its media does waits for a part it already has
      // (hls.js stalled on a part 2.7 ms ahead of its media; exactly on it, a float sum may land past).
      dateOf: (pts90, kind) => {
        const up = Math.ceil((pts90 - anchor.pts) / 90 - 1e-9);
        return anchor.wall + (kind === 'audio' ? up - 1 : up);
      },
      msnAt: (pts90, from) => {
        let msn = from;
        for (const cut of cuts) if (cut.msn > msn && cut.pts <= pts90) msn = cut.msn;
        return msn;
      },
    };
  }

  private reportsFor(name: string, targetDuration: number): LlRenditionReport[] {
    const reports: LlRenditionReport[] = [];
    for (const track of this.tracks) {
      if (track.rendition === name) continue;
      const other = this.renditions.get(track.rendition);
      // Only renditions that have parts of this run: one that has not started again would report
      // where it stood before the restart, segments behind.
      if (!other?.servable || other.lastRun !== this.run) continue;
      reports.push(llRenditionReport(llMediaPlaylistName(this.streamId, track.rendition), other.state(targetDuration, [])));
    }
    return reports;
  }

  private flush(): void {
    for (const rendition of this.renditions.values()) rendition.flush();
  }

  private renditionChanged(rendition: LlRendition, what: 'segment-started' | 'part' | 'segment' | 'ended'): void {
    if (what === 'part') {
      this.runProduced = true;
      this.lastPartAt.set(rendition.name, performance.now());
    }
    this.changed();
    this.waiters.get(rendition.name)?.notify();
  }

  private changed(): void {
    this.version++;
  }
}
