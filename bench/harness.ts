// Benchmark plumbing: timing (warm-up, then several samples, median and spread), the memory-bandwidth
// roofline measured in the same run, the terminal table and the JSON written to bench/results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { fmtNumber } from '../src/core/format';
import { fl } from './pkg';

const { cuda, getNumThreads, internal, runtimeInfo, setNumThreads } = fl;

export interface Args {
  quick: boolean;
  filter?: string;
  threads?: number[];
  json: boolean;
  /** Where the JSON, Markdown report and SVG charts go (default bench/results). */
  outDir: string;
  /**
   * Shrinks every workload's batch dimension by this factor (1 = the stated shapes). Only the test suite
   * uses it (`--scale 0.01` with --quick), to run the whole harness on tiny inputs; such a run's figures
   * mean nothing and its report says so.
   */
  scale: number;
}

const USAGE = 'expected --quick, --filter <text>, --threads 1,2, --json, --out <dir>, --scale <0..1>';

export function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, json: false, outDir: join(__dirname, 'results'), scale: 1 };
  const value = (i: number, flag: string) => {
    if (i >= argv.length || argv[i].startsWith('--')) throw new Error(`${flag} needs a value (${USAGE})`);
    return argv[i];
  };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    if (v === '--quick') a.quick = true;
    else if (v === '--json') a.json = true;
    else if (v === '--filter') a.filter = value(++i, v);
    else if (v === '--out') a.outDir = value(++i, v);
    else if (v === '--threads') {
      a.threads = value(++i, v).split(',').map(Number);
      if (a.threads.some((t) => !Number.isInteger(t) || t < 1)) throw new Error(`--threads takes positive integers, e.g. 1,2 (${USAGE})`);
    } else if (v === '--scale') {
      a.scale = Number(value(++i, v));
      if (!(a.scale > 0 && a.scale <= 1)) throw new Error(`--scale takes a number in (0, 1] (${USAGE})`);
    } else throw new Error(`unknown argument ${v} (${USAGE})`);
  }
  if (a.quick) timingDefaults = a.scale < 1 ? { warmupMs: 1, minSampleMs: 1 } : { warmupMs: 25, minSampleMs: 8 };
  return a;
}

/** A batch size shrunk by --scale (never below 1). */
export function scaled(args: Args, n: number): number {
  return Math.max(1, Math.round(n * args.scale));
}

/** Warm-up and minimum sample length of `time`; --quick shortens both. */
let timingDefaults = { warmupMs: 100, minSampleMs: 20 };

export interface Timing {
  medianMs: number;
  minMs: number;
  maxMs: number;
  samplesMs: number[];
}

type TimingOptions = { samples: number; minSampleMs?: number; warmupMs?: number };

/**
 * The timing schedule shared by `time` and `timeAsync`: yields how many calls to make in a row and takes
 * back how long they took (ms). Warm-up until `warmupMs` has passed (at least one batch), growing the batch
 * until it lasts `minSampleMs`; then `samples` batches, each giving one per-call time.
 */
function* schedule(opts: TimingOptions): Generator<number, Timing, number> {
  const minSample = opts.minSampleMs ?? timingDefaults.minSampleMs;
  const warmEnd = performance.now() + (opts.warmupMs ?? timingDefaults.warmupMs);
  let reps = 1;
  do {
    const dt: number = yield reps;
    if (dt < minSample) reps = Math.min(1 << 20, Math.ceil((reps * minSample) / Math.max(dt, 0.01)));
  } while (performance.now() < warmEnd);
  const samplesMs: number[] = [];
  for (let s = 0; s < opts.samples; s++) samplesMs.push((yield reps) / reps);
  const sorted = [...samplesMs].sort((x, y) => x - y);
  return { medianMs: sorted[Math.floor(sorted.length / 2)], minMs: sorted[0], maxMs: sorted[sorted.length - 1], samplesMs };
}

/** Median, spread and every sample of fn's time per call (see `schedule`). */
export function time(fn: () => void, opts: TimingOptions): Timing {
  const it = schedule(opts);
  for (let step = it.next(0); ;) {
    if (step.done) return step.value;
    const t0 = performance.now();
    for (let i = 0; i < step.value; i++) fn();
    step = it.next(performance.now() - t0);
  }
}

/** `time` for a function that returns a Promise (awaited each call). */
export async function timeAsync(fn: () => Promise<unknown>, opts: TimingOptions): Promise<Timing> {
  const it = schedule(opts);
  for (let step = it.next(0); ;) {
    if (step.done) return step.value;
    const t0 = performance.now();
    for (let i = 0; i < step.value; i++) await fn();
    step = it.next(performance.now() - t0);
  }
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

/** What a peer adapter returns: its rows, its table (null when skipped) and a note (why skipped, or how it ran). */
export interface PeerResult<R> {
  rows: R[];
  table: Table | null;
  note: string;
  version: string | null;
}

/** A result table, rendered for the terminal (`textTable`) and for the Markdown report (`mdTable`). */
export interface Table {
  headers: string[];
  cells: string[][];
}

export function makeTable(headers: string[], rows: (string | number)[][]): Table {
  return { headers, cells: rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c))) };
}

export function textTable({ headers, cells }: Table): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

export function mdTable({ headers, cells }: Table): string {
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  return [
    `| ${headers.map(esc).join(' | ')} |`,
    `|${headers.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`,
    ...cells.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

export const fmt = fmtNumber;

/** `<outDir>/<date>-<host>-<name>`: the stem every file of one run shares. */
export function resultStem(args: Args, name: string): string {
  mkdirSync(args.outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return join(args.outDir, `${stamp}-${os.hostname()}-${name}`);
}

export function writeResults(stem: string, data: unknown): string {
  const file = `${stem}.json`;
  writeFileSync(file, JSON.stringify(data, null, 1));
  return file;
}

export function progress(msg: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${msg}`);
  else process.stderr.write(`${msg}\n`);
}

/** The same work done by the native kernel, the reference and (optionally) CUDA. */
export interface WorkloadFns {
  native: () => void;
  reference: () => void;
  cuda?: () => void;
}

/** One benchmark case; its data is made only when it runs (so --filter skips the cost of the others). */
export interface Workload {
  name: string;
  elems: number;
  /** Bytes a perfect kernel must move per element (inputs read + gradient written). */
  bytesPerElem: number;
  make: () => WorkloadFns;
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
    dram[t] = roofline(scaled(args, 1 << 26), t, args.quick ? 3 : 5).gbps;
  }
  for (const w of workloads) {
    if (args.filter && !w.name.includes(args.filter)) continue;
    progress(`${w.name}: data`);
    const fns = w.make();
    progress(`${w.name}: reference`);
    const bytes = w.bytesPerElem * w.elems;
    const ref = time(fns.reference, { samples: args.quick ? 1 : 3, minSampleMs: w.elems > 1e5 ? 0 : 20, warmupMs: w.elems > 1e5 ? 0 : 50 });
    const row = (impl: string, threads: number, timing: Timing, roof?: number, dramBw?: number): Row => {
      const gbps = bytes / (timing.medianMs * 1e6);
      return {
        workload: w.name,
        impl,
        threads,
        timing,
        nsPerElem: (timing.medianMs * 1e6) / w.elems,
        gbps,
        vsReference: ref.medianMs / timing.medianMs,
        pctRoofline: roof ? (100 * gbps) / roof : NaN,
        pctDram: dramBw ? (100 * gbps) / dramBw : NaN,
      };
    };
    rows.push(row('reference (TS)', 1, ref));
    for (const t of threadSet) {
      const key = `${w.elems}@${t}`;
      progress(`${w.name}: roofline, ${t} thread(s)`);
      rooflines[key] ??= roofline(w.elems, t, samples).gbps;
      setNumThreads(t);
      progress(`${w.name}: native, ${t} thread(s)`);
      rows.push(row(`native ${runtimeInfo().isa}`, t, time(fns.native, { samples }), rooflines[key], dram[t]));
    }
    if (fns.cuda && cuda.available()) {
      // Host arrays in and out: the copies over PCIe are part of what a caller of backend 'cuda' pays.
      progress(`${w.name}: cuda`);
      rows.push(row(`cuda ${cuda.devices()[0].name} (host arrays)`, 0, time(fns.cuda, { samples })));
    }
  }
  setNumThreads(all);
  progress('');
  return { rows, rooflines, dram };
}

export function render(rows: Row[]): Table {
  return makeTable(
    ['workload', 'impl', 'thr', 'ms (median)', 'spread', 'ns/elem', 'GB/s', '× reference', '% roofline', '% DRAM'],
    rows.map((r) => [
      r.workload,
      r.impl,
      String(r.threads),
      r.timing.medianMs,
      `${fmt(r.timing.minMs)}–${fmt(r.timing.maxMs)}`,
      r.nsPerElem,
      r.gbps,
      `${fmt(r.vsReference)}×`,
      Number.isNaN(r.pctRoofline) ? '—' : `${fmt(r.pctRoofline)}%`,
      Number.isNaN(r.pctDram) ? '—' : `${fmt(r.pctDram)}%`,
    ]),
  );
}

/** Deterministic pseudo-random floats (LCG), so every run times the same data. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1103515245 + 12345) >>> 0) / 4294967296;
}
