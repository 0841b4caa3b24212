import { createSocket, Socket } from 'node:dgram';
import { GapFill, RtpGapFiller } from './rtp-gap-filler';

export interface DemuxRoute {
  ssrc: number;
  /** Where this stream's RTP and RTCP go (FFmpeg's ports for one stream). */
  rtpPort: number;
  rtcpPort: number;
  /** Keep the stream going with this while its sender sends nothing (see RtpGapFiller). */
  fill?: GapFill;
  /** After a fill, video waits for the sender's keyframe: this asks for one. */
  onKeyframeWanted?: () => void;
}

/** How often gaps are looked for and filled: one audio frame. */
const FILL_TICK_MS = 20;

/**
 * Passes a consumer's RTP and RTCP on to FFmpeg through Node, split by SSRC: each stream to its own
 * pair of ports. mediasoup's pipe consumer sends every simulcast layer with its own SSRC on one
 * transport, and FFmpeg cannot split several SSRCs arriving on one port; a plain consumer has one
 * stream. Packets of SSRCs without a route (RTX, probation) are dropped.
 *
 * FFmpeg puts the streams of one SDP on one timeline from their RTCP sender reports, and times a
 * stream's packets that come before its first report from that stream's own first packet: when the
 * report comes, the stream jumps (measured: a camera's first 1.3 s after a resume 0.41 s early, so
 * its first flash 0.41 s off its beep; a simulcast layer, hours). mediasoup sends its first report up
 * to a second after a consumer resumes. So the first packet of each stream after `restart()` goes
 * out behind a sender report made here by mediasoup's own rule (the time a packet is forwarded,
 * on mediasoup's clock, against its RTP timestamp), on the RTP port, which FFmpeg reads in order
 * (rtpdec parses RTCP that comes on the RTP socket). mediasoup's reports then follow as they come.
 * Where mediasoup has reported the stream before (a restart under a flowing stream, a resume), the
 * report placed is its last one: its own mapping, exact, where one made from the time Node reads the
 * packet is late by any stall of the event loop (measured: a resumed run's first flash 309 ms off its
 * beep, on a busy host, until mediasoup's next report moved the stream).
 *
 * A route with `fill` never stops while FFmpeg listens: its gaps are filled (silence, a filler picture).
 */
export class RtpDemuxer {
  private readonly routes = new Map<number, DemuxRoute>();
  /** Streams that have had a sender report since the last restart: their RTP flows as it comes. */
  private readonly reported = new Set<number>();
  /** mediasoup's last sender report of each stream (as forwarded, on the filled clock where filled). */
  private readonly mappings = new Map<number, Buffer>();
  /** RTP packets and octets forwarded per stream, for the reports' sender counts. */
  private readonly sent = new Map<number, { packets: number; octets: number }>();
  private readonly fillers = new Map<number, RtpGapFiller>();
  private fillTimer?: NodeJS.Timeout;
  private rtp?: Socket;
  private rtcp?: Socket;
  private closed = false;
  /** Packets forwarded and dropped (no route), for the metrics and tests. */
  forwarded = 0;
  dropped = 0;

  constructor(
    routes: DemuxRoute[],
    private readonly host = '127.0.0.1',
    /** mediasoup's clock: its worker times reports with uv_hrtime in ms, as Node's hrtime does. */
    private readonly nowMs: () => number = () => Number(process.hrtime.bigint() / 1_000_000n),
  ) {
    for (const route of routes) {
      this.routes.set(route.ssrc, route);
      this.sent.set(route.ssrc, { packets: 0, octets: 0 });
      if (route.fill) this.fillers.set(route.ssrc, new RtpGapFiller(route.ssrc, route.fill, route.onKeyframeWanted));
    }
  }

  /** Filled packets sent so far, and sender packets dropped because their time was filled already. */
  get filled(): { packets: number; overlapped: number } {
    return { packets: this.fillPackets, overlapped: [...this.fillers.values()].reduce((n, f) => n + f.overlapped, 0) };
  }

  private fillPackets = 0;

  /** Binds both sockets on free ports; resolves with them (the plain transport connects to these). */
  async open(): Promise<{ rtpPort: number; rtcpPort: number }> {
    this.rtp = await bind(this.host, (packet) => this.onRtp(packet));
    this.rtcp = await bind(this.host, (packet) => this.onRtcp(packet));
    return { rtpPort: this.rtp.address().port, rtcpPort: this.rtcp.address().port };
  }

  /**
   * A new FFmpeg run listens: each stream's next packet goes out behind a sender report. A filled
   * stream fills from the start after `firstPacketWaitMs` without a packet (see RtpGapFiller).
   */
  restart(firstPacketWaitMs?: number): void {
    this.reported.clear();
    if (firstPacketWaitMs !== undefined) for (const filler of this.fillers.values()) filler.waitForFirstPacket(firstPacketWaitMs);
    if (this.fillers.size > 0 && !this.fillTimer && !this.closed) {
      this.fillTimer = setInterval(() => this.fillGaps(), FILL_TICK_MS);
      this.fillTimer.unref();
    }
  }

  /** FFmpeg stops listening: gaps are no longer filled (until the next restart). */
  halt(): void {
    clearInterval(this.fillTimer);
    this.fillTimer = undefined;
  }

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.halt();
    this.rtp?.close();
    this.rtcp?.close();
  }

  private onRtp(packet: Buffer): void {
    // RTP: SSRC at bytes 8–11 (RFC 3550 5.1).
    if (packet.length < 12 || packet[0] >> 6 !== 2) return this.drop();
    const ssrc = packet.readUInt32BE(8);
    const route = this.routes.get(ssrc);
    if (!route) return this.drop();
    const filler = this.fillers.get(ssrc);
    if (!filler) return this.forward(route, packet);
    const now = this.nowMs();
    for (const passed of filler.onPacket(packet, now)) {
      if (passed.newClock) {
        // Timestamps on a new clock: mediasoup's earlier reports no longer map them.
        this.reported.delete(ssrc);
        this.mappings.delete(ssrc);
      }
      this.forward(route, passed.packet, now);
    }
  }

  /** A stream's producer was paused: its gap is filled from now, not after a silence. */
  senderPaused(ssrc: number): void {
    this.fillers.get(ssrc)?.senderPaused();
  }

  private fillGaps(): void {
    const now = this.nowMs();
    for (const [ssrc, filler] of this.fillers) {
      for (const { packet, at } of filler.due(now)) {
        this.fillPackets++;
        this.forward(this.routes.get(ssrc)!, packet, at);
      }
    }
  }

  /**
   * Sends one RTP packet on, behind a sender report if its stream has had none since the restart.
   * `at`: the time its timestamp stands for (the clock is read only when a report is due).
   */
  private forward(route: DemuxRoute, packet: Buffer, at?: number): void {
    const ssrc = route.ssrc;
    const sent = this.sent.get(ssrc)!;
    if (!this.reported.has(ssrc)) {
      this.reported.add(ssrc);
      const known = this.mappings.get(ssrc);
      const report = known
        ? senderReportAt(ssrc, known, sent.packets, sent.octets)
        : senderReport(ssrc, at ?? this.nowMs(), packet.readUInt32BE(4), sent.packets, sent.octets);
      this.rtp!.send(report, route.rtpPort, this.host);
    }
    sent.packets++;
    sent.octets += packet.length - 12;
    this.forwarded++;
    this.rtp!.send(packet, route.rtpPort, this.host);
  }

  /**
   * mediasoup sends one compound RTCP packet per consumer, holding the reports of all its streams:
   * each stream's packets (its SR, its SDES) go to that stream's port as a compound of their own.
   */
  private onRtcp(compound: Buffer): void {
    const byStream = new Map<number, Buffer[]>();
    for (const packet of splitRtcp(compound)) {
      // SR, SDES and BYE name their stream in bytes 4–7 (RFC 3550 6.4, 6.5, 6.6).
      const ssrc = packet.readUInt32BE(4);
      if (!this.routes.has(ssrc)) continue;
      // While a gap is filled, mediasoup's reports extrapolate the sender's last packet, as the filled
      // frames do: nothing to add, and one read late would undo the report placing its return.
      const filler = this.fillers.get(ssrc);
      if (filler?.isFilling) continue;
      // A filled stream's timestamps run on the filled clock: its reports must say the same.
      if (filler && packet[1] === 200 && packet.length >= 20)
        packet.writeUInt32BE((packet.readUInt32BE(16) + filler.timestampShift) % 2 ** 32, 16);
      if (packet[1] === 200 && packet.length >= 28) this.mappings.set(ssrc, Buffer.from(packet.subarray(8, 20)));
      byStream.set(ssrc, [...(byStream.get(ssrc) ?? []), packet]);
    }
    if (byStream.size === 0) return this.drop();
    for (const [ssrc, packets] of byStream) {
      // A report of mediasoup's own does not stand for ours: FFmpeg may read the RTP socket first.
      this.rtcp!.send(Buffer.concat(packets), this.routes.get(ssrc)!.rtcpPort, this.host);
    }
  }

  private drop(): void {
    this.dropped++;
  }
}

/**
 * An RTCP sender report (RFC 3550 6.4.1) with no report blocks: `ntpMs` as mediasoup writes it (whole
 * seconds and the fraction of the millisecond clock, Utils::Time::TimeMs2Ntp).
 */
export function senderReport(ssrc: number, ntpMs: number, rtpTimestamp: number, packets: number, octets: number): Buffer {
  const report = Buffer.alloc(28);
  report[0] = 0x80; // version 2, no padding, no report blocks
  report[1] = 200;
  report.writeUInt16BE(6, 2); // length in 32-bit words minus one
  report.writeUInt32BE(ssrc >>> 0, 4);
  report.writeUInt32BE(Math.floor(ntpMs / 1000) >>> 0, 8);
  report.writeUInt32BE(Math.floor(((ntpMs % 1000) / 1000) * 2 ** 32) >>> 0, 12);
  report.writeUInt32BE(rtpTimestamp >>> 0, 16);
  report.writeUInt32BE(packets >>> 0, 20);
  report.writeUInt32BE(octets >>> 0, 24);
  return report;
}

/** A sender report with the NTP time and RTP timestamp (`mapping`: bytes 8–19) of an earlier one. */
function senderReportAt(ssrc: number, mapping: Buffer, packets: number, octets: number): Buffer {
  const report = senderReport(ssrc, 0, 0, packets, octets);
  mapping.copy(report, 8);
  return report;
}

/** The packets of a compound RTCP packet (each has its length in 32-bit words minus one, RFC 3550 6.4.1). */
export function splitRtcp(compound: Buffer): Buffer[] {
  const packets: Buffer[] = [];
  for (let at = 0; at + 8 <= compound.length;) {
    if (compound[at] >> 6 !== 2) break;
    const length = (compound.readUInt16BE(at + 2) + 1) * 4;
    if (at + length > compound.length) break;
    packets.push(compound.subarray(at, at + length));
    at += length;
  }
  return packets;
}

function bind(host: string, onMessage: (packet: Buffer) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
    socket.once('error', reject);
    socket.on('message', onMessage);
    socket.bind(0, host, () => {
      socket.off('error', reject);
      socket.on('error', () => undefined); // a closed peer port (FFmpeg restarting) must not throw
      resolve(socket);
    });
  });
}
