import { Logger } from '@nestjs/common';
import { FSWatcher, watch } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Consumer } from 'mediasoup/node/lib/Consumer';
import type { PlainTransport } from 'mediasoup/node/lib/PlainTransport';
import type { Producer, ProducerScore } from 'mediasoup/node/lib/Producer';
import type { MediaKind } from 'mediasoup/node/lib/RtpParameters';
import type { Router } from 'mediasoup/node/lib/Router';
import type { AppConfig } from '../config/app.config';
import { errorMessage } from '../common/errors';
import { buildFfmpegCommands, FfmpegPlan, privatePlaylistName, VideoMode } from './ffmpeg-args';
import { FfmpegProcess, FfmpegRun } from './ffmpeg-process';
import { LayerSelector } from './layer-selector';
import type { PortLease } from './port-pool';
import { buildSdp, SdpTrack } from './sdp';

export interface SegmentEvent {
  kind: MediaKind;
  uri: string;
  number: number;
  duration: number;
  bytes: number;
  /** Which FFmpeg run wrote it (1, 2, …): a new run restarts the timestamps. */
  run: number;
  /** `filler` while the producer is paused (black video / silence keep the timeline moving). */
  source: 'rtp' | 'filler';
}

export interface TrackInfo {
  codecIn: string;
  codecOut: 'H264' | 'AAC';
  mode: VideoMode;
  paused: boolean;
  simulcastLayer?: number;
}

export interface SessionListener {
  onSegment(segment: SegmentEvent): void;
  onRestart(reason: string): void;
}

interface Track {
  kind: MediaKind;
  producer: Producer;
  transport: PlainTransport;
  consumer: Consumer;
  ports: { rtp: number; rtcp: number };
  selector?: LayerSelector;
  onScore?: (scores: ProducerScore[]) => void;
}

const KINDS: MediaKind[] = ['video', 'audio'];
const RESTART_DELAYS_MS = [250, 1000, 2000, 5000, 10000];
/** A run that lasted this long resets the crash backoff. */
const HEALTHY_RUN_MS = 30_000;
/** No progress from FFmpeg for this long while media should flow: restart it. */
const STALL_MS = 10_000;
const DEFAULT_FILLER_SIZE = { width: 640, height: 360 };

/**
 * Everything that feeds one publisher's FFmpeg and the FFmpeg runs themselves: plain transports,
 * consumers, the port lease, keyframe requests, simulcast layer choice, restarts. Every change
 * (a producer added, closed, paused or resumed, a crash) goes through one queue, so runs never overlap.
 */
export class TranscodeSession {
  private readonly logger = new Logger(`Transcoder`);
  private readonly tracks = new Map<MediaKind, Track>();
  private readonly wanted = new Map<MediaKind, Producer>();
  private readonly published: Record<MediaKind, number> = { video: 0, audio: 0 };
  private instance?: FfmpegRun;
  private plan?: FfmpegPlan;
  private queue: Promise<void> = Promise.resolve();
  private queued?: { reasons: string[] };
  private runs = 0;
  private crashes = 0;
  private closed = false;
  private restartTimer?: NodeJS.Timeout;
  private tick?: NodeJS.Timeout;
  private watcher?: FSWatcher;
  private collecting?: Promise<void>;
  private collectAgain = false;
  /** Last size seen in the segments; filler video keeps it so players need not resize. */
  videoSize = DEFAULT_FILLER_SIZE;

  constructor(
    readonly peerId: string,
    private readonly router: Router,
    private readonly lease: PortLease,
    private readonly config: AppConfig,
    private readonly listener: SessionListener,
    readonly workDir: string,
    /** A group-wide Ctrl-C also hits FFmpeg: during shutdown its exit is no crash to recover from. */
    private readonly shuttingDown: () => boolean = () => false,
  ) {}

  /** The FFmpeg processes running now (one, or one per kind with the legacy profile). */
  get pids(): number[] {
    return this.instance?.state === 'exited' ? [] : (this.instance?.pids ?? []);
  }

  get restarts(): number {
    return Math.max(0, this.runs - 1);
  }

  /** Sets (or with `undefined`, removes) producers, all in one FFmpeg run. */
  setProducers(changes: Partial<Record<MediaKind, Producer | undefined>>): Promise<void> {
    for (const [kind, producer] of Object.entries(changes) as Array<[MediaKind, Producer | undefined]>) {
      if (producer) this.wanted.set(kind, producer);
      else this.wanted.delete(kind);
    }
    const what = Object.entries(changes).map(([kind, p]) => `${kind} ${p ? 'added' : 'removed'}`);
    return this.enqueue(what.join(', '));
  }

  hasProducer(kind: MediaKind): boolean {
    return this.wanted.has(kind);
  }

  /** A producer was paused or resumed: switch that kind between RTP and filler. */
  refresh(reason: string): Promise<void> {
    return this.enqueue(reason);
  }

  info(): Partial<Record<MediaKind, TrackInfo>> {
    const result: Partial<Record<MediaKind, TrackInfo>> = {};
    for (const [kind, producer] of this.wanted) {
      const codecIn = producer.rtpParameters.codecs[0]?.mimeType.split('/')[1] ?? 'unknown';
      const track = this.tracks.get(kind);
      result[kind] = {
        codecIn,
        codecOut: kind === 'video' ? 'H264' : 'AAC',
        mode: kind === 'video' ? this.videoMode(producer) : 'transcode',
        paused: producer.paused,
        simulcastLayer: track?.selector?.layer,
      };
    }
    return result;
  }

  /** Stops FFmpeg first (while packets still flow, it exits in ~30 ms), then closes what fed it. */
  async close(): Promise<void> {
    if (this.closed) return this.queue;
    this.closed = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.tick);
    this.queue = this.queue.then(async () => {
      await this.stopInstance();
      for (const kind of [...this.tracks.keys()]) this.closeTrack(kind);
      this.watcher?.close();
      this.lease.release();
      await rm(this.workDir, { recursive: true, force: true });
    });
    return this.queue;
  }

  private enqueue(reason: string): Promise<void> {
    if (this.closed) return this.queue;
    // A change that arrives while another waits its turn joins it: apply() reads the state when it
    // runs, so pausing mic and camera together costs one FFmpeg restart, not two.
    if (this.queued) {
      this.queued.reasons.push(reason);
      return this.queue;
    }
    const queued = { reasons: [reason] };
    this.queued = queued;
    this.queue = this.queue
      .then(() => {
        this.queued = undefined;
        return this.apply(queued.reasons.join(', '));
      })
      .catch((error) => this.onRunFailed(error));
    return this.queue;
  }

  /** Brings FFmpeg and its inputs in line with the wanted producers and their paused state. */
  private async apply(reason: string): Promise<void> {
    if (this.closed) return;
    const next = this.planFor();
    if (this.instance && this.instance.state !== 'exited' && next && samePlan(next, this.plan)) return;
    await this.stopInstance();
    for (const [kind, track] of this.tracks) {
      if (this.wanted.get(kind) !== track.producer || track.producer.closed) this.closeTrack(kind);
    }
    if (!next || this.wanted.size === 0) return;
    for (const [kind, producer] of this.wanted) {
      if (!this.tracks.has(kind)) await this.openTrack(kind, producer);
    }
    await this.startInstance(this.planFor()!, reason);
  }

  private planFor(): FfmpegPlan | undefined {
    if (this.wanted.size === 0) return undefined;
    const video = this.wanted.get('video');
    const audio = this.wanted.get('audio');
    const live = (producer?: Producer) => producer && !producer.paused;
    const { hls, ffmpeg } = this.config;
    return {
      peerId: this.peerId,
      sdpPath: live(video) || live(audio) ? join(this.workDir, `${this.peerId}.sdp`) : undefined,
      video: video && (live(video) ? { source: 'rtp', mode: this.videoMode(video) } : { source: 'filler', ...this.videoSize }),
      audio: audio && (live(audio) ? { source: 'rtp' } : { source: 'filler' }),
      hlsDir: hls.dir,
      workDir: this.workDir,
      startNumber: 1,
      segmentSeconds: hls.segmentSeconds,
      x264Preset: ffmpeg.x264Preset,
      x264BitrateKbps: ffmpeg.x264BitrateKbps,
      aacBitrateKbps: ffmpeg.aacBitrateKbps,
      profile: hls.profile,
    };
  }

  private videoMode(producer: Producer): VideoMode {
    const mime = producer.rtpParameters.codecs[0]?.mimeType.toLowerCase();
    return mime === 'video/h264' && this.config.hls.profile === 'copy' ? 'copy' : 'transcode';
  }

  private async openTrack(kind: MediaKind, producer: Producer): Promise<void> {
    const ports = this.lease[kind];
    const transport = await this.router.createPlainTransport({
      listenIp: { ip: '127.0.0.1' },
      rtcpMux: false,
      comedia: false,
      appData: { peerId: this.peerId, kind },
    });
    try {
      await transport.connect({ ip: '127.0.0.1', port: ports.rtp, rtcpPort: ports.rtcp });
      // Paused until FFmpeg listens, so the first video it receives is the keyframe we then request.
      const consumer = await transport.consume({
        producerId: producer.id,
        rtpCapabilities: this.router.rtpCapabilities,
        paused: true,
        appData: { peerId: this.peerId },
      });
      const track: Track = { kind, producer, transport, consumer, ports };
      if (consumer.type === 'simulcast') {
        track.selector = new LayerSelector();
        track.onScore = (scores) => this.onScores(track, scores);
        producer.on('score', track.onScore);
        // Scores are only announced when they change; start from the current ones.
        this.onScores(track, producer.score);
      }
      this.tracks.set(kind, track);
    } catch (error) {
      transport.close();
      throw error;
    }
  }

  private closeTrack(kind: MediaKind): void {
    const track = this.tracks.get(kind);
    if (!track) return;
    this.tracks.delete(kind);
    if (track.onScore) track.producer.off('score', track.onScore);
    track.transport.close();
  }

  private async startInstance(plan: FfmpegPlan, reason: string): Promise<void> {
    const startNumber = Math.max(this.published.video, this.published.audio, this.instance?.highestSegmentOpened ?? 0) + 1;
    plan = { ...plan, startNumber };
    const rtpTracks = KINDS.map((kind) => this.tracks.get(kind)).filter(
      (track): track is Track => !!track && plan[track.kind]?.source === 'rtp',
    );
    await mkdir(this.workDir, { recursive: true });
    this.watchWorkDir();
    for (const track of this.tracks.values()) if (!track.consumer.paused) await track.consumer.pause();

    const commands = buildFfmpegCommands(plan);
    const members = [];
    for (const command of commands) {
      const tracks = rtpTracks.filter((t) => command.kinds.includes(t.kind));
      if (command.sdpPath) {
        const sdpTracks: SdpTrack[] = tracks.map((t) => ({ kind: t.kind, rtpPort: t.ports.rtp, rtcpPort: t.ports.rtcp, codec: t.consumer.rtpParameters.codecs[0] }));
        await writeFile(command.sdpPath, buildSdp(sdpTracks));
      }
      const process = new FfmpegProcess(this.config.ffmpeg.path, command.args, (line) => this.onFfmpegLine(line));
      members.push({ process, ports: tracks.flatMap((t) => [t.ports.rtp, t.ports.rtcp]) });
      this.logger.debug(`[peer:${this.peerId}] ffmpeg ${command.args.join(' ')}`);
    }
    const instance = new FfmpegRun(members);
    this.instance = instance;
    this.plan = plan;
    this.runs++;
    this.logger.log(`[peer:${this.peerId}] FFmpeg run ${this.runs} (pid ${instance.pids.join(',')}, ${describePlan(plan)}): ${reason}`);
    void instance.exited.then((exit) => this.onExit(instance, exit.code, exit.signal, exit.requested));
    if (this.runs > 1) this.listener.onRestart(reason);

    await instance.waitUntilListening();
    for (const track of rtpTracks) await track.consumer.resume();
    this.requestKeyFrame();
    clearInterval(this.tick);
    this.tick = setInterval(() => this.onTick(), this.config.hls.segmentSeconds * 1000);
  }

  private async stopInstance(): Promise<void> {
    const instance = this.instance;
    if (!instance) return;
    clearInterval(this.tick);
    await instance.stop();
    await this.collect();
  }

  /** On the segment cadence: ask for a keyframe (cuts land on it), revisit the layer, watch for stalls. */
  private onTick(): void {
    const instance = this.instance;
    if (!instance || instance.state !== 'listening') return;
    this.requestKeyFrame();
    const video = this.tracks.get('video');
    if (video?.selector) this.applyLayer(video, video.selector.evaluate(Date.now()));
    const anyLive = [...this.tracks.values()].some((t) => !t.producer.paused);
    if (anyLive && Date.now() - instance.lastProgressAt > STALL_MS) {
      this.logger.warn(`[peer:${this.peerId}] FFmpeg made no progress for ${STALL_MS} ms; restarting`);
      this.crashes++;
      void instance.stop().then(() => this.scheduleRestart('stalled'));
    }
  }

  private requestKeyFrame(): void {
    const video = this.tracks.get('video');
    if (video && !video.consumer.closed && !video.consumer.paused && !video.producer.paused) {
      video.consumer.requestKeyFrame().catch(() => undefined); // best effort; the next tick asks again
    }
  }

  private onScores(track: Track, scores: ProducerScore[]): void {
    // Spatial layer i of the consumer is encoding i of the producer; scores name streams by rid/ssrc.
    const encodings = track.producer.rtpParameters.encodings ?? [];
    const layers = scores.map(({ rid, ssrc, score }) => ({
      encodingIdx: encodings.findIndex((e) => (rid !== undefined && e.rid === rid) || e.ssrc === ssrc),
      score,
    }));
    this.applyLayer(track, track.selector?.update(layers.filter((l) => l.encodingIdx >= 0), Date.now()));
  }

  private applyLayer(track: Track, layer: number | undefined): void {
    if (layer === undefined || track.consumer.closed) return;
    this.logger.log(`[peer:${this.peerId}] simulcast: preferring spatial layer ${layer}`);
    track.consumer.setPreferredLayers({ spatialLayer: layer, temporalLayer: 2 }).catch(() => undefined);
  }

  private onExit(instance: FfmpegRun, code: number | null, signal: string | null, requested: boolean): void {
    if (requested || this.closed || this.instance !== instance || this.shuttingDown()) return;
    this.logger.error(`[peer:${this.peerId}] FFmpeg exited unexpectedly (code ${code}, signal ${signal}):\n${instance.tail}`);
    if (Date.now() - instance.startedAt > HEALTHY_RUN_MS) this.crashes = 0;
    this.crashes++;
    void this.collect().then(() => this.scheduleRestart(`crashed (code ${code})`));
  }

  private scheduleRestart(reason: string): void {
    if (this.closed || this.shuttingDown()) return;
    const delay = RESTART_DELAYS_MS[Math.min(this.crashes - 1, RESTART_DELAYS_MS.length - 1)] ?? 0;
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.plan = undefined; // forces a new run even though nothing else changed
      void this.enqueue(`restart after FFmpeg ${reason}`);
    }, delay);
  }

  private onRunFailed(error: unknown): void {
    if (this.closed) return;
    this.logger.error(`[peer:${this.peerId}] FFmpeg run failed: ${errorMessage(error)}`);
    this.crashes++;
    void this.instance?.stop().then(() => this.scheduleRestart('failed to start'));
  }

  private onFfmpegLine(line: string): void {
    if (/error|failed|invalid/i.test(line) && !/non-existing PPS|decode_slice_header/.test(line)) {
      this.logger.debug(`[peer:${this.peerId}] ffmpeg: ${line}`);
    }
  }

  private watchWorkDir(): void {
    if (this.watcher) return;
    this.watcher = watch(this.workDir, (_event, file) => {
      if (file && String(file).endsWith('.m3u8')) void this.collect();
    });
    this.watcher.on('error', () => undefined); // the directory goes away on close
  }

  /** Reads FFmpeg's private playlists and reports segments not seen before, in order. Coalesced. */
  private collect(): Promise<void> {
    if (this.collecting) {
      this.collectAgain = true;
      return this.collecting;
    }
    this.collecting = (async () => {
      do {
        this.collectAgain = false;
        for (const kind of KINDS) await this.collectKind(kind);
      } while (this.collectAgain);
    })()
      .catch((error) => this.logger.warn(`[peer:${this.peerId}] reading FFmpeg's playlist: ${errorMessage(error)}`))
      .finally(() => (this.collecting = undefined));
    return this.collecting;
  }

  private async collectKind(kind: MediaKind): Promise<void> {
    const text = await readFile(join(this.workDir, privatePlaylistName(this.peerId, kind)), 'utf8').catch(() => '');
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const extinf = /^#EXTINF:([\d.]+)/.exec(lines[i]);
      const uri = lines[i + 1]?.trim();
      const number = Number(/_(\d+)\.ts$/.exec(uri ?? '')?.[1]);
      if (!extinf || !uri || !(number > this.published[kind])) continue;
      const bytes = (await stat(join(this.config.hls.dir, uri)).catch(() => undefined))?.size ?? 0;
      this.published[kind] = number;
      const source = this.plan?.[kind]?.source ?? 'rtp';
      this.listener.onSegment({ kind, uri, number, duration: Number(extinf[1]), bytes, run: this.runs, source });
    }
  }
}

function samePlan(a: FfmpegPlan, b?: FfmpegPlan): boolean {
  return !!b && JSON.stringify({ ...a, startNumber: 0 }) === JSON.stringify({ ...b, startNumber: 0 });
}

function describePlan(plan: FfmpegPlan): string {
  const video = plan.video ? (plan.video.source === 'rtp' ? `video ${plan.video.mode}` : 'video filler') : undefined;
  const audio = plan.audio ? (plan.audio.source === 'rtp' ? 'audio aac' : 'audio filler') : undefined;
  return [video, audio].filter(Boolean).join(' + ');
}
