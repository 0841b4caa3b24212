import { ClusterSnapshot, ClusterViewChange, StreamRecord } from './cluster.types';

export type { ClusterSnapshot };

export const EMPTY_SNAPSHOT: ClusterSnapshot = { nodes: [], streams: [] };

/**
 * What changed between two looks. Nodes are compared by id only (load changes every heartbeat and
 * is not news); streams by what a viewer would notice: holder, claim, state and meta, not the
 * lease's age.
 */
export function diffSnapshots(before: ClusterSnapshot, after: ClusterSnapshot): ClusterViewChange {
  const nodesBefore = new Map(before.nodes.map((node) => [node.id, node]));
  const nodesAfter = new Map(after.nodes.map((node) => [node.id, node]));
  const streamsBefore = new Map(before.streams.map((stream) => [stream.name, stream]));
  const streamsAfter = new Map(after.streams.map((stream) => [stream.name, stream]));
  return {
    nodesAdded: after.nodes.filter((node) => !nodesBefore.has(node.id)),
    nodesRemoved: before.nodes.filter((node) => !nodesAfter.has(node.id)),
    streamsAdded: after.streams.filter((stream) => !streamsBefore.has(stream.name)),
    streamsRemoved: before.streams.filter((stream) => !streamsAfter.has(stream.name)),
    streamsChanged: after.streams.filter((stream) => {
      const old = streamsBefore.get(stream.name);
      return old !== undefined && !sameStream(old, stream);
    }),
  };
}

export const isEmptyChange = (change: ClusterViewChange): boolean => Object.values(change).every((list: unknown[]) => list.length === 0);

function sameStream(a: StreamRecord, b: StreamRecord): boolean {
  return (
    a.node === b.node &&
    a.lease === b.lease &&
    a.state === b.state &&
    a.address === b.address &&
    JSON.stringify(a.meta) === JSON.stringify(b.meta)
  );
}
