#!/usr/bin/env node
// npm run soak -- [--minutes 10] [--seed 1] [--port-base 17000] [--publishers 4] [--json FILE] [--keep-failed DIR]
//   --keep-failed: where the segments a viewer's decoder refused are written (default: a folder in tmp).
//   --port-base: 800 ports from there (17000, 17800 and 18600 stay clear of the service's defaults).
//
// An hour (or --minutes) of churn against the real server (dist/, through scripts/soak-server.mjs):
// publishers join and leave, toggle mic and camera, drop without leaving (a process frozen: no RTP, no
// RTCP, no socket.io), in H264 and VP8, from Chromium (mediasoup-client) and from the bench's generator
// (node-datachannel, test/support/bench-publisher.mjs); FFmpeg is killed at random and one mediasoup
// worker is killed half way. hls.js viewers in Chromium watch every live stream throughout.
//
// At the end, with every publisher gone and the retention time over: no FFmpeg, UDP socket, file
// descriptor, transport (router.dump()) or HLS file is left; the Nest process and the workers grew less
// than 10 % in RSS after warm-up (judged on runs of 5 minutes or more); every viewer kept advancing
// while its stream was live, with no stall over 2 s (3 s within 5 s of an FFmpeg kill of its stream).
// Prints a table, exits 0 when every check passes. Everything is bounded: the run by --minutes, every
// wait by its own deadline, the teardown by a hard limit.
import { fork, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ensureBuilt } from '../bench/server-process.mjs';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');
const { buildSync } = require('esbuild');
const proc = require('../test/support/shared/proc.js');
const { SseClient } = require('../test/support/shared/sse.js');
const { parsePrometheus, metricSum } = require('../test/support/shared/prometheus.js');

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// ------------------------------------------------------------------ options

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const MINUTES = Number(option('minutes', '10'));
const SEED = Number(option('seed', String(Date.now() % 100000)));
const PORT_BASE = Number(option('port-base', '17000'));
const MAX_PUBLISHERS = Number(option('publishers', '4'));
const JSON_OUT = option('json');
const KEEP_FAILED_DIR = option('keep-failed', join(tmpdir(), `webrtc-hls-soak-failed-${Date.now()}`));
if (!(MINUTES > 0 && MINUTES <= 24 * 60)) throw new Error('--minutes must be between 0 and 1440');

const RETENTION_SECONDS = 5;
/** FFmpeg of one stream is killed at most this often (a healthy run of 30 s resets the restart backoff). */
const KILL_SPACING_MS = 35_000;
const PUBLISHER_TIMEOUT_SECONDS = 10;
const MAX_STALL_MS = 2000;
const MAX_STALL_NEAR_KILL_MS = 3000;
const NEAR_KILL_MS = 5000;
/** RSS growth is judged only on runs this long: shorter ones are mostly warm-up. */
const RSS_MIN_MINUTES = 5;
const RSS_MAX_GROWTH = 0.1;
/** Hard limit on the teardown (publishers gone, streams removed, checks), whatever happens. */
const TEARDOWN_MS = 120_000;

// ------------------------------------------------------------------ small tools

let seed = SEED;
/** mulberry32: a seeded run can be replayed. */
function random() {
  seed |= 0;
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (list) => list[Math.floor(random() * list.length)];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const t0 = Date.now();
const clock = () => ((Date.now() - t0) / 1000).toFixed(1).padStart(7);
const log = (line) => process.stdout.write(`[soak ${clock()} s] ${line}\n`);

async function waitFor(what, probe, timeoutMs, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)];
};

// ------------------------------------------------------------------ stopping on a signal or a bug

/** Processes this run started besides the server (bench publishers), for an abort. */
const children = new Set();
let browser;
let server;
let hlsDir;
let aborting = false;
/** When the mediasoup worker was killed (streams ending right after it ended with it). */
let workerKilledAt;
async function abort(why) {
  if (aborting) return;
  aborting = true;
  process.stdout.write(`\n[soak] aborted: ${why?.stack ?? why}\n`);
  for (const child of children) child.kill('SIGKILL');
  await Promise.race([browser?.close().catch(() => undefined), sleep(10_000)]);
  if (server?.pid) {
    for (const p of proc.processTree(server.pid).reverse()) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  if (hlsDir) rmSync(hlsDir, { recursive: true, force: true });
  process.exit(2);
}
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => void abort(signal));
process.on('unhandledRejection', (error) => void abort(error));
process.on('uncaughtException', (error) => void abort(error));

// ------------------------------------------------------------------ the server

ensureBuilt(root, log);
hlsDir = mkdtempSync(join(tmpdir(), 'webrtc-hls-soak-'));
// The port block (800 ports from --port-base): WebRTC servers at +0…+7 (two workers × four), RTC +10…+209, HTTP +300,
// FFmpeg +400…+799 (50 streams of 8 ports). Below the service's defaults (20000…) and the tests' blocks.
const port = PORT_BASE + 300;
server = fork(join(root, 'scripts', 'soak-server.mjs'), [], {
  cwd: root,
  env: {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    ANNOUNCED_IP: '127.0.0.1',
    HLS_DIR: hlsDir,
    HLS_RETENTION_SECONDS: String(RETENTION_SECONDS),
    HLS_MIN_FREE_MB: '0',
    MEDIASOUP_WORKERS: '2',
    WEBRTC_SERVER_PORT: String(PORT_BASE),
    RTC_MIN_PORT: String(PORT_BASE + 10),
    RTC_MAX_PORT: String(PORT_BASE + 209),
    FFMPEG_MIN_PORT: String(PORT_BASE + 400),
    FFMPEG_MAX_PORT: String(PORT_BASE + 799),
    PUBLISHER_TIMEOUT_SECONDS: String(PUBLISHER_TIMEOUT_SECONDS),
    STREAM_RECONNECT_GRACE_SECONDS: '0',
    LOG_LEVEL: process.env.SOAK_LOG_LEVEL ?? 'warn',
    SHUTDOWN_GRACE_MS: '0',
  },
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const url = `http://127.0.0.1:${port}`;
const serverExited = new Promise((resolve) => server.once('exit', (code, signal) => resolve({ code, signal })));
let inspections = 0;
function inspect() {
  const id = ++inspections;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer to inspect')), 10_000);
    const onMessage = (message) => {
      if (message?.type !== 'inspect' || message.id !== id) return;
      clearTimeout(timer);
      server.off('message', onMessage);
      resolve(message);
    };
    server.on('message', onMessage);
    server.send({ type: 'inspect', id });
  });
}
await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('the server did not start within 60 s')), 60_000);
  server.on('message', (message) => message?.type === 'ready' && (clearTimeout(timer), resolve()));
  void serverExited.then(({ code }) => reject(new Error(`the server exited with ${code} while starting`)));
});
log(`server ${server.pid} on ${url}, HLS in ${hlsDir}, seed ${SEED}, ${MINUTES} min`);

const serverTree = () => proc.processTree(server.pid);
const workerPids = () =>
  serverTree()
    .filter((p) => p.comm.startsWith('mediasoup-work'))
    .map((p) => p.pid);
const ffmpegPidsOf = () =>
  serverTree()
    .filter((p) => p.comm === 'ffmpeg')
    .map((p) => p.pid);
const fdCount = (pid) => {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
};
const udpSocketsOf = (pids) => {
  const udp = proc.readUdpSockets();
  return pids.flatMap((pid) => [...proc.socketInodes(pid)].filter((inode) => udp.has(inode)));
};
/** Stream id of an FFmpeg from its command line (its SDP lives in HLS_DIR/.work/<stream>/). */
const streamOfFfmpeg = (pid) => {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /\.work\/([^/]+)\//.exec(cmd)?.[1];
  } catch {
    return undefined;
  }
};

const baseline = {
  workers: workerPids().length,
  udp: udpSocketsOf(serverTree().map((p) => p.pid)).length,
  nodeFds: fdCount(server.pid),
  workerFds: workerPids().reduce((sum, pid) => sum + fdCount(pid), 0),
};
log(`baseline: ${baseline.workers} workers, ${baseline.udp} UDP sockets, fds node ${baseline.nodeFds} / workers ${baseline.workerFds}`);

// ------------------------------------------------------------------ browsers and pages

const flags = JSON.parse(readFileSync(join(root, 'test', 'support', 'chromium-flags.json'), 'utf8'));
browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: [...flags, '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'],
});
const bundles = Object.fromEntries(
  ['harness', 'player'].map((name) => [
    name,
    buildSync({
      entryPoints: [join(root, 'test', 'browser', `${name}.ts`)],
      bundle: true,
      write: false,
      format: 'iife',
      target: 'es2020',
      logLevel: 'silent',
    }).outputFiles[0].text,
  ]),
);
async function openPage(which) {
  const page = await browser.newPage();
  await page.route(`${url}/__soak/${which}.html`, (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><html><body><script>${bundles[which].replace(/<\/script>/g, '<\\/script>')}</script></body></html>`,
    }),
  );
  await page.goto(`${url}/__soak/${which}.html`);
  return page;
}

// ------------------------------------------------------------------ what happens, and what is counted

const counts = {
  joined: 0,
  joinFailed: 0,
  left: 0,
  dropped: 0,
  toggles: 0,
  ffmpegKills: 0,
  workerKills: 0,
  viewers: 0,
  unexpectedEnds: 0,
  errors: 0,
};
/** streamId → what we know of it. */
const streams = new Map();
/** Publishers by id (= their stream's id). */
const publishers = new Map();
const note = (what) => {
  counts.errors++;
  log(`! ${what}`);
};

function streamRecord(id) {
  let record = streams.get(id);
  if (!record)
    streams.set(
      id,
      (record = {
        id,
        liveAt: undefined,
        endedAt: undefined,
        cause: undefined,
        causeAt: undefined,
        kills: [],
        viewer: undefined,
        events: [],
      }),
    );
  return record;
}
/** Something that happened to a stream, for the report of a viewer that stalled. */
const event = (id, what) => streamRecord(id).events.push({ at: Date.now(), what });

/** A bench generator publisher in a process of its own (see test/support/bench-publisher.mjs). */
async function startBench(variant) {
  const child = spawn(
    process.execPath,
    [join(root, 'test', 'support', 'bench-publisher.mjs'), JSON.stringify({ serverUrl: url, variant })],
    {
      stdio: ['pipe', 'pipe', 'ignore'],
    },
  );
  children.add(child);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  void exited.then(() => children.delete(child));
  const id = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bench publisher not connected in 60 s')), 60_000);
    let peerId;
    createInterface({ input: child.stdout }).on('line', (line) => {
      const message = JSON.parse(line);
      if (message.peerId) peerId = message.peerId;
      if (message.connected) {
        clearTimeout(timer);
        resolve(peerId);
      }
      if (message.error) {
        clearTimeout(timer);
        reject(new Error(message.error));
      }
    });
    void exited.then(() => (clearTimeout(timer), reject(new Error('bench publisher exited'))));
  }).catch((error) => {
    child.kill('SIGKILL');
    throw error;
  });
  const signal = (name) => child.exitCode === null && child.signalCode === null && child.kill(name);
  return {
    id,
    kind: `bench ${variant}`,
    canToggle: false,
    canDrop: true,
    async leave() {
      signal('SIGCONT');
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
    drop: () => signal('SIGSTOP'),
    async kill() {
      signal('SIGKILL');
      await exited;
    },
  };
}

/** A Chromium page publishing the fake camera and microphone with mediasoup-client. */
async function startChromium(codec) {
  const page = await openPage('harness');
  try {
    const id = await page.evaluate(() => window.harness.connect());
    await page.evaluate((c) => window.harness.publish({ video: 'camera', audio: 'mic', codec: c }), codec);
    return {
      id,
      kind: `chromium ${codec}`,
      canToggle: true,
      canDrop: false,
      page,
      async leave() {
        await page.close().catch(() => undefined);
      },
      async toggle(kinds, ms) {
        await page.evaluate((k) => k.forEach((kind) => window.harness.pause(kind)), kinds);
        await sleep(ms);
        if (!page.isClosed()) await page.evaluate((k) => k.forEach((kind) => window.harness.resume(kind)), kinds);
      },
      kill: async () => page.close().catch(() => undefined),
    };
  } catch (error) {
    await page.close().catch(() => undefined);
    throw error;
  }
}

let joining = 0;
/** The first publishers are one of each: Chromium H264 (it pauses), bench VP8 and H264 (they drop). */
const firstKinds = ['chromium H264', 'bench vp8', 'bench h264'];
async function joinOne() {
  const kinds = ['bench h264', 'bench vp8', 'chromium H264', 'chromium VP8'];
  const chromiumLive = [...publishers.values()].filter((p) => p.kind.startsWith('chromium')).length;
  // One Chromium publisher at a time: each costs about half a core, and the soak must leave the host
  // room for the server it measures (VP8 comes from the generator too).
  const choice = firstKinds.shift() ?? (chromiumLive >= 1 ? pick(kinds.slice(0, 2)) : pick(kinds));
  if (publishers.size + joining >= MAX_PUBLISHERS) return;
  joining++;
  try {
    const publisher = choice.startsWith('bench') ? await startBench(choice.split(' ')[1]) : await startChromium(choice.split(' ')[1]);
    publisher.joinedAt = Date.now();
    publishers.set(publisher.id, publisher);
    streamRecord(publisher.id).publisher = publisher.kind;
    counts.joined++;
    log(`+ ${publisher.kind} ${publisher.id}`);
  } catch (error) {
    counts.joinFailed++;
    note(`join (${choice}) failed: ${error.message}`);
  } finally {
    joining--;
  }
}

async function leave(publisher, cause) {
  publishers.delete(publisher.id);
  const record = streamRecord(publisher.id);
  record.cause ??= cause;
  record.causeAt ??= Date.now();
  await publisher.leave().catch((error) => note(`leave ${publisher.id}: ${error.message}`));
}

// Viewers: one hls.js page per live stream, from its peerLive to a few seconds after its peerLeft.
const sse = new SseClient(`${url}/api/live-streams`, {
  onEvent: (event) => {
    const id = event.data?.peerId;
    if (!id) return;
    if (event.type === 'peerLive') void startViewer(id);
    if (event.type === 'peerLeft') void endOfStream(id);
  },
});
await sse.opened;

async function startViewer(id) {
  const record = streamRecord(id);
  record.liveAt = Date.now();
  event(id, 'live');
  if (record.viewer || record.endedAt) return;
  record.viewer = { page: undefined, stalls: [], playingSince: undefined, fatal: [] };
  try {
    const page = await openPage('player');
    record.viewer.page = page;
    await page.evaluate((u) => window.player.play(u, { keepSegments: true }), `${url}/live/${id}.m3u8`);
    counts.viewers++;
  } catch (error) {
    note(`viewer of ${id}: ${error.message}`);
  }
}

async function collectViewer(record) {
  const page = record.viewer?.page;
  if (!page || page.isClosed()) return;
  try {
    const { stalls, playingSince } = await page.evaluate(() => window.player.stalls());
    const state = await page.evaluate(() => window.player.state());
    const errors = await page.evaluate(() => window.player.errors);
    Object.assign(record.viewer, { stalls, playingSince, fatal: state.fatalErrors, errors, waits: state.waits });
    // The segments the player had loaded when its decoder refused one: to decode them again after the run.
    const refused = await page.evaluate(() => window.player.segmentsAtError());
    if (refused.length > 0) {
      const dir = join(KEEP_FAILED_DIR, record.id);
      mkdirSync(dir, { recursive: true });
      for (const { name, at, base64 } of refused) writeFileSync(join(dir, `${at}-${name}`), Buffer.from(base64, 'base64'));
      record.viewer.keptIn = dir;
    }
  } catch (error) {
    note(`reading the viewer of ${record.id}: ${error.message}`);
  }
  await page.close().catch(() => undefined);
}

async function endOfStream(id) {
  const record = streamRecord(id);
  record.endedAt = Date.now();
  event(id, 'ended');
  if (!record.cause && workerKilledAt && record.endedAt - workerKilledAt < 15_000) {
    // Its publisher was on the killed worker (the server ends those streams at once).
    record.cause = 'worker killed';
    record.causeAt = workerKilledAt;
    const publisher = publishers.get(id);
    publishers.delete(id);
    await publisher?.kill();
  }
  if (!record.cause) {
    // Nobody here ended it: a publisher that went by itself, or a bug.
    const publisher = publishers.get(id);
    if (publisher) publishers.delete(id);
    record.cause = 'unexpected';
    record.causeAt = record.endedAt;
    counts.unexpectedEnds++;
    note(`stream ${id} ended with nobody ending it`);
    await publisher?.kill();
  }
  // The viewer plays what it has buffered, then stops: read it a moment later.
  await sleep(3000);
  await collectViewer(record);
}

// Playlists, as the server writes them: a gap between new segments tells a stall of the server from
// one of the player (a starved browser). One poll for every live stream.
const PLAYLIST_POLL_MS = 500;
const playlistTimer = setInterval(async () => {
  for (const record of streams.values()) {
    if (!record.liveAt || record.endedAt) continue;
    // A failed poll (a connection reset under load, the body cut) is a poll missed, nothing more.
    const fetchText = (name) =>
      fetch(`${url}/live/${name}`)
        .then((r) => (r.ok ? r.text() : undefined))
        .catch(() => undefined);
    const [text, audio] = await Promise.all([fetchText(`${record.id}-video.m3u8`), fetchText(`${record.id}-audio.m3u8`)]);
    if (!text) continue;
    // The last 15 s of both playlists, for the report of a viewer that stalled.
    record.playlists = [...(record.playlists ?? []).slice(-29), { at: Date.now(), video: text, audio }];
    const sequence = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0) + (text.match(/#EXTINF/g)?.length ?? 0);
    const now = Date.now();
    if (record.lastSequence === undefined || sequence > record.lastSequence) {
      if (record.lastSegmentAt !== undefined && now - record.lastSegmentAt > 2000) {
        // What ended it: the segments listed since (a long one is a keyframe that came late).
        const listed = [...text.matchAll(/#EXTINF:([\d.]+)/g)].slice(-(sequence - record.lastSequence)).map((m) => m[1]);
        const breaks = (text.match(/#EXT-X-DISCONTINUITY\n/g) ?? []).length;
        record.playlistGaps = [...(record.playlistGaps ?? []), { from: record.lastSegmentAt, to: now, listed, breaks }];
      }
      record.lastSequence = sequence;
      record.lastSegmentAt = now;
    }
  }
}, PLAYLIST_POLL_MS);

// ------------------------------------------------------------------ churn

const rssSamples = [];
function sampleRss() {
  const node = proc.readRss(server.pid)?.rssMiB;
  const workers = Object.fromEntries(workerPids().map((pid) => [pid, proc.readRss(pid)?.rssMiB]));
  // With the load of the moment: RSS follows the number of live streams and viewers.
  const live = [...streams.values()].filter((r) => r.liveAt && !r.endedAt).length;
  rssSamples.push({ at: Date.now(), node, workers, live, publishers: publishers.size });
}

const runMs = MINUTES * 60_000;
/** The run's own clock starts now, after the build and the server's start. */
const churnStart = Date.now();
const endAt = churnStart + runMs;
const workerKillAt = churnStart + runMs * 0.5;
let workerKilled = false;
const rssTimer = setInterval(sampleRss, 5000);
sampleRss();

function killFfmpeg() {
  // A stream's FFmpeg is killed at most every KILL_SPACING_MS, once it has been live a while: kills in
  // a row are a crash loop, which has its own backoff and is another test.
  const ageOf = (pid) => proc.uptimeSeconds() - (proc.readStat(pid)?.startTicks ?? Infinity) / proc.CLK_TCK;
  const candidates = ffmpegPidsOf()
    .map((pid) => ({ pid, stream: streamOfFfmpeg(pid) }))
    // A running FFmpeg (not one still starting: killing that is a failed start, another test).
    .filter(({ pid }) => ageOf(pid) > 5)
    .filter(({ stream }) => {
      const record = stream && streams.get(stream);
      return (
        record &&
        record.liveAt &&
        Date.now() - record.liveAt > 10_000 &&
        !record.endedAt &&
        !record.cause &&
        Date.now() - (record.kills.at(-1) ?? 0) > KILL_SPACING_MS
      );
    });
  if (candidates.length === 0) return false;
  const { pid, stream } = pick(candidates);
  try {
    process.kill(pid, 'SIGKILL');
    counts.ffmpegKills++;
    streamRecord(stream).kills.push(Date.now());
    event(stream, 'FFmpeg killed');
    log(`x FFmpeg ${pid} of ${stream}`);
    return true;
  } catch {
    return false; // it had just exited
  }
}

async function killWorker() {
  const { workers } = await inspect();
  const victim = pick(workers);
  // Streams whose publisher is on that worker end with it: their peers leave (worker-died).
  const before = new Set([...publishers.keys()]);
  workerKilledAt = Date.now();
  process.kill(victim.pid, 'SIGKILL');
  workerKilled = true;
  counts.workerKills++;
  const killedAt = Date.now();
  log(`x mediasoup worker ${victim.id} (pid ${victim.pid})`);
  await waitFor('the worker replaced', async () => (await inspect()).workers.length === baseline.workers, 30_000).catch((error) =>
    note(error.message),
  );
  // The ones that left because of it: mark them, and let their publishers go.
  for (const id of before) {
    const record = streams.get(id);
    if (record?.endedAt && record.endedAt >= killedAt) {
      if (record.cause === 'unexpected') {
        counts.unexpectedEnds--;
        counts.errors--;
      }
      record.cause = 'worker killed';
      record.causeAt = killedAt;
    }
    const publisher = publishers.get(id);
    if (publisher && record?.endedAt) {
      publishers.delete(id);
      await publisher.kill();
    }
  }
}

log('churn begins');
const pending = new Set();
const background = (promise) => {
  pending.add(promise);
  void promise.finally(() => pending.delete(promise));
};

/** Each action: whether it can run now, and what it does. Returns true when it did something. */
const actions = {
  join: () => publishers.size + joining < MAX_PUBLISHERS && (background(joinOne()), true),
  leave: () => {
    const old = settled().filter((p) => Date.now() - p.joinedAt > MIN_LIFE_MS);
    if (old.length === 0) return false;
    const publisher = pick(old);
    counts.left++;
    log(`- ${publisher.kind} ${publisher.id} leaves`);
    event(publisher.id, 'leaves');
    background(leave(publisher, 'left'));
    return true;
  },
  toggle: () => {
    const togglable = settled().filter((p) => p.canToggle);
    if (togglable.length === 0) return false;
    const publisher = pick(togglable);
    const kinds = pick([['audio'], ['video'], ['audio', 'video']]);
    const ms = 2000 + Math.floor(random() * 4000);
    counts.toggles++;
    publisher.toggling = true;
    log(`~ ${publisher.id} pauses ${kinds.join('+')} for ${ms} ms`);
    event(publisher.id, `pause ${kinds.join('+')} ${ms} ms`);
    background(
      publisher
        .toggle(kinds, ms)
        .catch((error) => note(`toggle ${publisher.id}: ${error.message}`))
        .finally(() => (publisher.toggling = false)),
    );
    return true;
  },
  drop: () => {
    const droppable = settled().filter((p) => p.canDrop && streams.get(p.id)?.liveAt);
    if (droppable.length === 0) return false;
    const publisher = pick(droppable);
    publisher.dropped = true;
    counts.dropped++;
    const record = streamRecord(publisher.id);
    record.cause = 'dropped';
    record.causeAt = Date.now();
    publisher.drop();
    log(`. ${publisher.kind} ${publisher.id} drops without leaving`);
    event(publisher.id, 'dropped');
    // The server ends it after PUBLISHER_TIMEOUT_SECONDS; its process is ended once that happened.
    background(
      waitFor(
        `${publisher.id} ended by the server`,
        async () => streams.get(publisher.id)?.endedAt,
        (PUBLISHER_TIMEOUT_SECONDS + 60) * 1000,
      )
        .catch((error) => note(error.message))
        .finally(() => {
          publishers.delete(publisher.id);
          return publisher.kill();
        }),
    );
    return true;
  },
  ffmpegKill: () => killFfmpeg(),
};
/** Publishers that are not dropping, pausing or just starting. */
const settled = () => [...publishers.values()].filter((p) => !p.dropped && !p.toggling && streams.get(p.id)?.liveAt);
const MIN_LIFE_MS = Math.min(20_000, runMs / 8);
// Every kind of event happens at least once, whatever the dice say: by these shares of the run.
const due = [
  { action: 'toggle', at: 0.2 },
  { action: 'ffmpegKill', at: 0.3 },
  { action: 'drop', at: 0.4 },
  { action: 'leave', at: 0.6 },
  { action: 'ffmpegKill', at: 0.7 },
];
const done = new Map();
const didAction = (name) => done.set(name, (done.get(name) ?? 0) + 1);
// Then the dice: weights of each event per turn.
const weights = [
  ['join', 0.3],
  ['leave', 0.15],
  ['toggle', 0.2],
  ['drop', 0.08],
  ['ffmpegKill', 0.12],
];
while (Date.now() < endAt) {
  const share = (Date.now() - churnStart) / runMs;
  if (!workerKilled && Date.now() >= workerKillAt) {
    await killWorker().catch((error) => note(`worker kill: ${error.message}`));
    continue;
  }
  if (publishers.size + joining < 2) {
    if (actions.join()) didAction('join');
  } else {
    const forced = due.find((d) => share >= d.at && !d.done && (d.done = actions[d.action]()));
    if (forced) didAction(forced.action);
    else {
      let roll = random() * weights.reduce((sum, [, w]) => sum + w, 0);
      const [name] = weights.find(([, w]) => (roll -= w) < 0) ?? weights[0];
      if (await actions[name]()) didAction(name);
    }
  }
  await sleep(1500 + Math.floor(random() * 2500));
}
clearInterval(rssTimer);
clearInterval(playlistTimer);
const churnEndedAt = Date.now();
log('churn over: every publisher leaves');

// ------------------------------------------------------------------ teardown and checks

const teardownDeadline = Date.now() + TEARDOWN_MS;
const remaining = (ms) => Math.max(1000, Math.min(ms, teardownDeadline - Date.now()));
for (const publisher of [...publishers.values()]) background(leave(publisher, 'left (end of run)'));
await Promise.allSettled([...pending]);
await waitFor('every stream ended', async () => [...streams.values()].every((s) => !s.liveAt || s.endedAt), remaining(60_000)).catch(
  (error) => note(error.message),
);
await sleep(3500); // the last viewers are read 3 s after their stream's end
for (const record of streams.values()) if (record.viewer?.page && !record.viewer.page.isClosed()) await collectViewer(record);
await waitFor(
  'every stream removed after retention',
  async () => (await (await fetch(`${url}/api/streams`)).json()).length === 0,
  remaining((RETENTION_SECONDS + 30) * 1000),
).catch((error) => note(error.message));
const metrics = parsePrometheus(
  await fetch(`${url}/metrics`).then(
    (r) => r.text(),
    () => '',
  ),
);
const final = await inspect();
const tree = serverTree();
const leftover = {
  ffmpeg: tree.filter((p) => p.comm === 'ffmpeg').length + final.ffmpegPids.length,
  udp: udpSocketsOf(tree.map((p) => p.pid)).length,
  nodeFds: fdCount(server.pid),
  workerFds: workerPids().reduce((sum, pid) => sum + fdCount(pid), 0),
  transports: final.transports,
  ports: final.ffmpegPortsInUse,
  files: readdirSync(hlsDir).filter((name) => name !== '.work'),
  work: (() => {
    try {
      return readdirSync(join(hlsDir, '.work'));
    } catch {
      return [];
    }
  })(),
};

// Viewers: stalls while their stream was live and not being ended.
const judged = [];
for (const record of streams.values()) {
  const viewer = record.viewer;
  if (!viewer?.playingSince) continue;
  // Until its end was caused (a leave, a drop, the worker), or its end, or the end of the run.
  const until = Math.min(record.causeAt ?? Infinity, record.endedAt ?? Infinity, churnEndedAt);
  // A drop is judged to its end: filler keeps the stream going until the publisher timeout.
  const judgedUntil = record.cause === 'dropped' ? Math.min(record.endedAt ?? churnEndedAt, churnEndedAt) : until;
  const stalls = viewer.stalls.filter((s) => s.from < judgedUntil - 500);
  let worst = 0;
  let worstOver = 0;
  for (const stall of stalls) {
    const ms = Math.min(stall.to, judgedUntil) - stall.from;
    const nearKill = record.kills.some((k) => stall.to >= k && stall.from <= k + NEAR_KILL_MS);
    const limit = nearKill ? MAX_STALL_NEAR_KILL_MS : MAX_STALL_MS;
    worst = Math.max(worst, ms);
    if (ms > limit) worstOver = Math.max(worstOver, ms);
  }
  judged.push({
    id: record.id,
    publisher: record.publisher,
    cause: record.cause,
    watchedS: (judgedUntil - viewer.playingSince) / 1000,
    worst,
    worstOver,
    fatal: viewer.fatal.length,
    fatalErrors: viewer.fatal,
    stalls: stalls.map((st) => `${((st.from - churnStart) / 1000).toFixed(1)}+${((st.to - st.from) / 1000).toFixed(1)}`),
    events: record.events.map((e) => `${((e.at - churnStart) / 1000).toFixed(1)} ${e.what}`),
    playlistGaps: (record.playlistGaps ?? []).map(
      (g) =>
        `${((g.from - churnStart) / 1000).toFixed(1)}+${((g.to - g.from) / 1000).toFixed(1)}` +
        ` (then ${g.listed.join('+')} s listed; ${g.breaks} discontinuities in the playlist)`,
    ),
    // What the player and the browser said, with when and on which segment where it was about media.
    errors: (viewer.errors ?? []).map((e) =>
      /append|RequiresReset|MediaError/i.test(e.details)
        ? `${e.at ? ((e.at - churnStart) / 1000).toFixed(1) : '?'} ${e.details}${e.frag ? ` [${e.frag}]` : ''}${e.reason ? ` (${e.reason.slice(0, 300)})` : ''}`
        : e.details,
    ),
    // Both playlists as they were when its worst stall began.
    playlistsAtStall: (() => {
      const worstStall = stalls.reduce((a, b) => (b.to - b.from > (a ? a.to - a.from : 0) ? b : a), undefined);
      if (!worstStall || !record.playlists) return undefined;
      const at = record.playlists.filter((p) => p.at <= worstStall.from + 1000).at(-1) ?? record.playlists[0];
      return at && { at: ((at.at - churnStart) / 1000).toFixed(1), video: at.video, audio: at.audio };
    })(),
    playingSince: ((viewer.playingSince - churnStart) / 1000).toFixed(1),
    keptIn: viewer.keptIn,
  });
}
const badViewers = judged.filter((v) => v.worstOver > 0 || v.fatal > 0);

// RSS: median in the window after warm-up against the median in the last window before teardown.
const warmupEnd = churnStart + Math.min(runMs * 0.2, 10 * 60_000);
const windowMs = Math.max(runMs * 0.1, 30_000);
const inWindow = (from, to) => rssSamples.filter((s) => s.at >= from && s.at < to);
const early = inWindow(warmupEnd, warmupEnd + windowMs);
const late = inWindow(churnEndedAt - windowMs, churnEndedAt);
const growth = (a, b) => (a > 0 ? (b - a) / a : NaN);
const nodeGrowth = growth(median(early.map((s) => s.node)), median(late.map((s) => s.node)));
const workerGrowth = [...new Set(early.flatMap((s) => Object.keys(s.workers)))]
  .filter((pid) => late.some((s) => s.workers[pid] !== undefined))
  .map((pid) => ({
    pid,
    growth: growth(median(early.map((s) => s.workers[pid]).filter(Boolean)), median(late.map((s) => s.workers[pid]).filter(Boolean))),
  }));
const rssJudged = MINUTES >= RSS_MIN_MINUTES;
const pct = (x) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %` : 'n/a');

const checks = [];
const check = (name, pass, detail) => checks.push({ name, pass, detail });
check('server process alive', server.exitCode === null, `pid ${server.pid}`);
check('streams that ended with nobody ending them', counts.unexpectedEnds === 0, String(counts.unexpectedEnds));
check('FFmpeg processes left', leftover.ffmpeg === 0, String(leftover.ffmpeg));
check('UDP sockets of the server and workers', leftover.udp <= baseline.udp, `${baseline.udp} at start, ${leftover.udp} at the end`);
check(
  'file descriptors',
  leftover.nodeFds <= baseline.nodeFds + 5 && leftover.workerFds <= baseline.workerFds + 5,
  `node ${baseline.nodeFds} → ${leftover.nodeFds}, workers ${baseline.workerFds} → ${leftover.workerFds}`,
);
check(
  'transports left (router.dump())',
  leftover.transports === 0,
  `${leftover.transports} (consumers ${final.consumers}, producers ${final.producers})`,
);
check('FFmpeg port leases left', leftover.ports === 0, String(leftover.ports));
check(
  'HLS files left after retention',
  leftover.files.length === 0 && leftover.work.length === 0,
  `${leftover.files.length} files, ${leftover.work.length} work dirs${leftover.files.length ? `: ${leftover.files.slice(0, 3).join(', ')}` : ''}`,
);
check(
  `Nest RSS growth after warm-up (< ${RSS_MAX_GROWTH * 100} %)`,
  !rssJudged || nodeGrowth < RSS_MAX_GROWTH,
  `${median(early.map((s) => s.node)).toFixed(0)} → ${median(late.map((s) => s.node)).toFixed(0)} MiB (${pct(nodeGrowth)})${rssJudged ? '' : `; not judged under ${RSS_MIN_MINUTES} min`}`,
);
check(
  `worker RSS growth after warm-up (< ${RSS_MAX_GROWTH * 100} %)`,
  !rssJudged || workerGrowth.every((w) => !(w.growth >= RSS_MAX_GROWTH)),
  workerGrowth.length ? workerGrowth.map((w) => `pid ${w.pid} ${pct(w.growth)}`).join(', ') : 'no worker lived through both windows',
);
check(
  `viewers: no stall over ${MAX_STALL_MS / 1000} s (${MAX_STALL_NEAR_KILL_MS / 1000} s near an FFmpeg kill)`,
  badViewers.length === 0 && judged.length > 0,
  `${judged.length} viewers judged, longest stall ${(Math.max(0, ...judged.map((v) => v.worst)) / 1000).toFixed(2)} s` +
    (badViewers.length
      ? `; over the limit: ${badViewers.map((v) => `${v.id} (${v.publisher}) ${(v.worstOver / 1000).toFixed(2)} s${v.fatal ? ', fatal error' : ''}`).join('; ')}`
      : ''),
);

const restarts = metricSum(metrics, 'webrtc_hls_ffmpeg_restarts_total') ?? 0;
const lines = [
  '',
  `## Soak: ${MINUTES} min, seed ${SEED} — ${checks.every((c) => c.pass) ? 'PASS' : 'FAIL'}`,
  '',
  `\`node scripts/soak.mjs --minutes ${MINUTES} --seed ${SEED} --publishers ${MAX_PUBLISHERS}\``,
  '',
  '| what happened | count |',
  '| --- | ---: |',
  `| publishers joined (join failures) | ${counts.joined} (${counts.joinFailed}) |`,
  `| left / dropped without leaving | ${counts.left} / ${counts.dropped} |`,
  `| mic/camera pauses | ${counts.toggles} |`,
  `| FFmpeg killed / FFmpeg restarts (all causes) | ${counts.ffmpegKills} / ${restarts} |`,
  `| mediasoup workers killed | ${counts.workerKills} |`,
  `| hls.js viewers (judged) | ${counts.viewers} (${judged.length}) |`,
  `| RTP packets in / lost (mediasoup) | ${metricSum(metrics, 'webrtc_hls_ingest_rtp_packets_total') ?? 0} / ${metricSum(metrics, 'webrtc_hls_ingest_rtp_packets_lost_total') ?? 0} |`,
  `| RTP missed by FFmpeg / frames dropped | ${metricSum(metrics, 'webrtc_hls_ffmpeg_rtp_missed_packets_total') ?? 0} / ${metricSum(metrics, 'webrtc_hls_ffmpeg_dropped_frames_total') ?? 0} |`,
  `| incidents logged by the soak | ${counts.errors} |`,
  '',
  '| check | result | detail |',
  '| --- | --- | --- |',
  ...checks.map((c) => `| ${c.name} | ${c.pass ? 'pass' : '**FAIL**'} | ${c.detail} |`),
  '',
];
process.stdout.write(lines.join('\n'));
for (const v of badViewers) {
  process.stdout.write(
    `\nviewer of ${v.id} (${v.publisher}, ${v.cause ?? 'live to the end'}): playing from ${v.playingSince} s; stalls (start+length, s) ${v.stalls.join(' ')}; ` +
      `events ${v.events.join(', ')}; playlist gaps over 2 s ${v.playlistGaps.join(' ') || 'none'}; hls.js errors ${v.errors.join(', ') || 'none'}` +
      `${v.fatal ? `; fatal ${JSON.stringify(v.fatalErrors)}` : ''}${v.keptIn ? `; the segments loaded when the decoder failed: ${v.keptIn}` : ''}\n`,
  );
  if (v.playlistsAtStall)
    process.stdout.write(`playlists at ${v.playlistsAtStall.at} s:\n${v.playlistsAtStall.video}\n${v.playlistsAtStall.audio}\n`);
}
if (JSON_OUT)
  writeFileSync(
    JSON_OUT,
    JSON.stringify({ minutes: MINUTES, seed: SEED, counts, checks, judged, rssSamples, baseline, leftover }, null, 2),
  );

// ------------------------------------------------------------------ stop everything

sse.close();
await browser.close().catch(() => undefined);
server.kill('SIGTERM');
const stopped = await Promise.race([serverExited, sleep(20_000).then(() => undefined)]);
if (!stopped) {
  for (const p of proc.processTree(server.pid).reverse()) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
rmSync(hlsDir, { recursive: true, force: true });
process.exit(checks.every((c) => c.pass) ? 0 : 1);
