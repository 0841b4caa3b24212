import { readFileSync } from 'node:fs';

const FIRST = 24000;
const BLOCK = 250;
/** Blocks between the service's defaults (20000–23999) and Linux's ephemeral range (32768+). */
const BLOCKS = Math.floor((32768 - FIRST) / BLOCK);
const taken = new Set<number>();

/**
 * Port blocks of their own for each server a test starts (WebRtcServer, RTC and FFmpeg ranges), so a
 * test does not collide with a server started by hand, by the same test file or by another test
 * process: a block is never handed out twice in one process, and one whose ports something already
 * listens on is skipped.
 */
export function randomPortEnv(): Record<string, string> {
  const listening = listeningPorts();
  const start = Math.floor(Math.random() * BLOCKS);
  for (let i = 0; i < BLOCKS; i++) {
    const base = FIRST + ((start + i) % BLOCKS) * BLOCK;
    if (taken.has(base)) continue;
    if ([...listening].some((port) => port >= base && port < base + BLOCK)) continue;
    taken.add(base);
    // WebRtcServers first (four per worker by default: room for ten workers), then RTC, then FFmpeg.
    return {
      WEBRTC_SERVER_PORT: String(base),
      RTC_MIN_PORT: String(base + 40),
      RTC_MAX_PORT: String(base + 139),
      FFMPEG_MIN_PORT: String(base + 140),
      FFMPEG_MAX_PORT: String(base + 249),
    };
  }
  throw new Error('no free port block left for a test server');
}

/** Local UDP and TCP ports in use now, from the kernel's tables. */
function listeningPorts(): Set<number> {
  const ports = new Set<number>();
  for (const table of ['udp', 'udp6', 'tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      if (local) ports.add(parseInt(local.slice(local.lastIndexOf(':') + 1), 16));
    }
  }
  return ports;
}
