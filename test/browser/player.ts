/** hls.js in a page, for the tests: plays a master playlist and reports what the player does. */
import Hls, { type HlsConfig } from 'hls.js';

class Player {
  video = document.createElement('video');
  hls?: Hls;
  errors: Array<{ type: string; details: string; fatal: boolean; at: number }> = [];
  /** Parts hls.js loaded (Low-Latency mode): how far it got. */
  partsLoaded = 0;

  /** `config` is handed to hls.js (default: its defaults with lowLatencyMode off, the classic viewer). */
  play(url: string, config: Partial<HlsConfig> = { lowLatencyMode: false }): void {
    this.video.muted = true;
    this.video.autoplay = true;
    document.body.appendChild(this.video);
    const hls = new Hls(config);
    this.hls = hls;
    hls.on(Hls.Events.ERROR, (_event, data) => this.errors.push({ type: data.type, details: data.details, fatal: data.fatal, at: performance.now() }));
    hls.on(Hls.Events.FRAG_LOADED, (_event, data) => {
      if (data.part) this.partsLoaded++;
    });
    hls.loadSource(url);
    hls.attachMedia(this.video);
    hls.on(Hls.Events.MANIFEST_PARSED, () => void this.video.play().catch(() => undefined));
  }

  state() {
    const details = this.hls?.latestLevelDetails;
    return {
      currentTime: this.video.currentTime,
      videoWidth: this.video.videoWidth,
      videoHeight: this.video.videoHeight,
      paused: this.video.paused,
      ended: this.video.ended,
      readyState: this.video.readyState,
      latency: this.hls?.latency,
      targetLatency: this.hls?.targetLatency ?? undefined,
      partHoldBack: details?.partHoldBack,
      partsLoaded: this.partsLoaded,
      stalls: this.errors.filter((e) => e.details === 'bufferStalledError').length,
      fatalErrors: this.errors.filter((e) => e.fatal),
    };
  }
}

(window as any).player = new Player();
