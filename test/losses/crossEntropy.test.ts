// crossEntropy: native vs PyTorch golden values, native vs reference on random problems over every
// option, determinism (threads, ISA levels), async, outputs (preallocated, in place), tensor inputs.
// Tolerances: gradients |a-e| <= 1e-5·|e| + 1e-6·max|e|; losses 1e-5 relative. Native vs native
// (threads, ISA levels, async) must be bit-identical.
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import {
  crossEntropy,
  crossEntropyAsync,
  getNumThreads,
  runtimeInfo,
  setIsa,
  setNumThreads,
  type CrossEntropyOptions,
  type Isa,
} from '../../src/index';
import { decode, expectSameBits, expectClose, loadFixtures, rng, type FixtureCase } from '../helpers';

const fixtures = loadFixtures('crossEntropy');
const initialThreads = getNumThreads();
const initialIsa = runtimeInfo().isa;
afterAll(() => {
  setNumThreads(initialThreads);
  setIsa(initialIsa);
});

function fixtureArgs(c: FixtureCase) {
  const input = decode(c.input);
  const target = c.targetKind === 'index' ? Int32Array.from(c.target as number[]) : decode(c.target);
  const o = c.options;
  const options: CrossEntropyOptions = {
    shape: c.shape,
    reduction: o.reduction,
    ignoreIndex: o.ignoreIndex,
    labelSmoothing: o.labelSmoothing,
    weight: o.weight ? decode(o.weight) : undefined,
    gradOutput: o.gradOutput ? decode(o.gradOutput) : undefined,
    gradScale: o.gradScale,
    sampleWeight: o.sampleWeight ? decode(o.sampleWeight) : undefined,
  };
  return { input, target, options };
}

function checkAgainstFixture(c: FixtureCase, r: { loss: number | Float32Array; grad: Float32Array }) {
  if (Array.isArray(c.loss)) expectClose(r.loss as Float32Array, decode(c.loss), 1e-5, 1e-6, `${c.name} loss`);
  else expectClose([r.loss as number], decode([c.loss]), 1e-5, 0, `${c.name} loss`);
  expectClose(r.grad, decode(c.grad), 1e-5, 1e-6, `${c.name} grad`);
}

describe(`crossEntropy vs PyTorch ${fixtures.torch} golden values`, () => {
  it('covers the option matrix', () => expect(fixtures.cases.length).toBeGreaterThan(100));
  for (const c of fixtures.cases) {
    it(`native: ${c.name}`, () => {
      const { input, target, options } = fixtureArgs(c);
      checkAgainstFixture(c, crossEntropy(input, target, options));
    });
    it(`reference: ${c.name}`, () => {
      const { input, target, options } = fixtureArgs(c);
      checkAgainstFixture(c, crossEntropy(input, target, { ...options, backend: 'reference' }));
    });
  }
});

interface RandomProblem {
  input: Float32Array;
  target: Int32Array | Float32Array;
  options: CrossEntropyOptions;
}

function randomProblem(seed: number, shape: number[], kind: 'index' | 'prob', opts: Partial<CrossEntropyOptions>): RandomProblem {
  const r = rng(seed);
  const [n, c] = shape.length === 1 ? [1, shape[0]] : [shape[0], shape[1]];
  const s = shape.slice(2).reduce((a, b) => a * b, 1);
  const input = r.floats(n * c * s, 3);
  let target: Int32Array | Float32Array;
  const ignoreIndex = opts.ignoreIndex ?? -100;
  if (kind === 'index') {
    target = Int32Array.from({ length: n * s }, () => (r.next() < 0.15 ? ignoreIndex : r.int(0, c)));
  } else {
    target = new Float32Array(n * c * s);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < s; j++) {
        let z = 0;
        for (let k = 0; k < c; k++) z += target[(i * c + k) * s + j] = Math.exp(2 * r.next());
        for (let k = 0; k < c; k++) target[(i * c + k) * s + j] /= z;
      }
  }
  const options: CrossEntropyOptions = { shape, ...opts };
  if (opts.weight) options.weight = Float32Array.from({ length: c }, () => 0.2 + r.next());
  if (opts.gradOutput) options.gradOutput = r.floats(n * s);
  if (opts.sampleWeight) options.sampleWeight = Float32Array.from({ length: n }, () => 2 * r.next());
  return { input, target, options };
}

describe('native vs reference on random problems', () => {
  const shapes = [
    [1, 1],
    [9, 3],
    [13, 16],
    [7, 17],
    [5, 100],
    [3, 1000],
    [2, 4099],
    [3, 5, 16],
    [2, 7, 3, 7],
    [4, 33],
    [2, 6, 40],
  ];
  let seed = 1;
  for (const shape of shapes)
    for (const kind of ['index', 'prob'] as const)
      for (const reduction of ['mean', 'sum', 'none'] as const)
        for (const weight of [false, true])
          for (const labelSmoothing of [0, 0.1]) {
            const opts: Partial<CrossEntropyOptions> = {
              reduction,
              labelSmoothing,
              weight: weight ? new Float32Array(0) : undefined,
              gradOutput: reduction === 'none' ? new Float32Array(0) : undefined,
              gradScale: reduction === 'none' ? 1 : 0.5,
              ignoreIndex: seed % 2 ? -100 : 1,
              sampleWeight: seed % 3 === 0 ? new Float32Array(0) : undefined,
            };
            const s = seed++;
            it(`[${shape}] ${kind} ${reduction} weight=${weight} ls=${labelSmoothing}`, () => {
              const p = randomProblem(s, shape, kind, opts);
              const nat = crossEntropy(p.input, p.target, p.options);
              const ref = crossEntropy(p.input, p.target, { ...p.options, backend: 'reference' });
              if (reduction === 'none') expectClose(nat.loss as Float32Array, ref.loss as Float32Array, 1e-5, 1e-6, 'loss');
              else expectClose([nat.loss as number], [ref.loss as number], 1e-5, 0, 'loss');
              expectClose(nat.grad, ref.grad, 1e-5, 1e-6, 'grad');
            });
          }
});

describe('determinism', () => {
  const problems = [
    randomProblem(101, [517, 1000], 'index', { reduction: 'mean', labelSmoothing: 0.1, weight: new Float32Array(0) }),
    randomProblem(102, [64, 4099], 'prob', { reduction: 'sum', labelSmoothing: 0.05 }),
    randomProblem(103, [3, 21, 37, 41], 'index', { reduction: 'none', weight: new Float32Array(0) }),
    randomProblem(104, [40000, 3], 'index', { reduction: 'mean' }),
  ];
  const run = (p: RandomProblem) => crossEntropy(p.input, p.target, p.options);
  const same = (a: ReturnType<typeof run>, b: ReturnType<typeof run>) => {
    if (typeof a.loss === 'number') expect(Object.is(a.loss, b.loss)).toBe(true);
    else expectSameBits(a.loss, b.loss as Float32Array);
    expectSameBits(a.grad, b.grad);
  };

  it('gives identical bits for 1, 2, 3 and 8 threads', () => {
    for (const p of problems) {
      setNumThreads(1);
      const one = run(p);
      for (const t of [2, 3, 8]) {
        setNumThreads(t);
        expect(getNumThreads()).toBe(t);
        same(one, run(p));
      }
    }
    setNumThreads(initialThreads);
  });

  it('gives identical bits on every ISA level this CPU runs', () => {
    const levels = runtimeInfo().supportedIsas;
    expect(levels).toContain('baseline');
    for (const p of problems) {
      setIsa('baseline');
      const base = run(p);
      for (const isa of levels) {
        setIsa(isa as Isa);
        expect(runtimeInfo().isa).toBe(isa);
        same(base, run(p));
      }
    }
    setIsa(initialIsa);
  });

  it('rejects an ISA level this CPU cannot run, or an unknown one', () => {
    const all: Isa[] = ['baseline', 'avx2', 'avx512'];
    for (const isa of all.filter((x) => !runtimeInfo().supportedIsas.includes(x))) expect(() => setIsa(isa)).toThrow(RangeError);
    expect(() => setIsa('sse9' as Isa)).toThrow(/baseline.*avx2.*avx512/);
  });
});

describe('async', () => {
  it('matches sync bit for bit and does not block the event loop', async () => {
    const p = randomProblem(201, [8192, 2000], 'index', { reduction: 'mean', labelSmoothing: 0.1 });
    const sync = crossEntropy(p.input, p.target, p.options);
    let settled = false;
    const pending = crossEntropyAsync(p.input, p.target, p.options).then((r) => ((settled = true), r));
    // The event loop turns (an immediate runs) while the kernel works on another thread; a kernel run
    // on the calling thread would have settled the promise before this point.
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    const r = await pending;
    expect(Object.is(r.loss, sync.loss)).toBe(true);
    expectSameBits(r.grad, sync.grad);
  }, 60_000); // 16 M elements made in TypeScript: 5.1 s under ASan on a loaded VM (a hang still fails)

  it('runs many calls concurrently with the same results as serial calls', async () => {
    const ps = Array.from({ length: 24 }, (_, i) =>
      randomProblem(300 + i, [32 + i, 50 + 7 * i], i % 2 ? 'prob' : 'index', { reduction: (['mean', 'sum', 'none'] as const)[i % 3] }),
    );
    const serial = ps.map((p) => crossEntropy(p.input, p.target, p.options));
    const parallel = await Promise.all(ps.map((p) => crossEntropyAsync(p.input, p.target, p.options)));
    parallel.forEach((r, i) => {
      if (typeof r.loss === 'number') expect(Object.is(r.loss, serial[i].loss)).toBe(true);
      else expectSameBits(r.loss, serial[i].loss as Float32Array);
      expectSameBits(r.grad, serial[i].grad);
    });
  });

  it('rejects bad input with the same errors as sync, and the reference backend works async', async () => {
    await expect(crossEntropyAsync(new Float32Array(6), new Int32Array([0, 5]), { shape: [2, 3] })).rejects.toThrow(RangeError);
    await expect(crossEntropyAsync(new Float32Array(6), new Int32Array([0]), { shape: [2, 3] })).rejects.toThrow(/target/);
    const p = randomProblem(7, [5, 9], 'index', {});
    const r = await crossEntropyAsync(p.input, p.target, { ...p.options, backend: 'reference' });
    expectClose(r.grad, crossEntropy(p.input, p.target, p.options).grad, 1e-5, 1e-6);
  });
});

describe('outputs', () => {
  it('writes into a preallocated grad and loss', () => {
    const p = randomProblem(401, [16, 40], 'index', { reduction: 'none' });
    const grad = new Float32Array(16 * 40).fill(7);
    const loss = new Float32Array(16).fill(7);
    const r = crossEntropy(p.input, p.target, { ...p.options, out: { grad, loss } });
    expect(r.grad).toBe(grad);
    expect(r.loss).toBe(loss);
    const fresh = crossEntropy(p.input, p.target, p.options);
    expectSameBits(grad, fresh.grad);
    expectSameBits(loss, fresh.loss as Float32Array);
  });

  it('accepts subarray views as outputs and inputs', () => {
    const p = randomProblem(402, [8, 20], 'prob', { reduction: 'mean', labelSmoothing: 0.2 });
    const backing = new Float32Array(1000);
    const input = backing.subarray(10, 170);
    input.set(p.input);
    const grad = new Float32Array(500).subarray(3, 163);
    const r = crossEntropy(input, p.target, { ...p.options, out: { grad } });
    const fresh = crossEntropy(p.input, p.target, p.options);
    expect(Object.is(r.loss, fresh.loss)).toBe(true);
    expectSameBits(grad, fresh.grad);
  });

  for (const [shape, kind] of [
    [[33, 1000], 'index'],
    [[9, 77], 'prob'],
    [[2, 5, 6, 7], 'index'],
    [[2, 5, 6, 7], 'prob'],
  ] as const) {
    it(`in place ${kind} [${shape}] equals out of place, native and reference`, () => {
      for (const backend of ['native', 'reference'] as const) {
        const p = randomProblem(403, [...shape], kind, { reduction: 'mean', labelSmoothing: 0.1, weight: new Float32Array(0) });
        const fresh = crossEntropy(p.input, p.target, { ...p.options, backend });
        const buf = p.input.slice();
        const r = crossEntropy(buf, p.target, { ...p.options, backend, inplace: true });
        expect(r.grad).toBe(buf);
        expect(Object.is(r.loss, fresh.loss)).toBe(true);
        expectSameBits(buf, fresh.grad);
        const buf2 = p.input.slice();
        crossEntropy(buf2, p.target, { ...p.options, backend, out: { grad: buf2 } });
        expectSameBits(buf2, fresh.grad);
      }
    });
  }
});

describe('tensor inputs', () => {
  it('accepts onnxruntime-node Tensors for input and target', () => {
    const p = randomProblem(501, [6, 10], 'index', { reduction: 'sum' });
    const x = new ort.Tensor('float32', p.input, [6, 10]);
    const t = new ort.Tensor('int32', p.target as Int32Array, [6]);
    const r = crossEntropy(x, t, { reduction: 'sum' });
    const ref = crossEntropy(p.input, p.target, p.options);
    expect(Object.is(r.loss, ref.loss)).toBe(true);
    expectSameBits(r.grad, ref.grad);
  });

  it('accepts int64 (BigInt64Array) class ids as ONNX models emit, and spatial tensors', () => {
    const p = randomProblem(502, [2, 4, 3, 5], 'index', { reduction: 'mean' });
    const t64 = BigInt64Array.from(p.target as Int32Array, (v) => BigInt(v));
    const r = crossEntropy(new ort.Tensor('float32', p.input, [2, 4, 3, 5]), new ort.Tensor('int64', t64, [2, 3, 5]));
    const ref = crossEntropy(p.input, p.target, p.options);
    expect(Object.is(r.loss, ref.loss)).toBe(true);
    expectSameBits(r.grad, ref.grad);
  });

  it('accepts plain { data, dims } objects and probability-target tensors', () => {
    const p = randomProblem(503, [3, 8], 'prob', { reduction: 'mean' });
    const r = crossEntropy({ data: p.input, dims: [3, 8] }, { data: p.target as Float32Array, dims: [3, 8] });
    expectSameBits(r.grad, crossEntropy(p.input, p.target, p.options).grad);
  });

  it('rejects tensors of the wrong type or dims', () => {
    const x = new ort.Tensor('float32', new Float32Array(6), [2, 3]);
    expect(() => crossEntropy(new ort.Tensor('int32', new Int32Array(6), [2, 3]) as never, new Int32Array(2))).toThrow(TypeError);
    expect(() => crossEntropy(x, new ort.Tensor('int32', new Int32Array([0, 1]), [1, 2]))).toThrow(/target\.dims/);
    expect(() => crossEntropy(x, new Int32Array(2), { shape: [3, 2] })).toThrow(/options\.shape/);
  });
});

describe('the reference gradient agrees with finite differences of its loss', () => {
  for (const [kind, ls, weighted] of [
    ['index', 0, false],
    ['index', 0.2, true],
    ['prob', 0.1, true],
  ] as const)
    it(`${kind} labelSmoothing=${ls} weight=${weighted}`, () => {
      const p = randomProblem(900 + ls * 10, [3, 5, 2], kind, {
        reduction: 'sum',
        labelSmoothing: ls,
        weight: weighted ? new Float32Array(0) : undefined,
        sampleWeight: new Float32Array(0),
      });
      const opts = { ...p.options, backend: 'reference' as const };
      const g = crossEntropy(p.input, p.target, opts).grad;
      const h = 1e-2;
      for (let i = 0; i < p.input.length; i++) {
        const keep = p.input[i];
        p.input[i] = keep + h;
        const up = crossEntropy(p.input, p.target, opts).loss as number;
        p.input[i] = keep - h;
        const down = crossEntropy(p.input, p.target, opts).loss as number;
        p.input[i] = keep;
        const fd = (up - down) / (2 * h);
        if (!(Math.abs(fd - g[i]) <= 1e-3 * Math.max(1, Math.abs(fd))))
          expect.fail(`input[${i}]: gradient ${g[i]}, finite difference ${fd}`);
      }
    });
});
