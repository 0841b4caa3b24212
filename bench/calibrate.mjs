// A fixed piece of CPU work (zlib level 6 over 24 MiB of pseudo-random text, 7 times, median, in a
// fresh Node pinned to one core), timed before and after each phase. Runs on this VM differ by tens of percent with the
// host's load; the calibration says how fast the server's core was during a run (cpuMs), and whether
// something else ran on it (wallMs well above cpuMs).
import { spawnSync } from 'node:child_process';

const WORK = `
const { deflateSync } = require('node:zlib');
let seed = 12345;
const words = Array.from({ length: 4096 }, (_, i) => 'w' + ((i * 2654435761) >>> 0).toString(36));
const parts = [];
for (let n = 0; n < 24 * 1024 * 1024; ) { seed = (seed * 1103515245 + 12345) >>> 0; const w = words[seed % 4096]; parts.push(w); n += w.length + 1; }
const text = Buffer.from(parts.join(' '));
const runs = [];
for (let i = 0; i < 7; i++) {
  const c0 = process.cpuUsage(); const t0 = performance.now();
  deflateSync(text, { level: 6 });
  const c = process.cpuUsage(c0);
  runs.push({ cpuMs: (c.user + c.system) / 1000, wallMs: performance.now() - t0 });
}
const med = (k) => Math.round(runs.map((r) => r[k]).sort((a, b) => a - b)[3]);
console.log(JSON.stringify({ cpuMs: med('cpuMs'), wallMs: med('wallMs') }));
`;

export function calibrate(core) {
  const r = spawnSync('taskset', ['-c', core, process.execPath, '-e', WORK], { encoding: 'utf8', timeout: 60_000 });
  try {
    return { core, ...JSON.parse(r.stdout.trim()) };
  } catch {
    return { core, error: (r.stderr || r.error?.message || 'no output').slice(0, 200) };
  }
}
