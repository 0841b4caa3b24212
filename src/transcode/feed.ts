import type { Producer } from 'mediasoup/node/lib/Producer';
import type { RtpCodecParameters } from 'mediasoup/node/lib/RtpParameters';
import type { MediaKind } from './media-unit';
import type { PortPair } from './port-pool';

/** One stream FFmpeg receives: its rendition, the ports it listens on, the codec. */
export interface FeedOutput {
  rendition: string;
  ports: PortPair;
  codec: RtpCodecParameters;
  /** The layer's declared ceiling (simulcast encoding maxBitrate), bits/s. */
  maxBitrate?: number;
}

/** What feeds one producer to FFmpeg (one output, or one per simulcast layer). */
export interface Feed {
  readonly kind: MediaKind;
  readonly producer: Producer;
  /** In the order of the SDP's m-lines: for layers, the top one first. */
  readonly outputs: FeedOutput[];
  readonly isClosed: boolean;
  readonly simulcastLayer?: number;
  pause(): Promise<void>;
  /**
   * `firstPacketWaitMs`: how long a feed that fills gaps waits for the sender's first packet before it
   * fills from the start (its own short default when absent).
   */
  resume(firstPacketWaitMs?: number): Promise<void>;
  requestKeyFrame(): void;
  /**
   * Resolves true once the first keyframe after a resume has gone to FFmpeg (false on timeout or
   * abort); call before resume(). A feed without it lets the other kinds start at once.
   */
  waitForFirstKeyframe?(timeoutMs: number, abort: AbortSignal): Promise<boolean>;
  /** Called on every cut: revisits what is sent. */
  tick(): void;
  close(): void;
}
