import { IsBoolean, IsIn, IsInt, IsIP, IsNumber, IsOptional, IsString, Max, Min, Matches, MinLength, validateSync } from 'class-validator';
import { availableParallelism } from 'node:os';
import { isQuotable, parseIceUrls } from './ice-servers';

/** An HS256 key must be at least as long as the hash output (RFC 7518 3.2). */
const MIN_SECRET_BYTES = 32;

/** FFmpeg receive ports per stream: RTP/RTCP for audio and for up to three video layers (simulcast). */
export const PORTS_PER_LEASE = 8;

/** Linux's default ephemeral port range: outgoing sockets get ports from here, so we listen elsewhere. */
export const EPHEMERAL_PORTS = { min: 32768, max: 60999 } as const;

/**
 * Every environment variable the service reads, with its default. README.md documents each one.
 * Values arrive as strings; `validateEnvironment` converts them by the type of the default.
 */
export class EnvironmentSchema {
  @IsString() @MinLength(1) HOST: string = '0.0.0.0';
  @IsInt() @Min(0) @Max(65535) PORT: number = 4000;
  /** IP put in ICE candidates; empty means the first non-loopback IPv4 of this machine. */
  @IsOptional() @IsIP(4) ANNOUNCED_IP?: string;
  /** 0 means one worker per CPU core. */
  @IsInt() @Min(0) @Max(64) MEDIASOUP_WORKERS: number = 0;
  /** `true`/`1` or `false`/`0`. */
  @IsBoolean() WEBRTC_SERVER: boolean = true;
  /** Worker i listens for WebRTC on UDP and TCP port WEBRTC_SERVER_PORT + i (and further servers after all workers' first). */
  @IsInt() @Min(1) @Max(65535) WEBRTC_SERVER_PORT: number = 20000;
  /**
   * WebRtcServers (UDP + TCP ports) per worker: each socket has its own kernel receive buffer, and one
   * (208 KiB by default) drops datagrams from about 10 publishers per worker; four held 12 loss-free.
   */
  @IsInt() @Min(1) @Max(16) WEBRTC_SERVERS_PER_WORKER: number = 4;
  /**
   * Split evenly between workers: plain transports to FFmpeg, and WebRTC when WEBRTC_SERVER=false.
   * From 20300: the WebRtcServer ports below it fit 64 workers × 4 servers.
   */
  @IsInt() @Min(1024) @Max(65535) RTC_MIN_PORT: number = 20300;
  @IsInt() @Min(1024) @Max(65535) RTC_MAX_PORT: number = 21299;
  /** FFmpeg's RTP/RTCP receive ports: four per stream. */
  @IsInt() @Min(1024) @Max(65535) FFMPEG_MIN_PORT: number = 22000;
  @IsInt() @Min(1024) @Max(65535) FFMPEG_MAX_PORT: number = 23999;
  @IsString() @MinLength(1) FFMPEG_PATH: string = 'ffmpeg';
  @IsString() @MinLength(1) HLS_DIR: string = 'public/live';
  @IsNumber() @Min(0.5) @Max(10) HLS_SEGMENT_SECONDS: number = 1;
  @IsInt() @Min(2) @Max(100) HLS_LIST_SIZE: number = 6;
  /** Nominal duration of a Low-Latency part; PART-TARGET is derived from it (see README). */
  @IsNumber() @Min(0.1) @Max(2) HLS_PART_SECONDS: number = 0.2;
  /** Seconds the files stay after a publisher leaves; 0 deletes at once, -1 keeps every segment. */
  @IsInt() @Min(-1) @Max(86400) HLS_RETENTION_SECONDS: number = 15;
  /** Readiness fails when the HLS directory's disk has less free space than this. */
  @IsInt() @Min(0) HLS_MIN_FREE_MB: number = 256;
  /** Access-Control-Allow-Origin for /live (players on any page may watch by default). */
  @IsString() @MinLength(1) HLS_CORS_ORIGIN: string = '*';
  /** `copy` (H264 copied, VP8/VP9 to x264) or `legacy` (the original design: everything re-encoded). */
  @IsIn(['copy', 'legacy']) HLS_PROFILE: 'copy' | 'legacy' = 'copy';
  @IsString() @MinLength(1) X264_PRESET: string = 'veryfast';
  @IsInt() @Min(100) @Max(50000) X264_BITRATE_KBPS: number = 2500;
  /** VP8/VP9 simulcast: how many layers (the best flowing first) are transcoded, each its own rendition. */
  @IsInt() @Min(1) @Max(3) HLS_TRANSCODE_LAYERS: number = 1;
  @IsInt() @Min(32) @Max(512) AAC_BITRATE_KBPS: number = 128;
  @IsIn(['error', 'warn', 'log', 'debug', 'verbose']) LOG_LEVEL: 'error' | 'warn' | 'log' | 'debug' | 'verbose' = 'log';
  /** `pretty` (coloured lines, for people) or `json` (one object per line, for log pipelines). */
  @IsIn(['pretty', 'json']) LOG_FORMAT: 'pretty' | 'json' = 'pretty';
  /** On SIGTERM readiness fails this long before the server stops accepting (load balancers catch up). */
  @IsInt() @Min(0) @Max(60000) SHUTDOWN_GRACE_MS: number = 1000;
  /** `*` or a comma-separated list of origins allowed to call the REST API and socket.io. */
  @IsString() @MinLength(1) CORS_ORIGINS: string = '*';
  /** `off` (anyone may publish) or `token` (publishing needs a JWT whose `sub` is the stream name). */
  @IsIn(['off', 'token']) PUBLISH_AUTH: 'off' | 'token' = 'off';
  /** HS256 secret for publish tokens: at least 32 bytes (RFC 7518 3.2). Required with PUBLISH_AUTH=token. */
  @IsString() PUBLISH_JWT_SECRET: string = '';
  /** A publisher whose transport receives nothing (RTP, RTCP, STUN) for this long is gone. */
  @IsInt() @Min(2) @Max(600) PUBLISHER_TIMEOUT_SECONDS: number = 10;
  /** A named stream whose publisher is gone stays (filler, no ENDLIST) this long for it to come back. */
  @IsInt() @Min(0) @Max(3600) STREAM_RECONNECT_GRACE_SECONDS: number = 30;
  /** `true`: a second publisher with a valid claim on a live name takes it over; `false`: it gets STREAM_IN_USE. */
  @IsBoolean() STREAM_TAKEOVER: boolean = false;
  /**
   * Cluster mode: `redis://[user:password@]host:port[/db]` (or `rediss://`) of the Redis every node
   * shares. Empty: a single node, exactly as without a cluster.
   */
  @Matches(/^(|rediss?:\/\/\S+)$/, { message: 'must be empty or a redis:// or rediss:// URL' }) REDIS_URL: string = '';
  /** This node's id in the cluster, unique among running nodes (the pod name); empty: `<hostname>-<PORT>`. */
  @Matches(/^([A-Za-z0-9_.-]{1,64})?$/, { message: 'must be 1-64 letters, digits, _, . or -' }) NODE_ID: string = '';
  /** HTTP base address the other nodes reach this one at (proxying); empty: `http://<ANNOUNCED_IP>:<PORT>`. */
  @Matches(/^(|https?:\/\/[^\s/]+)$/, { message: 'must be empty or an http(s)://host[:port] address without a path' })
  NODE_ADDRESS: string = '';
  /** Publishers this node is meant to carry, shown to the other nodes (`/api/cluster`); 0: not declared. */
  @IsInt() @Min(0) @Max(100000) NODE_CAPACITY: number = 0;
  /** Prefix of every Redis key and channel, so several deployments can share one Redis. */
  @Matches(/^[A-Za-z0-9_.:-]{1,64}$/, { message: 'must be 1-64 letters, digits, _, ., : or -' }) CLUSTER_KEY_PREFIX: string = 'webrtc-hls:';
  /**
   * Publishing peers (send transports) this server accepts at once; 0 = no cap. Viewers are not counted.
   * Unset: what the benchmark held loss-free per core, times the cores (see defaultMaxPeers).
   */
  @IsOptional() @IsInt() @Min(0) @Max(100000) MAX_PEERS?: number;
  /** STUN servers WHIP clients are told about (Link headers of the 201): comma-separated stun:/stuns: URIs. */
  @IsString() WHIP_STUN_URLS: string = '';
  /** TURN servers for WHIP clients: comma-separated turn:/turns: URIs; need a username and credential, or a secret. */
  @IsString() WHIP_TURN_URLS: string = '';
  @IsString() WHIP_TURN_USERNAME: string = '';
  @IsString() WHIP_TURN_CREDENTIAL: string = '';
  /** The TURN server's shared secret (coturn use-auth-secret): each WHIP session gets its own time-limited credentials. */
  @IsString() WHIP_TURN_SECRET: string = '';
  /** How long such generated TURN credentials stay valid. */
  @IsInt() @Min(60) @Max(604800) WHIP_TURN_TTL_SECONDS: number = 86400;
}

export class ConfigValidationError extends Error {}

/** Variables without a default (another setting decides when unset), each with a value of its type for conversion. */
const UNSET_DEFAULTS: Record<string, unknown> = { ANNOUNCED_IP: '', MAX_PEERS: 0 };

/** Validates process.env; one error names every bad variable and what it accepts. */
export function validateEnvironment(raw: Record<string, unknown>): EnvironmentSchema {
  const env = new EnvironmentSchema();
  const fields = env as unknown as Record<string, unknown>;
  const present: Record<string, unknown> = {};
  for (const key of new Set([...Object.keys(env), ...Object.keys(UNSET_DEFAULTS)])) {
    if (raw[key] === undefined || raw[key] === '') continue; // unset or empty: the default
    present[key] = raw[key];
    fields[key] = convert(raw[key], fields[key] ?? UNSET_DEFAULTS[key]);
  }
  const errors = validateSync(env, { skipMissingProperties: false });
  const problems = errors.map((error) => {
    const got = JSON.stringify(present[error.property]);
    // Decorators register bottom-up: reversed, the type comes first and the bounds follow as written.
    return `${error.property}=${got}: ${Object.values(error.constraints ?? {})
      .reverse()
      .join('; ')}`;
  });
  problems.push(...crossFieldProblems(env, new Set(errors.map((error) => error.property))));
  if (problems.length > 0) {
    throw new ConfigValidationError(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
  return env;
}

/**
 * Converts by the default's type. Stricter than `Number()`/`Boolean()`: "0x10", "1e3" and " " are
 * not numbers, and "false" is not true; anything else stays a string so validation names it.
 */
function convert(value: unknown, defaultValue: unknown): unknown {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  if (typeof defaultValue === 'number') return /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : value;
  if (typeof defaultValue === 'boolean') {
    if (text === 'true' || text === '1') return true;
    if (text === 'false' || text === '0') return false;
  }
  return value;
}

/** Checks between variables; a check is skipped when one of its variables is already invalid on its own. */
function crossFieldProblems(env: EnvironmentSchema, invalid: Set<string>): string[] {
  const problems: string[] = [];
  const valid = (...names: (keyof EnvironmentSchema)[]) => names.every((name) => !invalid.has(name));
  const overlaps = (a: [number, number], b: [number, number]) => a[0] <= b[1] && b[0] <= a[1];
  const rtc: [number, number] = [env.RTC_MIN_PORT, env.RTC_MAX_PORT];
  const ffmpeg: [number, number] = [env.FFMPEG_MIN_PORT, env.FFMPEG_MAX_PORT];
  const rtcOk = valid('RTC_MIN_PORT', 'RTC_MAX_PORT');
  const ffmpegOk = valid('FFMPEG_MIN_PORT', 'FFMPEG_MAX_PORT');
  // 0 workers means one per core (see app.config.ts): check with the count that will really run.
  const workers = env.MEDIASOUP_WORKERS || availableParallelism();

  if (rtcOk && rtc[0] > rtc[1]) {
    problems.push(`RTC_MIN_PORT (${rtc[0]}) must not be above RTC_MAX_PORT (${rtc[1]})`);
  } else if (rtcOk && valid('MEDIASOUP_WORKERS') && rtc[1] - rtc[0] + 1 < workers) {
    problems.push(`RTC_MIN_PORT..RTC_MAX_PORT (${rtc[0]}-${rtc[1]}) must hold at least one port per mediasoup worker (${workers})`);
  }
  if (ffmpegOk && ffmpeg[0] > ffmpeg[1]) {
    problems.push(`FFMPEG_MIN_PORT (${ffmpeg[0]}) must not be above FFMPEG_MAX_PORT (${ffmpeg[1]})`);
  } else if (ffmpegOk && ffmpeg[1] - ffmpeg[0] + 1 < PORTS_PER_LEASE) {
    problems.push(`FFMPEG_MIN_PORT..FFMPEG_MAX_PORT (${ffmpeg[0]}-${ffmpeg[1]}) must hold at least ${PORTS_PER_LEASE} ports (one stream)`);
  }
  if (ffmpegOk && rtcOk && overlaps(ffmpeg, rtc)) {
    problems.push(
      `FFMPEG_MIN_PORT..FFMPEG_MAX_PORT (${ffmpeg[0]}-${ffmpeg[1]}) must not overlap RTC_MIN_PORT..RTC_MAX_PORT (${rtc[0]}-${rtc[1]})`,
    );
  }
  if (ffmpegOk && overlaps(ffmpeg, [EPHEMERAL_PORTS.min, EPHEMERAL_PORTS.max])) {
    problems.push(
      `FFMPEG_MIN_PORT..FFMPEG_MAX_PORT (${ffmpeg[0]}-${ffmpeg[1]}) must lie outside Linux's ephemeral range ${EPHEMERAL_PORTS.min}-${EPHEMERAL_PORTS.max}`,
    );
  }
  if (valid('HLS_PART_SECONDS', 'HLS_SEGMENT_SECONDS') && env.HLS_PART_SECONDS > env.HLS_SEGMENT_SECONDS / 2) {
    problems.push(
      `HLS_PART_SECONDS (${env.HLS_PART_SECONDS}) must be at most half of HLS_SEGMENT_SECONDS (${env.HLS_SEGMENT_SECONDS}): a segment holds several parts`,
    );
  }
  if (env.PUBLISH_AUTH === 'token' && valid('PUBLISH_AUTH', 'PUBLISH_JWT_SECRET')) {
    const bytes = Buffer.byteLength(env.PUBLISH_JWT_SECRET, 'utf8');
    if (bytes < MIN_SECRET_BYTES) {
      problems.push(`PUBLISH_JWT_SECRET must hold at least ${MIN_SECRET_BYTES} bytes with PUBLISH_AUTH=token (RFC 7518 3.2), got ${bytes}`);
    }
  }
  if (env.REDIS_URL !== '' && env.NODE_ADDRESS === '' && env.PORT === 0 && valid('REDIS_URL', 'NODE_ADDRESS', 'PORT')) {
    problems.push('NODE_ADDRESS must be set with REDIS_URL when PORT=0 (the other nodes need a port to reach this one at)');
  }
  if (env.WEBRTC_SERVER && valid('WEBRTC_SERVER', 'WEBRTC_SERVER_PORT', 'MEDIASOUP_WORKERS', 'WEBRTC_SERVERS_PER_WORKER')) {
    const servers = workers * env.WEBRTC_SERVERS_PER_WORKER;
    const server: [number, number] = [env.WEBRTC_SERVER_PORT, env.WEBRTC_SERVER_PORT + servers - 1];
    const what =
      env.WEBRTC_SERVERS_PER_WORKER === 1 ? `${workers} workers` : `${workers} workers × ${env.WEBRTC_SERVERS_PER_WORKER} servers`;
    if (server[1] > 65535) {
      problems.push(`WEBRTC_SERVER_PORT (${server[0]}) + ${what} - 1 must not exceed 65535`);
    }
    const clashes = [rtcOk && overlaps(server, rtc) && 'RTC', ffmpegOk && overlaps(server, ffmpeg) && 'FFMPEG'].filter(Boolean);
    if (clashes.length > 0) {
      problems.push(
        `WEBRTC_SERVER_PORT..+${servers - 1} (${server[0]}-${server[1]}, ${env.WEBRTC_SERVERS_PER_WORKER === 1 ? 'one per worker' : `${env.WEBRTC_SERVERS_PER_WORKER} per worker`}) must not overlap the ${clashes.join(' or ')} port range`,
      );
    }
  }
  problems.push(...whipIceProblems(env, valid));
  return problems;
}

/** The WHIP ICE servers: URIs that fit a Link header, and TURN with credentials (static, or a shared secret). */
function whipIceProblems(env: EnvironmentSchema, valid: (...names: (keyof EnvironmentSchema)[]) => boolean): string[] {
  const problems: string[] = [];
  if (valid('WHIP_STUN_URLS')) problems.push(...parseIceUrls(env.WHIP_STUN_URLS, 'stun').problems.map((p) => `WHIP_STUN_URLS: ${p}`));
  if (!valid('WHIP_TURN_URLS', 'WHIP_TURN_USERNAME', 'WHIP_TURN_CREDENTIAL', 'WHIP_TURN_SECRET')) return problems;
  const turn = parseIceUrls(env.WHIP_TURN_URLS, 'turn');
  problems.push(...turn.problems.map((p) => `WHIP_TURN_URLS: ${p}`));
  const staticCredentials = env.WHIP_TURN_USERNAME !== '' || env.WHIP_TURN_CREDENTIAL !== '';
  if (turn.urls.length > 0 && env.WHIP_TURN_SECRET === '' && (env.WHIP_TURN_USERNAME === '' || env.WHIP_TURN_CREDENTIAL === '')) {
    problems.push(
      'WHIP_TURN_URLS needs WHIP_TURN_USERNAME and WHIP_TURN_CREDENTIAL, or WHIP_TURN_SECRET (TURN servers refuse clients without credentials)',
    );
  }
  if (env.WHIP_TURN_SECRET !== '' && staticCredentials) {
    problems.push(
      'WHIP_TURN_SECRET and WHIP_TURN_USERNAME/WHIP_TURN_CREDENTIAL exclude each other: credentials come from the secret, or are given',
    );
  }
  for (const name of ['WHIP_TURN_USERNAME', 'WHIP_TURN_CREDENTIAL'] as const) {
    if (!isQuotable(env[name]))
      problems.push(`${name} must not contain a double quote, a backslash or a control character (it is sent in a Link header)`);
  }
  return problems;
}
