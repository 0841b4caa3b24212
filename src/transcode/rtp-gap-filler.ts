import { h264PayloadPictureSize, isH264KeyframeStart, packetizeH264 } from '../media/h264-rtp';
import type { PictureSize } from '../media/picture-size';
import { isVp8KeyframeStart, packetizeVp8, vp8KeyframeSize } from '../media/vp8';

/** What a gap is filled with: one codec frame, repeated. */
export interface GapFill {
  payloadType: number;
  /** A frame's duration, in RTP clock ticks and in ms. */
  ticks: number;
  ms: number;
  /** The payloads of one frame, a packet each (the last gets the marker bit); undefined while there is nothing to fill with yet. */
  frame(): Buffer[] | undefined;
  /** Whether frame() has something now. */
  canFill(): boolean;
  /** Whether the sender's media may go on from this payload after a fill (video: only from a keyframe); any when absent. */
  resumesAt?(payload: Buffer): boolean;
  /** Sees the payload of every packet of the sender's. */
  observe?(payload: Buffer): void;
  /** Video: the last packet of each frame carries the marker bit (RFC 7741 4.1); audio sets none. */
  marksFrameEnd?: boolean;
}

/**
 * Opus silence: a CELT-only full-band 20 ms mono frame (TOC 0xF8) of digital silence (0xFF 0xFE), as
 * libopus encodes it; decoders upmix it to the stream's channel count. 960 ticks of the 48 kHz clock.
 */
export const OPUS_SILENCE = Buffer.from([0xf8, 0xff, 0xfe]);

export function opusSilence(payloadType: number): GapFill {
  return { payloadType, ticks: 960, ms: 20, frame: () => [OPUS_SILENCE], canFill: () => true };
}

/** Where filler keyframes come from (FillPictures): a set per picture size, once made. */
export interface KeyframeSource {
  keyframes(size: PictureSize): Buffer[] | undefined;
}

/** What a video stream fills its gaps with: keyframes of the filler picture, at the stream's size. */
export interface VideoFillOptions {
  /** The filler keyframes of each codec that is filled (the codecs absent are not). */
  keyframes: { vp8?: KeyframeSource; h264?: KeyframeSource };
  /** The stream's picture size as last seen, before the sender has sent a keyframe (undefined: none yet). */
  size: () => PictureSize | undefined;
}

/** Filled video runs at 10 fps: enough for a still picture, cheap for whatever reads it. */
export const VIDEO_FILL_MS = 100;

/** What the filler needs to know of a video codec's RTP payload format. */
export interface PictureRtp {
  /** The picture size a payload states (a keyframe's first packet, an SPS), if it states one. */
  sizeOf(payload: Buffer): PictureSize | undefined;
  /** Whether a payload is the first of a keyframe. */
  isKeyframeStart(payload: Buffer): boolean;
  /** The payloads of one frame of ours. */
  packetize(frame: Buffer): Buffer[];
}

const VP8_RTP: PictureRtp = { sizeOf: vp8KeyframeSize, isKeyframeStart: isVp8KeyframeStart, packetize: (frame) => packetizeVp8(frame) };
const H264_RTP: PictureRtp = {
  sizeOf: h264PayloadPictureSize,
  isKeyframeStart: isH264KeyframeStart,
  packetize: (frame) => packetizeH264(frame),
};

/**
 * Video filler: keyframes of the filler picture, at the size of the sender's last keyframe (the
 * decoder's and encoder's size stay as they were), one every 100 ms, in turn when there are several.
 * Every one a keyframe, so what the decoder had before does not matter; after a fill the sender's
 * media goes on from its next keyframe.
 */
export class PictureGapFill implements GapFill {
  readonly ticks = (90_000 * VIDEO_FILL_MS) / 1000;
  readonly ms = VIDEO_FILL_MS;
  readonly marksFrameEnd = true;
  private seen?: PictureSize;
  private packets?: { keyframes: Buffer[]; payloads: Buffer[][] };
  private next = 0;

  constructor(
    readonly payloadType: number,
    private readonly rtp: PictureRtp,
    private readonly keyframes: KeyframeSource,
    /** The size to fill at before the sender has sent a keyframe (the stream's last known). */
    private readonly fallbackSize: () => PictureSize | undefined,
  ) {}

  observe(payload: Buffer): void {
    const size = this.rtp.sizeOf(payload);
    if (!size) return;
    this.seen = size;
    this.keyframes.keyframes(size); // made now, so they are there when a gap comes
  }

  canFill(): boolean {
    return !!this.current();
  }

  frame(): Buffer[] | undefined {
    const keyframes = this.current();
    if (!keyframes) return undefined;
    if (this.packets?.keyframes !== keyframes) this.packets = { keyframes, payloads: keyframes.map((k) => this.rtp.packetize(k)) };
    return this.packets.payloads[this.next++ % keyframes.length];
  }

  resumesAt(payload: Buffer): boolean {
    return this.rtp.isKeyframeStart(payload);
  }

  private current(): Buffer[] | undefined {
    const size = this.seen ?? this.fallbackSize();
    return size && this.keyframes.keyframes(size);
  }
}

/**
 * How gaps in a codec's RTP are filled, or undefined when they are not: Opus with silence, VP8 and
 * H264 (when given where their keyframes come from) with a filler picture.
 */
export function gapFillFor(codec: { mimeType: string; payloadType: number }, video?: VideoFillOptions): GapFill | undefined {
  const mime = codec.mimeType.toLowerCase();
  if (mime === 'audio/opus') return opusSilence(codec.payloadType);
  if (mime === 'video/vp8' && video?.keyframes.vp8) return new PictureGapFill(codec.payloadType, VP8_RTP, video.keyframes.vp8, video.size);
  if (mime === 'video/h264' && video?.keyframes.h264)
    return new PictureGapFill(codec.payloadType, H264_RTP, video.keyframes.h264, video.size);
  return undefined;
}

/** No packet for this long, and the gap is filled from where the last one was (unless the fill says otherwise). */
export const GAP_FILL_AFTER_MS = 300;
/**
 * Video waits longer before it fills: a sender that stalls a moment (a starved encoder, a burst of
 * loss) comes back on its own, while after a fill its picture returns only with its next keyframe
 * (a whole GOP for one that ignores requests). A pause does not wait (see senderPaused).
 */
export const VIDEO_GAP_FILL_AFTER_MS = 1000;
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

interface Position {
  seq: number;
  ts: number;
  at: number;
}

/**
 * Keeps one RTP stream continuous while its sender sends nothing (a paused producer, a muted or
 * vanished publisher): after GAP_FILL_AFTER_MS without a packet (video: VIDEO_GAP_FILL_AFTER_MS; a
 * paused producer: at once), frames of silence follow the last packet on its clock, in real time;
 * when packets come again they go on after the filled ones. So the receiver (FFmpeg) hears one
 * stream that never stops, and a pause costs no restart.
 *
 * The output is one clock: filled frames extend it from the last packet in wall time (as mediasoup's
 * sender reports extrapolate it), and the sender's packets after a fill go on from there at their
 * arrival: a WebRTC sender counts the samples it encodes, so one that captured nothing comes back
 * where it stopped. FFmpeg reads a lone RTP stream by its timestamps alone, so they must not jump;
 * with others it maps them by sender reports, so the caller sends one at every return (`newClock`)
 * and moves mediasoup's by `timestampShift`. Sequence numbers are renumbered after each fill.
 *
 * Video is handed on a whole frame at a time (at its marker bit, or when the next frame starts): a
 * fill that begins while a frame is incomplete drops it rather than pass on a frame cut short, which
 * a decoder refuses (Chromium's, fatally for the player). After a fill video goes on only from the
 * sender's next keyframe (the decoder holds the filler's picture, not the sender's last): packets
 * before it are held back and `onKeyframeWanted` asks for one. Pure: the caller sends what it returns.
 */
export class RtpGapFiller {
  /** The last packet handed on (sent or filled): output seq, timestamp, and the time it stands for. */
  private last?: Position;
  /** When the sender's last packet came (handed on or not). */
  private arrivedAt?: number;
  /** Video: the packets of the sender's frame being received, rewritten, until it is complete. */
  private frame?: { ts: number; packets: Array<Passed & Position> };
  /** The last packet handed on was filled. */
  private filling = false;
  /** The producer is paused: fill at once, not after a gap. */
  private paused = false;
  /** Added to every sender packet's sequence number and timestamp. */
  private seqShift = 0;
  private tsShift = 0;
  private startedAt?: number;
  /** How long a run waits for the sender's first packet before filling from the start. */
  private startAfterMs: number;
  /** The newest timestamp of the sender's own packets. */
  private lastSent?: number;
  /** Sender packets dropped because their time was filled already. */
  overlapped = 0;
  /** Sender packets held back after a fill until the sender's keyframe. */
  heldForKeyframe = 0;
  /** Sender packets of a frame a fill cut short, dropped. */
  cutShort = 0;

  constructor(
    private readonly ssrc: number,
    private readonly fill: GapFill,
    private readonly onKeyframeWanted: () => void = () => undefined,
  ) {
    this.startAfterMs = this.gapMs;
  }

  /** Whether the stream is being filled now (the sender's last packet is more than a gap ago). */
  get isFilling(): boolean {
    return this.filling;
  }

  /** Added to the sender's timestamps (its sender reports must be moved as much). */
  get timestampShift(): number {
    return this.tsShift;
  }

  private get gapMs(): number {
    return this.fill.marksFrameEnd ? VIDEO_GAP_FILL_AFTER_MS : GAP_FILL_AFTER_MS;
  }

  /**
   * The producer was paused: nothing more comes until it resumes, so the fill starts at once (a
   * frame still incomplete is dropped). Its next packet ends it, as after any gap.
   */
  senderPaused(): void {
    this.paused = true;
  }

  /**
   * A packet of the sender's, rewritten in place, and what it completes: nothing for a straggler from
   * before a filled gap (its time is filled already) or a video packet whose frame is not complete
   * yet; a whole frame at its last packet.
   */
  onPacket(packet: Buffer, now: number): Passed[] {
    this.arrivedAt = now;
    this.paused = false;
    const seq = packet.readUInt16BE(2);
    const ts = packet.readUInt32BE(4);
    const payload = this.fill.observe || this.fill.resumesAt ? rtpPayload(packet) : undefined;
    if (payload) this.fill.observe?.(payload);
    let newClock = false;
    if (this.filling && this.last) {
      if (this.lastSent !== undefined && signed32(ts - this.lastSent) <= 0) {
        this.overlapped++;
        return [];
      }
      if (this.fill.resumesAt && !(payload && this.fill.resumesAt(payload))) {
        this.heldForKeyframe++;
        this.onKeyframeWanted();
        return [];
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
    const passed = { packet, newClock, seq: outSeq, ts: outTs, at: now };
    if (!this.fill.marksFrameEnd) return this.handOn([passed]);
    // Video: a packet of a new timestamp ends the frame before it, even without its marker (lost).
    const out: Array<Passed & Position> = [];
    if (this.frame && this.frame.ts !== outTs) out.push(...this.frame.packets.splice(0));
    if (!this.frame || this.frame.ts !== outTs) this.frame = { ts: outTs, packets: [] };
    this.frame.packets.push(passed);
    if (packet[1] & 0x80) {
      out.push(...this.frame.packets);
      this.frame = undefined;
    }
    return this.handOn(out);
  }

  /**
   * How long to wait for the sender's first packet before filling from the start (the fill's gap
   * unless set): longer for a live camera, whose first keyframe comes a PLI's round trip after the
   * run starts, so a restart does not flash the filler picture.
   */
  waitForFirstPacket(ms: number): void {
    this.startAfterMs = ms;
  }

  /**
   * The filled frames' packets due by `now` once nothing came for the fill's gap (since the last
   * packet, or since the first call when none came yet: then the filled clock starts at 0), or at once
   * while the producer is paused.
   */
  due(now: number): Filled[] {
    let last: Position | undefined = this.last;
    if (!this.filling || !last) {
      const since = this.arrivedAt ?? (this.startedAt ??= now);
      const wait = this.paused ? 0 : this.arrivedAt !== undefined ? this.gapMs : this.startAfterMs;
      // Not yet a gap, or nothing to fill it with yet (a filler picture still being made).
      if (now - since < wait || !this.fill.canFill()) return [];
      if (this.frame) {
        // A frame the fill cuts short: dropped, and the filled clock goes on from the last one handed on.
        this.cutShort += this.frame.packets.length;
        this.frame = undefined;
      }
      last = this.last ?? { seq: 0, ts: 0, at: now - FILL_LAG_MS - this.fill.ms };
      this.filling = true;
    }
    const packets: Filled[] = [];
    // Bounded: a clock that jumps (a suspended host) must not flood the receiver.
    for (let frames = 0; last.at + this.fill.ms <= now - FILL_LAG_MS && frames < 100; frames++) {
      const payloads = this.fill.frame();
      if (!payloads) break;
      const ts: number = (last.ts + this.fill.ticks) % TS;
      const at: number = last.at + this.fill.ms;
      let seq: number = last.seq;
      for (const [i, payload] of payloads.entries()) {
        seq = (seq + 1) % SEQ;
        packets.push({ packet: this.packet(seq, ts, payload, !!this.fill.marksFrameEnd && i === payloads.length - 1), at });
      }
      last = { seq, ts, at };
    }
    this.last = last;
    return packets;
  }

  /** The sender's packets handed on: the last of them is where a fill would go on from. */
  private handOn(packets: Array<Passed & Position>): Passed[] {
    for (const p of packets) {
      if (!this.last || p.newClock || signed16(p.seq - this.last.seq) > 0) this.last = { seq: p.seq, ts: p.ts, at: p.at };
    }
    return packets.map(({ packet, newClock }) => ({ packet, newClock }));
  }

  private packet(seq: number, ts: number, payload: Buffer, marker: boolean): Buffer {
    const header = Buffer.alloc(12);
    header[0] = 0x80;
    header[1] = (marker ? 0x80 : 0) | (this.fill.payloadType & 0x7f);
    header.writeUInt16BE(seq, 2);
    header.writeUInt32BE(ts, 4);
    header.writeUInt32BE(this.ssrc >>> 0, 8);
    return Buffer.concat([header, payload]);
  }
}

/** An RTP packet's payload: after the CSRCs and the header extension (RFC 3550 5.1, 5.3.1), before any padding. */
export function rtpPayload(packet: Buffer): Buffer | undefined {
  let at = 12 + (packet[0] & 0x0f) * 4;
  if (packet[0] & 0x10) {
    if (packet.length < at + 4) return undefined;
    at += 4 + packet.readUInt16BE(at + 2) * 4;
  }
  let end = packet.length;
  if (packet[0] & 0x20 && end > at) end -= packet[end - 1];
  return end >= at ? packet.subarray(at, end) : undefined;
}

/** n as a signed 32-bit difference. */
const signed32 = (n: number) => (((n % TS) + TS) % TS) | 0;
const signed16 = (n: number) => {
  const v = ((n % SEQ) + SEQ) % SEQ;
  return v >= SEQ / 2 ? v - SEQ : v;
};
