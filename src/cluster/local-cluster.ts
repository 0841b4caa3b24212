import { hostname } from 'node:os';
import { ClusterEmitter } from './cluster-emitter';
import { Logger } from '@nestjs/common';
import {
  ClaimResult,
  Cluster,
  ClusterEvents,
  ClusterListener,
  ClusterSnapshot,
  ClusterStatus,
  ContinuityRecord,
  NodeRecord,
  StreamRecord,
  StreamState,
} from './cluster.types';

/**
 * The cluster of one node (`REDIS_URL` unset): every claim succeeds here (the node's own services
 * arbitrate between its publishers, as without a cluster), there are no other nodes, streams or
 * events, and nothing is stored. Callers use the same calls in both modes.
 */
export class LocalCluster implements Cluster {
  private readonly held = new Set<string>();
  private readonly emitter = new ClusterEmitter(new Logger(LocalCluster.name));
  private readonly since = Date.now();

  constructor(readonly nodeId: string = hostname()) {}

  async start(): Promise<void> {}

  async close(): Promise<void> {
    this.held.clear();
    this.emitter.clear();
  }

  status(): ClusterStatus {
    return { state: 'up', mode: 'single', since: this.since };
  }

  /** Nothing is ever emitted; the listener is accepted so callers need not branch. */
  on<K extends keyof ClusterEvents>(name: K, listener: ClusterListener<K>): () => void {
    return this.emitter.on(name, listener);
  }

  async claim(name: string): Promise<ClaimResult> {
    this.held.add(name);
    return { ok: true, mode: 'local' };
  }

  takeover(name: string): Promise<ClaimResult> {
    return this.claim(name);
  }

  async update(name: string, _state: StreamState): Promise<boolean> {
    return this.held.has(name);
  }

  async release(name: string): Promise<boolean> {
    return this.held.delete(name);
  }

  holds(name: string): boolean {
    return this.held.has(name);
  }

  view(): ClusterSnapshot {
    return { nodes: [], streams: [] };
  }

  async nodes(): Promise<NodeRecord[]> {
    return [];
  }

  async streams(): Promise<StreamRecord[]> {
    return [];
  }

  async locate(): Promise<StreamRecord | null> {
    return null;
  }

  /** Nowhere to save: the node's own packaging state is the only numbering. */
  async saveContinuity(): Promise<boolean> {
    return false;
  }

  async loadContinuity<T>(): Promise<ContinuityRecord<T> | null> {
    return null;
  }

  async publish(): Promise<boolean> {
    return false;
  }
}
