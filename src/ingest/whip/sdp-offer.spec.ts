import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidOfferError } from './errors';
import { HEADER_EXTENSION_URIS, parseWhipOffer, type OfferedMedia } from './sdp-offer';

const fixture = (name: string): string => readFileSync(join(__dirname, 'fixtures', `${name}.sdp`), 'utf8');
/** Values read straight from the fixture text, independently of sdp-transform. */
const first = (sdp: string, re: RegExp): string => {
  const match = re.exec(sdp);
  if (!match) throw new Error(`fixture lacks ${re}`);
  return match[1];
};
const sectionOf = (sdp: string, mid: string): string => sdp.split(/\r\n(?=m=)/).find((s) => s.includes(`\r\na=mid:${mid}\r\n`))!;
const media = (sdp: string, mid: string): OfferedMedia => parseWhipOffer(sdp).media.find((m) => m.mid === mid)!;
const invalid = (sdp: string): InvalidOfferError => {
  try {
    parseWhipOffer(sdp);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOfferError);
    expect((error as InvalidOfferError).status).toBe(400);
    return error as InvalidOfferError;
  }
  throw new Error('the offer was accepted');
};

describe('parseWhipOffer on captured offers', () => {
  it.each([
    ['chromium-default', ['0', '1'], ['audio', 'video']],
    ['chromium-h264-opus', ['0', '1'], ['audio', 'video']],
    ['chromium-vp8-opus', ['0', '1'], ['audio', 'video']],
    ['chromium-h264-simulcast', ['0', '1'], ['audio', 'video']],
    ['libdatachannel-obs', ['0', '1'], ['audio', 'video']],
    ['gstreamer-whipsink', ['video0', 'audio1'], ['video', 'audio']],
    ['gstreamer-high-rtx-twcc', ['video0', 'audio1'], ['video', 'audio']],
  ])('%s: mids, kinds, BUNDLE, ICE and DTLS', (name, mids, kinds) => {
    const sdp = fixture(name);
    const offer = parseWhipOffer(sdp);
    expect(offer.media.map((m) => m.mid)).toEqual(mids);
    expect(offer.media.map((m) => m.kind)).toEqual(kinds);
    expect(offer.sections.every((s) => s.usable)).toBe(true);
    expect(offer.bundle).toEqual(first(sdp, /a=group:BUNDLE ([^\r\n]+)/).split(' '));
    expect(offer.ice).toEqual({ usernameFragment: first(sdp, /a=ice-ufrag:(\S+)/), password: first(sdp, /a=ice-pwd:(\S+)/) });
    expect(offer.dtls.setup).toBe('actpass');
    expect(offer.dtls.fingerprints).toEqual([{ algorithm: 'sha-256', value: first(sdp, /a=fingerprint:sha-256 (\S+)/).toUpperCase() }]);
    for (const m of offer.media) expect(m.direction).toBe('sendonly');
  });

  it('Chromium H264 + Opus: every H264 profile with its RTX, the kept header extensions, SSRC + FID', () => {
    const sdp = fixture('chromium-h264-opus');
    const video = media(sdp, '1');
    const h264 = video.codecs.filter((c) => c.name === 'H264');
    expect(h264.length).toBeGreaterThanOrEqual(4);
    const cb = h264.find((c) => c.parameters['profile-level-id'] === '42e01f' && c.parameters['packetization-mode'] === 1)!;
    expect(cb.payloadType).toBe(Number(first(sdp, /a=fmtp:(\d+) level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f/)));
    expect(cb.rtxPayloadType).toBe(Number(first(sdp, new RegExp(`a=fmtp:(\\d+) apt=${cb.payloadType}\\r`))));
    expect(cb.rtcpFeedback).toEqual(
      expect.arrayContaining([
        { type: 'nack', parameter: '' },
        { type: 'nack', parameter: 'pli' },
        { type: 'transport-cc', parameter: '' },
      ]),
    );
    // Kept: mid, rid, repaired rid, abs-send-time, transport-cc; dropped: toffset, video-orientation, playout-delay, …
    expect(video.headerExtensions.map((e) => e.uri).sort()).toEqual([...HEADER_EXTENSION_URIS].sort());
    for (const e of video.headerExtensions) expect(sectionOf(sdp, '1')).toContain(`a=extmap:${e.id} ${e.uri}\r\n`);
    const [ssrc, rtxSsrc] = first(sectionOf(sdp, '1'), /a=ssrc-group:FID ([\d ]+)/)
      .split(' ')
      .map(Number);
    expect(video.encodings).toEqual([{ ssrc, rtxSsrc }]);
    expect(video.cname).toBe(first(sectionOf(sdp, '1'), new RegExp(`a=ssrc:${ssrc} cname:(\\S+)`)));
    expect(video.rtcpReducedSize).toBe(true);
    const audio = media(sdp, '0');
    expect(audio.codecs.find((c) => c.name === 'opus')).toMatchObject({
      payloadType: 111,
      clockRate: 48000,
      channels: 2,
      parameters: { minptime: 10, useinbandfec: 1 },
    });
    expect(audio.encodings).toEqual([{ ssrc: Number(first(sectionOf(sdp, '0'), /a=ssrc:(\d+) cname:/)) }]);
  });

  it('Chromium simulcast: three rids in a=simulcast order, no SSRCs', () => {
    const video = media(fixture('chromium-h264-simulcast'), '1');
    expect(video.simulcastRids).toEqual(['r0', 'r1', 'r2']);
    expect(video.encodings).toEqual([{ rid: 'r0' }, { rid: 'r1' }, { rid: 'r2' }]);
  });

  it('libdatachannel (OBS): Opus pt 111 on mid 0, H264 pt 96 on mid 1, SSRCs, session-level fingerprint, no header extensions', () => {
    const sdp = fixture('libdatachannel-obs');
    const offer = parseWhipOffer(sdp);
    const [audio, video] = offer.media;
    expect(audio.codecs).toEqual([expect.objectContaining({ name: 'opus', payloadType: 111, channels: 2 })]);
    expect(video.codecs).toEqual([
      expect.objectContaining({
        name: 'H264',
        payloadType: 96,
        parameters: { 'profile-level-id': '42e01f', 'packetization-mode': 1, 'level-asymmetry-allowed': 1 },
      }),
    ]);
    expect(video.codecs[0].rtxPayloadType).toBeUndefined();
    expect(audio.headerExtensions).toEqual([]);
    expect(video.encodings).toEqual([{ ssrc: Number(first(sectionOf(sdp, '1'), /a=ssrc:(\d+) cname:/)) }]);
    expect(video.cname).toBe(first(sdp, /a=ssrc:\d+ cname:(\S+)/));
    expect(video.rtcpReducedSize).toBe(false);
  });

  it('GStreamer (whipsink shape): audio on port 0 with a=bundle-only inside the BUNDLE is taken', () => {
    const sdp = fixture('gstreamer-whipsink');
    expect(sectionOf(sdp, 'audio1')).toMatch(/^m=audio 0 /);
    const audio = media(sdp, 'audio1');
    expect(audio.bundleOnly).toBe(true);
    expect(audio.codecs).toEqual([expect.objectContaining({ name: 'OPUS', mimeType: 'audio/OPUS', payloadType: 96, channels: 2 })]);
    const video = media(sdp, 'video0');
    expect(video.bundleOnly).toBe(false);
    expect(video.codecs[0].parameters['profile-level-id']).toBe(first(sdp, /profile-level-id=(\w+)/));
    expect(video.headerExtensions).toEqual([]);
    expect(video.encodings).toEqual([{ ssrc: Number(first(sectionOf(sdp, 'video0'), /a=ssrc:(\d+) cname:/)) }]);
  });

  it('GStreamer with do-nack and transport-cc: RTX from ssrc-group:FID, the transport-cc extension on both sections', () => {
    const sdp = fixture('gstreamer-high-rtx-twcc');
    for (const mid of ['video0', 'audio1']) {
      const m = media(sdp, mid);
      const [ssrc, rtxSsrc] = first(sectionOf(sdp, mid), /a=ssrc-group:FID ([\d ]+)/)
        .split(' ')
        .map(Number);
      expect(m.encodings).toEqual([{ ssrc, rtxSsrc }]);
      expect(m.headerExtensions).toEqual([{ uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01', id: 1 }]);
      expect(m.codecs[0].rtxPayloadType).toBe(Number(first(sectionOf(sdp, mid), /a=rtpmap:(\d+) rtx\//)));
    }
    expect(media(sdp, 'video0').codecs[0].parameters['profile-level-id']).toBe('64001f');
  });
});

describe('parseWhipOffer: what it normalises and what it leaves out', () => {
  const obs = fixture('libdatachannel-obs');

  it('keeps a digit-only profile-level-id as hex text (sdp-transform would make it a number)', () => {
    const video = media(obs.replace('profile-level-id=42e01f', 'profile-level-id=640032'), '1');
    expect(video.codecs[0].parameters['profile-level-id']).toBe('640032');
  });

  it('upper-cases fingerprints (mediasoup compares them as text) and keeps every supported one, in order', () => {
    const lower = first(obs, /a=fingerprint:sha-256 (\S+)/).toLowerCase();
    const sdp = obs.replace(
      /a=fingerprint:sha-256 \S+/,
      `a=fingerprint:SHA-256 ${lower}\r\na=fingerprint:md5 AA:BB\r\na=fingerprint:sha-512 ab:cd`,
    );
    expect(parseWhipOffer(sdp).dtls.fingerprints).toEqual([
      { algorithm: 'sha-256', value: lower.toUpperCase() },
      { algorithm: 'sha-512', value: 'AB:CD' },
    ]);
  });

  it('accepts a=setup:active and sendrecv media', () => {
    const offer = parseWhipOffer(obs.replace(/a=setup:actpass/g, 'a=setup:active').replace(/a=sendonly/g, 'a=sendrecv'));
    expect(offer.dtls.setup).toBe('active');
    expect(offer.media.map((m) => m.direction)).toEqual(['sendrecv', 'sendrecv']);
  });

  it('marks a data channel section and a disabled (port 0, not bundle-only) section as unused', () => {
    const datachannel = '\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\na=sctp-port:5000';
    const sdp = obs.replace('a=group:BUNDLE 0 1', 'a=group:BUNDLE 0 1 2').trimEnd() + datachannel + '\r\n';
    const offer = parseWhipOffer(sdp);
    expect(offer.sections.map((s) => s.usable)).toEqual([true, true, false]);
    expect(offer.sections[2]).toMatchObject({
      usable: false,
      media: 'application',
      mid: '2',
      protocol: 'UDP/DTLS/SCTP',
      formats: 'webrtc-datachannel',
    });

    const disabled = parseWhipOffer(obs.replace(/m=audio \d+/, 'm=audio 0'));
    expect(disabled.media.map((m) => m.mid)).toEqual(['1']);
    expect(disabled.sections[0]).toMatchObject({ usable: false, mid: '0', reason: expect.stringContaining('port 0') });
  });

  it('reads legacy a=ssrc-group:SIM simulcast with its FID pairs', () => {
    const section = sectionOf(fixture('chromium-h264-opus'), '1');
    const [ssrc, rtx] = first(section, /a=ssrc-group:FID ([\d ]+)/)
      .split(' ')
      .map(Number);
    const extra = `a=ssrc-group:SIM ${ssrc} 1001 1002\r\na=ssrc-group:FID 1001 2001\r\na=ssrc-group:FID 1002 2002\r\n`;
    const sdp = fixture('chromium-h264-opus').replace(/(a=ssrc-group:FID [\d ]+\r\n)/, `$1${extra}`);
    expect(media(sdp, '1').encodings).toEqual([
      { ssrc, rtxSsrc: rtx },
      { ssrc: 1001, rtxSsrc: 2001 },
      { ssrc: 1002, rtxSsrc: 2002 },
    ]);
  });
});

describe('parseWhipOffer refuses with 400 and says what we accept', () => {
  const obs = fixture('libdatachannel-obs');
  const chromium = fixture('chromium-h264-opus');
  const simulcast = fixture('chromium-h264-simulcast');

  it('a body that is not SDP', () => {
    expect(invalid('hello').message).toMatch(/not an SDP offer/);
    expect(invalid('').message).toMatch(/not an SDP offer/);
  });

  it('no media', () => {
    expect(invalid(obs.slice(0, obs.indexOf('m=audio'))).message).toMatch(/no media/);
  });

  it('only media we cannot receive', () => {
    const sdp = obs.replace(/m=audio \d+/, 'm=audio 0').replace(/m=video \d+/, 'm=video 0');
    expect(invalid(sdp).message).toMatch(/no audio or video we can receive.*one audio and\/or one video/);
  });

  it('no ICE credentials', () => {
    expect(invalid(obs.replace(/a=ice-ufrag:\S+\r\n/g, '')).message).toMatch(/no ICE credentials/);
    expect(invalid(obs.replace(/a=ice-pwd:\S+\r\n/g, '')).message).toMatch(/no ICE credentials/);
  });

  it('no DTLS fingerprint, or none mediasoup can check', () => {
    expect(invalid(obs.replace(/a=fingerprint:\S+ \S+\r\n/g, '')).message).toMatch(/no DTLS fingerprint/);
    expect(invalid(obs.replace(/a=fingerprint:sha-256/g, 'a=fingerprint:md5')).message).toMatch(/use md5; we accept sha-1, .*sha-256/);
  });

  it('recvonly or inactive media', () => {
    expect(invalid(obs.replace('a=sendonly', 'a=recvonly')).message).toMatch(
      /mid 0\) is recvonly: a WHIP client sends, so it must be sendonly/,
    );
    expect(invalid(obs.replace('a=sendonly', 'a=inactive')).message).toMatch(/is inactive/);
  });

  it('two audio or two video sections', () => {
    const video = sectionOf(obs, '1');
    const twoVideos = obs.replace('a=group:BUNDLE 0 1', 'a=group:BUNDLE 0 1 2') + video.replace('a=mid:1', 'a=mid:2').replace(/^m=/, 'm=');
    expect(invalid(twoVideos.replace(/\r\n(?=m=video)/g, '\r\n')).message).toMatch(
      /2 video m-sections; we accept one audio and\/or one video/,
    );
    const audio = sectionOf(obs, '0');
    const twoAudios = obs.replace('a=group:BUNDLE 0 1', 'a=group:BUNDLE 0 1 2') + audio.replace('a=mid:0', 'a=mid:2') + '\r\n';
    expect(invalid(twoAudios).message).toMatch(/2 audio m-sections/);
  });

  it('audio and video not in one BUNDLE group', () => {
    expect(invalid(obs.replace('a=group:BUNDLE 0 1\r\n', '')).message).toMatch(/must be in one a=group:BUNDLE/);
    expect(invalid(obs.replace('a=group:BUNDLE 0 1', 'a=group:BUNDLE 0\r\na=group:BUNDLE 1')).message).toMatch(
      /must be in one a=group:BUNDLE/,
    );
  });

  it('a=bundle-only outside any BUNDLE group', () => {
    const sdp = fixture('gstreamer-whipsink').replace('a=group:BUNDLE video0 audio1', 'a=group:BUNDLE video0');
    expect(invalid(sdp).message).toMatch(/a=bundle-only but is not in an a=group:BUNDLE/);
  });

  it('a=setup:passive (we are the DTLS server) or holdconn', () => {
    expect(invalid(obs.replace(/a=setup:actpass/g, 'a=setup:passive')).message).toMatch(
      /setup:passive is not accepted.*offer actpass or active/,
    );
    expect(invalid(obs.replace(/a=setup:actpass/g, 'a=setup:holdconn')).message).toMatch(/setup:holdconn/);
  });

  it('no rtcp-mux', () => {
    expect(invalid(obs.replace(/a=rtcp-mux\r\n/g, '')).message).toMatch(/rtcp-mux/);
  });

  it('media without a=mid, or two sections with the same mid', () => {
    expect(invalid(obs.replace('a=mid:1\r\n', '').replace('a=group:BUNDLE 0 1', 'a=group:BUNDLE 0')).message).toMatch(
      /video m-section has no a=mid/,
    );
    expect(invalid(obs.replace('a=mid:1', 'a=mid:0')).message).toMatch(/mid "0" appears on two m-sections/);
  });

  it('plain RTP instead of DTLS-SRTP', () => {
    expect(invalid(obs.replace(/UDP\/TLS\/RTP\/SAVPF/g, 'RTP/AVP')).message).toMatch(/uses RTP\/AVP; we accept DTLS-SRTP/);
  });

  it('simulcast without the rid header extension, or with a rid that has no a=rid line', () => {
    expect(invalid(simulcast.replace(/a=extmap:\d+ urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n/, '')).message).toMatch(
      /simulcast without the urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id/,
    );
    expect(invalid(simulcast.replace('a=rid:r2 send\r\n', '')).message).toMatch(/names rid r2 without an a=rid:<id> send line/);
  });

  it('media that names no RTP stream (no SSRC, no simulcast, no mid extension)', () => {
    const noSsrc = chromium.replace(/a=ssrc(-group)?:[^\r\n]+\r\n/g, '');
    expect(parseWhipOffer(noSsrc).media[1].encodings).toEqual([{}]); // the mid extension still routes it
    const sdp = noSsrc.replace(/a=extmap:\d+ urn:ietf:params:rtp-hdrext:sdes:mid\r\n/g, '');
    expect(invalid(sdp).message).toMatch(
      /names no RTP stream: it needs a=ssrc, a=simulcast with a=rid, or the urn:ietf:params:rtp-hdrext:sdes:mid/,
    );
  });
});
