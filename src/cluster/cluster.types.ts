/**
 * The cluster layer's public shapes: what a node and a stream look like to the other nodes, what
 * the calls answer, and the local events a node listens to. `Cluster` is implemented by
 * `ClusterRegistry` (Redis) and by `LocalCluster` (single node, `REDIS_URL` unset).
 */

/** A stream's lifecycle as the cluster sees it. A stream that is `ended` no longer blocks its name. */
export type StreamState = 'starting' | 'live' | 'parked' | 'ended';
export const STREAM_STATES: readonly StreamState[] = ['starting', 'live', 'parked', 'ended'];

/** Small JSON data the holder shares with the other nodes (e.g. codecs, publisher kind). */
export type StreamMeta = Record<string, unknown>;

export interface StreamInfo {
  state: StreamState;
  meta?: StreamMeta;
}

export interface ClusterNodeOptions {
  /** Unique among the running nodes (e.g. the pod name); a node restarted with the same id inherits its old claims. */
  nodeId: string;
  /** HTTP base address the other nodes reach this one at, e.g. `http://10.0.0.5:4000`. */
  address: string;
  /** How many publishers this node accepts (shown to the others; the registry does not enforce it). */
  capacity: number;
}

export interface ClusterRegistryOptions extends ClusterNodeOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`). */
  redisUrl: string;
  /** Prefix of every key and of the event channel, so several deployments can share one Redis. */
  keyPrefix?: string;
  /** How often the node renews its record and its streams' leases. Default 2000. */
  heartbeatMs?: number;
  /** Lifetime of the node record and of each lease without renewal; at least twice `heartbeatMs`. Default 6000. */
  ttlMs?: number;
  /** Lifetime of a stream's saved numbering; longer than the reconnect grace. Default 120000. */
  continuityTtlMs?: number;
  /** A command without an answer after this long fails (and marks Redis down). Default 1000. */
  commandTimeoutMs?: number;
  /** Current load shown in the node record; defaults to the number of streams this node holds. */
  load?: () => number;
}

export interface NodeRecord {
  id: string;
  address: string;
  capacity: number;
  load: number;
  /** Streams this node holds. */
  streams: number;
  /** Epoch ms, the node's clock. */
  startedAt: number;
  heartbeatAt: number;
}

export interface StreamRecord {
  name: string;
  node: string;
  /** The holder's HTTP address, for proxying without a second lookup. */
  address: string;
  state: StreamState;
  meta: StreamMeta;
  /** Opaque id of this claim: `takeover(name, info, { lease })` replaces exactly this claim. */
  lease: string;
  /** Epoch ms, Redis's clock. */
  claimedAt: number;
  updatedAt: number;
  /** Since the holder last renewed the lease (Redis's clock): more than two heartbeats means it is likely dead. */
  idleMs: number;
}

/**
 * `mode: 'local'`: Redis was unreachable, the claim is held by this node only and is asserted in
 * the cluster when Redis returns (a conflicting holder then wins, and this node gets `lost`).
 */
export type ClaimResult = { ok: true; mode: 'cluster' | 'local'; previous?: StreamRecord } | { ok: false; holder: StreamRecord };

export interface TakeoverOptions {
  /** Take over only if this claim (a holder's `lease`) still holds the name: of two racing takeovers one wins. */
  lease?: string;
}

export interface ContinuityRecord<T> {
  name: string;
  /** The node that saved it. */
  node: string;
  savedAt: number;
  data: T;
}

export type ClusterEventType = 'peerLive' | 'peerLeft' | 'publisherChanged';
export const CLUSTER_EVENT_TYPES: readonly ClusterEventType[] = ['peerLive', 'peerLeft', 'publisherChanged'];

export interface ClusterEvent {
  type: ClusterEventType;
  stream: string;
  data?: Record<string, unknown>;
}

/** An event from another node (a node never receives its own). */
export interface ReceivedClusterEvent extends ClusterEvent {
  node: string;
  /** Epoch ms, the sender's clock. */
  at: number;
}

export interface ClusterStatus {
  state: 'up' | 'down';
  mode: 'cluster' | 'single';
  /** Why it is down (e.g. `redis connection lost: connect ECONNREFUSED 127.0.0.1:6379`). */
  reason?: string;
  /** Epoch ms of the last change. */
  since: number;
}

/** This node no longer holds a stream it claimed: it should stop serving it as the holder. */
export interface StreamLost {
  name: string;
  /** The claim now holding the name, when known. */
  holder: StreamRecord | null;
  /** The node now holding the name, when known (from the claim, or from the takeover's event). */
  node: string | null;
  /** `taken-over`: another node took it over; `conflict`: claimed locally during an outage, another node held it when Redis returned. */
  reason: 'taken-over' | 'conflict';
}

/** One look at the cluster: live nodes and the streams they hold. */
export interface ClusterSnapshot {
  nodes: NodeRecord[];
  streams: StreamRecord[];
}

/** What changed in the cluster since the previous heartbeat's look. */
export interface ClusterViewChange {
  nodesAdded: NodeRecord[];
  nodesRemoved: NodeRecord[];
  streamsAdded: StreamRecord[];
  /** Released, ended by lease expiry, or gone with their node. */
  streamsRemoved: StreamRecord[];
  /** Another holder, state or meta. */
  streamsChanged: StreamRecord[];
}

export interface ClusterEvents {
  status: [ClusterStatus];
  event: [ReceivedClusterEvent];
  lost: [StreamLost];
  view: [ClusterViewChange];
}

export type ClusterListener<K extends keyof ClusterEvents> = (...args: ClusterEvents[K]) => void;

/**
 * Reads (`nodes`, `streams`, `locate`, `loadContinuity`) reject with `ClusterUnavailableError`
 * while Redis is down; writes (`claim`, `takeover`, `update`, `saveContinuity`) are kept locally and
 * asserted when Redis returns; `publish` is dropped (the view diff after recovery catches up).
 */
export interface Cluster {
  readonly nodeId: string;
  start(): Promise<void>;
  /** `deregister: false` leaves the records to expire, as a crash would. */
  close(options?: { deregister?: boolean }): Promise<void>;
  status(): ClusterStatus;
  on<K extends keyof ClusterEvents>(name: K, listener: ClusterListener<K>): () => void;

  claim(name: string, info: StreamInfo): Promise<ClaimResult>;
  takeover(name: string, info: StreamInfo, options?: TakeoverOptions): Promise<ClaimResult>;
  update(name: string, state: StreamState, meta?: StreamMeta): Promise<boolean>;
  release(name: string): Promise<boolean>;
  holds(name: string): boolean;

  /**
   * The last heartbeat's look at the cluster (at most one heartbeat old; kept, not cleared, while
   * Redis is down): for hot paths that must not wait on Redis. The `view` event reports its changes.
   */
  view(): ClusterSnapshot;
  nodes(): Promise<NodeRecord[]>;
  streams(): Promise<StreamRecord[]>;
  locate(name: string): Promise<StreamRecord | null>;

  saveContinuity<T>(name: string, data: T): Promise<boolean>;
  loadContinuity<T>(name: string): Promise<ContinuityRecord<T> | null>;

  publish(event: ClusterEvent): Promise<boolean>;
}
