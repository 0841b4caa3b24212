// Small numeric helpers shared by the benchmark modules.

/**
 * Wall-clock milliseconds, comparable across processes (the generator's, Chromium's pages) and with
 * file mtimes: the realtime clock. Not performance.timeOrigin + performance.now(): that is monotonic
 * time anchored once per process, and on these VMs the two clocks drift apart by ~0.5 % (25 ms in
 * 5 s measured), so two processes started minutes apart disagree by seconds.
 */
export const wallNow = () => Date.now();

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Nearest-rank percentile (p in 0..100) of a list of numbers; undefined for an empty list. */
export function percentile(values, p) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export const median = (values) => percentile(values, 50);

/** Rounds to `digits` decimals, leaving undefined/null alone (JSON and tables stay readable). */
export function round(value, digits = 3) {
  if (value === undefined || value === null || !Number.isFinite(value)) return value ?? undefined;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Least-squares slope and intercept of y over x (undefined with fewer than two distinct x). */
export function linearFit(points) {
  const n = points.length;
  if (n < 2) return undefined;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  if (sxx === 0) return undefined;
  const slope = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx;
  return { slope, intercept: my - slope * mx };
}

/** Rejects with `message` if `promise` has not settled within `ms` (the timer never keeps the process alive). */
export function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
    timer.unref?.();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
