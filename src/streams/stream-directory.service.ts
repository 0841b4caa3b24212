import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Observable, Subject, Subscription } from 'rxjs';
import { errorMessage } from '../common/errors';
import { CLUSTER_DEFAULTS } from '../cluster/cluster-registry';
import { CLUSTER } from '../cluster/cluster.constants';
import type {
  Cluster,
  ClusterStatus,
  ClusterViewChange,
  ReceivedClusterEvent,
  StreamLost,
  StreamRecord as ClusterStreamRecord,
} from '../cluster/cluster.types';
import { findHolder } from '../cluster/find-holder';
import { fetchFromNode } from '../cluster/node-http';
import { registryStreamInfo, StreamInfo } from './stream-info';
import { LiveNotice, StreamsService, StreamState } from './streams.service';

/** What the Server-Sent Events say: the original three events, for every stream of the cluster. */
export interface DirectoryNotice {
  type: 'peerLive' | 'peerLeft' | 'publisherChanged';
  peerId: string;
}

/**
 * After Redis comes back, nodes re-register one heartbeat after another: a stream missing from the
 * first looks may only belong to a node that has not re-registered yet. Its removal waits this long
 * (a node's TTL plus a heartbeat), then the view is taken as it is.
 */
const SETTLE_AFTER_OUTAGE_MS = CLUSTER_DEFAULTS.ttlMs + CLUSTER_DEFAULTS.heartbeatMs;
/** How long another node gets to answer for its streams before the registry's record stands in. */
const NODE_ANSWER_TIMEOUT_MS = 2500;

/**
 * The live streams of the whole cluster, as one list with one stream of notices: this node's own
 * (from StreamsService) and the other nodes' (from their pub/sub events as they happen, and from the
 * registry's view at every heartbeat, which also catches what pub/sub missed and removes the streams
 * of a node that died). `peerLive` goes out when an id enters the list and `peerLeft` when it leaves
 * it, wherever it is published: a stream that moves from one node to another stays in the list
 * (with `publisherChanged`), and a node whose stream is taken over says nothing more of it.
 *
 * On a single node (no REDIS_URL) the cluster is silent and this is exactly this node's list.
 */
@Injectable()
export class StreamDirectoryService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(StreamDirectoryService.name);
  /** Ids announced live to the subscribers (the last `init` plus every notice since). */
  private readonly announced = new Set<string>();
  /** Other nodes' live streams, as last heard: id → the node holding it. */
  private readonly remote = new Map<string, string>();
  private readonly out = new Subject<DirectoryNotice>();
  private readonly disposers: Array<() => void> = [];
  private subscription?: Subscription;
  private wasDown = false;
  private settleUntil = 0;
  private settleTimer?: NodeJS.Timeout;

  constructor(
    private readonly streams: StreamsService,
    @Inject(CLUSTER) private readonly cluster: Cluster,
  ) {}

  onModuleInit(): void {
    this.subscription = this.streams.liveNotices.subscribe((notice) => this.onLocal(notice));
    this.disposers.push(
      this.cluster.on('event', (event) => this.guard('event', () => this.onEvent(event))),
      this.cluster.on('view', (change) => this.guard('view', () => this.onView(change))),
      this.cluster.on('status', (status) => this.guard('status', () => this.onStatus(status))),
      this.cluster.on('lost', (lost) => this.guard('lost', () => this.onLost(lost))),
    );
    this.wasDown = this.cluster.status().state === 'down';
    // The registry may have looked at the cluster before this listened.
    this.reconcile();
  }

  onApplicationShutdown(): void {
    clearTimeout(this.settleTimer);
    for (const dispose of this.disposers) dispose();
    this.subscription?.unsubscribe();
    this.out.complete();
  }

  /** Every stream of the cluster announced live now. */
  liveIds(): string[] {
    return [...this.announced];
  }

  get notices(): Observable<DirectoryNotice> {
    return this.out.asObservable();
  }

  /**
   * Every other node's streams, as each node lists its own (`state` filters). A node that does not
   * answer in time is listed from the registry: its streams with their state, without details.
   */
  async otherNodesStreams(state?: StreamState): Promise<StreamInfo[]> {
    const view = this.cluster.view();
    const self = this.cluster.nodeId;
    const query = state ? `?state=${encodeURIComponent(state)}` : '';
    const lists = await Promise.all(
      view.nodes
        .filter((node) => node.id !== self)
        .map(async (node) => {
          try {
            const response = await fetchFromNode(node.address, `/api/streams${query}`, self, NODE_ANSWER_TIMEOUT_MS);
            if (!response.ok) throw new Error(`HTTP ${response.status}`);
            const list: unknown = await response.json();
            if (!Array.isArray(list)) throw new Error('not a list');
            return list.filter(isStreamInfo).map((info) => ({ ...info, node: info.node ?? node.id }));
          } catch (error) {
            this.logger.warn(
              `node ${node.id} (${node.address}) did not list its streams (${errorMessage(error)}): listing what the registry knows`,
            );
            return view.streams.filter((s) => s.node === node.id && (!state || s.state === state)).map(registryStreamInfo);
          }
        }),
    );
    return lists.flat();
  }

  /** A stream another node holds, as that node describes it (or as the registry does if it does not answer). */
  async otherNodeStream(id: string): Promise<StreamInfo | undefined> {
    const record = await findHolder(this.cluster, id);
    if (!record || record.node === this.cluster.nodeId) return undefined;
    try {
      const response = await fetchFromNode(
        record.address,
        `/api/streams/${encodeURIComponent(id)}`,
        this.cluster.nodeId,
        NODE_ANSWER_TIMEOUT_MS,
      );
      if (response.status === 404) return undefined;
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const info: unknown = await response.json();
      if (!isStreamInfo(info)) throw new Error('not a stream');
      return { ...info, node: info.node ?? record.node };
    } catch (error) {
      this.logger.warn(`[stream:${id}] node ${record.node} did not describe it (${errorMessage(error)}): answering from the registry`);
      return registryStreamInfo(record);
    }
  }

  private onLocal(notice: LiveNotice): void {
    if (notice.type === 'peerLive' || notice.type === 'peerLeft') void this.cluster.publish({ type: notice.type, stream: notice.peerId });
    if (notice.type === 'publisherChanged') {
      // A stream that moved here is this node's now; the registry told the others of the takeover.
      if (notice.fromNode !== undefined) this.remote.delete(notice.peerId);
      else void this.cluster.publish({ type: 'publisherChanged', stream: notice.peerId });
    }
    this.sync();
    if (notice.type === 'publisherChanged' && this.announced.has(notice.peerId))
      this.out.next({ type: 'publisherChanged', peerId: notice.peerId });
  }

  private onEvent(event: ReceivedClusterEvent): void {
    const id = event.stream;
    if (event.type === 'peerLive') this.remote.set(id, event.node);
    if (event.type === 'peerLeft' && this.remote.get(id) === event.node) this.remote.delete(id);
    if (event.type === 'publisherChanged') {
      // A takeover across nodes (the registry's event names the node it came from) moves a listed
      // stream to the sender; a takeover inside one node changes nothing here but the notice.
      const acrossNodes = typeof event.data?.previousNode === 'string';
      if (acrossNodes && event.data?.previousNode !== this.cluster.nodeId && this.remote.has(id)) this.remote.set(id, event.node);
      if (acrossNodes && event.data?.previousNode === this.cluster.nodeId && this.streams.announcedIds().includes(id))
        this.remote.set(id, event.node);
      this.sync();
      if (this.announced.has(id)) this.out.next({ type: 'publisherChanged', peerId: id });
      return;
    }
    this.sync();
  }

  /** Found at a heartbeat rather than by an event: a stream this node announced goes on elsewhere. */
  private onLost({ name, node }: StreamLost): void {
    if (node !== null && node !== this.cluster.nodeId && this.announced.has(name)) this.remote.set(name, node);
    this.sync();
  }

  private onView(change: ClusterViewChange): void {
    for (const record of [...change.streamsAdded, ...change.streamsChanged]) this.note(record);
    if (Date.now() >= this.settleUntil) {
      for (const record of change.streamsRemoved) {
        // Its holder's entry, or an older one if this node held it last (e.g. a takeover that did not complete).
        const holder = this.remote.get(record.name);
        if (holder === record.node || (holder !== undefined && record.node === this.cluster.nodeId)) this.remote.delete(record.name);
      }
      const gone = new Set(change.nodesRemoved.map((node) => node.id));
      for (const [id, node] of this.remote) if (gone.has(node)) this.remote.delete(id);
    }
    this.sync();
  }

  private onStatus(status: ClusterStatus): void {
    if (status.state === 'down') {
      // The last view stays: the other nodes' streams are kept in the list while Redis is away.
      this.wasDown = true;
      return;
    }
    if (!this.wasDown) return;
    this.wasDown = false;
    this.settleUntil = Date.now() + SETTLE_AFTER_OUTAGE_MS;
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => this.guard('reconcile', () => this.reconcile()), SETTLE_AFTER_OUTAGE_MS);
    this.settleTimer.unref();
  }

  /** The other nodes' streams exactly as the registry's last look shows them. */
  private reconcile(): void {
    this.remote.clear();
    for (const record of this.cluster.view().streams) this.note(record);
    this.sync();
  }

  private note(record: ClusterStreamRecord): void {
    if (record.node === this.cluster.nodeId) {
      // This node's own list covers it, once it has the stream (a takeover is claimed before that).
      if (this.streams.announcedIds().includes(record.name)) this.remote.delete(record.name);
      return;
    }
    // Starting and continued from another node: for viewers it never stopped.
    const listed =
      record.state === 'live' || record.state === 'parked' || (record.state === 'starting' && record.meta.continuedFrom !== undefined);
    if (listed) this.remote.set(record.name, record.node);
    else this.remote.delete(record.name); // a new stream of that name, not live yet
  }

  /** Announces what entered the list and what left it. */
  private sync(): void {
    const now = new Set([...this.streams.announcedIds(), ...this.remote.keys()]);
    for (const id of now) {
      if (this.announced.has(id)) continue;
      this.announced.add(id);
      this.out.next({ type: 'peerLive', peerId: id });
    }
    for (const id of [...this.announced]) {
      if (now.has(id)) continue;
      this.announced.delete(id);
      this.out.next({ type: 'peerLeft', peerId: id });
    }
  }

  /** A listener of the registry must not throw into it. */
  private guard(what: string, work: () => void): void {
    try {
      work();
    } catch (error) {
      this.logger.error(`cluster ${what}: ${errorMessage(error)}`);
    }
  }
}

/** Another node's answer is read, not trusted: it must at least name a stream. */
function isStreamInfo(value: unknown): value is StreamInfo {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as StreamInfo).peerId === 'string' &&
    typeof (value as StreamInfo).state === 'string'
  );
}
