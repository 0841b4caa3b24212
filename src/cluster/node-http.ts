/**
 * Requests one node of the cluster makes to another (a stream's holder, the other nodes' lists). The
 * header marks them: the receiving node answers from what it has itself and never forwards such a
 * request again, so two nodes that disagree on a stream's holder cannot bounce a request between them.
 */
export const HOP_HEADER = 'x-webrtc-hls-hop';

/** Whether a request came from another node (see HOP_HEADER). */
export const fromAnotherNode = (headers: Record<string, string | string[] | undefined>): boolean => headers[HOP_HEADER] !== undefined;

/** GET `path` on the node at `address`, marked as a hop from `nodeId`; rejects after `timeoutMs`. */
export function fetchFromNode(address: string, path: string, nodeId: string, timeoutMs: number): Promise<Response> {
  return fetch(new URL(path, address), {
    headers: { [HOP_HEADER]: nodeId, accept: 'application/json' },
    signal: AbortSignal.timeout(timeoutMs),
  });
}
