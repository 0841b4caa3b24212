import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateRouterRtpCapabilities } from 'mediasoup/node/lib/ortc';
import type { RtpCapabilities } from 'mediasoup/node/lib/RtpParameters';
import { MEDIA_CODECS } from '../../mediasoup/media-codecs';
import { UnsupportedCodecError } from './errors';
import { planProducers } from './produce-parameters';
import { parseWhipOffer } from './sdp-offer';

// The capabilities a router built from MEDIA_CODECS has (Worker.createRouter runs this same function).
const caps: RtpCapabilities = generateRouterRtpCapabilities(structuredClone(MEDIA_CODECS));
const fixture = (name: string): string => readFileSync(join(__dirname, 'fixtures', `${name}.sdp`), 'utf8');
const first = (text: string, re: RegExp): string => {
  const match = re.exec(text);
  if (!match) throw new Error(`fixture lacks ${re}`);
  return match[1];
};
const sectionOf = (sdp: string, mid: string): string => sdp.split(/\r\n(?=m=)/).find((s) => s.includes(`\r\na=mid:${mid}\r\n`))!;
const plan = (sdp: string, mid: string) => planProducers(parseWhipOffer(sdp), caps).find((p) => p.mid === mid)!.options;
const extId = (section: string, uri: string): number =>
  Number(first(section, new RegExp(`a=extmap:(\\d+) ${uri.replace(/[/.]/g, '\\$&')}\\r`)));

describe('planProducers on captured offers', () => {
  it('Chromium default offer (every codec, VP8 first): the router picks H264 Constrained Baseline, packetization-mode 1, and its RTX', () => {
    const sdp = fixture('chromium-default');
    const video = plan(sdp, '1');
    const pt = Number(first(sdp, /a=fmtp:(\d+) level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f/));
    const rtxPt = Number(first(sdp, new RegExp(`a=fmtp:(\\d+) apt=${pt}\\r`)));
    expect(video.kind).toBe('video');
    expect(video.rtpParameters.mid).toBe('1');
    expect(video.rtpParameters.codecs).toEqual([
      {
        mimeType: 'video/H264',
        payloadType: pt,
        clockRate: 90000,
        parameters: { 'level-asymmetry-allowed': 1, 'packetization-mode': 1, 'profile-level-id': '42e01f' },
        rtcpFeedback: [
          { type: 'goog-remb', parameter: '' },
          { type: 'transport-cc', parameter: '' },
          { type: 'ccm', parameter: 'fir' },
          { type: 'nack', parameter: '' },
          { type: 'nack', parameter: 'pli' },
        ],
      },
      { mimeType: 'video/rtx', payloadType: rtxPt, clockRate: 90000, parameters: { apt: pt }, rtcpFeedback: [] },
    ]);
    const [ssrc, rtx] = first(sectionOf(sdp, '1'), /a=ssrc-group:FID ([\d ]+)/)
      .split(' ')
      .map(Number);
    expect(video.rtpParameters.encodings).toEqual([{ ssrc, rtx: { ssrc: rtx } }]);
    const section = sectionOf(sdp, '1');
    expect(video.rtpParameters.headerExtensions).toEqual(
      [
        'urn:ietf:params:rtp-hdrext:sdes:mid',
        'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
        'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
        'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
        'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
      ]
        .map((uri) => ({ uri, id: extId(section, uri), encrypt: false, parameters: {} }))
        .sort((a, b) => section.indexOf(`a=extmap:${a.id} `) - section.indexOf(`a=extmap:${b.id} `)),
    );
    expect(video.rtpParameters.rtcp).toEqual({ cname: first(section, /a=ssrc:\d+ cname:(\S+)/), reducedSize: true });
  });

  it('Chromium audio: Opus, no RTX, and the audio header extensions the router has (no rid)', () => {
    const sdp = fixture('chromium-default');
    const audio = plan(sdp, '0');
    expect(audio.kind).toBe('audio');
    expect(audio.rtpParameters.codecs).toEqual([
      {
        mimeType: 'audio/opus',
        payloadType: 111,
        clockRate: 48000,
        channels: 2,
        parameters: { minptime: 10, useinbandfec: 1 },
        rtcpFeedback: [{ type: 'transport-cc', parameter: '' }],
      },
    ]);
    expect(audio.rtpParameters.headerExtensions!.map((e) => e.uri).sort()).toEqual(
      [
        'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
        'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
        'urn:ietf:params:rtp-hdrext:sdes:mid',
      ].sort(),
    );
  });

  it('Chromium VP8 + Opus: VP8 with its RTX', () => {
    const sdp = fixture('chromium-vp8-opus');
    const video = plan(sdp, '1');
    const pt = Number(first(sdp, /a=rtpmap:(\d+) VP8\/90000/));
    expect(video.rtpParameters.codecs.map((c) => [c.mimeType, c.payloadType])).toEqual([
      ['video/VP8', pt],
      ['video/rtx', Number(first(sdp, new RegExp(`a=fmtp:(\\d+) apt=${pt}\\r`)))],
    ]);
  });

  it('Chromium simulcast: one encoding per rid, RTX by repaired rid, no SSRC', () => {
    const video = plan(fixture('chromium-h264-simulcast'), '1');
    expect(video.rtpParameters.encodings).toEqual([{ rid: 'r0' }, { rid: 'r1' }, { rid: 'r2' }]);
    expect(video.rtpParameters.codecs.map((c) => c.mimeType)).toEqual(['video/H264', 'video/rtx']);
    expect(video.rtpParameters.headerExtensions!.map((e) => e.uri)).toContain('urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id');
  });

  it('libdatachannel (OBS): Opus 111 on mid 0, H264 42e01f 96 on mid 1, SSRCs without RTX, no header extensions', () => {
    const sdp = fixture('libdatachannel-obs');
    const [audio, video] = planProducers(parseWhipOffer(sdp), caps);
    expect([audio.mid, video.mid]).toEqual(['0', '1']);
    expect(audio.options.rtpParameters.codecs).toEqual([
      expect.objectContaining({ mimeType: 'audio/opus', payloadType: 111, channels: 2 }),
    ]);
    expect(video.options.rtpParameters.codecs).toEqual([
      expect.objectContaining({
        mimeType: 'video/H264',
        payloadType: 96,
        parameters: { 'profile-level-id': '42e01f', 'packetization-mode': 1, 'level-asymmetry-allowed': 1 },
      }),
    ]);
    // goog-remb and nack are feedback the router knows; libdatachannel offers no transport-cc.
    expect(video.options.rtpParameters.codecs[0].rtcpFeedback).toEqual([
      { type: 'nack', parameter: '' },
      { type: 'nack', parameter: 'pli' },
      { type: 'goog-remb', parameter: '' },
    ]);
    expect(video.options.rtpParameters.encodings).toEqual([{ ssrc: Number(first(sectionOf(sdp, '1'), /a=ssrc:(\d+) cname/)) }]);
    expect(video.options.rtpParameters.headerExtensions).toEqual([]);
    expect(video.options.rtpParameters.rtcp).toEqual({ cname: first(sdp, /a=ssrc:\d+ cname:(\S+)/), reducedSize: false });
  });

  it('GStreamer whipsink (42c01f, Constrained Baseline by its constraint flags): settled on the router CB entry as mediasoup does', () => {
    const sdp = fixture('gstreamer-whipsink');
    expect(first(sdp, /profile-level-id=(\w+)/)).toBe('42c01f');
    const video = plan(sdp, 'video0');
    expect(video.rtpParameters.codecs).toHaveLength(1);
    // mediasoup's matchCodecs rewrites the profile-level-id to the canonical one of the profile at the offered level.
    expect(video.rtpParameters.codecs[0].parameters['profile-level-id']).toBe('42e01f');
    expect(plan(sdp, 'audio1').rtpParameters.codecs).toEqual([
      expect.objectContaining({ mimeType: 'audio/opus', payloadType: 96, channels: 2 }),
    ]);
  });

  it('GStreamer High (64001f) with RTX and transport-cc: the High entry, RTX SSRC on video, none on audio', () => {
    const sdp = fixture('gstreamer-high-rtx-twcc');
    const video = plan(sdp, 'video0');
    expect(
      video.rtpParameters.codecs.map((c) => [c.mimeType, c.payloadType, c.parameters['profile-level-id'] ?? c.parameters.apt]),
    ).toEqual([
      ['video/H264', 97, '64001f'],
      ['video/rtx', 98, 97],
    ]);
    const [ssrc, rtx] = first(sectionOf(sdp, 'video0'), /a=ssrc-group:FID ([\d ]+)/)
      .split(' ')
      .map(Number);
    expect(video.rtpParameters.encodings).toEqual([{ ssrc, rtx: { ssrc: rtx } }]);
    expect(video.rtpParameters.headerExtensions).toEqual([
      { uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01', id: 1, encrypt: false, parameters: {} },
    ]);
    const audio = plan(sdp, 'audio1');
    expect(audio.rtpParameters.codecs.map((c) => c.mimeType)).toEqual(['audio/opus']); // the router has no RTX for Opus
    expect(audio.rtpParameters.encodings).toEqual([{ ssrc: Number(first(sectionOf(sdp, 'audio1'), /a=ssrc-group:FID (\d+)/)) }]);
  });
});

describe('codec choice follows the H264 rules mediasoup applies', () => {
  const obs = fixture('libdatachannel-obs');
  const withVideo = (rtpmapAndFmtp: string, payloads: string): string =>
    obs
      .replace(/m=video (\d+) UDP\/TLS\/RTP\/SAVPF 96/, `m=video $1 UDP/TLS/RTP/SAVPF ${payloads}`)
      .replace(/a=rtpmap:96 H264\/90000\r\n(a=rtcp-fb:96 [^\r\n]+\r\n)*a=fmtp:96 [^\r\n]+\r\n/, rtpmapAndFmtp);
  const h264 = (pt: number, fmtp: string): string => `a=rtpmap:${pt} H264/90000\r\na=fmtp:${pt} ${fmtp}\r\n`;

  it.each([
    ['High 3.1', '64001f', '64001f'],
    ['High 5.0, a digit-only id', '640032', '640032'],
    ['Constrained High', '640c1f', '640c1f'],
    ['Main', '4d0028', '4d0028'],
  ])('%s (%s) is taken as that profile', (_, offered, expected) => {
    const video = plan(withVideo(h264(96, `profile-level-id=${offered};packetization-mode=1;level-asymmetry-allowed=1`), '96'), '1');
    expect(video.rtpParameters.codecs[0].parameters['profile-level-id']).toBe(expected);
  });

  it('prefers H264 (copied into HLS) over VP8 (transcoded), even when only High is offered', () => {
    const sdp = withVideo(`a=rtpmap:100 VP8/90000\r\n${h264(102, 'profile-level-id=64001f;packetization-mode=1')}`, '100 102');
    expect(plan(sdp, '1').rtpParameters.codecs.map((c) => c.mimeType)).toEqual(['video/H264']);
  });

  it('among H264 entries, the router order decides (Constrained Baseline before Main before High)', () => {
    const sdp = withVideo(
      h264(100, 'profile-level-id=64001f;packetization-mode=1') +
        h264(101, 'profile-level-id=4d001f;packetization-mode=1') +
        h264(102, 'profile-level-id=42e01f;packetization-mode=1'),
      '100 101 102',
    );
    expect(plan(sdp, '1').rtpParameters.codecs[0].payloadType).toBe(102);
  });

  it('skips packetization-mode 0 for the same profile in packetization-mode 1', () => {
    const sdp = withVideo(
      h264(100, 'profile-level-id=42e01f;packetization-mode=0') + h264(101, 'profile-level-id=42e01f;packetization-mode=1'),
      '100 101',
    );
    expect(plan(sdp, '1').rtpParameters.codecs[0].payloadType).toBe(101);
  });
});

describe('planProducers refuses with 422 and names what we take', () => {
  const obs = fixture('libdatachannel-obs');
  const unsupported = (sdp: string): UnsupportedCodecError => {
    try {
      planProducers(parseWhipOffer(sdp), caps);
    } catch (error) {
      expect(error).toBeInstanceOf(UnsupportedCodecError);
      expect((error as UnsupportedCodecError).status).toBe(422);
      return error as UnsupportedCodecError;
    }
    throw new Error('the offer was accepted');
  };

  it('H264 in packetization-mode 0 only', () => {
    const error = unsupported(obs.replace('packetization-mode=1', 'packetization-mode=0'));
    expect(error.message).toMatch(
      /video m-section \(mid 1\): it offers H264 \(profile-level-id 42e01f, packetization-mode 0\); we take H264 \(profile-level-id 42e01f, packetization-mode 1\), .*VP8, VP9 \(profile-id 0\)/,
    );
  });

  it('a video codec the router lacks (AV1), or VP9 profile 2', () => {
    expect(
      unsupported(obs.replace(/a=rtpmap:96 H264\/90000/, 'a=rtpmap:96 AV1/90000').replace(/a=fmtp:96 [^\r\n]+/, 'a=fmtp:96 profile=0'))
        .message,
    ).toMatch(/it offers AV1;/);
    expect(
      unsupported(obs.replace(/a=rtpmap:96 H264\/90000/, 'a=rtpmap:96 VP9/90000').replace(/a=fmtp:96 [^\r\n]+/, 'a=fmtp:96 profile-id=2'))
        .message,
    ).toMatch(/it offers VP9 \(profile-id 2\)/);
  });

  it('audio the router lacks (PCMU, mono "opus/48000")', () => {
    expect(unsupported(obs.replace('a=rtpmap:111 opus/48000/2', 'a=rtpmap:111 PCMU/8000')).message).toMatch(
      /audio m-section \(mid 0\): it offers PCMU; we take opus/,
    );
    expect(unsupported(obs.replace('a=rtpmap:111 opus/48000/2', 'a=rtpmap:111 opus/48000')).message).toMatch(/audio m-section/);
  });
});
