/**
 * WHIP ingest with the OBS stand-in (libdatachannel built and driven like OBS's WHIP output, in a
 * process of its own) and raw HTTP clients, on the real server (mediasoup, FFmpeg), with
 * PUBLISH_AUTH=token as an OBS user would run it (the stream key is the Bearer token).
 */
import type { Browser } from 'playwright-core';
import { parse } from 'sdp-transform';
import { startApp, streamInfo, TestApp, waitFor } from './support/app';
import { launchChromium } from './support/browser';
import { ffprobe, readPlaylist, SseClient } from './support/hls';
import { ObsMedia, prepareObsMedia, startObsStandIn } from './support/obs-whip';
import { playerState, playWithHlsJs, waitForNewSegments, waitUntilPlaying } from './support/publisher';
import { PORTS_PER_LEASE } from '../src/config/env.schema';
import { randomPortEnv } from './support/ports';
import { sign } from './support/tokens';
import { fixtureOffer, postOffer, serverCounts, whipRequest } from './support/whip';
import { join } from 'node:path';

jest.setTimeout(240_000);

const SECRET = 'whip-e2e-secret-that-is-long-enough-for-hs256';
const TIMEOUT_S = 3;
const GRACE_S = 10;

describe('WHIP ingest: the OBS stand-in and every refusal', () => {
  let app: TestApp;
  let sse: SseClient;
  let media: ObsMedia;
  const token = (name: string, options?: Parameters<typeof sign>[2]) => sign(name, SECRET, options);

  beforeAll(async () => {
    media = prepareObsMedia(2);
    app = await startApp({
      MEDIASOUP_WORKERS: '1',
      PUBLISH_AUTH: 'token',
      PUBLISH_JWT_SECRET: SECRET,
      PUBLISHER_TIMEOUT_SECONDS: String(TIMEOUT_S),
      STREAM_RECONNECT_GRACE_SECONDS: String(GRACE_S),
      HLS_RETENTION_SECONDS: '30',
      WHIP_STUN_URLS: 'stun:stun.example.net:3478',
      WHIP_TURN_URLS: 'turn:turn.example.net:3478?transport=udp',
      WHIP_TURN_SECRET: 'turn-shared-secret',
    });
    sse = new SseClient(`${app.url}/api/live-streams`);
  });
  afterAll(async () => {
    sse?.close();
    await app?.close();
  });

  it('OBS goes live with its Bearer token, H264 High is copied, segments follow its 2 s keyframes, plays in hls.js, ends on DELETE', async () => {
    const browser: Browser = await launchChromium();
    const obs = startObsStandIn(`${app.url}/whip/studio`, media, await token('studio'));
    let location: string | undefined;
    try {
      const posted = await obs.posted;
      location = posted.location;
      // What OBS needs (obsproject/obs-studio#9459): exactly 201, a Location; and the ETag and Link of RFC 9725.
      expect(posted.status).toBe(201);
      expect(posted.location).toMatch(new RegExp(`^${app.url}/whip/studio/[A-Za-z0-9_-]{32}$`));
      expect(posted.etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
      expect(posted.links).toMatch(
        /^<stun:stun\.example\.net:3478>; rel="ice-server", <turn:turn\.example\.net:3478\?transport=udp>; rel="ice-server"; username="\d+:studio"; credential="[A-Za-z0-9+/=]+"; credential-type="password"$/,
      );
      await obs.connected;

      await waitFor('SSE peerLive for studio', () => sse.find('peerLive', 'studio'), 30_000);
      const listed = (await (await fetch(`${app.url}/api/streams`)).json()) as Array<{ peerId: string; state: string }>;
      expect(listed).toEqual([expect.objectContaining({ peerId: 'studio', state: 'live' })]);

      const viewer = await playWithHlsJs(browser, app.url, `${app.url}/live/studio.m3u8`);
      await waitUntilPlaying(viewer, 3, 60_000);
      expect((await playerState(viewer)).fatalErrors).toEqual([]);

      // Segments last its keyframe interval (it ignores the server's keyframe requests), and say so.
      await waitForNewSegments(app.hlsDir, 'studio-video.m3u8', 3, 30_000);
      const playlist = (await readPlaylist(app.hlsDir, 'studio-video.m3u8'))!;
      expect(playlist.targetDuration).toBe(2);
      // A host too busy for a moment loses a burst of the stand-in's packets (the kernel's 208 KiB UDP
      // buffer): the hole cuts one segment short. Every other one lasts the keyframe interval.
      const durations = playlist.segments.slice(0, -1).map((segment) => segment.duration);
      expect(durations.filter((d) => Math.abs(d - 2) >= 0.05).length).toBeLessThanOrEqual(1);
      expect(durations.filter((d) => Math.abs(d - 2) < 0.05).length).toBeGreaterThanOrEqual(2);
      // The notice needs five intervals (10 s of 2 s keyframes) before it calls keyframes slow.
      const info = await waitFor(
        'keyframes called slow',
        async () => {
          const i = await streamInfo(app, 'studio');
          return i.notices.length > 0 ? i : undefined;
        },
        60_000,
      );
      expect(info).toMatchObject({
        state: 'live',
        named: true,
        tracks: { video: { codecIn: 'H264', mode: 'copy' }, audio: { codecIn: 'opus', codecOut: 'AAC' } },
      });
      expect(info.publisherId).toMatch(/^whip-/);
      expect(info.keyframeIntervalSeconds).toBeCloseTo(2, 1);
      expect(info.notices).toEqual([
        expect.stringMatching(
          /^keyframes arrive every 2 s, slower than the 1 s segment target: .* set its keyframe interval to 1 s \(OBS: Settings → Output → Keyframe Interval\)$/,
        ),
      ]);
      const probed = await ffprobe(join(app.hlsDir, playlist.segments[1].uri));
      expect(probed.streams[0]).toMatchObject({ codec_name: 'h264', profile: 'High', width: 640, height: 360 });

      // Stop streaming: OBS closes its peer connection, then DELETE; the stream ends at once.
      const stopped = await obs.stop();
      expect(stopped.status).toBe(200);
      expect(stopped.stats.keyframeRequestsIgnored).toBeGreaterThan(0);
      expect(await streamInfo(app, 'studio')).toMatchObject({ state: 'ended' });
      expect((await readPlaylist(app.hlsDir, 'studio-video.m3u8'))!.ended).toBe(true);
      await waitFor('SSE peerLeft for studio', () => sse.find('peerLeft', 'studio'));
      // The session is gone: a second DELETE finds nothing.
      expect((await whipRequest(posted.location, { method: 'DELETE', token: await token('studio') })).status).toBe(404);
      expect(await serverCounts(app.url)).toEqual({ peers: 0, ffmpeg: 0 });
    } finally {
      // A failure above must not leave "studio" live under the tests that follow (a second DELETE is a 404).
      obs.kill();
      if (location) await whipRequest(location, { method: 'DELETE', token: await token('studio') });
      await browser.close();
    }
  });

  it('a killed OBS gets the grace period: parked on filler, taken over by the next OBS, ended when no one comes back', async () => {
    const first = startObsStandIn(`${app.url}/whip/comeback`, media, await token('comeback'));
    const firstSession = await first.posted;
    await waitFor('SSE peerLive for comeback', () => sse.find('peerLive', 'comeback'), 30_000);
    first.kill();
    await first.exited;
    // Nothing more arrives: after PUBLISHER_TIMEOUT_SECONDS it is gone, and the named stream waits.
    await waitFor('comeback parked', async () => (await streamInfo(app, 'comeback')).state === 'parked', 20_000);
    await waitForNewSegments(app.hlsDir, 'comeback-video.m3u8', 2, 30_000);
    expect(sse.find('peerLeft', 'comeback')).toBeUndefined();

    // OBS restarted: it posts again under the same name and takes the stream over.
    const second = startObsStandIn(`${app.url}/whip/comeback`, media, await token('comeback'));
    expect((await second.posted).status).toBe(201);
    await waitFor('SSE publisherChanged for comeback', () => sse.find('publisherChanged', 'comeback'), 30_000);
    const resumed = await waitFor(
      'comeback live again',
      async () => {
        const info = await streamInfo(app, 'comeback');
        return info.state === 'live' && info.tracks.video?.source === 'rtp' ? info : undefined;
      },
      30_000,
    );
    expect(resumed.publisherId).toMatch(/^whip-/);
    // The killed session was taken over: its URL leads nowhere now.
    expect((await whipRequest(firstSession.location, { method: 'DELETE', token: await token('comeback') })).status).toBe(404);

    // Killed again, and nobody comes back: the stream ends only after the grace period.
    const killedAt = Date.now();
    second.kill();
    await second.exited;
    const left = await waitFor('SSE peerLeft for comeback', () => sse.find('peerLeft', 'comeback'), (TIMEOUT_S + GRACE_S + 20) * 1000, 200);
    expect(left.receivedAt - killedAt).toBeGreaterThanOrEqual((TIMEOUT_S + GRACE_S) * 1000 - 200);
    expect((await readPlaylist(app.hlsDir, 'comeback-video.m3u8'))!.ended).toBe(true);
    expect(sse.events.filter((e) => e.data?.peerId === 'comeback').map((e) => e.type)).toEqual([
      'peerLive',
      'publisherChanged',
      'peerLeft',
    ]);
  });

  describe('with a live stream "main" that no refusal may touch', () => {
    let obs: ReturnType<typeof startObsStandIn>;
    let mainLocation: string;
    let before: { peers: number; ffmpeg: number };
    const offer = fixtureOffer('libdatachannel-obs');

    beforeAll(async () => {
      obs = startObsStandIn(`${app.url}/whip/main`, media, await token('main'));
      mainLocation = (await obs.posted).location;
      await waitFor('SSE peerLive for main', () => sse.find('peerLive', 'main'), 30_000);
      before = await serverCounts(app.url);
      expect(before).toEqual({ peers: 1, ffmpeg: 1 });
    });

    afterAll(async () => {
      // Not one refusal touched it: still live with the same publisher, advancing, and nothing else exists.
      const info = await streamInfo(app, 'main');
      expect(info).toMatchObject({ state: 'live', tracks: { video: { source: 'rtp' } } });
      await waitForNewSegments(app.hlsDir, 'main-video.m3u8', 2, 30_000);
      expect(await serverCounts(app.url)).toEqual(before);
      const current = ((await (await fetch(`${app.url}/api/streams`)).json()) as Array<{ peerId: string; state: string }>).filter(
        (s) => s.state !== 'ended',
      );
      expect(current.map((s) => s.peerId)).toEqual(['main']);
      expect(sse.events.filter((e) => e.data?.peerId === 'main').map((e) => e.type)).toEqual(['peerLive']);
      expect((await obs.stop()).status).toBe(200);
    });

    const refused = (answer: { status: number; json?: { error: string; code: string } }, status: number, code: string, message: RegExp) => {
      expect({ status: answer.status, code: answer.json?.code }).toEqual({ status, code });
      expect(answer.json!.error).toMatch(message);
    };

    it('415: an offer without Content-Type: application/sdp', async () => {
      const wrong = await postOffer(app.url, 'other', offer, { token: await token('other'), contentType: 'text/plain' });
      refused(wrong, 415, 'UNSUPPORTED_MEDIA_TYPE', /^a WHIP offer must be sent with Content-Type: application\/sdp, got "text\/plain"$/);
      expect(wrong.headers.get('accept-post')).toBe('application/sdp');
      refused(
        await postOffer(app.url, 'other', offer, { contentType: 'application/json' }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
        /got "application\/json"/,
      );
    });

    it('413: a body over 64 KiB, declared or streamed', async () => {
      const big = offer + `a=x-padding:${'x'.repeat(70_000)}\r\n`;
      refused(
        await postOffer(app.url, 'other', big, { token: await token('other') }),
        413,
        'PAYLOAD_TOO_LARGE',
        /^the body is \d+ bytes; at most 65536 bytes are accepted$/,
      );
      const chunks = [Buffer.from(offer), Buffer.alloc(70_000, 0x61)];
      const streamed = await fetch(`${app.url}/whip/other`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${await token('other')}` },
        body: new ReadableStream({
          pull(controller) {
            const next = chunks.shift();
            if (next) controller.enqueue(next);
            else controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      expect(streamed.status).toBe(413);
      expect(await streamed.json()).toEqual({
        code: 'PAYLOAD_TOO_LARGE',
        error: 'the body is over 65536 bytes; at most 65536 bytes are accepted',
      });
    });

    it.each([
      ['a name with a dot', 'bad.name', /^stream name "bad\.name" has a character that is not allowed at position 4: "\." \(U\+002E\)/],
      ['a reserved suffix', 'cam-video', /^stream name "cam-video" ends in "-video", which is reserved/],
      ['65 characters', 'x'.repeat(65), /^stream name is 65 characters long; at most 64 are allowed$/],
    ])('400: %s', async (_what, name, message) => {
      refused(await postOffer(app.url, name, offer, { token: await token('other') }), 400, 'BAD_REQUEST', message);
    });

    it.each([
      ['not SDP', () => 'hello', /^the body is not an SDP offer \(it must start with "v=0"\)$/],
      [
        'no ICE credentials',
        () => offer.replace(/a=ice-(ufrag|pwd):.*\r\n/g, ''),
        /^the offer has no ICE credentials \(a=ice-ufrag and a=ice-pwd\)$/,
      ],
      ['no DTLS fingerprint', () => offer.replace(/a=fingerprint:.*\r\n/g, ''), /^the offer has no DTLS fingerprint \(a=fingerprint\)$/],
      ['no media', () => offer.slice(0, offer.indexOf('m=audio')), /^the offer has no media \(m= line\)/],
      [
        'only a data channel',
        () =>
          offer.slice(0, offer.indexOf('m=audio')) +
          'm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n',
        /^the offer has no audio or video we can receive: m=application/,
      ],
    ])('400: %s', async (_what, body, message) => {
      refused(await postOffer(app.url, 'other', body(), { token: await token('other') }), 400, 'BAD_OFFER', message);
    });

    it('422: no codec we can take', async () => {
      const g722 = offer.replace('opus/48000/2', 'G722/8000').replace(/a=fmtp:111 .*\r\n/, '');
      refused(
        await postOffer(app.url, 'other', g722, { token: await token('other') }),
        422,
        'UNSUPPORTED_CODEC',
        /^no codec we can take in the audio m-section \(mid 0\): it offers G722; we take opus$/,
      );
      const h265 = offer.replace('H264/90000', 'H265/90000').replace(/a=fmtp:96 .*\r\n/, '');
      refused(
        await postOffer(app.url, 'other', h265, { token: await token('other') }),
        422,
        'UNSUPPORTED_CODEC',
        /^no codec we can take in the video m-section \(mid 1\): it offers H265; we take .*H264/,
      );
    });

    it('401 and 403: the publish tokens of the socket.io path, as a Bearer header', async () => {
      const challenge = 'Bearer realm="whip", error="invalid_token"';
      const none = await postOffer(app.url, 'other', offer);
      refused(none, 401, 'UNAUTHORIZED', /^publishing to "other" needs a publish token: send "Authorization: Bearer <token for other>"$/);
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="whip", error="invalid_token"');
      const basic = await postOffer(app.url, 'other', offer, { headers: { Authorization: 'Basic dXNlcjpwYXNz' } });
      refused(basic, 401, 'UNAUTHORIZED', /uses the "Basic" scheme/);
      expect(basic.headers.get('www-authenticate')).toBe('Bearer realm="whip", error="invalid_request"');
      const cases: Array<[string, RegExp]> = [
        ['not-a-jwt', /^publish token is malformed: a JWT has 3 dot-separated parts, this has 1$/],
        [await sign('other', 'another-secret-that-is-also-long-enough!!'), /^publish token signature does not verify/],
        [await token('other', { exp: -3600 }), /^publish token expired at /],
        [await token('other', { nbf: 3600 }), /^publish token is not valid yet/],
        [await token('other', { alg: 'none' }), /^publish token is unsigned \("alg": "none"\)/],
      ];
      for (const [bad, message] of cases) {
        const answer = await postOffer(app.url, 'other', offer, { token: bad });
        refused(answer, 401, 'UNAUTHORIZED', message);
        expect(answer.headers.get('www-authenticate')).toBe(challenge);
      }
      const elsewhere = await postOffer(app.url, 'other', offer, { token: await token('main') });
      refused(elsewhere, 403, 'FORBIDDEN', /^publish token is for stream "main", not "other"$/);
    });

    it('409: the name is live (takeover is off)', async () => {
      refused(
        await postOffer(app.url, 'main', offer, { token: await token('main') }),
        409,
        'STREAM_IN_USE',
        /^stream "main" is being published by another connection \(takeover is off\)$/,
      );
    });

    it('404, 401, 403 on the session URL: unknown, another stream’s path, no token, a token for another stream', async () => {
      const mainId = mainLocation.split('/').pop()!;
      const unknown = await whipRequest(`${app.url}/whip/main/${'A'.repeat(32)}`, { method: 'DELETE', token: await token('main') });
      refused(unknown, 404, 'NOT_FOUND', /^no WHIP session at this URL: it ended, or never existed$/);
      refused(
        await whipRequest(`${app.url}/whip/other/${mainId}`, { method: 'DELETE', token: await token('other') }),
        404,
        'NOT_FOUND',
        /no WHIP session/,
      );
      refused(await whipRequest(mainLocation, { method: 'DELETE' }), 401, 'UNAUTHORIZED', /^this WHIP session needs its publish token/);
      refused(await whipRequest(mainLocation, { method: 'DELETE', token: await token('other') }), 403, 'FORBIDDEN', /not "main"$/);
      refused(
        await whipRequest(mainLocation, {
          method: 'PATCH',
          token: await token('other'),
          contentType: 'application/trickle-ice-sdpfrag',
          body: 'a=end-of-candidates\r\n',
        }),
        403,
        'FORBIDDEN',
        /not "main"$/,
      );
      refused(
        await whipRequest(`${app.url}/whip/main/${'B'.repeat(32)}`, {
          method: 'PATCH',
          contentType: 'application/trickle-ice-sdpfrag',
          body: 'a=end-of-candidates\r\n',
        }),
        404,
        'NOT_FOUND',
        /no WHIP session/,
      );
    });

    it('405: other methods, with Allow', async () => {
      const get = await whipRequest(`${app.url}/whip/main`, { method: 'GET' });
      refused(get, 405, 'METHOD_NOT_ALLOWED', /^GET is not allowed on a WHIP endpoint: POST an SDP offer$/);
      expect(get.headers.get('allow')).toBe('POST, OPTIONS');
      const mute = await whipRequest(mainLocation, { method: 'POST', contentType: 'application/json', body: 'true' });
      refused(mute, 405, 'METHOD_NOT_ALLOWED', /^POST is not allowed on a WHIP session/);
      expect(mute.headers.get('allow')).toBe('PATCH, DELETE, OPTIONS');
    });

    it('OPTIONS: 204 with CORS and Accept-Post / Accept-Patch', async () => {
      const preflight = await fetch(`${app.url}/whip/main`, {
        method: 'OPTIONS',
        headers: {
          Origin: 'https://studio.example.net',
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'authorization, content-type',
        },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('accept-post')).toBe('application/sdp');
      expect(preflight.headers.get('access-control-allow-origin')).toBe('https://studio.example.net');
      expect(preflight.headers.get('access-control-allow-methods')).toMatch(/POST.*PATCH.*DELETE|POST.*DELETE/);
      expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
      const session = await fetch(mainLocation, { method: 'OPTIONS' });
      expect(session.status).toBe(204);
      expect(session.headers.get('accept-patch')).toBe('application/trickle-ice-sdpfrag');
      // A browser client on another origin can read what it needs from the 201.
      const answer = await fetch(`${app.url}/api/streams`, { headers: { Origin: 'https://studio.example.net' } });
      expect(answer.headers.get('access-control-expose-headers')).toMatch(/Location.*ETag.*Link/);
    });
  });

  describe('GStreamer-shaped offers', () => {
    it('audio on port 0 with a=bundle-only (as whipsink sends it) is taken, not rejected', async () => {
      const offer = fixtureOffer('gstreamer-whipsink');
      expect(offer).toMatch(/m=audio 0 .*\r\n(.*\r\n)*a=bundle-only/);
      const created = await postOffer(app.url, 'gst', offer, { token: await token('gst') });
      expect(created.status).toBe(201);
      const answer = parse(created.text);
      expect(answer.media.map((m) => [m.type, m.port > 0, m.direction])).toEqual([
        ['video', true, 'recvonly'],
        ['audio', true, 'recvonly'],
      ]);
      const info = await streamInfo(app, 'gst');
      expect(Object.keys(info.tracks).sort()).toEqual(['audio', 'video']);
      const location = new URL(created.headers.get('location')!, app.url).toString();
      expect((await whipRequest(location, { method: 'DELETE', token: await token('gst') })).status).toBe(200);
    });
  });

  describe('PATCH (RFC 9725 §4.3) on a session of its own', () => {
    it('trickle: 204 with the ETag, 412 with a stale one, 415, 400; ICE restart: 200 with new credentials and a new ETag', async () => {
      const offer = fixtureOffer('chromium-h264-opus');
      const created = await postOffer(app.url, 'patched', offer, { token: await token('patched') });
      expect(created.status).toBe(201);
      const location = new URL(created.headers.get('location')!, app.url).toString();
      const etag = created.headers.get('etag')!;
      const answered = parse(created.text);
      const ufrag = /a=ice-ufrag:(\S+)/.exec(offer)![1];
      const pwd = /a=ice-pwd:(\S+)/.exec(offer)![1];
      const patch = async (body: string, ifMatch?: string, contentType = 'application/trickle-ice-sdpfrag') =>
        whipRequest(location, {
          method: 'PATCH',
          contentType,
          body,
          token: await token('patched'),
          headers: ifMatch ? { 'If-Match': ifMatch } : {},
        });

      const trickle = `a=ice-ufrag:${ufrag}\r\na=ice-pwd:${pwd}\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0\r\na=end-of-candidates\r\n`;
      expect((await patch(trickle, etag)).status).toBe(204);
      expect((await patch('a=end-of-candidates\r\n')).status).toBe(204);
      const stale = await patch(trickle, '"stale"');
      expect([stale.status, stale.json?.code, stale.headers.get('etag')]).toEqual([412, 'PRECONDITION_FAILED', etag]);
      expect((await patch(trickle, etag, 'application/sdp')).status).toBe(415);
      expect((await patch('{"audio":true}', etag)).json).toEqual({
        code: 'BAD_REQUEST',
        error: 'the trickle-ice-sdpfrag has a line that is not SDP (line 1: "{\\"audio\\":true}")',
      });

      // An ICE restart must say If-Match: *; it gets our new credentials and a new ETag.
      const restart = `a=ice-ufrag:newU\r\na=ice-pwd:newpasswordnewpassword12\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n`;
      expect((await patch(restart, etag)).status).toBe(412);
      const restarted = await patch(restart, '*');
      expect(restarted.status).toBe(200);
      expect(restarted.headers.get('content-type')).toBe('application/trickle-ice-sdpfrag');
      const newEtag = restarted.headers.get('etag')!;
      expect(newEtag).not.toBe(etag);
      const oldUfrag = String(answered.media[0].iceUfrag);
      const newUfrag = /a=ice-ufrag:(.*)\r\n/.exec(restarted.text)![1];
      expect(newUfrag).not.toBe(oldUfrag);
      expect(restarted.text).toMatch(
        /^a=ice-lite\r\na=ice-ufrag:\S+\r\na=ice-pwd:\S+\r\nm=audio 9 UDP\/TLS\/RTP\/SAVPF 0\r\na=mid:0\r\na=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host\r\n/,
      );
      expect((await patch(trickle, etag)).status).toBe(412);
      expect((await patch('a=end-of-candidates\r\n', newEtag)).status).toBe(204);

      // DELETE ends it (it never connected: the stream had nothing to play, it simply goes).
      expect((await whipRequest(location, { method: 'DELETE', token: await token('patched') })).status).toBe(200);
      expect((await patch('a=end-of-candidates\r\n', newEtag)).status).toBe(404);
    });
  });
});

describe('WHIP ingest: 503 when the server has no room', () => {
  let app: TestApp;
  let media: ObsMedia;

  beforeAll(async () => {
    media = prepareObsMedia(2);
    // Room for one stream's FFmpeg ports only.
    const ports = randomPortEnv();
    app = await startApp({
      ...ports,
      MEDIASOUP_WORKERS: '1',
      FFMPEG_MAX_PORT: String(Number(ports.FFMPEG_MIN_PORT) + PORTS_PER_LEASE - 1),
    });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('a second stream finds no FFmpeg ports: 503 with Retry-After, the first stream untouched; the first name still gets 409', async () => {
    const obs = startObsStandIn(`${app.url}/whip/first`, media);
    await obs.posted;
    await waitFor('first live', async () => (await streamInfo(app, 'first')).state === 'live', 30_000);
    const before = await serverCounts(app.url);
    const full = await postOffer(app.url, 'second', fixtureOffer('libdatachannel-obs'));
    expect([full.status, full.json?.code, full.headers.get('retry-after')]).toEqual([503, 'NO_CAPACITY', '5']);
    expect(full.json!.error).toBe('no FFmpeg ports left for another stream (FFMPEG_MIN_PORT..FFMPEG_MAX_PORT is full)');
    // Anyone may publish (PUBLISH_AUTH=off, no token needed), but not over a live holder.
    expect((await postOffer(app.url, 'first', fixtureOffer('libdatachannel-obs'))).status).toBe(409);
    expect(await serverCounts(app.url)).toEqual(before);
    await waitForNewSegments(app.hlsDir, 'first-video.m3u8', 1, 30_000);
    expect((await streamInfo(app, 'first')).state).toBe('live');
    expect((await obs.stop()).status).toBe(200);
  });
});
