import { Injectable } from '@nestjs/common';
import { EventEmitter2, OnEvent } from '@nestjs/event-emitter';
import type { MediaKind } from 'mediasoup/node/lib/RtpParameters';

/**
 * Every internal event, declared once: `domain.past-tense-verb` → payload of plain ids and data.
 * A listener that needs a live object asks its owner for it.
 */
export interface BusEvents {
  'worker.started': { workerId: number; pid: number };
  'worker.died': { workerId: number; pid: number; error: string };
  'peer.joined': { peerId: string; workerId: number };
  /** Awaited (emitAsync) before the peer's transports close, so FFmpeg can stop while packets still flow. */
  'peer.leaving': { peerId: string; reason: string };
  'peer.left': { peerId: string; reason: string };
  'producer.created': { peerId: string; producerId: string; kind: MediaKind; paused: boolean };
  'producer.paused': { peerId: string; producerId: string; kind: MediaKind };
  'producer.resumed': { peerId: string; producerId: string; kind: MediaKind };
  'producer.closed': { peerId: string; producerId: string; kind: MediaKind };
  'hls.live': { peerId: string; masterUrl: string; elapsedMs: number };
  'hls.failed': { peerId: string; error: string };
  'hls.ended': { peerId: string; reason: string };
  'hls.segment-written': { peerId: string; kind: MediaKind; seconds: number; bytes: number };
  'hls.ffmpeg-restarted': { peerId: string; reason: string };
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

  /** Waits for every listener (each bounded by its own timeout) before returning. */
  async emitAndWait<K extends BusEventName>(name: K, payload: BusEvents[K]): Promise<void> {
    await this.emitter.emitAsync(name, payload);
  }
}

/** `@OnEvent` restricted to declared names; listener errors are logged by the emitter, never thrown. */
export const OnBusEvent = <K extends BusEventName>(name: K) => OnEvent(name, { suppressErrors: true });
