#!/usr/bin/env node
// `npm run bench`: how many WebRTC publishers one core turns into HLS with no packet lost, copy vs
// the legacy design. See README.md "Benchmark" and bench/bench-runner.mjs. Results go to
// bench-results/ (JSON, markdown tables, SVG chart).
//
//   node scripts/bench.mjs             full run: copy and legacy; h264 ramp, then glass-to-glass at the
//                                      highest passing N and a burst of 20 joining at once; browser-like
//                                      simulcast, vp8 and audio-only ramps
//   node scripts/bench.mjs --smoke     (or --quick) N=2, 2 x 4 s, copy only, no Chromium
// Options: --max-n N, --profiles copy,legacy, --variants h264,browser,browser-top,vp8,audio, --ramp 1,5,10 (the ramp
//          of every profile and of the h264, browser and browser-top variants), --warmup S, --window S, --windows R
//          (measured period = R windows of S seconds), --confirm R (windows to measure the loss-free N again; 0: not), --no-g2g / --g2g, --g2g-seconds S, --no-ll-server (skip LL's server costs), --burst N (0: none),
//          --port-base P (HTTP on P+400, WebRTC on P, RTC P+10..P+999, FFmpeg P+1000..P+2999; default 14000),
//          --server-cores 0, --generator-cores 1, --out DIR, --budget-minutes M, --server-dir DIR (measure the
//          dist/main.js of another checkout, built there if stale).
// Experiment, not for the reference numbers: --server-rmem BYTES sets net.core.rmem_default while the
// server starts (so its WebRtcServer socket gets that receive buffer) and restores it at once.
// Test hook: --inject-fault N closes one publisher's track under it when step N starts measuring.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_RAMPS, defaultOptions, emergencyStop, runBench, VARIANT_NAMES } from '../bench/bench-runner.mjs';

const argv = process.argv.slice(2);
const has = (name) => argv.includes(name);
const arg = (name) => (has(name) ? argv[argv.indexOf(name) + 1] : undefined);
const list = (value) =>
  value
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const KNOWN = new Set([
  '--smoke',
  '--quick',
  '--max-n',
  '--profiles',
  '--variants',
  '--ramp',
  '--warmup',
  '--window',
  '--windows',
  '--confirm',
  '--no-g2g',
  '--g2g',
  '--g2g-seconds',
  '--no-ll-server',
  '--burst',
  '--port-base',
  '--server-cores',
  '--generator-cores',
  '--out',
  '--budget-minutes',
  '--server-dir',
  '--server-rmem',
  '--inject-fault',
  '--help',
]);
const unknown = argv.filter((a) => a.startsWith('--') && !KNOWN.has(a));
if (unknown.length || has('--help')) {
  if (unknown.length) console.error(`unknown option(s): ${unknown.join(', ')}`);
  console.error(
    'usage: node scripts/bench.mjs [--smoke|--quick] [--max-n N] [--profiles copy,legacy] [--variants h264,browser,browser-top,vp8,audio] [--ramp 1,5,10] [--warmup S] [--window S] [--windows R] [--confirm R] ' +
      '[--no-g2g|--g2g] [--g2g-seconds S] [--no-ll-server] [--burst N] [--port-base P] [--server-cores 0] [--generator-cores 1] [--out DIR] [--budget-minutes M] [--server-dir DIR] [--server-rmem BYTES]',
  );
  process.exit(unknown.length ? 2 : 0);
}

const smoke = has('--smoke') || has('--quick');
const base = defaultOptions({ smoke });
const options = { smoke, root: join(dirname(fileURLToPath(import.meta.url)), '..') };
if (arg('--max-n')) options.maxN = Number(arg('--max-n'));
if (arg('--profiles')) options.profiles = list(arg('--profiles'));
if (arg('--variants')) options.variants = list(arg('--variants'));
if (arg('--ramp')) {
  const ramp = list(arg('--ramp')).map(Number);
  options.ramps = Object.fromEntries(
    Object.entries(DEFAULT_RAMPS).map(([profile, ramps]) => [profile, { ...ramps, h264: ramp, browser: ramp, 'browser-top': ramp }]),
  );
}
if (arg('--warmup')) options.warmupSeconds = Number(arg('--warmup'));
if (arg('--window')) options.windowSeconds = Number(arg('--window'));
if (arg('--windows')) options.windows = Number(arg('--windows'));
if (arg('--confirm')) options.confirmWindows = Number(arg('--confirm'));
if (arg('--burst')) options.burst = Number(arg('--burst'));
if (arg('--server-dir')) options.serverDir = arg('--server-dir');
if (arg('--inject-fault')) options.inject = { atN: Number(arg('--inject-fault')) };
if (has('--no-g2g')) options.g2g = false;
if (has('--g2g')) options.g2g = true;
if (arg('--g2g-seconds')) options.g2gSeconds = Number(arg('--g2g-seconds'));
if (has('--no-ll-server')) options.llServer = false;
if (arg('--port-base')) options.portBase = Number(arg('--port-base'));
if (arg('--server-cores')) options.serverCores = arg('--server-cores');
if (arg('--generator-cores')) options.generatorCores = arg('--generator-cores');
if (arg('--out')) options.outDir = arg('--out');
if (arg('--budget-minutes')) options.budgetMinutes = Number(arg('--budget-minutes'));
if (arg('--server-rmem')) options.serverRmem = Number(arg('--server-rmem'));

const bad = [];
for (const p of options.profiles ?? base.profiles) if (!['copy', 'legacy'].includes(p)) bad.push(`profile ${p}`);
for (const v of options.variants ?? base.variants) if (!VARIANT_NAMES.includes(v)) bad.push(`variant ${v}`);
for (const k of ['maxN', 'warmupSeconds', 'windowSeconds', 'windows', 'g2gSeconds', 'portBase', 'budgetMinutes', 'serverRmem'])
  if (k in options && !(options[k] > 0)) bad.push(`${k} must be a positive number`);
if ('burst' in options && !(options.burst >= 0)) bad.push('burst must be 0 or more');
if ('confirmWindows' in options && !(options.confirmWindows >= 0)) bad.push('confirm must be 0 or more');
if (options.inject && !(options.inject.atN > 0)) bad.push('--inject-fault needs the N of a ramp step');
if (bad.length) {
  console.error(`bad options: ${bad.join('; ')}`);
  process.exit(2);
}

// Hard bound on the whole run: the budget plus room to finish the step in progress and clean up.
const budget = options.budgetMinutes ?? base.budgetMinutes;
const hardLimit = setTimeout(
  () => {
    console.error(`bench: hard time limit (${budget + 5} min) reached; partial results are in ${options.outDir ?? base.outDir}/`);
    emergencyStop();
    process.exit(3);
  },
  (budget + 5) * 60_000,
);
hardLimit.unref();

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.error(`bench: ${signal}; stopping the server and the generator`);
    emergencyStop();
    process.exit(130);
  });
}

try {
  const result = await runBench(options);
  for (const t of result.targets ?? [])
    console.log(`${t.met ? 'MET   ' : 'MISSED'} ${t.target}: ${t.measured}${t.met ? '' : ` — ${t.shortfall}`}`);
  console.log(`results: ${result.files.md}`);
  process.exit(0);
} catch (error) {
  console.error(`bench failed: ${error?.stack ?? error}`);
  emergencyStop();
  process.exit(1);
}
