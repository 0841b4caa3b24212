/**
 * ClusterRegistry: several nodes as one cluster, with Redis as the shared registry and message bus.
 *
 * Design note
 * -----------
 * Keys (prefix `webrtc-hls:` by default, see cluster-keys.ts):
 * - `node:<id>`            string, JSON NodeRecord, PX ttl (6 s). Written by every heartbeat (2 s).
 * - `nodes`                set of node ids, the index `nodes()` walks; ids whose record expired are pruned there.
 * - `stream:<name>`        hash {name, node, address, lease, state, meta, claimedAt, updatedAt, renewedAt},
 *                          PX ttl (6 s), renewed by its holder's heartbeat.
 * - `streams`              set of stream names, pruned like `nodes`.
 * - `continuity:<name>`    string, JSON {name, node, savedAt, data}, PX 120 s.
 * - channel `events`       JSON {v, node, instance, at, type, stream, data}.
 *
 * Why:
 * - Liveness is Redis's own key expiry, not a timestamp that a sweeper compares: a dead node needs
 *   nobody to clean up after it, and GET never returns an expired key, so lists are exact even
 *   before Redis evicts it. TTL 6 s = three missed heartbeats (one late heartbeat under load does
 *   not drop a node); the view that other nodes diff is refreshed every heartbeat, so a dead node
 *   and its streams leave every list at most ttl + heartbeat (8 s) after its last heartbeat.
 * - Leases have the node's TTL and are renewed by the same heartbeat: a stream vanishes with its
 *   node. `streams()` also hides streams whose node record is gone.
 * - Every check-and-write is one Lua script (registry-scripts.ts), so two nodes claiming one name
 *   at once get exactly one winner, `release` deletes only its own claim, and a stale holder can
 *   neither renew nor overwrite another's continuity. Each claim has a random `lease` id: a
 *   takeover can name the claim it replaces (compare-and-swap), and a restarted node with the same
 *   id never mistakes its previous life's claims for its own (they are free for it to claim).
 * - A clean leave (`close()`) is one script too: the others see the node and its streams go in
 *   the same look, at their next heartbeat.
 * - The indexes are sets rather than SCAN over key patterns: SCAN walks the whole keyspace of a
 *   shared Redis and may return a key twice.
 * - Continuity outlives the lease (120 s > the 30 s reconnect grace) so another node can continue
 *   a stream's numbering after its holder died. Only the current holder may save it.
 * - Ages (`idleMs`, claimedAt) come from Redis's clock (TIME in the scripts): node clocks may differ.
 * - Events go over pub/sub on a second connection (a subscribed connection can do nothing else).
 *   Pub/sub is fire-and-forget: a node that was away misses events, which is why the cluster view
 *   is also diffed every heartbeat (`view` event; `view()` returns the last look without asking
 *   Redis) and re-read after a reconnect.
 *
 * Degraded mode (Redis unreachable or not answering within commandTimeoutMs): `status()` is `down`
 * with the reason, and nothing waits for Redis (see redis-client.ts for the ioredis options):
 * - reads (`nodes`, `streams`, `locate`, `loadContinuity`) reject at once with ClusterUnavailableError;
 * - `claim`/`takeover` succeed locally (`mode: 'local'`): two nodes may then both accept a name;
 * - `update`/`saveContinuity` are kept in memory and answer false; `release` forgets locally;
 * - `publish` answers false (the event is lost).
 * When both connections are back, the heartbeat re-registers the node, re-asserts every claim it
 * holds (re-creating what a restarted, empty Redis lost; a name another node asserted first is
 * reported `lost` with reason `conflict`), re-saves the last continuity of each, and only then
 * reports `up`. No restart is needed.
 *
 * Not handled: Redis Cluster (sharded) — the scripts touch keys they do not declare; use a single
 * Redis (with Sentinel or a managed failover for availability).
 */
import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { errorMessage, InvalidStateError } from '../common/errors';
import { ClusterEmitter } from './cluster-emitter';
import { clusterKeys, ClusterKeys } from './cluster-keys';
import { encodeEvent, encodeMeta, parseContinuity, parseEventMessage, parseNodeJson, parseStreamHash } from './cluster-records';
import { ClusterSnapshot, diffSnapshots, EMPTY_SNAPSHOT, isEmptyChange } from './cluster-view';
import { ClusterUnavailableError } from './cluster.errors';
import {
  ClaimResult,
  Cluster,
  ClusterEvent,
  ClusterEvents,
  ClusterListener,
  ClusterRegistryOptions,
  ClusterStatus,
  ContinuityRecord,
  NodeRecord,
  ReceivedClusterEvent,
  StreamInfo,
  StreamMeta,
  StreamRecord,
  StreamState,
  TakeoverOptions,
} from './cluster.types';
import { createRedisClient } from './redis-client';
import { CLAIM, DEREGISTER, HEARTBEAT, LOCATE, RELEASE, SAVE_CONTINUITY, SNAPSHOT } from './registry-scripts';

export const CLUSTER_DEFAULTS = { heartbeatMs: 2000, ttlMs: 6000, continuityTtlMs: 120_000, commandTimeoutMs: 1000 } as const;

/** A claim this node holds. `local`: made while Redis was down, not yet asserted in the cluster. */
interface HeldStream {
  lease: string;
  state: StreamState;
  meta: string;
  local: boolean;
}

/**
 * Errors that mean "Redis is not reachable or not answering" (connection closed, not writable,
 * timed out, LOADING…), as opposed to a bug in a script, which is thrown to the caller.
 */
function isUnavailable(error: unknown): boolean {
  return !(error instanceof Error && error.name === 'ReplyError' && /script/i.test(error.message));
}

export class ClusterRegistry implements Cluster {
  readonly nodeId: string;
  private readonly logger = new Logger(ClusterRegistry.name);
  private readonly address: string;
  private readonly capacity: number;
  private readonly heartbeatMs: number;
  private readonly ttlMs: number;
  private readonly continuityTtlMs: number;
  private readonly load?: () => number;
  private readonly keys: ClusterKeys;
  /** Tells this process's claims and events from those of an earlier process with the same node id. */
  private readonly instance = randomUUID();
  private readonly startedAt = Date.now();
  private readonly emitter = new ClusterEmitter(this.logger);
  private readonly commands: Redis;
  /** Pub/sub needs a connection of its own. */
  private readonly subscriber: Redis;
  private readonly held = new Map<string, HeldStream>();
  /** Last continuity JSON per held stream, written again after an outage (Redis may have restarted empty). */
  private readonly continuity = new Map<string, string>();
  /** Per-name queue: two calls for one name from this node never interleave. */
  private readonly nameLocks = new Map<string, Promise<unknown>>();
  private current: ClusterStatus;
  private lastView: ClusterSnapshot = EMPTY_SNAPSHOT;
  private lastError = '';
  private subscribed = false;
  private subscribing?: Promise<void>;
  private beating?: Promise<void>;
  private beatAgain = false;
  private timer?: NodeJS.Timeout;
  private started = false;
  private closed = false;

  constructor(options: ClusterRegistryOptions) {
    const heartbeatMs = options.heartbeatMs ?? CLUSTER_DEFAULTS.heartbeatMs;
    const ttlMs = options.ttlMs ?? CLUSTER_DEFAULTS.ttlMs;
    const continuityTtlMs = options.continuityTtlMs ?? CLUSTER_DEFAULTS.continuityTtlMs;
    const commandTimeoutMs = options.commandTimeoutMs ?? CLUSTER_DEFAULTS.commandTimeoutMs;
    if (!options.nodeId) throw new TypeError('nodeId is required');
    if (!/^https?:\/\/\S+$/.test(options.address)) throw new TypeError(`address must be an http(s) URL, got '${options.address}'`);
    if (!(options.capacity >= 0)) throw new TypeError('capacity must be 0 or more');
    if (!(heartbeatMs > 0 && commandTimeoutMs > 0)) throw new TypeError('heartbeatMs and commandTimeoutMs must be positive');
    // Two missed heartbeats must not expire a live node; continuity must outlive the lease.
    if (!(ttlMs >= 2 * heartbeatMs)) throw new TypeError(`ttlMs (${ttlMs}) must be at least twice heartbeatMs (${heartbeatMs})`);
    if (!(continuityTtlMs > ttlMs)) throw new TypeError(`continuityTtlMs (${continuityTtlMs}) must exceed ttlMs (${ttlMs})`);

    this.nodeId = options.nodeId;
    this.address = options.address;
    this.capacity = options.capacity;
    this.heartbeatMs = heartbeatMs;
    this.ttlMs = ttlMs;
    this.continuityTtlMs = continuityTtlMs;
    this.load = options.load;
    this.keys = clusterKeys(options.keyPrefix);
    this.current = { state: 'down', mode: 'cluster', reason: 'not started', since: Date.now() };
    this.commands = createRedisClient(options.redisUrl, `webrtc-hls:${this.nodeId}`, commandTimeoutMs);
    this.subscriber = createRedisClient(options.redisUrl, `webrtc-hls:${this.nodeId}:events`, commandTimeoutMs);
    this.watchConnection(this.commands, 'commands');
    this.watchConnection(this.subscriber, 'subscriber');
    this.subscriber.on('message', (channel: string, message: string) => this.onMessage(channel, message));
  }

  // ── lifecycle ─────────────────────────────────────────────────────────────────────────────────

  /** Connects and registers; resolves either way (down with the reason if Redis is unreachable). */
  async start(): Promise<void> {
    if (this.started) throw new InvalidStateError('cluster registry already started');
    this.started = true;
    this.current = { ...this.current, reason: 'connecting' };
    await Promise.allSettled([this.commands.connect(), this.subscriber.connect()]);
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.heartbeatMs);
    this.timer.unref();
    if (this.current.state === 'down') this.logger.warn(`[node:${this.nodeId}] started without the cluster: ${this.current.reason}`);
  }

  /**
   * Leaves the cluster: releases every claim and removes the node record, so the others see it go
   * at their next heartbeat. `deregister: false` only drops the connections, as a crash would:
   * the records expire after the TTL.
   */
  async close({ deregister = true }: { deregister?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.beating;
    if (deregister && this.current.state === 'up') {
      try {
        const held = [...this.held];
        await DEREGISTER.run(
          this.commands,
          [this.keys.node(this.nodeId), this.keys.nodes, this.keys.streams, ...held.map(([name]) => this.keys.stream(name))],
          [this.nodeId, ...held.flatMap(([name, { lease }]) => [name, lease])],
        );
      } catch (error) {
        this.logger.warn(`[node:${this.nodeId}] could not deregister (the records expire by themselves): ${errorMessage(error)}`);
      }
    }
    this.held.clear();
    this.continuity.clear();
    this.setStatus({ state: 'down', mode: 'cluster', reason: 'closed', since: Date.now() });
    this.emitter.clear();
    // quit() on a client that never connected would connect it first.
    if (deregister && this.started) await Promise.allSettled([this.commands.quit(), this.subscriber.quit()]);
    this.commands.disconnect();
    this.subscriber.disconnect();
  }

  status(): ClusterStatus {
    return { ...this.current };
  }

  on<K extends keyof ClusterEvents>(name: K, listener: ClusterListener<K>): () => void {
    return this.emitter.on(name, listener);
  }

  // ── claims ────────────────────────────────────────────────────────────────────────────────────

  /**
   * Claims a name for this node. Atomic across nodes: of two concurrent claims exactly one wins;
   * the other gets the holder. A name this node already holds is answered `ok` (the caller
   * arbitrates between its own publishers) and its info is refreshed. An `ended` record does not
   * block the name.
   */
  claim(name: string, info: StreamInfo): Promise<ClaimResult> {
    return this.withNameLock(name, () => this.acquire(name, info, 'claim', ''));
  }

  /**
   * Claims a name whoever holds it (the caller has decided that the takeover rules allow it). With
   * `lease`, only if that claim still holds it, so two nodes taking over the same holder cannot
   * both win. The previous holder learns it at once through a `publisherChanged` event (and at
   * its next heartbeat at the latest) and emits `lost`.
   */
  takeover(name: string, info: StreamInfo, options: TakeoverOptions = {}): Promise<ClaimResult> {
    return this.withNameLock(name, async () => {
      const result = await this.acquire(name, info, 'takeover', options.lease ?? '');
      if (result.ok && result.mode === 'cluster' && result.previous && result.previous.node !== this.nodeId) {
        const held = this.held.get(name)!;
        void this.publish({
          type: 'publisherChanged',
          stream: name,
          data: { lease: held.lease, previousNode: result.previous.node, previousLease: result.previous.lease },
        });
      }
      return result;
    });
  }

  /** Records a held stream's state (and meta); false if it is not held, or kept locally while Redis is down. */
  update(name: string, state: StreamState, meta?: StreamMeta): Promise<boolean> {
    return this.withNameLock(name, async () => {
      const held = this.held.get(name);
      if (!held) return false;
      held.state = state;
      if (meta !== undefined) held.meta = encodeMeta(meta);
      if (!this.isUp()) return false;
      try {
        const lost = await this.heartbeat([name]);
        return lost.length === 0;
      } catch (error) {
        this.unavailable(error, 'update');
        return false;
      }
    });
  }

  /** Gives a name up if this node still holds it (compare and delete); true if the cluster record was removed. */
  release(name: string): Promise<boolean> {
    return this.withNameLock(name, async () => {
      const held = this.held.get(name);
      if (!held) return false;
      this.held.delete(name);
      this.continuity.delete(name);
      if (!this.isUp()) return false; // the lease expires by itself
      try {
        return (await RELEASE.run(this.commands, [this.keys.stream(name), this.keys.streams], [name, held.lease])) === 1;
      } catch (error) {
        this.unavailable(error, 'release');
        return false;
      }
    });
  }

  holds(name: string): boolean {
    return this.held.has(name);
  }

  // ── reads ─────────────────────────────────────────────────────────────────────────────────────

  view(): ClusterSnapshot {
    return { nodes: [...this.lastView.nodes], streams: [...this.lastView.streams] };
  }

  async nodes(): Promise<NodeRecord[]> {
    return (await this.snapshot('nodes')).nodes;
  }

  async streams(): Promise<StreamRecord[]> {
    return (await this.snapshot('streams')).streams;
  }

  /** Who holds a name (null if nobody, or if its node is dead): the address to proxy to. */
  async locate(name: string): Promise<StreamRecord | null> {
    this.requireUp();
    try {
      const [record, now] = (await LOCATE.run(this.commands, [this.keys.stream(name)], [this.keys.prefix])) as [unknown, number];
      return parseStreamHash(record, now);
    } catch (error) {
      throw this.unavailable(error, 'locate');
    }
  }

  // ── continuity ────────────────────────────────────────────────────────────────────────────────

  /**
   * Saves a held stream's numbering state (any JSON) for whichever node continues it. True once it
   * is in Redis; false if this node does not hold the stream (any more), or Redis is down (the
   * last value is then written when Redis returns).
   */
  async saveContinuity<T>(name: string, data: T): Promise<boolean> {
    const held = this.held.get(name);
    if (!held) return false;
    const json = JSON.stringify({ name, node: this.nodeId, savedAt: Date.now(), data });
    this.continuity.set(name, json);
    if (!this.isUp()) return false;
    try {
      return await this.writeContinuity(name, held.lease, json);
    } catch (error) {
      this.unavailable(error, 'saveContinuity');
      return false;
    }
  }

  async loadContinuity<T>(name: string): Promise<ContinuityRecord<T> | null> {
    this.requireUp();
    try {
      return parseContinuity<T>(await this.commands.get(this.keys.continuity(name)));
    } catch (error) {
      throw this.unavailable(error, 'loadContinuity');
    }
  }

  // ── events ────────────────────────────────────────────────────────────────────────────────────

  /** Sends an event to the other nodes (not to this one); false if it could not be sent. */
  async publish(event: ClusterEvent): Promise<boolean> {
    if (!this.isUp()) return false;
    try {
      await this.commands.publish(this.keys.events, encodeEvent(event, this.nodeId, this.instance, Date.now()));
      return true;
    } catch (error) {
      this.unavailable(error, 'publish');
      return false;
    }
  }

  private onMessage(channel: string, message: string): void {
    if (channel !== this.keys.events) return;
    const event = parseEventMessage(message, this.instance);
    if (!event) return;
    if (event.type === 'publisherChanged') this.onTakenOver(event);
    this.emitter.emit('event', event);
  }

  /** Another node took over a stream from this one: stop holding it now, not at the next heartbeat. */
  private onTakenOver(event: ReceivedClusterEvent): void {
    const held = this.held.get(event.stream);
    if (!held || event.data?.previousLease !== held.lease) return;
    const lease = typeof event.data?.lease === 'string' ? event.data.lease : '';
    this.dropHeld(event.stream, 'taken-over', null, event.node);
    this.logger.log(`[node:${this.nodeId} stream:${event.stream}] taken over by node ${event.node} (lease ${lease})`);
  }

  // ── internals ─────────────────────────────────────────────────────────────────────────────────

  private async acquire(name: string, info: StreamInfo, mode: 'claim' | 'takeover', expectedLease: string): Promise<ClaimResult> {
    if (!this.started || this.closed) throw new InvalidStateError('cluster registry is not running');
    const meta = encodeMeta(info.meta);
    const existing = this.held.get(name);
    if (existing) {
      existing.state = info.state;
      existing.meta = meta;
      if (this.isUp()) await this.heartbeat([name]).catch((error: unknown) => this.unavailable(error, mode));
      return { ok: true, mode: existing.local ? 'local' : 'cluster' };
    }
    const lease = randomUUID();
    const holdLocally = (): ClaimResult => {
      this.held.set(name, { lease, state: info.state, meta, local: true });
      this.logger.warn(`[node:${this.nodeId} stream:${name}] ${mode} held locally only: ${this.current.reason}`);
      return { ok: true, mode: 'local' };
    };
    if (!this.isUp()) return holdLocally();
    let reply: [number, unknown, unknown, number];
    try {
      reply = (await CLAIM.run(
        this.commands,
        [this.keys.stream(name), this.keys.streams],
        [name, this.nodeId, this.address, lease, info.state, meta, this.ttlMs, mode, expectedLease],
      )) as typeof reply;
    } catch (error) {
      this.unavailable(error, mode);
      return holdLocally();
    }
    const [won, record, previous, now] = reply;
    if (won !== 1) {
      const holder = parseStreamHash(record, now);
      if (!holder) throw new Error(`stream ${name}: unreadable claim record in Redis`);
      return { ok: false, holder };
    }
    this.held.set(name, { lease, state: info.state, meta, local: false });
    const replaced = parseStreamHash(previous, now);
    return replaced ? { ok: true, mode: 'cluster', previous: replaced } : { ok: true, mode: 'cluster' };
  }

  /**
   * Writes the node record and asserts the given held streams (all by default). Reports and drops
   * the ones another claim holds. Throws if Redis does not answer.
   */
  private async heartbeat(names: string[] = [...this.held.keys()], afterOutage = false): Promise<StreamRecord[]> {
    const streams = names.flatMap((name) => {
      const held = this.held.get(name);
      return held ? [{ name, held }] : [];
    });
    const node: NodeRecord = {
      id: this.nodeId,
      address: this.address,
      capacity: this.capacity,
      load: this.currentLoad(),
      streams: this.held.size,
      startedAt: this.startedAt,
      heartbeatAt: Date.now(),
    };
    const [lostRecords, now] = (await HEARTBEAT.run(
      this.commands,
      [this.keys.node(this.nodeId), this.keys.nodes, this.keys.streams, ...streams.map(({ name }) => this.keys.stream(name))],
      [
        this.nodeId,
        JSON.stringify(node),
        this.ttlMs,
        this.address,
        ...streams.flatMap(({ name, held }) => [name, held.lease, held.state, held.meta]),
      ],
    )) as [unknown[], number];
    const lost = lostRecords.map((record) => parseStreamHash(record, now)).filter((record): record is StreamRecord => record !== null);
    for (const record of lost) {
      const held = this.held.get(record.name);
      if (!held) continue;
      this.dropHeld(record.name, held.local || afterOutage ? 'conflict' : 'taken-over', record);
    }
    for (const { name, held } of streams) if (this.held.get(name) === held) held.local = false;
    return lost;
  }

  /** The caller's load figure; a throwing callback must not make Redis look down. */
  private currentLoad(): number {
    try {
      return this.load?.() ?? this.held.size;
    } catch (error) {
      this.logger.error(`[node:${this.nodeId}] load callback threw: ${errorMessage(error)}`);
      return this.held.size;
    }
  }

  private dropHeld(name: string, reason: 'taken-over' | 'conflict', holder: StreamRecord | null, node = holder?.node ?? null): void {
    this.held.delete(name);
    this.continuity.delete(name);
    this.logger.warn(`[node:${this.nodeId} stream:${name}] lost (${reason})${node ? ` to node ${node}` : ''}`);
    this.emitter.emit('lost', { name, holder, node, reason });
  }

  private async writeContinuity(name: string, lease: string, json: string): Promise<boolean> {
    const saved = await SAVE_CONTINUITY.run(
      this.commands,
      [this.keys.stream(name), this.keys.continuity(name)],
      [lease, json, this.continuityTtlMs],
    );
    return saved === 1;
  }

  private async snapshot(what: string): Promise<ClusterSnapshot> {
    this.requireUp();
    try {
      return await this.readSnapshot();
    } catch (error) {
      throw this.unavailable(error, what);
    }
  }

  private async readSnapshot(): Promise<ClusterSnapshot> {
    const [nodeJsons, streamHashes, now] = (await SNAPSHOT.run(
      this.commands,
      [this.keys.nodes, this.keys.streams],
      [this.keys.prefix],
    )) as [unknown[], unknown[], number];
    return {
      nodes: nodeJsons.map(parseNodeJson).filter((node): node is NodeRecord => node !== null),
      streams: streamHashes.map((hash) => parseStreamHash(hash, now)).filter((stream): stream is StreamRecord => stream !== null),
    };
  }

  /** Runs the heartbeat now; a request while one runs makes it run once more afterwards (it may have seen a dead connection). */
  private beat(): Promise<void> {
    if (this.beating) {
      this.beatAgain = true;
      return this.beating;
    }
    this.beating = (async () => {
      do {
        this.beatAgain = false;
        await this.runBeat();
      } while (this.beatAgain && !this.closed);
    })().finally(() => (this.beating = undefined));
    return this.beating;
  }

  private async runBeat(): Promise<void> {
    if (this.closed || !this.started) return;
    if (this.commands.status !== 'ready') return; // its 'close' already set the status; its 'ready' beats again
    const subscribed = await this.ensureSubscribed();
    const afterOutage = this.current.state === 'down';
    try {
      // Renewed even without the subscriber: a node that cannot hear events is still alive and still holds its streams.
      await this.heartbeat(undefined, afterOutage);
      if (!subscribed) {
        this.setDown(`redis subscriber not connected${this.lastError ? `: ${this.lastError}` : ''}`);
        return;
      }
      if (afterOutage) {
        for (const [name, json] of this.continuity) {
          const held = this.held.get(name);
          if (held) await this.writeContinuity(name, held.lease, json);
        }
      }
      const snapshot = await this.readSnapshot();
      if (this.closed) return;
      if (afterOutage) this.logger.log(`[node:${this.nodeId}] registered at ${this.address}; ${this.held.size} streams held`);
      this.setStatus({ state: 'up', mode: 'cluster', since: Date.now() });
      const change = diffSnapshots(this.lastView, snapshot);
      this.lastView = snapshot;
      if (!isEmptyChange(change)) this.emitter.emit('view', change);
    } catch (error) {
      if (!isUnavailable(error)) this.logger.error(`[node:${this.nodeId}] heartbeat script failed: ${errorMessage(error)}`);
      this.setDown(`redis heartbeat failed: ${errorMessage(error)}`);
    }
  }

  private async ensureSubscribed(): Promise<boolean> {
    if (this.subscribed) return true;
    if (this.subscriber.status !== 'ready') return false;
    this.subscribing ??= this.subscriber
      .subscribe(this.keys.events)
      .then(() => void (this.subscribed = true))
      .catch((error: unknown) => void (this.lastError = errorMessage(error)))
      .finally(() => (this.subscribing = undefined));
    await this.subscribing;
    return this.subscribed;
  }

  private watchConnection(client: Redis, role: 'commands' | 'subscriber'): void {
    // ioredis emits one error per failed attempt while reconnecting; the status carries the latest.
    client.on('error', (error: Error) => (this.lastError = error.message));
    client.on('close', () => {
      if (role === 'subscriber') this.subscribed = false;
      this.setDown(`redis ${role} connection lost${this.lastError ? `: ${this.lastError}` : ''}`);
    });
    client.on('ready', () => {
      this.lastError = '';
      if (this.started) void this.beat(); // re-register and re-assert claims
    });
  }

  private isUp(): boolean {
    return this.current.state === 'up';
  }

  private requireUp(): void {
    if (!this.started || this.closed) throw new InvalidStateError('cluster registry is not running');
    if (!this.isUp()) throw new ClusterUnavailableError(this.current.reason ?? 'redis is down');
  }

  /** A Redis call failed: mark Redis down (unless it was a script bug, which is rethrown) and say what failed. */
  private unavailable(error: unknown, what: string): ClusterUnavailableError {
    if (!isUnavailable(error)) throw error;
    const reason = `redis ${what} failed: ${errorMessage(error)}`;
    this.setDown(reason);
    return new ClusterUnavailableError(reason);
  }

  private setDown(reason: string): void {
    if (this.closed || !this.started) return;
    if (this.current.state === 'down') {
      this.current = { ...this.current, reason }; // still down: the latest reason, no new event
      return;
    }
    this.logger.warn(`[node:${this.nodeId}] cluster down: ${reason}`);
    this.setStatus({ state: 'down', mode: 'cluster', reason, since: Date.now() });
  }

  private setStatus(status: ClusterStatus): void {
    if (status.state === this.current.state && status.reason === this.current.reason) return;
    this.current = status;
    this.emitter.emit('status', { ...status });
  }

  private withNameLock<T>(name: string, task: () => Promise<T>): Promise<T> {
    const previous = this.nameLocks.get(name) ?? Promise.resolve();
    const run = previous.then(task, task);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.nameLocks.set(name, settled);
    void settled.then(() => {
      if (this.nameLocks.get(name) === settled) this.nameLocks.delete(name);
    });
    return run;
  }
}
