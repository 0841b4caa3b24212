// Prometheus text exposition format (what GET /metrics answers), shared by the benchmark and the tests.
'use strict';

/** Label set of a sample line: `{a="x",b="y \"q\""}` -> { a: 'x', b: 'y "q"' }. */
function parseLabels(text) {
  const labels = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  let m;
  while ((m = re.exec(text)) !== null) labels[m[1]] = m[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
  return labels;
}

/**
 * Parses the exposition text into metric name -> { type, samples: [{ name, labels, value }] }.
 * Samples of histograms and summaries (`_bucket`, `_sum`, `_count`) are filed under their family.
 */
function parsePrometheus(text) {
  const metrics = new Map();
  const family = (name) => {
    if (!metrics.has(name)) metrics.set(name, { type: undefined, samples: [] });
    return metrics.get(name);
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) {
      family(type[1]).type = type[2];
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const name = m[1];
    const base = metrics.has(name) ? name : name.replace(/_(bucket|sum|count|total|created)$/, '');
    const owner = metrics.has(name) || !metrics.has(base) ? name : base;
    family(owner).samples.push({ name, labels: m[2] ? parseLabels(m[2]) : {}, value: Number(m[3]) });
  }
  return metrics;
}

/**
 * Sum of a counter or gauge over all its label sets (optionally only those matching `where`), or
 * undefined when the server does not expose that metric at all: "not exposed" is unknown, not zero.
 * A metric that is declared (# TYPE) but has no sample yet sums to 0.
 */
function metricSum(metrics, name, where = {}) {
  const m = metrics.get(name) || metrics.get(name.replace(/_(bucket|sum|count|total|created)$/, ''));
  if (!m) return undefined;
  return m.samples
    .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

module.exports = { parsePrometheus, metricSum, parseLabels };
