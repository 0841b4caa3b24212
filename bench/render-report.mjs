#!/usr/bin/env node
// Re-renders the markdown table and the SVG chart of a benchmark run from its JSON (after a change to
// report.mjs or chart.mjs, or to copy a run elsewhere):
//   node bench/render-report.mjs bench-results/bench-<stamp>.json [--md OUT.md] [--svg OUT.svg]
import { readFileSync, writeFileSync } from 'node:fs';
import { renderChart } from './chart.mjs';
import { evaluateTargets, renderMarkdown } from './report.mjs';

const [file, ...rest] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/render-report.mjs <run.json> [--md OUT.md] [--svg OUT.svg]');
  process.exit(2);
}
const arg = (name, fallback) => (rest.includes(name) ? rest[rest.indexOf(name) + 1] : fallback);
const result = JSON.parse(readFileSync(file, 'utf8'));
if (!result.smoke) result.targets = evaluateTargets(result);
const md = arg('--md', file.replace(/\.json$/, '.md'));
const svg = arg('--svg', file.replace(/\.json$/, '.svg'));
writeFileSync(md, renderMarkdown(result));
writeFileSync(svg, renderChart(result));
console.log(`wrote ${md} and ${svg}`);
