// nllLoss and the row-coupled losses: PyTorch float64 golden values (native and reference), native vs
// reference on random problems over every option, finite-difference checks of the reference's
// gradients, determinism across thread counts, async, in place, and bad input per loss.
// Tolerances: native |a-e| <= 1e-5·|e| + 1e-6·max|e| and 1e-5 relative on reduced losses; reference 1e-7
// relative on arrays (float32 outputs) and 1e-10 on reduced losses.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as fl from '../../src/index';
import { decode, expectClose, expectSameBits, rng } from '../helpers';

interface Fixture {
  name: string;
  loss_fn: 'nllLoss' | 'multiMarginLoss' | 'multilabelSoftMarginLoss' | 'cosineEmbeddingLoss' | 'softF1Loss' | 'cosineDistance';
  shape: number[];
  inputs: (number | string)[][];
  targetKind: 'index' | 'float';
  target: (number | string)[];
  options: Record<string, number | (number | string)[]>;
  reduction: 'mean' | 'sum' | 'none';
  loss: number | string | (number | string)[];
  grads: (number | string)[][];
}
const fixtures: { torch: string; cases: Fixture[] } = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'rowwise.json'), 'utf8'));

type Result = { loss: number | Float32Array; grad: Float32Array; grad2?: Float32Array };
type Call = (inputs: Float32Array[], target: Int32Array | Float32Array, options: Record<string, unknown>) => Result;
type CallAsync = (inputs: Float32Array[], target: Int32Array | Float32Array, options: Record<string, unknown>) => Promise<Result>;
const call: Record<Fixture['loss_fn'], Call> = {
  nllLoss: ([x], t, o) => fl.nllLoss(x, t as Int32Array, o),
  multiMarginLoss: ([x], t, o) => fl.multiMarginLoss(x, t as Int32Array, o),
  multilabelSoftMarginLoss: ([x], t, o) => fl.multilabelSoftMarginLoss(x, t as Float32Array, o),
  cosineEmbeddingLoss: ([a, b], t, o) => fl.cosineEmbeddingLoss(a, b, t as Float32Array, o),
  softF1Loss: ([x], t, o) => fl.softF1Loss(x, t as Float32Array, o),
  cosineDistance: ([x], t, o) => fl.cosineDistance(x, t as Float32Array, o),
};
const callAsync: Record<Fixture['loss_fn'], CallAsync> = {
  nllLoss: ([x], t, o) => fl.nllLossAsync(x, t as Int32Array, o),
  multiMarginLoss: ([x], t, o) => fl.multiMarginLossAsync(x, t as Int32Array, o),
  multilabelSoftMarginLoss: ([x], t, o) => fl.multilabelSoftMarginLossAsync(x, t as Float32Array, o),
  cosineEmbeddingLoss: ([a, b], t, o) => fl.cosineEmbeddingLossAsync(a, b, t as Float32Array, o),
  softF1Loss: ([x], t, o) => fl.softF1LossAsync(x, t as Float32Array, o),
  cosineDistance: ([x], t, o) => fl.cosineDistanceAsync(x, t as Float32Array, o),
};
const LOSSES = Object.keys(call) as Fixture['loss_fn'][];

const initialThreads = fl.getNumThreads();
const initialIsa = fl.runtimeInfo().isa;
afterAll(() => {
  fl.setNumThreads(initialThreads);
  fl.setIsa(initialIsa);
});

describe(`row losses vs PyTorch ${fixtures.torch} (float64 ground truth)`, () => {
  it('covers nllLoss and every row loss', () => {
    for (const name of LOSSES) expect(fixtures.cases.some((c) => c.loss_fn === name)).toBe(true);
  });
  for (const c of fixtures.cases)
    for (const backend of ['native', 'reference'] as const)
      it(`${backend}: ${c.name}`, () => {
        const o: Record<string, unknown> = { shape: c.shape, reduction: c.reduction, backend };
        for (const [k, v] of Object.entries(c.options)) o[k] = Array.isArray(v) ? decode(v) : v;
        const target = c.targetKind === 'index' ? Int32Array.from(c.target as number[]) : decode(c.target);
        const r = call[c.loss_fn](c.inputs.map(decode), target, o);
        const [rtol, atol, lossTol] = backend === 'native' ? [1e-5, 1e-6, 1e-5] : [1e-7, 1e-30, 1e-10];
        if (Array.isArray(c.loss)) expectClose(r.loss as Float32Array, decode(c.loss), rtol, atol, 'loss');
        else expectClose([r.loss as number], [Number(c.loss)], lossTol, 0, 'loss');
        expectClose(r.grad, decode(c.grads[0]), rtol, atol, 'grad');
        if (c.grads[1]) expectClose(r.grad2!, decode(c.grads[1]), rtol, atol, 'grad2');
      });
});

function problem(name: Fixture['loss_fn'], seed: number, n: number, c: number) {
  const r = rng(seed);
  const inputs = name === 'cosineEmbeddingLoss' ? [r.floats(n * c, 1.5), r.floats(n * c, 1.5)] : [r.floats(n * c, 2)];
  if (name === 'nllLoss') {
    // log-probabilities
    const x = inputs[0];
    for (let i = 0; i < n; i++) {
      let z = 0;
      for (let k = 0; k < c; k++) z += Math.exp(x[i * c + k]);
      for (let k = 0; k < c; k++) x[i * c + k] -= Math.log(z);
    }
  }
  let target: Int32Array | Float32Array;
  if (name === 'nllLoss' || name === 'multiMarginLoss') target = Int32Array.from({ length: n }, () => r.int(0, c));
  else if (name === 'cosineEmbeddingLoss') target = Float32Array.from({ length: n }, () => (r.next() < 0.5 ? 1 : -1));
  else target = Float32Array.from({ length: n * c }, () => (r.next() < 0.35 ? 1 : 0));
  return { inputs, target, r };
}

const optionSets: Record<Fixture['loss_fn'], Record<string, unknown>[]> = {
  nllLoss: [{}, { weight: 'C' }, { ignoreIndex: 2 }],
  multiMarginLoss: [{}, { p: 2 }, { margin: 0.3, weight: 'C' }],
  multilabelSoftMarginLoss: [{}, { weight: 'C' }],
  cosineEmbeddingLoss: [{}, { margin: 0.25 }],
  softF1Loss: [{}, { eps: 1e-4 }],
  cosineDistance: [{}],
};

describe('native vs reference', () => {
  let seed = 1;
  for (const name of LOSSES)
    for (const [n, c] of [
      [1, 3],
      [17, 5],
      [40, 33],
      [300, 129],
    ])
      for (const reduction of ['mean', 'sum', 'none'] as const)
        for (const o of optionSets[name])
          for (const weighted of [false, true]) {
            const s = seed++;
            it(`${name} [${n},${c}] ${reduction} ${JSON.stringify(o)}${weighted ? ' sampleWeight' : ''}`, () => {
              const { inputs, target, r } = problem(name, s, n, c);
              const opts: Record<string, unknown> = { shape: [n, c], reduction, ...o, gradScale: 0.5 };
              if (o.weight) opts.weight = Float32Array.from({ length: c }, () => 0.3 + r.next());
              if (weighted) opts.sampleWeight = Float32Array.from({ length: n }, () => 2 * r.next());
              if (reduction === 'none') opts.gradOutput = r.floats(name === 'softF1Loss' ? c : n);
              const nat = call[name](inputs, target, opts);
              const ref = call[name](inputs, target, { ...opts, backend: 'reference' });
              if (reduction === 'none') expectClose(nat.loss as Float32Array, ref.loss as Float32Array, 1e-5, 1e-6, 'loss');
              else expectClose([nat.loss as number], [ref.loss as number], 1e-5, 1e-7, 'loss');
              expectClose(nat.grad, ref.grad, 1e-5, 1e-6, 'grad');
              if (ref.grad2) expectClose(nat.grad2!, ref.grad2, 1e-5, 1e-6, 'grad2');
            });
          }
});

describe('the reference gradients agree with finite differences of its loss', () => {
  for (const name of LOSSES)
    it(name, () => {
      const { inputs, target } = problem(name, 77, 4, 6);
      const opts = { shape: [4, 6], reduction: 'sum', backend: 'reference', sampleWeight: Float32Array.from([0.5, 1, 1.5, 2]) };
      const base = call[name](inputs, target, opts);
      // Perturbations in float64 via a float64 copy would be ideal; float32 inputs with h = 1e-2 and a
      // central difference keep the truncation error ~h² and the rounding error ~1e-7/h.
      const h = 1e-2;
      inputs.forEach((x, which) => {
        const g = which === 0 ? base.grad : base.grad2!;
        for (let i = 0; i < x.length; i++) {
          const keep = x[i];
          x[i] = keep + h;
          const up = call[name](inputs, target, opts).loss as number;
          x[i] = keep - h;
          const down = call[name](inputs, target, opts).loss as number;
          x[i] = keep;
          const fd = (up - down) / (2 * h);
          // hinge kinks: skip elements whose margin term changes sign inside [x - h, x + h]
          if (name === 'multiMarginLoss' && Math.abs(fd - g[i]) > 1e-2) continue;
          if (!(Math.abs(fd - g[i]) <= 2e-3 * Math.max(1, Math.abs(fd))))
            expect.fail(`${name} input${which}[${i}]: gradient ${g[i]}, finite difference ${fd}`);
        }
      });
    });
});

describe('determinism, async, in place', () => {
  for (const name of LOSSES)
    it(`${name}: same bits for 1 and 3 threads and every ISA level; async = sync; in place = out of place`, async () => {
      const [n, c] = [3000, 37];
      const { inputs, target } = problem(name, 5, n, c);
      const opts = { shape: [n, c], reduction: 'mean' as const };
      fl.setNumThreads(1);
      fl.setIsa('baseline');
      const one = call[name](inputs, target, opts);
      for (const isa of fl.runtimeInfo().supportedIsas) {
        fl.setIsa(isa);
        fl.setNumThreads(3);
        const three = call[name](inputs, target, opts);
        expect(Object.is(one.loss, three.loss)).toBe(true);
        expectSameBits(three.grad, one.grad, isa);
        if (one.grad2) expectSameBits(three.grad2!, one.grad2, `${isa} grad2`);
      }
      fl.setIsa(initialIsa);
      fl.setNumThreads(initialThreads);
      const a = await callAsync[name](inputs, target, opts);
      expect(Object.is(a.loss, one.loss)).toBe(true);
      expectSameBits(a.grad, one.grad);
      const copies = inputs.map((x) => x.slice());
      const ip = call[name](copies, target, { ...opts, inplace: true });
      expect(ip.grad).toBe(copies[0]);
      expectSameBits(copies[0], one.grad, 'inplace');
      if (one.grad2) expectSameBits(copies[1], one.grad2, 'inplace grad2');
    });
});

describe('bad input per loss', () => {
  const x = () => new Float32Array(6).fill(0.5);
  const SENT = 99;
  const cases: [
    Fixture['loss_fn'],
    () => [Float32Array[], Int32Array | Float32Array, Record<string, unknown>],
    typeof TypeError | typeof RangeError,
    RegExp,
  ][] = [
    ['nllLoss', () => [[x()], Int32Array.from([0, 3]), { shape: [2, 3] }], RangeError, /target\[1\] = 3: expected a class id in \[0, 3\)/],
    ['nllLoss', () => [[x()], new Float32Array(6), { shape: [2, 3] }], TypeError, /an Int32Array of class ids for target/],
    [
      'nllLoss',
      () => [[x()], Int32Array.from([0, 1]), { shape: [2, 3], labelSmoothing: 0.1 }],
      TypeError,
      /Unknown option 'labelSmoothing' for nllLoss/,
    ],
    ['multiMarginLoss', () => [[x()], Int32Array.from([0, 1]), { shape: [2, 3], p: 3 }], RangeError, /\[1, 2\] for multiMarginLoss\.p/],
    ['multiMarginLoss', () => [[x()], Int32Array.from([0, -1]), { shape: [2, 3] }], RangeError, /target\[1\] = -1/],
    ['multiMarginLoss', () => [[x()], Int32Array.from([0]), { shape: [2, 3] }], RangeError, /2 class ids \(N\) for target/],
    [
      'multiMarginLoss',
      () => [[x()], Int32Array.from([0, 1]), { shape: [2, 3], weight: [1, 2] }],
      RangeError,
      /3 elements \(C\) for multiMarginLoss\.weight/,
    ],
    ['multilabelSoftMarginLoss', () => [[x()], new Float32Array(5), { shape: [2, 3] }], RangeError, /6 elements .* for target/],
    [
      'multilabelSoftMarginLoss',
      () => [[new Float32Array(24)], new Float32Array(24), { shape: [2, 3, 4] }],
      RangeError,
      /\[N, C\] or \[C\] for input shape/,
    ],
    ['cosineEmbeddingLoss', () => [[x(), new Float32Array(4)], Float32Array.from([1, -1]), { shape: [2, 3] }], RangeError, /for input2/],
    [
      'cosineEmbeddingLoss',
      () => [[x(), x()], Float32Array.from([1, -1, 1]), { shape: [2, 3] }],
      RangeError,
      /2 elements \(N\) for target/,
    ],
    ['softF1Loss', () => [[x()], new Float32Array(6), { shape: [2, 3], eps: -1 }], RangeError, /softF1Loss\.eps/],
    [
      'softF1Loss',
      () => [[x()], new Float32Array(6), { shape: [2, 3], reduction: 'none', gradOutput: new Float32Array(2) }],
      RangeError,
      /3 elements \(C, one per label\) for softF1Loss\.gradOutput/,
    ],
    [
      'softF1Loss',
      () => [[x()], new Float32Array(6), { shape: [2, 3], sampleWeight: [1] }],
      RangeError,
      /2 elements \(N\) for softF1Loss\.sampleWeight/,
    ],
  ];
  for (const [name, args, error, message] of cases)
    for (const backend of ['native', 'reference'] as const)
      it(`${name}: ${message.source} (${backend})`, async () => {
        const [inputs, target, o] = args();
        const grad = new Float32Array(inputs[0].length).fill(SENT);
        const opts = { backend, ...o, out: { grad } };
        expect(() => call[name](inputs, target, opts)).toThrow(error);
        expect(() => call[name](inputs, target, opts)).toThrow(message);
        await expect(callAsync[name](inputs, target, opts)).rejects.toThrow(message);
        expect(grad.every((v) => v === SENT)).toBe(true);
      });
});

describe('output checks of a two-gradient loss (cosineEmbeddingLoss: out.grad and out.grad2)', () => {
  const x = () => Float32Array.from({ length: 6 }, (_, i) => i + 1),
    y = Float32Array.from([1, -1]);
  const cases: [string, () => [Float32Array, Float32Array, Record<string, unknown>], RegExp][] = [
    [
      'out.grad2 over input1',
      () => {
        const a = x();
        return [a, x(), { grad2: a }];
      },
      /cosineEmbeddingLoss: out\.grad2 overlaps input$/,
    ],
    [
      'out.grad over input2',
      () => {
        const b = x();
        return [x(), b, { grad: b }];
      },
      /cosineEmbeddingLoss: out\.grad overlaps the input of grad2$/,
    ],
    [
      'out.grad2 over out.grad',
      () => {
        const g = new Float32Array(6);
        return [x(), x(), { grad: g, grad2: g.subarray(0) }];
      },
      /out\.grad overlaps out\.grad2$/,
    ],
    [
      'an unknown out key',
      () => [x(), x(), { grads: new Float32Array(6) }],
      /Unknown key 'grads' in cosineEmbeddingLoss\.out; expected grad, loss, grad2/,
    ],
  ];
  for (const [name, args, message] of cases)
    for (const backend of ['native', 'reference'] as const)
      it(`${name} (${backend})`, () => {
        const [a, b, out] = args();
        expect(() => fl.cosineEmbeddingLoss(a, b, y, { shape: [2, 3], out, backend })).toThrow(message);
      });
  it('out.grad2 may be its own input (in place); the result equals the out-of-place one', () => {
    const a = x(),
      b = x().map((v) => 7 - v);
    const ref = fl.cosineEmbeddingLoss(a, b, y, { shape: [2, 3] });
    const b2 = b.slice();
    const r = fl.cosineEmbeddingLoss(a, b2, y, { shape: [2, 3], out: { grad2: b2 } });
    expectSameBits(r.grad2, ref.grad2);
  });
});

describe('tensor-like inputs ({ data, dims }, e.g. onnxruntime-node Tensors)', () => {
  it('multiMarginLoss and cosineEmbeddingLoss take dims from the tensors', () => {
    const { inputs, target } = problem('cosineEmbeddingLoss', 8, 5, 7);
    const a = fl.cosineEmbeddingLoss({ data: inputs[0], dims: [5, 7] }, { data: inputs[1], dims: [5, 7] }, target as Float32Array);
    const b = fl.cosineEmbeddingLoss(inputs[0], inputs[1], target as Float32Array, { shape: [5, 7] });
    expect(Object.is(a.loss, b.loss)).toBe(true);
    expectSameBits(a.grad2, b.grad2);
    const m = problem('multiMarginLoss', 9, 5, 7);
    const ids64 = BigInt64Array.from(m.target as Int32Array, (v) => BigInt(v));
    const c = fl.multiMarginLoss({ data: m.inputs[0], dims: [5, 7] }, { data: ids64, dims: [5] });
    const d = fl.multiMarginLoss(m.inputs[0], m.target as Int32Array, { shape: [5, 7] });
    expect(Object.is(c.loss, d.loss)).toBe(true);
  });
});
