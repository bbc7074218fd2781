// Benchmark plumbing: timing (warm-up, then several samples, median and spread), the memory-bandwidth
// roofline measured in the same run, the terminal table and the JSON written to bench/results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { internal, runtimeInfo, setNumThreads } from '../src/index';

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
