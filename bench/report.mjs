// The benchmark's verdicts against the targets, and its markdown report.
import { linearFit, round } from './stats.mjs';

export const TARGETS = {
  capacity: 20, // concurrent 720p30 H264 + Opus publishers on one pinned core, every playlist on time
  cpuPerStream: 0.05, // cores of server CPU per copied H264 + Opus stream
  ttlSeconds: (segmentSeconds) => 2 * segmentSeconds + 1, // produce -> first playable master
  ratio: 4, // streams per core, copy vs legacy
};

/** Capacity of one ramp: the highest N that passed, the N that failed (if any), the step at max pass. */
export function capacityOf(variant) {
  const steps = variant?.steps ?? [];
  const passed = steps.filter((s) => s.verdict === 'pass');
  const failed = steps.find((s) => s.verdict !== 'pass');
  const best = passed.at(-1);
  return {
    maxPass: best?.n ?? 0,
    firstFail: failed?.n,
    failVerdict: failed?.verdict,
    lowerBound: !failed, // the ramp ended (or was cut) without a failure: capacity is at least maxPass
    step: best,
    failedStep: failed,
    marginal: linearFit(passed.map((s) => ({ x: s.n, y: s.serverCores }))),
  };
}

const pct = (a, b) => `${Math.round((a / b - 1) * 100)} %`;
const fmt = (v, d = 3) => (v === undefined || v === null ? 'n/a' : String(round(v, d)));

function splitText(step) {
  if (!step) return '';
  const s = step.splitPerStream;
  const total = step.perStreamCores || 1;
  const share = (v) => `${Math.round((v / total) * 100)} %`;
  return `per stream: FFmpeg ${fmt(s.ffmpeg, 4)} (${share(s.ffmpeg)}), mediasoup worker ${fmt(s.mediasoup, 4)} (${share(s.mediasoup)}), Nest process ${fmt(s.node, 4)} (${share(s.node)})`;
}

export function evaluateTargets(result) {
  const seg = result.settings.segmentSeconds;
  const copy = capacityOf(result.profiles.copy?.variants?.h264);
  const legacy = capacityOf(result.profiles.legacy?.variants?.h264);
  const out = [];

  if (result.profiles.copy?.variants?.h264) {
    const c = copy;
    const fromCpu = c.step ? 1 / c.step.perStreamCores : undefined;
    out.push({
      id: 'capacity',
      target: `≥ ${TARGETS.capacity} concurrent 720p30 H264 + Opus publishers on one pinned core, every playlist on time`,
      measured: `${c.maxPass}${c.lowerBound ? '+' : ''} streams passed${c.firstFail ? `; N=${c.firstFail} ${c.failVerdict === 'fail' ? 'fell behind' : 'was generator-limited'}` : ''}${fromCpu ? ` (CPU alone would allow ~${Math.floor(fromCpu)})` : ''}`,
      value: c.maxPass,
      met: c.maxPass >= TARGETS.capacity,
      shortfall: c.maxPass >= TARGETS.capacity ? undefined : `${TARGETS.capacity - c.maxPass} streams short (${pct(c.maxPass, TARGETS.capacity)}); ${splitText(c.step)}`,
    });
    const perStream = c.step?.perStreamCores;
    out.push({
      id: 'cpuPerStream',
      target: `≤ ${TARGETS.cpuPerStream} core of server CPU per copied H264 + Opus stream`,
      measured: c.step ? `${fmt(perStream, 4)} core/stream at N=${c.step.n} (all server processes); marginal ${fmt(c.marginal?.slope, 4)} core per added stream` : 'n/a',
      value: perStream,
      met: perStream !== undefined && perStream <= TARGETS.cpuPerStream,
      shortfall: perStream !== undefined && perStream > TARGETS.cpuPerStream ? `${pct(perStream, TARGETS.cpuPerStream)} over; ${splitText(c.step)}` : undefined,
    });
    const passed = (result.profiles.copy.variants.h264.steps ?? []).filter((s) => s.verdict === 'pass' && s.produceToPlayable.count > 0);
    const first = passed[0];
    const worst = passed.reduce((w, s) => (!w || s.produceToPlayable.p95Ms > w.produceToPlayable.p95Ms ? s : w), undefined);
    const limit = TARGETS.ttlSeconds(seg) * 1000;
    out.push({
      id: 'timeToPlayable',
      target: `produce → first playable master ≤ 2 × segment + 1 s = ${limit / 1000} s`,
      measured: first
        ? `N=${first.n}: median ${first.produceToPlayable.medianMs} ms, p95 ${first.produceToPlayable.p95Ms} ms; worst p95 over passing steps ${worst.produceToPlayable.p95Ms} ms (N=${worst.n})`
        : 'n/a',
      value: worst?.produceToPlayable.p95Ms,
      met: !!worst && worst.produceToPlayable.p95Ms <= limit,
      shortfall: worst && worst.produceToPlayable.p95Ms > limit ? `p95 ${pct(worst.produceToPlayable.p95Ms, limit)} over at N=${worst.n}` : undefined,
    });
  }
  if (result.profiles.copy?.variants?.h264 && result.profiles.legacy?.variants?.h264) {
    const ratio = legacy.maxPass > 0 ? copy.maxPass / legacy.maxPass : undefined;
    const cpuRatio = copy.step && legacy.step ? legacy.step.perStreamCores / copy.step.perStreamCores : undefined;
    out.push({
      id: 'ratio',
      target: `≥ ${TARGETS.ratio}× more streams per core than the legacy design`,
      measured: `copy ${copy.maxPass}${copy.lowerBound ? '+' : ''} vs legacy ${legacy.maxPass}${legacy.lowerBound ? '+' : ''} streams on one core = ${fmt(ratio, 2)}×; CPU per stream ${fmt(legacy.step?.perStreamCores, 4)} vs ${fmt(copy.step?.perStreamCores, 4)} core = ${fmt(cpuRatio, 2)}×`,
      value: ratio,
      cpuRatio,
      met: ratio !== undefined && ratio >= TARGETS.ratio,
      shortfall: ratio !== undefined && ratio < TARGETS.ratio ? `${fmt(ratio, 2)}× instead of ${TARGETS.ratio}×` : undefined,
    });
  }
  return out;
}

const cell = (v) => (v === undefined || v === null ? '–' : String(v));

function failuresText(step) {
  const f = step.failures;
  const parts = [];
  if (f.connect) parts.push(`${f.connect} connect`);
  if (f.iceDtls) parts.push(`${f.iceDtls} ICE/DTLS`);
  if (f.notLive) parts.push(`${f.notLive} not live`);
  if (f.notPlayable) parts.push(`${f.notPlayable} not playable`);
  if (f.behind) parts.push(`${f.behind} behind`);
  if (step.ffmpegRestarts) parts.push(`${step.ffmpegRestarts} FFmpeg restarts`);
  if (step.generator.skippedFrames || step.generator.droppedBacklog) parts.push(`generator skipped ${step.generator.skippedFrames} frames`);
  return parts.join(', ') || 'none';
}

function rss(step, kind) {
  const r = step.rssMiB?.[kind];
  if (!r) return '–';
  return kind === 'ffmpeg' ? `${Math.round(r.maxProcess)} (Σ ${Math.round(r.maxTotal)}, PSS ${r.maxTotalPss === undefined ? '–' : Math.round(r.maxTotalPss)})` : `${Math.round(r.maxProcess)}`;
}

export function stepTable(result) {
  const rows = [
    '| profile | variant | N | verdict | server cores | core / stream | Nest · worker · FFmpeg (cores) | peak RSS MiB Nest · worker · FFmpeg max (Σ RSS, Σ PSS) | generator cores | produce→peerLive median / p95 ms | produce→playable median / p95 ms | EXTINF median / max s | advance interval median / p95 / max s | late > 1.5× | UDP drops WebRtcServer · FFmpeg; RTCP lost | failures |',
    '| --- | --- | ---: | --- | ---: | ---: | --- | --- | ---: | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const [profile, p] of Object.entries(result.profiles)) {
    for (const [variant, v] of Object.entries(p.variants ?? {})) {
      for (const s of v.steps) {
        const t = s.timeliness;
        rows.push(
          `| ${profile} | ${variant} | ${s.n} | ${s.verdict} | ${fmt(s.serverCores, 2)} | ${fmt(s.perStreamCores, 3)} | ${fmt(s.split.node, 2)} · ${fmt(s.split.mediasoup, 2)} · ${fmt(s.split.ffmpeg, 2)} | ${rss(s, 'node')} · ${rss(s, 'mediasoup')} · ${rss(s, 'ffmpeg')} | ${fmt(s.generatorCores, 2)} | ${cell(s.produceToLive.medianMs)} / ${cell(s.produceToLive.p95Ms)} | ${cell(s.produceToPlayable.medianMs)} / ${cell(s.produceToPlayable.p95Ms)} | ${cell(t.extinfMedian)} / ${cell(t.extinfMax)} | ${cell(t.intervalMedian)} / ${cell(t.intervalP95)} / ${cell(t.intervalMax)} | ${t.lateIntervals}/${t.intervals} | ${cell(s.udpDrops?.webRtcServer)} · ${cell(s.udpDrops?.ffmpeg)}; ${cell(s.rtcpReportedLost)} | ${failuresText(s)} |`,
        );
      }
    }
  }
  return rows.join('\n');
}

export function targetTable(result) {
  const rows = ['| target | measured | result |', '| --- | --- | --- |'];
  for (const t of result.targets ?? []) rows.push(`| ${t.target} | ${t.measured} | ${t.met ? '**met**' : `**missed**: ${t.shortfall}`} |`);
  return rows.join('\n');
}

export function g2gTable(result) {
  const rows = ['| profile | glass-to-glass median / p95 ms (min–max) | frames read (unreadable) | hls.js latency median s | produce→playable ms |', '| --- | --- | --- | --- | --- |'];
  for (const [profile, p] of Object.entries(result.profiles)) {
    const g = p.glassToGlass;
    if (!g) continue;
    if (g.error) rows.push(`| ${profile} | failed: ${g.error} | | | |`);
    else rows.push(`| ${profile} | ${g.medianMs} / ${g.p95Ms} (${g.minMs}–${g.maxMs}) | ${g.samples} (${g.unreadableFrames}) | ${cell(g.hlsJsLatencyMedianS)} | ${cell(g.produceToPlayableMs)} |`);
  }
  return rows.length > 2 ? rows.join('\n') : '';
}

export function renderMarkdown(result) {
  const m = result.machine;
  const lines = [
    `# Benchmark ${result.name}`,
    '',
    `\`${result.command}\` — ${result.startedAt}, ${result.durationSeconds} s.`,
    '',
    `Machine: ${m.nproc} cores (${m.cpuModel}), ${m.memGiB} GiB, Linux ${m.kernel}, Node ${m.node}, ${m.ffmpeg}. Load average at start: ${m.loadAverageAtStart}.`,
    `Server (Nest process + 1 mediasoup worker + FFmpeg children) pinned to core ${result.cores.server}; generator and harness on core ${result.cores.generator}.`,
    `Steps: ${result.settings.warmupSeconds} s warm-up + ${result.settings.measureSeconds} s measured (other variants ${result.settings.secondary.warmupSeconds} + ${result.settings.secondary.measureSeconds} s). Segment target ${result.settings.segmentSeconds} s.`,
    '',
  ];
  if (result.calibration?.length) {
    const c = result.calibration.map((e) => `${e.when}: ${e.server.cpuMs ?? '?'} ms (wall ${e.server.wallMs ?? '?'})`).join('; ');
    lines.push(`Calibration (fixed zlib work on the server core, lower is faster; ~110 ms on a quiet host): ${c}.`, '');
  }
  if (result.targets?.length) lines.push('## Targets', '', targetTable(result), '');
  const g = g2gTable(result);
  if (g) lines.push('## Glass-to-glass (N=1, Chromium publisher → hls.js with default settings, same Chromium clock)', '', g, '');
  lines.push('## Steps', '', stepTable(result), '');
  const stops = [];
  for (const [profile, p] of Object.entries(result.profiles)) for (const [variant, v] of Object.entries(p.variants ?? {})) stops.push(`- ${profile}/${variant}: ramp ${v.ramp.join(', ')}; stopped: ${v.stoppedBy ?? 'n/a'}`);
  lines.push('## Ramps', '', ...stops, '');
  const disturbed = [];
  for (const [profile, p] of Object.entries(result.profiles)) {
    for (const [variant, v] of Object.entries(p.variants ?? {})) {
      for (const s of v.steps) {
        if (s.serverCoreUnattributed > 0.05 || s.foreign?.cores > 0.05) {
          const who = (s.foreign?.top ?? []).filter((p) => p.cores >= 0.01).map((p) => `${p.comm} ${round(p.cores * 100, 0)} %`).join(', ');
          disturbed.push(`${profile}/${variant} N=${s.n}: core ${result.cores.server} ${round(s.serverCoreUnattributed * 100, 0)} % busy outside the server's processes; other processes used ${round((s.foreign?.cores ?? 0) * 100, 0)} % of a core${who ? ` (${who})` : ''}`);
        }
      }
    }
  }
  if (disturbed.length || result.notes.length) lines.push('## Notes', '', ...result.notes.map((n) => `- ${n}`), ...disturbed.map((d) => `- ${d}`), '');
  lines.push(
    'Columns: server cores = CPU-seconds per second of the Nest process, its mediasoup worker and FFmpeg children (utime+stime from /proc over the measured window); ' +
      'peak RSS sampled every second over the step; produce = the publisher\'s ICE+DTLS connected with its producers created; playable = GET /live/<peer>.m3u8 is 200 and every media playlist it names has a segment; ' +
      'advance interval = wall-clock time between two new segments of one media playlist; late = intervals > 1.5 × target. ' +
      'A stream falls behind when a playlist gets no segment for 3 targets, a segment is > 1.5 targets long, media advances < 0.9× real time, or it is late more than once in the window.',
    '',
  );
  return lines.join('\n');
}
