/** Linux USER_HZ: utime, stime and starttime in /proc/<pid>/stat count these. */
export const CLK_TCK: number;

export interface ProcStat {
  pid: number;
  comm: string;
  /** R, S, D, Z, ... */
  state: string;
  ppid: number;
  /** utime + stime of every thread, in CLK_TCK units. */
  ticks: number;
  /** Start time in clock ticks after boot: tells a process from a later one reusing its pid. */
  startTicks: number;
}

export interface UdpSocket {
  inode: string;
  family: 4 | 6;
  /** Hex as in /proc/net/udp{,6}. */
  address: string;
  port: number;
  /** Bytes waiting in the receive queue. */
  rxQueue: number;
  /** Datagrams dropped on this socket (full receive buffer, ...). */
  drops: number;
}

export function readStat(pid: number | string): ProcStat | undefined;
export function listProcesses(): ProcStat[];
export function processTree(rootPid: number, processes?: ProcStat[]): ProcStat[];
export function isGone(pid: number): boolean;
export function readRss(pid: number, options?: { pss?: boolean }): { rssMiB: number; hwmMiB: number; pssMiB?: number } | undefined;
export function readCores(): Record<string, { busy: number; softirq: number; steal: number; total: number }>;
export function readUdpSockets(): Map<string, UdpSocket>;
export function socketInodes(pid: number): Set<string>;
export function readUdpCounters(): { udp: Record<string, number>; udp6: Record<string, number> };
export function uptimeSeconds(): number;
