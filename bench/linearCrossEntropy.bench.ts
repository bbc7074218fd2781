// Fused linear heads: linearCrossEntropy (the logits never materialised) against the unfused path on the
// project's own kernels (linearForward + crossEntropy in place + linearBackward) and against PyTorch CPU
// (F.linear + F.cross_entropy + backward(), the head a PyTorch user writes), same data and threads.
// Memory: each variant runs once in a fresh Node process over the built package (dist/), inputs and
// outputs allocated and touched first; "working MB" is that process's peak RSS growth during the call —
// what the call needs beyond its inputs and the returned gradients (the unfused path's logits included).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Args, fmt, makeTable, progress, scaled, type Table, time, type Timing } from './harness';
import { fl } from './pkg';

export interface HeadRow {
  workload: string;
  impl: string;
  threads: number;
  timing: Timing | null;
  /** Peak RSS growth of one call in a fresh process (MB); null when not measured. */
  workingMB: number | null;
  /** The unfused path's time / this one's (fused rows), or PyTorch's time / fuseloss's fused time. */
  ratio: number;
  note?: string;
}

interface Shape {
  n: number;
  h: number;
  c: number;
}

function data({ n, h, c }: Shape) {
  let s = 77;
  const u = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
  return {
    x: Float32Array.from({ length: n * h }, () => u() * 2 - 1),
    w: Float32Array.from({ length: c * h }, () => (u() * 2 - 1) * 0.05),
    b: Float32Array.from({ length: c }, () => (u() * 2 - 1) * 0.1),
    y: Int32Array.from({ length: n }, () => Math.floor(u() * c)),
  };
}

// One call of a variant in this process (x, W, b, y and the gradient outputs preallocated by the caller).
function step(
  variant: 'fused' | 'unfused',
  d: ReturnType<typeof data>,
  { n, h, c }: Shape,
  out: { gi: Float32Array; gw: Float32Array; gb: Float32Array },
  logits?: Float32Array,
) {
  if (variant === 'fused')
    return fl.linearCrossEntropy(d.x, d.w, d.y, {
      shape: [n, h],
      linearBias: d.b,
      out: { gradInput: out.gi, gradLinearWeight: out.gw, gradLinearBias: out.gb },
    }).loss;
  const s = { batch: n, inFeatures: h, outFeatures: c };
  const z = fl.linearForward(d.x, d.w, d.b, { ...s, out: logits ? { output: logits } : undefined }).output;
  const loss = fl.crossEntropy(z, d.y, { shape: [n, c], inplace: true }).loss;
  fl.linearBackward(d.x, z, d.w, { ...s, out: { gradWeight: out.gw, gradBias: out.gb, gradInput: out.gi } });
  return loss;
}

// The peak RSS growth (MB) of one call of `variant` in a fresh Node process over dist/.
export function workingMB(variant: 'fused' | 'unfused', shape: Shape, threads: number): number | null {
  // The peak is Linux's VmHWM, reset just before the call (writing 5 to /proc/self/clear_refs), so garbage
  // left by the set-up cannot hide the call's own peak; where that is refused, maxRSS against the RSS before.
  const script = `
    const fs = require('node:fs');
    const fl = require(process.env.FL_DIST);
    fl.setNumThreads(${threads});
    const { n, h, c } = ${JSON.stringify(shape)};
    let s = 77; const u = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
    const fill = (a, f) => { for (let i = 0; i < a.length; i++) a[i] = f(); return a; };
    const x = fill(new Float32Array(n * h), () => u() * 2 - 1), w = fill(new Float32Array(c * h), () => (u() * 2 - 1) * 0.05);
    const b = fill(new Float32Array(c), () => (u() * 2 - 1) * 0.1), y = fill(new Int32Array(n), () => Math.floor(u() * c));
    const gi = new Float32Array(n * h).fill(0), gw = new Float32Array(c * h).fill(0), gb = new Float32Array(c).fill(0);
    const hwm = () => { const m = /VmHWM:\\s+(\\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8')); return m ? Number(m[1]) * 1024 : NaN; };
    let reset = false;
    try { fs.writeFileSync('/proc/self/clear_refs', '5'); reset = true; } catch {}
    const before = reset ? process.memoryUsage().rss : Math.max(process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024);
    if (${JSON.stringify(variant)} === 'fused') fl.linearCrossEntropy(x, w, y, { shape: [n, h], linearBias: b, out: { gradInput: gi, gradLinearWeight: gw, gradLinearBias: gb } });
    else {
      const z = fl.linearForward(x, w, b, { batch: n, inFeatures: h, outFeatures: c }).output;
      fl.crossEntropy(z, y, { shape: [n, c], inplace: true });
      fl.linearBackward(x, z, w, { batch: n, inFeatures: h, outFeatures: c, out: { gradWeight: gw, gradBias: gb, gradInput: gi } });
    }
    const peak = reset ? hwm() : process.resourceUsage().maxRSS * 1024;
    console.log(JSON.stringify({ mb: (peak - before) / 2 ** 20 }));`;
  const child = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    env: { ...process.env, FL_DIST: join(__dirname, '..', 'dist', 'cjs', 'index.js') },
  });
  if (child.status !== 0) return null;
  return Math.max(0, (JSON.parse(child.stdout) as { mb: number }).mb);
}

// PyTorch CPU on the same data: F.linear + F.cross_entropy + backward() (bench/peers/torch_peer.py).
function torchPeer(
  shape: Shape,
  d: ReturnType<typeof data>,
  threads: number[],
  samples: number,
): { version: string; loss: number; timings: Record<string, { medianMs: number }> } | string {
  const dir = mkdtempSync(join(tmpdir(), 'fuseloss-heads-'));
  try {
    for (const [k, v] of Object.entries({ x: d.x, w: d.w, b: d.b, y: d.y })) writeFileSync(join(dir, `${k}.bin`), Buffer.from(v.buffer));
    writeFileSync(
      join(dir, 'spec.json'),
      JSON.stringify([
        {
          loss: 'linearCrossEntropy',
          shape: [shape.n, shape.h],
          classes: shape.c,
          input: join(dir, 'x.bin'),
          weight: join(dir, 'w.bin'),
          bias: join(dir, 'b.bin'),
          target: join(dir, 'y.bin'),
          threads,
          samples,
        },
      ]),
    );
    const child = spawnSync('/usr/bin/python3', [join(__dirname, 'peers', 'torch_peer.py'), join(dir, 'spec.json')], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    });
    if (child.error || child.status !== 0) return `skipped (${child.error?.message ?? child.stderr.trim().split('\n').pop()})`;
    const out = JSON.parse(child.stdout) as { torch: string; cases: { loss: number; timings: Record<string, { medianMs: number }> }[] };
    return { version: out.torch, ...out.cases[0] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function run(args: Args): { rows: HeadRow[]; table: Table | null; torch: string | null } {
  if (args.filter && !'fused heads linearCrossEntropy'.includes(args.filter)) return { rows: [], table: null, torch: null };
  const all = fl.getNumThreads();
  const threads = args.threads ?? [...new Set([1, Math.min(2, all), all])];
  const samples = args.quick ? 2 : 5;
  const shapes: Shape[] = [
    { n: scaled(args, 2048), h: 512, c: args.scale < 1 ? 1000 : 32000 },
    { n: scaled(args, 4096), h: 768, c: 1000 },
  ];
  const rows: HeadRow[] = [];
  let torchVersion: string | null = null;
  try {
    for (const shape of shapes) {
      const { n, h, c } = shape;
      const name = `[${n}, ${h} → ${c}]`;
      const d = data(shape);
      const out = { gi: new Float32Array(n * h), gw: new Float32Array(c * h), gb: new Float32Array(c) };
      const logits = new Float32Array(n * c);
      const mem = { fused: args.quick ? null : workingMB('fused', shape, 1), unfused: args.quick ? null : workingMB('unfused', shape, 1) };
      // PyTorch 1.13's generic BLAS takes ~45 s per step at the large-vocabulary shape on one thread: there
      // it is timed once, on all threads (its first step is the warm-up); elsewhere like the other rows.
      const big = c >= 10000;
      const peerThreads = big ? [all] : threads;
      const peer = args.quick ? 'skipped with --quick' : torchPeer(shape, d, peerThreads, big ? 1 : Math.min(samples, 3));
      const fusedLoss = step('fused', d, shape, out);
      const torchOk =
        typeof peer !== 'string' && Math.abs(peer.loss - (fusedLoss as number)) <= 1e-4 * Math.max(1, Math.abs(fusedLoss as number));
      if (typeof peer !== 'string') torchVersion = peer.version;
      for (const t of threads) {
        fl.setNumThreads(t);
        progress(`fused heads ${name}: ${t} thread(s)`);
        const un = time(() => step('unfused', d, shape, out, logits), { samples, warmupMs: 0, minSampleMs: 0 });
        const fu = time(() => step('fused', d, shape, out), { samples, warmupMs: 0, minSampleMs: 0 });
        rows.push({
          workload: name,
          impl: 'unfused: linearForward + crossEntropy (in place) + linearBackward',
          threads: t,
          timing: un,
          workingMB: t === 1 ? mem.unfused : null,
          ratio: 1,
        });
        rows.push({
          workload: name,
          impl: 'fused: linearCrossEntropy',
          threads: t,
          timing: fu,
          workingMB: t === 1 ? mem.fused : null,
          ratio: un.minMs / fu.minMs,
        });
        if (typeof peer !== 'string' && !peerThreads.includes(t)) continue;
        if (typeof peer === 'string')
          rows.push({
            workload: name,
            impl: 'PyTorch: F.linear + F.cross_entropy + backward()',
            threads: t,
            timing: null,
            workingMB: null,
            ratio: NaN,
            note: peer,
          });
        else {
          const tt = peer.timings[String(t)];
          rows.push({
            workload: name,
            impl: `PyTorch ${peer.version}: F.linear + F.cross_entropy + backward()`,
            threads: t,
            timing: torchOk ? { medianMs: tt.medianMs, minMs: tt.medianMs, maxMs: tt.medianMs, samplesMs: [] } : null,
            workingMB: null,
            ratio: torchOk ? tt.medianMs / fu.medianMs : NaN,
            note: torchOk ? undefined : `loss mismatch: torch ${peer.loss}, fuseloss ${fusedLoss}`,
          });
        }
      }
    }
  } finally {
    fl.setNumThreads(all);
    progress('');
  }
  const table = makeTable(
    [
      'workload [N, H → C]',
      'implementation',
      'thr',
      'best ms',
      'median ms',
      'working MB (1 thr)',
      '× fused is faster (that time / fused time)',
    ],
    rows.map((r) => [
      r.workload,
      r.impl,
      String(r.threads),
      r.timing ? r.timing.minMs : '—',
      r.timing ? r.timing.medianMs : '—',
      r.workingMB === null ? '—' : fmt(r.workingMB),
      r.impl.startsWith('unfused') ? '1×' : Number.isFinite(r.ratio) ? `${fmt(r.ratio)}×` : (r.note ?? '—'),
    ]),
  );
  return { rows, table, torch: torchVersion };
}
