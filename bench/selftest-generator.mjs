#!/usr/bin/env node
// Self-test of the load generator without our server: a bare mediasoup router (bare-ingest.mjs) in this
// process, one publisher per variant and stack, and for each: ICE + DTLS connected, every producer
// exists, mediasoup counted its bytes (producer.getStats) and sent RTCP receiver reports back.
// Bounded: ~20 s. Exit code 0 only if every check passed.
//   node bench/selftest-generator.mjs [--stacks libdatachannel,werift] [--seconds 4]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startBareIngest } from './bare-ingest.mjs';
import { publish, shutdown } from './load-publisher.mjs';
import { prepareMedia } from './prepare-media.mjs';

const arg = (name, fallback) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : fallback);
const stacks = arg('--stacks', 'libdatachannel').split(',');
const seconds = Number(arg('--seconds', 4));
const hardStop = setTimeout(() => {
  console.error('selftest: hard time limit reached');
  process.exit(2);
}, (seconds + 40) * 1000 * stacks.length);

prepareMedia({ log: () => {} });
if (stacks.length > 1) {
  // One process per stack: libdatachannel's cleanup() has crashed (SIGSEGV) in a process that also ran
  // werift publishers and an in-process mediasoup worker after its own publishers had closed.
  let status = 0;
  for (const stack of stacks) {
    const args = process.argv.slice(2).filter((a, i, all) => a !== '--stacks' && all[i - 1] !== '--stacks');
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...args, '--stacks', stack], { stdio: 'inherit', timeout: (seconds + 60) * 1000 });
    if (child.status !== 0) status = 1;
  }
  clearTimeout(hardStop);
  process.exit(status);
}
const ingest = await startBareIngest({ port: Number(arg('--port', 4196)), rtcPort: Number(arg('--rtc-port', 20600)) });
let passed = 0;
let failed = 0;
const check = (ok, what) => {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
};
try {
  for (const stack of stacks) {
    const pubs = [];
    for (const variant of ['h264', 'vp8', 'audio']) pubs.push(await publish({ serverUrl: ingest.url, variant, stack, connectTimeoutMs: 15_000 }));
    const settled = await Promise.allSettled(pubs.map((p) => p.connected));
    settled.forEach((r, i) => check(r.status === 'fulfilled', `${stack}/${pubs[i].variant}: connected${r.status === 'rejected' ? ` (${r.reason.message})` : ''}`));
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const received = await ingest.producerStats();
    for (const p of pubs) {
      const s = p.stats();
      check(['connected', 'completed'].includes(s.ice) && s.dtls === 'connected', `${stack}/${p.variant}: ice=${s.ice} dtls=${s.dtls}`);
      for (const kind of p.variant === 'audio' ? ['audio'] : ['video', 'audio']) {
        const r = received.find((x) => x.peerId === p.peerId && x.kind === kind);
        const sent = s.tracks[kind]?.packets ?? 0;
        check(r && r.byteCount > 0 && r.packetCount >= sent * 0.95, `${stack}/${p.variant}/${kind}: sent ${sent} packets, mediasoup received ${r?.packetCount ?? 0} (${r?.byteCount ?? 0} bytes, ${r?.mimeType})`);
      }
      check(s.rtcp.receiverReports > 0, `${stack}/${p.variant}: ${s.rtcp.receiverReports} RTCP receiver reports from mediasoup`);
    }
    await Promise.all(pubs.map((p) => p.close()));
  }
} finally {
  await ingest.close();
  shutdown();
  clearTimeout(hardStop);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
