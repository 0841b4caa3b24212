// The benchmark's verdicts against the targets, and its markdown report.
import { linearFit, round } from './stats.mjs';
import { capacityOf as capacityOfSteps } from './verdict.js';

export const TARGETS = {
  capacity: 20, // 720p30 H264 + Opus publishers on one pinned core with no packet lost
  cpuPerStream: 0.05, // cores of server CPU per copied H264 + Opus stream
  ttlSeconds: (segmentSeconds) => 2 * segmentSeconds + 1, // produce -> first playable master
  ratio: 4, // loss-free streams per core, copy vs legacy
  cpuPerRendition: 0.02, // cores per extra copied simulcast rendition
  // Low-Latency HLS glass-to-glass with hls.js in lowLatencyMode (ms), and its stalls per minute.
  llMedianAlone: 1500,
  llP95Alone: 2000,
  llMedianUnderLoad: 2000,
  llStallsPerMinute: 1,
  llAnswerP95Ms: 50, // from a part to the answers of the requests blocked for it
  llHeldCores: 0.05, // 1,000 blocked requests held
  llCoresPerStream: 0.01, // LL packaging on top of the copy path
};

/** Capacity of one ramp (verdict.js) with the steps it points at and the CPU slope over passing steps. */
export function capacityOf(variant) {
  const steps = variant?.steps ?? [];
  const c = capacityOfSteps(steps);
  const passed = steps.filter((s) => s.verdict === 'pass');
  return {
    ...c,
    step: steps.find((s) => s.n === c.maxPass && s.verdict === 'pass'),
    lossFreeStep: steps.find((s) => s.n === c.lossFree && s.verdict === 'pass'),
    failedStep: steps.find((s) => s.n === c.firstFail),
    marginal: linearFit(passed.map((s) => ({ x: s.n, y: s.serverCores }))),
  };
}

/** Why a step does not count as passing: its own reasons, or its confirmation's. */
export function whyNot(step) {
  if (!step) return '';
  if (step.verdict !== 'pass') return step.reasons?.join('; ') || step.verdict;
  const c = step.confirmation;
  return c ? `confirmation (${c.seconds} s): ${c.reasons.join('; ') || c.verdict}` : '';
}

const pct = (a, b) => `${Math.round((a / b - 1) * 100)} %`;
const fmt = (v, d = 3) => (v === undefined || v === null || Number.isNaN(v) ? 'n/a' : String(round(v, d)));
const cell = (v) => (v === undefined || v === null ? '–' : String(v));
const UNKNOWN = 'unknown (metric missing)';
const known = (v) => (v === undefined || v === null ? UNKNOWN : v.toLocaleString('en-US'));

/** "10", "10+" (the ramp ended there) or "10 (unknown: ffmpegRtpMissed)": loss-free as far as the server lets us see. */
function lossFreeText(c, step) {
  const n = `${c.lossFree}${c.lowerBound && c.lossFree === c.maxPass ? '+' : ''}`;
  const unknown = step?.loss?.unknown ?? [];
  return c.lossFree && c.lossFreeUnknown && unknown.length ? `${n} (unknown: ${unknown.join(', ')})` : n;
}

function splitText(step) {
  if (!step) return '';
  const s = step.splitPerStream;
  const total = step.perStreamCores || 1;
  const share = (v) => `${Math.round((v / total) * 100)} %`;
  return `per stream: FFmpeg ${fmt(s.ffmpeg, 4)} (${share(s.ffmpeg)}), mediasoup worker ${fmt(s.mediasoup, 4)} (${share(s.mediasoup)}), Nest process ${fmt(s.node, 4)} (${share(s.node)})`;
}

const calibrationText = (result) => {
  const c = result.calibration ?? [];
  return c.length ? `server core calibration ${c.map((e) => e.server.cpuMs ?? '?').join('/')} ms` : 'no calibration';
};

export function evaluateTargets(result) {
  const seg = result.settings.segmentSeconds;
  const copy = capacityOf(result.profiles.copy?.variants?.h264);
  const legacy = capacityOf(result.profiles.legacy?.variants?.h264);
  const out = [];
  if (result.profiles.copy?.variants?.h264) {
    const c = copy;
    const fromCpu = c.lossFreeStep ? 1 / c.lossFreeStep.perStreamCores : undefined;
    out.push({
      id: 'capacity',
      target: `≥ ${TARGETS.capacity} 720p30 H264 + Opus publishers on one pinned core with no packet lost (${calibrationText(result)})`,
      measured:
        `loss-free ${lossFreeText(c, c.lossFreeStep)}; highest passing ${c.maxPass}` +
        `${c.firstFail ? `; N=${c.firstFail}: ${whyNot(c.failedStep)}` : ''}${fromCpu ? ` (CPU alone would allow ~${Math.floor(fromCpu)})` : ''}`,
      value: c.lossFree,
      met: c.lossFree >= TARGETS.capacity && !c.lossFreeUnknown,
      shortfall:
        c.lossFree >= TARGETS.capacity && c.lossFreeUnknown
          ? `reached, but loss the server does not expose (${c.lossFreeStep?.loss?.unknown?.join(', ')}) may hide there`
          : c.lossFree >= TARGETS.capacity
            ? undefined
            : `${TARGETS.capacity - c.lossFree} streams short (${pct(c.lossFree || 0.0001, TARGETS.capacity)}); ${splitText(c.lossFreeStep)}`,
    });
    const perStream = c.lossFreeStep?.perStreamCores;
    out.push({
      id: 'cpuPerStream',
      target: `≤ ${TARGETS.cpuPerStream} core of server CPU per copied H264 + Opus stream`,
      measured: c.lossFreeStep
        ? `${fmt(perStream, 4)} core/stream at N=${c.lossFreeStep.n} (all server processes); marginal ${fmt(c.marginal?.slope, 4)} core per added stream`
        : 'n/a',
      value: perStream,
      met: perStream !== undefined && perStream <= TARGETS.cpuPerStream,
      shortfall:
        perStream === undefined
          ? 'no loss-free step to measure it at'
          : perStream > TARGETS.cpuPerStream
            ? `${pct(perStream, TARGETS.cpuPerStream)} over; ${splitText(c.lossFreeStep)}`
            : undefined,
    });
    const passed = (result.profiles.copy.variants.h264.steps ?? []).filter((s) => s.verdict === 'pass' && s.produceToPlayable.count > 0);
    const worst = passed.reduce((w, s) => (!w || s.produceToPlayable.p95Ms > w.produceToPlayable.p95Ms ? s : w), undefined);
    const burst = result.profiles.copy.burst;
    const limit = TARGETS.ttlSeconds(seg) * 1000;
    const worstMs = Math.max(worst?.produceToPlayable.p95Ms ?? 0, burst?.produceToPlayable?.p95Ms ?? 0);
    out.push({
      id: 'timeToPlayable',
      target: `produce → first playable master ≤ 2 × segment + 1 s = ${limit / 1000} s`,
      measured:
        `${worst ? `worst p95 over passing ramp steps ${worst.produceToPlayable.p95Ms} ms (N=${worst.n})` : 'no passing step'}` +
        `${burst ? `; ${burst.count} joining within ${burst.joinSpanMs} ms: median ${burst.produceToPlayable.medianMs} ms, p95 ${burst.produceToPlayable.p95Ms} ms, max ${burst.produceToPlayable.maxMs} ms` : ''}`,
      value: worstMs || undefined,
      met: !!worst && worstMs <= limit && !(burst?.notPlayable > 0),
      shortfall: !worst
        ? 'no passing step'
        : worstMs > limit
          ? `p95 ${pct(worstMs, limit)} over`
          : burst?.notPlayable > 0
            ? `${burst.notPlayable} of the burst never playable`
            : undefined,
    });
  }
  if (result.profiles.copy?.variants?.h264 && result.profiles.legacy?.variants?.h264) {
    const ratio = legacy.lossFree > 0 ? copy.lossFree / legacy.lossFree : undefined;
    const cpuRatio =
      copy.lossFreeStep && legacy.lossFreeStep ? legacy.lossFreeStep.perStreamCores / copy.lossFreeStep.perStreamCores : undefined;
    out.push({
      id: 'ratio',
      target: `≥ ${TARGETS.ratio}× the legacy design's loss-free capacity in the same run`,
      measured: `copy ${copy.lossFree}${copy.lowerBound ? '+' : ''} vs legacy ${legacy.lossFree}${legacy.lowerBound ? '+' : ''} loss-free = ${fmt(ratio, 2)}×; CPU per stream ${fmt(legacy.lossFreeStep?.perStreamCores, 4)} vs ${fmt(copy.lossFreeStep?.perStreamCores, 4)} core = ${fmt(cpuRatio, 2)}×`,
      value: ratio,
      cpuRatio,
      met: ratio !== undefined && ratio >= TARGETS.ratio,
      shortfall:
        ratio === undefined
          ? 'legacy had no loss-free step'
          : ratio < TARGETS.ratio
            ? `${fmt(ratio, 2)}× instead of ${TARGETS.ratio}×`
            : undefined,
    });
  }
  out.push(...lowLatencyTargets(result.profiles.copy));
  out.push(...lowLatencyServerTargets(result.lowLatencyServer));
  const simulcast = simulcastRenditionCost(result);
  if (simulcast) out.push(simulcast);
  return out;
}

/** Low-Latency HLS glass-to-glass (copy profile): alone at N=1, and at the highest passing N. */
function lowLatencyTargets(copy) {
  if (!copy || (!copy.glassToGlassIdle && !copy.glassToGlass)) return [];
  const ll = (g) => (g && !g.error ? g.lowLatency : undefined);
  const s = (ms) => (ms === undefined ? 'n/a' : `${round(ms / 1000, 2)} s`);
  const out = [];
  const alone = ll(copy.glassToGlassIdle);
  if (copy.glassToGlassIdle) {
    out.push({
      id: 'llAlone',
      target: `Low-Latency glass-to-glass at N=1, hls.js lowLatencyMode: median ≤ ${TARGETS.llMedianAlone / 1000} s, p95 ≤ ${TARGETS.llP95Alone / 1000} s`,
      measured: alone
        ? `median ${s(alone.medianMs)}, p95 ${s(alone.p95Ms)} (${alone.samples} frames, ${alone.sessions.length} players)`
        : `not measured: ${copy.glassToGlassIdle.error ?? 'no llMasterUrl announced'}`,
      value: alone?.medianMs,
      met: !!alone && alone.medianMs <= TARGETS.llMedianAlone && alone.p95Ms <= TARGETS.llP95Alone,
      shortfall: !alone ? 'not measured' : `median ${s(alone.medianMs)}, p95 ${s(alone.p95Ms)}`,
    });
  }
  const loaded = ll(copy.glassToGlass);
  if (copy.glassToGlass) {
    out.push({
      id: 'llUnderLoad',
      target: `Low-Latency glass-to-glass while the highest passing N runs: median ≤ ${TARGETS.llMedianUnderLoad / 1000} s`,
      measured: loaded
        ? `median ${s(loaded.medianMs)}, p95 ${s(loaded.p95Ms)} at N=${copy.glassToGlass.loadN} + 1`
        : `not measured: ${copy.glassToGlass.error ?? 'no llMasterUrl announced'}`,
      value: loaded?.medianMs,
      met: !!loaded && loaded.medianMs <= TARGETS.llMedianUnderLoad,
      shortfall: !loaded ? 'not measured' : `median ${s(loaded.medianMs)}`,
    });
  }
  const players = [alone, loaded].filter(Boolean);
  if (players.length) {
    const stalls = players.reduce((n, g) => n + (g.stalls ?? 0), 0);
    const minutes = players.reduce((n, g) => n + (g.playingSeconds ?? 0), 0) / 60;
    const perMinute = minutes > 0 ? stalls / minutes : undefined;
    out.push({
      id: 'llStalls',
      target: `Low-Latency players: ≤ ${TARGETS.llStallsPerMinute} stall per minute`,
      measured: `${stalls} stalls in ${round(minutes * 60, 1)} s of playback${perMinute === undefined ? '' : ` (${round(perMinute, 2)} per minute)`}`,
      value: perMinute,
      met: perMinute !== undefined && perMinute <= TARGETS.llStallsPerMinute,
      shortfall: perMinute === undefined ? 'no playback measured' : `${round(perMinute, 2)} per minute`,
    });
  }
  return out;
}

/** What Low-Latency HLS costs the server (bench/ll-measure.mjs). */
function lowLatencyServerTargets(m) {
  if (!m) return [];
  if (m.error)
    return [
      { id: 'llServer', target: 'Low-Latency server costs (bench/ll-measure.mjs)', measured: 'failed', met: false, shortfall: m.error },
    ];
  const v = m.withViewers;
  const per100 = (v.addedCores * 100) / m.viewers;
  return [
    {
      id: 'llAnswer',
      target: `a blocked Low-Latency request answered within ${TARGETS.llAnswerP95Ms} ms of its part (p95)`,
      measured:
        `p95 ${v.answerP95Ms === undefined ? '> 250' : `≤ ${v.answerP95Ms}`} ms over ${v.answers.toLocaleString('en-US')} answers with ${m.viewers} LL viewers ` +
        `(${round(v.requestsPerSecond, 0)} requests/s, ${v.errors} errors); CPU per 100 LL viewers ${round(per100, 2)} core (${round(v.cpuMicrosPerRequest, 0)} µs per request)`,
      value: v.answerP95Ms,
      met: v.answerP95Ms !== undefined && v.answerP95Ms <= TARGETS.llAnswerP95Ms && v.errors === 0,
      shortfall: v.errors > 0 ? `${v.errors} errors` : `p95 ${v.answerP95Ms ?? '> 250'} ms`,
    },
    {
      id: 'llHeld',
      target: `${m.blocked.toLocaleString('en-US')} blocked Low-Latency requests held cost < ${TARGETS.llHeldCores} core`,
      measured: `${round(m.held.addedCores, 3)} core over no viewer (${round(m.held.cores, 3)} while held, sampled ${round(m.held.sampledSeconds, 1)} s; ${m.held.errors} errors)`,
      value: m.held.addedCores,
      met: m.held.sampledSeconds > 0 && m.held.addedCores < TARGETS.llHeldCores && m.held.errors === 0,
      shortfall: m.held.sampledSeconds > 0 ? `${round(m.held.addedCores, 3)} core, ${m.held.errors} errors` : 'never all held at once',
    },
    {
      id: 'llPerStream',
      target: `Low-Latency packaging ≤ +${TARGETS.llCoresPerStream} core per stream over the copy path`,
      measured: `${round(m.packaging.withRendersCoresPerStream, 4)} core per stream with both playlists rendered after every part (${round(m.packaging.coresPerStream, 4)} without), ${round(m.packaging.memoryMiB, 1)} MiB held`,
      value: m.packaging.withRendersCoresPerStream,
      met: m.packaging.withRendersCoresPerStream <= TARGETS.llCoresPerStream,
      shortfall: `${round(m.packaging.withRendersCoresPerStream, 4)} core`,
    },
  ];
}

/**
 * What an extra copied simulcast rendition costs: the browser variant (three encodings, three
 * renditions) against its top encoding alone (one rendition), at the highest N both passed, per
 * publisher, split over its two extra renditions. An upper bound: it includes receiving the two lower
 * layers, which a simulcast publisher sends whether they are copied or not.
 */
function simulcastRenditionCost(result) {
  const three = result.profiles.copy?.variants?.browser?.steps;
  const one = result.profiles.copy?.variants?.['browser-top']?.steps;
  if (!three || !one) return undefined;
  const pairs = three
    .filter((s) => s.verdict === 'pass')
    .map((s) => [s, one.find((t) => t.n === s.n && t.verdict === 'pass')])
    .filter(([, t]) => t);
  const [withLayers, topAlone] = pairs.at(-1) ?? [];
  const cost = withLayers ? (withLayers.perStreamCores - topAlone.perStreamCores) / 2 : undefined;
  const part = (k) => fmt((withLayers.splitPerStream[k] - topAlone.splitPerStream[k]) / 2, 4);
  return {
    id: 'simulcastRendition',
    target: `≤ ${TARGETS.cpuPerRendition} core per extra copied simulcast rendition`,
    measured: withLayers
      ? `${fmt(cost, 4)} core (FFmpeg ${part('ffmpeg')}, worker ${part('mediasoup')}, Nest ${part('node')}) at N=${withLayers.n}: ` +
        `three renditions ${fmt(withLayers.perStreamCores, 4)} core/stream, the top layer alone ${fmt(topAlone.perStreamCores, 4)}`
      : 'n/a',
    value: cost,
    met: cost !== undefined && cost <= TARGETS.cpuPerRendition,
    shortfall:
      cost === undefined
        ? 'no N at which both the browser and browser-top variants passed'
        : cost > TARGETS.cpuPerRendition
          ? `${pct(cost, TARGETS.cpuPerRendition)} over`
          : undefined,
  };
}

function rss(step, kind) {
  const r = step.rssMiB?.[kind];
  if (!r) return '–';
  return kind === 'ffmpeg'
    ? `${Math.round(r.maxProcess)} (Σ ${Math.round(r.maxTotal)}, PSS ${r.maxTotalPss === undefined ? '–' : Math.round(r.maxTotalPss)})`
    : `${Math.round(r.maxProcess)}`;
}

const drops = (s) =>
  ['webRtcServer', 'worker', 'ffmpeg', 'other']
    .map((k) => (k === 'other' ? (s.udpDrops?.node ?? 0) + (s.udpDrops?.other ?? 0) : cell(s.udpDrops?.[k])))
    .join(' · ');

/** What the longer re-measurements of loss-free steps found. */
function confirmations(variant) {
  const done = (variant.steps ?? []).filter((s) => s.confirmation);
  if (done.length === 0) return 'not run';
  return done
    .map((s) => {
      const c = s.confirmation;
      const found = c.loss.total > 0 ? `${c.loss.total} lost, ${c.windowsWithLoss}/${c.windows.length} windows with loss` : 'no loss';
      return `N=${s.n}: ${c.verdict}, ${c.seconds} s, ${found}${c.reasons.length ? ` (${c.reasons.join('; ')})` : ''}`;
    })
    .join('; ');
}

export function capacityTable(result) {
  const rows = [
    '| profile | variant | loss-free capacity (N) | confirmation at that N | highest passing N | first N that did not pass: why | core / stream at the loss-free N | Nest · worker · FFmpeg per stream |',
    '| --- | --- | --- | --- | ---: | --- | ---: | --- |',
  ];
  for (const [profile, p] of Object.entries(result.profiles)) {
    for (const [variant, v] of Object.entries(p.variants ?? {})) {
      const c = capacityOf(v);
      const s = c.lossFreeStep;
      rows.push(
        `| ${profile} | ${variant} | ${lossFreeText(c, s)} | ${confirmations(v)} | ${c.maxPass}${c.lowerBound ? '+' : ''} | ${c.firstFail ? `${c.firstFail}: ${whyNot(c.failedStep)}` : 'none'} | ${fmt(s?.perStreamCores, 4)} | ${s ? `${fmt(s.splitPerStream.node, 4)} · ${fmt(s.splitPerStream.mediasoup, 4)} · ${fmt(s.splitPerStream.ffmpeg, 4)}` : '–'} |`,
      );
    }
  }
  return rows.join('\n');
}

export function stepTable(result) {
  const rows = [
    '| profile | variant | N | verdict | windows failing | server cores | core / stream | Nest · worker · FFmpeg (cores) | peak RSS MiB Nest · worker · FFmpeg max (Σ RSS, Σ PSS) | generator cores | produce→playable median / p95 ms | EXTINF max s | advance interval p95 / max s | media lag growth max s | UDP drops WebRtcServer · worker · FFmpeg · other | RTCP lost | FFmpeg RTP missed | FFmpeg dropped frames | loss | video keyframes sent (on request) | why |',
    '| --- | --- | ---: | --- | --- | ---: | ---: | --- | --- | ---: | --- | ---: | --- | ---: | --- | ---: | --- | --- | --- | --- | --- |',
  ];
  for (const [profile, p] of Object.entries(result.profiles)) {
    for (const [variant, v] of Object.entries(p.variants ?? {})) {
      for (const s of v.steps) {
        const t = s.timeliness;
        const l = s.loss;
        rows.push(
          `| ${profile} | ${variant} | ${s.n} | ${s.verdict} | ${s.windowsFailing}/${s.windows.length}${s.confirmation ? `; confirmation ${s.confirmation.windowsFailing}/${s.confirmation.windows.length}` : ''} | ${fmt(s.serverCores, 2)} | ${fmt(s.perStreamCores, 3)} | ${fmt(s.split.node, 2)} · ${fmt(s.split.mediasoup, 2)} · ${fmt(s.split.ffmpeg, 2)} | ` +
            `${rss(s, 'node')} · ${rss(s, 'mediasoup')} · ${rss(s, 'ffmpeg')} | ${fmt(s.generatorCores, 2)} | ${cell(s.produceToPlayable.medianMs)} / ${cell(s.produceToPlayable.p95Ms)} | ` +
            `${cell(t.extinfMax)} | ${cell(t.intervalP95)} / ${cell(t.intervalMax)} | ${fmt(t.lagGrowthMax, 2)} | ${drops(s)} | ${cell(s.rtcpReportedLost)} | ${known(s.serverCounters?.ffmpegRtpMissed)} | ` +
            `${known(s.serverCounters?.ffmpegDroppedFrames)} | ${l.total.toLocaleString('en-US')} of ${l.packets.toLocaleString('en-US')} (${fmt(l.ratio * 100, 4)} %) | ${cell(s.generator.keyframes)} (${cell(s.generator.keyframesOnRequest)}) | ${s.reasons.join('; ') || '–'} |`,
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

export function latencyTable(result) {
  const rows = [
    '| profile | streams running | glass-to-glass classic HLS median / p95 ms (frames), stalls | glass-to-glass Low-Latency HLS median / p95 ms (frames), stalls | Chromium produce→playable ms | burst: N joining, within ms | burst produce→playable median / p95 / max ms |',
    '| --- | --- | --- | --- | ---: | --- | --- |',
  ];
  const stalls = (g) => (g.stalls === undefined ? '' : `, ${g.stalls} in ${g.playingSeconds} s`);
  for (const [profile, p] of Object.entries(result.profiles)) {
    const b = p.burst;
    const measured = [p.glassToGlassIdle, p.glassToGlass].filter(Boolean);
    if (measured.length === 0 && !b) continue;
    for (const [i, g] of (measured.length ? measured : [undefined]).entries()) {
      const classic = !g ? '–' : g.error ? `failed: ${g.error}` : `${g.medianMs} / ${g.p95Ms} (${g.samples})${stalls(g)}`;
      const ll =
        !g || g.error
          ? '–'
          : g.lowLatency
            ? `${g.lowLatency.medianMs} / ${g.lowLatency.p95Ms} (${g.lowLatency.samples})${stalls(g.lowLatency)}`
            : 'not announced (no llMasterUrl)';
      const last = i === measured.length - 1 || measured.length === 0;
      const burst = b && last ? `${b.count}, ${cell(b.joinSpanMs)}` : '–';
      const bt =
        b && last
          ? `${cell(b.produceToPlayable.medianMs)} / ${cell(b.produceToPlayable.p95Ms)} / ${cell(b.produceToPlayable.maxMs)}${b.notPlayable ? ` (${b.notPlayable} never)` : ''}`
          : '–';
      rows.push(`| ${profile} | ${streamsRunning(g)} | ${classic} | ${ll} | ${cell(g?.produceToPlayableMs)} | ${burst} | ${bt} |`);
    }
  }
  return rows.length > 2 ? rows.join('\n') : '';
}

/** "1 (alone)" or "10 + 1": the load publishers and the measuring one. */
function streamsRunning(g) {
  if (g?.loadN === undefined) return '–';
  return g.loadN === 0 ? '1 (alone)' : `${g.loadN} + 1`;
}

export function renderMarkdown(result) {
  const m = result.machine;
  const st = result.settings;
  const lines = [
    `# Benchmark ${result.name}`,
    '',
    `\`${result.command}\` — ${result.startedAt}, ${result.durationSeconds} s.`,
    '',
    `Machine: ${m.nproc} cores (${m.cpuModel}), ${m.memGiB} GiB, Linux ${m.kernel} (net.core.rmem_default ${m.rmemDefault ?? '?'}), Node ${m.node}, ${m.ffmpeg}. Load average at start: ${m.loadAverageAtStart}.`,
    `Server (Nest process + 1 mediasoup worker + FFmpeg children) pinned to core ${result.cores.server}; generator and harness on core ${result.cores.generator}.`,
    `Steps: ${st.warmupSeconds} s warm-up, then ${st.windows} × ${st.windowSeconds} s measured (vp8, audio: ${st.secondary.warmupSeconds} s + ${st.secondary.windows} × ${st.secondary.windowSeconds} s). Segment target ${st.segmentSeconds} s.`,
    '',
  ];
  if (result.calibration?.length) {
    const c = result.calibration.map((e) => `${e.when}: ${e.server.cpuMs ?? '?'} ms (wall ${e.server.wallMs ?? '?'})`).join('; ');
    lines.push(`Calibration (fixed zlib work on the server core, lower is faster; ~110 ms on a quiet host): ${c}.`, '');
  }
  lines.push('## Capacity', '', capacityTable(result), '');
  if (result.targets?.length) lines.push('## Targets', '', targetTable(result), '');
  const g = latencyTable(result);
  if (g)
    lines.push(
      '## Latency under load (glass-to-glass for one viewer at the highest passing N; produce → playable when publishers join at once)',
      '',
      g,
      '',
    );
  lines.push('## Steps', '', stepTable(result), '');
  const stops = [];
  for (const [profile, p] of Object.entries(result.profiles))
    for (const [variant, v] of Object.entries(p.variants ?? {}))
      stops.push(`- ${profile}/${variant}: ramp ${v.ramp.join(', ')}; stopped: ${v.stoppedBy ?? 'n/a'}`);
  lines.push('## Ramps', '', ...stops, '');
  const disturbed = [];
  for (const [profile, p] of Object.entries(result.profiles)) {
    for (const [variant, v] of Object.entries(p.variants ?? {})) {
      for (const s of v.steps) {
        if (s.serverCoreUnattributed > 0.05 || s.foreign?.cores > 0.05) {
          const who = (s.foreign?.top ?? [])
            .filter((x) => x.cores >= 0.01)
            .map((x) => `${x.comm} ${round(x.cores * 100, 0)} %`)
            .join(', ');
          disturbed.push(
            `${profile}/${variant} N=${s.n}: core ${result.cores.server} ${round(s.serverCoreUnattributed * 100, 0)} % busy outside the server's processes; other processes used ${round((s.foreign?.cores ?? 0) * 100, 0)} % of a core${who ? ` (${who})` : ''}`,
          );
        }
      }
    }
  }
  if (disturbed.length || result.notes.length)
    lines.push('## Notes', '', ...result.notes.map((n) => `- ${n}`), ...disturbed.map((d) => `- ${d}`), '');
  lines.push(
    "A step **fails** on loss the server causes above 0.01 % of the packets sent (hop by hop, the largest witness: ingest = receive-buffer drops at the worker's sockets, mediasoup's RTCP receiver reports, the server's ingest loss counter; " +
      "to FFmpeg = drops at FFmpeg's sockets, FFmpeg's missed RTP; drops at any other socket of the server's processes), on FFmpeg dropping more than 0.01 % of the video frames, " +
      'on a stream whose media time (EXTINF of the segments that appeared) falls more than 0.5 s further behind wall time over the measured period, and when a publisher fails to connect, loses ICE/DTLS or fails while streaming, ' +
      'a stream is not live or playable 20 s after it connected, a playlist gets no segment for 3 targets, a segment is > 1.5 targets long, media advances < 0.9× real time, more than one advance is > 1.5 targets late, or FFmpeg restarts. ' +
      `Loss-free: no loss at all; "${UNKNOWN}" means the server does not expose that counter, so loss there is not known (never taken as 0). ` +
      'Windows failing: the measured period judged window by window, the spread behind the verdict. ' +
      'server cores = CPU-seconds per second of the Nest process, its worker and FFmpeg children (/proc utime+stime over the measured period); produce = ICE+DTLS connected with the producers created; ' +
      'playable = GET /live/<peer>.m3u8 is 200 and every media playlist it names has a segment.',
    '',
  );
  return lines.join('\n');
}
