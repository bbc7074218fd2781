// The GPU section of `npm run bench` (runs where `cuda.available()`; a note elsewhere). For each workload:
// the kernel time (CUDA events around the call's kernels, data resident in DeviceBuffers), the whole call
// on DeviceBuffers (launch, wait, the scalar loss back), the whole call on host arrays (PCIe copies in and
// out through pinned staging), a device-to-device copy of the same bytes (the memory roofline), and
// PyTorch's eager loss + backward() on the same GPU (bench/cuda/torch_cross_entropy.py, CUDA events).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { type Args, fmt, lcg, makeTable, progress, type Table, time } from './harness';
import { fl } from './pkg';
import { headSet, TEN } from './multiTask.bench';

type DeviceBuffer = ReturnType<typeof fl.DeviceBuffer.alloc>;

export interface CudaRow {
  workload: string;
  /** Bytes the loss kernel moves (reads + writes of the large arrays). */
  bytes: number;
  kernelMs: number;
  deviceCallMs: number;
  hostCallMs: number;
  /** A device-to-device copy of `bytes` bytes (half read, half written). */
  copyMs: number;
  /** Achieved bandwidth over the copy's. */
  ofCopy: number;
  torchMs?: number;
  vsTorch?: number;
}

export interface CudaResult {
  device?: string;
  note?: string;
  rows: CudaRow[];
  table?: Table;
  torch?: string;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** The median kernel time (CUDA events) of `reps` calls after 3 warm-up calls. */
function kernelMs(fn: () => unknown, reps: number): number {
  for (let i = 0; i < 3; i++) fn();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    fn();
    ms.push(fl.cuda.lastKernelMs());
  }
  return median(ms);
}

/** The median time of a device-to-device copy of `floats` elements, in ms (CUDA events). */
function copyMs(floats: number, reps: number): number {
  const a = fl.DeviceBuffer.alloc(floats),
    b = fl.DeviceBuffer.alloc(floats);
  try {
    for (let i = 0; i < 3; i++) b.copyFrom(a);
    const ms: number[] = [];
    for (let i = 0; i < reps; i++) ms.push(b.copyFrom(a));
    return median(ms);
  } finally {
    a.dispose();
    b.dispose();
  }
}

function randomFloats(n: number, seed: number, lo: number, hi: number): Float32Array {
  const r = lcg(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

function torchPeer(): { byKey: Map<string, number>; version?: string; note?: string } {
  const byKey = new Map<string, number>();
  try {
    const out = execFileSync(process.env.FUSELOSS_PYTHON ?? 'python3', [join(__dirname, 'cuda', 'torch_cross_entropy.py')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 600_000,
    });
    let version: string | undefined;
    for (const line of out.split('\n')) {
      if (!line.trim().startsWith('{')) continue;
      const j = JSON.parse(line) as { impl: string; n?: number; c?: number; loss?: string; numel?: number; ms: number };
      version = j.impl;
      if (j.c !== undefined) byKey.set(`ce ${j.n}x${j.c}`, j.ms);
      else if (j.loss) byKey.set(`${j.loss} ${j.numel}`, j.ms);
    }
    return { byKey, version };
  } catch (e) {
    return { byKey, note: `not run (${String((e as Error).message).split('\n')[0]})` };
  }
}

export function run(args: Args): CudaResult {
  if (!fl.cuda.available()) return { rows: [], note: `skipped: ${fl.cuda.unavailableReason()}` };
  if (args.filter && !/cuda|gpu/i.test(args.filter)) return { rows: [], note: 'skipped by --filter (use --filter cuda)' };
  const device = fl.cuda.devices()[0].name;
  const reps = args.quick ? 10 : 30;
  const rows: CudaRow[] = [];
  const hostOpts = { samples: args.quick ? 3 : 7, minSampleMs: 20 };

  progress('cuda: PyTorch peer');
  const torch = torchPeer();

  // Cross-entropy fwd + bwd: reads the logits, writes the gradient.
  for (const [n, c] of [
    [8192, 32000],
    [65536, 1000],
  ] as const) {
    progress(`cuda: crossEntropy [${n},${c}]`);
    const x = randomFloats(n * c, 1, -4, 4);
    const r = lcg(2);
    const t = Int32Array.from({ length: n }, () => Math.floor(r() * c));
    const dx = fl.DeviceBuffer.from(x),
      dt = fl.DeviceBuffer.from(t),
      dg = fl.DeviceBuffer.alloc(n * c);
    const devOpts = { shape: [n, c], out: { grad: dg } };
    const k = kernelMs(() => fl.crossEntropy(dx, dt, devOpts), reps);
    const dev = time(() => fl.crossEntropy(dx, dt, devOpts), hostOpts).medianMs;
    const hg = new Float32Array(n * c);
    const host = time(() => fl.crossEntropy(x, t, { shape: [n, c], backend: 'cuda', out: { grad: hg } }), hostOpts).medianMs;
    const bytes = 8 * n * c;
    const cp = copyMs(n * c, reps);
    const torchMs = torch.byKey.get(`ce ${n}x${c}`);
    rows.push({
      workload: `crossEntropy [${n},${c}]`,
      bytes,
      kernelMs: k,
      deviceCallMs: dev,
      hostCallMs: host,
      copyMs: cp,
      ofCopy: cp / k,
      torchMs,
      vsTorch: torchMs && torchMs / k,
    });
    for (const b of [dx, dt, dg]) b.dispose();
  }

  // Elementwise losses at 64M elements: read input and target, write the gradient (12 B per element).
  const N = 1 << 26;
  const ex = randomFloats(N, 3, -4, 4);
  const bits = randomFloats(N, 4, 0, 1).map((v) => (v < 0.5 ? 1 : 0));
  const real = randomFloats(N, 5, -4, 4);
  const dex = fl.DeviceBuffer.from(ex),
    dbits = fl.DeviceBuffer.from(bits),
    dreal = fl.DeviceBuffer.from(real),
    deg = fl.DeviceBuffer.alloc(N);
  const fns = fl as unknown as Record<string, (x: unknown, t: unknown, o: object) => unknown>;
  for (const [name, dTarget, hTarget] of [
    ['binaryCrossEntropyWithLogits', dbits, bits],
    ['huberLoss', dreal, real],
    ['mseLoss', dreal, real],
  ] as [string, DeviceBuffer, Float32Array][]) {
    progress(`cuda: ${name} [${N}]`);
    const f = fns[name];
    const devOpts = { shape: [N], out: { grad: deg } };
    const k = kernelMs(() => f(dex, dTarget, devOpts), reps);
    const dev = time(() => f(dex, dTarget, devOpts), hostOpts).medianMs;
    const hg = new Float32Array(N);
    const host = time(() => f(ex, hTarget, { shape: [N], backend: 'cuda', out: { grad: hg } }), hostOpts).medianMs;
    const cp = copyMs(Math.round(N * 1.5), reps); // 12 B per element = a copy of 1.5 floats per element
    const torchMs = torch.byKey.get(`${name} ${N}`);
    rows.push({
      workload: `${name} [${N}]`,
      bytes: 12 * N,
      kernelMs: k,
      deviceCallMs: dev,
      hostCallMs: host,
      copyMs: cp,
      ofCopy: cp / k,
      torchMs,
      vsTorch: torchMs && torchMs / k,
    });
  }
  for (const b of [dex, dbits, dreal, deg]) b.dispose();

  // The 10-task MultiTaskLoss of bench/multiTask.bench.ts at batch 4096, its row-loss head (no CUDA build)
  // replaced by BCE-with-logits on the same 0/1 targets.
  progress('cuda: MultiTaskLoss 10 tasks');
  const heads = TEN.map((h) => (h.loss === 'multilabelSoftMarginLoss' ? { ...h, loss: 'binaryCrossEntropyWithLogits' } : h));
  const hs = headSet(heads, 4096);
  const devBatch: Record<string, object> = {};
  const held: DeviceBuffer[] = [];
  let bytes = 0;
  for (const [name, b] of Object.entries(hs.batch)) {
    const input = fl.DeviceBuffer.from(b.input),
      target = fl.DeviceBuffer.from(b.target as Float32Array),
      grad = fl.DeviceBuffer.alloc(b.input.length);
    held.push(input, target, grad);
    devBatch[name] = { input, target, shape: b.shape, out: { grad } };
    bytes += 8 * b.input.length + (b.target.length === b.input.length ? 4 * b.input.length : 4 * b.target.length);
  }
  const cfg = { ...hs.config('native'), backend: 'cuda' as const };
  const mtl = new fl.MultiTaskLoss(cfg);
  const k = kernelMs(() => mtl.compute(devBatch as never), reps);
  const dev = time(() => mtl.compute(devBatch as never), hostOpts).medianMs;
  const host = time(() => mtl.compute(hs.batch), hostOpts).medianMs;
  const cpu = new fl.MultiTaskLoss(hs.config('native'));
  const cpuMs = time(() => cpu.compute(hs.batch), hostOpts).medianMs;
  const cp = copyMs(Math.round(bytes / 8), reps);
  rows.push({
    workload: `MultiTaskLoss 10 tasks, batch 4096 (CPU ${fl.getNumThreads()} thr: ${fmt(cpuMs)} ms)`,
    bytes,
    kernelMs: k,
    deviceCallMs: dev,
    hostCallMs: host,
    copyMs: cp,
    ofCopy: cp / k,
  });
  for (const b of held) b.dispose();

  const table = makeTable(
    ['workload', 'kernel ms', 'call on DeviceBuffers ms', 'call on host arrays ms', 'GB/s', '% of D2D copy', 'torch ms', '× torch'],
    rows.map((r) => [
      r.workload,
      r.kernelMs,
      r.deviceCallMs,
      r.hostCallMs,
      r.bytes / (r.kernelMs * 1e6),
      `${(100 * r.ofCopy).toFixed(1)}%`,
      r.torchMs ?? '—',
      r.vsTorch ? `${fmt(r.vsTorch)}×` : '—',
    ]),
  );
  return { device, rows, table, torch: torch.version ?? torch.note };
}
