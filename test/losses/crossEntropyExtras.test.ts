// crossEntropy's large-vocabulary extras on plain logits [N, C] (lseSquareScale, softcap, returnZLoss,
// returnLse, returnAccuracy): PyTorch float64 values (scripts/gen-fixtures-linear-ce.py), the reference,
// bits against linearCrossEntropy with an identity head and across threads, MultiTaskLoss tasks, bad input.
import { afterAll, describe, expect, it } from 'vitest';
import * as fl from '../../src/index';
import { decode, expectClose, expectSameBits, loadFixtures, rng } from '../helpers';

const initialThreads = fl.getNumThreads();
afterAll(() => fl.setNumThreads(initialThreads));

interface Case {
  name: string;
  n: number;
  c: number;
  input: (number | string)[];
  targetKind: 'index' | 'prob';
  target: (number | string)[];
  options: {
    reduction: 'mean' | 'sum' | 'none';
    labelSmoothing: number;
    lseSquareScale: number;
    softcap?: number;
    weight?: (number | string)[];
  };
  loss: number | string | (number | string)[];
  zLoss: number | string;
  lse: (number | string)[];
  accuracy: number | string;
  grad: (number | string)[];
}
const fixtures = loadFixtures('linearCrossEntropy') as unknown as { torch: string; crossEntropyExtras: Case[] };
const num = (v: number | string) => (typeof v === 'string' ? Number(v) : v);

function call(c: Case, backend: 'native' | 'reference') {
  const target = c.targetKind === 'index' ? Int32Array.from(c.target as number[]) : decode(c.target);
  const o = c.options;
  return fl.crossEntropy(decode(c.input), target, {
    shape: [c.n, c.c],
    reduction: o.reduction,
    labelSmoothing: o.labelSmoothing,
    lseSquareScale: o.lseSquareScale,
    softcap: o.softcap,
    weight: o.weight ? decode(o.weight) : undefined,
    returnZLoss: true,
    returnLse: true,
    returnAccuracy: c.targetKind === 'index',
    backend,
  });
}

describe(`crossEntropy extras vs PyTorch ${fixtures.torch} (float64 autograd)`, () => {
  it('covers z-loss, soft-cap, probabilities, every reduction', () => expect(fixtures.crossEntropyExtras.length).toBeGreaterThan(12));
  for (const c of fixtures.crossEntropyExtras)
    for (const backend of ['native', 'reference'] as const)
      it(`${backend}: ${c.name}`, () => {
        const r = call(c, backend),
          tol = backend === 'native' ? 2e-5 : 1e-6;
        if (Array.isArray(c.loss)) expectClose(r.loss as unknown as Float32Array, c.loss.map(num), tol, tol, 'loss');
        else expectClose([r.loss as number], [num(c.loss)], tol, 0, 'loss');
        expectClose([r.zLoss!], [num(c.zLoss)], tol, 1e-7, 'zLoss');
        expectClose(r.lse!, c.lse.map(num), tol, tol, 'lse');
        if (c.targetKind === 'index') expectClose([r.accuracy!], [num(c.accuracy)], 0, 0, 'accuracy');
        expectClose(r.grad, c.grad.map(num), tol, tol, 'grad');
      });
});

describe('crossEntropy extras: bits', () => {
  const n = 70,
    c = 300,
    r = rng(21);
  const z = r.floats(n * c, 4),
    y = Int32Array.from({ length: n }, (_, i) => (i % 9 === 0 ? -100 : r.int(0, c)));
  const opts = {
    shape: [n, c],
    lseSquareScale: 1e-3,
    softcap: 6,
    labelSmoothing: 0.05,
    returnZLoss: true,
    returnLse: true,
    returnAccuracy: true,
  };
  it('equal linearCrossEntropy with an identity head, bit for bit', () => {
    const eye = new Float32Array(c * c);
    for (let k = 0; k < c; k++) eye[k * c + k] = 1;
    const a = fl.crossEntropy(z, y, opts);
    const b = fl.linearCrossEntropy(z, eye, y, { ...opts, chunkSize: n });
    expect(a.loss).toBe(b.loss);
    expect(a.zLoss).toBe(b.zLoss);
    expect(a.accuracy).toBe(b.accuracy);
    expectSameBits(a.grad, b.gradInput, 'grad');
    expectSameBits(a.lse!, b.lse!, 'lse');
  });
  it('the same bits for 1, 2 and 3 threads, sync and async; the input is left as it was', async () => {
    const copy = Float32Array.from(z);
    fl.setNumThreads(1);
    const ref = fl.crossEntropy(z, y, opts);
    for (const t of [2, 3]) {
      fl.setNumThreads(t);
      for (const q of [fl.crossEntropy(z, y, opts), await fl.crossEntropyAsync(z, y, opts)]) {
        expect(q.loss).toBe(ref.loss);
        expect(q.zLoss).toBe(ref.zLoss);
        expectSameBits(q.grad, ref.grad, `grad ${t}`);
      }
    }
    fl.setNumThreads(initialThreads);
    expectSameBits(z, copy, 'input untouched');
  });
  it('a MultiTaskLoss task takes lseSquareScale and softcap: the same bits as the single call', () => {
    const mtl = new fl.MultiTaskLoss({
      tasks: { lm: { loss: 'crossEntropy', lseSquareScale: 1e-3, softcap: 6 }, aux: { loss: 'mseLoss' } },
    });
    const aux = r.floats(n * 2);
    const m = mtl.compute({
      lm: { input: z, target: y, shape: [n, c] },
      aux: { input: aux, target: aux.map((v) => v + 1), shape: [n, 2] },
    });
    const single = fl.crossEntropy(z, y, { shape: [n, c], lseSquareScale: 1e-3, softcap: 6 });
    expect(m.taskLosses.lm).toBe(single.loss);
    expectSameBits(m.grads.lm, single.grad, 'task gradient');
    const refMtl = new fl.MultiTaskLoss({
      tasks: { lm: { loss: 'crossEntropy', lseSquareScale: 1e-3, softcap: 6 } },
      backend: 'reference',
    });
    expectClose([refMtl.compute({ lm: { input: z, target: y, shape: [n, c] } }).taskLosses.lm], [single.loss], 1e-6, 0, 'reference task');
  });
});

describe('crossEntropy extras: bad input', () => {
  const z = rng(4).floats(24),
    y = Int32Array.from([0, 1, 2, 3]);
  const cases: [string, () => unknown, RegExp][] = [
    [
      'spatial dims',
      () => fl.crossEntropy(z, Int32Array.from([0, 1, 2, 0, 1, 2, 0, 1]), { shape: [2, 3, 4], lseSquareScale: 0.1 }),
      /need input \[N, C\]/,
    ],
    ['inplace with softcap', () => fl.crossEntropy(Float32Array.from(z), y, { shape: [4, 6], softcap: 2, inplace: true }), /inplace/],
    ['softcap 0', () => fl.crossEntropy(z, y, { shape: [4, 6], softcap: 0 }), /softcap/],
    ['negative lseSquareScale', () => fl.crossEntropy(z, y, { shape: [4, 6], lseSquareScale: -1 }), /lseSquareScale/],
    [
      'returnAccuracy with probabilities',
      () => fl.crossEntropy(z, new Float32Array(24), { shape: [4, 6], returnAccuracy: true }),
      /class-id targets/,
    ],
    ['nllLoss has no extras', () => fl.nllLoss(z, y, { shape: [4, 6], softcap: 2 } as never), /Unknown option 'softcap'/],
    [
      'return* in a MultiTaskLoss task',
      () =>
        new fl.MultiTaskLoss({ tasks: { a: { loss: 'crossEntropy', returnLse: true } } }).compute({
          a: { input: z, target: y, shape: [4, 6] },
        }),
      /returnLse/,
    ],
  ];
  for (const [label, f, message] of cases) it(label, () => expect(f).toThrow(message));
});
