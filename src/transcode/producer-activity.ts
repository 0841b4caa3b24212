import type { ProducerStat } from 'mediasoup/node/lib/Producer';
import type { RtpEncodingParameters } from 'mediasoup/node/lib/RtpParameters';

/**
 * What a producer receives, from its stats polled now and then: how long it has received nothing
 * (media that stops without a pause), and which of its simulcast encodings are flowing.
 */
export class ProducerActivity {
  private total?: { bytes: number; at: number };
  private readonly encodings = new Map<number, { bytes: number; at: number }>();

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

  /** How long nothing arrived (0 right after an update that saw bytes; 0 before any update). */
  quietFor(now: number): number {
    return this.total ? now - this.total.at : 0;
  }

  /** Encodings (by index) that received something within `windowMs`. */
  flowing(now: number, windowMs: number): number[] {
    return [...this.encodings.entries()].filter(([, seen]) => seen.bytes > 0 && now - seen.at < windowMs).map(([index]) => index);
  }
}
