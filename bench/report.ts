// The bench's report: a Markdown file with every table of the run, and two SVG charts drawn here from
// the results (no charting dependency): fuseloss's speed-up over each peer per workload (bars, log
// scale), and the scaling sweeps (lines).
import { basename } from 'node:path';
import { esc, logTicks, PALETTE, type Sweep, svg } from '../src/train/chart';
import { fmt, mdTable, type Table } from './harness';

export { lineCharts } from '../src/train/chart';

export interface Bar {
  peer: string;
  label: string;
  /** Peer time / fuseloss time. */
  ratio: number;
}

/** Horizontal bars of fuseloss's speed-up over each peer, log x axis, a rule at 1×. */
export function barChart(title: string, bars: Bar[]): string {
  const rowH = 18,
    left = 330,
    right = 70,
    top = 48,
    width = 900;
  const peers = [...new Set(bars.map((b) => b.peer))];
  const height = top + bars.length * rowH + 44;
  const finite = bars.map((b) => b.ratio).filter((r) => Number.isFinite(r) && r > 0);
  const lo = Math.min(0.5, ...finite) / 1.2,
    hi = Math.max(2, ...finite) * 1.3;
  const xs = (v: number) => left + ((Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo))) * (width - left - right);
  const body: string[] = [`<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="600">${esc(title)}</text>`];
  peers.forEach((p, i) => {
    const x = left + i * 150;
    body.push(
      `<rect x="${x}" y="30" width="10" height="10" fill="${PALETTE[i % PALETTE.length]}"/><text x="${x + 14}" y="39">${esc(p)}</text>`,
    );
  });
  const axisY = top + bars.length * rowH + 4;
  for (const t of logTicks(lo, hi)) {
    const x = xs(t);
    body.push(
      `<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${axisY}" stroke="#e5e5e5"/>`,
      `<text x="${x}" y="${axisY + 14}" text-anchor="middle" fill="#555">${fmt(t)}×</text>`,
    );
  }
  body.push(
    `<line x1="${xs(1)}" y1="${top - 4}" x2="${xs(1)}" y2="${axisY}" stroke="#333" stroke-dasharray="3,3"/>`,
    `<text x="${(left + width - right) / 2}" y="${axisY + 32}" text-anchor="middle" fill="#333">peer time / fuseloss time (log scale; right of the dashed line = fuseloss faster)</text>`,
  );
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    const color = PALETTE[peers.indexOf(b.peer) % PALETTE.length];
    body.push(`<text x="${left - 6}" y="${y + 12}" text-anchor="end">${esc(b.label)}</text>`);
    if (Number.isFinite(b.ratio) && b.ratio > 0) {
      const x0 = xs(lo),
        x1 = xs(b.ratio);
      body.push(
        `<rect x="${x0}" y="${y + 2}" width="${Math.max(1, x1 - x0)}" height="${rowH - 5}" fill="${color}"/>`,
        `<text x="${x1 + 4}" y="${y + 12}">${fmt(b.ratio)}×</text>`,
      );
    } else body.push(`<text x="${xs(lo) + 4}" y="${y + 12}" fill="#a00">no ratio (peer result did not match)</text>`);
  });
  return svg(width, height, body);
}

export function sweepTable(s: Sweep): Table {
  return {
    headers: [s.axis, ...s.series.map((q) => `${q.label} (${s.unit})`)],
    cells: s.x.map((x, j) => [String(x), ...s.series.map((q) => fmt(q.y[j]))]),
  };
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
  const out = [
    `# ${r.title}`,
    '',
    ...r.preamble,
    '',
    '## Cross-entropy [4096, 1000], forward + backward, against each peer',
    '',
    mdTable(r.headline),
    '',
    `![fuseloss speed-up over each peer](${basename(r.peersSvg)})`,
    '',
  ];
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
