// crossEntropy forward + backward: native (1 thread and all threads) vs the pure-TS reference, and vs two
// rooflines measured in the same run with the same threads: y = a·x over the same number of elements
// (the same working set, so as cache-resident as the loss itself), and y = a·x over 2^26 elements
// (512 MiB moved, far beyond the last-level cache: DRAM bandwidth).
// Bytes per element counted: 4 read (logits) + 4 written (gradient); class-id targets add 4 per row.
import { crossEntropy, cuda, getNumThreads, runtimeInfo, setNumThreads, type CrossEntropyOptions } from '../src/index';
import { type Args, fmt, progress, roofline, table, time, type Timing } from './harness';

interface Workload {
  name: string;
  shape: number[];
  options?: CrossEntropyOptions;
}

export const workloads: Workload[] = [
  { name: 'ce [4096,1000]', shape: [4096, 1000] },
  { name: 'ce [256,32000]', shape: [256, 32000] },
  { name: 'ce [65536,10]', shape: [65536, 10] },
  { name: 'ce seg [8,21,128,128]', shape: [8, 21, 128, 128] },
  { name: 'ce [4096,1000] ls=0.1 weight', shape: [4096, 1000], options: { labelSmoothing: 0.1 } },
];

function problem(shape: number[]) {
  const [n, c] = shape;
  const s = shape.slice(2).reduce((a, b) => a * b, 1);
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
  const input = Float32Array.from({ length: n * c * s }, () => (rand() - 0.5) * 8);
  const target = Int32Array.from({ length: n * s }, () => Math.floor(rand() * c));
  return { input, target, elems: n * c * s };
}

export interface Row {
  workload: string;
  impl: string;
  threads: number;
  timing: Timing;
  nsPerElem: number;
  gbps: number;
  vsReference: number;
  pctRoofline: number;
  pctDram: number;
}

export function run(args: Args): { rows: Row[]; rooflines: Record<string, number>; dram: Record<number, number> } {
  const all = getNumThreads();
  const threadSet = args.threads ?? [...new Set([1, all])];
  const samples = args.quick ? 3 : 7;
  const rows: Row[] = [];
  const rooflines: Record<string, number> = {};
  const dram: Record<number, number> = {};
  for (const t of threadSet) {
    progress(`DRAM roofline, ${t} thread(s)`);
    dram[t] = roofline(1 << 26, t, args.quick ? 3 : 5).gbps;
  }
  for (const w of workloads) {
    if (args.filter && !w.name.includes(args.filter)) continue;
    const p = problem(w.shape);
    const grad = new Float32Array(p.elems);
    const opts: CrossEntropyOptions = { shape: w.shape, out: { grad }, ...w.options };
    if (w.options?.labelSmoothing) opts.weight = Float32Array.from({ length: w.shape[1] }, (_, i) => 0.5 + (i % 7) / 7);
    progress(`${w.name}: reference`);
    const ref = time(() => crossEntropy(p.input, p.target, { ...opts, backend: 'reference' }), {
      samples: args.quick ? 1 : 3, minSampleMs: 0, warmupMs: 0,
    });
    const bytes = 8 * p.elems;
    rows.push({ workload: w.name, impl: 'reference (TS)', threads: 1, timing: ref, nsPerElem: (ref.medianMs * 1e6) / p.elems, gbps: bytes / (ref.medianMs * 1e6), vsReference: 1, pctRoofline: NaN, pctDram: NaN });
    for (const t of threadSet) {
      const key = `${p.elems}@${t}`;
      progress(`${w.name}: roofline, ${t} thread(s)`);
      rooflines[key] ??= roofline(p.elems, t, samples).gbps;
      setNumThreads(t);
      progress(`${w.name}: native, ${t} thread(s)`);
      const nat = time(() => crossEntropy(p.input, p.target, opts), { samples });
      const gbps = bytes / (nat.medianMs * 1e6);
      rows.push({
        workload: w.name, impl: `native ${runtimeInfo().isa}`, threads: t, timing: nat,
        nsPerElem: (nat.medianMs * 1e6) / p.elems, gbps, vsReference: ref.medianMs / nat.medianMs,
        pctRoofline: (100 * gbps) / rooflines[key], pctDram: (100 * gbps) / dram[t],
      });
    }
    if (cuda.available()) {
      // Host arrays in and out: the copies over PCIe are part of what a caller of backend 'cuda' pays.
      progress(`${w.name}: cuda`);
      const gpu = time(() => crossEntropy(p.input, p.target, { ...opts, backend: 'cuda' }), { samples });
      rows.push({
        workload: w.name, impl: `cuda ${cuda.devices()[0].name} (host arrays)`, threads: 0, timing: gpu,
        nsPerElem: (gpu.medianMs * 1e6) / p.elems, gbps: bytes / (gpu.medianMs * 1e6), vsReference: ref.medianMs / gpu.medianMs,
        pctRoofline: NaN, pctDram: NaN,
      });
    }
  }
  setNumThreads(all);
  progress('');
  return { rows, rooflines, dram };
}

export function render(rows: Row[]): string {
  return table(
    ['workload', 'impl', 'thr', 'ms (median)', 'spread', 'ns/elem', 'GB/s', '× reference', '% roofline', '% DRAM'],
    rows.map((r) => [
      r.workload, r.impl, String(r.threads), r.timing.medianMs,
      `${fmt(r.timing.minMs)}–${fmt(r.timing.maxMs)}`, r.nsPerElem, r.gbps,
      `${fmt(r.vsReference)}×`, Number.isNaN(r.pctRoofline) ? '—' : `${fmt(r.pctRoofline)}%`,
      Number.isNaN(r.pctDram) ? '—' : `${fmt(r.pctDram)}%`,
    ]),
  );
}
