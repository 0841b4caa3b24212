/** hls.js in a page, for the tests: plays a master playlist and reports what the player does. */
import Hls from 'hls.js';

/** A stretch of wall-clock time (ms since the epoch) during which currentTime did not advance. */
export interface Stall {
  from: number;
  to: number;
}

/** Stalls shorter than this are sampling noise, not something a viewer notices. */
const STALL_MIN_MS = 300;
/** Media segments kept in memory: those a decode error can have come from (the buffer ahead and behind). */
const KEPT_SEGMENTS = 8;

/** A media segment as the player received it, for the report of a decode error. */
export interface KeptSegment {
  name: string;
  at: number;
  bytes: ArrayBuffer;
}

/**
 * hls.js's own fragment loader that keeps a copy of the last few segments it loaded: the segment a
 * decoder refused is gone from the server by the time a run is judged, and hls.js hands the bytes
 * on to its worker (detached) before any event could copy them.
 */
function keepingLoader(kept: KeptSegment[]) {
  const Base = Hls.DefaultConfig.loader;
  return class extends Base {
    load(context: any, config: any, callbacks: any): void {
      const onSuccess = callbacks.onSuccess;
      super.load(context, config, {
        ...callbacks,
        onSuccess: (response: any, stats: any, ctx: any, details: any) => {
          if (response.data instanceof ArrayBuffer) {
            kept.push({ name: String(ctx.url).split('/').pop()!, at: Date.now(), bytes: response.data.slice(0) });
            kept.splice(0, Math.max(0, kept.length - KEPT_SEGMENTS));
          }
          onSuccess(response, stats, ctx, details);
        },
      });
    }
  };
}

class Player {
  video = document.createElement('video');
  hls?: Hls;
  errors: Array<{ type: string; details: string; fatal: boolean; reason?: string; frag?: string; at?: number }> = [];
  /** Times the player loaded the master: more than one means something reloaded it. */
  manifestLoads = 0;
  /** The longest time currentTime stood still once playing had begun (ms). */
  longestStallMs = 0;
  private lastTime = -1;
  private lastAdvanceAt = 0;
  /** Each time playback waited for data ('waiting' → 'playing'), in ms, with when it began. */
  waits: Array<{ at: number; ms: number }> = [];
  private waitingSince?: number;
  /** Levels switched to (LEVEL_SWITCHED), with when. */
  switches: Array<{ at: number; level: number }> = [];
  /** Every stall since playback first started, on the wall clock (ms since the epoch) the test shares. */
  stallLog: Stall[] = [];
  private firstPlayAt?: number;
  private lastAdvanceWall?: number;
  private sampler?: number;
  /** The last segments loaded, and those loaded when the element first failed (a decode error). */
  private readonly kept: KeptSegment[] = [];
  keptAtError?: KeptSegment[];

  /**
   * `lowLatency`: hls.js's lowLatencyMode (blocking reloads and parts of a Low-Latency playlist).
   * `keepSegments`: keep a copy of the last segments loaded, for the report of a decode error (the soak).
   */
  play(url: string, options: { lowLatency?: boolean; keepSegments?: boolean } = {}): void {
    this.video.muted = true;
    this.video.autoplay = true;
    document.body.appendChild(this.video);
    const hls = new Hls({
      lowLatencyMode: options.lowLatency ?? false,
      // Only where asked: a copy of every segment is work no other test needs.
      ...(options.keepSegments ? { fLoader: keepingLoader(this.kept) as never } : {}),
    });
    this.hls = hls;
    // The reason too: a failed assertion then says what hls.js found wrong (e.g. the two playlists it compared).
    hls.on(Hls.Events.ERROR, (_event, data) =>
      this.errors.push({
        type: data.type,
        details: data.details,
        fatal: data.fatal,
        reason: (data.reason ?? data.error?.message)?.slice(0, 2000),
        // Which segment, for an error of appending or decoding (sn, playlist, discontinuity).
        frag: data.frag ? `${data.frag.type} sn ${data.frag.sn} cc ${data.frag.cc} ${data.frag.url.split('/').pop()}` : undefined,
        at: Date.now(),
      }),
    );
    // The element's own error says what the browser's demuxer or decoder refused (hls.js only sees
    // that the MediaSource closed).
    this.video.addEventListener('error', () => {
      this.keptAtError ??= [...this.kept];
      this.errors.push({
        type: 'mediaElement',
        details: `MediaError ${this.video.error?.code}`,
        fatal: false,
        reason: this.video.error?.message?.slice(0, 2000),
        at: Date.now(),
      });
    });
    hls.on(Hls.Events.MANIFEST_LOADING, () => this.manifestLoads++);
    hls.loadSource(url);
    hls.attachMedia(this.video);
    hls.on(Hls.Events.MANIFEST_PARSED, () => void this.video.play().catch(() => undefined));
    hls.on(Hls.Events.LEVEL_SWITCHED, (_event, data) => this.switches.push({ at: performance.now(), level: data.level }));
    this.video.addEventListener('waiting', () => (this.waitingSince ??= performance.now()));
    this.video.addEventListener('playing', () => {
      if (this.waitingSince === undefined) return;
      this.waits.push({ at: this.waitingSince, ms: performance.now() - this.waitingSince });
      this.waitingSince = undefined;
    });
    // Sampled in the page, so a slow test process cannot hide (or invent) a stall.
    this.sampler = window.setInterval(() => this.sample(), 100);
  }

  /** Stalls so far, the one in progress included (its `to` is now). */
  stalls(): { stalls: Stall[]; playingSince?: number } {
    const now = Date.now();
    const last = this.lastAdvanceWall;
    const open = last !== undefined && now - last >= STALL_MIN_MS ? [{ from: last, to: now }] : [];
    return { stalls: [...this.stallLog, ...open], playingSince: this.firstPlayAt };
  }

  /** Stops playing and sampling (a viewer that leaves). */
  stop(): void {
    clearInterval(this.sampler);
    this.hls?.destroy();
  }

  private sample(): void {
    const now = performance.now();
    const wall = Date.now();
    const time = this.video.currentTime;
    if (time > this.lastTime) {
      if (time > 0) {
        if (this.lastAdvanceWall === undefined) this.firstPlayAt = wall;
        else if (wall - this.lastAdvanceWall >= STALL_MIN_MS) this.stallLog.push({ from: this.lastAdvanceWall, to: wall });
        this.lastAdvanceWall = wall;
      }
      this.lastTime = time;
      this.lastAdvanceAt = now;
    } else if (this.lastTime > 0 && !this.video.paused && !this.video.ended) {
      this.longestStallMs = Math.max(this.longestStallMs, now - this.lastAdvanceAt);
    }
  }

  /** The segments kept when the element failed, base64, oldest first (none when it never failed). */
  segmentsAtError(): Array<{ name: string; at: number; base64: string }> {
    return (this.keptAtError ?? []).map(({ name, at, bytes }) => {
      let binary = '';
      const view = new Uint8Array(bytes);
      for (let i = 0; i < view.length; i += 0x8000) binary += String.fromCharCode(...view.subarray(i, i + 0x8000));
      return { name, at, base64: btoa(binary) };
    });
  }

  /** Forces a level (hls.js `currentLevel`; -1 is automatic). */
  setLevel(level: number): void {
    this.hls!.currentLevel = level;
  }

  levels() {
    return (this.hls?.levels ?? []).map((l) => ({ width: l.width, height: l.height, bitrate: l.bitrate, url: l.url[0] }));
  }

  state() {
    return {
      currentTime: this.video.currentTime,
      videoWidth: this.video.videoWidth,
      videoHeight: this.video.videoHeight,
      paused: this.video.paused,
      ended: this.video.ended,
      readyState: this.video.readyState,
      latency: this.hls?.latency,
      fatalErrors: this.errors.filter((e) => e.fatal),
      recentErrors: this.errors.slice(-5),
      /** What the browser's demuxer or decoder refused (each one a picture that stopped). */
      elementErrors: this.errors.filter((e) => e.type === 'mediaElement'),
      buffered: Array.from({ length: this.video.buffered.length }, (_, i) => [this.video.buffered.start(i), this.video.buffered.end(i)]),
      manifestLoads: this.manifestLoads,
      longestStallMs: Math.round(this.longestStallMs),
      duration: this.video.duration,
      level: this.hls?.currentLevel,
      waits: this.waits,
      switches: this.switches,
      now: performance.now(),
    };
  }
}

(window as any).player = new Player();
