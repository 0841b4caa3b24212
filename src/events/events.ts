import { Injectable } from '@nestjs/common';
import { EventEmitter2, OnEvent } from '@nestjs/event-emitter';
import type { MediaKind } from 'mediasoup/node/lib/RtpParameters';
import type { MediaUnit, RunTrack } from '../transcode/media-unit';
import type { Continuity } from '../packaging/continuity';

/**
 * Every internal event, declared once: `domain.past-tense-verb` → payload of plain ids and data.
 * A listener that needs a live object asks its owner for it.
 *
 * Along the data's path: peers (connections) → stream (identity and lifecycle) → transcode (FFmpeg
 * runs and the access units they produce) → packaging (segments and playlists).
 */
export interface BusEvents {
  'worker.started': { workerId: number; pid: number };
  'worker.died': { workerId: number; pid: number; error: string };

  'peer.joined': { peerId: string; workerId: number };
  /**
   * Awaited (emitAndWait) before the peer's transports close, so FFmpeg can stop while packets still
   * flow. `intentional`: the client ended on purpose (disconnect(), WHIP DELETE, shutdown); otherwise it
   * is gone (its network, its process or its worker died) and may come back.
   */
  'peer.leaving': { peerId: string; reason: string; intentional: boolean };
  'peer.left': { peerId: string; reason: string; intentional: boolean };
  /** Its send transport received nothing (RTP, RTCP, STUN) for PUBLISHER_TIMEOUT_SECONDS: it is gone. */
  'peer.timed-out': { peerId: string; silentMs: number };
  /** peer.leaving's listeners did not finish in time: the transports closed under them. */
  'peer.leaving-timed-out': { peerId: string; waitedMs: number };
  /**
   * One of its transports can carry nothing more: DTLS failed, or the client closed it (a DTLS
   * close_notify, sent when a client closes its peer connection). The socket.io path keeps its own
   * definition of gone (the socket); a WHIP publisher, which has no socket, is gone when this comes.
   */
  'peer.transport-failed': { peerId: string; direction: 'send' | 'recv'; reason: string };
  'producer.created': { peerId: string; producerId: string; kind: MediaKind; paused: boolean };
  'producer.paused': { peerId: string; producerId: string; kind: MediaKind };
  'producer.resumed': { peerId: string; producerId: string; kind: MediaKind };
  'producer.closed': { peerId: string; producerId: string; kind: MediaKind };

  /**
   * A stream got its first track. `generation` tells apart streams that used the same name one after
   * the other (a name may be reused while the previous stream's files are still kept).
   */
  'stream.started': {
    streamId: string;
    publisherId: string;
    generation: number;
    /** Chosen by its publisher (it may come back, here or on another node); otherwise a connection's id. */
    named: boolean;
    /**
     * Where numbering, discontinuities and the timeline go on from: the same stream continued from
     * another node of the cluster, or the name's previous stream there (from the cluster's registry).
     */
    continueFrom?: Continuity;
  };
  /** The producer feeding one kind of a stream: set, replaced, or `null` (no producer now: filler plays). */
  'stream.track-set': { streamId: string; publisherId: string | null; kind: MediaKind; producerId: string | null };
  'stream.track-paused': { streamId: string; kind: MediaKind; paused: boolean };
  /** A named stream's publisher is gone: filler plays, no ENDLIST, while it may come back (grace period). */
  'stream.parked': { streamId: string; publisherId: string; reason: string; graceMs: number };
  /** Another publisher took the stream over (a reconnect, or a takeover): the stream goes on. */
  'stream.publisher-changed': { streamId: string; publisherId: string; previousPublisherId: string | null };
  /** Awaited before the publisher's transports close: FFmpeg stops and its last segments come in. */
  'stream.ending': { streamId: string; reason: string };
  /** `movedTo`: the stream goes on on that node of the cluster (no EXT-X-ENDLIST here, no peerLeft). */
  'stream.ended': { streamId: string; reason: string; generation: number; movedTo?: string };
  /**
   * This node no longer holds the stream in the cluster: another node took it over (`taken-over`), or
   * held the name when Redis came back after an outage during which both accepted it (`conflict`).
   * Its publisher here, if any, is told and disconnected.
   */
  'stream.lost': { streamId: string; publisherId: string | null; reason: 'taken-over' | 'conflict'; node: string | null };
  /** Its master playlist became playable. */
  'stream.live': { streamId: string; masterUrl: string; elapsedMs: number };
  /** Transcoding could not start (e.g. FFmpeg's ports are exhausted); the publisher is told. */
  'stream.failed': { streamId: string; publisherId: string; error: string };
  /** Retention is over: that generation's files are gone. */
  'stream.removed': { streamId: string; generation: number };

  /** An FFmpeg run began: what each rendition carries. Units of earlier runs are complete. */
  'transcode.run-started': { streamId: string; run: number; tracks: RunTrack[]; reason: string };
  /**
   * A run is starting while the current one plays on (make before break): `run-started` with these
   * tracks follows once it has media, within `withinMs`, or never if it fails first.
   */
  'transcode.run-preparing': { streamId: string; run: number; tracks: RunTrack[]; withinMs: number };
  /**
   * FFmpeg of this run listens and its feeds are resumed: from now on, media of these producers
   * reaches it. (What arrives before is dropped: a publisher that never answers keyframe requests,
   * like OBS, would lose its first keyframe interval.)
   */
  'transcode.receiving': { streamId: string; run: number; producerIds: string[] };
  /** One access unit of a rendition, assigned to a segment of its run (see MediaUnit). */
  'transcode.unit': { streamId: string; run: number; rendition: string; unit: MediaUnit };
  /** Every unit of the run has been emitted (FFmpeg exited and its pipes are drained). */
  'transcode.run-ended': { streamId: string; run: number; reason: string };
  'transcode.restarted': { streamId: string; reason: string };
  /** RTP received by a stream's producer since the last count (mediasoup's getStats deltas). */
  'transcode.ingest-counted': { streamId: string; kind: MediaKind; packets: number; lost: number };
  /** FFmpeg reported missed RTP packets ("RTP: missed N packets") or dropped frames (-progress), as increments. */
  'transcode.ffmpeg-loss': { streamId: string; missedPackets: number; droppedFrames: number };
  /** A simulcast feed could not switch layers (setPreferredLayers failed). */
  'transcode.layer-failed': { streamId: string; kind: MediaKind; layer: number; error: string };

  'packaging.segment-written': { streamId: string; rendition: string; kind: MediaKind; seconds: number; bytes: number };
  /** A segment (listed as a gap), a playlist or a removal failed on disk. */
  'packaging.write-failed': { streamId: string; what: string; error: string; op: 'segment' | 'playlist' | 'remove' };

  /** A playlist or segment could not be read for a viewer (not a vanished file: an I/O error). */
  'delivery.read-failed': { type: 'playlist' | 'segment'; error: string };

  /** A blocked Low-Latency playlist request was answered, this long after its playlist's last update. */
  'delivery.ll-blocked-answered': { afterUpdateMs: number };

  'signaling.handled': { event: string; ok: boolean };
}

export type BusEventName = keyof BusEvents;

/** Typed front of the event bus: emitting an undeclared name or a wrong payload does not compile. */
@Injectable()
export class EventBus {
  constructor(private readonly emitter: EventEmitter2) {}

  emit<K extends BusEventName>(name: K, payload: BusEvents[K]): void {
    this.emitter.emit(name, payload);
  }

  /**
   * The next `name` event whose payload satisfies `accept`, or undefined after `timeoutMs`. Subscribe
   * before causing the event: one emitted earlier is not seen.
   */
  waitFor<K extends BusEventName>(
    name: K,
    accept: (payload: BusEvents[K]) => boolean,
    timeoutMs: number,
  ): Promise<BusEvents[K] | undefined> {
    return new Promise((resolve) => {
      const listener = (payload: BusEvents[K]) => {
        if (!accept(payload)) return;
        finish(payload);
      };
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      const finish = (payload: BusEvents[K] | undefined) => {
        clearTimeout(timer);
        this.emitter.off(name, listener);
        resolve(payload);
      };
      this.emitter.on(name, listener);
    });
  }

  /** Waits for every listener (each bounded by its own timeout) before returning. */
  async emitAndWait<K extends BusEventName>(name: K, payload: BusEvents[K]): Promise<void> {
    await this.emitter.emitAsync(name, payload);
  }
}

/** `@OnEvent` restricted to declared names; listener errors are logged by the emitter, never thrown. */
export const OnBusEvent = <K extends BusEventName>(name: K) => OnEvent(name, { suppressErrors: true });
