import { ConfigType, registerAs } from '@nestjs/config';
import { availableParallelism, hostname, networkInterfaces } from 'node:os';
import { resolve } from 'node:path';
import { validateEnvironment } from './env.schema';
import { parseIceUrls } from './ice-servers';

export interface PortRange {
  min: number;
  max: number;
}

/** The one typed view of configuration the rest of the service injects. */
export const appConfig = registerAs('app', () => {
  const env = validateEnvironment(process.env);
  const announcedIp = env.ANNOUNCED_IP ?? firstPublicIpv4() ?? '127.0.0.1';
  return {
    host: env.HOST,
    port: env.PORT,
    announcedIp,
    corsOrigins: parseOrigins(env.CORS_ORIGINS),
    logLevel: env.LOG_LEVEL,
    logFormat: env.LOG_FORMAT,
    shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
    /** The node in the cluster; `redisUrl` null: a single node (no Redis, nothing shared). */
    cluster: {
      redisUrl: env.REDIS_URL || null,
      nodeId: env.NODE_ID || `${hostname()}-${env.PORT}`,
      address: env.NODE_ADDRESS || `http://${announcedIp}:${env.PORT}`,
      capacity: env.NODE_CAPACITY,
      keyPrefix: env.CLUSTER_KEY_PREFIX,
    },
    streams: {
      publishAuth: env.PUBLISH_AUTH,
      jwtSecret: env.PUBLISH_JWT_SECRET,
      publisherTimeoutMs: env.PUBLISHER_TIMEOUT_SECONDS * 1000,
      reconnectGraceMs: env.STREAM_RECONNECT_GRACE_SECONDS * 1000,
      takeover: env.STREAM_TAKEOVER,
    },
    /** Publishing peers at once (0 = no cap). */
    maxPeers: env.MAX_PEERS ?? defaultMaxPeers(env.HLS_PROFILE, availableParallelism()),
    whip: {
      stunUrls: parseIceUrls(env.WHIP_STUN_URLS, 'stun').urls,
      turn: {
        urls: parseIceUrls(env.WHIP_TURN_URLS, 'turn').urls,
        username: env.WHIP_TURN_USERNAME,
        credential: env.WHIP_TURN_CREDENTIAL,
        secret: env.WHIP_TURN_SECRET,
        ttlSeconds: env.WHIP_TURN_TTL_SECONDS,
      },
    },
    mediasoup: {
      // availableParallelism, unlike cpus().length, is never 0 (cpus() can be empty in containers).
      workers: env.MEDIASOUP_WORKERS || availableParallelism(),
      webRtcServer: env.WEBRTC_SERVER,
      webRtcServerPort: env.WEBRTC_SERVER_PORT,
      webRtcServersPerWorker: env.WEBRTC_SERVERS_PER_WORKER,
      rtcPorts: { min: env.RTC_MIN_PORT, max: env.RTC_MAX_PORT } as PortRange,
    },
    hls: {
      dir: resolve(env.HLS_DIR),
      segmentSeconds: env.HLS_SEGMENT_SECONDS,
      listSize: env.HLS_LIST_SIZE,
      partSeconds: env.HLS_PART_SECONDS,
      retentionSeconds: env.HLS_RETENTION_SECONDS,
      minFreeBytes: env.HLS_MIN_FREE_MB * 1024 * 1024,
      corsOrigin: env.HLS_CORS_ORIGIN,
      profile: env.HLS_PROFILE,
    },
    ffmpeg: {
      path: env.FFMPEG_PATH,
      ports: { min: env.FFMPEG_MIN_PORT, max: env.FFMPEG_MAX_PORT } as PortRange,
      x264Preset: env.X264_PRESET,
      x264BitrateKbps: env.X264_BITRATE_KBPS,
      transcodeLayers: env.HLS_TRANSCODE_LAYERS,
      aacBitrateKbps: env.AAC_BITRATE_KBPS,
    },
  };
});

export type AppConfig = ConfigType<typeof appConfig>;

/**
 * 720p30 H264 + Opus publishers one core carried with no packet lost, from `npm run bench` on a 2-core
 * VM whose core ran slow (calibration 182-200 ms, README "Benchmark"): the lower of the last two runs'
 * figures (copy 15 and 10, legacy 5 and 5). A publisher over it costs every stream on the server
 * broken pictures, so the server refuses it instead.
 */
export const LOSS_FREE_PUBLISHERS_PER_CORE: Record<'copy' | 'legacy', number> = { copy: 10, legacy: 5 };

/** MAX_PEERS when it is not set: the loss-free figure of the profile for every core the server has. */
export function defaultMaxPeers(profile: 'copy' | 'legacy', cores: number): number {
  return LOSS_FREE_PUBLISHERS_PER_CORE[profile] * Math.max(1, cores);
}

export function parseOrigins(value: string): string[] | '*' {
  if (value.trim() === '*') return '*';
  return value
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
}

export function firstPublicIpv4(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    const found = addresses?.find((a) => a.family === 'IPv4' && !a.internal);
    if (found) return found.address;
  }
  return undefined;
}
