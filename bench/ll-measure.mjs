#!/usr/bin/env node
// What Low-Latency HLS costs the Nest process (FFmpeg does not change: LL parts are cut in Node from
// the units it already demuxes for the classic segments).
//
//   taskset -c 1 node bench/ll-measure.mjs [--seconds 20] [--port-base 17000] [--viewers 100] [--blocked 1000]
//     [--server-cores 0] [--json FILE]   (npm run bench runs it and reads FILE)
//
// 1. Packaging alone, offline: the bench's 720p30 2.5 Mbit/s H264 + 128 kbit/s AAC (demuxed and cut by
//    the server's own code), 120 s of media through an LlStreamPackager; CPU per second of media, with
//    and without rendering both playlists after every part (what blocked requests then cost).
// 2. The real server (`node dist/main.js` pinned to core 0, one H264 + Opus publisher from the bench's
//    generator): the Nest process's CPU with no viewer, with N LL viewers (each like hls.js: a blocked
//    playlist request for the next part of video and of audio, then the part, again and again), and
//    with M blocked requests held at all times; the delay from a part to the answer of the requests
//    blocked for it, from the server's histogram.
// Prints a Markdown table; the server's log goes to bench-results/ll-measure-server.log.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { publish, shutdown } from './load-publisher.mjs';
import { watchLiveTimes } from './live-times.mjs';
import { DEFAULT_MEDIA_DIR, prepareMedia } from './prepare-media.mjs';
import { CLK_TCK, readStat } from '../test/support/shared/proc.js';
import { ensureBuilt, portBlock, startServer } from './server-process.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
const SECONDS = Number(args.seconds ?? 20);
const VIEWERS = Number(args.viewers ?? 100);
const BLOCKED = Number(args.blocked ?? 1000);
const PORT_BASE = Number(args['port-base'] ?? 17000);
const SERVER_CORES = args['server-cores'] ?? '0';
const JSON_FILE = args.json;
const log = (line) => console.error(`[ll-measure] ${line}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

ensureBuilt(root, log);
prepareMedia({ log, only: ['video.h264', 'audio.opus'] });

// ---------------------------------------------------------------------------------------------------
// 1. Packaging alone

const { TsDemuxer } = require(join(root, 'dist/media/ts-demuxer.js'));
const { SegmentCutter } = require(join(root, 'dist/transcode/segment-cutter.js'));
const { LlStreamPackager } = require(join(root, 'dist/packaging/ll-stream.js'));
const { llPartTiming } = require(join(root, 'dist/packaging/ll/index.js'));

/** The server's units for the bench media: FFmpeg writes MPEG-TS as the server's FFmpeg does, demuxed and cut here. */
function serverUnits() {
  const ts = (inputArgs, codecArgs) =>
    execFileSync('ffmpeg', ['-v', 'error', ...inputArgs, ...codecArgs, '-f', 'mpegts', '-pes_payload_size', '0', 'pipe:1'], {
      maxBuffer: 1 << 30,
    });
  const video = ts(['-framerate', '30', '-i', join(DEFAULT_MEDIA_DIR, 'video.h264')], ['-c:v', 'copy']);
  const audio = ts(['-i', join(DEFAULT_MEDIA_DIR, 'audio.opus')], ['-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2']);
  const out = [];
  const cutter = new SegmentCutter(
    [
      { name: 'video', kind: 'video' },
      { name: 'audio', kind: 'audio' },
    ],
    { targetSeconds: 1 },
    (rendition, unit, segment) => out.push({ rendition, unit: { ...unit, segment } }),
  );
  const units = [];
  for (const [rendition, bytes] of [
    ['video', video],
    ['audio', audio],
  ]) {
    const demuxer = new TsDemuxer((unit) => units.push({ rendition, unit: { ...unit, programHeaders: demuxer.programHeaders } }));
    demuxer.push(bytes);
    demuxer.end();
  }
  units.sort((a, b) => a.unit.dts - b.unit.dts);
  for (const { rendition, unit } of units) cutter.push(rendition, unit);
  cutter.end();
  return out;
}

function packagingCost(units, renderPlaylists) {
  const ll = new LlStreamPackager('bench', { timing: llPartTiming(0.2), windowSegments: 12, graceSegments: 4 }, () => 1, {
    warn: () => undefined,
  });
  const tracks = [
    { rendition: 'video', kind: 'video', source: 'rtp' },
    { rendition: 'audio', kind: 'audio', source: 'rtp' },
  ];
  const span = units[units.length - 1].unit.pts - units[0].unit.pts + 3000;
  const segments = units[units.length - 1].unit.segment + 1;
  const loops = Math.ceil(120 / (span / 90000));
  ll.onRunStarted(1, tracks);
  let parts = 0;
  const versions = { video: '', audio: '' };
  const started = process.cpuUsage();
  for (let loop = 0; loop < loops; loop++) {
    for (const { rendition, unit } of units) {
      const shifted = { ...unit, pts: unit.pts + loop * span, dts: unit.dts + loop * span };
      ll.onUnit(rendition, rendition, shifted, loop * segments + unit.segment);
      if (renderPlaylists) {
        const next = ll.rendition(rendition).nextPartNumber;
        if (versions[rendition] !== next) {
          versions[rendition] = next;
          parts++;
          for (const name of ['video', 'audio']) ll.playlist(name);
        }
      }
    }
  }
  const used = process.cpuUsage(started);
  return { cpuPerMediaSecond: (used.user + used.system) / 1e6 / ((loops * span) / 90000), memoryMiB: ll.memoryBytes / 2 ** 20, parts };
}

log('packaging alone: preparing units');
const units = serverUnits();
packagingCost(units, false); // warm-up (JIT)
const bare = packagingCost(units, false);
const withRenders = packagingCost(units, true);

// ---------------------------------------------------------------------------------------------------
// 2. The real server

const ticksOf = (pid) => readStat(pid)?.ticks ?? NaN;
async function cpuOver(pid, seconds, during = async () => {}) {
  const t0 = performance.now();
  const before = ticksOf(pid);
  await Promise.all([sleep(seconds * 1000), during()]);
  return (ticksOf(pid) - before) / CLK_TCK / ((performance.now() - t0) / 1000);
}

function get(agent, url) {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Where a playlist stands: the next part (msn, index) and the hinted part's URI. */
function nextOf(text) {
  const lines = text.split('\n');
  let msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)[1]) + Number(/SKIPPED-SEGMENTS=(\d+)/.exec(text)?.[1] ?? 0);
  let index = 0;
  for (const line of lines) {
    if (line.startsWith('#EXT-X-PART:')) index++;
    else if (line.startsWith('#EXTINF')) {
      msn++;
      index = 0;
    }
  }
  const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(text)?.[1];
  const lastComplete = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)[1]) + (text.match(/#EXTINF/g)?.length ?? 0) - 1;
  return { msn, part: index, hint, lastComplete };
}

/** One rendition of one viewer, like hls.js in LL mode: a blocked reload for the next part, then the part. */
async function viewerLoop(base, name, stop, counters) {
  const agent = new Agent({ keepAlive: true, maxSockets: 2 });
  let { body } = await get(agent, `${base}/${name}`);
  while (!stop.done) {
    const next = nextOf(body.toString());
    const answer = await get(agent, `${base}/${name}?_HLS_msn=${next.msn}&_HLS_part=${next.part}&_HLS_skip=YES`);
    counters.playlists++;
    if (answer.status !== 200) {
      counters.errors++;
      ({ body } = await get(agent, `${base}/${name}`));
      continue;
    }
    body = answer.body;
    if (next.hint) {
      const part = await get(agent, `${base}/${next.hint}`);
      counters.parts++;
      counters.bytes += part.body.length;
    }
  }
  agent.destroy();
}

/** Histogram buckets of the part-to-answer delay from /metrics: { le: count }. */
async function answerBuckets(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Object.fromEntries(
    [...text.matchAll(/webrtc_hls_ll_blocked_answer_seconds_bucket\{le="([^"]+)"\} (\d+)/g)].map((m) => [m[1], Number(m[2])]),
  );
}
function p95(before, after) {
  const les = Object.keys(after);
  const total = after['+Inf'] - (before['+Inf'] ?? 0);
  const bucket = les.find((le) => after[le] - (before[le] ?? 0) >= 0.95 * total);
  return {
    total,
    p95: bucket === '+Inf' ? '> 250 ms' : `≤ ${Number(bucket) * 1000} ms`,
    p95Ms: bucket === '+Inf' ? undefined : Number(bucket) * 1000, // the bucket's upper bound
  };
}

const ports = portBlock(PORT_BASE);
const hlsDir = mkdtempSync(join(tmpdir(), 'll-measure-'));
mkdirSync(join(root, 'bench-results'), { recursive: true });
const server = await startServer({
  root,
  profile: 'copy',
  cores: SERVER_CORES,
  ports,
  hlsDir,
  logFile: join(root, 'bench-results', 'll-measure-server.log'),
  env: { LOG_LEVEL: 'warn' },
  log,
});
const rows = [];
// The same figures for `npm run bench` (--json).
const summary = {
  viewers: VIEWERS,
  blocked: BLOCKED,
  packaging: {
    coresPerStream: bare.cpuPerMediaSecond,
    withRendersCoresPerStream: withRenders.cpuPerMediaSecond,
    memoryMiB: bare.memoryMiB,
  },
};
try {
  const live = watchLiveTimes(server.url);
  await live.opened;
  const publisher = await publish({ serverUrl: server.url, variant: 'h264' });
  await publisher.connected;
  await live.waitForLive(publisher.peerId, 30_000);
  log(`peerLive: ${JSON.stringify(live.livePayload(publisher.peerId))}`);
  live.close();
  const base = `${server.url}/live`;
  const video = `${publisher.peerId}-video.ll.m3u8`;
  const audio = `${publisher.peerId}-audio.ll.m3u8`;
  await sleep(3000);

  const idle = await cpuOver(server.pid, SECONDS);
  rows.push(['1 stream, no viewer', idle.toFixed(3), '', '']);
  summary.idleCores = idle;

  const counters = { playlists: 0, parts: 0, bytes: 0, errors: 0 };
  let stop = { done: false };
  let before = await answerBuckets(server.url);
  const loops = [];
  for (let i = 0; i < VIEWERS; i++) loops.push(viewerLoop(base, video, stop, counters), viewerLoop(base, audio, stop, counters));
  await sleep(3000); // all viewers at the live edge
  const c0 = { ...counters };
  const withViewers = await cpuOver(server.pid, SECONDS);
  const rate = (counters.playlists - c0.playlists) / SECONDS / VIEWERS;
  stop.done = true;
  await Promise.all(loops);
  const delay = p95(before, await answerBuckets(server.url));
  const requestsPerSecond = ((counters.playlists - c0.playlists) * 2) / SECONDS; // each reload is followed by its part
  summary.withViewers = {
    cores: withViewers,
    addedCores: withViewers - idle,
    reloadsPerSecondPerViewer: rate,
    requestsPerSecond,
    cpuMicrosPerRequest: ((withViewers - idle) / requestsPerSecond) * 1e6,
    answers: delay.total,
    answerP95Ms: delay.p95Ms,
    errors: counters.errors,
  };
  rows.push([
    `1 stream, ${VIEWERS} LL viewers (video + audio: ${rate.toFixed(1)} blocked reloads/s per viewer, each followed by its part; ${Math.round(requestsPerSecond)} requests/s)`,
    withViewers.toFixed(3),
    `+${(withViewers - idle).toFixed(3)}: ${(((withViewers - idle) / requestsPerSecond) * 1e6).toFixed(0)} µs of CPU per request`,
    `${delay.p95} (${delay.total} answers); ${counters.errors} errors`,
  ]);

  // Held: right after a segment completes, BLOCKED requests for the segment after the next (held about
  // two seconds); the CPU is sampled for a second while all of them wait, eight times.
  // Keep every connection (Agent keeps 256 idle ones by default), opened first, a hundred at a time
  // (the server's listen backlog is 511), so the blocked requests go out at once.
  const agent = new Agent({ keepAlive: true, maxSockets: BLOCKED + 10, maxFreeSockets: BLOCKED + 10 });
  for (let opened = 0; opened < BLOCKED; opened += 100) {
    await Promise.all(Array.from({ length: Math.min(100, BLOCKED - opened) }, () => get(agent, `${base}/${video}`)));
  }
  let heldTicks = 0;
  let heldSeconds = 0;
  let heldErrors = 0;
  for (let cycle = 0; cycle < 10; cycle++) {
    const now = nextOf((await get(agent, `${base}/${video}`)).body.toString());
    const fresh = nextOf((await get(agent, `${base}/${video}?_HLS_msn=${now.lastComplete + 1}`)).body.toString());
    const target = fresh.lastComplete + 2;
    const answers = Promise.all(Array.from({ length: BLOCKED }, () => get(agent, `${base}/${video}?_HLS_msn=${target}`)));
    const until = Date.now() + 1000;
    let blocked = 0;
    while (Date.now() < until && blocked < 0.98 * BLOCKED) {
      await sleep(50);
      blocked = Number(/^webrtc_hls_ll_blocked_requests (\d+)/m.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1] ?? 0);
    }
    if (blocked < 0.98 * BLOCKED) {
      log(`cycle ${cycle}: only ${blocked} blocked; skipped`);
    } else {
      const t0 = performance.now();
      const ticks = ticksOf(server.pid);
      await sleep(600);
      heldTicks += ticksOf(server.pid) - ticks;
      heldSeconds += (performance.now() - t0) / 1000;
      blocked = Number(/^webrtc_hls_ll_blocked_requests (\d+)/m.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1] ?? 0);
      if (blocked < 0.98 * BLOCKED) log(`cycle ${cycle}: released before the window ended (${blocked} left)`);
    }
    const statuses = (await answers).map((a) => a.status);
    heldErrors += statuses.filter((status) => status !== 200).length;
    if (statuses.some((status) => status !== 200)) {
      const counts = {};
      for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
      log(
        `cycle ${cycle}: answers ${JSON.stringify(counts)}; ${(await answers)
          .find((a) => a.status !== 200)
          .body.toString()
          .slice(0, 200)}`,
      );
    }
  }
  agent.destroy();
  const whileHeld = heldTicks / CLK_TCK / heldSeconds;
  summary.held = { cores: whileHeld, addedCores: whileHeld - idle, sampledSeconds: heldSeconds, errors: heldErrors };
  rows.push([
    `1 stream, ${BLOCKED} requests blocked (sampled ${heldSeconds.toFixed(1)} s while all were held)`,
    whileHeld.toFixed(3),
    `${(whileHeld - idle >= 0 ? '+' : '') + (whileHeld - idle).toFixed(3)} over no viewer`,
    `${heldErrors} errors`,
  ]);
  await publisher.close();
} finally {
  shutdown();
  await server.stop();
  rmSync(hlsDir, { recursive: true, force: true });
}

console.log('\n| measured | Nest process, cores | | part → blocked answer (p95) |');
console.log('| --- | ---: | --- | --- |');
console.log(
  `| LL packaging alone (offline, 720p30 2.5 Mbit/s H264 + AAC, 120 s of media) | ${bare.cpuPerMediaSecond.toFixed(4)} per stream | ${bare.memoryMiB.toFixed(1)} MiB in memory | |`,
);
console.log(`| … and both playlists rendered after every part | ${withRenders.cpuPerMediaSecond.toFixed(4)} per stream | | |`);
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
if (JSON_FILE) writeFileSync(JSON_FILE, JSON.stringify(summary, null, 2));
process.exit(0);
