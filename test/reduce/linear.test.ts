// Linear heads on the native GEMM: against the float64 reference at odd and large sizes, bit-identical
// for any thread count (and between AVX2 and AVX-512), accumulation, partial outputs and bad input.
import { afterAll, describe, expect, it } from 'vitest';
import { native } from '../../src/backends/binding';
import * as fl from '../../src/index';
import { expectSameBits, rng } from '../helpers';

const initialThreads = fl.getNumThreads();
const initialIsa = fl.runtimeInfo().isa;
afterAll(() => {
  fl.setNumThreads(initialThreads);
  fl.setIsa(initialIsa);
});

/** float32 GEMM vs float64 sums: |a − e| ≤ K·2⁻²²·max|term| + 1e-6 (terms here are at most 1·1). */
function expectGemmClose(a: Float32Array, e: Float32Array, k: number, label: string) {
  expect(a.length).toBe(e.length);
  const tol = k * 2 ** -22 + 1e-6;
  for (let i = 0; i < a.length; i++) if (!(Math.abs(a[i] - e[i]) <= tol)) expect.fail(`${label}[${i}]: ${a[i]} vs ${e[i]} (tol ${tol})`);
}

function problem(B: number, I: number, O: number, seed: number) {
  const r = rng(seed);
  const u = (n: number) => Float32Array.from({ length: n }, () => r.next() * 2 - 1);
  return { x: u(B * I), w: u(O * I), b: u(O), g: u(B * O), shape: { batch: B, inFeatures: I, outFeatures: O } };
}

const SIZES: [number, number, number][] = [
  [1, 1, 1],
  [1, 7, 129],
  [7, 1, 1000],
  [129, 7, 1],
  [7, 129, 13],
  [33, 1000, 17],
  [129, 129, 129],
  [100, 33, 1000],
  [300, 257, 95],
];

describe('linearForward / linearBackward', () => {
  for (const [B, I, O] of SIZES)
    it(`native vs reference at [batch ${B}, in ${I}, out ${O}]`, () => {
      const p = problem(B, I, O, B * 7 + I * 3 + O);
      const f = fl.linearForward(p.x, p.w, p.b, p.shape);
      const fr = fl.linearForward(p.x, p.w, p.b, { ...p.shape, backend: 'reference' });
      expectGemmClose(f.output, fr.output, I + 1, 'output');
      const g = fl.linearBackward(p.x, p.g, p.w, p.shape);
      const gr = fl.linearBackward(p.x, p.g, p.w, { ...p.shape, backend: 'reference' });
      expectGemmClose(g.gradWeight!, gr.gradWeight!, B, 'gradWeight');
      expectGemmClose(g.gradInput!, gr.gradInput!, O, 'gradInput');
      // the bias sums accumulate in float64 in both: the same float32 result
      expectSameBits(g.gradBias!, gr.gradBias!, 'gradBias');
    });

  it('a large head: [batch 512, in 1000, out 777]', () => {
    const p = problem(512, 1000, 777, 5);
    const g = fl.linearBackward(p.x, p.g, p.w, p.shape);
    const gr = fl.linearBackward(p.x, p.g, p.w, { ...p.shape, backend: 'reference' });
    expectGemmClose(g.gradWeight!, gr.gradWeight!, 512, 'gradWeight');
    expectGemmClose(g.gradInput!, gr.gradInput!, 777, 'gradInput');
  });

  it('bit-identical for 1, 2 and 3 threads, sync and async', async () => {
    const p = problem(700, 300, 600, 11);
    const runs = [1, 2, 3].map((t) => {
      fl.setNumThreads(t);
      return [fl.linearForward(p.x, p.w, p.b, p.shape).output, fl.linearBackward(p.x, p.g, p.w, p.shape)] as const;
    });
    fl.setNumThreads(initialThreads);
    const asyncF = await fl.linearForwardAsync(p.x, p.w, p.b, p.shape);
    const asyncB = await fl.linearBackwardAsync(p.x, p.g, p.w, p.shape);
    for (const [f, b] of [...runs.slice(1), [asyncF.output, asyncB] as const]) {
      expectSameBits(f, runs[0][0]);
      expectSameBits(b.gradWeight!, runs[0][1].gradWeight!);
      expectSameBits(b.gradBias!, runs[0][1].gradBias!);
      expectSameBits(b.gradInput!, runs[0][1].gradInput!);
    }
  });

  it('AVX2 and AVX-512 give the same bits (both fuse multiply-adds); baseline agrees within rounding', () => {
    const supported = fl.runtimeInfo().supportedIsas;
    const p = problem(99, 513, 70, 3);
    const at = (isa: fl.Isa) => {
      fl.setIsa(isa);
      return fl.linearBackward(p.x, p.g, p.w, p.shape);
    };
    const results = supported.map((isa) => [isa, at(isa)] as const);
    fl.setIsa(initialIsa);
    const fma = results.filter(([isa]) => isa !== 'baseline');
    for (const [, r] of fma.slice(1)) {
      expectSameBits(r.gradWeight!, fma[0][1].gradWeight!);
      expectSameBits(r.gradInput!, fma[0][1].gradInput!);
    }
    const base = results.find(([isa]) => isa === 'baseline')![1];
    const ref = fl.linearBackward(p.x, p.g, p.w, { ...p.shape, backend: 'reference' });
    expectGemmClose(base.gradWeight!, ref.gradWeight!, 99, 'baseline gradWeight');
    expectGemmClose(base.gradInput!, ref.gradInput!, 70, 'baseline gradInput');
  });

  for (const backend of ['native', 'reference'] as const)
    it(`${backend}: accumulate adds into out; compute selects the gradients; bias may be null`, () => {
      const p = problem(20, 9, 5, 2);
      const once = fl.linearBackward(p.x, p.g, p.w, { ...p.shape, backend });
      const out = { gradWeight: once.gradWeight!.slice(), gradBias: once.gradBias!.slice(), gradInput: once.gradInput!.slice() };
      const r = fl.linearBackward(p.x, p.g, p.w, { ...p.shape, backend, out, accumulate: true });
      expect(r.gradWeight).toBe(out.gradWeight);
      expectSameBits(
        out.gradWeight,
        once.gradWeight!.map((v) => Math.fround(v + v)),
      );
      expectSameBits(
        out.gradBias,
        once.gradBias!.map((v) => Math.fround(v + v)),
      );
      expectSameBits(
        out.gradInput,
        once.gradInput!.map((v) => Math.fround(v + v)),
      );
      const onlyInput = fl.linearBackward(null, p.g, p.w, { ...p.shape, backend, compute: { gradWeight: false, gradBias: false } });
      expect(Object.keys(onlyInput)).toEqual(['gradInput']);
      expectSameBits(onlyInput.gradInput!, once.gradInput!);
      const onlyWeight = fl.linearBackward(p.x, p.g, null, { ...p.shape, backend, compute: { gradInput: false } });
      expect(Object.keys(onlyWeight).sort()).toEqual(['gradBias', 'gradWeight']);
      const noBias = fl.linearForward(p.x, p.w, null, { ...p.shape, backend }).output;
      const withBias = fl.linearForward(p.x, p.w, p.b, { ...p.shape, backend }).output;
      expectGemmClose(
        withBias,
        noBias.map((v, i) => v + p.b[i % 5]),
        10,
        'bias',
      );
    });

  it('empty shapes: batch 0 gives zero parameter gradients; in 0 gives the bias', () => {
    const g = fl.linearBackward(new Float32Array(0), new Float32Array(0), new Float32Array(12), {
      batch: 0,
      inFeatures: 4,
      outFeatures: 3,
    });
    expect([...g.gradWeight!]).toEqual(new Array(12).fill(0));
    expect([...g.gradBias!]).toEqual([0, 0, 0]);
    const y = fl.linearForward(new Float32Array(0), new Float32Array(0), Float32Array.from([1, 2]), {
      batch: 3,
      inFeatures: 0,
      outFeatures: 2,
    });
    expect([...y.output]).toEqual([1, 2, 1, 2, 1, 2]);
  });

  describe('bad input: clear errors before anything is written', () => {
    const p = problem(4, 3, 2, 1);
    const cases: [string, () => unknown, RegExp, typeof TypeError | typeof RangeError][] = [
      ['x of the wrong length', () => fl.linearForward(p.x.subarray(1), p.w, p.b, p.shape), /x/, RangeError],
      ['weight of the wrong type', () => fl.linearForward(p.x, Array.from(p.w) as never, p.b, p.shape), /weight/, TypeError],
      ['bias of the wrong length', () => fl.linearForward(p.x, p.w, new Float32Array(3), p.shape), /bias/, RangeError],
      ['fractional batch', () => fl.linearForward(p.x, p.w, p.b, { ...p.shape, batch: 1.5 }), /batch/, RangeError],
      ['missing shape', () => fl.linearBackward(p.x, p.g, p.w, undefined as never), /options/, TypeError],
      ['gradOut of the wrong length', () => fl.linearBackward(p.x, new Float32Array(7), p.w, p.shape), /gradOut/, RangeError],
      ['x missing for gradWeight', () => fl.linearBackward(null, p.g, p.w, p.shape), /x/, TypeError],
      [
        'accumulate without out',
        () => fl.linearBackward(p.x, p.g, p.w, { ...p.shape, accumulate: true }),
        /accumulate needs out/,
        TypeError,
      ],
      [
        'out overlapping an input',
        () => fl.linearBackward(p.x, p.g, p.w, { ...p.shape, out: { gradInput: p.x } }),
        /overlaps x/,
        RangeError,
      ],
      [
        'outputs overlapping each other',
        () => {
          const buf = new Float32Array(20);
          return fl.linearBackward(p.x, p.g, p.w, { ...p.shape, out: { gradWeight: buf.subarray(0, 6), gradInput: buf.subarray(4, 16) } });
        },
        /overlaps/,
        RangeError,
      ],
    ];
    for (const [name, f, message, kind] of cases)
      it(name, () => {
        expect(f).toThrow(kind);
        expect(f).toThrow(message);
      });

    it('the native layer re-checks sizes and aliasing itself', () => {
      const b = native();
      expect(() => b.linearBackward(p.x, p.g, p.w, 4, 3, 3, new Float32Array(6), null, null, false)).toThrow(RangeError);
      expect(() => b.linearBackward(p.x, p.g, p.w, 4, 3, 2, null, null, p.x, false)).toThrow(/overlaps/);
      expect(() => b.linearForward(p.x, p.w, null, 4, 3, 2, new Float32Array(7))).toThrow(RangeError);
    });
  });
});

describe("fmaPeak: the benchmarks' GEMM roofline", () => {
  it('one thread and all threads at once give positive rates; all threads at most threads × one', () => {
    const one = fl.internal.fmaPeak(20),
      all = fl.internal.fmaPeak(20, true);
    expect(one).toBeGreaterThan(0.1);
    expect(all).toBeGreaterThan(0.1);
    expect(all).toBeLessThan(fl.getNumThreads() * one * 1.5); // a margin for timing noise
  });
});

describe('multiHeadBackward', () => {
  const B = 97,
    I = 70;
  const heads = () => {
    const r = rng(31);
    const u = (n: number) => Float32Array.from({ length: n }, () => r.next() * 2 - 1);
    return {
      species: { weight: u(10 * I), gradOut: u(B * 10), outFeatures: 10 },
      sex: { weight: u(1 * I), gradOut: u(B * 1), outFeatures: 1, bias: false },
      mass: { weight: u(300 * I), gradOut: u(B * 300), outFeatures: 300 },
    };
  };
  const x = rng(32).floats(B * I);

  for (const backend of ['native', 'reference'] as const)
    it(`${backend}: each head equals linearBackward; Gram, norms and the shared gradient equal gramMatrix and combineGradients`, () => {
      const hs = heads();
      for (const method of ['sum', 'mgda', 'pcgrad'] as const) {
        const r = fl.multiHeadBackward(x, hs, { batch: B, inFeatures: I, combine: { method }, backend });
        for (const [name, h] of Object.entries(hs)) {
          const single = fl.linearBackward(x, h.gradOut, h.weight, { batch: B, inFeatures: I, outFeatures: h.outFeatures, backend });
          expectSameBits(r.heads[name].gradWeight, single.gradWeight!, `${name} gradWeight`);
          expectSameBits(r.heads[name].gradInput, single.gradInput!, `${name} gradInput`);
          if ((h as fl.HeadInput).bias === false) expect(r.heads[name].gradBias).toBeUndefined();
          else expectSameBits(r.heads[name].gradBias!, single.gradBias!, `${name} gradBias`);
        }
        const gs = Object.values(r.heads).map((h) => h.gradInput);
        const G = fl.gramMatrix(gs, { backend });
        expectSameBits(new Float32Array(r.gram.buffer), new Float32Array(G.buffer));
        Object.keys(hs).forEach((name, t) => expect(r.gradNorms[name]).toBe(Math.sqrt(G[t * 3 + t])));
        const c = fl.combineGradients(gs, { method, backend });
        expectSameBits(r.sharedGrad!, c.grad, `${method} shared`);
      }
    });

  it('heads sharing their arrays (one packed copy of x and of a shared gradOut, over several K slices) equal linearBackward', () => {
    // batch 900 is three K slices of the gradWeight GEMM, out 200 three slices of gradInput's; in 300 spans two column blocks.
    const Bb = 900,
      Ib = 300,
      O = 200,
      r = rng(35);
    const u = (n: number) => Float32Array.from({ length: n }, () => r.next() * 2 - 1);
    const xb = u(Bb * Ib),
      shared = u(Bb * O);
    const hs = {
      a: { weight: u(O * Ib), gradOut: shared, outFeatures: O },
      b: { weight: u(O * Ib), gradOut: shared, outFeatures: O },
      c: { weight: u(7 * Ib), gradOut: u(Bb * 7), outFeatures: 7 },
    };
    for (const threads of [1, initialThreads]) {
      fl.setNumThreads(threads);
      const m = fl.multiHeadBackward(xb, hs, { batch: Bb, inFeatures: Ib, combine: false });
      for (const [name, h] of Object.entries(hs)) {
        const single = fl.linearBackward(xb, h.gradOut, h.weight, { batch: Bb, inFeatures: Ib, outFeatures: h.outFeatures });
        expectSameBits(m.heads[name].gradWeight, single.gradWeight!, `${name} gradWeight`);
        expectSameBits(m.heads[name].gradInput, single.gradInput!, `${name} gradInput`);
        const ref = fl.linearBackward(xb, h.gradOut, h.weight, {
          batch: Bb,
          inFeatures: Ib,
          outFeatures: h.outFeatures,
          backend: 'reference',
        });
        expectGemmClose(m.heads[name].gradWeight, ref.gradWeight!, Bb, `${name} gradWeight vs reference`);
        expectGemmClose(m.heads[name].gradInput, ref.gradInput!, h.outFeatures, `${name} gradInput vs reference`);
      }
    }
    fl.setNumThreads(initialThreads);
  });

  it('thread count and async change no bits; combine: false returns no shared gradient', async () => {
    const hs = heads();
    fl.setNumThreads(1);
    const a = fl.multiHeadBackward(x, hs, { batch: B, inFeatures: I, combine: { method: 'cagrad' } });
    fl.setNumThreads(initialThreads);
    const b = await fl.multiHeadBackwardAsync(x, hs, { batch: B, inFeatures: I, combine: { method: 'cagrad' } });
    expectSameBits(a.sharedGrad!, b.sharedGrad!);
    for (const name of Object.keys(hs)) expectSameBits(a.heads[name].gradWeight, b.heads[name].gradWeight);
    const n = fl.multiHeadBackward(x, hs, { batch: B, inFeatures: I, combine: false });
    expect(n.sharedGrad).toBeNull();
  });

  it("feeds GradNorm: weightedGradNorms from MultiTaskLoss's weighted grads equal gradNorms of the unweighted ones", () => {
    const tasks = { a: { loss: 'mseLoss' }, b: { loss: 'mseLoss' } } as const;
    const r0 = rng(40);
    const W = { a: r0.floats(4 * I), b: r0.floats(2 * I) };
    const batch = {
      a: { input: r0.floats(B * 4), target: r0.floats(B * 4), shape: [B, 4] },
      b: { input: r0.floats(B * 2), target: r0.floats(B * 2), shape: [B, 2] },
    };
    const run = (useWeighted: boolean) => {
      const m = new fl.MultiTaskLoss({ tasks, weighting: { strategy: 'gradnorm', optimizer: 'sgd', lr: 0.05 } });
      for (let step = 0; step < 3; step++) {
        const r = m.compute(batch);
        const mh = fl.multiHeadBackward(
          x,
          {
            a: { weight: W.a, gradOut: r.grads.a, outFeatures: 4 },
            b: { weight: W.b, gradOut: r.grads.b, outFeatures: 2 },
          },
          { batch: B, inFeatures: I, combine: false },
        );
        if (useWeighted) m.endStep({ weightedGradNorms: mh.gradNorms });
        else m.endStep({ gradNorms: { a: mh.gradNorms.a / r.weights.a, b: mh.gradNorms.b / r.weights.b } });
      }
      return m.currentWeights()!;
    };
    const a = run(true),
      b = run(false);
    expect(a.a).toBeCloseTo(b.a, 12);
    expect(a.b).toBeCloseTo(b.b, 12);
    expect(a.a).not.toBe(1);
  });

  it('bad input: wrong head shapes, overlapping outputs, missing accumulate buffers', () => {
    const hs = heads();
    expect(() => fl.multiHeadBackward(x, { ...hs, sex: { ...hs.sex, outFeatures: 2 } }, { batch: B, inFeatures: I })).toThrow(
      /heads\.sex\.weight/,
    );
    expect(() => fl.multiHeadBackward(x, {}, { batch: B, inFeatures: I })).toThrow(/at least one head/);
    const shared = new Float32Array(B * I);
    expect(() =>
      fl.multiHeadBackward(
        x,
        { a: { ...hs.sex, out: { gradInput: shared } }, b: { ...hs.species, out: { gradInput: shared } } },
        { batch: B, inFeatures: I },
      ),
    ).toThrow(/overlaps/);
    expect(() => fl.multiHeadBackward(x, hs, { batch: B, inFeatures: I, accumulate: true })).toThrow(/accumulate needs/);
    expect(() => fl.multiHeadBackward(x, hs, { batch: B, inFeatures: I, combine: { method: 'nope' as 'sum' } })).toThrow(/method/);
  });
});
