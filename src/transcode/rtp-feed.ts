import { Logger } from '@nestjs/common';
import type { Consumer } from 'mediasoup/node/lib/Consumer';
import type { PlainTransport } from 'mediasoup/node/lib/PlainTransport';
import type { Producer, ProducerScore } from 'mediasoup/node/lib/Producer';
import type { MediaKind } from 'mediasoup/node/lib/RtpParameters';
import type { Router } from 'mediasoup/node/lib/Router';
import { errorMessage } from '../common/errors';
import type { Feed, FeedOutput } from './feed';
import { LayerSelector } from './layer-selector';
import type { PortPair } from './port-pool';
import { ffmpegRtpCapabilities } from './ffmpeg-rtp-capabilities';
import { RtpDemuxer } from './rtp-demuxer';
import { GapFill, gapFillFor, VideoFillOptions } from './rtp-gap-filler';

/** Keyframes asked for while video waits for one after a fill: at most this often. */
const KEYFRAME_ASK_MS = 1_000;

/**
 * One producer fed to FFmpeg as one stream: a consumer on a plain transport, whose RTP reaches FFmpeg's
 * ports through an RtpDemuxer of one route (so FFmpeg hears a sender report before the stream's first
 * packet of every run). Owns the transport (closing it closes the consumer) and the demuxer. The consumer starts paused so the first video FFmpeg
 * receives is the keyframe asked for once it listens. A simulcast producer is fed one layer at a time,
 * chosen by a LayerSelector.
 */
export class RtpFeed implements Feed {
  private readonly logger = new Logger('RtpFeed');
  private readonly selector?: LayerSelector;
  private readonly onScore?: (scores: ProducerScore[]) => void;
  private closed = false;

  private constructor(
    readonly kind: MediaKind,
    readonly producer: Producer,
    private readonly transport: PlainTransport,
    private readonly consumer: Consumer,
    private readonly ports: PortPair,
    private readonly logPrefix: string,
    private readonly onLayerFailed: (layer: number, error: string) => void,
    private readonly demuxer: RtpDemuxer,
    private readonly fill: GapFill | undefined,
  ) {
    if (consumer.type === 'simulcast') {
      this.selector = new LayerSelector();
      this.onScore = (scores) => this.onScores(scores);
      producer.on('score', this.onScore);
      // Scores are only announced when they change; start from the current ones.
      this.onScores(producer.score);
    }
  }

  static async open(
    router: Router,
    producer: Producer,
    ports: PortPair,
    logPrefix: string,
    onLayerFailed: (layer: number, error: string) => void = () => undefined,
    videoFill?: VideoFillOptions,
  ): Promise<RtpFeed> {
    const transport = await router.createPlainTransport({ listenIp: { ip: '127.0.0.1' }, rtcpMux: false, comedia: false });
    let demuxer: RtpDemuxer | undefined;
    try {
      const consumer = await transport.consume({
        producerId: producer.id,
        rtpCapabilities: ffmpegRtpCapabilities(router.rtpCapabilities),
        paused: true,
      });
      // Opus audio, VP8 and H264 never stop for FFmpeg: a pause or a silent publisher is silence or
      // the filler picture, not a new run.
      const fill = gapFillFor(consumer.rtpParameters.codecs[0], videoFill);
      // After a fill, video goes on from the sender's next keyframe: ask for it (not at every held packet).
      let askedAt = 0;
      const onKeyframeWanted = () => {
        if (Date.now() - askedAt < KEYFRAME_ASK_MS || consumer.closed || producer.paused) return;
        askedAt = Date.now();
        consumer.requestKeyFrame().catch(() => undefined); // best effort: asked again at the next held packet
      };
      const ssrc = consumer.rtpParameters.encodings![0].ssrc!;
      demuxer = new RtpDemuxer([{ ssrc, rtpPort: ports.rtp, rtcpPort: ports.rtcp, fill, onKeyframeWanted }]);
      const { rtpPort, rtcpPort } = await demuxer.open();
      // A paused producer sends nothing until it resumes: its gap is filled at once, not after a silence.
      const opened = demuxer;
      consumer.on('producerpause', () => opened.senderPaused(ssrc));
      if (producer.paused) demuxer.senderPaused(ssrc);
      await transport.connect({ ip: '127.0.0.1', port: rtpPort, rtcpPort });
      return new RtpFeed(producer.kind, producer, transport, consumer, ports, logPrefix, onLayerFailed, demuxer, fill);
    } catch (error) {
      demuxer?.close();
      transport.close();
      throw error;
    }
  }

  get outputs(): FeedOutput[] {
    return [{ rendition: this.kind, ports: this.ports, codec: this.consumer.rtpParameters.codecs[0] }];
  }

  get simulcastLayer(): number | undefined {
    return this.selector?.layer;
  }

  /** Whether a pause or a silent publisher is filled in this feed now (no new run needed). */
  get fillsGaps(): boolean {
    return !!this.fill?.canFill();
  }

  get isClosed(): boolean {
    return this.closed || this.consumer.closed || this.producer.closed;
  }

  async pause(): Promise<void> {
    this.demuxer.halt();
    if (!this.consumer.closed && !this.consumer.paused) await this.consumer.pause();
  }

  async resume(firstPacketWaitMs?: number): Promise<void> {
    if (this.consumer.closed) return;
    this.demuxer.restart(firstPacketWaitMs);
    await this.consumer.resume();
  }

  /**
   * Resolves once the consumer has sent FFmpeg its first keyframe after a resume (a video consumer
   * forwards nothing before one), or false after `timeoutMs` or when `abort` fires. Call before
   * resume(). FFmpeg times each RTP stream from its own first packet until the RTCP sender reports
   * align them, so the audio is resumed only then: both start together, with no jump later.
   */
  async waitForFirstKeyframe(timeoutMs: number, abort: AbortSignal): Promise<boolean> {
    if (this.consumer.closed) return false;
    let onTrace: ((trace: { type: string; direction: string }) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      const keyframe = new Promise<boolean>((resolve) => {
        onTrace = (trace) => {
          if (trace.type === 'keyframe' && trace.direction === 'out') resolve(true);
        };
        this.consumer.on('trace', onTrace);
        timer = setTimeout(() => resolve(false), timeoutMs);
        // Closing the consumer (the feed, the producer) or the session ends the wait too.
        onAbort = () => resolve(false);
        // A signal aborted already never fires again: a change that came while this run was being
        // prepared must end the wait too (it waited the whole 5 s for a paused producer's keyframe).
        if (abort.aborted) resolve(false);
        abort.addEventListener('abort', onAbort);
        this.consumer.observer.once('close', onAbort);
      });
      await this.consumer.enableTraceEvent(['keyframe']);
      return await keyframe;
    } finally {
      clearTimeout(timer);
      if (onAbort) {
        abort.removeEventListener('abort', onAbort);
        this.consumer.observer.off('close', onAbort);
      }
      if (onTrace) this.consumer.off('trace', onTrace);
      if (!this.consumer.closed) await this.consumer.enableTraceEvent([]).catch(() => undefined); // closed meanwhile
    }
  }

  requestKeyFrame(): void {
    if (this.consumer.closed || this.consumer.paused || this.producer.paused) return;
    this.consumer.requestKeyFrame().catch(() => undefined); // best effort: the requester asks again
  }

  /** Revisits the simulcast layer (scores arrive only when they change). */
  tick(): void {
    if (this.selector) this.applyLayer(this.selector.evaluate(Date.now()));
  }

  /** Idempotent. Closing the transport closes the consumer with it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.onScore) this.producer.off('score', this.onScore);
    this.transport.close();
    this.demuxer.close();
  }

  private onScores(scores: ProducerScore[]): void {
    // Spatial layer i of the consumer is encoding i of the producer; scores name streams by rid/ssrc.
    const encodings = this.producer.rtpParameters.encodings ?? [];
    const layers = scores.map(({ rid, ssrc, score }) => ({
      encodingIdx: encodings.findIndex((e) => (rid !== undefined && e.rid === rid) || e.ssrc === ssrc),
      score,
    }));
    this.applyLayer(
      this.selector?.update(
        layers.filter((l) => l.encodingIdx >= 0),
        Date.now(),
      ),
    );
  }

  private applyLayer(layer: number | undefined): void {
    if (layer === undefined || this.consumer.closed) return;
    this.consumer
      .setPreferredLayers({ spatialLayer: layer, temporalLayer: 2 })
      .then(() => this.logger.log(`${this.logPrefix} simulcast: preferring spatial layer ${layer}`))
      .catch((error) => {
        if (this.closed || this.consumer.closed) return; // closed meanwhile: nothing to prefer any more
        this.logger.warn(`${this.logPrefix} simulcast: could not prefer layer ${layer}: ${errorMessage(error)}`);
        this.onLayerFailed(layer, errorMessage(error));
      });
  }
}
