import { Logger } from '@nestjs/common';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Producer } from 'mediasoup/node/lib/Producer';
import type { MediaKind } from 'mediasoup/node/lib/RtpParameters';
import type { Router } from 'mediasoup/node/lib/Router';
import type { AppConfig } from '../config/app.config';
import { errorMessage } from '../common/errors';
import { extractParameterSets, spsPictureSize } from '../media/h264';
import { buildFfmpegCommands, FfmpegPlan } from './ffmpeg-args';
import { FfmpegRun } from './ffmpeg-run';
import { KeyframeRequester } from './keyframe-requester';
import type { MediaUnit, RunTrack, VideoMode } from './media-unit';
import type { PortLease } from './port-pool';
import type { ProcessRunner } from './process-runner';
import type { Feed } from './feed';
import { Layer, LayeredRtpFeed } from './layered-rtp-feed';
import { MAX_VIDEO_LAYERS } from './port-pool';
import { ProducerActivity, SILENCE_MS, silenceChanges } from './producer-activity';
import { RtpFeed } from './rtp-feed';
import { gapFillFor, VideoFillOptions } from './rtp-gap-filler';
import type { PictureSize } from '../media/picture-size';
import { buildSdp } from './sdp';

export interface TrackInfo {
  /** What FFmpeg gets for this kind now: the publisher's RTP, or filler (paused, silent, no publisher). */
  source: 'rtp' | 'filler';
  codecIn: string;
  codecOut: 'H264' | 'AAC';
  mode: VideoMode;
  paused: boolean;
  /** No RTP has come for a while (the publisher stopped sending without pausing): filler plays. */
  silent: boolean;
  simulcastLayer?: number;
  /** Simulcast copied: what each video rendition carries now (its encoding, and whether it flows). */
  renditions?: Array<{ rendition: string; encoding: string; flowing: boolean }>;
}

/** What a session reports to its owner; the owner turns it into bus events. */
export interface SessionListener {
  onRunStarted(run: number, tracks: RunTrack[], reason: string): void;
  /** A run starts while the running one plays on; onRunStarted follows within `withinMs` or never. */
  onRunPreparing(run: number, tracks: RunTrack[], withinMs: number): void;
  onUnit(run: number, rendition: string, unit: MediaUnit): void;
  onRunEnded(run: number, reason: string): void;
  onRestart(reason: string): void;
  /** RTP the producer of `kind` received since the last report (mediasoup's counts: packets, lost). */
  onIngestCounted(kind: MediaKind, packets: number, lost: number): void;
  /** FFmpeg reported missed RTP packets or dropped frames (increments). */
  onFfmpegLoss(missedPackets: number, droppedFrames: number): void;
  /** setPreferredLayers failed on a simulcast feed. */
  onLayerFailed(kind: MediaKind, layer: number, error: string): void;
  /** FFmpeg listens and these producers' feeds are resumed. */
  onReceiving(run: number, producerIds: string[]): void;
}

interface Wanted {
  producer: Producer;
  router: Router;
}

/**
 * A run being replaced. It plays on until its successor has media (make before break), so a switch
 * between the publisher's RTP and filler leaves no hole in the playlists: the successor's start-up
 * (FFmpeg listening, the first keyframe) is hidden behind it. Owns what only it uses.
 */
interface Outgoing {
  instance: FfmpegRun;
  /** What it was started with. */
  plan?: FfmpegPlan;
  keyframes?: KeyframeRequester;
  /** Its feeds, when the successor got feeds of its own (on other ports). */
  feeds: Feed[];
  /** Its ports, when the successor listens on others: released once it has exited. */
  lease?: PortLease;
}

const KINDS: MediaKind[] = ['video', 'audio'];
const RESTART_DELAYS_MS = [250, 1000, 2000, 5000, 10000];
/** A run that lasted this long resets the crash backoff. */
const HEALTHY_RUN_MS = 30_000;
/** No unit out of FFmpeg for this long while it should produce: it is stuck, restart it. */
const STALL_MS = 6_000;
/**
 * How long a run's other kinds wait for video's first keyframe. A publisher that ignores keyframe
 * requests sends one every GOP (OBS: 2 s by default); past this, audio starts alone.
 */
const FIRST_KEYFRAME_WAIT_MS = 5_000;
/** How often producer stats are read while a layered feed waits for its layers to start. */
const ACTIVITY_POLL_MS = 100;
/** How long a simulcast producer's layers may take to start sending after produce(). */
const LAYER_START_WAIT_MS = 2_000;
/**
 * Once one layer sends, how long the first run waits for the others: a browser starts the layers its
 * bandwidth estimate allows within milliseconds of each other (measured: Chromium's three in the same
 * stats poll, or the first alone), and one that is not sending by then comes with a restart.
 */
const LAYER_JOIN_MS = 500;
/** A new simulcast layer restarts FFmpeg at most this often (a flapping top layer must not). */
const LAYER_RESTART_MIN_MS = 10_000;
/**
 * For this long after a simulcast producer's first run, a layer that starts is added at once: a
 * browser ramps its layers up in its first seconds, before the master (written once) names them.
 */
const LAYER_SETTLE_MS = 10_000;
/**
 * How long a run being replaced plays on at most while its successor starts (FFmpeg listening, the
 * first keyframe: normally well under a second). Bounds the overlap of two runs, and so how far ahead
 * the successor's timeline starts (it must start after everything the outgoing run can still produce).
 */
const HANDOVER_MAX_MS = FIRST_KEYFRAME_WAIT_MS + 1_000;
const CLOCK = 90_000;
/** Consecutive units of a rendition further apart than this are a jump in FFmpeg's timing, worth a line. */
const JUMP_TICKS = 0.5 * CLOCK;
const DEFAULT_FILLER_SIZE = { width: 640, height: 360 };

/**
 * One stream's transcoding: what feeds its FFmpeg (a Feed per producer, keyframe requests) and
 * the FFmpeg runs themselves. Every change (a producer set or removed, paused or resumed, gone silent
 * or back, a crash) goes through one queue, so runs never overlap; each run starts where the previous
 * one's timeline ended.
 */
export class TranscodeSession {
  private readonly logger = new Logger('Transcoder');
  private readonly feeds = new Map<MediaKind, Feed>();
  /**
   * The video renditions the stream carries: one, or one per simulcast layer copied. They stay while
   * filler plays, so every playlist players know goes on.
   */
  private videoRenditions = ['video'];
  /** Kinds the stream carries: once it had one, it keeps it (as filler while no producer feeds it). */
  private readonly kinds = new Set<MediaKind>();
  private readonly wanted = new Map<MediaKind, Wanted>();
  /** The codec each kind last came in, for info() while it plays filler. */
  private readonly lastCodec = new Map<MediaKind, string>();
  private readonly silent = new Set<MediaKind>();
  private readonly activity = new Map<Producer, ProducerActivity>();
  /** Simulcast: the rendition each encoding feeds, fixed for the stream's life once given. */
  private readonly layerNames = new Map<number, string>();
  /** Simulcast: the encodings the current video feed carries, and when a restart last added one. */
  private layersFed: number[] = [];
  private layersChangedAt = 0;
  /** Until when layers that start are added at once (see LAYER_SETTLE_MS), for which producer. */
  private layersSettling?: { producer: Producer; until: number };
  /** A layered feed's layers are being chosen (layersFed is about to change). */
  private choosingLayers = false;
  /** The plan the running FFmpeg was started with (`plan` is cleared to force a new run). */
  private runPlan?: FfmpegPlan;
  /** The video feed is to be opened again (with other layers) at the next run. */
  private refeedVideo = false;
  private instance?: FfmpegRun;
  private plan?: FfmpegPlan;
  private keyframes?: KeyframeRequester;
  /** The run `instance` replaces, while it plays on. */
  private outgoing?: Outgoing;
  /** Aborted when a change arrives while a run starts: its waits (first keyframe, handover) end at once. */
  private superseded?: AbortController;
  private queue: Promise<void> = Promise.resolve();
  private queued?: { reasons: string[] };
  private runs = 0;
  private crashes = 0;
  private closed = false;
  private checkingActivity = false;
  /** Aborted by close(): waits inside a run's start give up at once. */
  private readonly closing = new AbortController();
  private restartTimer?: NodeJS.Timeout;
  /** The highest timestamp any run has produced (90 kHz): the next run starts after it. */
  private timelineEnd = 0;
  /** The size the segments last showed (a filled video feed fills at it before it sees a keyframe). */
  private knownVideoSize?: PictureSize;

  constructor(
    readonly streamId: string,
    /** The ports the current run listens on; a handover may move to others. */
    private lease: PortLease,
    /** More ports for a successor run while the current one still listens (rejects when none are free). */
    private readonly leasePorts: () => Promise<PortLease>,
    private readonly config: AppConfig,
    private readonly runner: ProcessRunner,
    private readonly listener: SessionListener,
    readonly workDir: string,
    /** A group-wide Ctrl-C also hits FFmpeg: during shutdown its exit is no crash to recover from. */
    private readonly shuttingDown: () => boolean = () => false,
    /** Where the stream's timeline stood on the node it comes from (90 kHz): the first run starts after it. */
    timelineStart = 0,
    /** Keyframes of the filler picture for VP8 and H264 feeds (see FillPictures); a codec without them restarts FFmpeg on a pause. */
    private readonly fillPictures?: VideoFillOptions['keyframes'],
  ) {
    this.timelineEnd = timelineStart;
  }

  /** Filler video keeps the last size seen, so players need not resize. */
  private get videoSize(): PictureSize {
    return this.knownVideoSize ?? DEFAULT_FILLER_SIZE;
  }

  private get prefix(): string {
    return `[stream:${this.streamId}]`;
  }

  /** The FFmpeg processes running now (one, or one per kind with the legacy profile; more during a handover). */
  get pids(): number[] {
    return [this.outgoing?.instance, this.instance].flatMap((instance) => (!instance || instance.state === 'exited' ? [] : instance.pids));
  }

  get restarts(): number {
    return Math.max(0, this.runs - 1);
  }

  get missedPackets(): number {
    return this.instance?.missedPackets ?? 0;
  }

  get droppedFrames(): number {
    return this.instance?.droppedFrames ?? 0;
  }

  /**
   * Sets the producer of each kind given, all in one FFmpeg run. `undefined` leaves the kind without a
   * producer: it plays filler (the publisher is gone or being replaced), the timeline goes on.
   */
  setTracks(changes: Partial<Record<MediaKind, Wanted | undefined>>, reason: string): Promise<void> {
    for (const [kind, wanted] of Object.entries(changes) as Array<[MediaKind, Wanted | undefined]>) {
      this.kinds.add(kind);
      if (wanted) this.wanted.set(kind, wanted);
      else this.wanted.delete(kind);
      this.silent.delete(kind);
    }
    return this.enqueue(reason);
  }

  /** A producer was paused or resumed: switch that kind between RTP and filler. */
  refresh(reason: string): Promise<void> {
    return this.enqueue(reason);
  }

  /**
   * Called on a short interval by the owner: notices producers that stopped receiving RTP without
   * being paused (a background tab, a dropped network, a crashed publisher) and ones that came back,
   * and FFmpeg runs that stopped producing.
   */
  async checkActivity(now = Date.now()): Promise<void> {
    // One check at a time: a slow getStats under load must not let an older answer follow a newer one.
    if (this.closed || this.checkingActivity) return;
    this.checkingActivity = true;
    try {
      await this.checkActivityOnce(now);
    } finally {
      this.checkingActivity = false;
    }
  }

  private async checkActivityOnce(now: number): Promise<void> {
    const quiet = new Map<MediaKind, { ms: number; flowed: boolean }>();
    for (const [kind, { producer }] of this.wanted) {
      if (producer.closed || producer.paused) continue;
      const stats = await producer.getStats().catch(() => undefined);
      if (!stats || this.closed || this.wanted.get(kind)?.producer !== producer) continue;
      const activity = this.activityOf(producer);
      activity.update(stats, now);
      // What mediasoup received since the last look, for the metrics.
      const { packets, lost } = activity.countSinceLastLook(stats);
      this.listener.onIngestCounted(kind, packets, lost);
      quiet.set(kind, { ms: activity.quietFor(now), flowed: activity.flowed });
      if (kind === 'video' && this.isLayered(producer) && this.isLive('video')) this.checkLayers(activity, now);
    }
    const changes = silenceChanges(quiet, this.silent);
    for (const kind of changes.silent) {
      this.silent.add(kind);
      this.logger.warn(`${this.prefix} no ${kind} RTP for ${quiet.get(kind)!.ms} ms: filler until it comes back`);
      void this.enqueue(`${kind} silent`);
    }
    for (const kind of changes.back) {
      this.silent.delete(kind);
      this.logger.log(`${this.prefix} ${kind} RTP is back`);
      void this.enqueue(`${kind} back`);
    }
    // What the check knows of a producer lives as long as the producer is wanted (not per feed: every
    // run has new feeds, and a silent producer must stay silent across them).
    const wantedProducers = new Set([...this.wanted.values()].map((w) => w.producer));
    for (const producer of this.activity.keys()) if (!wantedProducers.has(producer)) this.activity.delete(producer);
    const instance = this.instance;
    if (instance && instance.state === 'listening' && now - instance.lastUnitAt > STALL_MS) {
      this.logger.warn(`${this.prefix} FFmpeg produced nothing for ${now - instance.lastUnitAt} ms; restarting`);
      this.countCrash(instance);
      this.plan = undefined; // forces a new run
      void instance.stop().then(() => this.scheduleRestart('stalled'));
    }
  }

  info(): Partial<Record<MediaKind, TrackInfo>> {
    const result: Partial<Record<MediaKind, TrackInfo>> = {};
    for (const kind of this.kinds) {
      const producer = this.wanted.get(kind)?.producer;
      if (producer) this.lastCodec.set(kind, producer.rtpParameters.codecs[0]?.mimeType.split('/')[1] ?? 'unknown');
      result[kind] = {
        // A kind whose gaps are filled takes RTP while paused or silent, but what plays is silence.
        source: this.isLive(kind) && this.plan?.[kind]?.source !== 'filler' ? 'rtp' : 'filler',
        codecIn: this.lastCodec.get(kind) ?? 'unknown',
        codecOut: kind === 'video' ? 'H264' : 'AAC',
        mode: kind === 'video' && producer ? this.videoMode(producer) : kind === 'video' ? 'copy' : 'transcode',
        paused: producer?.paused ?? false,
        silent: this.silent.has(kind),
        simulcastLayer: this.feeds.get(kind)?.simulcastLayer,
        renditions: kind === 'video' && producer && this.isLayered(producer) ? this.renditionInfo(producer) : undefined,
      };
    }
    return result;
  }

  /** A unit of the current run came out: its timeline end moves, and the video size is remembered. */
  private noteUnit(rendition: string, unit: MediaUnit): void {
    this.timelineEnd = Math.max(this.timelineEnd, unit.pts);
    if (rendition !== 'video' || !unit.keyframe) return;
    const sps = extractParameterSets(unit.data).sps[0];
    // An unreadable SPS only means the filler keeps the size it had.
    const size = sps && spsPictureSize(sps);
    if (size) this.knownVideoSize = size;
  }

  /** Stops FFmpeg first (while packets still flow, it exits in ~30 ms), then closes what fed it. */
  async close(): Promise<void> {
    if (this.closed) return this.queue;
    this.closed = true;
    this.closing.abort();
    clearTimeout(this.restartTimer);
    this.queue = this.queue.then(async () => {
      await this.stopInstance('stream ended');
      for (const kind of [...this.feeds.keys()]) this.closeFeed(kind);
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
    // A run still starting is already out of date: it stops waiting, the change follows at once.
    this.superseded?.abort();
    this.queue = this.queue
      .then(() => {
        this.queued = undefined;
        return this.apply(queued.reasons.join(', '));
      })
      .catch((error) => this.onRunFailed(error));
    return this.queue;
  }

  /** Brings FFmpeg and its inputs in line with the wanted producers and their state. */
  private async apply(reason: string): Promise<void> {
    if (this.closed) return;
    const next = this.planFor();
    if (this.instance && this.instance.state !== 'exited' && next && samePlan(next, this.plan)) return;
    const outgoing = next && !this.shuttingDown() ? await this.handOver(next) : undefined;
    if (!outgoing) await this.stopInstance(reason);
    if (this.refeedVideo) {
      this.refeedVideo = false;
      this.closeFeed('video');
    }
    for (const [kind, feed] of this.feeds) {
      // Every run gets new consumers (not the layered feed, whose layers take a while to choose): one
      // that fed an earlier run keeps sending sender reports while paused, extrapolated from before the
      // pause (measured: audio 0.5 s off video after a resume while FFmpeg went by one). Each feed's
      // demuxer also puts a report of its own before a stream's first packet of every run.
      if (this.wanted.get(kind)?.producer !== feed.producer || feed.isClosed || feed instanceof RtpFeed) this.closeFeed(kind);
    }
    // Going down (a signal to the whole group takes the workers, so producers close): no new run.
    if (!next || this.shuttingDown()) {
      if (outgoing) await this.retire(outgoing);
      return;
    }
    try {
      for (const [kind, { producer, router }] of this.wanted) {
        if (!this.feeds.has(kind) && !producer.closed) {
          const feed = await this.openFeed(kind, producer, router);
          this.feeds.set(kind, feed);
          if (kind === 'video') this.videoRenditions = feed.outputs.map((o) => o.rendition);
        }
      }
    } catch (error) {
      if (outgoing) await this.retire(outgoing);
      throw error;
    }
    await this.startInstance(this.planFor()!, reason, outgoing);
  }

  /**
   * Sets the running FFmpeg aside to play on while the next run starts. When both runs take RTP
   * they cannot share ports: the next one gets ports (and feeds) of its own, or, when no ports are
   * free, the running one is stopped first as before (undefined).
   */
  private async handOver(next: FfmpegPlan): Promise<Outgoing | undefined> {
    const instance = this.instance;
    if (!instance || instance.state !== 'listening') return undefined;
    const outgoing: Outgoing = { instance, plan: this.runPlan, keyframes: this.keyframes, feeds: [] };
    // The running plan may be cleared (a layer to add forces a new run): ask the run itself.
    if (instance.bindsPorts && takesRtp(next)) {
      const lease = await this.leasePorts().catch(() => undefined);
      if (!lease || this.closed) {
        lease?.release();
        return undefined;
      }
      outgoing.lease = this.lease;
      outgoing.feeds = [...this.feeds.values()];
      this.feeds.clear();
      this.lease = lease;
    }
    this.outgoing = outgoing;
    return outgoing;
  }

  /**
   * Whether a run being replaced still hands media on: one of its kinds is filler, or RTP that still
   * comes. Not when every producer it takes was paused, went silent or closed (a dropped publisher).
   */
  private handsOnMedia(outgoing: Outgoing): boolean {
    const plan = outgoing.plan;
    if (!plan) return true;
    return KINDS.some((kind) => plan[kind] && (plan[kind].source !== 'rtp' || this.takesRtp(kind)));
  }

  /** The outgoing run stops (its last units are handed on); then what it alone used is closed. */
  private async retire(outgoing: Outgoing): Promise<void> {
    outgoing.keyframes?.stop();
    await outgoing.instance.stop();
    for (const feed of outgoing.feeds) feed.close();
    outgoing.lease?.release();
    if (this.outgoing === outgoing) this.outgoing = undefined;
  }

  private isLive(kind: MediaKind): boolean {
    const wanted = this.wanted.get(kind);
    return !!wanted && !wanted.producer.closed && !wanted.producer.paused && !this.silent.has(kind);
  }

  /**
   * Whether FFmpeg takes this kind's RTP: while it is live, and for a kind whose gaps its feed fills
   * (Opus audio, VP8 and single-layer H264 video) while every other kind is live or filled too: a
   * paused or silent microphone is silence from the feed, a camera that is off a black picture, not a
   * new run with filler (which waited for a keyframe: seconds without audio under load). With video
   * that is not filled off too (copied simulcast, a picture not made yet), filler alone, which starts
   * with a segment at once: the segments are cut at video keyframes, so an old run with filled audio
   * but no video lists nothing (measured: playlists still for 2–2.5 s).
   */
  private takesRtp(kind: MediaKind): boolean {
    if (this.isLive(kind)) return true;
    if (!this.fillsGaps(kind)) return false;
    return KINDS.every((other) => other === kind || !this.kinds.has(other) || this.isLive(other) || this.fillsGaps(other));
  }

  /**
   * Whether this kind's feed fills its gaps itself: Opus with silence, VP8 and H264 with the filler
   * picture once its feed has one at the stream's size (until then a pause switches to a filler run).
   */
  private fillsGaps(kind: MediaKind): boolean {
    const producer = this.wanted.get(kind)?.producer;
    const codec = producer?.rtpParameters.codecs[0];
    if (!producer || producer.closed || !codec) return false;
    if (kind === 'audio') return !!gapFillFor(codec);
    const feed = this.feeds.get(kind);
    return feed instanceof RtpFeed && feed.producer === producer && !feed.isClosed && feed.fillsGaps;
  }

  private planFor(): FfmpegPlan | undefined {
    if (this.kinds.size === 0) return undefined;
    const video = this.wanted.get('video')?.producer;
    const { hls, ffmpeg } = this.config;
    return {
      sdpPath: this.takesRtp('video') || this.takesRtp('audio') ? join(this.workDir, 'input.sdp') : undefined,
      video: !this.kinds.has('video')
        ? undefined
        : video && this.takesRtp('video')
          ? { source: 'rtp', mode: this.videoMode(video), renditions: this.videoRenditions, bitratesKbps: this.layerBitratesKbps(video) }
          : { source: 'filler', ...this.videoSize, renditions: this.videoRenditions },
      audio: !this.kinds.has('audio') ? undefined : this.takesRtp('audio') ? { source: 'rtp' } : { source: 'filler' },
      segmentSeconds: hls.segmentSeconds,
      timelineOffsetSeconds: 0,
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

  /** Declared simulcast layers this run does not carry: packaging waits a moment for them before the master. */
  private absentLayers(tracks: RunTrack[]): RunTrack[] {
    const producer = this.wanted.get('video')?.producer;
    if (!producer || !this.isLayered(producer) || !this.isLive('video')) return [];
    const encodings = producer.rtpParameters.encodings ?? [];
    const top = encodings.map((_, i) => i).slice(-this.maxLayers(producer));
    return top
      .map((i) => ({
        rendition: this.layerName(i, producer),
        kind: 'video' as const,
        source: 'absent' as const,
        maxBitrate: encodings[i]?.maxBitrate,
      }))
      .filter((t) => !tracks.some((r) => r.rendition === t.rendition));
  }

  /** Transcoded layers: each at its declared ceiling (x264 needs a target; the sender's is the sensible one). */
  private layerBitratesKbps(producer: Producer): number[] | undefined {
    if (this.videoMode(producer) === 'copy' || !this.isLayered(producer)) return undefined;
    const encodings = producer.rtpParameters.encodings ?? [];
    return this.layersFed.map((i) =>
      Math.max(100, Math.round((encodings[i]?.maxBitrate ?? this.config.ffmpeg.x264BitrateKbps * 1000) / 1000)),
    );
  }

  private activityOf(producer: Producer): ProducerActivity {
    let activity = this.activity.get(producer);
    if (!activity) this.activity.set(producer, (activity = new ProducerActivity(producer.rtpParameters.encodings ?? [])));
    return activity;
  }

  private renditionInfo(producer: Producer): NonNullable<TrackInfo['renditions']> {
    const encodings = producer.rtpParameters.encodings ?? [];
    const flowing = this.activityOf(producer).flowing(Date.now(), SILENCE_MS.video);
    return [...this.layerNames.entries()]
      .sort(([a], [b]) => b - a)
      .map(([index, rendition]) => ({
        rendition,
        encoding: encodings[index]?.rid ?? `#${index}`,
        flowing: flowing.includes(index) && this.layersFed.includes(index),
      }));
  }

  /**
   * Simulcast H264 that is copied: every layer its own rendition. VP8/VP9 simulcast is transcoded: one
   * layer (the best flowing, chosen by a LayerSelector) unless HLS_TRANSCODE_LAYERS asks for more.
   */
  private isLayered(producer: Producer): boolean {
    if ((producer.rtpParameters.encodings?.length ?? 1) <= 1) return false;
    return this.videoMode(producer) === 'copy' || this.config.ffmpeg.transcodeLayers > 1;
  }

  /** How many layers a layered feed carries. */
  private maxLayers(producer: Producer): number {
    return this.videoMode(producer) === 'copy' ? MAX_VIDEO_LAYERS : Math.min(MAX_VIDEO_LAYERS, this.config.ffmpeg.transcodeLayers);
  }

  /** Simulcast H264 that is copied gets each flowing layer as its own rendition; anything else one stream. */
  private async openFeed(kind: MediaKind, producer: Producer, router: Router): Promise<Feed> {
    if (kind !== 'video' || !this.isLayered(producer)) {
      const onLayerFailed = (layer: number, error: string) => this.listener.onLayerFailed(kind, layer, error);
      const videoFill =
        kind === 'video' && this.fillPictures ? { keyframes: this.fillPictures, size: () => this.knownVideoSize } : undefined;
      return RtpFeed.open(router, producer, this.lease[kind], this.prefix, onLayerFailed, videoFill);
    }
    this.choosingLayers = true;
    const layers = await this.layersToFeed(producer).finally(() => (this.choosingLayers = false));
    if (this.layersSettling?.producer !== producer) this.layersSettling = { producer, until: Date.now() + LAYER_SETTLE_MS };
    this.layersFed = layers.map((l) => l.encodingIndex);
    this.logger.log(`${this.prefix} simulcast: copying ${layers.map((l) => `encoding ${l.encodingIndex} as ${l.rendition}`).join(', ')}`);
    return LayeredRtpFeed.open(router, producer, layers, (i) => this.lease.videoLayer(i));
  }

  /**
   * The layers flowing now, top first (at most MAX_VIDEO_LAYERS). Only flowing ones: FFmpeg would
   * wait for a stream that sends nothing to learn its format, and a browser leaves its top layer off
   * at small capture sizes. A layer that starts later is added by a restart (checkLayers).
   */
  private async layersToFeed(producer: Producer): Promise<Layer[]> {
    const activity = this.activityOf(producer);
    const encodings = producer.rtpParameters.encodings ?? [];
    let flowing: number[] = [];
    // Just after produce() the layers may not have sent yet: give them a moment (bounded), and once
    // one sends, the others a shorter one.
    const started = Date.now();
    let firstAt: number | undefined;
    while (!producer.closed) {
      activity.update(await producer.getStats().catch(() => []), Date.now());
      flowing = activity.flowing(Date.now(), SILENCE_MS.video);
      if (flowing.length > 0) firstAt ??= Date.now();
      if (flowing.length >= Math.min(encodings.length, this.maxLayers(producer))) break;
      if (firstAt !== undefined ? Date.now() - firstAt >= LAYER_JOIN_MS : Date.now() - started >= LAYER_START_WAIT_MS) break;
      await new Promise((resolve) => setTimeout(resolve, ACTIVITY_POLL_MS));
    }
    if (flowing.length === 0) flowing = [encodings.length - 1];
    const chosen = [...flowing].sort((a, b) => b - a).slice(0, this.maxLayers(producer));
    return chosen.map((encodingIndex) => ({ encodingIndex, rendition: this.layerName(encodingIndex, producer) }));
  }

  /**
   * The top encoding the publisher declares keeps the plain `video` (today's file names, existing
   * links); the others are `video.<rid>` (a `.`, which stream names cannot contain). By declaration,
   * not by what flows first: a browser starts its lower layers first while its bandwidth estimate
   * ramps up, and a rendition's name must not depend on that race.
   */
  private layerName(encodingIndex: number, producer: Producer): string {
    let name = this.layerNames.get(encodingIndex);
    if (!name) {
      const encodings = producer.rtpParameters.encodings ?? [];
      const rid = encodings[encodingIndex]?.rid;
      const suffix = rid && /^[A-Za-z0-9]{1,16}$/.test(rid) ? rid.toLowerCase() : `e${encodingIndex}`;
      name = encodingIndex === encodings.length - 1 ? 'video' : `video.${suffix}`;
      if ([...this.layerNames.values()].includes(name)) name = `video.e${encodingIndex}`;
      this.layerNames.set(encodingIndex, name);
    }
    return name;
  }

  /** A layer that started flowing after the run began is added by a new run (not more than one per interval). */
  private checkLayers(activity: ProducerActivity, now: number): void {
    const added = activity.flowing(now, SILENCE_MS.video).filter((i) => !this.layersFed.includes(i));
    const producer = this.wanted.get('video')!.producer;
    const room = this.layersFed.length < this.maxLayers(producer);
    const settling = this.layersSettling?.producer === producer && now < this.layersSettling.until;
    // A refeed already asked for, or layers being chosen now, will see this layer too.
    if (this.refeedVideo || this.choosingLayers) return;
    if (added.length === 0 || !room || (!settling && now - this.layersChangedAt < LAYER_RESTART_MIN_MS)) return;
    this.layersChangedAt = now;
    this.plan = undefined; // the plan alone does not show which layers the feed carries
    this.refeedVideo = true;
    void this.enqueue(`simulcast encoding ${added.join(', ')} started`);
  }

  private closeFeed(kind: MediaKind): void {
    const feed = this.feeds.get(kind);
    if (!feed) return;
    this.feeds.delete(kind);
    feed.close();
  }

  private async startInstance(plan: FfmpegPlan, reason: string, outgoing?: Outgoing): Promise<void> {
    // The new run's timestamps start after everything already handed on (monotonic across runs),
    // and, while an outgoing run plays on, after all it can still hand on.
    const ahead = outgoing ? (HANDOVER_MAX_MS + 1000) / 1000 : 0;
    plan = { ...plan, timelineOffsetSeconds: this.timelineEnd > 0 || outgoing ? this.timelineEnd / CLOCK + ahead + 0.1 : 0 };
    const live = KINDS.filter((kind) => plan[kind]?.source === 'rtp').map((kind) => this.feeds.get(kind)!);
    const feeds = [...this.feeds.values()];
    await mkdir(this.workDir, { recursive: true });
    for (const feed of feeds) await feed.pause();

    const commands = buildFfmpegCommands(plan);
    const members = [];
    for (const command of commands) {
      const commandFeeds = live.filter((feed) => command.kinds.includes(feed.kind));
      if (command.sdpPath) {
        const streams = commandFeeds.flatMap((f) =>
          f.outputs.map((o) => ({ kind: f.kind, rtpPort: o.ports.rtp, rtcpPort: o.ports.rtcp, codec: o.codec })),
        );
        await writeFile(command.sdpPath, buildSdp(streams));
      }
      members.push({ command, ports: commandFeeds.flatMap((f) => f.outputs.flatMap((o) => [o.ports.rtp, o.ports.rtcp])) });
      this.logger.debug(`${this.prefix} ffmpeg ${command.args.join(' ')}`);
    }
    const run = ++this.runs;
    const declared = new Map(live.flatMap((feed) => feed.outputs.map((o) => [o.rendition, o.maxBitrate] as const)));
    const tracks: RunTrack[] = commands.flatMap((c) =>
      c.outputs.map((o) => ({ rendition: o.rendition, kind: o.kind, source: plan[o.kind]!.source, maxBitrate: declared.get(o.rendition) })),
    );
    tracks.push(...this.absentLayers(tracks));
    const announce = () => {
      this.listener.onRunStarted(run, tracks, reason);
      if (run > 1) this.listener.onRestart(reason);
    };
    // Without an outgoing run, the run is the stream's media from its first unit on. With one, it is
    // announced at the handover; what it will carry is said now (a master waiting for layers waits on).
    if (!outgoing) announce();
    else this.listener.onRunPreparing(run, tracks, HANDOVER_MAX_MS);
    const video = live.find((feed) => feed.kind === 'video');
    const superseded = new AbortController();
    this.superseded = superseded;
    if (this.queued) superseded.abort(); // a change came while this run was being prepared
    const waits = AbortSignal.any([this.closing.signal, superseded.signal]);
    const keyframes = new KeyframeRequester(
      () => video?.requestKeyFrame(),
      this.config.hls.segmentSeconds * 1000,
      plan.video?.source === 'rtp' && plan.video.mode === 'copy',
    );
    // With an outgoing run, units wait here until the handover: the first of the rendition that
    // leads (video, or audio alone) ends it, or any one once video's first keyframe is given up on.
    const held: Array<[string, MediaUnit]> = [];
    let holding = !!outgoing;
    const leading = tracks.find((t) => t.kind === 'video' && t.source !== 'absent')?.rendition ?? tracks[0]?.rendition;
    let leaderGivenUp = false;
    let onMedia = () => {};
    let hasMediaYet = false;
    const hasMedia = new Promise<void>((resolve) => (onMedia = resolve)).then(() => (hasMediaYet = true));
    const lastPts = new Map<string, number>();
    let jumps = 0;
    const handOn = (rendition: string, unit: MediaUnit) => {
      this.noteUnit(rendition, unit);
      const last = lastPts.get(rendition);
      lastPts.set(rendition, unit.pts);
      if (last !== undefined && Math.abs(unit.pts - last) > JUMP_TICKS && jumps++ < 3) {
        // FFmpeg re-timed the stream (an RTCP sender report moved it): a hole or an overlap.
        this.logger.warn(`${this.prefix} run ${run}: ${rendition} timestamps jumped ${((unit.pts - last) / CLOCK).toFixed(3)} s`);
      }
      this.listener.onUnit(run, rendition, unit);
    };
    const instance = new FfmpegRun(
      this.runner,
      this.config.ffmpeg.path,
      members,
      this.config.hls.segmentSeconds,
      {
        onUnit: (rendition, unit) => {
          if (!holding) return handOn(rendition, unit);
          held.push([rendition, unit]);
          if (rendition === leading || leaderGivenUp) onMedia();
        },
        onCut: () => {
          keyframes.onCut();
          for (const feed of feeds) feed.tick();
        },
        onLoss: (missed, dropped) => this.listener.onFfmpegLoss(missed, dropped),
        onKeyframeNeeded: () => keyframes.askSoon(),
      },
      (line) => this.onFfmpegLine(line),
    );
    this.instance = instance;
    this.plan = plan;
    this.runPlan = plan;
    this.keyframes = keyframes;
    this.logger.log(
      `${this.prefix} FFmpeg run ${run} (pid ${instance.pids.join(',')}, ${describePlan(plan)})${outgoing ? ', the last one plays on until it has media' : ''}: ${reason}`,
    );
    void instance.exited.then((exit) => this.onExit(instance, exit.code, exit.signal, exit.requested));
    void instance.drained.then(() => this.listener.onRunEnded(run, reason));

    // An outgoing run that gets no RTP any more (every producer it takes paused, silent or gone) has
    // nothing more to play: it stops now, while this run starts, so its last units are listed at once
    // rather than after this run's start-up; this run's units follow as they come.
    const takeOver = async (from: Outgoing) => {
      await this.retire(from);
      announce();
      for (const [rendition, unit] of held.splice(0)) handOn(rendition, unit);
      holding = false;
    };
    const handover = outgoing && !this.handsOnMedia(outgoing) ? takeOver(outgoing) : undefined;

    let failed = false;
    try {
      await instance.waitUntilListening();
      if (video) {
        // Video first; the other kinds once its first keyframe has gone out, so every stream of the
        // run starts its clock together (see RtpFeed.waitForFirstKeyframe): A/V sync from the first frame.
        // A camera that is off (its gaps filled) sends no keyframe to wait for: the filler starts at once.
        // A live one's first keyframe may take a PLI's round trip: its gaps are not filled before it
        // has had as long as the other kinds wait, so a restart does not flash the filler picture.
        const videoLive = this.isLive('video');
        const first = videoLive ? video.waitForFirstKeyframe?.(FIRST_KEYFRAME_WAIT_MS, waits) : undefined;
        await video.resume(videoLive ? FIRST_KEYFRAME_WAIT_MS : undefined);
        keyframes.start();
        // FFmpeg takes the media now: a WHIP answer may go out, so the publisher's first keyframe is not lost.
        this.listener.onReceiving(
          run,
          live.map((feed) => feed.producer.id),
        );
        const started = Date.now();
        if (first && !(await first) && !waits.aborted) {
          this.logger.warn(`${this.prefix} no video keyframe within ${Date.now() - started} ms: audio starts without it`);
          leaderGivenUp = true;
          if (held.length > 0) onMedia();
        }
      }
      for (const feed of live) if (feed !== video) await feed.resume();
      if (!video)
        this.listener.onReceiving(
          run,
          live.map((feed) => feed.producer.id),
        );
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      if (handover) await handover;
      else if (outgoing) {
        // The handover: when this run has media, at most HANDOVER_MAX_MS after it started, and at once
        // when it failed or ended or the session closes.
        if (!failed) await untilFirst([hasMedia, instance.exited], HANDOVER_MAX_MS - (Date.now() - instance.startedAt), waits);
        await takeOver(outgoing);
      }
      if (outgoing) {
        const how = handover ? 'the last one stopped at once' : hasMediaYet ? 'it had media' : 'without media';
        this.logger.log(`${this.prefix} run ${run} took over after ${Date.now() - instance.startedAt} ms (${how})`);
      }
      if (this.superseded === superseded) this.superseded = undefined;
    }
  }

  private async stopInstance(reason: string): Promise<void> {
    const instance = this.instance;
    if (!instance) return;
    this.keyframes?.stop();
    if (instance.state !== 'exited') this.logger.debug(`${this.prefix} stopping FFmpeg: ${reason}`);
    await instance.stop();
  }

  private countCrash(instance: FfmpegRun): void {
    if (Date.now() - instance.startedAt > HEALTHY_RUN_MS) this.crashes = 0;
    this.crashes++;
  }

  private onExit(instance: FfmpegRun, code: number | null, signal: string | null, requested: boolean): void {
    if (requested || this.closed || this.instance !== instance || this.shuttingDown()) return;
    this.logger.error(`${this.prefix} FFmpeg exited unexpectedly (code ${code}, signal ${signal}):\n${instance.tail}`);
    this.countCrash(instance);
    this.plan = undefined;
    void instance.stop().then(() => this.scheduleRestart(`crashed (code ${code})`));
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
    this.logger.error(`${this.prefix} FFmpeg run failed: ${errorMessage(error)}`);
    this.crashes++;
    const instance = this.instance;
    this.plan = undefined;
    void (instance ? instance.stop() : Promise.resolve()).then(() => this.scheduleRestart('failed to start'));
  }

  private onFfmpegLine(line: string): void {
    if (/error|failed|invalid/i.test(line) && !/non-existing PPS|decode_slice_header/.test(line)) {
      this.logger.debug(`${this.prefix} ffmpeg: ${line}`);
    }
  }
}

function samePlan(a: FfmpegPlan, b?: FfmpegPlan): boolean {
  return !!b && JSON.stringify({ ...a, timelineOffsetSeconds: 0 }) === JSON.stringify({ ...b, timelineOffsetSeconds: 0 });
}

function describePlan(plan: FfmpegPlan): string {
  const video = plan.video ? (plan.video.source === 'rtp' ? `video ${plan.video.mode}` : 'video filler') : undefined;
  const audio = plan.audio ? (plan.audio.source === 'rtp' ? 'audio aac' : 'audio filler') : undefined;
  return [video, audio].filter(Boolean).join(' + ');
}

/** Whether a run of this plan listens on RTP ports (any kind from the publisher rather than filler). */
function takesRtp(plan?: FfmpegPlan): boolean {
  return plan?.video?.source === 'rtp' || plan?.audio?.source === 'rtp';
}

/** Resolves when the first of `events` does, after `timeoutMs`, or once `signal` aborts. */
async function untilFirst(events: Array<Promise<unknown>>, timeoutMs: number, signal: AbortSignal): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort = () => {};
  try {
    await Promise.race([
      ...events,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, timeoutMs));
        onAbort = resolve;
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}
