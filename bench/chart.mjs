// The benchmark's chart as a standalone SVG, written by hand (no dependency): copy vs legacy for H264 +
// Opus publishers against N: server CPU, CPU per stream (with its split), time to a playable master;
// and glass-to-glass latency at N=1.
import { capacityOf, TARGETS, whyNot } from './report.mjs';

const W = 1200;
const H = 860;
const COLORS = { copy: '#1565c0', legacy: '#d84315' };
const SPLIT = {
  ffmpeg: { dash: '6 4', label: 'FFmpeg' },
  mediasoup: { dash: '2 3', label: 'mediasoup worker' },
  node: { dash: '10 3 2 3', label: 'Nest process' },
};
const FONT = 'font-family="DejaVu Sans, Arial, Helvetica, sans-serif"';

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const num = (v, d = 2) => (Number.isFinite(v) ? Number(v.toFixed(d)).toString() : 'n/a');

/** About `count` round tick values covering [0, max]. */
function ticks(max, count = 5, integer = false) {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const steps = (integer ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10]).map((m) => Math.max(integer ? 1 : 0, m * mag));
  const step = steps.find((s) => s >= raw) ?? 10 * mag;
  const out = [];
  for (let v = 0; v <= max * 1.0001 + step * 0.01 && out.length < 50; v += step) out.push(Number(v.toPrecision(12)));
  if (out.at(-1) < max) out.push(Number((out.at(-1) + step).toPrecision(12)));
  return out;
}

function text(x, y, s, { size = 13, anchor = 'start', weight = 'normal', color = '#222', rotate } = {}) {
  const tr = rotate ? ` transform="rotate(${rotate} ${x} ${y})"` : '';
  return `<text x="${x}" y="${y}" ${FONT} font-size="${size}" text-anchor="${anchor}" font-weight="${weight}" fill="${color}"${tr}>${esc(s)}</text>`;
}

/**
 * One x/y panel. series: [{ label, color, dash?, width?, points: [{ x, y, lo?, hi?, failed? }] }];
 * hlines: [{ y, label, color }].
 */
function panel({
  x,
  y,
  w,
  h,
  title,
  subtitle,
  xLabel,
  yLabel,
  xMax,
  yMax,
  series,
  hlines = [],
  yFormat = (v) => num(v, 3),
  xOffset = {},
  legendItems,
  annotations = [],
}) {
  const left = x + 64;
  const top = y + 48;
  const pw = w - 84;
  const ph = h - 128;
  const xt = ticks(xMax, 8, true);
  const yt = ticks(yMax, 5);
  const X = (v) => left + (v / xt.at(-1)) * pw;
  const Y = (v) => top + ph - (Math.min(v, yt.at(-1)) / yt.at(-1)) * ph;
  const out = [];
  out.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="#fff" stroke="#ddd"/>`);
  out.push(text(x + 14, y + 22, title, { size: 16, weight: 'bold' }));
  if (subtitle) out.push(text(x + 14, y + 40, subtitle, { size: 12, color: '#666' }));
  for (const v of yt) {
    out.push(`<line x1="${left}" x2="${left + pw}" y1="${Y(v)}" y2="${Y(v)}" stroke="#eee"/>`);
    out.push(text(left - 6, Y(v) + 4, yFormat(v), { size: 11, anchor: 'end', color: '#555' }));
  }
  for (const v of xt) {
    out.push(`<line x1="${X(v)}" x2="${X(v)}" y1="${top + ph}" y2="${top + ph + 4}" stroke="#999"/>`);
    out.push(text(X(v), top + ph + 17, String(v), { size: 11, anchor: 'middle', color: '#555' }));
  }
  out.push(`<line x1="${left}" x2="${left + pw}" y1="${top + ph}" y2="${top + ph}" stroke="#999"/>`);
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + ph}" stroke="#999"/>`);
  out.push(text(left + pw / 2, top + ph + 36, xLabel, { size: 12, anchor: 'middle', color: '#444' }));
  out.push(text(x + 16, top + ph / 2, yLabel, { size: 12, anchor: 'middle', color: '#444', rotate: -90 }));
  for (const l of hlines) {
    out.push(
      `<line x1="${left}" x2="${left + pw}" y1="${Y(l.y)}" y2="${Y(l.y)}" stroke="${l.color ?? '#2e7d32'}" stroke-width="1.5" stroke-dasharray="8 5"/>`,
    );
    out.push(text(left + pw - 4, Y(l.y) - 5, l.label, { size: 11, anchor: 'end', color: l.color ?? '#2e7d32' }));
  }
  for (const s of series) {
    const dx = xOffset[s.group] ?? 0;
    const pts = s.points.filter((p) => Number.isFinite(p.y));
    const ok = pts.filter((p) => !p.failed);
    if (ok.length > 1) {
      out.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="${s.width ?? 2.5}" ${s.dash ? `stroke-dasharray="${s.dash}"` : ''} points="${ok.map((p) => `${X(p.x) + dx},${Y(p.y)}`).join(' ')}"/>`,
      );
    }
    if (s.markers === false) continue;
    for (const p of pts) {
      if (Number.isFinite(p.lo) && Number.isFinite(p.hi)) {
        out.push(`<line x1="${X(p.x) + dx}" x2="${X(p.x) + dx}" y1="${Y(p.lo)}" y2="${Y(p.hi)}" stroke="${s.color}" stroke-width="1.5"/>`);
        out.push(
          `<line x1="${X(p.x) + dx - 4}" x2="${X(p.x) + dx + 4}" y1="${Y(p.hi)}" y2="${Y(p.hi)}" stroke="${s.color}" stroke-width="1.5"/>`,
        );
      }
      if (p.failed) {
        const cx = X(p.x) + dx;
        const cy = Y(p.y);
        out.push(
          `<path d="M${cx - 6},${cy - 6}L${cx + 6},${cy + 6}M${cx - 6},${cy + 6}L${cx + 6},${cy - 6}" stroke="${s.color}" stroke-width="2.5"/>`,
        );
      } else {
        out.push(`<circle cx="${X(p.x) + dx}" cy="${Y(p.y)}" r="4" fill="${s.color}"/>`);
      }
    }
  }
  for (const a of annotations) {
    const ax = Math.min(X(a.x), left + pw - 4);
    out.push(
      text(ax, Y(a.y) + (a.dy ?? 22), a.text, { size: 11, anchor: X(a.x) > left + pw * 0.6 ? 'end' : 'middle', color: a.color ?? '#333' }),
    );
  }
  // Legend: one row under the plot (wraps), custom items if given.
  const items = legendItems ?? series.filter((s) => s.label).map((s) => ({ label: s.label, color: s.color, dash: s.dash, width: s.width }));
  let lx = left;
  let ly = top + ph + 54;
  for (const item of items) {
    const width = 36 + item.label.length * 6.6 + 16;
    if (lx + width > x + w - 8) {
      lx = left;
      ly += 16;
    }
    out.push(
      `<line x1="${lx}" x2="${lx + 26}" y1="${ly}" y2="${ly}" stroke="${item.color}" stroke-width="${item.width ?? 2.5}" ${item.dash ? `stroke-dasharray="${item.dash}"` : ''}/>`,
    );
    out.push(text(lx + 32, ly + 4, item.label, { size: 11, color: '#333' }));
    lx += width;
  }
  return out.join('\n');
}

function h264Steps(result, profile) {
  return result.profiles[profile]?.variants?.h264?.steps ?? [];
}

export function renderChart(result) {
  const profiles = Object.keys(result.profiles).filter((p) => h264Steps(result, p).length > 0);
  const all = profiles.flatMap((p) => h264Steps(result, p));
  const xMax = Math.max(5, ...all.map((s) => s.n));
  const seg = result.settings.segmentSeconds;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
    `<rect width="${W}" height="${H}" fill="#fafafa"/>`,
  ];

  const cap = Object.fromEntries(profiles.map((p) => [p, capacityOf(result.profiles[p].variants.h264)]));
  const headline = profiles
    .map(
      (p) =>
        `${p}: ${cap[p].lossFree}${cap[p].lowerBound ? '+' : ''} loss-free streams on one core${cap[p].lossFreeStep ? ` at ${num(cap[p].lossFreeStep.perStreamCores, 3)} core each` : ''}`,
    )
    .join('   ·   ');
  const ratio =
    cap.copy && cap.legacy && cap.legacy.lossFree
      ? `   ·   ${num(cap.copy.lossFree / cap.legacy.lossFree, 1)}× (target ${TARGETS.ratio}×)`
      : '';
  out.push(
    text(24, 32, 'webrtc-hls: H264 720p30 + Opus publishers on one pinned core — copy vs legacy (re-encode)', { size: 19, weight: 'bold' }),
  );
  out.push(text(24, 56, headline + ratio, { size: 14, color: '#333' }));
  out.push(
    text(
      24,
      76,
      `${result.machine.nproc} × ${result.machine.cpuModel}; server on core ${result.cores.server}, generator on core ${result.cores.generator}; ${result.startedAt.slice(0, 16).replace('T', ' ')} UTC; × = step that failed (loss, lag, a stream behind)`,
      { size: 12, color: '#666' },
    ),
  );

  const pw = (W - 3 * 20) / 2;
  const ph = (H - 100 - 3 * 20) / 2;
  const px = [20, 40 + pw];
  const py = [96, 116 + ph];
  const offsets = { copy: -3, legacy: 3 };

  // A: total server CPU
  const cpuMax = Math.max(1.1, ...all.map((s) => s.serverCores));
  out.push(
    panel({
      x: px[0],
      y: py[0],
      w: pw,
      h: ph,
      title: 'Server CPU (Nest + mediasoup worker + FFmpeg)',
      subtitle: 'cores used on the server core, over the measured window',
      xLabel: 'concurrent publishers N',
      yLabel: 'cores',
      xMax,
      yMax: cpuMax,
      hlines: [{ y: 1, label: 'one core', color: '#555' }],
      series: profiles.map((p) => ({
        label: p,
        group: p,
        color: COLORS[p],
        points: h264Steps(result, p).map((s) => ({ x: s.n, y: s.serverCores, failed: s.verdict !== 'pass' })),
      })),
      yFormat: (v) => num(v, 2),
      // Why the ramp stopped, next to the step that failed.
      annotations: profiles.flatMap((p) => {
        const f = cap[p].failedStep;
        if (!f) return [];
        const why = whyNot(f).slice(0, 45);
        return [{ x: f.n, y: f.serverCores, text: `N=${f.n}: ${why}`, color: COLORS[p], dy: -12 }];
      }),
    }),
  );

  // B: per stream, with the split of each profile
  const perMax = Math.max(TARGETS.cpuPerStream * 1.5, ...all.map((s) => s.perStreamCores));
  const perSeries = [];
  for (const p of profiles) {
    perSeries.push({
      label: `${p}: all server processes`,
      group: p,
      color: COLORS[p],
      points: h264Steps(result, p).map((s) => ({ x: s.n, y: s.perStreamCores, failed: s.verdict !== 'pass' })),
    });
    for (const [kind, style] of Object.entries(SPLIT)) {
      perSeries.push({
        label: `${p}: ${style.label}`,
        group: p,
        color: COLORS[p],
        dash: style.dash,
        width: 1.4,
        markers: false,
        points: h264Steps(result, p)
          .filter((s) => s.verdict === 'pass')
          .map((s) => ({ x: s.n, y: s.splitPerStream[kind] })),
      });
    }
  }
  out.push(
    panel({
      x: px[1],
      y: py[0],
      w: pw,
      h: ph,
      title: 'Server CPU per stream',
      subtitle: 'cores per publisher: all server processes, and split by process kind',
      xLabel: 'concurrent publishers N',
      yLabel: 'cores per stream',
      xMax,
      yMax: perMax,
      hlines: [{ y: TARGETS.cpuPerStream, label: `target ≤ ${TARGETS.cpuPerStream} (copy)` }],
      series: perSeries,
      legendItems: [
        ...profiles.map((p) => ({ label: p, color: COLORS[p] })),
        { label: 'all server processes', color: '#777' },
        ...Object.values(SPLIT).map((st) => ({ label: st.label, color: '#777', dash: st.dash, width: 1.4 })),
      ],
    }),
  );

  // C: produce -> playable
  const ttlMax = Math.max(TARGETS.ttlSeconds(seg) * 1.3, ...all.map((s) => (s.produceToPlayable.p95Ms ?? 0) / 1000));
  const ttlSeries = [];
  for (const p of profiles) {
    ttlSeries.push({
      label: `${p}: median, bar up to p95`,
      group: p,
      color: COLORS[p],
      points: h264Steps(result, p)
        .filter((s) => s.produceToPlayable.count > 0)
        .map((s) => ({
          x: s.n,
          y: s.produceToPlayable.medianMs / 1000,
          lo: s.produceToPlayable.medianMs / 1000,
          hi: s.produceToPlayable.p95Ms / 1000,
          failed: s.verdict !== 'pass',
        })),
    });
  }
  out.push(
    panel({
      x: px[0],
      y: py[1],
      w: pw,
      h: ph,
      title: 'Time to live: produce → first playable master',
      subtitle: 'publishers added at each step, while the others keep streaming',
      xLabel: 'concurrent publishers N',
      yLabel: 'seconds',
      xMax,
      yMax: ttlMax,
      hlines: [{ y: TARGETS.ttlSeconds(seg), label: `target ≤ ${TARGETS.ttlSeconds(seg)} s` }],
      series: ttlSeries,
      xOffset: offsets,
      yFormat: (v) => num(v, 1),
    }),
  );

  // D: glass-to-glass, horizontal bars
  out.push(glassPanel(result, px[1], py[1], pw, ph));
  out.push('</svg>');
  return out.join('\n');
}

function glassPanel(result, x, y, w, h) {
  const rows = Object.entries(result.profiles).flatMap(([profile, p]) =>
    [p.glassToGlassIdle, p.glassToGlass]
      .filter((g) => g && !g.error)
      .flatMap((g) => {
        const n = g.loadN ? `N=${g.loadN}+1` : 'N=1';
        return [
          [`${profile} ${n}`, { glassToGlass: g }, profile],
          ...(g.lowLatency
            ? [[`${profile} ${n} LL`, { glassToGlass: { ...g.lowLatency, produceToPlayableMs: g.produceToPlayableMs } }, profile]]
            : []),
        ];
      }),
  );
  const out = [`<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="#fff" stroke="#ddd"/>`];
  out.push(text(x + 14, y + 22, 'Glass-to-glass (one Chromium publisher)', { size: 16, weight: 'bold' }));
  out.push(
    text(x + 14, y + 40, 'alone, and beside the highest passing N; hls.js defaults, LL: lowLatencyMode', {
      size: 12,
      color: '#666',
    }),
  );
  if (rows.length === 0) {
    out.push(text(x + w / 2, y + h / 2, 'not measured in this run', { size: 14, anchor: 'middle', color: '#888' }));
    return out.join('\n');
  }
  const max = Math.max(...rows.map(([, p]) => p.glassToGlass.maxMs ?? p.glassToGlass.p95Ms)) / 1000;
  const xt = ticks(max * 1.05, 6);
  const left = x + 120;
  const pw = w - 150;
  const X = (v) => left + (v / xt.at(-1)) * pw;
  const top = y + 70;
  const bottom = y + h - 50;
  for (const v of xt) {
    out.push(`<line x1="${X(v)}" x2="${X(v)}" y1="${top}" y2="${bottom}" stroke="#eee"/>`);
    out.push(text(X(v), bottom + 16, String(v), { size: 11, anchor: 'middle', color: '#555' }));
  }
  out.push(
    text(left + pw / 2, bottom + 34, 'seconds (bar: median; whisker: p95; thin: min–max)', { size: 12, anchor: 'middle', color: '#444' }),
  );
  const band = (bottom - top) / rows.length;
  rows.forEach(([label, p, profile], i) => {
    const g = p.glassToGlass;
    const cy = top + band * i + band / 2;
    const bh = Math.min(44, band * 0.45);
    out.push(text(x + 14, cy + 5, label, { size: 12, weight: 'bold', color: COLORS[profile] ?? '#333' }));
    out.push(
      `<line x1="${X(g.minMs / 1000)}" x2="${X(g.maxMs / 1000)}" y1="${cy}" y2="${cy}" stroke="${COLORS[profile]}" stroke-width="1"/>`,
    );
    out.push(
      `<rect x="${left}" y="${cy - bh / 2}" width="${X(g.medianMs / 1000) - left}" height="${bh}" fill="${COLORS[profile]}" fill-opacity="0.8"/>`,
    );
    out.push(`<line x1="${X(g.medianMs / 1000)}" x2="${X(g.p95Ms / 1000)}" y1="${cy}" y2="${cy}" stroke="#222" stroke-width="2"/>`);
    out.push(
      `<line x1="${X(g.p95Ms / 1000)}" x2="${X(g.p95Ms / 1000)}" y1="${cy - bh / 3}" y2="${cy + bh / 3}" stroke="#222" stroke-width="2"/>`,
    );
    out.push(text(left + 8, cy + 5, `median ${num(g.medianMs / 1000, 2)} s`, { size: 13, weight: 'bold', color: '#fff' }));
    out.push(
      text(
        left,
        cy + bh / 2 + 16,
        `p95 ${num(g.p95Ms / 1000, 2)} s · ${g.samples} frames, ${g.sessions?.length ?? 1} players · produce → playable ${num(g.produceToPlayableMs / 1000, 2)} s`,
        { size: 11, color: '#444' },
      ),
    );
  });
  return out.join('\n');
}
