/** Injection token of the node's `Cluster` (ClusterRegistry with Redis, LocalCluster without). */
export const CLUSTER = Symbol('CLUSTER');
/** Injection token of the resolved `ClusterRegistryOptions | null` (null: single node). */
export const CLUSTER_OPTIONS = Symbol('CLUSTER_OPTIONS');
