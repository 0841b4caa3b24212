/** Per-peer caps, so one client cannot exhaust ports, memory or worker capacity for the others. */
export const PEER_LIMITS = {
  /** One send and one receive transport (the original protocol's shape). */
  transports: 2,
  /** One producer per kind. */
  producersPerKind: 1,
  /** Enough for a viewer of a large room (audio + video of 100 publishers). */
  consumers: 200,
} as const;
