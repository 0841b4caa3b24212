/** What a gap is filled with: one codec frame of silence, repeated. */
export interface GapFill {
  payloadType: number;
  /** The RTP payload of one silent frame. */
  payload: Buffer;
  /** Its duration, in RTP clock ticks and in ms. */
  ticks: number;
  ms: number;
}

/**
 * Opus silence: a CELT-only full-band 20 ms mono frame (TOC 0xF8) of digital silence (0xFF 0xFE), as
 * libopus encodes it; decoders upmix it to the stream's channel count. 960 ticks of the 48 kHz clock.
 */
export const OPUS_SILENCE: Omit<GapFill, 'payloadType'> = { payload: Buffer.from([0xf8, 0xff, 0xfe]), ticks: 960, ms: 20 };

/** How gaps in a codec's RTP are filled, or undefined when they are not (only Opus: silence is one frame). */
export function gapFillFor(codec: { mimeType: string; payloadType: number }): GapFill | undefined {
  return codec.mimeType.toLowerCase() === 'audio/opus' ? { ...OPUS_SILENCE, payloadType: codec.payloadType } : undefined;
}

/** No packet for this long, and the gap is filled from where the last one was. */
export const GAP_FILL_AFTER_MS = 300;
/**
 * Filled frames trail the wall clock by this much, so the sender's first packet after a fill, placed
 * at its arrival, comes after the last filled frame even when mediasoup forwarded it a little late.
 */
export const FILL_LAG_MS = 80;
const SEQ = 2 ** 16;
const TS = 2 ** 32;

/** A packet to send on, and whether a sender report for it must go first (its clock is new). */
export interface Passed {
  packet: Buffer;
  newClock: boolean;
}

/** A silent frame, and the time (ms, the caller's clock) its timestamp stands for. */
export interface Filled {
  packet: Buffer;
  at: number;
}

/**
 * Keeps one RTP stream continuous while its sender sends nothing (a paused producer, a muted or
 * vanished publisher): after GAP_FILL_AFTER_MS without a packet, frames of silence follow the last
 * packet on its clock, in real time; when packets come again they go on after the filled ones. So the
 * receiver (FFmpeg) hears one stream that never stops, and a pause costs no restart.
 *
 * The output is one clock: filled frames extend it from the last packet in wall time (as mediasoup's
 * sender reports extrapolate it), and the sender's packets after a fill go on from there at their
 * arrival: a WebRTC sender counts the samples it encodes, so one that captured nothing comes back
 * where it stopped. FFmpeg reads a lone RTP stream by its timestamps alone, so they must not jump;
 * with others it maps them by sender reports, so the caller sends one at every return (`newClock`)
 * and moves mediasoup's by `timestampShift`. Sequence numbers are renumbered after each fill. Pure:
 * the caller sends what it returns.
 */
export class RtpGapFiller {
  /** The last packet handed on (sent or filled): output seq, timestamp, and the time it stands for. */
  private last?: { seq: number; ts: number; at: number };
  /** The last packet handed on was filled. */
  private filling = false;
  /** Added to every sender packet's sequence number and timestamp. */
  private seqShift = 0;
  private tsShift = 0;
  private startedAt?: number;
  /** The newest timestamp of the sender's own packets. */
  private lastSent?: number;
  /** Sender packets dropped because their time was filled already. */
  overlapped = 0;

  constructor(
    private readonly ssrc: number,
    private readonly fill: GapFill,
  ) {}

  /** Whether the stream is being filled now (the sender's last packet is more than a gap ago). */
  get isFilling(): boolean {
    return this.filling;
  }

  /** Added to the sender's timestamps (its sender reports must be moved as much). */
  get timestampShift(): number {
    return this.tsShift;
  }

  /**
   * A packet of the sender's, rewritten in place; undefined for a straggler from before a filled gap
   * (its time is filled already).
   */
  onPacket(packet: Buffer, now: number): Passed | undefined {
    const seq = packet.readUInt16BE(2);
    const ts = packet.readUInt32BE(4);
    let newClock = false;
    if (this.filling && this.last) {
      if (this.lastSent !== undefined && signed32(ts - this.lastSent) <= 0) {
        this.overlapped++;
        return undefined;
      }
      // The sender's clock need not have run meanwhile (a WebRTC sender counts the samples it
      // encodes: one that captured nothing comes back where it stopped), so its packets go on from
      // the filled clock at their arrival. A sender report of now against this packet goes first.
      const elapsed = Math.max(this.fill.ticks, Math.round(((now - this.last.at) * this.fill.ticks) / this.fill.ms));
      this.tsShift = (this.last.ts + elapsed - ts + TS) % TS;
      this.seqShift = (this.last.seq + 1 - seq + SEQ) % SEQ;
      this.filling = false;
      newClock = true;
    }
    const outSeq = (seq + this.seqShift) % SEQ;
    const outTs = (ts + this.tsShift) % TS;
    packet.writeUInt16BE(outSeq, 2);
    packet.writeUInt32BE(outTs, 4);
    if (this.lastSent === undefined || signed32(ts - this.lastSent) > 0) this.lastSent = ts;
    if (!this.last || newClock || signed16(outSeq - this.last.seq) > 0) this.last = { seq: outSeq, ts: outTs, at: now };
    return { packet, newClock };
  }

  /**
   * The silent frames due by `now` once nothing came for GAP_FILL_AFTER_MS (since the last packet,
   * or since the first call when none came yet: then the filled clock starts at 0).
   */
  due(now: number): Filled[] {
    if (!this.last) {
      this.startedAt ??= now;
      if (now - this.startedAt < GAP_FILL_AFTER_MS) return [];
      this.last = { seq: 0, ts: 0, at: now - FILL_LAG_MS - this.fill.ms };
      this.filling = true;
    }
    if (!this.filling && now - this.last.at < GAP_FILL_AFTER_MS) return [];
    this.filling = true;
    const frames: Filled[] = [];
    // Bounded: a clock that jumps (a suspended host) must not flood the receiver.
    let last = this.last;
    while (last.at + this.fill.ms <= now - FILL_LAG_MS && frames.length < 100) {
      last = { seq: (last.seq + 1) % SEQ, ts: (last.ts + this.fill.ticks) % TS, at: last.at + this.fill.ms };
      frames.push({ packet: this.frame(last.seq, last.ts), at: last.at });
    }
    this.last = last;
    return frames;
  }

  private frame(seq: number, ts: number): Buffer {
    const header = Buffer.alloc(12);
    header[0] = 0x80;
    header[1] = this.fill.payloadType & 0x7f;
    header.writeUInt16BE(seq, 2);
    header.writeUInt32BE(ts, 4);
    header.writeUInt32BE(this.ssrc >>> 0, 8);
    return Buffer.concat([header, this.fill.payload]);
  }
}

/** n as a signed 32-bit difference. */
const signed32 = (n: number) => (((n % TS) + TS) % TS) | 0;
const signed16 = (n: number) => {
  const v = ((n % SEQ) + SEQ) % SEQ;
  return v >= SEQ / 2 ? v - SEQ : v;
};
