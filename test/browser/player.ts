/** hls.js in a page, for the tests: plays a master playlist and reports what the player does. */
import Hls from 'hls.js';

class Player {
  video = document.createElement('video');
  hls?: Hls;
  errors: Array<{ type: string; details: string; fatal: boolean }> = [];

  play(url: string): void {
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
