#!/usr/bin/env node
// Measures what the load generator itself costs: N publishers in THIS process, CPU of this process only
// (process.cpuUsage and /proc/self/stat over a steady-state window), after asserting every publisher
// completed ICE + DTLS and every producer exists. With a bare ingest (bench/bare-ingest.mjs) it also
// checks, per producer, that mediasoup counted the bytes.
//
//   node bench/bare-ingest.mjs --port 4199 &       # or our server: --url http://127.0.0.1:4100
//   node bench/measure-generator.mjs --url http://127.0.0.1:4199 --variant h264 --n 1,5,10 --seconds 20
// Options: --stack libdatachannel|werift, --server-pid PID (also CPU of that process tree: the server with
// its mediasoup workers and FFmpegs), --warmup S, --no-pacing, --werift-sender, --out FILE.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { publish, shutdown } from './load-publisher.mjs';
import { prepareMedia } from './prepare-media.mjs';

const arg = (name, fallback) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : fallback);
const url = arg('--url', 'http://127.0.0.1:4199');
const variant = arg('--variant', 'h264');
const counts = arg('--n', '1,5,10').split(',').map(Number);
const seconds = Number(arg('--seconds', 20));
const warmup = Number(arg('--warmup', 8));
const serverPid = arg('--server-pid') ? Number(arg('--server-pid')) : undefined;
const statsUrl = arg('--ingest-stats', url.endsWith(':4199') ? `${url}/stats` : undefined);
const out = resolve(arg('--out', join(dirname(fileURLToPath(import.meta.url)), 'results', `generator-${arg('--stack', 'libdatachannel')}-${variant}-${Date.now()}.json`)));
const CONCURRENT_SETUPS = 5;
const stack = arg('--stack', 'libdatachannel');
const fastPath = !process.argv.includes('--werift-sender'); // werift only: RTCRtpSender.sendRtp per packet
const pacing = !process.argv.includes('--no-pacing');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const CLK_TCK = 100; // Linux USER_HZ
function procTicks() {
  const f = readFileSync('/proc/self/stat', 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]); // utime + stime (fields 14, 15)
}

/** utime+stime ticks of pid and all its descendants (mediasoup workers, FFmpeg), keyed by pid. */
function treeTicks(rootPid) {
  const procs = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const f = readFileSync(`/proc/${d}/stat`, 'utf8');
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(d), { ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]), comm: f.slice(f.indexOf('(') + 1, f.lastIndexOf(')')) });
    } catch {}
  }
  const out = new Map();
  const walk = (pid) => {
    const p = procs.get(pid);
    if (!p) return;
    out.set(pid, p);
    for (const [child, c] of procs) if (c.ppid === pid) walk(child);
  };
  walk(rootPid);
  return out;
}

function treeCpuPct(before, after, wall) {
  let ticks = 0;
  const byComm = {};
  for (const [pid, p] of after) {
    const d = p.ticks - (before.get(pid)?.ticks ?? 0);
    ticks += d;
    byComm[p.comm] = +(((byComm[p.comm] ?? 0) + (d / CLK_TCK / wall) * 100)).toFixed(1);
  }
  return { totalPct: +((ticks / CLK_TCK / wall) * 100).toFixed(1), byComm, processes: after.size };
}

async function ingestStats() {
  if (!statsUrl) return undefined;
  const res = await fetch(statsUrl, { signal: AbortSignal.timeout(5000) });
  return res.json();
}

prepareMedia({ log: () => {} });
const results = [];
if (counts.length > 1 && !process.argv.includes('--child')) {
  // One fresh process per N, so JIT warm-up and garbage of an earlier N do not land in a later window.
  for (const n of counts) {
    const args = process.argv.slice(2).filter((a, i, all) => a !== '--n' && all[i - 1] !== '--n' && a !== '--out' && all[i - 1] !== '--out');
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...args, '--n', String(n), '--child'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: (warmup + seconds + 120) * 1000,
    });
    const line = (child.stdout ?? '').split('\n').find((l) => l.startsWith('{'));
    if (child.status !== 0 || !line) throw new Error(`N=${n} failed (status ${child.status}): ${child.stdout}`);
    results.push(JSON.parse(line));
    console.log(line);
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ url, variant, node: process.version, results }, null, 2));
  console.log(`wrote ${out}`);
  process.exit(0);
}
for (const n of counts) {
  const pubs = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i += CONCURRENT_SETUPS) {
    const batch = await Promise.all(Array.from({ length: Math.min(CONCURRENT_SETUPS, n - i) }, () => publish({ serverUrl: url, variant, stack, fastPath, pacing })));
    pubs.push(...batch);
    await Promise.all(batch.map((p) => p.connected)); // rejects (and the run fails) if any did not connect
  }
  const setupMs = performance.now() - t0;
  const connected = pubs.map((p) => p.stats()).filter((s) => ['connected', 'completed'].includes(s.ice) && s.dtls === 'connected' && s.connection === 'connected');
  if (connected.length !== n) throw new Error(`N=${n}: only ${connected.length} publishers have ICE+DTLS connected`);

  await sleep(warmup * 1000);
  const w0 = await ingestStats();
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const c0 = process.cpuUsage();
  const p0 = procTicks();
  const srv0 = serverPid ? treeTicks(serverPid) : undefined;
  const s0 = performance.now();
  const sent0 = pubs.map((p) => p.stats());
  await sleep(seconds * 1000);
  const wall = (performance.now() - s0) / 1000;
  const c1 = process.cpuUsage(c0);
  const p1 = procTicks();
  const srv1 = serverPid ? treeTicks(serverPid) : undefined;
  delay.disable();
  const sent1 = pubs.map((p) => p.stats());
  const w1 = await ingestStats();

  const cpuPct = ((c1.user + c1.system) / 1e6 / wall) * 100;
  const procPct = ((p1 - p0) / CLK_TCK / wall) * 100;
  const packets = sent1.reduce((sum, s, i) => sum + Object.values(s.tracks).reduce((a, t, j) => a + t.packets - Object.values(sent0[i].tracks)[j].packets, 0), 0);
  const payloadBytes = sent1.reduce((sum, s, i) => sum + Object.values(s.tracks).reduce((a, t, j) => a + t.payloadBytes - Object.values(sent0[i].tracks)[j].payloadBytes, 0), 0);
  const skipped = sent1.reduce((sum, s) => sum + Object.values(s.tracks).reduce((a, t) => a + t.skippedFrames, 0), 0);
  const rtcpLost = sent1.reduce((sum, s) => sum + Object.values(s.rtcp.lastReport).reduce((a, r) => a + Math.max(0, r.packetsLost), 0), 0);
  const withReports = sent1.filter((s) => s.rtcp.receiverReports > 0).length;
  let ingest;
  if (w1) {
    const mine = new Set(pubs.map((p) => p.peerId));
    const before = new Map((w0?.producers ?? []).map((x) => [`${x.peerId}:${x.kind}`, x]));
    const producers = w1.producers.filter((x) => mine.has(x.peerId));
    const bytes = producers.map((x) => x.byteCount - (before.get(`${x.peerId}:${x.kind}`)?.byteCount ?? 0));
    const workerCpu = w0 && ((w1.worker.ru_utime + w1.worker.ru_stime - w0.worker.ru_utime - w0.worker.ru_stime) / 1000 / wall) * 100;
    ingest = {
      producers: producers.length,
      producersReceiving: bytes.filter((b) => b > 0).length,
      receivedMbps: (bytes.reduce((a, b) => a + b, 0) * 8) / wall / 1e6,
      packetsLost: producers.reduce((a, x) => a + x.packetsLost, 0),
      mediasoupWorkerCpuPct: workerCpu,
    };
    const expected = n * (variant === 'audio' ? 1 : 2);
    if (ingest.producers !== expected || ingest.producersReceiving !== expected) {
      throw new Error(`N=${n}: mediasoup has ${ingest.producers}/${expected} producers, ${ingest.producersReceiving} receiving`);
    }
  }
  const r = {
    variant,
    n,
    stack,
    sendPath: stack === 'werift' && !fastPath ? 'werift-sender' : 'direct',
    pacing,
    setupMs: Math.round(setupMs),
    windowS: +wall.toFixed(1),
    cpuPct: +cpuPct.toFixed(1),
    cpuPctPerStream: +(cpuPct / n).toFixed(2),
    procStatCpuPct: +procPct.toFixed(1),
    rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    sentPayloadMbps: +((payloadBytes * 8) / wall / 1e6).toFixed(2),
    packetsPerS: Math.round(packets / wall),
    skippedFrames: skipped,
    eventLoopDelayP99Ms: +(delay.percentile(99) / 1e6).toFixed(1),
    publishersWithRtcpReports: withReports,
    rtcpReportedLost: rtcpLost,
    ingest,
    server: srv1 ? treeCpuPct(srv0, srv1, wall) : undefined,
    loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  };
  results.push(r);
  console.log(JSON.stringify(r));
  await Promise.all(pubs.map((p) => p.close()));
  await sleep(1500);
  shutdown();
}
if (!process.argv.includes('--child')) {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ url, variant, node: process.version, results }, null, 2));
  console.log(`wrote ${out}`);
}
process.exit(0);
