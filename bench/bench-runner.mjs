// `npm run bench`: capacity and latency of the service through the real WebRTC path.
//
// Per profile (copy, legacy) one server, `taskset -c <server cores>` with one mediasoup worker; the
// generator (one process per variant) and this harness run on the other core. Per variant, N grows
// along a ramp, publishers are added (never restarted) and each step measures, after a warm-up:
// server CPU per process kind and per stream, peak RSS, the generator's CPU, produce -> peerLive and
// -> playable master for the publishers added at that step, segment timeliness of every playlist.
// The ramp stops at the first step where a stream falls behind (see playlist-watch.mjs), a publisher
// fails ICE/DTLS, or a stream does not go live; or when the generator itself saturates.
import { execFileSync, execSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { startGenerator } from './generator-client.mjs';
import { measureGlassToGlass } from './glass-to-glass.mjs';
import { watchLiveTimes } from './live-times.mjs';
import { PlaylistWatcher, waitForPlayableMaster } from './playlist-watch.mjs';
import { prepareMedia } from './prepare-media.mjs';
import { processTree, ProcSampler } from './proc-sampler.mjs';
import { assertPortsFree, ensureBuilt, killTree, portBlock, startServer } from './server-process.mjs';
import { calibrate } from './calibrate.mjs';
import { renderChart } from './chart.mjs';
import { evaluateTargets, renderMarkdown } from './report.mjs';
import { percentile, round, sleep, wallNow, withTimeout } from './stats.mjs';

/** Ramps per profile and variant: denser where the capacity is expected. */
export const DEFAULT_RAMPS = {
  copy: { h264: [1, 5, 10, 12, 15, 18, 20, 25, 30, 40, 50, 60, 80, 100], vp8: [1, 2, 3, 4, 6, 8], audio: [1, 20, 40, 80, 120] },
  legacy: { h264: [1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20], vp8: [1, 2, 3, 4, 6, 8], audio: [1, 20, 40, 80, 120] },
};

const KINDS = { h264: ['video', 'audio'], vp8: ['video', 'audio'], audio: ['audio'] };
/** A publisher that is not live this long after it connected counts as failed. */
const TTL_TIMEOUT_MS = 20_000;
/** The generator is saturated (results say more about it than the server) above this many cores. */
const GENERATOR_LIMIT_CORES = 0.85;

/** Processes this run started (server, generator), for emergencyStop(). */
const ours = new Set();

/** Kills what this run started, by pid: for the hard time limit and Ctrl-C (no await possible there). */
export function emergencyStop() {
  for (const pid of ours) killTree(pid);
  ours.clear();
}

export function defaultOptions(overrides = {}) {
  const smoke = !!overrides.smoke;
  return {
    smoke,
    profiles: smoke ? ['copy'] : ['copy', 'legacy'],
    variants: smoke ? ['h264'] : ['h264', 'vp8', 'audio'],
    maxN: Infinity,
    ramps: smoke ? { copy: { h264: [2] }, legacy: { h264: [2] } } : DEFAULT_RAMPS,
    warmupSeconds: smoke ? 2 : 10,
    measureSeconds: smoke ? 8 : 20,
    // Variants other than h264 (the one the targets are about) get shorter steps and at most this many.
    secondary: { warmupSeconds: 6, measureSeconds: 12, maxSteps: 3 },
    g2g: !smoke,
    g2gSeconds: 15,
    segmentSeconds: 1,
    serverCores: '0',
    generatorCores: '1',
    portBase: 14000,
    outDir: 'bench-results',
    budgetMinutes: 15,
    root: process.cwd(),
    log: (msg) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`),
    ...overrides,
  };
}

function machineInfo() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const ffmpeg = (() => {
    try {
      return execFileSync('ffmpeg', ['-version'], { encoding: 'utf8' }).split('\n')[0];
    } catch {
      return undefined;
    }
  })();
  return {
    nproc: Number(execSync('nproc', { encoding: 'utf8' }).trim()),
    cpuModel: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? cpus()[0]?.model,
    cpuMHz: Number(/cpu MHz\s*:\s*(.*)/.exec(cpuinfo)?.[1]) || undefined,
    memGiB: round(totalmem() / 2 ** 30, 1),
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    node: process.version,
    ffmpeg,
    loadAverageAtStart: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  };
}

/** Pins this process (every thread) to `cores`; children it spawns inherit the mask. */
function pinSelf(cores) {
  execFileSync('taskset', ['-a', '-p', '-c', cores, String(process.pid)], { stdio: 'ignore' });
}

async function metricsRestarts(serverUrl) {
  try {
    const text = await (await fetch(`${serverUrl}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
    let sum = 0;
    for (const m of text.matchAll(/^webrtc_hls_ffmpeg_restarts_total(?:\{[^}]*\})? (\d+(?:\.\d+)?)/gm)) sum += Number(m[1]);
    return sum;
  } catch {
    return undefined;
  }
}

function sumTracks(stats, field) {
  return stats.reduce((s, p) => s + Object.values(p.tracks ?? {}).reduce((a, t) => a + (t[field] ?? 0), 0), 0);
}

function lostPackets(stats) {
  return stats.reduce((s, p) => s + Object.values(p.rtcp?.lastReport ?? {}).reduce((a, r) => a + Math.max(0, r.packetsLost ?? 0), 0), 0);
}

const ttlStats = (values) => ({ medianMs: round(percentile(values, 50), 0), p95Ms: round(percentile(values, 95), 0), maxMs: values.length ? round(Math.max(...values), 0) : undefined, count: values.length });

export async function runBench(options) {
  const o = defaultOptions(options);
  const log = o.log;
  const started = wallNow();
  const budgetEnd = started + o.budgetMinutes * 60_000;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const name = `bench-${stamp}${o.smoke ? '-smoke' : ''}`;
  const outDir = resolve(o.root, o.outDir);
  mkdirSync(outDir, { recursive: true });
  const files = { json: join(outDir, `${name}.json`), md: join(outDir, `${name}.md`), svg: join(outDir, `${name}.svg`), log: join(outDir, `${name}-server.log`) };

  const machine = machineInfo();
  const singleCore = machine.nproc < 2;
  const serverCores = singleCore ? '0' : o.serverCores;
  const generatorCores = singleCore ? '0' : o.generatorCores;
  pinSelf(generatorCores);
  log(`machine: ${machine.nproc} cores, ${machine.cpuModel}; server on core ${serverCores}, generator and harness on core ${generatorCores}`);

  ensureBuilt(o.root, log);
  prepareMedia({ log: () => {}, only: o.variants.includes('vp8') ? undefined : ['video.h264', 'audio.opus'] });
  const ports = portBlock(o.portBase);
  await assertPortsFree(ports);

  const result = {
    name,
    startedAt: new Date(started).toISOString(),
    command: `node scripts/bench.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    smoke: o.smoke,
    machine,
    cores: { server: serverCores, generator: generatorCores, harness: generatorCores, singleCore },
    settings: {
      segmentSeconds: o.segmentSeconds,
      warmupSeconds: o.warmupSeconds,
      measureSeconds: o.measureSeconds,
      secondary: o.secondary,
      mediasoupWorkers: 1,
      ports,
      media: 'bench/media: H264 CB 3.1 1280x720 30 fps 2.5 Mbit/s 1 s GOP; VP8 720p30 2.5 Mbit/s; Opus 48 kHz stereo 64 kbit/s',
      stack: 'node-datachannel (libdatachannel), real ICE + DTLS + SRTP over 127.0.0.1',
      timeliness: 'public media playlists read from HLS_DIR every 200 ms; segment appearance = playlist mtime',
      // Not the default: an experiment that raises net.core.rmem_default while the server starts.
      serverRmemDefault: o.serverRmem,
    },
    profiles: {},
    // Fixed CPU work timed on the server's and the generator's core around each phase (calibrate.mjs).
    calibration: [],
    notes: [],
    files,
  };
  const save = () => {
    result.durationSeconds = round((wallNow() - started) / 1000, 1);
    writeFileSync(files.json, JSON.stringify(result, null, 2));
  };

  // H264 (the variant the targets are about) for every profile first, then the other variants, each
  // phase on a fresh server: if the time budget runs out, it is the secondary variants that go.
  const phases = [];
  for (const profile of o.profiles) if (o.variants.includes('h264') || o.g2g) phases.push({ profile, variants: o.variants.filter((v) => v === 'h264'), g2g: o.g2g });
  for (const profile of o.profiles) {
    const others = o.variants.filter((v) => v !== 'h264');
    if (others.length) phases.push({ profile, variants: others, g2g: false });
  }
  const calibrateNow = (when) => {
    const entry = { when, at: new Date().toISOString(), server: calibrate(serverCores.split(',')[0]), generator: calibrate(generatorCores.split(',')[0]) };
    result.calibration.push(entry);
    log(`calibration (${when}): server core ${entry.server.cpuMs} ms CPU / ${entry.server.wallMs} ms wall, generator core ${entry.generator.cpuMs} / ${entry.generator.wallMs}`);
  };
  for (const phase of phases) {
    const { profile } = phase;
    calibrateNow(`before ${profile} ${phase.variants.join('+') || 'glass-to-glass'}`);
    const hlsDir = mkdtempSync(join(tmpdir(), `webrtc-hls-bench-${profile}-`));
    const server = await startServer({ root: o.root, profile, cores: serverCores, ports, hlsDir, logFile: files.log, env: { HLS_SEGMENT_SECONDS: String(o.segmentSeconds) }, rmemDefault: o.serverRmem, log });
    ours.add(server.pid);
    const live = watchLiveTimes(server.url);
    await withTimeout(live.opened, 10_000, 'SSE /api/live-streams did not open');
    const sampler = new ProcSampler({
      serverPid: server.pid,
      extra: { harness: process.pid },
      portClasses: {
        webRtcServer: (port) => port === ports.webRtcServerPort,
        mediasoupPlain: (port) => port >= ports.rtcMin && port <= ports.rtcMax,
        ffmpeg: (port) => port >= ports.ffmpegMin && port <= ports.ffmpegMax,
      },
    });
    sampler.run();
    const watcher = new PlaylistWatcher({ hlsDir, targetSeconds: o.segmentSeconds });
    watcher.start();
    const profileResult = (result.profiles[profile] ??= { servers: [], variants: {} });
    const serverRecord = { pid: server.pid, variants: phase.variants, glassToGlass: phase.g2g };
    profileResult.servers.push(serverRecord);
    try {
      if (phase.g2g) {
        log(`[${profile}] glass-to-glass: Chromium publisher + hls.js player, ${o.g2gSeconds} s`);
        try {
          profileResult.glassToGlass = await withTimeout(
            measureGlassToGlass({ serverUrl: server.url, hlsDir, live, seconds: o.g2gSeconds, log }),
            (o.g2gSeconds + 120) * 1000,
            'glass-to-glass measurement took too long',
          );
          const g = profileResult.glassToGlass;
          log(`[${profile}] glass-to-glass median ${g.medianMs} ms, p95 ${g.p95Ms} ms (${g.samples} frames, ${g.unreadableFrames} unreadable); produce -> playable ${g.produceToPlayableMs} ms`);
        } catch (error) {
          profileResult.glassToGlass = { error: String(error.message ?? error) };
          log(`[${profile}] glass-to-glass failed: ${error.message}`);
        }
        await waitForNoFfmpeg(server.pid, 20_000);
      }
      for (const variant of phase.variants) {
        const primary = variant === 'h264';
        const ramp = (o.ramps[profile]?.[variant] ?? DEFAULT_RAMPS[profile][variant]).filter((n) => n <= o.maxN).slice(0, primary ? undefined : o.secondary.maxSteps);
        const timing = primary ? { warmupSeconds: o.warmupSeconds, measureSeconds: o.measureSeconds } : o.secondary;
        const variantResult = { ramp, ...timing, steps: [] };
        profileResult.variants[variant] = variantResult;
        await runRamp({ o, profile, variant, ramp, timing, server, live, sampler, watcher, hlsDir, variantResult, budgetEnd, save, log, result });
        save();
      }
    } finally {
      watcher.stop();
      sampler.halt();
      live.close();
      const exit = await server.stop();
      ours.delete(server.pid);
      serverRecord.exit = exit;
      rmSync(hlsDir, { recursive: true, force: true });
    }
    save();
  }

  calibrateNow('end');
  // A smoke run is a health check of the bench itself: two streams say nothing about the targets.
  result.targets = o.smoke ? [] : evaluateTargets(result);
  if (o.smoke) result.notes.push('smoke run: targets are evaluated by the full run only');
  result.finishedAt = new Date().toISOString();
  save();
  writeFileSync(files.md, renderMarkdown(result));
  writeFileSync(files.svg, renderChart(result));
  log(`wrote ${files.json}, ${files.md}, ${files.svg}`);
  return result;
}

/** Bounded wait until the server has no FFmpeg child (the previous variant's streams have ended). */
async function waitForNoFfmpeg(serverPid, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
    if (!processTree(serverPid).some((p) => p.kind === 'ffmpeg')) return true;
    await sleep(250);
  }
  return false;
}

async function runRamp({ o, profile, variant, ramp, timing, server, live, sampler, watcher, hlsDir, variantResult, budgetEnd, save, log, result }) {
  const publishers = new Map(); // peerId -> { connectedAt, liveAt, playableAt, step }
  let stepAdded = [];
  let connectFailures = [];
  const generator = await startGenerator({
    cores: result.cores.generator,
    serverUrl: server.url,
    onPublisher(event) {
      if (event.error) {
        connectFailures.push({ peerId: event.peerId, error: event.error });
        return;
      }
      const rec = { peerId: event.peerId, connectedAt: event.connectedAt };
      publishers.set(event.peerId, rec);
      watcher.watch(event.peerId, KINDS[variant]);
      const deadline = event.connectedAt + TTL_TIMEOUT_MS;
      rec.done = Promise.all([
        live.waitForLive(event.peerId, TTL_TIMEOUT_MS).then((at) => (rec.liveAt = at), () => undefined),
        waitForPlayableMaster(server.url, event.peerId, deadline, { hlsDir }).then((at) => (rec.playableAt = at)),
      ]);
      stepAdded.push(rec);
    },
  });
  ours.add(generator.pid);
  sampler.extra = { harness: process.pid, generator: generator.pid };
  try {
    for (const n of ramp) {
      const stepSeconds = 8 + timing.warmupSeconds + timing.measureSeconds + (n - publishers.size) * 0.3;
      if (wallNow() + stepSeconds * 1000 > budgetEnd) {
        const note = `${profile}/${variant}: stopped before N=${n}: the ${o.budgetMinutes}-minute time budget would be exceeded`;
        result.notes.push(note);
        variantResult.stoppedBy = 'time budget';
        log(note);
        break;
      }
      log(`[${profile}/${variant}] N=${n}: adding ${n - publishers.size} publishers`);
      stepAdded = [];
      connectFailures = [];
      sampler.resetPeaks();
      const t0 = wallNow();
      await generator.add(n - publishers.size, variant);
      const setupSeconds = (wallNow() - t0) / 1000;
      await withTimeout(Promise.all(stepAdded.map((r) => r.done)), TTL_TIMEOUT_MS + 10_000, 'TTL trackers').catch(() => undefined);
      const added = [...stepAdded];
      const notLive = added.filter((r) => !r.liveAt).map((r) => r.peerId);
      const notPlayable = added.filter((r) => !r.playableAt).map((r) => r.peerId);

      await sleep(timing.warmupSeconds * 1000);
      const before = await generator.stats();
      const restarts0 = await metricsRestarts(server.url);
      sampler.startWindow();
      const w0 = wallNow();
      await sleep(timing.measureSeconds * 1000);
      const w1 = wallNow();
      const cpu = sampler.stopWindow();
      const after = await generator.stats();
      const restarts1 = await metricsRestarts(server.url);
      const timeliness = watcher.windowReport(w0, w1, [...publishers.keys()]);

      const activeStats = after.publishers.filter((p) => publishers.has(p.peerId));
      const iceDtlsFailed = activeStats.filter((p) => p.closed || !['connected', 'completed'].includes(p.ice) || p.dtls !== 'connected').map((p) => p.peerId);
      const generatorCores = cpu.extra.generator ?? 0;
      const skipped = sumTracks(after.publishers, 'skippedFrames') - sumTracks(before.publishers, 'skippedFrames');
      const dropped = sumTracks(after.publishers, 'droppedBacklog') - sumTracks(before.publishers, 'droppedBacklog');
      const total = cpu.server.total;
      const step = {
        n,
        added: added.length,
        setupSeconds: round(setupSeconds, 2),
        windowSeconds: round(cpu.wallSeconds, 1),
        serverCores: round(total),
        perStreamCores: round(total / n, 4),
        split: { node: round(cpu.server.node), mediasoup: round(cpu.server.mediasoup), ffmpeg: round(cpu.server.ffmpeg), other: round(cpu.server.other) },
        splitPerStream: { node: round(cpu.server.node / n, 4), mediasoup: round(cpu.server.mediasoup / n, 4), ffmpeg: round(cpu.server.ffmpeg / n, 4) },
        processCounts: cpu.processCounts,
        processesBornInWindow: cpu.processesBornInWindow,
        rssMiB: Object.fromEntries(Object.entries(sampler.peaks).map(([k, v]) => [k, { maxProcess: round(v.maxProcessMiB, 1), maxTotal: round(v.maxTotalMiB, 1), maxTotalPss: v.maxTotalPssMiB ? round(v.maxTotalPssMiB, 1) : undefined, maxCount: v.maxCount }])),
        generatorCores: round(generatorCores),
        harnessCores: round(cpu.extra.harness ?? 0),
        coreBusy: Object.fromEntries(Object.entries(cpu.coreBusy).map(([id, c]) => [id, { busy: round(c.busy), softirq: round(c.softirq), steal: round(c.steal) }])),
        // Busy time on the server's core(s) not accounted to the server's processes: softirq, and
        // anything else that ran there (another job on the machine would show up here).
        serverCoreUnattributed: round(serverCoreBusy(cpu.coreBusy, result.cores.server) - total),
        // CPU of processes that are neither the server's, the generator nor this harness (kernel
        // threads included): other work on the machine during the window, on either core.
        foreign: { cores: round(cpu.foreign.cores), top: cpu.foreign.top.map((p) => ({ ...p, cores: round(p.cores) })) },
        loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
        produceToLive: ttlStats(added.filter((r) => r.liveAt).map((r) => r.liveAt - r.connectedAt)),
        produceToPlayable: ttlStats(added.filter((r) => r.playableAt).map((r) => r.playableAt - r.connectedAt)),
        timeliness: { ...timeliness, perPlaylist: timeliness.perPlaylist.filter((p) => p.behind || p.lateIntervals > 0) },
        ffmpegRestarts: restarts0 !== undefined && restarts1 !== undefined ? restarts1 - restarts0 : undefined,
        generator: { skippedFrames: skipped, droppedBacklog: dropped, eventLoopP99Ms: round(after.eventLoop.p99Ms, 1), rssMiB: round(after.rssMiB, 0) },
        rtcpReportedLost: lostPackets(after.publishers) - lostPackets(before.publishers),
        // Receive-buffer overflows in the window: the WebRtcServer's one UDP socket (all publishers),
        // mediasoup's plain transports (RTCP from FFmpeg), FFmpeg's RTP/RTCP sockets; and the kernel's total.
        udpDrops: cpu.udpDrops,
        udpRcvbufErrors: cpu.udpRcvbufErrors,
        failures: {
          connect: connectFailures.length,
          connectErrors: connectFailures.slice(0, 5).map((f) => f.error),
          iceDtls: iceDtlsFailed.length,
          notLive: notLive.length,
          notPlayable: notPlayable.length,
          behind: timeliness.behindPeers.length,
        },
      };
      const serverFailed = step.failures.connect + step.failures.iceDtls + step.failures.notLive + step.failures.notPlayable + step.failures.behind > 0;
      // A few skipped frames are an event-loop hiccup on a shared core; more than 1 % means the
      // generator could not keep up and the step measures it rather than the server.
      const frames = sumTracks(after.publishers, 'frames') - sumTracks(before.publishers, 'frames');
      const packets = sumTracks(after.publishers, 'packets') - sumTracks(before.publishers, 'packets');
      step.generator.framesSent = frames;
      step.generator.packetsSent = packets;
      const pli = (list) => list.reduce((sum, p) => sum + (p.rtcp?.keyframeRequests ?? 0), 0);
      step.generator.keyframeRequests = pli(after.publishers) - pli(before.publishers);
      step.generator.keyframesOnRequest = sumTracks(after.publishers, 'keyframesOnRequest') - sumTracks(before.publishers, 'keyframesOnRequest');
      const generatorLimited = generatorCores > GENERATOR_LIMIT_CORES || skipped > 0.01 * frames || dropped > 0.01 * packets;
      step.verdict = serverFailed ? 'fail' : generatorLimited ? 'generator-limited' : 'pass';
      variantResult.steps.push(step);
      save();
      log(
        `[${profile}/${variant}] N=${n}: ${step.verdict}; server ${step.serverCores} cores (${step.perStreamCores}/stream: node ${step.split.node}, worker ${step.split.mediasoup}, ffmpeg ${step.split.ffmpeg}); ` +
          `generator ${step.generatorCores}; live median ${step.produceToLive.medianMs} ms p95 ${step.produceToLive.p95Ms}; playable median ${step.produceToPlayable.medianMs} p95 ${step.produceToPlayable.p95Ms}; ` +
          `interval p95 ${timeliness.intervalP95} s max ${timeliness.intervalMax} s, EXTINF max ${timeliness.extinfMax}, late ${timeliness.lateIntervals}/${timeliness.intervals}, behind ${timeliness.behindPeers.length}`,
      );
      if (step.verdict !== 'pass') {
        variantResult.stoppedBy = step.verdict === 'fail' ? `N=${n}: ${describeFailures(step.failures)}` : `N=${n}: the generator saturated (${step.generatorCores} cores, ${skipped} skipped frames)`;
        break;
      }
    }
    if (!variantResult.stoppedBy && variantResult.steps.length === ramp.length) variantResult.stoppedBy = 'end of ramp (no failure)';
  } finally {
    await generator.stop().catch(() => undefined);
    ours.delete(generator.pid);
    for (const id of publishers.keys()) watcher.unwatch(id);
    const gone = await waitForNoFfmpeg(server.pid, 30_000);
    if (!gone) log(`[${profile}/${variant}] FFmpeg processes remain 30 s after the publishers left`);
  }
}

function serverCoreBusy(coreBusy, cores) {
  return cores.split(',').reduce((s, id) => s + (coreBusy[id]?.busy ?? 0), 0);
}

function describeFailures(f) {
  const parts = [];
  if (f.connect) parts.push(`${f.connect} publishers failed to connect`);
  if (f.iceDtls) parts.push(`${f.iceDtls} lost ICE/DTLS`);
  if (f.notLive) parts.push(`${f.notLive} never went live`);
  if (f.notPlayable) parts.push(`${f.notPlayable} never playable`);
  if (f.behind) parts.push(`${f.behind} streams fell behind`);
  return parts.join(', ');
}
