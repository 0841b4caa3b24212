import { Transform, plainToInstance } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsIP,
  IsNumber,
  IsOptional,
  IsString,
  Max,
  Min,
  MinLength,
  validateSync,
} from 'class-validator';

/** Linux's default ephemeral port range: outgoing sockets get ports from here, so we listen elsewhere. */
export const EPHEMERAL_PORTS = { min: 32768, max: 60999 } as const;

const toBool = ({ value }: { value: unknown }) =>
  value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value;

/**
 * Every environment variable the service reads, with its default. README.md documents each one.
 * Values arrive as strings; implicit conversion turns digits into numbers before validation.
 */
export class EnvironmentSchema {
  @IsString() @MinLength(1) HOST: string = '0.0.0.0';
  @IsInt() @Min(0) @Max(65535) PORT: number = 4000;
  /** IP put in ICE candidates; empty means the first non-loopback IPv4 of this machine. */
  @IsOptional() @IsIP(4) ANNOUNCED_IP?: string;
  /** 0 means one worker per CPU core. */
  @IsInt() @Min(0) @Max(64) MEDIASOUP_WORKERS: number = 0;
  @Transform(toBool) @IsBoolean() WEBRTC_SERVER: boolean = true;
  /** Worker i listens for WebRTC on UDP and TCP port WEBRTC_SERVER_PORT + i. */
  @IsInt() @Min(1) @Max(65535) WEBRTC_SERVER_PORT: number = 20000;
  /** Split evenly between workers: plain transports to FFmpeg, and WebRTC when WEBRTC_SERVER=false. */
  @IsInt() @Min(1024) @Max(65535) RTC_MIN_PORT: number = 20100;
  @IsInt() @Min(1024) @Max(65535) RTC_MAX_PORT: number = 21099;
  /** FFmpeg's RTP/RTCP receive ports: four per stream. */
  @IsInt() @Min(1024) @Max(65535) FFMPEG_MIN_PORT: number = 22000;
  @IsInt() @Min(1024) @Max(65535) FFMPEG_MAX_PORT: number = 23999;
  @IsString() @MinLength(1) FFMPEG_PATH: string = 'ffmpeg';
  @IsString() @MinLength(1) HLS_DIR: string = 'public/live';
  @IsNumber() @Min(0.5) @Max(10) HLS_SEGMENT_SECONDS: number = 1;
  @IsInt() @Min(2) @Max(100) HLS_LIST_SIZE: number = 6;
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
  @IsInt() @Min(32) @Max(512) AAC_BITRATE_KBPS: number = 128;
  @IsIn(['error', 'warn', 'log', 'debug', 'verbose']) LOG_LEVEL: 'error' | 'warn' | 'log' | 'debug' | 'verbose' = 'log';
  /** On SIGTERM readiness fails this long before the server stops accepting (load balancers catch up). */
  @IsInt() @Min(0) @Max(60000) SHUTDOWN_GRACE_MS: number = 1000;
  /** `*` or a comma-separated list of origins allowed to call the REST API and socket.io. */
  @IsString() @MinLength(1) CORS_ORIGINS: string = '*';
}

export class ConfigValidationError extends Error {}

/** Validates process.env; one error names every bad variable and what it accepts. */
export function validateEnvironment(raw: Record<string, unknown>): EnvironmentSchema {
  const present = Object.fromEntries(
    Object.keys(new EnvironmentSchema())
      .concat('ANNOUNCED_IP')
      .filter((key) => raw[key] !== undefined && raw[key] !== '')
      .map((key) => [key, raw[key]]),
  );
  const env = plainToInstance(EnvironmentSchema, present, { enableImplicitConversion: true });
  const problems = validateSync(env, { skipMissingProperties: false }).map((error) => {
    const got = JSON.stringify(present[error.property]);
    return `${error.property}=${got}: ${Object.values(error.constraints ?? {}).join('; ')}`;
  });
  problems.push(...crossFieldProblems(env));
  if (problems.length > 0) {
    throw new ConfigValidationError(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
  return env;
}

function crossFieldProblems(env: EnvironmentSchema): string[] {
  const problems: string[] = [];
  const range = (name: string, min: number, max: number) => {
    if (min > max) problems.push(`${name}_MIN_PORT (${min}) must not be above ${name}_MAX_PORT (${max})`);
  };
  range('RTC', env.RTC_MIN_PORT, env.RTC_MAX_PORT);
  range('FFMPEG', env.FFMPEG_MIN_PORT, env.FFMPEG_MAX_PORT);
  const overlaps = (a: [number, number], b: [number, number]) => a[0] <= b[1] && b[0] <= a[1];
  const ffmpeg: [number, number] = [env.FFMPEG_MIN_PORT, env.FFMPEG_MAX_PORT];
  const rtc: [number, number] = [env.RTC_MIN_PORT, env.RTC_MAX_PORT];
  if (overlaps(ffmpeg, rtc)) problems.push('FFMPEG_MIN_PORT..FFMPEG_MAX_PORT must not overlap RTC_MIN_PORT..RTC_MAX_PORT');
  if (overlaps(ffmpeg, [EPHEMERAL_PORTS.min, EPHEMERAL_PORTS.max])) {
    problems.push(
      `FFMPEG_MIN_PORT..FFMPEG_MAX_PORT must lie outside Linux's ephemeral range ${EPHEMERAL_PORTS.min}-${EPHEMERAL_PORTS.max}`,
    );
  }
  if (env.WEBRTC_SERVER) {
    const workers = Math.max(env.MEDIASOUP_WORKERS, 1);
    const server: [number, number] = [env.WEBRTC_SERVER_PORT, env.WEBRTC_SERVER_PORT + workers - 1];
    if (overlaps(server, rtc) || overlaps(server, ffmpeg)) {
      problems.push('WEBRTC_SERVER_PORT..(+ workers - 1) must not overlap the RTC or FFMPEG port ranges');
    }
  }
  return problems;
}
