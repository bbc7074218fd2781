// The elementwise losses: PyTorch float64 golden values (native and reference), native vs reference over
// every loss × option × reduction × weighting, finite-difference checks of the reference's derivatives,
// determinism across threads and ISA levels, async, in place, and bad input per loss.
// Tolerances: native (float32 math) |a-e| <= 1e-5·|e| + 1e-6·max|e| (gradients) and 1e-5 relative (reduced
// losses); reference (float64 math, float32 outputs) 1e-7 relative on arrays and 1e-10 on reduced losses.
import { afterAll, describe, expect, it } from 'vitest';
import * as fl from '../../src/index';
import { ELEMENTWISE_LOSSES, type ElementwiseName } from '../../src/losses/ops';
import { elementLoss } from '../../src/backends/reference/elementwise';
import { decode, expectClose, expectSameBits, rng } from '../helpers';
import { materialize, optionSets, problem } from './elementwiseProblems';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

type AnyLoss = (input: Float32Array, target: Float32Array, options?: object) => { loss: number | Float32Array; grad: Float32Array };
type AnyLossAsync = (
  input: Float32Array,
  target: Float32Array,
  options?: object,
) => Promise<{ loss: number | Float32Array; grad: Float32Array }>;
const fn = (name: ElementwiseName) => (fl as unknown as Record<string, AnyLoss>)[name];
const fnAsync = (name: ElementwiseName) => (fl as unknown as Record<string, AnyLossAsync>)[`${name}Async`];

interface Fixture {
  name: string;
  loss_fn: ElementwiseName;
  shape: number[];
  input: (number | string)[];
  target: (number | string)[];
  options: Record<string, number | boolean | (number | string)[]>;
  reduction: string;
  loss: number | string | (number | string)[];
  grad: (number | string)[];
}
const fixtures: { torch: string; cases: Fixture[] } = JSON.parse(
  readFileSync(join(__dirname, '..', 'fixtures', 'elementwise.json'), 'utf8'),
);

const initialThreads = fl.getNumThreads();
const initialIsa = fl.runtimeInfo().isa;
afterAll(() => {
  fl.setNumThreads(initialThreads);
  fl.setIsa(initialIsa);
});

function fixtureOptions(c: Fixture): Record<string, unknown> {
  const o: Record<string, unknown> = { shape: c.shape, reduction: c.reduction };
  for (const [k, v] of Object.entries(c.options)) o[k] = Array.isArray(v) ? decode(v) : v;
  return o;
}

describe(`elementwise losses vs PyTorch ${fixtures.torch} (float64 ground truth)`, () => {
  it('covers every elementwise loss', () => {
    for (const spec of ELEMENTWISE_LOSSES) expect(fixtures.cases.some((c) => c.loss_fn === spec.name)).toBe(true);
  });
  for (const c of fixtures.cases) {
    for (const backend of ['native', 'reference'] as const) {
      it(`${backend}: ${c.name}`, () => {
        const r = fn(c.loss_fn)(decode(c.input), decode(c.target), { ...fixtureOptions(c), backend });
        const [rtol, atol, lossTol] = backend === 'native' ? [1e-5, 1e-6, 1e-5] : [1e-7, 0, 1e-10];
        if (Array.isArray(c.loss)) expectClose(r.loss as Float32Array, decode(c.loss), rtol, atol || 1e-30, 'loss');
        else expectClose([r.loss as number], [Number(c.loss)], lossTol, 0, 'loss');
        expectClose(r.grad, decode(c.grad), rtol, atol, 'grad');
      });
    }
  }
});

describe('native vs reference', () => {
  let seed = 1000;
  for (const spec of ELEMENTWISE_LOSSES) {
    const name = spec.name;
    const reductions = name === 'klDiv' ? ['mean', 'sum', 'none', 'batchmean'] : ['mean', 'sum', 'none'];
    for (const shape of [[37], [5, 16], [3, 7, 11], [64, 129]])
      for (const reduction of reductions)
        for (const o of optionSets[name])
          for (const withSampleWeight of [false, true]) {
            const s = seed++;
            it(`${name} [${shape}] ${reduction} ${JSON.stringify(o)}${withSampleWeight ? ' sampleWeight' : ''}`, () => {
              const numel = shape.reduce((a, b) => a * b, 1);
              const { input, target } = problem(name, s, numel);
              if (name === 'klDiv' && o.logTarget) for (let i = 0; i < numel; i++) target[i] = Math.log(0.05 + target[i]);
              const opts: Record<string, unknown> = { shape, reduction, gradScale: 0.75, ...materialize(name, o, shape, s) };
              if (withSampleWeight) opts.sampleWeight = Float32Array.from({ length: shape[0] }, (_, i) => (i % 3) * 0.5);
              if (reduction === 'none') {
                opts.gradOutput = rng(s + 1).floats(numel);
                delete opts.gradScale;
              }
              const nat = fn(name)(input, target, opts);
              const ref = fn(name)(input, target, { ...opts, backend: 'reference' });
              if (reduction === 'none') expectClose(nat.loss as Float32Array, ref.loss as Float32Array, 1e-5, 1e-6, 'loss');
              else expectClose([nat.loss as number], [ref.loss as number], 1e-5, 1e-7, 'loss');
              expectClose(nat.grad, ref.grad, 1e-5, 1e-6, 'grad');
            });
          }
  }
});

describe('the reference derivatives agree with finite differences', () => {
  // the reference takes the options by name, booleans as 0 / 1 (as planElementwise builds them from the op table)
  const params = {
    beta: 0.6,
    delta: 0.9,
    margin: 0.4,
    logTarget: 0,
    logInput: 1,
    full: 1,
    eps: 1e-8,
    alpha: 0.25,
    gamma: 2,
    epsilon: 1e-7,
  };
  for (const spec of ELEMENTWISE_LOSSES) {
    for (const variant of [{}, { logTarget: 1, logInput: 0, alpha: -1, gamma: 1.5 }]) {
      it(`${spec.name} ${JSON.stringify(variant)}`, () => {
        const p = { ...params, ...variant };
        const r = rng(spec.kind + 99);
        const { input, target } = problem(spec.name, spec.kind + 7, 200);
        let checked = 0;
        for (let i = 0; i < 200; i++) {
          let x = input[i];
          const t = spec.name === 'klDiv' && p.logTarget ? Math.log(0.05 + target[i]) : target[i];
          if (spec.name === 'poissonNllLoss' && !p.logInput) x = 0.2 + Math.abs(x);
          if (spec.name === 'binaryCrossEntropy' || spec.name === 'logLoss') x = 0.02 + 0.96 * x;
          if (spec.name === 'hingeLoss' && Math.abs(1 - (2 * t - 1) * x) < 1e-3) continue; // the hinge's kink
          const pw = 0.5 + r.next() * 2;
          const h = 1e-6;
          // skip points next to a kink (|x - t| at beta/delta/0, margin)
          const kinks = spec.name === 'hingeLoss' ? [] : [t, t + p.beta, t - p.beta, t + p.delta, t - p.delta, p.margin];
          if (kinks.some((k) => Math.abs(x - k) < 1e-3)) continue;
          const [, d] = elementLoss(spec.name, x, t, pw, true, p);
          const fd = (elementLoss(spec.name, x + h, t, pw, true, p)[0] - elementLoss(spec.name, x - h, t, pw, true, p)[0]) / (2 * h);
          if (!(Math.abs(d - fd) <= 1e-6 * Math.max(1, Math.abs(fd))))
            expect.fail(`${spec.name} x=${x} t=${t}: derivative ${d}, finite difference ${fd}`);
          checked++;
        }
        expect(checked).toBeGreaterThan(150);
      });
    }
  }
});

describe('determinism, async, in place', () => {
  for (const spec of ELEMENTWISE_LOSSES) {
    it(`${spec.name}: same bits for 1 and 3 threads and every ISA level; async = sync; in place = out of place`, async () => {
      const numel = 3 * 32768 + 77;
      const { input, target } = problem(spec.name, spec.kind, numel);
      const opts = { shape: [numel / 7, 7].every(Number.isInteger) ? [numel / 7, 7] : [numel], reduction: 'mean', sampleWeight: undefined };
      fl.setNumThreads(1);
      fl.setIsa('baseline');
      const base = fn(spec.name)(input, target, opts);
      for (const isa of fl.runtimeInfo().supportedIsas) {
        fl.setIsa(isa);
        for (const t of [1, 3]) {
          fl.setNumThreads(t);
          const r = fn(spec.name)(input, target, opts);
          expect(Object.is(r.loss, base.loss)).toBe(true);
          expectSameBits(r.grad, base.grad, `${isa}/${t}`);
        }
      }
      fl.setIsa(initialIsa);
      fl.setNumThreads(initialThreads);
      const a = await fnAsync(spec.name)(input, target, opts);
      expect(Object.is(a.loss, base.loss)).toBe(true);
      expectSameBits(a.grad, base.grad, 'async');
      const buf = input.slice();
      const ip = fn(spec.name)(buf, target, { ...opts, inplace: true });
      expect(ip.grad).toBe(buf);
      expectSameBits(buf, base.grad, 'inplace');
    });
  }
});

describe('bad input per loss', () => {
  const x = () => Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
  const SENT = 4242;
  const cases: [ElementwiseName, Record<string, unknown>, typeof TypeError | typeof RangeError, RegExp, (() => Float32Array)?][] = [
    ['mseLoss', { shape: [2, 3], target: new Float32Array(5) }, RangeError, /6 elements \(the input's shape \[2, 3\]\) for target/],
    ['mseLoss', { shape: [2, 3], target: new Int32Array(6) }, TypeError, /target/],
    ['mseLoss', { shape: [2, 3], reduction: 'batchmean' }, TypeError, /'mean' \| 'sum' \| 'none' for mseLoss\.reduction/],
    ['mseLoss', { shape: [2, 3], sampleWeight: new Float32Array(3) }, RangeError, /2 elements \(the first dim\) for mseLoss\.sampleWeight/],
    ['mseLoss', { shape: [2, 3], margin: 1 }, TypeError, /Unknown option 'margin' for mseLoss/],
    ['l1Loss', { shape: [2, 3], gradOutput: new Float32Array(6) }, TypeError, /gradOutput is only allowed with reduction 'none'/],
    ['smoothL1Loss', { shape: [2, 3], beta: -0.1 }, RangeError, /≥ 0|>= 0|\[0, Infinity\]/],
    ['huberLoss', { shape: [2, 3], delta: 0 }, RangeError, /huberLoss\.delta/],
    [
      'binaryCrossEntropy',
      { shape: [2, 3], weight: new Float32Array(4) },
      RangeError,
      /6 elements \(the input's shape\) or 3 \(the last dim\) for binaryCrossEntropy\.weight/,
    ],
    [
      'binaryCrossEntropy',
      { shape: [2, 3], input: Float32Array.from([0.1, 1.5, 0.3, 0.4, 0.5, 0.6]) },
      RangeError,
      /input\[1\] = 1\.5.*probabilities in \[0, 1\]/,
    ],
    [
      'binaryCrossEntropyWithLogits',
      { shape: [2, 3], posWeight: new Float32Array(2) },
      RangeError,
      /3 elements \(the last dim\) for binaryCrossEntropyWithLogits\.posWeight/,
    ],
    ['hingeEmbeddingLoss', { shape: [2, 3], margin: 'wide' }, TypeError, /a number for hingeEmbeddingLoss\.margin/],
    ['klDiv', { shape: [2, 3], logTarget: 1 }, TypeError, /a boolean for klDiv\.logTarget/],
    ['poissonNllLoss', { shape: [2, 3], eps: -1 }, RangeError, /poissonNllLoss\.eps/],
    ['sigmoidFocalLoss', { shape: [2, 3], gamma: -2 }, RangeError, /sigmoidFocalLoss\.gamma/],
    ['sigmoidFocalLoss', { shape: [2, 3], alpha: 1.5 }, RangeError, /sigmoidFocalLoss\.alpha/],
    ['mseLoss', { shape: [2, 3], backend: 'gpu' }, TypeError, /'native' \| 'reference' \| 'cuda' for mseLoss\.backend/],
  ];
  for (const [name, o, error, message] of cases)
    for (const backend of ['native', 'reference'] as const)
      it(`${name} ${JSON.stringify(Object.keys(o))} (${backend})`, async () => {
        const { target, input, ...rest } = o as { target?: Float32Array; input?: Float32Array };
        const grad = new Float32Array(6).fill(SENT);
        const opts = { backend, ...rest, out: { grad } };
        const call = () => fn(name)(input ?? x(), (target as Float32Array) ?? x(), opts);
        expect(call).toThrow(error);
        expect(call).toThrow(message);
        await expect(fnAsync(name)(input ?? x(), (target as Float32Array) ?? x(), opts)).rejects.toThrow(message);
        expect(grad.every((v) => v === SENT)).toBe(true);
      });
});

describe('tensor-like inputs ({ data, dims }, e.g. onnxruntime-node Tensors)', () => {
  it('take dims from the tensor and give the same result as Float32Array + shape', () => {
    const { input, target } = problem('huberLoss', 3, 24);
    const a = fl.huberLoss({ data: input, dims: [4, 6] }, { data: target, dims: [4, 6] }, { delta: 0.5 });
    const b = fl.huberLoss(input, target, { shape: [4, 6], delta: 0.5 });
    expect(Object.is(a.loss, b.loss)).toBe(true);
    expectSameBits(a.grad, b.grad);
    expect(() => fl.huberLoss({ data: input, dims: [4, 6] }, { data: target, dims: [6, 4] })).toThrow(/target\.dims/);
  });
});
