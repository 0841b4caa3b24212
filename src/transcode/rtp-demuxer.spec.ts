import { createSocket, Socket } from 'node:dgram';
import { RtpDemuxer, splitRtcp } from './rtp-demuxer';

const rtp = (ssrc: number, seq: number) => {
  const packet = Buffer.alloc(20);
  packet[0] = 0x80;
  packet[1] = 96;
  packet.writeUInt16BE(seq, 2);
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

describe('RtpDemuxer', () => {
  it('routes each SSRC to its own ports, each stream only after its first sender report, dropping unknown SSRCs', async () => {
    const [a, aRtcp, b, bRtcp] = await Promise.all([listener(), listener(), listener(), listener()]);
    const demuxer = new RtpDemuxer([
      { ssrc: 1, rtpPort: a.port, rtcpPort: aRtcp.port },
      { ssrc: 2, rtpPort: b.port, rtcpPort: bRtcp.port },
    ]);
    const sender = createSocket('udp4');
    try {
      const { rtpPort, rtcpPort } = await demuxer.open();
      const send = (packet: Buffer, port: number) => new Promise((resolve) => sender.send(packet, port, '127.0.0.1', resolve));
      await send(rtp(1, 1), rtpPort); // before any report: held back
      await until(() => demuxer.dropped === 1);
      // One compound for both streams, as mediasoup sends it: each stream gets its own part.
      await send(Buffer.concat([rtcp(200, 1), rtcp(202, 1, 3), rtcp(200, 2), rtcp(200, 99)]), rtcpPort);
      await until(() => aRtcp.got.length === 1 && bRtcp.got.length === 1);
      expect(aRtcp.got[0].length).toBe(28 + 16);
      expect(bRtcp.got[0].readUInt32BE(4)).toBe(2);
      // RTP flows once FFmpeg has had time to read the report.
      await until(() => {
        void send(rtp(1, 2), rtpPort);
        void send(rtp(2, 2), rtpPort);
        return a.got.length > 0 && b.got.length > 0;
      });
      expect(a.got.every((p) => p.readUInt32BE(8) === 1)).toBe(true);
      expect(b.got.every((p) => p.readUInt32BE(8) === 2)).toBe(true);
      const dropped = demuxer.dropped;
      await send(rtp(77, 1), rtpPort);
      await until(() => demuxer.dropped === dropped + 1);
    } finally {
      sender.close();
      demuxer.close();
      demuxer.close();
      for (const l of [a, aRtcp, b, bRtcp]) l.socket.close();
    }
  });
});
