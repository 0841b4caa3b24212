import type { ProducerStat } from 'mediasoup/node/lib/Producer';
import type { MediaKind, RtpEncodingParameters } from 'mediasoup/node/lib/RtpParameters';

/**
 * A producer that received no RTP for this long is silent: its kind switches to filler. Audio sends a
 * packet every 20 ms (Opus DTX every 400 ms); video can idle near 1 fps (a still screen share repeats
 * its frame once a second), so it gets more room.
 */
export const SILENCE_MS: Record<MediaKind, number> = { audio: 1_000, video: 1_500 };
/** A kind quiet this long goes to filler along with another kind that went silent. */
const SHORTEST_SILENCE_MS = Math.min(...Object.values(SILENCE_MS));
/**
 * Every kind of a stream quiet this long at once after it had flowed, none silent before: the
 * publisher froze (a process suspended or crashed, a network gone), which neither a still screen nor
 * a DTX pause looks like while the other kind flows. Its viewers' buffers are draining, so filler comes sooner than the
 * per-kind bounds (measured in the soak: a frozen copied-H264 publisher, noticed at the audio bound,
 * left its playlists still 2 s and a viewer at the live edge stalled 2.3 s).
 */
export const FROZEN_MS = 500;

/**
 * Which kinds go silent and which come back, from how long each (not paused) kind has received
 * nothing: silent past its own bound, along with another that went silent once quiet for the
 * shortest bound (one switch to filler, not one per kind), or all together when the publisher froze;
 * back at the first look that saw RTP.
 */
export function silenceChanges(
  quiet: ReadonlyMap<MediaKind, { ms: number; flowed: boolean }>,
  silent: ReadonlySet<MediaKind>,
): { silent: MediaKind[]; back: MediaKind[] } {
  const entries = [...quiet].map(([kind, { ms, flowed }]) => ({ kind, ms, flowed }));
  const goneSilent = entries.some(({ kind, ms }) => !silent.has(kind) && ms >= SILENCE_MS[kind]);
  // Not at the start: a WHIP publisher's producers exist before its ICE and DTLS are done.
  const frozen = entries.length > 1 && entries.every(({ kind, ms, flowed }) => flowed && !silent.has(kind) && ms >= FROZEN_MS);
  const changes = { silent: [] as MediaKind[], back: [] as MediaKind[] };
  for (const { kind, ms } of entries) {
    if (!silent.has(kind) && (ms >= SILENCE_MS[kind] || frozen || (goneSilent && ms >= SHORTEST_SILENCE_MS))) changes.silent.push(kind);
    else if (silent.has(kind) && ms === 0) changes.back.push(kind);
  }
  return changes;
}

/**
 * What a producer receives, from its stats polled now and then: how long it has received nothing
 * (media that stops without a pause), and which of its simulcast encodings are flowing.
 */
export class ProducerActivity {
  private total?: { bytes: number; at: number };
  private readonly encodings = new Map<number, { bytes: number; at: number }>();
  /** What countSinceLastLook saw last: packets, and the highest cumulative loss (it can go down). */
  private counted?: { packets: number; lost: number };

  constructor(private readonly declared: RtpEncodingParameters[]) {}

  update(stats: ProducerStat[], now: number): void {
    const bytes = stats.reduce((sum, s) => sum + (s.byteCount ?? 0), 0);
    if (!this.total || bytes > this.total.bytes) this.total = { bytes, at: now };
    for (const stat of stats) {
      // Encodings are named by rid (simulcast) or ssrc in the stats.
      const index = this.declared.findIndex((e) => (stat.rid !== undefined && e.rid === stat.rid) || e.ssrc === stat.ssrc);
      if (index < 0) continue;
      const seen = this.encodings.get(index);
      if (!seen || stat.byteCount > seen.bytes) this.encodings.set(index, { bytes: stat.byteCount, at: now });
    }
  }

  /**
   * RTP packets received and lost since the last call (mediasoup's cumulative counts, summed over the
   * encodings). The first call only sets the baseline; a count that went down (an encoding's stream
   * replaced) starts a new one, and loss is counted only past the highest seen (late packets lower it).
   */
  countSinceLastLook(stats: ProducerStat[]): { packets: number; lost: number } {
    const packets = stats.reduce((sum, s) => sum + (s.packetCount ?? 0), 0);
    const lost = stats.reduce((sum, s) => sum + Math.max(0, s.packetsLost ?? 0), 0);
    const last = this.counted;
    this.counted = { packets, lost: Math.max(lost, last?.lost ?? 0) };
    if (!last) return { packets: 0, lost: 0 };
    return { packets: Math.max(0, packets - last.packets), lost: Math.max(0, lost - last.lost) };
  }

  /** Whether anything arrived yet. */
  get flowed(): boolean {
    return (this.total?.bytes ?? 0) > 0;
  }

  /** How long nothing arrived (0 right after an update that saw bytes; 0 before any update). */
  quietFor(now: number): number {
    return this.total ? now - this.total.at : 0;
  }

  /** Encodings (by index) that received something within `windowMs`. */
  flowing(now: number, windowMs: number): number[] {
    return [...this.encodings.entries()].filter(([, seen]) => seen.bytes > 0 && now - seen.at < windowMs).map(([index]) => index);
  }
}
