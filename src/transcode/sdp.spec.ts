import { buildSdp } from './sdp';

describe('buildSdp', () => {
  it('writes one m-line per track from the consumer codecs, with its RTCP port', () => {
    const sdp = buildSdp([
      {
        kind: 'video',
        rtpPort: 22000,
        rtcpPort: 22001,
        codec: {
          mimeType: 'video/H264',
          payloadType: 101,
          clockRate: 90000,
          parameters: { 'level-asymmetry-allowed': 1, 'packetization-mode': 1, 'profile-level-id': '42e01f' },
        },
      },
      {
        kind: 'audio',
        rtpPort: 22002,
        rtcpPort: 22003,
        codec: { mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 } },
      },
    ]);
    expect(sdp).toBe(
      [
        'v=0',
        'o=- 0 0 IN IP4 127.0.0.1',
        's=webrtc-hls',
        'c=IN IP4 127.0.0.1',
        't=0 0',
        'm=video 22000 RTP/AVP 101',
        'a=rtcp:22001',
        'a=rtpmap:101 H264/90000',
        'a=fmtp:101 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
        'a=sendonly',
        'm=audio 22002 RTP/AVP 100',
        'a=rtcp:22003',
        'a=rtpmap:100 opus/48000/2',
        'a=fmtp:100 minptime=10;useinbandfec=1',
        'a=sendonly',
        '',
      ].join('\n'),
    );
  });

  it('omits fmtp when the codec has no parameters (VP8)', () => {
    const sdp = buildSdp([{ kind: 'video', rtpPort: 1, rtcpPort: 2, codec: { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 } }]);
    expect(sdp).toContain('a=rtpmap:96 VP8/90000\na=sendonly');
    expect(sdp).not.toContain('fmtp');
  });
});
