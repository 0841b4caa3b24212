// The pure pieces of Low-Latency HLS: model and renderer, delivery directives, blocking reload, limits.
export * from './ll-errors';
export * from './ll-playlist-state';
export * from './ll-playlist-renderer';
export * from './delivery-directives';
export * from './playlist-waiters';
export * from './blocked-request-limiter';
export * from './ll-part-timing';
