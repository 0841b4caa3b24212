import { createSocket, Socket } from 'node:dgram';

/** How long after forwarding a stream's first sender report its RTP starts to flow. */
const SR_SETTLE_MS = 50;

export interface DemuxRoute {
  ssrc: number;
  /** Where this stream's RTP and RTCP go (FFmpeg's ports for one layer). */
  rtpPort: number;
  rtcpPort: number;
}

/**
 * Splits RTP and RTCP that arrive on one pair of sockets by SSRC, forwarding each stream to its own
 * pair of ports. mediasoup's pipe consumer sends every simulcast layer with its own SSRC on one
 * transport; FFmpeg cannot split several SSRCs arriving on one port, so each layer gets its own
 * m-line and ports, fed from here. Packets of SSRCs without a route (RTX, probation) are dropped.
 *
 * A stream's RTP is held back until its first RTCP sender report has gone through: each layer has
 * its own RTP timestamp base, and FFmpeg puts streams on one timeline from their sender reports. A
 * stream whose packets came before its first report would jump when it arrived (measured: hours).
 */
export class RtpDemuxer {
  private readonly routes = new Map<number, DemuxRoute>();
  /** When each SSRC's RTP may flow: a moment after its first sender report was forwarded. */
  private readonly syncedAt = new Map<number, number>();
  private rtp?: Socket;
  private rtcp?: Socket;
  private closed = false;
  /** Packets forwarded and dropped (no route), for the metrics and tests. */
  forwarded = 0;
  dropped = 0;

  constructor(
    routes: DemuxRoute[],
    private readonly host = '127.0.0.1',
  ) {
    for (const route of routes) this.routes.set(route.ssrc, route);
  }

  /** Binds both sockets on free ports; resolves with them (the plain transport connects to these). */
  async open(): Promise<{ rtpPort: number; rtcpPort: number }> {
    this.rtp = await bind(this.host, (packet) => this.onRtp(packet));
    this.rtcp = await bind(this.host, (packet) => this.onRtcp(packet));
    return { rtpPort: this.rtp.address().port, rtcpPort: this.rtcp.address().port };
  }

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.rtp?.close();
    this.rtcp?.close();
  }

  private onRtp(packet: Buffer): void {
    // RTP: SSRC at bytes 8–11 (RFC 3550 5.1).
    if (packet.length < 12 || packet[0] >> 6 !== 2) return this.drop();
    const ssrc = packet.readUInt32BE(8);
    const route = this.routes.get(ssrc);
    const from = this.syncedAt.get(ssrc);
    if (!route || from === undefined || Date.now() < from) return this.drop();
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
      byStream.set(ssrc, [...(byStream.get(ssrc) ?? []), packet]);
    }
    if (byStream.size === 0) return this.drop();
    for (const [ssrc, packets] of byStream) {
      this.rtcp!.send(Buffer.concat(packets), this.routes.get(ssrc)!.rtcpPort, this.host);
      // Packet type 200 is a sender report. FFmpeg polls its RTP socket before its RTCP one, so RTP
      // flows only once it has surely read the report (it reads both in a tight loop).
      if (packets.some((p) => p[1] === 200) && !this.syncedAt.has(ssrc)) this.syncedAt.set(ssrc, Date.now() + SR_SETTLE_MS);
    }
  }

  private drop(): void {
    this.dropped++;
  }
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
