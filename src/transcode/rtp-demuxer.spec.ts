import { createSocket, Socket } from 'node:dgram';
import { RtpDemuxer, senderReport, splitRtcp } from './rtp-demuxer';
import { gapFillFor } from './rtp-gap-filler';

const rtp = (ssrc: number, seq: number, timestamp = 0) => {
  const packet = Buffer.alloc(20);
  packet[0] = 0x80;
  packet[1] = 96;
  packet.writeUInt16BE(seq, 2);
  packet.writeUInt32BE(timestamp, 4);
  packet.writeUInt32BE(ssrc, 8);
  return packet;
};
/** A sender report (PT 200) or SDES (PT 202) of `ssrc`, `words` 32-bit words long after the header. */
const rtcp = (type: number, ssrc: number, words = 6) => {
  const packet = Buffer.alloc(4 + words * 4);
  packet[0] = 0x80;
  packet[1] = type;
  packet.writeUInt16BE(words, 2);
  packet.writeUInt32BE(ssrc, 4);
  return packet;
};

async function listener(): Promise<{ socket: Socket; port: number; got: Buffer[] }> {
  const socket = createSocket('udp4');
  const got: Buffer[] = [];
  socket.on('message', (m) => got.push(m));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { socket, port: socket.address().port, got };
}

const until = async (probe: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe('splitRtcp', () => {
  it('splits a compound packet into its packets and stops at garbage', () => {
    const compound = Buffer.concat([rtcp(200, 1), rtcp(202, 1, 3), rtcp(200, 2)]);
    expect(splitRtcp(compound).map((p) => [p[1], p.readUInt32BE(4), p.length])).toEqual([
      [200, 1, 28],
      [202, 1, 16],
      [200, 2, 28],
    ]);
    expect(splitRtcp(Buffer.concat([rtcp(200, 1), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9])]))).toHaveLength(1);
    expect(splitRtcp(Buffer.alloc(3))).toEqual([]);
  });
});

describe('senderReport', () => {
  it("writes an RFC 3550 sender report with mediasoup's millisecond NTP and the packet's timestamp", () => {
    const report = senderReport(0xdeadbeef, 12_345_678.5, 0xfffffff0, 7, 700);
    expect(splitRtcp(report)).toHaveLength(1);
    expect([report[0], report[1], report.readUInt16BE(2), report.readUInt32BE(4)]).toEqual([0x80, 200, 6, 0xdeadbeef]);
    expect(report.readUInt32BE(8)).toBe(12_345);
    expect(report.readUInt32BE(12) / 2 ** 32).toBeCloseTo(0.6785, 6);
    expect([report.readUInt32BE(16), report.readUInt32BE(20), report.readUInt32BE(24)]).toEqual([0xfffffff0, 7, 700]);
  });
});

describe('RtpDemuxer', () => {
  it("routes each SSRC to its own ports, each stream's first packet after a restart behind a sender report of its own", async () => {
    const [a, aRtcp, b, bRtcp] = await Promise.all([listener(), listener(), listener(), listener()]);
    let now = 5_000;
    const demuxer = new RtpDemuxer(
      [
        { ssrc: 1, rtpPort: a.port, rtcpPort: aRtcp.port },
        { ssrc: 2, rtpPort: b.port, rtcpPort: bRtcp.port },
      ],
      '127.0.0.1',
      () => now,
    );
    const sender = createSocket('udp4');
    try {
      const { rtpPort, rtcpPort } = await demuxer.open();
      const send = (packet: Buffer, port: number) => new Promise((resolve) => sender.send(packet, port, '127.0.0.1', resolve));
      await send(rtp(1, 1, 90_000), rtpPort);
      await until(() => a.got.length === 2);
      // The report first, on the RTP port (FFmpeg reads one socket in order): now against the packet's timestamp.
      expect([a.got[0][1], a.got[0].readUInt32BE(4), a.got[0].readUInt32BE(8), a.got[0].readUInt32BE(16)]).toEqual([200, 1, 5, 90_000]);
      expect([a.got[1][1] & 0x7f, a.got[1].readUInt16BE(2)]).toEqual([96, 1]);
      await send(rtp(1, 2, 93_000), rtpPort);
      await send(rtp(2, 1, 7), rtpPort);
      await until(() => a.got.length === 3 && b.got.length === 2);
      expect(a.got[2][1]).toBe(96); // no second report for a stream that has had one
      expect([b.got[0][1], b.got[0].readUInt32BE(4), b.got[0].readUInt32BE(16)]).toEqual([200, 2, 7]);
      // A new FFmpeg run: each stream's next packet has a report again, counting what went before.
      now = 6_250;
      demuxer.restart();
      await send(rtp(1, 3, 96_000), rtpPort);
      await until(() => a.got.length === 5);
      expect([a.got[3][1], a.got[3].readUInt32BE(8), a.got[3].readUInt32BE(16), a.got[3].readUInt32BE(20)]).toEqual([200, 6, 96_000, 2]);
      expect(a.got[3].readUInt32BE(12) / 2 ** 32).toBeCloseTo(0.25, 6);
      // mediasoup's compound for both streams: each stream gets its own part, on its RTCP port.
      await send(Buffer.concat([rtcp(200, 1), rtcp(202, 1, 3), rtcp(200, 2), rtcp(200, 99)]), rtcpPort);
      await until(() => aRtcp.got.length === 1 && bRtcp.got.length === 1);
      expect(aRtcp.got[0].length).toBe(28 + 16);
      expect(bRtcp.got[0].readUInt32BE(4)).toBe(2);
      expect(a.got.every((p) => p.readUInt32BE(p[1] === 200 ? 4 : 8) === 1)).toBe(true);
      const dropped = demuxer.dropped;
      await send(rtp(77, 1, 0), rtpPort);
      await send(Buffer.from([1, 2, 3]), rtpPort);
      await until(() => demuxer.dropped === dropped + 2);
      expect(demuxer.forwarded).toBe(4);
    } finally {
      sender.close();
      demuxer.close();
      demuxer.close();
      for (const l of [a, aRtcp, b, bRtcp]) l.socket.close();
    }
  });

  it('places a stream mediasoup has reported before behind its last report after a restart, not behind the time Node read the packet', async () => {
    const [a, aRtcp] = await Promise.all([listener(), listener()]);
    let now = 5_000;
    const demuxer = new RtpDemuxer([{ ssrc: 1, rtpPort: a.port, rtcpPort: aRtcp.port }], '127.0.0.1', () => now);
    const sender = createSocket('udp4');
    try {
      const ports = await demuxer.open();
      // mediasoup's report: 5.1 s on its clock is timestamp 99_000.
      const sr = senderReport(1, 5_100, 99_000, 1, 8);
      await new Promise((resolve) => sender.send(sr, ports.rtcpPort, '127.0.0.1', resolve));
      await until(() => aRtcp.got.length === 1);
      // A restart, its first packet read 400 ms late (a busy event loop): the report placed is mediasoup's mapping.
      now = 6_900;
      demuxer.restart();
      await new Promise((resolve) => sender.send(rtp(1, 2, 144_000), ports.rtpPort, '127.0.0.1', resolve));
      await until(() => a.got.length === 2);
      const placed = a.got[0];
      expect([placed[1], placed.readUInt32BE(4), placed.readUInt32BE(8), placed.readUInt32BE(12), placed.readUInt32BE(16)]).toEqual([
        200,
        1,
        sr.readUInt32BE(8),
        sr.readUInt32BE(12),
        99_000,
      ]);
      expect(placed.readUInt32BE(20)).toBe(0); // no packet sent before it
      expect(a.got[1][1]).toBe(96);
    } finally {
      sender.close();
      demuxer.close();
      for (const l of [a, aRtcp]) l.socket.close();
    }
  });

  it("fills a route's gaps with silence while FFmpeg listens (between restart and halt), behind a report of the first frame's time", async () => {
    const out = await listener();
    let now = 1_000;
    const demuxer = new RtpDemuxer(
      [{ ssrc: 9, rtpPort: out.port, rtcpPort: out.port, fill: gapFillFor({ mimeType: 'audio/opus', payloadType: 111 }) }],
      '127.0.0.1',
      () => now,
    );
    try {
      await demuxer.open();
      now = 5_000;
      demuxer.restart();
      // Nothing came: the filled clock starts at the first look, and the first frame is due 300 ms on.
      await new Promise((resolve) => setTimeout(resolve, 60));
      expect(out.got).toHaveLength(0);
      now = 5_400;
      await until(() => out.got.length >= 2);
      now = 5_500;
      await until(() => out.got.length >= 7);
      const [report, ...frames] = out.got;
      expect([report[1], report.readUInt32BE(4), report.readUInt32BE(8), report.readUInt32BE(16)]).toEqual([200, 9, 5, 960]);
      expect(report.readUInt32BE(12) / 2 ** 32).toBeCloseTo(0.32, 6);
      expect(frames.map((f) => [f[1] & 0x7f, f.readUInt32BE(8), f.length])).toEqual(frames.map(() => [111, 9, 15]));
      expect(frames.map((f) => f.readUInt16BE(2))).toEqual(frames.map((_, i) => i + 1));
      expect(demuxer.filled.packets).toBe(frames.length);
      demuxer.halt();
      const sent = out.got.length;
      now = 9_000;
      await new Promise((resolve) => setTimeout(resolve, 100)); // five ticks' time: none may fill now
      expect(out.got.length).toBe(sent);
    } finally {
      demuxer.close();
      out.socket.close();
    }
  });

  it("places a sender that returns after a fill behind a report of its own, and moves mediasoup's reports onto the filled clock", async () => {
    const [out, outRtcp] = await Promise.all([listener(), listener()]);
    let now = 1_000;
    const fill = gapFillFor({ mimeType: 'audio/opus', payloadType: 111 });
    const demuxer = new RtpDemuxer([{ ssrc: 9, rtpPort: out.port, rtcpPort: outRtcp.port, fill }], '127.0.0.1', () => now);
    const sender = createSocket('udp4');
    const send = (packet: Buffer, port: number) => new Promise((resolve) => sender.send(packet, port, '127.0.0.1', resolve));
    const report = (ts: number) => {
      const sr = rtcp(200, 9);
      sr.writeUInt32BE(ts, 16);
      return sr;
    };
    try {
      const { rtpPort, rtcpPort } = await demuxer.open();
      demuxer.restart();
      await send(rtp(9, 10, 48_000), rtpPort);
      await until(() => out.got.length === 2); // a report, then the packet
      now = 1_400; // filled from 1020 to 1320
      await until(() => out.got.length === 2 + 16);
      const lastFilled = out.got.at(-1)!;
      expect([lastFilled.readUInt16BE(2), lastFilled.readUInt32BE(4)]).toEqual([26, 48_000 + 16 * 960]);
      // mediasoup's report while filling: held back (it only extrapolates the last packet; the last
      // assertion sees that it never reached FFmpeg).
      await send(report(60_000), rtcpPort);
      // The sender returns where its clock stopped: a report first, then its packet on the filled clock.
      await send(rtp(9, 11, 48_960), rtpPort);
      await until(() => out.got.length === 2 + 16 + 2);
      const [placed, back] = out.got.slice(-2);
      const onFilled = 48_000 + 16 * 960 + 80 * 48;
      expect([placed[1], placed.readUInt32BE(16), placed.readUInt32BE(8)]).toEqual([200, onFilled, 1]);
      expect([back.readUInt16BE(2), back.readUInt32BE(4)]).toEqual([27, onFilled]);
      // mediasoup's next report names the sender's clock: it reaches FFmpeg on the filled one.
      await send(report(50_000), rtcpPort);
      await until(() => outRtcp.got.length === 1);
      expect(outRtcp.got[0].readUInt32BE(16)).toBe(50_000 + onFilled - 48_960);
    } finally {
      sender.close();
      demuxer.close();
      out.socket.close();
      outRtcp.socket.close();
    }
  });
});
