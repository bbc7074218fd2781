// Optimizers: torch.optim's SGD / Adam / AdamW on PyTorch golden values (test/fixtures/optim.json, six
// steps each), native = reference bit for bit, the same bits for any thread count and ISA, async = sync,
// state save/restore, and named errors before anything is written.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as fl from '../../src/index';
import { decode, rng } from '../helpers';

interface Case {
  kind: 'sgd' | 'adam' | 'adamw';
  options: Record<string, unknown>;
  param: number[];
  grads: number[][];
  after: number[][];
}
const fixtures = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'optim.json'), 'utf8')) as { cases: Case[] };

type Backend = 'native' | 'reference' | 'cuda';
// backend 'cuda' where a GPU is (the same golden values and bits as the CPU step; DeviceBuffer parameters in test/cudaDevice.test.ts)
const BACKENDS: Backend[] = fl.cuda.available() ? ['native', 'reference', 'cuda'] : ['native', 'reference'];

function make<P extends fl.OptimParam = Float32Array>(c: Case, params: Record<string, P>, backend: Backend): fl.Optimizer<P> {
  const o = c.options;
  const common = {
    lr: o.lr as number,
    weightDecay: o.weight_decay as number | undefined,
    maximize: o.maximize as boolean | undefined,
    backend,
  };
  if (c.kind === 'sgd')
    return new fl.SGD(params, {
      ...common,
      momentum: o.momentum as number | undefined,
      dampening: o.dampening as number | undefined,
      nesterov: o.nesterov as boolean | undefined,
    });
  const adam = { ...common, betas: o.betas as [number, number] | undefined, eps: o.eps as number | undefined };
  return c.kind === 'adam' ? new fl.Adam(params, adam) : new fl.AdamW(params, adam);
}

const label = (c: Case) => `${c.kind} ${JSON.stringify(c.options)}`;

describe('optimizers against torch.optim', () => {
  for (const backend of BACKENDS) {
    it.each(fixtures.cases.map((c) => [label(c), c] as const))(`${backend}: %s`, (_, c) => {
      const p = decode(c.param);
      const opt = make(c, { w: p }, backend);
      c.grads.forEach((g, s) => {
        const prev = p.slice();
        opt.step({ w: decode(g) });
        const want = decode(c.after[s]);
        for (let i = 0; i < p.length; i++) {
          // float32 ops in torch's order; torch's vectorised add-with-alpha (p + α·d, momentum + (1-τ)·d)
          // is a fused multiply-add, ours rounds twice (the same bits on every ISA): they may differ by an
          // ulp of the larger operand, more visibly when p + α·d nearly cancels.
          const tol = 2 * 1.2e-7 * Math.max(Math.abs(want[i]), Math.abs(prev[i]));
          expect(Math.abs(p[i] - want[i]), `step ${s + 1}, element ${i}: ${p[i]} vs ${want[i]}`).toBeLessThanOrEqual(tol);
          p[i] = want[i]; // each step starts from torch's parameters, so differences do not compound
        }
      });
      expect(opt.stepCount).toBe(c.grads.length);
    });
  }

  it.each(fixtures.cases.map((c) => [label(c), c] as const))(
    'native = reference bit for bit, any threads/ISA, async = sync: %s',
    async (_, c) => {
      const r = rng(3);
      const n = 70001; // several pool chunks and a ragged tail
      const p0 = r.floats(n, 2),
        grads = Array.from({ length: 4 }, () => r.floats(n, 0.5));
      const run = async (backend: Backend, threads: number, isa: fl.Isa | null, async: boolean) => {
        const before = fl.getNumThreads(),
          beforeIsa = fl.runtimeInfo().isa;
        fl.setNumThreads(threads);
        if (isa) fl.setIsa(isa);
        try {
          const p = p0.slice(),
            b = p0.slice(0, 9).map((v) => v * 0.1);
          const opt = make(c, { w: p, b }, backend);
          for (const g of grads) {
            const gs = { w: g, b: g.subarray(0, 9) };
            if (async) await opt.stepAsync(gs);
            else opt.step(gs);
          }
          return [p, b];
        } finally {
          fl.setNumThreads(before);
          fl.setIsa(beforeIsa);
        }
      };
      const ref = await run('reference', 1, null, false);
      for (const [threads, isa, async] of [
        [1, 'baseline', false],
        [2, 'avx2', false],
        [2, null, true],
        [1, null, false],
      ] as const) {
        if (isa && !fl.runtimeInfo().supportedIsas.includes(isa)) continue;
        const got = await run('native', threads, isa, async);
        expect(Buffer.from(got[0].buffer).equals(Buffer.from(ref[0].buffer)), `w, ${threads} threads, ${isa}, async ${async}`).toBe(true);
        expect(Buffer.from(got[1].buffer).equals(Buffer.from(ref[1].buffer)), `b, ${threads} threads, ${isa}, async ${async}`).toBe(true);
      }
      if (BACKENDS.includes('cuda'))
        for (const async of [false, true]) {
          const got = await run('cuda', 1, null, async);
          expect(Buffer.from(got[0].buffer).equals(Buffer.from(ref[0].buffer)), `w, cuda, async ${async}`).toBe(true);
          expect(Buffer.from(got[1].buffer).equals(Buffer.from(ref[1].buffer)), `b, cuda, async ${async}`).toBe(true);
        }
    },
  );
});

describe('optimizer state', () => {
  it.each(['sgd', 'adam', 'adamw'] as const)('%s: state() → JSON → loadState continues identically', (kind) => {
    const r = rng(9);
    const p0 = r.floats(100),
      gs = Array.from({ length: 6 }, () => r.floats(100));
    const config: fl.OptimizerConfig = kind === 'sgd' ? { type: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true } : { type: kind, lr: 0.01 };
    const a = p0.slice();
    const oa = fl.createOptimizer({ a }, config);
    gs.forEach((g) => oa.step({ a: g }));
    const b = p0.slice();
    const ob = fl.createOptimizer({ a: b }, config);
    gs.slice(0, 3).forEach((g) => ob.step({ a: g }));
    const saved = JSON.parse(JSON.stringify(ob.state()));
    const c = b.slice();
    const oc = fl.createOptimizer({ a: c }, config);
    oc.loadState(saved);
    expect(oc.stepCount).toBe(3);
    gs.slice(3).forEach((g) => oc.step({ a: g }));
    expect(Buffer.from(c.buffer).equals(Buffer.from(a.buffer))).toBe(true);
  });

  it('loadState rejects another kind or sizes and changes nothing', () => {
    const p = new Float32Array(4);
    const adam = new fl.Adam({ p });
    const s = adam.state();
    expect(() => new fl.SGD({ p }, { lr: 1 }).loadState(s)).toThrow(TypeError);
    const small = new fl.Adam({ p: new Float32Array(3) });
    expect(() => small.loadState(s)).toThrow(/Expected 3 elements for state.buffers.p.expAvg/);
    expect(small.stepCount).toBe(0);
  });

  it('float32 base64 round-trips exactly', () => {
    const a = Float32Array.of(1.5, -0, NaN, Infinity, 1e-45, 3.4028234663852886e38);
    expect(Buffer.from(fl.decodeFloat32(fl.encodeFloat32(a)).buffer).equals(Buffer.from(a.buffer))).toBe(true);
    expect(() => fl.decodeFloat32('AAA=')).toThrow(RangeError);
  });
});

describe('optimizer errors (named, nothing written)', () => {
  const p = () => Float32Array.of(1, 2, 3);
  it.each([
    ['lr < 0', () => new fl.SGD({ p: p() }, { lr: -1 }), RangeError, /lr/],
    ['lr missing', () => new fl.SGD({ p: p() }, {} as fl.SgdOptions), RangeError, /lr/],
    ['nesterov without momentum', () => new fl.SGD({ p: p() }, { lr: 1, nesterov: true }), RangeError, /nesterov/],
    ['beta1 = 1', () => new fl.Adam({ p: p() }, { betas: [1, 0.9] }), RangeError, /betas\[0\]/],
    ['eps NaN', () => new fl.AdamW({ p: p() }, { eps: NaN }), RangeError, /eps/],
    ['params not arrays', () => new fl.Adam({ p: [1, 2] as unknown as Float32Array }), TypeError, /params\.p/],
    ['unknown backend', () => new fl.Adam({ p: p() }, { backend: 'gpu' as 'cuda' }), TypeError, /'native' \| 'reference' \| 'cuda'/],
    [
      'unknown type',
      () => fl.createOptimizer({ p: p() }, { type: 'rmsprop' } as unknown as fl.OptimizerConfig),
      TypeError,
      /optimizer.type/,
    ],
  ])('%s', (_, f, E, msg) => {
    expect(f).toThrow(E);
    expect(f).toThrow(msg);
  });

  it('grads: missing, short, unknown or aliasing the parameter', async () => {
    const w = p();
    const opt = new fl.Adam({ w });
    expect(() => opt.step({})).toThrow(/Expected a Float32Array of 3 elements for grads.w/);
    expect(() => opt.step({ w: new Float32Array(2) })).toThrow(/Expected 3 elements \(the length of params.w\) for grads.w/);
    expect(() => opt.step({ w: new Float32Array(3), v: new Float32Array(3) })).toThrow(/grads.v: no parameter/);
    expect(() => opt.step({ w })).toThrow(/grads.w overlaps params.w/);
    await expect(opt.stepAsync({ w: new Float32Array(2) })).rejects.toThrow(RangeError);
    expect(Array.from(w)).toEqual([1, 2, 3]);
    expect(opt.stepCount).toBe(0);
  });

  it('the addon checks too (lengths, aliasing between entries)', () => {
    const addon = require('../../build/Release/fuseloss.node') as { optimizerStep: (...args: unknown[]) => number };
    const h = new Float64Array([0.1, 0, 0, 0.9, 0.999, 1e-8, 0, 1]);
    const w = Float32Array.of(1, 2, 3);
    expect(() => addon.optimizerStep(0, h, false, false, [[w, new Float32Array(2), null, null]])).toThrow(
      /params\[0\].grad: expected 3 elements/,
    );
    expect(() => addon.optimizerStep(1, h, false, false, [[w, new Float32Array(3), new Float32Array(3), null]])).toThrow(
      /params\[0\].expAvgSq/,
    );
    expect(() =>
      addon.optimizerStep(0, h, false, false, [
        [w, new Float32Array(3), null, null],
        [w, new Float32Array(3), null, null],
      ]),
    ).toThrow(/params\[1\]: shares memory with params\[0\]/);
    expect(Array.from(w)).toEqual([1, 2, 3]);
  });

  if (!fl.cuda.available())
    it("backend 'cuda' without a GPU: a CudaUnavailableError at the step, nothing written", async () => {
      const w = p();
      const opt = new fl.SGD({ w }, { lr: 0.1, backend: 'cuda' });
      expect(() => opt.step({ w: Float32Array.of(1, 1, 1) })).toThrow(fl.CudaUnavailableError);
      await expect(opt.stepAsync({ w: Float32Array.of(1, 1, 1) })).rejects.toThrow(fl.CudaUnavailableError);
      expect(Array.from(w)).toEqual([1, 2, 3]);
      expect(opt.stepCount).toBe(0);
    });
});
