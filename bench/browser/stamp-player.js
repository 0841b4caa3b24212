// hls.js player for the glass-to-glass measurement, with hls.js's DEFAULT settings (new Hls()), or
// the given config (the Low-Latency player: { lowLatencyMode: true }).
// Every presented frame (requestVideoFrameCallback) is drawn to a canvas and its stamp read:
// latency = the frame's expected display time (wall clock) - the time drawn into it.
import Hls from 'hls.js';
import { STAMP, decodeStamp, readStampBits } from './stamp.js';

const MAX_SAMPLES = 20_000;
const LOG_LINES = 3000;
const AFTER_STALL = 500;

class StampPlayer {
  samples = []; // { at, latencyMs }
  unreadable = 0;
  frames = 0;
  errors = [];
  hlsLatency = [];
  collecting = false;
  // Stalls: the element ran out of media while playing (a 'waiting' that is not a seek), counted from
  // the first presented frame on, and that span of playback, for stalls per minute.
  stalls = [];
  firstFrameAt = undefined;
  log = [];

  play(url, config) {
    const video = document.createElement('video');
    video.muted = true;
    video.autoplay = true;
    video.playsInline = true;
    document.body.appendChild(video);
    this.video = video;
    // hls.js's own log, kept for a player that stalls (the report carries it then): a stall's cause is
    // in what the player did just before it. The last LOG_LINES lines, and from the first stall on,
    // AFTER_STALL more lines and no more (so the lines before it are never pushed out).
    const t0 = performance.now();
    let cap;
    const keep =
      (level) =>
      (...args) => {
        if (cap !== undefined && this.log.length >= cap) return;
        this.log.push(`${Math.round(performance.now() - t0)} ${level} ${args.map(String).join(' ')}`);
        if (cap === undefined && this.log.length > LOG_LINES) this.log.splice(0, this.log.length - LOG_LINES);
      };
    const debug = { log: keep('log'), info: keep('info'), warn: keep('warn'), error: keep('error'), debug: () => {} };
    const hls = new Hls({ ...(config ?? {}), debug }); // defaults on purpose (the log aside): what a viewer gets without tuning
    this.hls = hls;
    hls.on(Hls.Events.ERROR, (_e, data) => this.errors.push({ type: data.type, details: data.details, fatal: data.fatal }));
    hls.loadSource(url);
    hls.attachMedia(video);
    hls.on(Hls.Events.MANIFEST_PARSED, () => void video.play().catch(() => undefined));
    const canvas = document.createElement('canvas');
    const width = STAMP.cols * STAMP.block;
    const height = STAMP.rows * STAMP.block;
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    video.addEventListener('waiting', () => {
      if (this.firstFrameAt === undefined || video.seeking) return;
      const buffered = Array.from(
        { length: video.buffered.length },
        (_, i) => `${video.buffered.start(i).toFixed(3)}-${video.buffered.end(i).toFixed(3)}`,
      );
      this.stalls.push({ at: Date.now(), currentTime: video.currentTime });
      cap ??= this.log.length + AFTER_STALL;
      keep('stall')(`currentTime ${video.currentTime.toFixed(3)} buffered ${buffered.join(',')}`);
    });
    const onFrame = (now, meta) => {
      this.frames++;
      this.firstFrameAt ??= Date.now();
      if (this.collecting && this.samples.length < MAX_SAMPLES && video.videoWidth > 0) {
        // Source coordinates in the video's own pixels (the stream is 640x480 unless a profile scales).
        const sx = (STAMP.x * video.videoWidth) / 640;
        const sy = (STAMP.y * video.videoHeight) / 480;
        const sw = (width * video.videoWidth) / 640;
        const sh = (height * video.videoHeight) / 480;
        ctx.drawImage(video, sx, sy, sw, sh, 0, 0, width, height);
        const bits = readStampBits(ctx.getImageData(0, 0, width, height).data, width);
        // The realtime clock both pages share (each page's timeOrigin drifts from it; see bench/stats.mjs).
        const displayWall = Date.now() - (performance.now() - meta.expectedDisplayTime);
        const stamp = decodeStamp(bits, displayWall);
        if (stamp === undefined) this.unreadable++;
        else this.samples.push({ at: displayWall, latencyMs: displayWall - stamp });
        if (typeof hls.latency === 'number' && Number.isFinite(hls.latency)) this.hlsLatency.push(hls.latency);
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  collect(on) {
    this.collecting = on;
  }

  report() {
    const v = this.video;
    return {
      samples: this.samples.map((s) => s.latencyMs),
      unreadable: this.unreadable,
      frames: this.frames,
      errors: this.errors,
      stalls: this.stalls.length,
      hlsLog: this.stalls.length > 0 ? this.log : undefined,
      playingSeconds: this.firstFrameAt === undefined ? 0 : (Date.now() - this.firstFrameAt) / 1000,
      hlsLatencySeconds: this.hlsLatency,
      currentTime: v?.currentTime,
      videoWidth: v?.videoWidth,
      videoHeight: v?.videoHeight,
      targetLatency: this.hls?.targetLatency,
      droppedFrames: v?.getVideoPlaybackQuality?.().droppedVideoFrames,
    };
  }
}

window.stampPlayer = new StampPlayer();
