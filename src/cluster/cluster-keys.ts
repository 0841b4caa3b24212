/**
 * Every Redis key and channel of the cluster layer, in one place (see the design note in
 * cluster-registry.ts). The snapshot and locate scripts rebuild node and stream keys from the
 * prefix, so these formats and theirs must stay in step.
 */
export interface ClusterKeys {
  prefix: string;
  /** String (JSON NodeRecord), PX ttl. */
  node(id: string): string;
  /** Set of node ids: the index the snapshot walks (entries whose record expired are pruned there). */
  nodes: string;
  /** Hash (name, node, address, lease, state, meta, claimedAt, updatedAt, renewedAt), PX ttl. */
  stream(name: string): string;
  /** Set of stream names, pruned like `nodes`. */
  streams: string;
  /** String (JSON ContinuityRecord), PX continuity ttl. */
  continuity(name: string): string;
  /** Pub/sub channel of stream events. */
  events: string;
}

export const DEFAULT_KEY_PREFIX = 'webrtc-hls:';

export function clusterKeys(prefix = DEFAULT_KEY_PREFIX): ClusterKeys {
  return {
    prefix,
    node: (id) => `${prefix}node:${id}`,
    nodes: `${prefix}nodes`,
    stream: (name) => `${prefix}stream:${name}`,
    streams: `${prefix}streams`,
    continuity: (name) => `${prefix}continuity:${name}`,
    events: `${prefix}events`,
  };
}
