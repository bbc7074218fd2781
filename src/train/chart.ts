// SVG charts drawn without a charting dependency: line panels (the bench's scaling sweeps, the training
// CLI's loss and weight curves) and the helpers the bench's bar chart shares.
import { fmtNumber as fmt } from '../core/format';

/** One panel: series of y over x, log-log when `log`, else linear from zero. */
export interface Sweep {
  /** What varies along x. */
  axis: string;
  title: string;
  x: number[];
  /** y values per series; the unit is `unit`. */
  series: { label: string; y: number[] }[];
  unit: string;
  log: boolean;
}

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
export const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function svg(width: number, height: number, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** Powers of ten (with 2 and 5 between when the range is short) inside [lo, hi]. */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  const mults = Math.log10(hi / lo) < 2.5 ? [1, 2, 5] : [1];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++)
    for (const m of mults) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
  return out;
}

export function linTicks(lo: number, hi: number): number[] {
  const raw = (hi - lo) / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** One panel per sweep, two per row; log-log when the sweep says so, else linear from zero. */
export function lineCharts(title: string, sweeps: Sweep[]): string {
  const pw = 440,
    ph = 280,
    cols = 2,
    gap = 20,
    top = 34;
  const rows = Math.ceil(sweeps.length / cols);
  const width = cols * pw + (cols + 1) * gap,
    height = top + rows * (ph + gap) + gap;
  const body: string[] = [`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">${esc(title)}</text>`];
  sweeps.forEach((s, k) => {
    const ox = gap + (k % cols) * (pw + gap),
      oy = top + Math.floor(k / cols) * (ph + gap);
    const l = ox + 56,
      r = ox + pw - 10,
      t = oy + 26,
      b = oy + ph - 40;
    const ys = s.series.flatMap((q) => q.y).filter((v) => Number.isFinite(v) && (!s.log || v > 0));
    const x0 = Math.min(...s.x),
      x1 = Math.max(...s.x);
    // linear panels start at zero, or below it when a series goes negative (e.g. an uncertainty-weighted loss)
    const lo = Math.min(...ys),
      hi = Math.max(...ys);
    const yLo = s.log ? lo / 1.3 : Math.min(0, lo - 0.05 * (hi - lo)),
      yHi = s.log ? hi * 1.3 : hi + 0.1 * Math.abs(hi - Math.min(0, lo));
    const fx = (v: number) =>
      s.log ? l + ((Math.log(v) - Math.log(x0)) / (Math.log(x1) - Math.log(x0) || 1)) * (r - l) : l + ((v - x0) / (x1 - x0 || 1)) * (r - l);
    const fy = (v: number) =>
      s.log
        ? b - ((Math.log(v) - Math.log(yLo)) / (Math.log(yHi) - Math.log(yLo) || 1)) * (b - t)
        : b - ((v - yLo) / (yHi - yLo || 1)) * (b - t);
    body.push(
      `<rect x="${ox}" y="${oy}" width="${pw}" height="${ph}" fill="none" stroke="#ddd"/>`,
      `<text x="${ox + pw / 2}" y="${oy + 16}" text-anchor="middle" font-weight="600">${esc(s.title)}</text>`,
    );
    for (const v of s.log ? logTicks(yLo, yHi) : linTicks(yLo, yHi)) {
      body.push(
        `<line x1="${l}" y1="${fy(v)}" x2="${r}" y2="${fy(v)}" stroke="#eee"/>`,
        `<text x="${l - 4}" y="${fy(v) + 4}" text-anchor="end" fill="#555">${fmt(v)}</text>`,
      );
    }
    const every = Math.ceil(s.x.length / 12); // at most ~12 x labels
    s.x.forEach((v, j) => {
      if (j % every === 0 || j === s.x.length - 1)
        body.push(`<text x="${fx(v)}" y="${b + 14}" text-anchor="middle" fill="#555">${v}</text>`);
    });
    body.push(
      `<line x1="${l}" y1="${b}" x2="${r}" y2="${b}" stroke="#999"/><line x1="${l}" y1="${t}" x2="${l}" y2="${b}" stroke="#999"/>`,
      `<text x="${(l + r) / 2}" y="${b + 30}" text-anchor="middle">${esc(s.axis)}${s.log ? ' (log)' : ''}</text>`,
      `<text transform="translate(${ox + 12},${(t + b) / 2}) rotate(-90)" text-anchor="middle">${esc(s.unit)}${s.log ? ' (log)' : ''}</text>`,
    );
    s.series.forEach((q, i) => {
      const color = PALETTE[i % PALETTE.length];
      const pts = q.y.map((v, j) => [fx(s.x[j]), fy(v)] as const).filter(([, y]) => Number.isFinite(y));
      body.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}"/>`,
        ...pts.map(([x, y]) => `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3" fill="${color}"/>`),
        `<rect x="${l + 8}" y="${t + 4 + i * 15}" width="10" height="3" fill="${color}"/><text x="${l + 22}" y="${t + 10 + i * 15}" font-size="11">${esc(q.label)}</text>`,
      );
    });
  });
  return svg(width, height, body);
}
