// CPU and memory of processes from /proc, for the benchmark: the server's tree (the Nest process, its
// mediasoup worker and FFmpeg children, each kind apart), the generator, the harness itself, and the
// busy time of each core (to see whether anything else ran on the server's core).
import { readdirSync, readFileSync } from 'node:fs';

/** Linux USER_HZ: utime/stime/starttime in /proc/<pid>/stat count these. */
export const CLK_TCK = 100;

/** Fields of /proc/<pid>/stat we use, or undefined if the process is gone. */
export function readStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const rest = text.slice(close + 2).split(' ');
    // rest[0] is field 3 (state): field k is rest[k - 3].
    return {
      pid: Number(pid),
      comm: text.slice(text.indexOf('(') + 1, close),
      ppid: Number(rest[1]),
      ticks: Number(rest[11]) + Number(rest[12]), // utime + stime, every thread of the process
      startTicks: Number(rest[19]), // starttime, clock ticks after boot
    };
  } catch {
    return undefined;
  }
}

/**
 * Resident set now and its peak (VmHWM), in MiB, from /proc/<pid>/status; with `pss`, also the
 * proportional set (shared pages split between the processes sharing them: N FFmpegs share one
 * copy of libav*, which RSS counts N times).
 */
export function readRss(pid, { pss = false } = {}) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name, t = text) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(t)?.[1] ?? NaN);
    const out = { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
    if (pss) out.pssMiB = kb('Pss', readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')) / 1024;
    return out;
  } catch {
    return undefined;
  }
}

function allProcs() {
  const procs = [];
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) > 57) continue; // not a digit: not a pid
    const s = readStat(name);
    if (s) procs.push(s);
  }
  return procs;
}

/** What a process of the server's tree is: the Nest process, a mediasoup worker, FFmpeg or other. */
export function kindOf(proc, rootPid) {
  if (proc.pid === rootPid) return 'node';
  if (proc.comm.startsWith('mediasoup-work')) return 'mediasoup';
  if (proc.comm === 'ffmpeg') return 'ffmpeg';
  return 'other';
}

/** The root and every descendant, with their kind. */
export function processTree(rootPid) {
  const procs = allProcs();
  const children = new Map();
  for (const p of procs) {
    if (!children.has(p.ppid)) children.set(p.ppid, []);
    children.get(p.ppid).push(p);
  }
  const root = procs.find((p) => p.pid === rootPid);
  if (!root) return [];
  const out = [];
  const stack = [root];
  for (let guard = 0; stack.length > 0 && guard < 100_000; guard++) {
    const p = stack.pop();
    out.push({ ...p, kind: kindOf(p, rootPid) });
    stack.push(...(children.get(p.pid) ?? []));
  }
  return out;
}

/** Per-core jiffies from /proc/stat: busy (all but idle and iowait), steal, total. */
export function readCores() {
  const cores = {};
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = m[2].split(/\s+/).map(Number);
    const total = user + nice + system + idle + iowait + irq + softirq + steal;
    cores[m[1]] = { busy: total - idle - iowait, softirq: softirq + irq, steal, total };
  }
  return cores;
}

/** UDP sockets (IPv4) with their local port, receive queue and drop counter, keyed by inode. */
export function readUdpSockets() {
  const sockets = new Map();
  let text = '';
  try {
    text = readFileSync('/proc/net/udp', 'utf8');
  } catch {
    return sockets;
  }
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 13) continue;
    const port = parseInt(f[1].split(':')[1], 16);
    const rxQueue = parseInt(f[4].split(':')[1], 16);
    sockets.set(f[9], { port, rxQueue, drops: Number(f[12]) });
  }
  return sockets;
}

/** Kernel UDP counters (RcvbufErrors: datagrams dropped because a socket's receive buffer was full). */
export function readUdpCounters() {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  if (lines.length < 2) return {};
  const names = lines[0].split(/\s+/).slice(1);
  const values = lines[1].split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i]]));
}

const uptimeSeconds = () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);

/**
 * Samples, about once a second, the server's process tree and any extra processes (generator,
 * harness): CPU ticks per process over the window between start() and stop(), and the peak RSS
 * seen per process kind. A process born during the window counts from zero; one that died counts
 * up to its last sample (at most one sampling interval is lost).
 */
export class ProcSampler {
  constructor({ serverPid, extra = {}, intervalMs = 1000, portClasses = {} }) {
    this.serverPid = serverPid;
    /** name -> (port) => boolean: UDP sockets whose drops are reported per class. */
    this.portClasses = portClasses;
    /** name -> pid of processes measured on their own (not their children). */
    this.extra = extra;
    this.intervalMs = intervalMs;
    this.timer = undefined;
    this.resetPeaks();
  }

  resetPeaks() {
    /** kind -> { maxProcessMiB, maxTotalMiB, maxCount } */
    this.peaks = {};
  }

  /** Starts sampling RSS (peaks accumulate until resetPeaks()); CPU windows are start/stop. */
  run() {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref?.();
  }

  halt() {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  sample() {
    const tree = processTree(this.serverPid);
    const totals = {};
    for (const p of tree) {
      const rss = readRss(p.pid, { pss: true });
      if (!rss || !Number.isFinite(rss.rssMiB)) continue;
      const peak = (this.peaks[p.kind] ??= { maxProcessMiB: 0, maxTotalMiB: 0, maxTotalPssMiB: 0, maxCount: 0 });
      peak.maxProcessMiB = Math.max(peak.maxProcessMiB, rss.rssMiB);
      const t = (totals[p.kind] ??= { mib: 0, pss: 0, count: 0 });
      t.mib += rss.rssMiB;
      t.pss += Number.isFinite(rss.pssMiB) ? rss.pssMiB : 0;
      t.count++;
    }
    for (const [kind, t] of Object.entries(totals)) {
      this.peaks[kind].maxTotalMiB = Math.max(this.peaks[kind].maxTotalMiB, t.mib);
      this.peaks[kind].maxTotalPssMiB = Math.max(this.peaks[kind].maxTotalPssMiB, t.pss);
      this.peaks[kind].maxCount = Math.max(this.peaks[kind].maxCount, t.count);
    }
    for (const [name, pid] of Object.entries(this.extra)) {
      const rss = readRss(pid);
      if (!rss) continue;
      const peak = (this.peaks[name] ??= { maxProcessMiB: 0, maxTotalMiB: 0, maxCount: 1 });
      peak.maxProcessMiB = Math.max(peak.maxProcessMiB, rss.rssMiB);
      peak.maxTotalMiB = peak.maxProcessMiB;
    }
    if (this.window) this.track(tree);
    return tree;
  }

  track(tree) {
    for (const p of tree) {
      const seen = this.window.procs.get(p.pid);
      if (seen && seen.startTicks === p.startTicks) {
        seen.last = p.ticks;
      } else {
        const bornInWindow = p.startTicks / CLK_TCK >= this.window.uptime0 - 0.05;
        this.window.procs.set(p.pid, { kind: p.kind, startTicks: p.startTicks, first: bornInWindow ? 0 : p.ticks, last: p.ticks, born: bornInWindow });
      }
    }
    for (const [name, pid] of Object.entries(this.extra)) {
      const s = readStat(pid);
      if (!s) continue;
      const seen = this.window.extra.get(name);
      if (seen) seen.last = s.ticks;
      else this.window.extra.set(name, { first: s.ticks, last: s.ticks });
    }
  }

  startWindow() {
    const all0 = new Map(allProcs().map((p) => [p.pid, p]));
    this.window = { t0: performance.now(), uptime0: uptimeSeconds(), cores0: readCores(), procs: new Map(), extra: new Map(), udp0: readUdpSockets(), udpCounters0: readUdpCounters(), all0 };
    this.sample();
  }

  /** CPU (cores = CPU-seconds per wall second) over the window, per server process kind and extra. */
  stopWindow() {
    this.sample();
    const w = this.window;
    this.window = undefined;
    const wall = (performance.now() - w.t0) / 1000;
    const cores1 = readCores();
    const server = { node: 0, mediasoup: 0, ffmpeg: 0, other: 0 };
    const counts = { node: 0, mediasoup: 0, ffmpeg: 0, other: 0 };
    let bornInWindow = 0;
    for (const p of w.procs.values()) {
      server[p.kind] += (p.last - p.first) / CLK_TCK / wall;
      counts[p.kind]++;
      if (p.born) bornInWindow++;
    }
    const extra = {};
    for (const [name, e] of w.extra) extra[name] = (e.last - e.first) / CLK_TCK / wall;
    const coreBusy = {};
    for (const [id, c1] of Object.entries(cores1)) {
      const c0 = w.cores0[id];
      if (!c0) continue;
      const total = c1.total - c0.total || 1;
      coreBusy[id] = { busy: (c1.busy - c0.busy) / total, softirq: (c1.softirq - c0.softirq) / total, steal: (c1.steal - c0.steal) / total };
    }
    const total = server.node + server.mediasoup + server.ffmpeg + server.other;
    // Datagrams dropped on full receive buffers, per socket class (sockets born in the window count from 0).
    const udpDrops = Object.fromEntries(Object.keys(this.portClasses).map((name) => [name, 0]));
    const udpMaxQueue = Object.fromEntries(Object.keys(this.portClasses).map((name) => [name, 0]));
    for (const [inode, sock] of readUdpSockets()) {
      const cls = Object.entries(this.portClasses).find(([, test]) => test(sock.port))?.[0];
      if (!cls) continue;
      udpDrops[cls] += sock.drops - (w.udp0.get(inode)?.drops ?? 0);
      udpMaxQueue[cls] = Math.max(udpMaxQueue[cls], sock.rxQueue);
    }
    // Everything else that ran during the window (other users of the machine), biggest first.
    const ours = new Set([...w.procs.keys(), ...Object.values(this.extra).map(Number), process.pid]);
    const foreignList = [];
    for (const p of allProcs()) {
      if (ours.has(p.pid)) continue;
      const before = w.all0.get(p.pid);
      const ticks = before && before.startTicks === p.startTicks ? p.ticks - before.ticks : p.startTicks / CLK_TCK >= w.uptime0 - 0.05 ? p.ticks : 0;
      if (ticks > 0) foreignList.push({ pid: p.pid, comm: p.comm, cores: ticks / CLK_TCK / wall });
    }
    foreignList.sort((a, b) => b.cores - a.cores);
    const foreign = { cores: foreignList.reduce((sum, p) => sum + p.cores, 0), top: foreignList.slice(0, 4) };
    const counters1 = readUdpCounters();
    const udpRcvbufErrors = (counters1.RcvbufErrors ?? 0) - (w.udpCounters0.RcvbufErrors ?? 0);
    return { wallSeconds: wall, server: { ...server, total }, processCounts: counts, processesBornInWindow: bornInWindow, extra, coreBusy, udpDrops, udpRcvbufErrors, foreign };
  }
}
