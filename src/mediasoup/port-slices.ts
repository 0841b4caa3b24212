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
