import { availableParallelism } from 'node:os';
import { ConfigValidationError, EnvironmentSchema, validateEnvironment } from './env.schema';

/** The message of the error `validateEnvironment(env)` throws (fails the test if it does not throw). */
function problemsOf(env: Record<string, string>): string {
  try {
    validateEnvironment(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigValidationError);
    return (error as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be rejected`);
}

/** The listed problems, one per line of the message. */
const linesOf = (message: string) =>
  message
    .split('\n')
    .slice(1)
    .map((line) => line.replace(/^ {2}- /, ''));

describe('validateEnvironment', () => {
  describe('good values', () => {
    it('an empty environment gives every default', () => {
      const env = validateEnvironment({});
      expect(env).toBeInstanceOf(EnvironmentSchema);
      expect(env).toMatchObject({
        HOST: '0.0.0.0',
        PORT: 4000,
        MEDIASOUP_WORKERS: 0,
        WEBRTC_SERVER: true,
        WEBRTC_SERVER_PORT: 20000,
        WEBRTC_SERVERS_PER_WORKER: 4,
        RTC_MIN_PORT: 20300,
        RTC_MAX_PORT: 21299,
        FFMPEG_MIN_PORT: 22000,
        FFMPEG_MAX_PORT: 23999,
        FFMPEG_PATH: 'ffmpeg',
        HLS_DIR: 'public/live',
        HLS_SEGMENT_SECONDS: 1,
        HLS_PART_SECONDS: 0.2,
        HLS_MIN_FREE_MB: 256,
        HLS_PROFILE: 'copy',
        LOG_LEVEL: 'log',
        SHUTDOWN_GRACE_MS: 1000,
        CORS_ORIGINS: '*',
        PUBLISH_AUTH: 'off',
        PUBLISHER_TIMEOUT_SECONDS: 10,
        STREAM_RECONNECT_GRACE_SECONDS: 30,
        STREAM_TAKEOVER: false,
        MAX_PEERS: undefined,
      });
      expect(env.ANNOUNCED_IP).toBeUndefined();
    });

    it('converts strings by the type of the default', () => {
      const env = validateEnvironment({
        HOST: '127.0.0.1',
        PORT: '8080',
        ANNOUNCED_IP: '203.0.113.7',
        MEDIASOUP_WORKERS: '3',
        WEBRTC_SERVER_PORT: '40000',
        HLS_SEGMENT_SECONDS: '1.5',
        HLS_RETENTION_SECONDS: '-1',
        HLS_PROFILE: 'legacy',
        LOG_LEVEL: 'debug',
        SHUTDOWN_GRACE_MS: ' 1500 ',
      });
      expect(env).toMatchObject({
        HOST: '127.0.0.1',
        PORT: 8080,
        ANNOUNCED_IP: '203.0.113.7',
        MEDIASOUP_WORKERS: 3,
        WEBRTC_SERVER_PORT: 40000,
        HLS_SEGMENT_SECONDS: 1.5,
        HLS_RETENTION_SECONDS: -1,
        HLS_PROFILE: 'legacy',
        LOG_LEVEL: 'debug',
        SHUTDOWN_GRACE_MS: 1500,
      });
    });

    it.each([
      ['false', false],
      ['0', false],
      ['true', true],
      ['1', true],
    ])('WEBRTC_SERVER=%s is %s', (value, expected) => {
      expect(validateEnvironment({ WEBRTC_SERVER: value }).WEBRTC_SERVER).toBe(expected);
    });

    it('an empty string means the default (as in `PORT= node dist/main.js`)', () => {
      expect(validateEnvironment({ PORT: '', WEBRTC_SERVER: '' })).toMatchObject({ PORT: 4000, WEBRTC_SERVER: true });
    });

    it('ignores variables it does not know', () => {
      expect(() => validateEnvironment({ PATH: '/usr/bin', NODE_ENV: 'whatever', PORTS: 'x' })).not.toThrow();
    });

    it('PORT=0 (any free port) and the edges of each range are accepted', () => {
      expect(validateEnvironment({ PORT: '0' }).PORT).toBe(0);
      expect(validateEnvironment({ PORT: '65535' }).PORT).toBe(65535);
      expect(validateEnvironment({ HLS_SEGMENT_SECONDS: '0.5' }).HLS_SEGMENT_SECONDS).toBe(0.5);
      expect(validateEnvironment({ FFMPEG_MIN_PORT: '61000', FFMPEG_MAX_PORT: '61007' }).FFMPEG_MIN_PORT).toBe(61000);
      expect(validateEnvironment({ FFMPEG_MIN_PORT: '32760', FFMPEG_MAX_PORT: '32767' }).FFMPEG_MAX_PORT).toBe(32767);
    });

    it('WEBRTC_SERVER=false frees WEBRTC_SERVER_PORT from the overlap check', () => {
      expect(() => validateEnvironment({ WEBRTC_SERVER: 'false', WEBRTC_SERVER_PORT: '20100' })).not.toThrow();
    });
  });

  describe('bad values: the error names the variable, the value and what it accepts', () => {
    it('PORT=abc', () => {
      const message = problemsOf({ PORT: 'abc' });
      expect(message).toMatch(/^Invalid configuration:\n {2}- PORT="abc": /);
      // The type first, then the bounds.
      expect(linesOf(message)).toEqual([
        'PORT="abc": PORT must be an integer number; PORT must not be less than 0; PORT must not be greater than 65535',
      ]);
    });

    it.each([
      ['PORT', '70000', /PORT="70000": .*must not be greater than 65535/],
      ['PORT', '-1', /PORT="-1": .*must not be less than 0/],
      ['PORT', '4000.5', /PORT="4000.5": PORT must be an integer number/],
      // Number() would take these; an operator who wrote them meant something else.
      ['PORT', '0x10', /PORT="0x10": PORT must be an integer number/],
      ['PORT', '1e3', /PORT="1e3": PORT must be an integer number/],
      ['MEDIASOUP_WORKERS', '65', /MEDIASOUP_WORKERS="65": .*must not be greater than 64/],
      ['WEBRTC_SERVER', 'yes', /WEBRTC_SERVER="yes": WEBRTC_SERVER must be a boolean value/],
      ['ANNOUNCED_IP', 'example.com', /ANNOUNCED_IP="example.com": ANNOUNCED_IP must be an ip address/],
      ['ANNOUNCED_IP', '::1', /ANNOUNCED_IP="::1": ANNOUNCED_IP must be an ip address/],
      ['HLS_SEGMENT_SECONDS', 'x', /HLS_SEGMENT_SECONDS="x": HLS_SEGMENT_SECONDS must be a number/],
      ['HLS_SEGMENT_SECONDS', '0.2', /HLS_SEGMENT_SECONDS="0.2": .*must not be less than 0.5/],
      ['HLS_LIST_SIZE', '1', /HLS_LIST_SIZE="1": .*must not be less than 2/],
      ['HLS_PART_SECONDS', '0.05', /HLS_PART_SECONDS="0.05": .*must not be less than 0.1/],
      ['HLS_PART_SECONDS', 'fast', /HLS_PART_SECONDS="fast": HLS_PART_SECONDS must be a number/],
      ['HLS_RETENTION_SECONDS', '-2', /HLS_RETENTION_SECONDS="-2": .*must not be less than -1/],
      ['HLS_MIN_FREE_MB', '-5', /HLS_MIN_FREE_MB="-5": .*must not be less than 0/],
      ['HLS_PROFILE', 'fast', /HLS_PROFILE="fast": HLS_PROFILE must be one of the following values: copy, legacy/],
      ['LOG_LEVEL', 'info', /LOG_LEVEL="info": LOG_LEVEL must be one of the following values: error, warn, log, debug, verbose/],
      ['SHUTDOWN_GRACE_MS', '60001', /SHUTDOWN_GRACE_MS="60001": .*must not be greater than 60000/],
      ['X264_BITRATE_KBPS', '50', /X264_BITRATE_KBPS="50": .*must not be less than 100/],
      ['RTC_MIN_PORT', '80', /RTC_MIN_PORT="80": .*must not be less than 1024/],
      ['MAX_PEERS', '-1', /MAX_PEERS="-1": .*must not be less than 0/],
      ['MAX_PEERS', 'many', /MAX_PEERS="many": MAX_PEERS must be an integer number/],
    ])('%s=%s', (name, value, expected) => {
      const lines = linesOf(problemsOf({ [name]: value }));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(expected);
    });

    it('lists every bad variable in one error, not only the first', () => {
      const lines = linesOf(problemsOf({ PORT: 'abc', LOG_LEVEL: 'loud', HLS_PROFILE: 'x', WEBRTC_SERVER: 'maybe' }));
      expect(lines.map((line) => line.split('=')[0]).sort()).toEqual(['HLS_PROFILE', 'LOG_LEVEL', 'PORT', 'WEBRTC_SERVER']);
    });
  });

  describe('cluster mode', () => {
    it('is off by default: no Redis, node id and address derived later', () => {
      expect(validateEnvironment({})).toMatchObject({
        REDIS_URL: '',
        NODE_ID: '',
        NODE_ADDRESS: '',
        NODE_CAPACITY: 0,
        CLUSTER_KEY_PREFIX: 'webrtc-hls:',
      });
    });

    it('accepts a Redis URL, a node id, its address and capacity', () => {
      const env = validateEnvironment({
        REDIS_URL: 'redis://:secret@redis:6379/2',
        NODE_ID: 'webrtc-hls-0',
        NODE_ADDRESS: 'http://10.0.0.5:4000',
        NODE_CAPACITY: '40',
        CLUSTER_KEY_PREFIX: 'prod:',
      });
      expect(env).toMatchObject({
        REDIS_URL: 'redis://:secret@redis:6379/2',
        NODE_ID: 'webrtc-hls-0',
        NODE_ADDRESS: 'http://10.0.0.5:4000',
        NODE_CAPACITY: 40,
      });
      expect(validateEnvironment({ REDIS_URL: 'rediss://cache.example:6380' }).REDIS_URL).toBe('rediss://cache.example:6380');
    });

    it('names each bad cluster variable', () => {
      const lines = linesOf(
        problemsOf({
          REDIS_URL: 'http://redis:6379',
          NODE_ID: 'a b',
          NODE_ADDRESS: '10.0.0.5:4000',
          NODE_CAPACITY: '-1',
          CLUSTER_KEY_PREFIX: 'x y',
        }),
      );
      expect(lines.map((line) => line.split('=')[0]).sort()).toEqual([
        'CLUSTER_KEY_PREFIX',
        'NODE_ADDRESS',
        'NODE_CAPACITY',
        'NODE_ID',
        'REDIS_URL',
      ]);
      expect(lines.find((line) => line.startsWith('REDIS_URL'))).toContain('redis:// or rediss://');
      expect(lines.find((line) => line.startsWith('NODE_ADDRESS'))).toContain('http(s)://host[:port]');
    });

    it('an address with a path is refused (requests are forwarded to the same path on it)', () => {
      expect(problemsOf({ NODE_ADDRESS: 'http://10.0.0.5:4000/hls' })).toContain('NODE_ADDRESS=');
    });

    it('with PORT=0 the other nodes cannot guess the port: NODE_ADDRESS is required', () => {
      expect(problemsOf({ REDIS_URL: 'redis://redis:6379', PORT: '0' })).toContain('NODE_ADDRESS must be set with REDIS_URL when PORT=0');
      expect(() => validateEnvironment({ REDIS_URL: 'redis://redis:6379', PORT: '0', NODE_ADDRESS: 'http://10.0.0.5:4000' })).not.toThrow();
      expect(() => validateEnvironment({ PORT: '0' })).not.toThrow();
    });
  });

  describe('cross-field checks', () => {
    it('PUBLISH_AUTH=token needs a secret of at least 32 bytes (RFC 7518 3.2), never printed', () => {
      expect(linesOf(problemsOf({ PUBLISH_AUTH: 'token' }))).toEqual([
        'PUBLISH_JWT_SECRET must hold at least 32 bytes with PUBLISH_AUTH=token (RFC 7518 3.2), got 0',
      ]);
      const message = problemsOf({ PUBLISH_AUTH: 'token', PUBLISH_JWT_SECRET: 'short-secret' });
      expect(message).toContain('got 12');
      expect(message).not.toContain('short-secret');
      expect(validateEnvironment({ PUBLISH_AUTH: 'token', PUBLISH_JWT_SECRET: 'x'.repeat(32) }).PUBLISH_AUTH).toBe('token');
      expect(linesOf(problemsOf({ PUBLISH_AUTH: 'jwt' }))[0]).toMatch(/^PUBLISH_AUTH="jwt": .*off, token/);
    });

    it('a port range whose min is above its max', () => {
      expect(linesOf(problemsOf({ RTC_MIN_PORT: '21000', RTC_MAX_PORT: '20000', WEBRTC_SERVER_PORT: '19000' }))).toEqual([
        'RTC_MIN_PORT (21000) must not be above RTC_MAX_PORT (20000)',
      ]);
      expect(linesOf(problemsOf({ FFMPEG_MIN_PORT: '23000', FFMPEG_MAX_PORT: '22999' }))).toEqual([
        'FFMPEG_MIN_PORT (23000) must not be above FFMPEG_MAX_PORT (22999)',
      ]);
    });

    it('the FFmpeg range must lie outside the ephemeral range 32768-60999', () => {
      for (const [min, max] of [
        ['32000', '33000'],
        ['40000', '40999'],
        ['60990', '61100'],
      ]) {
        const lines = linesOf(problemsOf({ FFMPEG_MIN_PORT: min, FFMPEG_MAX_PORT: max }));
        expect(lines).toEqual([`FFMPEG_MIN_PORT..FFMPEG_MAX_PORT (${min}-${max}) must lie outside Linux's ephemeral range 32768-60999`]);
      }
    });

    it('the FFmpeg and RTC ranges must not overlap', () => {
      expect(linesOf(problemsOf({ FFMPEG_MIN_PORT: '21000', FFMPEG_MAX_PORT: '21999' }))).toEqual([
        'FFMPEG_MIN_PORT..FFMPEG_MAX_PORT (21000-21999) must not overlap RTC_MIN_PORT..RTC_MAX_PORT (20300-21299)',
      ]);
    });

    it('the FFmpeg range must hold one stream (8 ports: audio and three video layers)', () => {
      expect(linesOf(problemsOf({ FFMPEG_MIN_PORT: '22000', FFMPEG_MAX_PORT: '22006' }))).toEqual([
        'FFMPEG_MIN_PORT..FFMPEG_MAX_PORT (22000-22006) must hold at least 8 ports (one stream)',
      ]);
    });

    it('the RTC range must hold one port per worker', () => {
      expect(linesOf(problemsOf({ MEDIASOUP_WORKERS: '4', RTC_MIN_PORT: '20100', RTC_MAX_PORT: '20102' }))).toEqual([
        'RTC_MIN_PORT..RTC_MAX_PORT (20100-20102) must hold at least one port per mediasoup worker (4)',
      ]);
    });

    it('WebRtcServer ports (one per worker) must not overlap the RTC or FFmpeg ranges', () => {
      const one = { WEBRTC_SERVERS_PER_WORKER: '1' };
      // 3 workers on 20298, 20299, 20300: the last one is RTC_MIN_PORT.
      expect(linesOf(problemsOf({ ...one, MEDIASOUP_WORKERS: '3', WEBRTC_SERVER_PORT: '20298' }))).toEqual([
        'WEBRTC_SERVER_PORT..+2 (20298-20300, one per worker) must not overlap the RTC port range',
      ]);
      expect(linesOf(problemsOf({ ...one, MEDIASOUP_WORKERS: '1', WEBRTC_SERVER_PORT: '22000' }))).toEqual([
        'WEBRTC_SERVER_PORT..+0 (22000-22000, one per worker) must not overlap the FFMPEG port range',
      ]);
      expect(() => validateEnvironment({ ...one, MEDIASOUP_WORKERS: '2', WEBRTC_SERVER_PORT: '20298' })).not.toThrow();
    });

    it('by default four WebRtcServers per worker, all before the RTC range', () => {
      // 2 workers × 4 servers on 20293…20300: the last one is RTC_MIN_PORT.
      expect(linesOf(problemsOf({ MEDIASOUP_WORKERS: '2', WEBRTC_SERVER_PORT: '20293' }))).toEqual([
        'WEBRTC_SERVER_PORT..+7 (20293-20300, 4 per worker) must not overlap the RTC port range',
      ]);
      expect(() => validateEnvironment({ MEDIASOUP_WORKERS: '2', WEBRTC_SERVER_PORT: '20292' })).not.toThrow();
      // The most workers there can be, with the default ports: 64 × 4 from 20000 end before 20300.
      expect(() => validateEnvironment({ MEDIASOUP_WORKERS: '64' })).not.toThrow();
    });

    it('MEDIASOUP_WORKERS=0 checks with one worker per core, the count that will run', () => {
      const cores = availableParallelism();
      const env = { MEDIASOUP_WORKERS: '0', WEBRTC_SERVER_PORT: String(20300 - 4 * cores) };
      expect(() => validateEnvironment(env)).not.toThrow();
      const clash = { MEDIASOUP_WORKERS: '0', WEBRTC_SERVER_PORT: String(20300 - 4 * cores + 1) };
      expect(linesOf(problemsOf(clash))).toEqual([expect.stringContaining('must not overlap the RTC port range')]);
    });

    it('a part lasts at most half a segment', () => {
      expect(linesOf(problemsOf({ HLS_SEGMENT_SECONDS: '0.5', HLS_PART_SECONDS: '0.3' }))).toEqual([
        'HLS_PART_SECONDS (0.3) must be at most half of HLS_SEGMENT_SECONDS (0.5): a segment holds several parts',
      ]);
      expect(validateEnvironment({ HLS_SEGMENT_SECONDS: '2', HLS_PART_SECONDS: '1' }).HLS_PART_SECONDS).toBe(1);
    });

    it('WebRtcServer ports must not run past 65535', () => {
      expect(linesOf(problemsOf({ WEBRTC_SERVERS_PER_WORKER: '1', MEDIASOUP_WORKERS: '4', WEBRTC_SERVER_PORT: '65534' }))).toEqual([
        'WEBRTC_SERVER_PORT (65534) + 4 workers - 1 must not exceed 65535',
      ]);
      expect(linesOf(problemsOf({ MEDIASOUP_WORKERS: '4', WEBRTC_SERVER_PORT: '65530' }))).toEqual([
        'WEBRTC_SERVER_PORT (65530) + 4 workers × 4 servers - 1 must not exceed 65535',
      ]);
    });

    it('WHIP ICE servers: stun:/turn: URIs that fit a Link header, TURN with static credentials or a secret', () => {
      const good = validateEnvironment({
        WHIP_STUN_URLS: 'stun:stun.example.net, stuns:[2001:db8::1]:5349',
        WHIP_TURN_URLS: 'turn:turn.example.net:3478?transport=udp,turns:198.51.100.7:443?transport=tcp',
        WHIP_TURN_USERNAME: 'user',
        WHIP_TURN_CREDENTIAL: 'p4ss',
      });
      expect(good.WHIP_TURN_USERNAME).toBe('user');
      expect(() => validateEnvironment({ WHIP_TURN_URLS: 'turn:turn.example.net', WHIP_TURN_SECRET: 's3cret' })).not.toThrow();
      expect(linesOf(problemsOf({ WHIP_STUN_URLS: 'stun:ok.example.net,http://x.example.net,stun:a b' }))).toEqual([
        'WHIP_STUN_URLS: "http://x.example.net" is not a stun:/stuns: URI (e.g. stun:stun.example.net:3478)',
        'WHIP_STUN_URLS: "stun:a b" is not a stun:/stuns: URI (e.g. stun:stun.example.net:3478)',
      ]);
      expect(
        linesOf(problemsOf({ WHIP_STUN_URLS: 'turn:t.example.net', WHIP_TURN_URLS: 'stun:s.example.net:70000', WHIP_TURN_SECRET: 'x' })),
      ).toEqual([
        'WHIP_STUN_URLS: "turn:t.example.net" is not a stun:/stuns: URI (e.g. stun:stun.example.net:3478)',
        'WHIP_TURN_URLS: "stun:s.example.net:70000" is not a turn:/turns: URI (e.g. turn:turn.example.net:3478?transport=udp)',
      ]);
      expect(
        linesOf(
          problemsOf({ WHIP_TURN_URLS: 'turn:t.example.net:3478?transport=sctp', WHIP_TURN_USERNAME: 'u', WHIP_TURN_CREDENTIAL: 'c' }),
        ),
      ).toEqual([
        'WHIP_TURN_URLS: "turn:t.example.net:3478?transport=sctp" is not a turn:/turns: URI (e.g. turn:turn.example.net:3478?transport=udp)',
      ]);
      expect(linesOf(problemsOf({ WHIP_TURN_URLS: 'turn:t.example.net', WHIP_TURN_USERNAME: 'u' }))).toEqual([
        'WHIP_TURN_URLS needs WHIP_TURN_USERNAME and WHIP_TURN_CREDENTIAL, or WHIP_TURN_SECRET (TURN servers refuse clients without credentials)',
      ]);
      expect(
        linesOf(
          problemsOf({ WHIP_TURN_URLS: 'turn:t.example.net', WHIP_TURN_USERNAME: 'u', WHIP_TURN_CREDENTIAL: 'c', WHIP_TURN_SECRET: 's' }),
        ),
      ).toEqual([
        'WHIP_TURN_SECRET and WHIP_TURN_USERNAME/WHIP_TURN_CREDENTIAL exclude each other: credentials come from the secret, or are given',
      ]);
      expect(linesOf(problemsOf({ WHIP_TURN_URLS: 'turn:t.example.net', WHIP_TURN_USERNAME: 'u', WHIP_TURN_CREDENTIAL: 'a"b' }))).toEqual([
        'WHIP_TURN_CREDENTIAL must not contain a double quote, a backslash or a control character (it is sent in a Link header)',
      ]);
    });

    it('is skipped for a variable that is already invalid, and listed with the others', () => {
      const lines = linesOf(problemsOf({ RTC_MIN_PORT: 'x', FFMPEG_MIN_PORT: '40000', FFMPEG_MAX_PORT: '40100' }));
      expect(lines).toEqual([
        expect.stringMatching(/^RTC_MIN_PORT="x": RTC_MIN_PORT must be an integer number/),
        "FFMPEG_MIN_PORT..FFMPEG_MAX_PORT (40000-40100) must lie outside Linux's ephemeral range 32768-60999",
      ]);
    });
  });
});
