// The bench's report: a Markdown file with every table of the run, and two SVG charts drawn here from
// the results (no charting dependency): fuseloss's speed-up over each peer per workload (bars, log
// scale), and the scaling sweeps (lines).
import { basename } from 'node:path';
import { fmt, mdTable, type Table } from './harness';
import type { Sweep } from './scaling.bench';

export interface Bar {
  peer: string;
  label: string;
  /** Peer time / fuseloss time. */
  ratio: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function svg(width: number, height: number, body: string[]): string {
  return [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`, ...body, '</svg>', ''].join('\n');
}

/** Powers of ten (with 2 and 5 between when the range is short) inside [lo, hi]. */
function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  const mults = Math.log10(hi / lo) < 2.5 ? [1, 2, 5] : [1];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++)
    for (const m of mults) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
  return out;
}

function linTicks(lo: number, hi: number): number[] {
  const raw = (hi - lo) / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Horizontal bars of fuseloss's speed-up over each peer, log x axis, a rule at 1×. */
export function barChart(title: string, bars: Bar[]): string {
  const rowH = 18, left = 330, right = 70, top = 48, width = 900;
  const peers = [...new Set(bars.map((b) => b.peer))];
  const height = top + bars.length * rowH + 44;
  const finite = bars.map((b) => b.ratio).filter((r) => Number.isFinite(r) && r > 0);
  const lo = Math.min(0.5, ...finite) / 1.2, hi = Math.max(2, ...finite) * 1.3;
  const xs = (v: number) => left + ((Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo))) * (width - left - right);
  const body: string[] = [`<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="600">${esc(title)}</text>`];
  peers.forEach((p, i) => {
    const x = left + i * 150;
    body.push(`<rect x="${x}" y="30" width="10" height="10" fill="${PALETTE[i % PALETTE.length]}"/><text x="${x + 14}" y="39">${esc(p)}</text>`);
  });
  const axisY = top + bars.length * rowH + 4;
  for (const t of logTicks(lo, hi)) {
    const x = xs(t);
    body.push(`<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${axisY}" stroke="#e5e5e5"/>`,
      `<text x="${x}" y="${axisY + 14}" text-anchor="middle" fill="#555">${fmt(t)}×</text>`);
  }
  body.push(`<line x1="${xs(1)}" y1="${top - 4}" x2="${xs(1)}" y2="${axisY}" stroke="#333" stroke-dasharray="3,3"/>`,
    `<text x="${(left + width - right) / 2}" y="${axisY + 32}" text-anchor="middle" fill="#333">peer time / fuseloss time (log scale; right of the dashed line = fuseloss faster)</text>`);
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    const color = PALETTE[peers.indexOf(b.peer) % PALETTE.length];
    body.push(`<text x="${left - 6}" y="${y + 12}" text-anchor="end">${esc(b.label)}</text>`);
    if (Number.isFinite(b.ratio) && b.ratio > 0) {
      const x0 = xs(lo), x1 = xs(b.ratio);
      body.push(`<rect x="${x0}" y="${y + 2}" width="${Math.max(1, x1 - x0)}" height="${rowH - 5}" fill="${color}"/>`,
        `<text x="${x1 + 4}" y="${y + 12}">${fmt(b.ratio)}×</text>`);
    } else body.push(`<text x="${xs(lo) + 4}" y="${y + 12}" fill="#a00">no ratio (peer result did not match)</text>`);
  });
  return svg(width, height, body);
}

/** One panel per sweep, two per row; log-log when the sweep says so, else linear from zero. */
export function lineCharts(title: string, sweeps: Sweep[]): string {
  const pw = 440, ph = 280, cols = 2, gap = 20, top = 34;
  const rows = Math.ceil(sweeps.length / cols);
  const width = cols * pw + (cols + 1) * gap, height = top + rows * (ph + gap) + gap;
  const body: string[] = [`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">${esc(title)}</text>`];
  sweeps.forEach((s, k) => {
    const ox = gap + (k % cols) * (pw + gap), oy = top + Math.floor(k / cols) * (ph + gap);
    const l = ox + 56, r = ox + pw - 10, t = oy + 26, b = oy + ph - 40;
    const ys = s.series.flatMap((q) => q.y).filter((v) => Number.isFinite(v) && v > 0);
    const x0 = Math.min(...s.x), x1 = Math.max(...s.x);
    const yLo = s.log ? Math.min(...ys) / 1.3 : 0, yHi = Math.max(...ys) * (s.log ? 1.3 : 1.1);
    const fx = (v: number) => (s.log ? l + ((Math.log(v) - Math.log(x0)) / (Math.log(x1) - Math.log(x0) || 1)) * (r - l) : l + ((v - x0) / (x1 - x0 || 1)) * (r - l));
    const fy = (v: number) => (s.log ? b - ((Math.log(v) - Math.log(yLo)) / (Math.log(yHi) - Math.log(yLo) || 1)) * (b - t) : b - ((v - yLo) / (yHi - yLo || 1)) * (b - t));
    body.push(`<rect x="${ox}" y="${oy}" width="${pw}" height="${ph}" fill="none" stroke="#ddd"/>`,
      `<text x="${ox + pw / 2}" y="${oy + 16}" text-anchor="middle" font-weight="600">${esc(s.title)}</text>`);
    for (const v of s.log ? logTicks(yLo, yHi) : linTicks(yLo, yHi)) {
      body.push(`<line x1="${l}" y1="${fy(v)}" x2="${r}" y2="${fy(v)}" stroke="#eee"/>`, `<text x="${l - 4}" y="${fy(v) + 4}" text-anchor="end" fill="#555">${fmt(v)}</text>`);
    }
    for (const v of s.x) body.push(`<text x="${fx(v)}" y="${b + 14}" text-anchor="middle" fill="#555">${v}</text>`);
    body.push(`<line x1="${l}" y1="${b}" x2="${r}" y2="${b}" stroke="#999"/><line x1="${l}" y1="${t}" x2="${l}" y2="${b}" stroke="#999"/>`,
      `<text x="${(l + r) / 2}" y="${b + 30}" text-anchor="middle">${esc(s.axis)}${s.log ? ' (log)' : ''}</text>`,
      `<text transform="translate(${ox + 12},${(t + b) / 2}) rotate(-90)" text-anchor="middle">${esc(s.unit)}${s.log ? ' (log)' : ''}</text>`);
    s.series.forEach((q, i) => {
      const color = PALETTE[i % PALETTE.length];
      const pts = q.y.map((v, j) => [fx(s.x[j]), fy(v)] as const).filter(([, y]) => Number.isFinite(y));
      body.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}"/>`,
        ...pts.map(([x, y]) => `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3" fill="${color}"/>`),
        `<rect x="${l + 8}" y="${t + 4 + i * 15}" width="10" height="3" fill="${color}"/><text x="${l + 22}" y="${t + 10 + i * 15}" font-size="11">${esc(q.label)}</text>`);
    });
  });
  return svg(width, height, body);
}

export function sweepTable(s: Sweep): Table {
  return { headers: [s.axis, ...s.series.map((q) => `${q.label} (${s.unit})`)], cells: s.x.map((x, j) => [String(x), ...s.series.map((q) => fmt(q.y[j]))]) };
}

export interface ReportInput {
  title: string;
  preamble: string[];
  headline: Table;
  peersSvg: string;
  scalingSvg: string | null;
  sections: { title: string; note?: string; table: Table | null }[];
  sweeps: Sweep[];
}

export function markdown(r: ReportInput): string {
  const out = [`# ${r.title}`, '', ...r.preamble, '', '## Cross-entropy [4096, 1000], forward + backward, against each peer', '', mdTable(r.headline), '',
    `![fuseloss speed-up over each peer](${basename(r.peersSvg)})`, ''];
  for (const s of r.sections) {
    out.push(`## ${s.title}`, '');
    if (s.note) out.push(s.note, '');
    if (s.table) out.push(mdTable(s.table), '');
  }
  if (r.sweeps.length && r.scalingSvg) {
    out.push('## Scaling', '', `![scaling sweeps](${basename(r.scalingSvg)})`, '');
    for (const s of r.sweeps) out.push(`### ${s.title}`, '', mdTable(sweepTable(s)), '');
  }
  return out.join('\n');
}
