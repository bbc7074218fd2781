// linearCrossEntropy: PyTorch golden values (float64 autograd of F.linear + the loss, z-loss and soft-cap
// written out; scripts/gen-fixtures-linear-ce.py), the float64 reference, bits across threads and ISA
// levels, the unfused path (linearForward + crossEntropy + linearBackward), finite differences, outputs,
// accumulation, and bad input before anything is written.
import { afterAll, describe, expect, it } from 'vitest';
import * as fl from '../../src/index';
import { decode, expectClose, expectSameBits, loadFixtures, rng } from '../helpers';

const initialThreads = fl.getNumThreads();
const initialIsa = fl.runtimeInfo().isa;
afterAll(() => {
  fl.setNumThreads(initialThreads);
  fl.setIsa(initialIsa);
});

interface Case {
  name: string;
  n: number;
  h: number;
  c: number;
  input: (number | string)[];
  linearWeight: (number | string)[];
  linearBias?: (number | string)[];
  targetKind: 'index' | 'prob';
  target: (number | string)[];
  options: {
    reduction: 'mean' | 'sum' | 'none';
    labelSmoothing: number;
    lseSquareScale: number;
    gradScale: number;
    softcap?: number;
    chunkSize?: number;
    weight?: (number | string)[];
    sampleWeight?: (number | string)[];
    gradOutput?: (number | string)[];
  };
  loss: number | string | (number | string)[];
  zLoss: number | string;
  lse: (number | string)[];
  accuracy: number | string;
  gradInput: (number | string)[];
  gradLinearWeight: (number | string)[];
  gradLinearBias?: (number | string)[];
}
const fixtures = loadFixtures('linearCrossEntropy') as unknown as { torch: string; cases: Case[] };
const num = (v: number | string) => (typeof v === 'string' ? Number(v) : v);

function args(c: Case) {
  const target = c.targetKind === 'index' ? Int32Array.from(c.target as number[]) : decode(c.target);
  const o = c.options;
  const options: fl.LinearCrossEntropyOptions = {
    shape: [c.n, c.h],
    reduction: o.reduction,
    labelSmoothing: o.labelSmoothing,
    lseSquareScale: o.lseSquareScale,
    gradScale: o.gradScale,
    softcap: o.softcap,
    chunkSize: o.chunkSize,
    returnZLoss: true,
    returnLse: true,
    returnAccuracy: c.targetKind === 'index',
    linearBias: c.linearBias ? decode(c.linearBias) : undefined,
    weight: o.weight ? decode(o.weight) : undefined,
    sampleWeight: o.sampleWeight ? decode(o.sampleWeight) : undefined,
    gradOutput: o.gradOutput ? decode(o.gradOutput) : undefined,
  };
  return [decode(c.input), decode(c.linearWeight), target, options] as const;
}

function check(c: Case, r: fl.LinearCrossEntropyResult, tol: number) {
  if (Array.isArray(c.loss)) expectClose(r.loss as Float32Array, c.loss.map(num), tol, tol, 'loss');
  else expectClose([r.loss as number], [num(c.loss)], tol, 0, 'loss');
  expectClose([r.zLoss!], [num(c.zLoss)], tol, 1e-7, 'zLoss');
  expectClose(r.lse!, c.lse.map(num), tol, tol, 'lse');
  if (c.targetKind === 'index') expectClose([r.accuracy!], [num(c.accuracy)], 0, 0, 'accuracy');
  expectClose(r.gradInput, c.gradInput.map(num), tol, tol, 'gradInput');
  expectClose(r.gradLinearWeight, c.gradLinearWeight.map(num), tol, tol, 'gradLinearWeight');
  if (c.gradLinearBias) expectClose(r.gradLinearBias!, c.gradLinearBias.map(num), tol, tol, 'gradLinearBias');
  else expect(r.gradLinearBias).toBeUndefined();
}

describe(`linearCrossEntropy vs PyTorch ${fixtures.torch} (float64 autograd)`, () => {
  it('covers the option matrix', () => {
    expect(fixtures.cases.length).toBeGreaterThan(30);
    for (const k of ['softcap', 'z-loss', 'probabilities', 'all rows ignored', 'C = 1', 'several chunks'])
      expect(
        fixtures.cases.some((c) => c.name.includes(k)),
        k,
      ).toBe(true);
  });
  for (const c of fixtures.cases) {
    it(`native: ${c.name}`, () => check(c, fl.linearCrossEntropy(...args(c)), 2e-5));
    it(`reference: ${c.name}`, () =>
      check(c, fl.linearCrossEntropy(args(c)[0], args(c)[1], args(c)[2], { ...args(c)[3], backend: 'reference' }), 1e-6));
  }
});

function problem(seed: number, n: number, h: number, c: number) {
  const r = rng(seed);
  const target = Int32Array.from({ length: n }, () => r.int(0, c));
  for (let i = 0; i < n; i += 7) target[i] = -100;
  return {
    x: r.floats(n * h),
    w: r.floats(c * h, 0.2),
    b: r.floats(c, 0.5),
    cw: Float32Array.from({ length: c }, () => 0.5 + r.next()),
    target,
  };
}

describe('linearCrossEntropy: bits and agreement', () => {
  const n = 150,
    h = 40,
    c = 2100; // two vocabulary blocks, several chunks at chunkSize 32
  const p = problem(3, n, h, c);
  const opts = {
    shape: [n, h],
    linearBias: p.b,
    weight: p.cw,
    labelSmoothing: 0.1,
    lseSquareScale: 1e-3,
    softcap: 20,
    chunkSize: 32,
    returnLse: true,
    returnZLoss: true,
    returnAccuracy: true,
  };

  it('the same bits for 1, 2 and 3 threads, sync and async, on every ISA level', async () => {
    for (const isa of fl.runtimeInfo().supportedIsas) {
      fl.setIsa(isa);
      fl.setNumThreads(1);
      const ref = fl.linearCrossEntropy(p.x, p.w, p.target, opts);
      for (const t of [2, 3]) {
        fl.setNumThreads(t);
        const r = fl.linearCrossEntropy(p.x, p.w, p.target, opts);
        const a = await fl.linearCrossEntropyAsync(p.x, p.w, p.target, opts);
        for (const q of [r, a]) {
          expect(q.loss).toBe(ref.loss);
          expect(q.zLoss).toBe(ref.zLoss);
          expect(q.accuracy).toBe(ref.accuracy);
          expectSameBits(q.gradInput, ref.gradInput, `${isa} ${t} gradInput`);
          expectSameBits(q.gradLinearWeight, ref.gradLinearWeight, `${isa} ${t} gradLinearWeight`);
          expectSameBits(q.gradLinearBias!, ref.gradLinearBias!, `${isa} ${t} gradLinearBias`);
          expectSameBits(q.lse!, ref.lse!, `${isa} ${t} lse`);
        }
      }
      fl.setNumThreads(initialThreads);
    }
    fl.setIsa(initialIsa);
  });

  it('matches the float64 reference and itself across chunk sizes', () => {
    const ref = fl.linearCrossEntropy(p.x, p.w, p.target, { ...opts, backend: 'reference' });
    for (const chunkSize of [1, 7, 32, 150, 1000]) {
      const r = fl.linearCrossEntropy(p.x, p.w, p.target, { ...opts, chunkSize });
      expectClose([r.loss], [ref.loss], 1e-6, 0, `loss chunk ${chunkSize}`);
      expectClose([r.zLoss!], [ref.zLoss!], 1e-5, 0, `zLoss chunk ${chunkSize}`);
      expectClose(r.gradInput, ref.gradInput, 1e-4, 1e-5, `gradInput chunk ${chunkSize}`);
      expectClose(r.gradLinearWeight, ref.gradLinearWeight, 1e-4, 1e-5, `gradLinearWeight chunk ${chunkSize}`);
      expectClose(r.gradLinearBias!, ref.gradLinearBias!, 1e-4, 1e-5, `gradLinearBias chunk ${chunkSize}`);
    }
  });

  it('equals the unfused path (linearForward + crossEntropy + linearBackward) within 1e-6 relative', () => {
    const s = { batch: n, inFeatures: h, outFeatures: c };
    const logits = fl.linearForward(p.x, p.w, p.b, s).output;
    const ce = fl.crossEntropy(logits, p.target, { shape: [n, c], weight: p.cw, labelSmoothing: 0.1 });
    const g = fl.linearBackward(p.x, ce.grad, p.w, s);
    const r = fl.linearCrossEntropy(p.x, p.w, p.target, {
      shape: [n, h],
      linearBias: p.b,
      weight: p.cw,
      labelSmoothing: 0.1,
      chunkSize: 32,
    });
    expectClose([r.loss], [ce.loss], 1e-6, 0, 'loss');
    expectClose(r.gradInput, g.gradInput!, 1e-6, 1e-6, 'gradInput');
    expectClose(r.gradLinearWeight, g.gradWeight!, 1e-6, 1e-6, 'gradLinearWeight');
    expectClose(r.gradLinearBias!, g.gradBias!, 1e-6, 1e-6, 'gradLinearBias');
    // one chunk: the logits, the loss kernel and the gradInput product are those of the unfused calls
    const one = fl.linearCrossEntropy(p.x, p.w, p.target, {
      shape: [n, h],
      linearBias: p.b,
      weight: p.cw,
      labelSmoothing: 0.1,
      chunkSize: n,
    });
    expect(one.loss).toBe(ce.loss);
    expectSameBits(one.gradInput, g.gradInput!, 'gradInput, one chunk');
  });
});

describe('linearCrossEntropy: the reference against finite differences', () => {
  const n = 5,
    h = 4,
    c = 6;
  const p = problem(11, n, h, c);
  p.target[0] = 2;
  const probs = Float32Array.from({ length: n * c }, (_, i) => ((i * 37) % 11) / 11);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < c; k++) s += probs[i * c + k];
    for (let k = 0; k < c; k++) probs[i * c + k] /= s;
  }
  for (const [label, target] of [
    ['class ids', p.target],
    ['probabilities', probs],
  ] as const)
    it(`weights, smoothing, z-loss, soft-cap, sample weights (${label})`, () => {
      const base = {
        shape: [n, h],
        weight: p.cw,
        labelSmoothing: 0.2,
        lseSquareScale: 0.05,
        softcap: 1.5,
        sampleWeight: Float32Array.from({ length: n }, (_, i) => 0.5 + i / 4),
        backend: 'reference' as const,
      };
      const x = Float64Array.from(p.x),
        w = Float64Array.from(p.w),
        b = Float64Array.from(p.b);
      const lossAt = (xx: Float64Array, ww: Float64Array, bb: Float64Array) => {
        // the reference in float64 end to end: Float32Array inputs round, so step with float64 copies via the same code
        return fl.linearCrossEntropy(Float32Array.from(xx), Float32Array.from(ww), target, { ...base, linearBias: Float32Array.from(bb) })
          .loss;
      };
      const r = fl.linearCrossEntropy(p.x, p.w, target, { ...base, linearBias: p.b });
      const eps = 1e-2; // float32 inputs: a step the rounding of the inputs cannot hide
      for (const [arr, grad, which] of [
        [x, r.gradInput, 0],
        [w, r.gradLinearWeight, 1],
        [b, r.gradLinearBias!, 2],
      ] as const)
        for (let i = 0; i < arr.length; i += 3) {
          const up = Float64Array.from(arr),
            dn = Float64Array.from(arr);
          up[i] += eps;
          dn[i] -= eps;
          const f = (a: Float64Array) => lossAt(which === 0 ? a : x, which === 1 ? a : w, which === 2 ? a : b);
          const fd = (f(up) - f(dn)) / (2 * eps);
          expect(Math.abs(fd - grad[i]), `d/d${['input', 'linearWeight', 'linearBias'][which]}[${i}]`).toBeLessThan(
            2e-4 + 1e-2 * Math.abs(fd),
          );
        }
    });
});

describe('linearCrossEntropy: outputs, accumulate, compute', () => {
  const n = 20,
    h = 8,
    c = 30;
  const p = problem(5, n, h, c);
  it('writes into out and adds with accumulate (gradient accumulation over two micro-batches)', () => {
    const out = { gradInput: new Float32Array(n * h), gradLinearWeight: new Float32Array(c * h), gradLinearBias: new Float32Array(c) };
    const r = fl.linearCrossEntropy(p.x, p.w, p.target, { shape: [n, h], linearBias: p.b, out });
    expect(r.gradInput).toBe(out.gradInput);
    expect(r.gradLinearWeight).toBe(out.gradLinearWeight);
    expect(r.gradLinearBias).toBe(out.gradLinearBias);
    const once = { w: Float32Array.from(out.gradLinearWeight), b: Float32Array.from(out.gradLinearBias) };
    fl.linearCrossEntropy(p.x, p.w, p.target, { shape: [n, h], linearBias: p.b, out, accumulate: true });
    expectClose(
      out.gradLinearWeight,
      once.w.map((v) => 2 * v),
      1e-6,
      1e-7,
      'accumulated gradLinearWeight',
    );
    expectClose(
      out.gradLinearBias,
      once.b.map((v) => 2 * v),
      1e-6,
      1e-7,
      'accumulated gradLinearBias',
    );
  });
  it('compute skips gradients (zero-length results), the rest unchanged', () => {
    const all = fl.linearCrossEntropy(p.x, p.w, p.target, { shape: [n, h], linearBias: p.b });
    const some = fl.linearCrossEntropy(p.x, p.w, p.target, {
      shape: [n, h],
      linearBias: p.b,
      compute: { gradInput: false, gradLinearBias: false },
    });
    expect(some.gradInput.length).toBe(0);
    expect(some.gradLinearBias).toBeUndefined();
    expect(some.loss).toBe(all.loss);
    expectSameBits(some.gradLinearWeight, all.gradLinearWeight, 'gradLinearWeight');
  });
  it('accumulate and compute: native and reference agree (into preset outputs, one gradient skipped)', () => {
    const start = () => ({ gradLinearWeight: rng(8).floats(c * h), gradLinearBias: rng(9).floats(c) });
    const run = (backend: 'native' | 'reference') => {
      const out = start();
      const r = fl.linearCrossEntropy(p.x, p.w, p.target, {
        shape: [n, h],
        linearBias: p.b,
        out,
        accumulate: true,
        compute: { gradInput: false },
        labelSmoothing: 0.1,
        lseSquareScale: 1e-2,
        backend,
      });
      expect(r.gradInput.length).toBe(0);
      return { r, out };
    };
    const a = run('native'),
      b = run('reference');
    expectClose([a.r.loss], [b.r.loss], 1e-6, 0, 'loss');
    expectClose(a.out.gradLinearWeight, b.out.gradLinearWeight, 1e-5, 1e-6, 'accumulated gradLinearWeight');
    expectClose(a.out.gradLinearBias, b.out.gradLinearBias, 1e-5, 1e-6, 'accumulated gradLinearBias');
    // and the accumulated sums are start + one call's gradients
    const fresh = fl.linearCrossEntropy(p.x, p.w, p.target, {
      shape: [n, h],
      linearBias: p.b,
      labelSmoothing: 0.1,
      lseSquareScale: 1e-2,
      backend: 'reference',
    });
    const s0 = start();
    expectClose(
      b.out.gradLinearWeight,
      s0.gradLinearWeight.map((v, i) => v + fresh.gradLinearWeight[i]),
      1e-6,
      1e-7,
      'start + gradients',
    );
  });
  it('accepts tensors ({ data, dims }) and int64 targets', () => {
    const a = fl.linearCrossEntropy(
      { data: p.x, dims: [n, h] },
      { data: p.w, dims: [c, h] },
      BigInt64Array.from(p.target, (v) => BigInt(v)),
    );
    const b = fl.linearCrossEntropy(p.x, p.w, p.target, { shape: [n, h] });
    expect(a.loss).toBe(b.loss);
  });
  it('N = 0: loss NaN for mean, 0 for sum, zero gradients', () => {
    const r = fl.linearCrossEntropy(new Float32Array(0), p.w, new Int32Array(0), { shape: [0, h], linearBias: p.b });
    expect(r.loss).toBeNaN();
    expect(r.gradLinearWeight.every((v) => v === 0)).toBe(true);
    expect(r.gradLinearBias!.every((v) => v === 0)).toBe(true);
    expect(fl.linearCrossEntropy(new Float32Array(0), p.w, new Int32Array(0), { shape: [0, h], reduction: 'sum' }).loss).toBe(0);
  });
});

describe('linearCrossEntropy: bad input, before anything is written', () => {
  const n = 6,
    h = 4,
    c = 5;
  const p = problem(9, n, h, c);
  const call = (over: Record<string, unknown>, w: unknown = p.w, target: unknown = p.target, x: unknown = p.x) =>
    fl.linearCrossEntropy(
      x as Float32Array,
      w as Float32Array,
      target as Int32Array,
      { shape: [n, h], ...over } as fl.LinearCrossEntropyOptions,
    );
  const cases: [string, () => unknown, RegExp][] = [
    ['linearWeight length not a multiple of H', () => call({}, new Float32Array(c * h + 1)), /linearWeight/],
    ['linearWeight not a Float32Array', () => call({}, [1, 2, 3, 4]), /linearWeight/],
    ['linearWeight dims disagree with H', () => call({}, { data: p.w, dims: [h, c] }), /linearWeight\.dims/],
    ['input not 2-D', () => fl.linearCrossEntropy(p.x, p.w, p.target, { shape: [n, 2, 2] }), /2 dims/],
    ['bias of the wrong length', () => call({ linearBias: new Float32Array(c + 1) }), /linearBias/],
    ['class weights of the wrong length', () => call({ weight: new Float32Array(c - 1) }), /weight/],
    ['a class id out of range', () => call({}, p.w, Int32Array.from([0, 1, 2, 3, 4, 5])), /target\[5\] = 5/],
    ['target of the wrong length', () => call({}, p.w, new Int32Array(n + 1)), /target/],
    ['probabilities of the wrong length', () => call({}, p.w, new Float32Array(n)), /probabilities/],
    ['chunkSize 0', () => call({ chunkSize: 0 }), /chunkSize/],
    ['chunkSize not an integer', () => call({ chunkSize: 2.5 }), /chunkSize/],
    ['softcap 0', () => call({ softcap: 0 }), /softcap/],
    ['negative lseSquareScale', () => call({ lseSquareScale: -1 }), /lseSquareScale/],
    ['an unknown option', () => call({ chunksize: 4 }), /Unknown option 'chunksize'/],
    ['an unknown out key', () => call({ out: { grad: new Float32Array(1) } }), /Unknown key 'grad'/],
    ['out.gradInput of the wrong length', () => call({ out: { gradInput: new Float32Array(3) } }), /out\.gradInput/],
    ['out.gradInput overlapping input', () => call({ out: { gradInput: p.x } }), /out\.gradInput overlaps input/],
    [
      'two outputs overlapping',
      () => {
        const buf = new Float32Array(n * h + c * h);
        return call({ out: { gradInput: buf.subarray(0, n * h), gradLinearWeight: buf.subarray(n * h - 1, n * h - 1 + c * h) } });
      },
      /overlaps/,
    ],
    ['accumulate without out', () => call({ accumulate: true }), /accumulate needs out\.gradInput/],
    ['gradOutput with mean', () => call({ gradOutput: new Float32Array(n) }), /gradOutput/],
    ['returnAccuracy with probabilities', () => call({ returnAccuracy: true }, p.w, new Float32Array(n * c)), /class-id targets/],
    ['backend cuda', () => call({ backend: 'cuda' }), /'native' \| 'reference'/],
    [
      'nanPolicy raise with a NaN weight',
      () => {
        const w = Float32Array.from(p.w);
        w[7] = NaN;
        return call({ nanPolicy: 'raise' }, w);
      },
      /linearWeight\[7\]/,
    ],
  ];
  for (const [label, f, message] of cases)
    it(label, () => {
      expect(f).toThrow(message);
      try {
        f();
      } catch (e) {
        expect(e instanceof TypeError || e instanceof RangeError, String(e)).toBe(true);
      }
    });
  it('nothing is written on an error found late (a bad class id after valid outputs)', async () => {
    const out = { gradInput: new Float32Array(n * h).fill(7), gradLinearWeight: new Float32Array(c * h).fill(7) };
    const bad = Int32Array.from(p.target);
    bad[n - 1] = c;
    expect(() => call({ out }, p.w, bad)).toThrow(RangeError);
    expect(out.gradInput.every((v) => v === 7) && out.gradLinearWeight.every((v) => v === 7)).toBe(true);
    await expect(fl.linearCrossEntropyAsync(p.x, p.w, bad, { shape: [n, h] })).rejects.toThrow(/target\[5\]/);
  });
});
