// Linux /proc readers shared by the benchmark and the tests: processes (state, CPU ticks, tree,
// memory), per-core busy time, UDP sockets with their drop counters, and which sockets a process holds.
'use strict';
const { readdirSync, readFileSync, readlinkSync } = require('node:fs');

/** Linux USER_HZ: utime, stime and starttime in /proc/<pid>/stat count these. */
const CLK_TCK = 100;

/** /proc/<pid>/stat, or undefined once the process is gone. */
function readStat(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (in parentheses) may itself hold spaces or parentheses: split after the last ')'.
  const close = text.lastIndexOf(')');
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state): field k is rest[k - 3].
  return {
    pid: Number(pid),
    comm: text.slice(text.indexOf('(') + 1, close),
    state: rest[0],
    ppid: Number(rest[1]),
    ticks: Number(rest[11]) + Number(rest[12]), // utime + stime of every thread
    startTicks: Number(rest[19]), // clock ticks after boot: tells a process from a later one reusing its pid
  };
}

/** Every process on the machine (those that vanish while being read are left out). */
function listProcesses() {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue; // not a pid
    const stat = readStat(name);
    if (stat) out.push(stat);
  }
  return out;
}

/** The root process and all its descendants (root first), or [] if the root is gone. */
function processTree(rootPid, processes = listProcesses()) {
  const children = new Map();
  for (const p of processes) {
    if (!children.has(p.ppid)) children.set(p.ppid, []);
    children.get(p.ppid).push(p);
  }
  const root = processes.find((p) => p.pid === rootPid);
  if (!root) return [];
  const out = [];
  const stack = [root];
  while (stack.length > 0 && out.length < 100_000) {
    const p = stack.pop();
    out.push(p);
    stack.push(...(children.get(p.pid) || []));
  }
  return out;
}

/** The process has exited: no such pid, or only a zombie waiting to be reaped. */
function isGone(pid) {
  const stat = readStat(pid);
  return stat === undefined || stat.state === 'Z';
}

/**
 * Resident set now and its peak (VmHWM) in MiB; with `pss`, the proportional set too (shared pages
 * split between the processes sharing them). Undefined once the process is gone.
 */
function readRss(pid, { pss = false } = {}) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name, text) => Number((new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text) || [])[1] ?? NaN);
    const out = { rssMiB: kb('VmRSS', status) / 1024, hwmMiB: kb('VmHWM', status) / 1024 };
    if (pss) out.pssMiB = kb('Pss', readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')) / 1024;
    return out;
  } catch {
    return undefined;
  }
}

/** Per-core jiffies from /proc/stat: busy (all but idle and iowait), softirq (+irq), steal, total. */
function readCores() {
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

/**
 * Every UDP socket of this network namespace (IPv4 and IPv6), keyed by inode: local address and
 * port, receive queue (bytes) and `drops` (datagrams dropped, e.g. because the receive buffer was full).
 */
function readUdpSockets() {
  const sockets = new Map();
  for (const [file, family] of [
    ['/proc/net/udp', 4],
    ['/proc/net/udp6', 6],
  ]) {
    let text;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // no IPv6 in this kernel
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 13) continue;
      const [address, port] = f[1].split(':');
      sockets.set(f[9], {
        inode: f[9],
        family,
        address,
        port: parseInt(port, 16),
        rxQueue: parseInt(f[4].split(':')[1], 16),
        drops: Number(f[12]),
      });
    }
  }
  return sockets;
}

/** Inodes of the sockets a process holds open (from /proc/<pid>/fd); empty once it is gone. */
function socketInodes(pid) {
  const out = new Set();
  let fds;
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1]);
    } catch {
      // closed while we looked
    }
  }
  return out;
}

/** The kernel's UDP counters (/proc/net/snmp `Udp:`, /proc/net/snmp6 `Udp6*`), e.g. RcvbufErrors. */
function readUdpCounters() {
  const out = { udp: {}, udp6: {} };
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('Udp:'));
    if (lines.length >= 2) {
      const names = lines[0].split(/\s+/).slice(1);
      const values = lines[1].split(/\s+/).slice(1).map(Number);
      names.forEach((n, i) => (out.udp[n] = values[i]));
    }
  } catch {
    // not Linux-like
  }
  try {
    for (const line of readFileSync('/proc/net/snmp6', 'utf8').split('\n')) {
      const m = /^Udp6(\w+)\s+(\d+)/.exec(line);
      if (m) out.udp6[m[1]] = Number(m[2]);
    }
  } catch {
    // no IPv6
  }
  return out;
}

const uptimeSeconds = () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);

module.exports = {
  CLK_TCK,
  readStat,
  listProcesses,
  processTree,
  isGone,
  readRss,
  readCores,
  readUdpSockets,
  socketInodes,
  readUdpCounters,
  uptimeSeconds,
};
