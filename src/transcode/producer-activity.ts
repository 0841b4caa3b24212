import type { ProducerStat } from 'mediasoup/node/lib/Producer';
import type { RtpEncodingParameters } from 'mediasoup/node/lib/RtpParameters';

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

  /** How long nothing arrived (0 right after an update that saw bytes; 0 before any update). */
  quietFor(now: number): number {
    return this.total ? now - this.total.at : 0;
  }

  /** Encodings (by index) that received something within `windowMs`. */
  flowing(now: number, windowMs: number): number[] {
    return [...this.encodings.entries()].filter(([, seen]) => seen.bytes > 0 && now - seen.at < windowMs).map(([index]) => index);
  }
}
