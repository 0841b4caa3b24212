import { InvalidStateError } from '../common/errors';
import { ClusterUnavailableError } from './cluster.errors';
import type { Cluster, StreamRecord } from './cluster.types';

/**
 * Who holds a stream, for answering a request for it: Redis's answer now, or, while Redis is away,
 * the registry's last look (at most a heartbeat older than the outage), so that requests for other
 * nodes' streams keep reaching them. Null: nobody (or a single node, where there is nobody else).
 */
export async function findHolder(cluster: Cluster, name: string): Promise<StreamRecord | null> {
  if (cluster.status().mode === 'single') return null;
  try {
    return await cluster.locate(name);
  } catch (error) {
    if (!(error instanceof ClusterUnavailableError) && !(error instanceof InvalidStateError)) throw error;
    return cluster.view().streams.find((stream) => stream.name === name) ?? null;
  }
}
