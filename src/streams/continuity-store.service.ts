import { Inject, Injectable } from '@nestjs/common';
import { CLUSTER } from '../cluster/cluster.constants';
import type { Cluster } from '../cluster/cluster.types';
import type { Continuity, ContinuityStore } from '../packaging/continuity';

/**
 * Packaging's ContinuityStore on the cluster's registry: a named stream's numbering is saved (only by
 * its holder, atomically checked in Redis) before each segment is listed, so the node that takes the
 * stream over continues exactly after the last segment listed here, and this node lists nothing
 * after it lost the stream.
 */
@Injectable()
export class ContinuityStoreService implements ContinuityStore {
  constructor(@Inject(CLUSTER) private readonly cluster: Cluster) {}

  async save(streamId: string, continuity: Continuity): Promise<boolean> {
    if (this.cluster.status().mode === 'single') return true;
    if (await this.cluster.saveContinuity(streamId, continuity)) return true;
    // Not saved: Redis is away (kept, written when it returns: keep serving) or the stream is no longer ours.
    return this.cluster.holds(streamId);
  }
}
