// CPU, memory and UDP receive drops of the server's processes, from /proc (test/support/shared/proc.js):
// the server's tree (the Nest process, its mediasoup worker and FFmpeg children, each kind apart),
// the generator and the harness, the busy time of each core, and every UDP socket any process of the
// server's tree holds, found through /proc/<pid>/fd, whatever its port.
import {
  CLK_TCK,
  listProcesses,
  processTree as shared,
  readCores,
  readRss,
  readStat,
  readUdpCounters,
  readUdpSockets,
  socketInodes,
  uptimeSeconds,
} from '../test/support/shared/proc.js';

/** What a process of the server's tree is: the Nest process, a mediasoup worker, FFmpeg or other. */
export function kindOf(proc, rootPid) {
  if (proc.pid === rootPid) return 'node';
  if (proc.comm.startsWith('mediasoup-work')) return 'mediasoup';
  if (proc.comm === 'ffmpeg') return 'ffmpeg';
  return 'other';
}

/** The root and every descendant, with their kind. */
export function processTree(rootPid, processes) {
  return shared(rootPid, processes).map((p) => ({ ...p, kind: kindOf(p, rootPid) }));
}

/**
 * Socket classes: the WebRtcServer's socket (every publisher's media), the worker's other sockets
 * (plain transports towards FFmpeg, and WebRTC transports without a WebRtcServer), FFmpeg's RTP/RTCP
 * sockets, the Nest process's and any other child's.
 */
export const SOCKET_CLASSES = ['webRtcServer', 'worker', 'ffmpeg', 'node', 'other'];

/** `webRtcServerPorts`: the [first, last] port the worker's WebRtcServers may listen on. */
function socketClass(kind, port, [first, last]) {
  if (kind === 'mediasoup') return port >= first && port <= last ? 'webRtcServer' : 'worker';
  return kind; // ffmpeg, node, other
}

/**
 * Samples, about once a second, the server's process tree and any extra processes (generator,
 * harness): CPU ticks per process over the window between startWindow() and stopWindow(), the peak
 * RSS per process kind, and the drop counter of every UDP socket the tree holds. A process born
 * during the window counts from zero; one that died counts up to its last sample.
 */
export class ProcSampler {
  constructor({ serverPid, webRtcServerPorts, extra = {}, intervalMs = 1000 }) {
    this.serverPid = serverPid;
    this.webRtcServerPorts = webRtcServerPorts;
    /** name -> pid of processes measured on their own (not their children). */
    this.extra = extra;
    this.intervalMs = intervalMs;
    this.timer = undefined;
    /** inode -> { cls, port, base, last }: drops since the socket was first seen (0 for sockets born later). */
    this.sockets = new Map();
    this.started = false;
    this.resetPeaks();
  }

  resetPeaks() {
    /** kind -> { maxProcessMiB, maxTotalMiB, maxTotalPssMiB, maxCount } */
    this.peaks = {};
    this.maxQueue = Object.fromEntries(SOCKET_CLASSES.map((c) => [c, 0]));
  }

  /** Starts sampling (peaks accumulate until resetPeaks()); CPU windows are startWindow/stopWindow. */
  run() {
    this.sample();
    this.started = true;
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
    this.sampleSockets(tree);
    if (this.window) this.track(tree);
    return tree;
  }

  /** Every UDP socket of every process of the tree (by fd inode), its class and drop counter. */
  sampleSockets(tree) {
    const udp = readUdpSockets();
    for (const p of tree) {
      for (const inode of socketInodes(p.pid)) {
        const s = udp.get(inode);
        if (!s) continue; // TCP, Unix or netlink socket
        const known = this.sockets.get(inode);
        if (known) {
          known.last = s.drops;
        } else {
          // Sockets there at the first sample count from then; later ones were born since: from 0.
          this.sockets.set(inode, {
            cls: socketClass(p.kind, s.port, this.webRtcServerPorts),
            port: s.port,
            base: this.started ? 0 : s.drops,
            last: s.drops,
          });
        }
        const cls = this.sockets.get(inode).cls;
        this.maxQueue[cls] = Math.max(this.maxQueue[cls], s.rxQueue);
      }
    }
  }

  /**
   * Drops per socket class since sampling began (a fresh sample first), the number of sockets seen
   * per class, and the kernel's RcvbufErrors (every socket of the machine: others' too).
   */
  dropTotals() {
    this.sample();
    const drops = Object.fromEntries(SOCKET_CLASSES.map((c) => [c, 0]));
    const sockets = Object.fromEntries(SOCKET_CLASSES.map((c) => [c, 0]));
    for (const s of this.sockets.values()) {
      drops[s.cls] += s.last - s.base;
      sockets[s.cls]++;
    }
    const k = readUdpCounters();
    return { drops, sockets, kernelRcvbufErrors: (k.udp.RcvbufErrors ?? 0) + (k.udp6.RcvbufErrors ?? 0) };
  }

  track(tree) {
    for (const p of tree) {
      const seen = this.window.procs.get(p.pid);
      if (seen && seen.startTicks === p.startTicks) {
        seen.last = p.ticks;
      } else {
        const bornInWindow = p.startTicks / CLK_TCK >= this.window.uptime0 - 0.05;
        this.window.procs.set(p.pid, {
          kind: p.kind,
          startTicks: p.startTicks,
          first: bornInWindow ? 0 : p.ticks,
          last: p.ticks,
          born: bornInWindow,
        });
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
    const all0 = new Map(listProcesses().map((p) => [p.pid, p]));
    this.window = { t0: performance.now(), uptime0: uptimeSeconds(), cores0: readCores(), procs: new Map(), extra: new Map(), all0 };
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
      coreBusy[id] = {
        busy: (c1.busy - c0.busy) / total,
        softirq: (c1.softirq - c0.softirq) / total,
        steal: (c1.steal - c0.steal) / total,
      };
    }
    const total = server.node + server.mediasoup + server.ffmpeg + server.other;
    // Everything else that ran during the window (other users of the machine), biggest first.
    const ours = new Set([...w.procs.keys(), ...Object.values(this.extra).map(Number), process.pid]);
    const foreignList = [];
    for (const p of listProcesses()) {
      if (ours.has(p.pid)) continue;
      const before = w.all0.get(p.pid);
      const ticks =
        before && before.startTicks === p.startTicks ? p.ticks - before.ticks : p.startTicks / CLK_TCK >= w.uptime0 - 0.05 ? p.ticks : 0;
      if (ticks > 0) foreignList.push({ pid: p.pid, comm: p.comm, cores: ticks / CLK_TCK / wall });
    }
    foreignList.sort((a, b) => b.cores - a.cores);
    const foreign = { cores: foreignList.reduce((sum, p) => sum + p.cores, 0), top: foreignList.slice(0, 4) };
    return {
      wallSeconds: wall,
      server: { ...server, total },
      processCounts: counts,
      processesBornInWindow: bornInWindow,
      extra,
      coreBusy,
      foreign,
    };
  }
}
