// Benchmark plumbing: timing (warm-up, then several samples, median and spread), the memory-bandwidth
// roofline measured in the same run, the terminal table and the JSON written to bench/results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { fl } from './pkg';

const { cuda, getNumThreads, internal, runtimeInfo, setNumThreads } = fl;

export interface Args {
  quick: boolean;
  filter?: string;
  threads?: number[];
  json: boolean;
}

export function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, json: false };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    if (v === '--quick') a.quick = true;
    else if (v === '--json') a.json = true;
    else if (v === '--filter') a.filter = argv[++i];
    else if (v === '--threads') a.threads = argv[++i].split(',').map(Number);
    else throw new Error(`unknown argument ${v} (expected --quick, --filter <text>, --threads 1,2, --json)`);
  }
  return a;
}

export interface Timing {
  medianMs: number;
  minMs: number;
  maxMs: number;
  samplesMs: number[];
}

/** Runs fn until `minMs` of warm-up has passed, then takes `samples` timings (each at least ~minSampleMs, batching fast calls). */
export function time(fn: () => void, opts: { samples: number; minSampleMs?: number; warmupMs?: number }): Timing {
  const minSample = opts.minSampleMs ?? 20;
  const warmEnd = performance.now() + (opts.warmupMs ?? 100);
  let reps = 1;
  do {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    const dt = performance.now() - t0;
    if (dt < minSample) reps = Math.min(1 << 20, Math.ceil((reps * minSample) / Math.max(dt, 0.01)));
  } while (performance.now() < warmEnd);
  const samplesMs: number[] = [];
  for (let s = 0; s < opts.samples; s++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    samplesMs.push((performance.now() - t0) / reps);
  }
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return { medianMs: sorted[Math.floor(sorted.length / 2)], minMs: sorted[0], maxMs: sorted[sorted.length - 1], samplesMs };
}

/** Bytes/s of y = a·x (4 B read + 4 B written per element) over `elems` floats with `threads` threads. */
export function roofline(elems: number, threads: number, samples: number): { gbps: number; timing: Timing } {
  const x = new Float32Array(elems).fill(1.5);
  const y = new Float32Array(elems);
  setNumThreads(threads);
  const timing = time(() => internal.scaleCopy(x, y, 0.5), { samples });
  return { gbps: (8 * elems) / (timing.medianMs * 1e6), timing };
}

export function machine() {
  const cpus = os.cpus();
  const info = runtimeInfo();
  return {
    host: os.hostname(),
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    isa: info.isa,
    supportedIsas: info.supportedIsas,
    compiler: info.compiler,
  };
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

export function writeResults(name: string, data: unknown): string {
  const dir = join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = join(dir, `${stamp}-${os.hostname()}-${name}.json`);
  writeFileSync(file, JSON.stringify(data, null, 1));
  return file;
}

export function progress(msg: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${msg}`);
  else process.stderr.write(`${msg}\n`);
}

/** One benchmark case: the same work done by the native kernel, the reference and (optionally) CUDA. */
export interface Workload {
  name: string;
  elems: number;
  /** Bytes a perfect kernel must move per element (inputs read + gradient written). */
  bytesPerElem: number;
  native: () => void;
  reference: () => void;
  cuda?: () => void;
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

export interface RunResult {
  rows: Row[];
  rooflines: Record<string, number>;
  dram: Record<number, number>;
}

/**
 * Times each workload: the reference once per run (single-threaded JS), native with each thread count,
 * CUDA when available; rooflines (y = a·x) over the same element count and over 2^26 elements (DRAM),
 * with the same threads, in the same run.
 */
export function runWorkloads(workloads: Workload[], args: Args, dram: Record<number, number> = {}): RunResult {
  const all = getNumThreads();
  const threadSet = args.threads ?? [...new Set([1, all])];
  const samples = args.quick ? 3 : 7;
  const rows: Row[] = [];
  const rooflines: Record<string, number> = {};
  for (const t of threadSet) {
    if (dram[t] !== undefined) continue;
    progress(`DRAM roofline, ${t} thread(s)`);
    dram[t] = roofline(1 << 26, t, args.quick ? 3 : 5).gbps;
  }
  for (const w of workloads) {
    if (args.filter && !w.name.includes(args.filter)) continue;
    progress(`${w.name}: reference`);
    const bytes = w.bytesPerElem * w.elems;
    const ref = time(w.reference, { samples: args.quick ? 1 : 3, minSampleMs: w.elems > 1e5 ? 0 : 20, warmupMs: w.elems > 1e5 ? 0 : 50 });
    const row = (impl: string, threads: number, timing: Timing, roof?: number, dramBw?: number): Row => {
      const gbps = bytes / (timing.medianMs * 1e6);
      return {
        workload: w.name, impl, threads, timing, nsPerElem: (timing.medianMs * 1e6) / w.elems, gbps,
        vsReference: ref.medianMs / timing.medianMs,
        pctRoofline: roof ? (100 * gbps) / roof : NaN, pctDram: dramBw ? (100 * gbps) / dramBw : NaN,
      };
    };
    rows.push(row('reference (TS)', 1, ref));
    for (const t of threadSet) {
      const key = `${w.elems}@${t}`;
      progress(`${w.name}: roofline, ${t} thread(s)`);
      rooflines[key] ??= roofline(w.elems, t, samples).gbps;
      setNumThreads(t);
      progress(`${w.name}: native, ${t} thread(s)`);
      rows.push(row(`native ${runtimeInfo().isa}`, t, time(w.native, { samples }), rooflines[key], dram[t]));
    }
    if (w.cuda && cuda.available()) {
      // Host arrays in and out: the copies over PCIe are part of what a caller of backend 'cuda' pays.
      progress(`${w.name}: cuda`);
      rows.push(row(`cuda ${cuda.devices()[0].name} (host arrays)`, 0, time(w.cuda, { samples })));
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

/** Deterministic pseudo-random floats (LCG), so every run times the same data. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296);
}
