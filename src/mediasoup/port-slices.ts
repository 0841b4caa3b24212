import type { PortRange } from '../config/app.config';

/** Splits a port range into `count` disjoint slices, one per worker (the last takes the remainder). */
export function slicePortRange(range: PortRange, count: number): PortRange[] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`cannot slice a port range for ${count} workers`);
  const total = range.max - range.min + 1;
  const size = Math.floor(total / count);
  if (size < 1) throw new RangeError(`port range ${range.min}-${range.max} is too small for ${count} workers`);
  return Array.from({ length: count }, (_, i) => ({
    min: range.min + i * size,
    max: i === count - 1 ? range.max : range.min + (i + 1) * size - 1,
  }));
}

/**
 * The ports of worker `id`'s WebRtcServers: worker i's first server keeps WEBRTC_SERVER_PORT + i (as
 * with one server per worker); further servers follow all the workers' first ones.
 */
export function webRtcServerPorts(base: number, id: number, perWorker: number, workers: number): number[] {
  return Array.from({ length: perWorker }, (_, j) => base + j * workers + id);
}
