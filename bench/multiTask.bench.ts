// MultiTaskLoss: the fused step (one native call, every task's chunks on the pool together) against the
// same losses called one by one natively (with the same weights as gradScale) and against the reference.
// Head sets at batch 4096: 3 tasks (CE over 1000 classes + BCE over 100 labels + Huber over 8 outputs)
// and 10 tasks (those three plus seven smaller heads); and the per-call overhead with 3 small tasks at
// batch 32.
import type * as Fuseloss from '../src/index';
import { fl } from './pkg';
import { type Args, fmt, lcg, progress, scaled, makeTable, type Table, time, type Timing } from './harness';

interface Head {
  name: string;
  loss: string;
  c: number;
  options?: Record<string, unknown>;
  target: 'ids' | 'bits' | 'real' | 'counts';
}

const THREE: Head[] = [
  { name: 'species', loss: 'crossEntropy', c: 1000, options: { labelSmoothing: 0.1 }, target: 'ids' },
  { name: 'tags', loss: 'binaryCrossEntropyWithLogits', c: 100, target: 'bits' },
  { name: 'mass', loss: 'huberLoss', c: 8, options: { delta: 1 }, target: 'real' },
];
export const TEN: Head[] = [
  ...THREE,
  { name: 'genus', loss: 'crossEntropy', c: 100, target: 'ids' },
  { name: 'sex', loss: 'crossEntropy', c: 3, target: 'ids' },
  { name: 'attributes', loss: 'multilabelSoftMarginLoss', c: 40, target: 'bits' },
  { name: 'detect', loss: 'sigmoidFocalLoss', c: 20, target: 'bits' },
  { name: 'depth', loss: 'mseLoss', c: 16, target: 'real' },
  { name: 'box', loss: 'smoothL1Loss', c: 4, target: 'real' },
  { name: 'count', loss: 'poissonNllLoss', c: 1, target: 'counts' },
];

// Ten small heads (a multi-attribute model): no head dominates, so per-call costs and idle threads matter.
export const TEN_LIGHT: Head[] = [
  { name: 'species', loss: 'crossEntropy', c: 10, target: 'ids' },
  { name: 'sex', loss: 'crossEntropy', c: 3, target: 'ids' },
  { name: 'tags', loss: 'binaryCrossEntropyWithLogits', c: 40, target: 'bits' },
  { name: 'mass', loss: 'huberLoss', c: 8, options: { delta: 1 }, target: 'real' },
  { name: 'depth', loss: 'mseLoss', c: 16, target: 'real' },
  { name: 'box', loss: 'smoothL1Loss', c: 4, target: 'real' },
  { name: 'count', loss: 'poissonNllLoss', c: 1, target: 'counts' },
  { name: 'detect', loss: 'sigmoidFocalLoss', c: 20, target: 'bits' },
  { name: 'attributes', loss: 'multilabelSoftMarginLoss', c: 40, target: 'bits' },
  { name: 'offset', loss: 'l1Loss', c: 8, target: 'real' },
];

export function headSet(heads: Head[], n: number) {
  const rand = lcg(99 + heads.length);
  const batch: Record<string, Fuseloss.TaskBatch & { input: Float32Array; target: Float32Array | Int32Array }> = {};
  const grads: Record<string, Float32Array> = {};
  for (const h of heads) {
    const k = n * h.c;
    const input = Float32Array.from({ length: k }, () => (rand() - 0.5) * 6);
    const target =
      h.target === 'ids'
        ? Int32Array.from({ length: n }, () => Math.floor(rand() * h.c))
        : h.target === 'bits'
          ? Float32Array.from({ length: k }, () => (rand() < 0.3 ? 1 : 0))
          : h.target === 'counts'
            ? Float32Array.from({ length: k }, () => Math.floor(rand() * 5))
            : Float32Array.from({ length: k }, () => (rand() - 0.5) * 4);
    grads[h.name] = new Float32Array(k);
    batch[h.name] = { input, target, shape: [n, h.c], out: { grad: grads[h.name] } };
  }
  const tasks = Object.fromEntries(heads.map((h) => [h.name, { loss: h.loss, ...h.options }]));
  const weights = heads.map((_, i) => 0.5 + i / heads.length);
  const config = (backend: 'native' | 'reference'): Fuseloss.MultiTaskConfig => ({
    tasks,
    weighting: { strategy: 'static', weights },
    backend,
  });
  const fns = fl as unknown as Record<string, (x: Float32Array, t: unknown, o: Record<string, unknown>) => unknown>;
  // The same losses called one at a time, each with its weight as gradScale (what a user does without
  // MultiTaskLoss). Options objects are built once, outside the timed loop.
  const calls = heads.map((h, i) => {
    const b = batch[h.name];
    const options = {
      ...h.options,
      ...(h.loss === 'sigmoidFocalLoss' ? { reduction: 'mean' } : {}),
      shape: b.shape,
      gradScale: weights[i],
      out: { grad: grads[h.name] },
    };
    return [fns[h.loss], b.input, b.target, options] as const;
  });
  const oneByOne = () => {
    for (const [f, x, t, o] of calls) f(x, t, o);
  };
  return { batch, config, oneByOne, elems: heads.reduce((s, h) => s + n * h.c, 0) };
}

export interface MultiTaskRow {
  set: string;
  impl: string;
  threads: number;
  timing: Timing;
  usPerCall: number;
  vsOneByOne: number;
  vsReference: number;
}

export function run(args: Args): { rows: MultiTaskRow[]; table: Table } {
  const all = fl.getNumThreads();
  const threadSet = args.threads ?? [...new Set([1, all])];
  const samples = args.quick ? 3 : 9;
  const rows: MultiTaskRow[] = [];
  const big = scaled(args, 4096),
    small = scaled(args, 32);
  const sets: [string, Head[], number][] = [
    [`3 tasks, batch ${big}`, THREE, big],
    [`10 tasks, batch ${big}`, TEN, big],
    [`10 light tasks, batch ${big}`, TEN_LIGHT, big],
    [
      `3 small tasks, batch ${small}`,
      [
        { name: 'species', loss: 'crossEntropy', c: 10, options: { labelSmoothing: 0.1 }, target: 'ids' },
        { name: 'sex', loss: 'binaryCrossEntropyWithLogits', c: 5, target: 'bits' },
        { name: 'mass', loss: 'huberLoss', c: 3, options: { delta: 1 }, target: 'real' },
      ],
      small,
    ],
  ];
  for (const [label, heads, n] of sets) {
    if (args.filter && !`multiTask ${label}`.includes(args.filter)) continue;
    const hs = headSet(heads, n);
    const big = n > 1000;
    progress(`multiTask ${label}: reference`);
    const refMtl = new fl.MultiTaskLoss(hs.config('reference'));
    const ref = time(() => refMtl.compute(hs.batch), { samples: args.quick ? 1 : 3, minSampleMs: big ? 0 : 20, warmupMs: big ? 0 : 50 });
    const mtl = new fl.MultiTaskLoss(hs.config('native'));
    const add = (impl: string, threads: number, timing: Timing, oneByOne?: Timing) =>
      rows.push({
        set: label,
        impl,
        threads,
        timing,
        usPerCall: timing.medianMs * 1000,
        vsOneByOne: oneByOne ? oneByOne.medianMs / timing.medianMs : NaN,
        vsReference: ref.medianMs / timing.medianMs,
      });
    add('reference (TS), task by task', 1, ref);
    for (const t of threadSet) {
      fl.setNumThreads(t);
      progress(`multiTask ${label}: ${t} thread(s)`);
      // Interleave the two so drift in machine state affects both alike.
      const a1 = time(hs.oneByOne, { samples });
      const f1 = time(() => mtl.compute(hs.batch), { samples });
      const a2 = time(hs.oneByOne, { samples });
      const f2 = time(() => mtl.compute(hs.batch), { samples });
      const best = (x: Timing, y: Timing) => (x.medianMs <= y.medianMs ? x : y);
      const one = best(a1, a2),
        fused = best(f1, f2);
      add('native, one by one', t, one);
      add('native, fused compute', t, fused, one);
    }
  }
  fl.setNumThreads(all);
  progress('');
  const tab = makeTable(
    ['head set', 'impl', 'thr', 'µs / step', 'spread (ms)', '× one-by-one', '× reference'],
    rows.map((r) => [
      r.set,
      r.impl,
      String(r.threads),
      r.usPerCall,
      `${fmt(r.timing.minMs)}–${fmt(r.timing.maxMs)}`,
      Number.isNaN(r.vsOneByOne) ? '—' : `${fmt(r.vsOneByOne)}×`,
      `${fmt(r.vsReference)}×`,
    ]),
  );
  return { rows, table: tab };
}
