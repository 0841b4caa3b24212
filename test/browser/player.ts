/** hls.js in a page, for the tests: plays a master playlist and reports what the player does. */
import Hls from 'hls.js';

/** A stretch of wall-clock time (ms since the epoch) during which currentTime did not advance. */
export interface Stall {
  from: number;
  to: number;
}

/** Stalls shorter than this are sampling noise, not something a viewer notices. */
const STALL_MIN_MS = 300;
const SAMPLE_MS = 100;

class Player {
  video = document.createElement('video');
  hls?: Hls;
  errors: Array<{ type: string; details: string; fatal: boolean }> = [];
  /** Every stall since playback first started, sampled in the page (no round trip to the test). */
  stallLog: Stall[] = [];
  private lastTime = 0;
  private lastAdvanceAt?: number;
  private sampler?: number;

  play(url: string): void {
    this.sampler = window.setInterval(() => this.sample(), SAMPLE_MS);
    this.video.muted = true;
    this.video.autoplay = true;
    document.body.appendChild(this.video);
    const hls = new Hls({ lowLatencyMode: false });
    this.hls = hls;
    hls.on(Hls.Events.ERROR, (_event, data) => this.errors.push({ type: data.type, details: data.details, fatal: data.fatal }));
    hls.loadSource(url);
    hls.attachMedia(this.video);
    hls.on(Hls.Events.MANIFEST_PARSED, () => void this.video.play().catch(() => undefined));
  }

  /** Stalls so far, the one in progress included (its `to` is now). */
  stalls(): { stalls: Stall[]; playingSince?: number } {
    const now = Date.now();
    const open = this.lastAdvanceAt !== undefined && now - this.lastAdvanceAt >= STALL_MIN_MS ? [{ from: this.lastAdvanceAt, to: now }] : [];
    return { stalls: [...this.stallLog, ...open], playingSince: this.firstPlayAt };
  }

  stop(): void {
    clearInterval(this.sampler);
    this.hls?.destroy();
  }

  private firstPlayAt?: number;

  private sample(): void {
    const now = Date.now();
    const t = this.video.currentTime;
    if (t > this.lastTime) {
      if (this.lastAdvanceAt === undefined) this.firstPlayAt = now;
      else if (now - this.lastAdvanceAt >= STALL_MIN_MS) this.stallLog.push({ from: this.lastAdvanceAt, to: now });
      this.lastAdvanceAt = now;
      this.lastTime = t;
    }
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
    };
  }
}

(window as any).player = new Player();
