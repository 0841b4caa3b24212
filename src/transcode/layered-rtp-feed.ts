import type { Consumer } from 'mediasoup/node/lib/Consumer';
import type { PlainTransport } from 'mediasoup/node/lib/PlainTransport';
import type { Producer } from 'mediasoup/node/lib/Producer';
import type { Router } from 'mediasoup/node/lib/Router';
import type { Feed, FeedOutput } from './feed';
import type { MediaKind } from './media-unit';
import type { PortPair } from './port-pool';
import { RtpDemuxer } from './rtp-demuxer';
import { ffmpegRtpCapabilities } from './ffmpeg-rtp-capabilities';

/** A layer to feed: which encoding of the producer, under which rendition name. */
export interface Layer {
  encodingIndex: number;
  rendition: string;
}

/**
 * Every simulcast layer of a video producer, each to FFmpeg as its own stream, copied: a pipe
 * consumer forwards every encoding with its own SSRC and never switches between them (mediasoup
 * 3.12.16), and an RtpDemuxer splits them by SSRC to one pair of FFmpeg ports each. A keyframe request
 * on the pipe consumer asks every layer at once, so their keyframes come from the same captured frame.
 * Owns the transport (which closes the consumer) and the demuxer.
 */
export class LayeredRtpFeed implements Feed {
  readonly kind: MediaKind = 'video';
  readonly simulcastLayer = undefined;
  private closed = false;

  private constructor(
    readonly producer: Producer,
    readonly outputs: FeedOutput[],
    private readonly transport: PlainTransport,
    private readonly consumer: Consumer,
    private readonly demuxer: RtpDemuxer,
  ) {}

  /** `layers`: the encodings to feed, top first; layer i gets `layerPorts(i)`. */
  static async open(router: Router, producer: Producer, layers: Layer[], layerPorts: (index: number) => PortPair): Promise<LayeredRtpFeed> {
    const transport = await router.createPlainTransport({ listenIp: { ip: '127.0.0.1' }, rtcpMux: false, comedia: false });
    let demuxer: RtpDemuxer | undefined;
    try {
      // Paused until FFmpeg listens, so the first video it receives is the keyframe asked for then.
      const consumer = await transport.consume({
        producerId: producer.id,
        rtpCapabilities: ffmpegRtpCapabilities(router.rtpCapabilities),
        paused: true,
        pipe: true,
      });
      const codec = consumer.rtpParameters.codecs.find((c) => !/\/rtx$/i.test(c.mimeType))!;
      const encodings = producer.rtpParameters.encodings ?? [];
      const outputs = layers.map(({ rendition, encodingIndex }, i) => ({
        rendition,
        ports: layerPorts(i),
        codec,
        maxBitrate: encodings[encodingIndex]?.maxBitrate,
      }));
      const ssrcs = consumer.rtpParameters.encodings ?? [];
      demuxer = new RtpDemuxer(
        layers.map(({ encodingIndex }, i) => ({
          ssrc: ssrcs[encodingIndex].ssrc!,
          rtpPort: outputs[i].ports.rtp,
          rtcpPort: outputs[i].ports.rtcp,
        })),
      );
      const { rtpPort, rtcpPort } = await demuxer.open();
      await transport.connect({ ip: '127.0.0.1', port: rtpPort, rtcpPort });
      return new LayeredRtpFeed(producer, outputs, transport, consumer, demuxer);
    } catch (error) {
      demuxer?.close();
      transport.close();
      throw error;
    }
  }

  get isClosed(): boolean {
    return this.closed || this.consumer.closed || this.producer.closed;
  }

  async pause(): Promise<void> {
    if (!this.consumer.closed && !this.consumer.paused) await this.consumer.pause();
  }

  async resume(): Promise<void> {
    if (this.consumer.closed) return;
    this.demuxer.restart();
    await this.consumer.resume();
  }

  requestKeyFrame(): void {
    if (this.consumer.closed || this.consumer.paused || this.producer.paused) return;
    this.consumer.requestKeyFrame().catch(() => undefined); // best effort: the requester asks again
  }

  tick(): void {
    // Every layer is always sent: nothing to choose.
  }

  /** Idempotent. Closing the transport closes the consumer with it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.transport.close();
    this.demuxer.close();
  }
}
