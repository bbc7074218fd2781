// MultiTaskLoss: every task's loss and weighted gradient equal the catalogue's one-task-at-a-time results
// bit for bit (native and reference), the weighting strategies follow hand-computed sequences, state
// round-trips resume identically, and bad configurations and batches fail before anything is written.
import { afterAll, describe, expect, it, vi } from 'vitest';
import * as fl from '../../src/index';
import { native } from '../../src/backends/binding';
import { type MultiTaskConfig, MultiTaskLoss, type TaskBatch } from '../../src/index';
import { Rng } from '../../src/core/random';
import { expectClose, expectSameBits, rng } from '../helpers';

type Single = (
  input: Float32Array,
  target: never,
  options: Record<string, unknown>,
) => { loss: unknown; grad: Float32Array; grad2?: Float32Array };

interface Case {
  loss: string;
  /** Task config options (beside `loss`). */
  options: Record<string, unknown>;
  /** A batch entry for batch size n. */
  data(n: number, seed: number): TaskBatch & { input: Float32Array };
  single(batch: TaskBatch, options: Record<string, unknown>): ReturnType<Single>;
}

const fns = fl as unknown as Record<
  string,
  Single & ((a: Float32Array, b: Float32Array, t: never, o: Record<string, unknown>) => ReturnType<Single>)
>;
const uniform = (n: number, lo: number, hi: number, seed: number) => {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r.next());
};
const signs = (n: number, seed: number) => {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r.next() < 0.5 ? -1 : 1));
};
const bits01 = (n: number, seed: number) => {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r.next() < 0.4 ? 1 : 0));
};
const ids = (n: number, c: number, seed: number) => {
  const r = rng(seed);
  return Int32Array.from({ length: n }, () => r.int(0, c));
};

function simple(
  loss: string,
  c: number,
  options: Record<string, unknown>,
  input: (k: number, s: number) => Float32Array,
  target: (k: number, s: number) => Float32Array,
): Case {
  return {
    loss,
    options,
    data: (n, seed) => ({ input: input(n * c, seed), target: target(n * c, seed + 1), shape: [n, c] }),
    single: (b, o) => fns[loss](b.input as Float32Array, b.target as never, { ...o, shape: b.shape }),
  };
}

// One case per loss of the catalogue, with non-default options where the loss has them.
const CASES: Case[] = [
  {
    loss: 'crossEntropy',
    options: { labelSmoothing: 0.1, ignoreIndex: 3 },
    data: (n, s) => ({ input: rng(s).floats(n * 37, 2), target: ids(n, 37, s + 1), shape: [n, 37] }),
    single: (b, o) => fns.crossEntropy(b.input as Float32Array, b.target as never, { ...o, shape: b.shape }),
  },
  {
    loss: 'nllLoss',
    options: { weight: uniform(9, 0.5, 2, 9) },
    data: (n, s) => ({ input: rng(s).floats(n * 9, 1), target: ids(n, 9, s + 1), shape: [n, 9] }),
    single: (b, o) => fns.nllLoss(b.input as Float32Array, b.target as never, { ...o, shape: b.shape }),
  },
  simple(
    'mseLoss',
    5,
    {},
    (k, s) => rng(s).floats(k),
    (k, s) => rng(s).floats(k),
  ),
  simple(
    'l1Loss',
    5,
    { reduction: 'sum' },
    (k, s) => rng(s).floats(k),
    (k, s) => rng(s).floats(k),
  ),
  simple(
    'smoothL1Loss',
    4,
    { beta: 0.5 },
    (k, s) => rng(s).floats(k, 2),
    (k, s) => rng(s).floats(k),
  ),
  simple(
    'huberLoss',
    8,
    { delta: 1 },
    (k, s) => rng(s).floats(k, 2),
    (k, s) => rng(s).floats(k),
  ),
  simple(
    'binaryCrossEntropy',
    6,
    {},
    (k, s) => uniform(k, 0.02, 0.98, s),
    (k, s) => uniform(k, 0, 1, s),
  ),
  simple('binaryCrossEntropyWithLogits', 100, { posWeight: uniform(100, 0.5, 3, 5) }, (k, s) => rng(s).floats(k, 3), bits01),
  simple('hingeEmbeddingLoss', 3, { margin: 0.7 }, (k, s) => rng(s).floats(k), signs),
  simple(
    'klDiv',
    7,
    { reduction: 'batchmean' },
    (k, s) => uniform(k, -4, -0.1, s),
    (k, s) => uniform(k, 0.01, 1, s),
  ),
  simple(
    'poissonNllLoss',
    4,
    {},
    (k, s) => rng(s).floats(k),
    (k, s) => uniform(k, 0, 5, s),
  ),
  simple('sigmoidFocalLoss', 10, { gamma: 1.5 }, (k, s) => rng(s).floats(k, 2), bits01),
  simple('hingeLoss', 6, {}, (k, s) => rng(s).floats(k, 2), bits01),
  simple('logLoss', 5, { epsilon: 1e-6 }, (k, s) => uniform(k, 0.02, 0.98, s), bits01),
  simple('softMarginLoss', 4, {}, (k, s) => rng(s).floats(k, 2), signs),
  {
    loss: 'multiMarginLoss',
    options: { p: 2, margin: 0.8 },
    data: (n, s) => ({ input: rng(s).floats(n * 11), target: ids(n, 11, s + 1), shape: [n, 11] }),
    single: (b, o) => fns.multiMarginLoss(b.input as Float32Array, b.target as never, { ...o, shape: b.shape }),
  },
  simple('multilabelSoftMarginLoss', 12, {}, (k, s) => rng(s).floats(k, 2), bits01),
  {
    loss: 'cosineEmbeddingLoss',
    options: { margin: 0.2 },
    data: (n, s) => ({ input: rng(s).floats(n * 16), input2: rng(s + 7).floats(n * 16), target: signs(n, s + 1), shape: [n, 16] }),
    single: (b, o) =>
      fns.cosineEmbeddingLoss(b.input as Float32Array, b.input2 as Float32Array, b.target as never, { ...o, shape: b.shape }),
  },
  simple('softF1Loss', 6, {}, (k, s) => rng(s).floats(k, 2), bits01),
  simple(
    'cosineDistance',
    8,
    {},
    (k, s) => rng(s).floats(k),
    (k, s) => rng(s).floats(k, 0.3),
  ),
];

const allTasks = (extra: Record<string, unknown> = {}) =>
  Object.fromEntries(CASES.map((c) => [c.loss, { loss: c.loss, ...c.options, ...extra }])) as MultiTaskConfig['tasks'];
const allBatch = (n: number, seed = 1) => Object.fromEntries(CASES.map((c, i) => [c.loss, c.data(n, seed + 31 * i)]));
const caseOf = (name: string) => CASES.find((c) => c.loss === name)!;
/** Config options as a single loss's options (sigmoidFocalLoss defaults to 'mean' inside a MultiTaskLoss). */
const singleOptions = (c: Case) => ({ ...(c.loss === 'sigmoidFocalLoss' ? { reduction: 'mean' } : {}), ...c.options });

const initialThreads = fl.getNumThreads();
afterAll(() => fl.setNumThreads(initialThreads));

describe('MultiTaskLoss: one native call equals the catalogue one task at a time', () => {
  it('covers every loss of the catalogue', () => {
    expect(CASES.map((c) => c.loss).sort()).toEqual(fl.LOSSES.map((s) => s.name).sort());
  });

  for (const backend of ['native', 'reference'] as const)
    for (const n of [3, 257]) {
      it(`${backend}, batch ${n}: losses and weighted gradients bit for bit (static weights)`, () => {
        const weights = CASES.map((_, i) => 0.25 + 0.5 * i);
        const mtl = new MultiTaskLoss({ tasks: allTasks(), weighting: { strategy: 'static', weights }, backend });
        const batch = allBatch(n);
        const r = mtl.compute(batch);
        expect(r.tasks).toEqual(CASES.map((c) => c.loss));
        expect(r.skipped).toEqual([]);
        let joint = 0;
        CASES.forEach((c, i) => {
          const single = c.single(batch[c.loss], { ...singleOptions(c), gradScale: weights[i], backend });
          expect(Object.is(r.taskLosses[c.loss], single.loss), `${c.loss} loss`).toBe(true);
          expect(r.weights[c.loss]).toBe(weights[i]);
          expectSameBits(r.grads[c.loss], single.grad, `${c.loss} grad`);
          if (single.grad2) expectSameBits(r.grads2[c.loss], single.grad2, `${c.loss} grad2`);
          joint += weights[i] * (single.loss as number);
        });
        expect(r.loss).toBe(joint);
      });
    }

  it('native and reference agree (every loss, every strategy that sets the weights after the pass)', () => {
    for (const strategy of ['equal', 'gls', 'dbmtl', 'famo'] as const) {
      const batch = allBatch(40, 5);
      const [a, b] = (['native', 'reference'] as const).map((backend) =>
        new MultiTaskLoss({ tasks: allTasks(), weighting: { strategy }, backend }).compute(batch),
      );
      expect(a.loss).toBeCloseTo(b.loss, 4);
      for (const c of CASES) {
        expect(a.taskLosses[c.loss]).toBeCloseTo(b.taskLosses[c.loss], 4);
        expect(a.weights[c.loss] / b.weights[c.loss]).toBeCloseTo(1, 5);
        expectClose(a.grads[c.loss], b.grads[c.loss], 1e-4, 1e-5, `${strategy} ${c.loss}`);
      }
    }
  });

  it('makes exactly one native call per step', () => {
    const binding = native();
    const spy = vi.spyOn(binding, 'multiTask');
    const singles = ['crossEntropy', 'elementwiseLoss', 'nllLoss', 'multiMarginLoss', 'softF1Loss'].map((k) =>
      vi.spyOn(binding, k as 'crossEntropy'),
    );
    const mtl = new MultiTaskLoss({ tasks: allTasks() });
    mtl.compute(allBatch(8));
    expect(spy).toHaveBeenCalledTimes(1);
    for (const s of singles) expect(s).not.toHaveBeenCalled();
    spy.mockRestore();
    singles.forEach((s) => s.mockRestore());
  });

  it('loss-dependent weights (gls, dbmtl, famo): gradients are the unweighted ones times wₜ, bit for bit', () => {
    for (const backend of ['native', 'reference'] as const)
      for (const strategy of ['gls', 'dbmtl', 'famo'] as const) {
        const batch = allBatch(33, 9);
        const r = new MultiTaskLoss({ tasks: allTasks(), weighting: { strategy }, backend }).compute(batch);
        for (const c of CASES) {
          const single = c.single(batch[c.loss], { ...singleOptions(c), backend });
          const w = r.weights[c.loss];
          expect(Object.is(r.taskLosses[c.loss], single.loss)).toBe(true);
          expectSameBits(
            r.grads[c.loss],
            single.grad.map((g: number) => Math.fround(g * w)),
            `${backend} ${strategy} ${c.loss}`,
          );
        }
      }
  });

  it('results do not depend on the thread count, and the async form matches the sync one', async () => {
    const batch = allBatch(700, 3);
    const config: MultiTaskConfig = { tasks: allTasks(), weighting: { strategy: 'gls' } };
    const runs = [1, 2, 3].map((t) => {
      fl.setNumThreads(t);
      return new MultiTaskLoss(config).compute(batch);
    });
    fl.setNumThreads(initialThreads);
    const asyncRun = await new MultiTaskLoss(config).computeAsync(batch);
    for (const r of [...runs.slice(1), asyncRun]) {
      expect(r.loss).toBe(runs[0].loss);
      for (const c of CASES) {
        expect(Object.is(r.taskLosses[c.loss], runs[0].taskLosses[c.loss])).toBe(true);
        expectSameBits(r.grads[c.loss], runs[0].grads[c.loss], c.loss);
      }
    }
  });

  it('the large 3-task head set (parallel path) matches one-by-one calls', () => {
    const n = 512;
    const r0 = rng(42);
    const x1 = r0.floats(n * 1000, 2),
      t1 = ids(n, 1000, 1),
      x2 = r0.floats(n * 100, 2),
      t2 = bits01(n * 100, 2),
      x3 = r0.floats(n * 8),
      t3 = r0.floats(n * 8);
    const mtl = new MultiTaskLoss({
      tasks: {
        species: { loss: 'crossEntropy', labelSmoothing: 0.1 },
        sex: { loss: 'binaryCrossEntropyWithLogits' },
        mass: { loss: 'huberLoss', delta: 1 },
      },
      weighting: { strategy: 'uncertainty', init: [0.3, -0.2, 0.1] },
    });
    const r = mtl.compute({
      species: { input: x1, target: t1, shape: [n, 1000] },
      sex: { input: x2, target: t2, shape: [n, 100] },
      mass: { input: x3, target: t3, shape: [n, 8] },
    });
    const w = [0.5 * Math.exp(-0.3), 0.5 * Math.exp(0.2), 0.5 * Math.exp(-0.1)];
    expectSameBits(r.grads.species, fl.crossEntropy(x1, t1, { shape: [n, 1000], labelSmoothing: 0.1, gradScale: w[0] }).grad);
    expectSameBits(r.grads.sex, fl.binaryCrossEntropyWithLogits(x2, t2, { shape: [n, 100], gradScale: w[1] }).grad);
    expectSameBits(r.grads.mass, fl.huberLoss(x3, t3, { shape: [n, 8], delta: 1, gradScale: w[2] }).grad);
  });

  it('preallocated outputs, inplace and the compute gradScale', () => {
    const c = caseOf('mseLoss'),
      d = caseOf('crossEntropy');
    const b1 = c.data(20, 1),
      b2 = d.data(20, 2);
    const out = new Float32Array(b1.input.length);
    const x2 = b2.input.slice();
    const mtl = new MultiTaskLoss({
      tasks: { m: { loss: 'mseLoss' }, ce: { loss: 'crossEntropy', ...d.options } },
      weighting: { strategy: 'static', weights: { m: 2, ce: 3 } },
    });
    const r = mtl.compute({ m: { ...b1, out: { grad: out } }, ce: { ...b2, input: x2, inplace: true } }, { gradScale: 0.5 });
    expect(r.grads.m).toBe(out);
    expect(r.grads.ce).toBe(x2);
    expectSameBits(out, fl.mseLoss(b1.input, b1.target as Float32Array, { shape: b1.shape, gradScale: 2 * 0.5 }).grad);
    expectSameBits(x2, fl.crossEntropy(b2.input, b2.target as Int32Array, { shape: b2.shape, ...d.options, gradScale: 3 * 0.5 }).grad);
  });
});

describe('partial labels', () => {
  const config = (): MultiTaskConfig => ({
    tasks: { a: { loss: 'crossEntropy' }, b: { loss: 'mseLoss' }, c: { loss: 'binaryCrossEntropyWithLogits' } },
    weighting: { strategy: 'static', weights: [1, 2, 3] },
  });
  const data = () => ({
    a: { input: rng(1).floats(12 * 4), target: ids(12, 4, 2), shape: [12, 4] },
    b: { input: rng(3).floats(12 * 3), target: rng(4).floats(12 * 3), shape: [12, 3] },
    c: { input: rng(5).floats(12 * 2), target: bits01(12 * 2, 6), shape: [12, 2] },
  });

  for (const backend of ['native', 'reference'] as const) {
    it(`${backend}: a task missing from the batch contributes nothing; the others' weights stand`, () => {
      const full = new MultiTaskLoss({ ...config(), backend }).compute(data());
      const { a: _a, ...rest } = data();
      const r = new MultiTaskLoss({ ...config(), backend }).compute({ ...rest, a: undefined });
      expect(r.tasks).toEqual(['b', 'c']);
      expect(r.skipped).toEqual(['a']);
      expect(r.grads.a).toBeUndefined();
      expect(r.weights).toEqual({ b: 2, c: 3 });
      expect(r.loss).toBe(2 * full.taskLosses.b + 3 * full.taskLosses.c);
      expectSameBits(r.grads.b, full.grads.b);
    });

    it(`${backend}: a fully masked task (every class id ignored) contributes nothing and gets a zero gradient`, () => {
      const d = data();
      d.a.target.fill(-100);
      const grad = new Float32Array(d.a.input.length).fill(7);
      const r = new MultiTaskLoss({ ...config(), backend }).compute({ ...d, a: { ...d.a, out: { grad } } });
      expect(r.skipped).toEqual(['a']);
      expect(r.taskLosses.a).toBeUndefined();
      expect(grad.every((g) => g === 0)).toBe(true);
      expect(Number.isFinite(r.loss)).toBe(true);
      // gls over the remaining tasks: the masked task takes no part in the geometric mean
      const g = new MultiTaskLoss({ tasks: config().tasks, weighting: { strategy: 'gls' }, backend }).compute(d);
      expect(g.loss).toBeCloseTo(Math.sqrt(g.taskLosses.b * g.taskLosses.c), 12);
      expect(g.weights.a).toBeUndefined();
    });

    it(`${backend}: an empty batch (N = 0) is skipped too`, () => {
      const d = data();
      const r = new MultiTaskLoss({ ...config(), backend }).compute({
        ...d,
        b: { input: new Float32Array(0), target: new Float32Array(0), shape: [0, 3] },
      });
      expect(r.skipped).toEqual(['b']);
      expect(r.grads.b.length).toBe(0);
    });
  }
});

describe('weighting strategies', () => {
  const tasks = { a: { loss: 'mseLoss' }, b: { loss: 'l1Loss' }, c: { loss: 'huberLoss' } } as const;
  // A fixed batch whose task losses are known: input x, target 0 → mse = mean x², l1 = mean |x|.
  const batchFor = (scale: readonly number[]) => ({
    a: { input: Float32Array.from([1, -2, 3, 0.5].map((v) => v * scale[0])), target: new Float32Array(4), shape: [4] },
    b: { input: Float32Array.from([1, -1, 2, 4].map((v) => v * scale[1])), target: new Float32Array(4), shape: [4] },
    c: { input: Float32Array.from([0.25, -0.5, 3, 0].map((v) => v * scale[2])), target: new Float32Array(4), shape: [4] },
  });
  const run = (config: MultiTaskConfig, scale = [1, 1, 1]) => {
    const m = new MultiTaskLoss(config);
    return { m, r: m.compute(batchFor(scale)) };
  };

  it('equal: wₜ = 1, or 1/T with normalize', () => {
    expect(run({ tasks }).r.weights).toEqual({ a: 1, b: 1, c: 1 });
    expect(run({ tasks, weighting: { strategy: 'equal', normalize: true } }).r.weights).toEqual({ a: 1 / 3, b: 1 / 3, c: 1 / 3 });
  });

  it('static: weights in task order or keyed by task', () => {
    expect(run({ tasks, weighting: { strategy: 'static', weights: [0.1, 0, 5] } }).r.weights).toEqual({ a: 0.1, b: 0, c: 5 });
    expect(run({ tasks, weighting: { strategy: 'static', weights: { c: 1, a: 2, b: 3 } } }).r.weights).toEqual({ a: 2, b: 3, c: 1 });
  });

  it('uncertainty: weights ½e^(−s) / e^(−s), dL/ds by finite differences, and the optimizer step', () => {
    const t = { ...tasks, b: { loss: 'l1Loss', uncertainty: 'classification' as const } };
    const s = [0.4, -0.3, 1.2];
    const { m, r } = run({ tasks: t, weighting: { strategy: 'uncertainty', init: s, optimizer: 'sgd', lr: 0.1 } });
    const c = [0.5, 1, 0.5];
    ['a', 'b', 'c'].forEach((k, i) => expect(r.weights[k]).toBeCloseTo(c[i] * Math.exp(-s[i]), 15));
    const joint = (sv: number[]) =>
      new MultiTaskLoss({ tasks: t, weighting: { strategy: 'uncertainty', init: sv } }).compute(batchFor([1, 1, 1])).loss;
    const h = 1e-5;
    ['a', 'b', 'c'].forEach((k, i) => {
      const up = [...s],
        dn = [...s];
      ((up[i] += h), (dn[i] -= h));
      expect(r.logVarGrads![k]).toBeCloseTo((joint(up) - joint(dn)) / (2 * h), 7);
    });
    // joint = Σ cₜe^(−sₜ)Lₜ + ½sₜ
    expect(r.loss).toBeCloseTo(
      ['a', 'b', 'c'].reduce((acc, k, i) => acc + c[i] * Math.exp(-s[i]) * r.taskLosses[k] + 0.5 * s[i], 0),
      12,
    );
    // two computes accumulate; endStep takes s ← s − lr·Σ grad
    const r2 = m.compute(batchFor([1, 1, 1]));
    m.endStep();
    const next = m.state().params.logVars as number[];
    ['a', 'b', 'c'].forEach((k, i) => expect(next[i]).toBeCloseTo(s[i] - 0.1 * (r.logVarGrads![k] + r2.logVarGrads![k]), 14));
  });

  it('uncertainty with Adam: the first step moves each sₜ by lr against its gradient sign', () => {
    const { m, r } = run({ tasks, weighting: { strategy: 'uncertainty', lr: 0.01 } });
    m.endStep();
    const s = m.state().params.logVars as number[];
    ['a', 'b', 'c'].forEach((k, i) => {
      const g = r.logVarGrads![k];
      expect(s[i]).toBeCloseTo((-0.01 * g) / (Math.abs(g) + 1e-8), 10);
    });
  });

  it('dwa: ones for two epochs, then T·softmax(rₜ/τ) from the epoch averages', () => {
    const m = new MultiTaskLoss({ tasks, weighting: { strategy: 'dwa' } });
    const epochs = [
      [
        [1, 1, 1],
        [2, 2, 2],
      ],
      [
        [1, 0.5, 2],
        [1, 0.5, 2],
      ],
      [
        [0.5, 0.5, 1],
        [0.5, 0.25, 1],
      ],
      [[1, 1, 1]],
    ];
    const avg: number[][] = [];
    const expected: number[][] = [];
    for (const [e, steps] of epochs.entries()) {
      let want = [1, 1, 1];
      if (e >= 2) {
        const r = [0, 1, 2].map((i) => avg[e - 1][i] / avg[e - 2][i]);
        const ex = r.map((v) => Math.exp(v / 2));
        const z = ex.reduce((x, y) => x + y, 0);
        want = ex.map((v) => (3 * v) / z);
      }
      expected.push(want);
      const sums = [0, 0, 0];
      for (const scale of steps) {
        const r = m.compute(batchFor(scale));
        ['a', 'b', 'c'].forEach((k, i) => {
          expect(r.weights[k]).toBeCloseTo(want[i], 14);
          sums[i] += r.taskLosses[k];
        });
        m.endStep();
      }
      avg.push(sums.map((s) => s / steps.length));
      m.endEpoch();
    }
    expect(expected[3].some((w) => Math.abs(w - 1) > 0.05)).toBe(true);
    expect(m.epoch).toBe(4);
  });

  it('rlw: softmax of seeded normal draws, new each step, reproducible from the seed', () => {
    const seq = (seed: number) => {
      const m = new MultiTaskLoss({ tasks, weighting: { strategy: 'rlw', seed } });
      return Array.from({ length: 6 }, () => {
        const r = m.compute(batchFor([1, 1, 1]));
        m.endStep();
        return ['a', 'b', 'c'].map((k) => r.weights[k]);
      });
    };
    const a = seq(7),
      b = seq(7),
      c = seq(8);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    for (const w of a) expect(w.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 14);
    expect(new Set(a.map((w) => w.join())).size).toBe(6);
    // the draws are standard normal: check the generator's moments over many draws
    const rg = new Rng(123);
    const xs = Array.from({ length: 20000 }, () => rg.normal());
    const mean = xs.reduce((x, y) => x + y, 0) / xs.length;
    const variance = xs.reduce((x, y) => x + (y - mean) ** 2, 0) / xs.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });

  it('gls: joint = (Π Lₜ)^(1/T), wₜ = L/(T·Lₜ)', () => {
    const { r } = run({ tasks, weighting: { strategy: 'gls' } });
    const L = ['a', 'b', 'c'].map((k) => r.taskLosses[k]);
    const G = Math.cbrt(L[0] * L[1] * L[2]);
    expect(r.loss).toBeCloseTo(G, 14);
    ['a', 'b', 'c'].forEach((k, i) => expect(r.weights[k]).toBeCloseTo(G / (3 * L[i]), 14));
  });

  it('gradnorm: the weight update on a fixed input (SGD), renormalised to Σ w = T', () => {
    const m = new MultiTaskLoss({ tasks, weighting: { strategy: 'gradnorm', optimizer: 'sgd', lr: 0.1 } });
    const r0 = m.compute(batchFor([1, 1, 1]));
    const L0 = ['a', 'b', 'c'].map((k) => r0.taskLosses[k]);
    const norms = { a: 2, b: 1, c: 0.5 };
    m.endStep({ gradNorms: norms });
    // Step 1 at L = L0: r = 1, target = mean(G) = (2 + 1 + 0.5)/3; w = 1 − 0.1·sign(G − target)·‖∇L‖
    let w = [1 - 0.1 * 2, 1 + 0.1 * 1, 1 + 0.1 * 0.5];
    let s = w[0] + w[1] + w[2];
    w = w.map((v) => (3 * v) / s);
    expect(m.currentWeights()!.a).toBeCloseTo(w[0], 14);
    expect(m.currentWeights()!.b).toBeCloseTo(w[1], 14);
    // Step 2: losses change (scale task a by 0.5 → its loss ×0.25), so the relative rates differ
    const r1 = m.compute(batchFor([0.5, 1, 1]));
    ['a', 'b', 'c'].forEach((k, i) => expect(r1.weights[k]).toBeCloseTo(w[i], 14));
    m.endStep({ gradNorms: norms });
    const L1 = ['a', 'b', 'c'].map((k) => r1.taskLosses[k]);
    const rel = L1.map((l, i) => l / L0[i]);
    const relMean = (rel[0] + rel[1] + rel[2]) / 3;
    const G = [w[0] * 2, w[1] * 1, w[2] * 0.5];
    const Gbar = (G[0] + G[1] + G[2]) / 3;
    const nv = [2, 1, 0.5];
    w = w.map((v, i) => v - 0.1 * Math.sign(G[i] - Gbar * (rel[i] / relMean) ** 1.5) * nv[i]);
    s = w[0] + w[1] + w[2];
    w = w.map((v) => (3 * v) / s);
    const cw = m.currentWeights()!;
    ['a', 'b', 'c'].forEach((k, i) => expect(cw[k]).toBeCloseTo(w[i], 14));
    expect(() => m.endStep()).toThrow(/gradNorms/);
  });

  it('famo: wₜ = zₜ/((Lₜ − mₜ + ε)·c), and the logits update from the losses after the step', () => {
    const m = new MultiTaskLoss({ tasks, weighting: { strategy: 'famo', optimizer: 'sgd', lr: 0.5, gamma: 0 } });
    const r = m.compute(batchFor([1, 1, 1]));
    const L = ['a', 'b', 'c'].map((k) => r.taskLosses[k]);
    const inv = L.map((l) => 1 / 3 / (l + 1e-8));
    const c = inv[0] + inv[1] + inv[2];
    ['a', 'b', 'c'].forEach((k, i) => expect(r.weights[k]).toBeCloseTo(inv[i] / c, 14));
    expect(r.loss).toBeCloseTo(L.reduce((acc, l) => acc + (1 / 3) * Math.log(l + 1e-8), 0) / c, 13);
    const after = { a: L[0] * 0.5, b: L[1], c: L[2] * 2 };
    m.endStep({ lossesAfter: after });
    const delta = [Math.log(2), 0, -Math.log(2)].map((d, i) => Math.log(L[i] + 1e-8) - Math.log([after.a, after.b, after.c][i] + 1e-8));
    expect(delta[0]).toBeCloseTo(Math.log(2), 6);
    const mean = (delta[0] + delta[1] + delta[2]) / 3;
    const xi = delta.map((d) => -0.5 * (1 / 3) * (d - mean));
    const got = m.state().params.logits as number[];
    xi.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 14));
    // the task whose loss fell fastest gets less weight next step
    const z = xi.map(Math.exp);
    expect(z[0]).toBeLessThan(z[2]);
    expect(() => m.endStep()).toThrow(/lossesAfter/);
  });

  it('dbmtl: joint = Σ log(Lₜ + ε), wₜ = 1/(Lₜ + ε)', () => {
    const { r } = run({ tasks, weighting: { strategy: 'dbmtl' } });
    const L = ['a', 'b', 'c'].map((k) => r.taskLosses[k]);
    expect(r.loss).toBeCloseTo(
      L.reduce((acc, l) => acc + Math.log(l + 1e-8), 0),
      14,
    );
    ['a', 'b', 'c'].forEach((k, i) => expect(r.weights[k]).toBeCloseTo(1 / (L[i] + 1e-8), 12));
  });
});

describe('state() / fromState()', () => {
  const tasks = { a: { loss: 'crossEntropy' }, b: { loss: 'mseLoss' } } as const;
  const step = (m: MultiTaskLoss, k: number) => {
    const r = m.compute({
      a: { input: rng(k).floats(6 * 5, 2), target: ids(6, 5, k + 1), shape: [6, 5] },
      b: { input: rng(k + 2).floats(6 * 2), target: rng(k + 3).floats(6 * 2), shape: [6, 2] },
    });
    const info = {
      gradNorms: { a: 1 + (k % 3), b: 0.5 },
      lossesAfter: { a: r.taskLosses.a * 0.9, b: r.taskLosses.b * (k % 2 ? 1.1 : 0.8) },
    };
    m.endStep({
      gradNorms: m.strategyNeeds.gradNorms ? info.gradNorms : undefined,
      lossesAfter: m.strategyNeeds.lossesAfterUpdate ? info.lossesAfter : undefined,
    });
    if (k % 3 === 2) m.endEpoch();
    return [r.loss, r.weights.a, r.weights.b];
  };
  for (const strategy of fl.STRATEGIES) {
    it(`${strategy}: a JSON round trip resumes identically`, () => {
      const config: MultiTaskConfig = { tasks, weighting: strategy === 'static' ? { strategy, weights: [1, 2] } : { strategy } };
      const m = new MultiTaskLoss(config);
      for (let k = 0; k < 7; k++) step(m, k);
      const saved = JSON.parse(JSON.stringify(m.state()));
      const resumed = MultiTaskLoss.fromState(config, saved);
      expect(resumed.step).toBe(7);
      expect(resumed.epoch).toBe(m.epoch);
      for (let k = 7; k < 14; k++) expect(step(resumed, k)).toEqual(step(m, k));
      expect(resumed.state()).toEqual(m.state());
    });
  }

  it('refuses a state of another strategy or task set', () => {
    const m = new MultiTaskLoss({ tasks, weighting: { strategy: 'dwa' } });
    const s = m.state();
    expect(() => MultiTaskLoss.fromState({ tasks, weighting: { strategy: 'rlw' } }, s)).toThrow(/'dwa' strategy/);
    expect(() => MultiTaskLoss.fromState({ tasks: { a: tasks.a }, weighting: { strategy: 'dwa' } }, s)).toThrow(/tasks/);
    expect(() => MultiTaskLoss.fromState({ tasks, weighting: { strategy: 'dwa' } }, { ...s, version: 2 as 1 })).toThrow(TypeError);
    expect(() =>
      MultiTaskLoss.fromState({ tasks, weighting: { strategy: 'dwa' } }, { ...s, params: { ...s.params, history: 'x' } }),
    ).toThrow(/history/);
  });
});

describe('bad configuration and batches: clear errors, nothing computed', () => {
  const ok = { a: { loss: 'crossEntropy' }, b: { loss: 'mseLoss' } };
  const cases: [string, () => unknown, RegExp, typeof TypeError | typeof RangeError][] = [
    ['unknown loss', () => new MultiTaskLoss({ tasks: { a: { loss: 'crossEntropyy' } } }), /tasks\.a\.loss/, TypeError],
    [
      'unknown strategy',
      () => new MultiTaskLoss({ tasks: ok, weighting: { strategy: 'magic' as 'equal' } }),
      /weighting\.strategy/,
      TypeError,
    ],
    ['no tasks', () => new MultiTaskLoss({ tasks: {} }), /tasks/, TypeError],
    [
      'unknown loss option',
      () => new MultiTaskLoss({ tasks: { a: { loss: 'mseLoss', delta: 1 } } }),
      /Unknown option 'delta' for tasks\.a/,
      TypeError,
    ],
    [
      'bad option value',
      () => new MultiTaskLoss({ tasks: { a: { loss: 'crossEntropy', labelSmoothing: 2 } } }),
      /tasks\.a: .*labelSmoothing/,
      RangeError,
    ],
    ['reduction none', () => new MultiTaskLoss({ tasks: { a: { loss: 'mseLoss', reduction: 'none' } } }), /no scalar loss/, TypeError],
    [
      'per-batch option in config',
      () => new MultiTaskLoss({ tasks: { a: { loss: 'mseLoss', shape: [2, 2] } } }),
      /belongs to a step's data/,
      TypeError,
    ],
    [
      'unknown strategy option',
      () => new MultiTaskLoss({ tasks: ok, weighting: { strategy: 'equal', temperature: 2 } }),
      /Unknown option 'temperature'/,
      TypeError,
    ],
    ['static without weights', () => new MultiTaskLoss({ tasks: ok, weighting: { strategy: 'static' } }), /weights/, TypeError],
    [
      'static weights of the wrong length',
      () => new MultiTaskLoss({ tasks: ok, weighting: { strategy: 'static', weights: [1] } }),
      /2 numbers/,
      RangeError,
    ],
    [
      'negative static weight',
      () => new MultiTaskLoss({ tasks: ok, weighting: { strategy: 'static', weights: [1, -1] } }),
      /weighting\.weights\.b/,
      RangeError,
    ],
    [
      'static weight missing a task',
      () => new MultiTaskLoss({ tasks: ok, weighting: { strategy: 'static', weights: { a: 1 } } }),
      /missing the weight of task 'b'/,
      RangeError,
    ],
    [
      'static weight of an unknown task',
      () => new MultiTaskLoss({ tasks: ok, weighting: { strategy: 'static', weights: { a: 1, b: 1, z: 1 } } }),
      /Unknown task 'z'/,
      TypeError,
    ],
    [
      'bad uncertainty form',
      () => new MultiTaskLoss({ tasks: { a: { loss: 'mseLoss', uncertainty: 'both' as 'regression' } } }),
      /tasks\.a\.uncertainty/,
      TypeError,
    ],
    [
      'bad optimizer',
      () => new MultiTaskLoss({ tasks: ok, weighting: { strategy: 'uncertainty', optimizer: 'rmsprop' as 'sgd' } }),
      /optimizer/,
      TypeError,
    ],
    ['negative lr', () => new MultiTaskLoss({ tasks: ok, weighting: { strategy: 'gradnorm', lr: -1 } }), /weighting\.lr/, RangeError],
    ['unknown backend', () => new MultiTaskLoss({ tasks: ok, backend: 'gpu' as 'cuda' }), /backend/, TypeError],
  ];
  for (const [name, f, message, kind] of cases)
    it(`config: ${name}`, () => {
      expect(f).toThrow(kind);
      expect(f).toThrow(message);
    });

  for (const backend of ['native', 'reference'] as const) {
    const mtl = () => new MultiTaskLoss({ tasks: { a: { loss: 'mseLoss' }, b: { loss: 'crossEntropy' } }, backend });
    const fresh = () => ({
      a: { input: rng(1).floats(8), target: rng(2).floats(8), shape: [8], out: { grad: new Float32Array(8).fill(5) } },
      b: { input: rng(3).floats(12), target: ids(4, 3, 4), shape: [4, 3], out: { grad: new Float32Array(12).fill(5) } },
    });
    const untouched = (d: ReturnType<typeof fresh>) => {
      expect(d.a.out.grad.every((g) => g === 5)).toBe(true);
      expect(d.b.out.grad.every((g) => g === 5)).toBe(true);
    };
    const batchCases: [string, (d: ReturnType<typeof fresh>) => Record<string, unknown>, RegExp, typeof TypeError | typeof RangeError][] = [
      ['unknown task', (d) => ({ ...d, c: d.a }), /Unknown task 'c'/, TypeError],
      ['target of the wrong type', (d) => ({ ...d, b: { ...d.b, target: new Float64Array(4) } }), /tasks\.b: .*target/, TypeError],
      ['target of the wrong length', (d) => ({ ...d, b: { ...d.b, target: new Int32Array(3) } }), /tasks\.b: .*target/, RangeError],
      [
        'class id out of range',
        (d) => ({ ...d, b: { ...d.b, target: Int32Array.from([0, 1, 2, 3]) } }),
        /tasks\.b: target\[3\] = 3/,
        RangeError,
      ],
      ['unknown batch key', (d) => ({ ...d, a: { ...d.a, weight: [1] } }), /tasks\.a: Unknown key 'weight'/, TypeError],
      ['input2 on a one-input loss', (d) => ({ ...d, a: { ...d.a, input2: new Float32Array(8) } }), /input2/, TypeError],
      [
        'a gradient overlapping another task',
        (d) => ({ ...d, a: { ...d.a, out: { grad: d.b.input.subarray(0, 8) } } }),
        /tasks\.a: .*overlaps .*(task 'b'|tasks\.b)/,
        RangeError,
      ],
    ];
    for (const [name, f, message, kind] of batchCases)
      it(`${backend} batch: ${name}`, async () => {
        const d = fresh();
        let err: unknown;
        try {
          mtl().compute(f(d) as never);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(kind);
        expect((err as Error).message).toMatch(message);
        untouched(d);
        await expect(mtl().computeAsync(f(d) as never)).rejects.toThrow(kind);
        untouched(d);
      });
  }

  it('compute options and hook arguments are checked', () => {
    const m = new MultiTaskLoss({ tasks: { a: { loss: 'mseLoss' } } });
    const d = { a: { input: new Float32Array(2), target: new Float32Array(2), shape: [2] } };
    expect(() => m.compute(d, { gradScale: NaN })).toThrow(TypeError);
    expect(() => m.compute(d, { scale: 1 } as never)).toThrow(/Unknown compute option/);
    expect(() => m.compute(null as never)).toThrow(TypeError);
    expect(() => m.endStep(5 as never)).toThrow(TypeError);
  });
});
