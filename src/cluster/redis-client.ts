import Redis from 'ioredis';

/** Reconnect attempts back off to this at most, so a returning Redis is found within about a second. */
export const RECONNECT_CAP_MS = 1000;

/**
 * An ioredis connection for the registry, tuned so that no call waits on a Redis that is away:
 *
 * - `enableOfflineQueue: false`: a command sent while disconnected is rejected at once instead of
 *   queued until the connection returns (the registry then answers locally, see ClusterRegistry).
 * - `maxRetriesPerRequest: 0`: commands already sent when the connection drops are rejected on the
 *   first close instead of after 20 reconnect attempts (the default, ~1 min with back-off).
 * - `autoResendUnfulfilledCommands: false`: an old claim or release must not be replayed by itself
 *   minutes later; the heartbeat re-asserts the current truth after a reconnect instead.
 * - `commandTimeout`: a Redis that accepts the connection but does not answer (paused, overloaded,
 *   a half-open TCP connection) fails the command after that long, rather than never.
 * - `retryStrategy`: keep reconnecting forever, backing off to RECONNECT_CAP_MS (the default caps at
 *   5 s, which would add up to 5 s to every recovery).
 * - `autoResubscribe: false`: the registry subscribes again itself on every `ready`, and only then
 *   counts the subscriber as up.
 * - `lazyConnect`: the registry connects in `start()`, after its listeners are attached.
 */
export function createRedisClient(url: string, connectionName: string, commandTimeoutMs: number): Redis {
  return new Redis(url, {
    // Shown by CLIENT LIST; Redis refuses names with spaces (and would refuse the connection with it).
    connectionName: connectionName.replace(/[^\w.:-]/g, '_'),
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: Math.max(commandTimeoutMs, 2000),
    retryStrategy: (times) => Math.min(50 * 2 ** times, RECONNECT_CAP_MS) + Math.floor(Math.random() * 100),
  });
}
