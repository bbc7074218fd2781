// Gradient reduction: the Gram matrix and the combine pass against the reference (bits where the
// arithmetic is the same), each combination method on a worked example and on its defining property,
// clipping with PyTorch's semantics, accumulation, determinism, bad input and the NaN policy.
import { afterAll, describe, expect, it } from 'vitest';
import { native } from '../../src/backends/binding';
import { cagradCoefficients, COMBINE_REGISTRY, imtlCoefficients, minNormWeights, pcgradCoefficients } from '../../src/reduce/combine';
import * as fl from '../../src/index';
import { combineReference } from '../../src/backends/reference/reduce';
import { expectClose, expectSameBits, rng } from '../helpers';

const initialThreads = fl.getNumThreads();
const initialIsa = fl.runtimeInfo().isa;
afterAll(() => {
  fl.setNumThreads(initialThreads);
  fl.setIsa(initialIsa);
});

const grads = (T: number, n: number, seed: number, scale = 1) => Array.from({ length: T }, (_, t) => rng(seed + 101 * t).floats(n, scale));
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const f64 = (x: Float32Array) => Float64Array.from(x);
/** Σₜ cₜ·gₜ in float64 (for properties of the exact combination). */
const lin = (gs: Float32Array[], c: ArrayLike<number>) => {
  const out = new Float64Array(gs[0].length);
  gs.forEach((g, t) => g.forEach((v, k) => (out[k] += c[t] * v)));
  return out;
};

describe('gramMatrix', () => {
  for (const [T, n] of [
    [1, 1],
    [2, 15],
    [3, 17],
    [5, 1000],
    [10, 100003],
  ] as const)
    it(`T = ${T}, n = ${n}: native vs reference, symmetric`, async () => {
      const gs = grads(T, n, T * 7 + n);
      const G = fl.gramMatrix(gs),
        R = fl.gramMatrix(gs, { backend: 'reference' });
      expectClose(G, R, 1e-12, 1e-13, 'gram');
      for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) expect(G[i * T + j]).toBe(G[j * T + i]);
      expectSameBits(new Float32Array(G.buffer), new Float32Array((await fl.gramMatrixAsync(gs)).buffer));
    });

  // T = 2 streams both gradients through registers; larger T widens blocks and runs pairs in groups of 8, 4, 2, 1.
  for (const T of [2, 4, 11])
    it(`T = ${T}: the same bits for any thread count and every ISA level`, () => {
      const gs = grads(T, 300001, 3);
      const runs: Float64Array[] = [];
      for (const t of [1, 2, 3]) {
        fl.setNumThreads(t);
        runs.push(fl.gramMatrix(gs));
      }
      fl.setNumThreads(initialThreads);
      for (const isa of fl.runtimeInfo().supportedIsas) {
        fl.setIsa(isa);
        runs.push(fl.gramMatrix(gs));
      }
      fl.setIsa(initialIsa);
      for (const r of runs) expectSameBits(new Float32Array(r.buffer), new Float32Array(runs[0].buffer));
    });

  it("a pair's product has the same bits whatever T is (the two-gradient path and the blocked one agree)", () => {
    const [a, b, c] = grads(3, 70001, 9);
    const two = fl.gramMatrix([a, b]);
    for (const gs of [
      [a, b, c],
      [c, a, b, c, a, c, c, c, c, c, b],
    ]) {
      const G = fl.gramMatrix(gs),
        T = gs.length;
      const ia = gs.indexOf(a),
        ib = gs.indexOf(b);
      expect(G[ia * T + ia]).toBe(two[0]);
      expect(G[ia * T + ib]).toBe(two[1]);
      expect(G[ib * T + ib]).toBe(two[3]);
    }
  });
});

describe('combineGradients', () => {
  const g1 = Float32Array.from([1, 0]),
    g2 = Float32Array.from([-1, 1]); // conflicting: g1·g2 = −1

  it('the combine pass equals the reference bit for bit (same float64 arithmetic per element)', () => {
    const gs = grads(7, 50001, 9);
    const coef = Float64Array.from([0.3, -1.2, 2, 0.125, 1e-3, 7, -0.5]);
    const out = new Float32Array(50001),
      ref = new Float32Array(50001);
    native().combineGradients(gs, coef, out);
    combineReference(gs, coef, ref);
    expectSameBits(out, ref);
  });

  for (const method of fl.COMBINE_METHODS)
    it(`${method}: native vs reference, thread count, async`, async () => {
      const gs = grads(4, 20011, 5);
      const opts = (extra: Partial<fl.CombineOptions> = {}): fl.CombineOptions => ({ method, seed: 3, state: {}, ...extra });
      const r = fl.combineGradients(gs, opts());
      const rr = fl.combineGradients(gs, opts({ backend: 'reference' }));
      expectClose(r.grad, rr.grad, 1e-6, 1e-6, method);
      fl.setNumThreads(1);
      const one = fl.combineGradients(gs, opts());
      fl.setNumThreads(initialThreads);
      expectSameBits(one.grad, r.grad);
      expectSameBits((await fl.combineGradientsAsync(gs, opts())).grad, r.grad);
      if (r.coefficients && method !== 'dbmtl')
        expectSameBits(r.grad, Float32Array.from(lin(gs, r.coefficients)), `${method}: grad = Σ coefficients·grads`);
    });

  it('sum and mean', () => {
    expect([...fl.combineGradients([g1, g2], { method: 'sum' }).grad]).toEqual([0, 1]);
    expect([...fl.combineGradients([g1, g2], { method: 'mean' }).grad]).toEqual([0, 0.5]);
  });

  it('pcgrad: the worked example, and on random pairs no conflict is left', () => {
    // g1' = g1 − (g1·g2/‖g2‖²)·g2 = (0.5, 0.5); g2' = g2 − (g2·g1/‖g1‖²)·g1 = (0, 1)
    const r = fl.combineGradients([g1, g2], { method: 'pcgrad' });
    expect([...r.grad]).toEqual([0.5, 1.5]);
    for (let s = 0; s < 50; s++) {
      const [a, b] = grads(2, 8, 1000 + s);
      const G = fl.gramMatrix([a, b], { backend: 'reference' });
      // each projected gradient alone: run with one of them zero-weighted through the coefficients
      const ca = projected(G, 0),
        cb = projected(G, 1);
      const pa = lin([a, b], ca),
        pb = lin([a, b], cb);
      expect(dot(pa, b)).toBeGreaterThanOrEqual(-1e-12);
      expect(dot(pb, a)).toBeGreaterThanOrEqual(-1e-12);
      const total = pcgradCoefficients(G, 2, 0);
      expect(total[0]).toBeCloseTo(ca[0] + cb[0], 14);
      expect(total[1]).toBeCloseTo(ca[1] + cb[1], 14);
    }
    function projected(G: Float64Array, i: number) {
      const j = 1 - i;
      const c = [0, 0];
      c[i] = 1;
      const d = G[i * 2 + j];
      if (d < 0) c[j] = -d / G[j * 2 + j];
      return c;
    }
  });

  it('pcgrad: the projection order comes from the seed (reproducible, and it matters for T ≥ 3)', () => {
    const gs = grads(5, 64, 77);
    const G = fl.gramMatrix(gs);
    const a = pcgradCoefficients(G, 5, 1),
      b = pcgradCoefficients(G, 5, 1);
    expect([...a]).toEqual([...b]);
    const seeds = Array.from({ length: 20 }, (_, s) => pcgradCoefficients(G, 5, s).join());
    expect(new Set(seeds).size).toBeGreaterThan(1);
  });

  it('mgda: the worked example (min-norm point (0.2, 0.4)) and KKT conditions on random inputs', () => {
    const r = fl.combineGradients([g1, g2], { method: 'mgda' });
    expect(r.coefficients![0]).toBeCloseTo(0.6, 14);
    expect(r.coefficients![1]).toBeCloseTo(0.4, 14);
    expect(r.grad[0]).toBeCloseTo(0.2, 7);
    expect(r.grad[1]).toBeCloseTo(0.4, 7);
    for (let s = 0; s < 20; s++) {
      const T = 2 + (s % 9);
      const gs = grads(T, 40, 2000 + s);
      const G = fl.gramMatrix(gs);
      const a = minNormWeights(G, T);
      const sum = a.reduce((x, y) => x + y, 0);
      expect(sum).toBeCloseTo(1, 12);
      const Ga = Array.from({ length: T }, (_, i) => a.reduce((acc, v, j) => acc + G[i * T + j] * v, 0));
      const aGa = a.reduce((acc, v, i) => acc + v * Ga[i], 0);
      const tol = 1e-9 * Math.max(...Array.from({ length: T }, (_, i) => G[i * T + i]));
      for (let i = 0; i < T; i++) {
        expect(a[i]).toBeGreaterThanOrEqual(0);
        expect(Ga[i]).toBeGreaterThanOrEqual(aGa - tol); // stationarity: no vertex improves
        if (a[i] > 1e-6) expect(Math.abs(Ga[i] - aGa)).toBeLessThanOrEqual(tol); // complementary slackness
      }
    }
  });

  it("mgda: normalisations 'l2', 'loss', 'loss+' solve on gₜ/nₜ and return αₜ/nₜ", () => {
    const gs = [Float32Array.from([3, 0]), Float32Array.from([0, 1])];
    const l2 = fl.combineGradients(gs, { method: 'mgda', normalization: 'l2' });
    // unit vectors (1,0), (0,1): α = (½, ½); coefficients (1/6, 1/2)
    expect(l2.coefficients![0]).toBeCloseTo(1 / 6, 12);
    expect(l2.coefficients![1]).toBeCloseTo(1 / 2, 12);
    const loss = fl.combineGradients(gs, { method: 'mgda', normalization: 'loss', losses: [3, 1] });
    expect([...loss.coefficients!].map((v) => +v.toFixed(12))).toEqual([+(1 / 6).toFixed(12), 0.5]);
    const lossPlus = fl.combineGradients(gs, { method: 'mgda', normalization: 'loss+', losses: [1, 2] });
    // gₜ/(Lₜ‖gₜ‖) = (1,0), (0,½): min-norm α = (0.2, 0.8); coefficients α/n = (0.2/3, 0.8/2)
    expect(lossPlus.coefficients![0]).toBeCloseTo(0.2 / 3, 12);
    expect(lossPlus.coefficients![1]).toBeCloseTo(0.4, 12);
    expect(() => fl.combineGradients(gs, { method: 'mgda', normalization: 'loss' })).toThrow(/losses/);
  });

  it('cagrad: d stays in the ball ‖d − g₀‖ ≤ c‖g₀‖ and maximises the worst task improvement there', () => {
    for (let s = 0; s < 10; s++) {
      const T = 2 + (s % 4);
      const gs = grads(T, 30, 3000 + s);
      const G = fl.gramMatrix(gs);
      const c = 0.5;
      const { coefficients } = cagradCoefficients(G, T, c, 0);
      const d = lin(gs, coefficients);
      const g0 = lin(gs, new Float64Array(T).fill(1 / T));
      const g0n = Math.sqrt(dot(g0, g0));
      const diff = d.map((v, k) => v - g0[k]);
      expect(Math.sqrt(dot(diff, diff))).toBeLessThanOrEqual(c * g0n * (1 + 1e-6) + 1e-7);
      const worst = (x: Float64Array) => Math.min(...gs.map((g) => dot(g, x)));
      const r = rng(s);
      for (let k = 0; k < 300; k++) {
        // random points of the ball around g0
        const u = Float64Array.from({ length: 30 }, () => r.next() * 2 - 1);
        const un = Math.sqrt(dot(u, u));
        const rad = c * g0n * Math.cbrt(r.next());
        const p = g0.map((v, i) => v + (rad * u[i]) / un);
        expect(worst(d)).toBeGreaterThanOrEqual(worst(p) - 1e-6 * g0n * g0n);
      }
    }
    // rescale 1 (default) divides by 1 + c²
    const gs = grads(3, 10, 5);
    const G = fl.gramMatrix(gs);
    const a = cagradCoefficients(G, 3, 0.5, 0).coefficients,
      b = cagradCoefficients(G, 3, 0.5, 1).coefficients;
    for (let t = 0; t < 3; t++) expect(b[t]).toBeCloseTo(a[t] / 1.25, 12);
  });

  it('imtl: Σα = 1 and the combination projects equally onto every unit task gradient', () => {
    for (let s = 0; s < 10; s++) {
      const T = 2 + (s % 5);
      const gs = grads(T, 25, 4000 + s);
      const a = imtlCoefficients(fl.gramMatrix(gs), T);
      expect(a.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 12);
      const d = lin(gs, a);
      const proj = gs.map((g) => dot(d, g) / Math.sqrt(dot(g, g)));
      for (const p of proj) expect(p).toBeCloseTo(proj[0], 9);
    }
    expect(() => fl.combineGradients([g1, new Float32Array(2)], { method: 'imtl' })).toThrow(/zero/);
  });

  it('graddrop: native equals the reference bit for bit; each element keeps one sign of the task gradients', () => {
    const gs = grads(3, 5003, 8);
    const r = fl.combineGradients(gs, { method: 'graddrop', seed: 42 });
    const rr = fl.combineGradients(gs, { method: 'graddrop', seed: 42, backend: 'reference' });
    expectSameBits(r.grad, rr.grad);
    expect(r.coefficients).toBeNull();
    let pos = 0,
      neg = 0;
    for (let k = 0; k < 5003; k++) {
      const p = gs.reduce((s, g) => s + Math.max(g[k], 0), 0),
        n = gs.reduce((s, g) => s + Math.min(g[k], 0), 0);
      const v = r.grad[k];
      if (v === Math.fround(p)) pos++;
      else if (v === Math.fround(n)) neg++;
      else expect.fail(`element ${k}: ${v} is neither the positive (${p}) nor the negative (${n}) part`);
    }
    expect(pos).toBeGreaterThan(1000);
    expect(neg).toBeGreaterThan(1000);
    // all-positive elements keep everything (P = 1 > u)
    const same = fl.combineGradients([Float32Array.from([1, 2]), Float32Array.from([3, 4])], { method: 'graddrop' });
    expect([...same.grad]).toEqual([4, 6]);
    const other = fl.combineGradients(gs, { method: 'graddrop', seed: 43 });
    expect(other.grad.some((v, k) => v !== r.grad[k])).toBe(true);
  });

  it('graddrop: the same bits as the reference on every ISA level and thread count, with NaN, ±Infinity, ±0 and seeds past 2^31', () => {
    // 3 pool jobs (32768 elements each) and a tail of 7 after the last 16-element vector block
    const n = 3 * 32768 + 16 * 5 + 7;
    for (const T of [1, 2, 5]) {
      const gs = grads(T, n, 17 + T);
      const specials = [NaN, Infinity, -Infinity, 0, -0, 1e-45, -3.4e38];
      for (let i = 0; i < 64; i++) gs[i % T][(i * 7919) % n] = specials[i % specials.length];
      gs[0][n - 3] = NaN; // in the scalar tail
      for (const seed of [0, 7, 2 ** 32 - 1]) {
        const ref = fl.combineGradients(gs, { method: 'graddrop', seed, backend: 'reference' }).grad;
        for (const isa of fl.runtimeInfo().supportedIsas)
          for (const threads of [1, 2, 3]) {
            fl.setIsa(isa);
            fl.setNumThreads(threads);
            expectSameBits(
              fl.combineGradients(gs, { method: 'graddrop', seed }).grad,
              ref,
              `T=${T} seed=${seed} ${isa} ${threads} thread(s)`,
            );
          }
        fl.setIsa(initialIsa);
        fl.setNumThreads(initialThreads);
        expect(Number.isNaN(ref[n - 3])).toBe(true); // a NaN belongs to both parts, so it propagates
      }
    }
  });

  it('gradvac: with zero targets the first step is PCGrad; the targets follow the observed similarities (EMA β)', () => {
    const state: fl.CombineState = {};
    const first = fl.combineGradients([g1, g2], { method: 'gradvac', state });
    expect([...first.grad]).toEqual([0.5, 1.5]);
    const cos = -1 / Math.SQRT2; // cos(g1, g2)
    expect(state.rho![1]).toBeCloseTo(0.5 * cos, 14);
    expect(state.rho![2]).toBeCloseTo(0.5 * cos, 14);
    // step 2: the observed cosine (−0.707) is below the target (−0.354): each gradient is moved until its
    // cosine with the other equals the target, w = ‖gᵢ‖(ρ̂√(1−ρ²) − ρ√(1−ρ̂²)) / (‖gⱼ‖√(1−ρ̂²))
    const target = 0.5 * cos;
    const second = fl.combineGradients([g1, g2], { method: 'gradvac', state });
    const w01 =
      (1 * (target * Math.sqrt(1 - cos * cos) - cos * Math.sqrt(1 - target * target))) / (Math.SQRT2 * Math.sqrt(1 - target * target));
    const w10 =
      (Math.SQRT2 * (target * Math.sqrt(1 - cos * cos) - cos * Math.sqrt(1 - target * target))) / (1 * Math.sqrt(1 - target * target));
    expect(second.coefficients![0]).toBeCloseTo(1 + w10, 12);
    expect(second.coefficients![1]).toBeCloseTo(1 + w01, 12);
    const moved = [1 + w01 * -1, w01 * 1]; // g1 + w01·g2
    expect(dot(moved, g2) / (Math.hypot(moved[0], moved[1]) * Math.SQRT2)).toBeCloseTo(target, 12);
    expect(state.rho![1]).toBeCloseTo(0.5 * target + 0.5 * cos, 14);
    // beta 0 keeps the targets; a positive target pulls even agreeing gradients closer
    const a = Float32Array.from([1, 0]),
      b = Float32Array.from([0.6, 0.8]); // cos 0.6
    const st: fl.CombineState = { rho: [0, 0.9, 0.9, 0] };
    const c = fl.combineGradients([a, b], { method: 'gradvac', state: st, beta: 0 }).coefficients!;
    expect(c[0]).toBeGreaterThan(1); // b moved towards a
    expect(st.rho).toEqual([0, 0.9, 0.9, 0]);
  });

  it('nashmtl: α > 0 solves (Ĝα)ₜ·αₜ = 1 on the Frobenius-normalised Gram matrix', () => {
    for (let s = 0; s < 10; s++) {
      const T = 2 + (s % 5);
      const gs = grads(T, 30, 5000 + s);
      const G = fl.gramMatrix(gs);
      const r = fl.combineGradients(gs, { method: 'nashmtl' });
      const fro = Math.sqrt(G.reduce((x, v) => x + v * v, 0));
      const a = r.coefficients!;
      for (let i = 0; i < T; i++) {
        expect(a[i]).toBeGreaterThan(0);
        let Ga = 0;
        for (let j = 0; j < T; j++) Ga += (G[i * T + j] / fro) * a[j];
        expect(Ga * a[i]).toBeCloseTo(1, 9);
      }
    }
  });

  it('upgrad: the combination conflicts with no task gradient (gₜ·d ≥ 0), even when they conflict', () => {
    const r = fl.combineGradients([g1, g2], { method: 'upgrad' });
    expect(dot(r.grad, g1)).toBeGreaterThanOrEqual(0);
    expect(dot(r.grad, g2)).toBeGreaterThanOrEqual(0);
    for (let s = 0; s < 20; s++) {
      const T = 2 + (s % 6);
      const gs = grads(T, 12, 6000 + s);
      const r2 = fl.combineGradients(gs, { method: 'upgrad' });
      const d = lin(gs, r2.coefficients!);
      const scale = Math.max(...gs.map((g) => dot(g, g)));
      for (const g of gs) expect(dot(g, d)).toBeGreaterThanOrEqual(-2e-4 * scale); // torchjd's 1e-4 regularisation
      expect(r2.coefficients!.every((v) => v >= 0)).toBe(true);
    }
  });

  it('alignedmtl: B aligns the task gradients to an isotropic system (B·G·B = λ_min·I); orthogonal gradients become unit vectors × √λ_min', () => {
    const r = fl.combineGradients([Float32Array.from([3, 0]), Float32Array.from([0, 1])], { method: 'alignedmtl' });
    expect(r.coefficients![0]).toBeCloseTo(1 / 3, 12);
    expect(r.coefficients![1]).toBeCloseTo(1, 12);
    for (let s = 0; s < 5; s++) {
      const T = 2 + s;
      const gs = grads(T, 40, 7000 + s);
      const G = fl.gramMatrix(gs);
      // α = B·1 with B symmetric, so αᵀGα = 1ᵀ(B·G·B)1 = λ_min·T exactly when B·G·B = λ_min·I
      const a = fl.combineGradients(gs, { method: 'alignedmtl' }).coefficients!;
      const aGa = a.reduce((acc, v, i) => acc + v * a.reduce((x, w, j) => x + G[i * T + j] * w, 0), 0);
      // with B·G·B = λ_min·I: αᵀGα = 1ᵀB·G·B1 = λ_min·T
      const lmin = minEigen(G, T);
      expect(aGa / (lmin * T)).toBeCloseTo(1, 6);
    }
    function minEigen(G: Float64Array, T: number) {
      // inverse power iteration on G (positive definite here)
      let v = new Float64Array(T).fill(1);
      let lambda = 0;
      for (let it = 0; it < 500; it++) {
        const w = solveSym(G, v, T);
        const n = Math.sqrt(w.reduce((x, y) => x + y * y, 0));
        v = w.map((x) => x / n);
        lambda = 1 / n;
      }
      return lambda;
    }
    function solveSym(A: Float64Array, b: Float64Array, n: number) {
      const M = A.slice(),
        x = b.slice();
      for (let c = 0; c < n; c++) {
        for (let r = c + 1; r < n; r++) {
          const f = M[r * n + c] / M[c * n + c];
          for (let k = c; k < n; k++) M[r * n + k] -= f * M[c * n + k];
          x[r] -= f * x[c];
        }
      }
      for (let r = n - 1; r >= 0; r--) {
        let s2 = x[r];
        for (let k = r + 1; k < n; k++) s2 -= M[r * n + k] * x[k];
        x[r] = s2 / M[r * n + r];
      }
      return x;
    }
  });

  it('dbmtl: an EMA of the gradients, every buffer scaled to the largest norm', () => {
    const state: fl.CombineState = {};
    const r = fl.combineGradients([g1, g2], { method: 'dbmtl', state });
    // step 1: buf = (1 − 0.9)·g; norms 0.1 and 0.1·√2 → coefficients (√2, 1)
    expect(state.step).toBe(1);
    expect(r.coefficients![0]).toBeCloseTo(Math.SQRT2, 6);
    expect(r.coefficients![1]).toBeCloseTo(1, 6);
    expect(r.grad[0]).toBeCloseTo(0.1 * Math.SQRT2 - 0.1, 6);
    // step 2: c = 0.9/√2; buf = (1 − c)·g + c·buf
    fl.combineGradients([g1, g2], { method: 'dbmtl', state });
    const c = 0.9 / Math.SQRT2;
    expect(state.buffers![0][0]).toBeCloseTo((1 - c) * 1 + c * 0.1, 6);
    expect(() => fl.combineGradients([g1, g2], { method: 'dbmtl' })).toThrow(/state/);
  });

  it('dbmtl: the native in-place EMA pass gives the reference buffers bit for bit and the norms of totalNorm, over several steps', () => {
    const n = 2 * 32768 + 1001; // more than one pool chunk, and a tail
    const native_ = {} as fl.CombineState,
      reference = {} as fl.CombineState;
    for (const [step, threads] of [
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 1],
    ]) {
      fl.setNumThreads(threads);
      const gs = grads(3, n, 50 + step);
      const r = fl.combineGradients(gs, { method: 'dbmtl', state: native_ });
      const rr = fl.combineGradients(gs, { method: 'dbmtl', state: reference, backend: 'reference' });
      expect(native_.step).toBe(step);
      // the update is the combine pass's float64 arithmetic, in both
      for (let t = 0; t < 3; t++) expectSameBits(native_.buffers![t], reference.buffers![t], `step ${step} buffer ${t}`);
      // coefficients from norms taken in the pass: those of a separate native totalNorm
      const top = Math.max(...native_.buffers!.map((b) => fl.clipGradNorm(b, Infinity)));
      expect(Array.from(r.coefficients!)).toEqual(native_.buffers!.map((b) => top / (fl.clipGradNorm(b, Infinity) + 1e-8)));
      expectClose(r.coefficients!, rr.coefficients!, 1e-12, 0, 'coefficients');
      expectClose(r.grad, rr.grad, 1e-6, 1e-7, 'grad');
    }
    fl.setNumThreads(initialThreads);
    expect(native_.scratch).toBeUndefined(); // no second set of buffers on the CPU
    // a buffer that overlaps a gradient is refused before anything is written
    const g = grads(2, 64, 9);
    const before = Float32Array.from(g[0]);
    expect(() => native().emaUpdate([g[0], new Float32Array(64)], g, 0.5, new Float64Array(2))).toThrow(
      /buffers\[0\]: overlaps grads\[0\]/,
    );
    const shared = new Float32Array(64);
    expect(() => native().emaUpdate([shared, shared], g, 0.5, new Float64Array(2))).toThrow(/buffers\[0\]: overlaps buffers\[1\]/);
    expectSameBits(g[0], before);
    // through combineGradients: a state whose buffer is a gradient is refused, its step count unchanged
    const aliased: fl.CombineState = { buffers: [g[0], new Float32Array(64)], step: 3 };
    expect(() => fl.combineGradients(g, { method: 'dbmtl', state: aliased })).toThrow(/overlaps/);
    expect(aliased.step).toBe(3);
    expectSameBits(g[0], before);
    // the same gradient twice is fine (only the buffers are written)
    const twice = fl.combineGradients([g[1], g[1]], { method: 'dbmtl', state: {} });
    const apart = fl.combineGradients([g[1], Float32Array.from(g[1])], { method: 'dbmtl', state: {} });
    expectSameBits(twice.grad, apart.grad);
  });

  it('writes into out; NaN policy: Gram-based methods refuse non-finite gradients, sum propagates', () => {
    const gs = grads(2, 9, 1);
    const out = new Float32Array(9);
    expect(fl.combineGradients(gs, { method: 'mean', out }).grad).toBe(out);
    const bad = gs.map((g) => g.slice());
    bad[1][4] = NaN;
    const gramMethods = COMBINE_REGISTRY.filter((d) => d.gram).map((d) => d.name);
    expect(gramMethods.length).toBeGreaterThan(5);
    for (const method of gramMethods) {
      const o = new Float32Array(9).fill(7);
      expect(() => fl.combineGradients(bad, { method, out: o, state: {} })).toThrow(/grads\[1\] has a non-finite element/);
      expect(o.every((v) => v === 7)).toBe(true);
    }
    expect(Number.isNaN(fl.combineGradients(bad, { method: 'sum' }).grad[4])).toBe(true);
  });

  const cases: [string, () => unknown, RegExp, typeof TypeError | typeof RangeError][] = [
    ['T = 0', () => fl.combineGradients([], { method: 'sum' }), /at least one gradient/, RangeError],
    [
      'gradients of different lengths',
      () => fl.combineGradients([new Float32Array(3), new Float32Array(4)], { method: 'sum' }),
      /grads\[1\]/,
      RangeError,
    ],
    [
      'not a Float32Array',
      () => fl.combineGradients([new Float32Array(3), [1, 2, 3] as never], { method: 'sum' }),
      /grads\[1\]/,
      TypeError,
    ],
    ['unknown method', () => fl.combineGradients([g1], { method: 'magic' as 'sum' }), /method/, TypeError],
    ['unknown option', () => fl.combineGradients([g1], { method: 'sum', alpha: 1 } as never), /Unknown option 'alpha'/, TypeError],
    ['out of the wrong length', () => fl.combineGradients([g1, g2], { method: 'sum', out: new Float32Array(3) }), /out/, RangeError],
    ['out overlapping a gradient', () => fl.combineGradients([g1, g2], { method: 'sum', out: g1 }), /overlaps grads\[0\]/, RangeError],
    ['negative c', () => fl.combineGradients([g1, g2], { method: 'cagrad', c: -1 }), /c/, RangeError],
    ['fractional seed', () => fl.combineGradients([g1, g2], { method: 'pcgrad', seed: 0.5 }), /seed/, RangeError],
    [
      'losses of the wrong length',
      () => fl.combineGradients([g1, g2], { method: 'mgda', normalization: 'loss', losses: [1] }),
      /losses/,
      RangeError,
    ],
  ];
  for (const [name, f, message, kind] of cases)
    it(`bad input: ${name}`, () => {
      expect(f).toThrow(kind);
      expect(f).toThrow(message);
    });

  it('the native layer checks lengths itself', () => {
    expect(() => native().combineGradients([g1, new Float32Array(3)], Float64Array.from([1, 1]), new Float32Array(2))).toThrow(
      /grads\[1\]/,
    );
    expect(() => native().combineGradients([g1, g2], Float64Array.from([1]), new Float32Array(2))).toThrow(/coefficients/);
    expect(() => native().gramMatrix([], new Float64Array(0))).toThrow(RangeError);
  });
});

describe('clipGradNorm / clipGradValue', () => {
  for (const backend of ['native', 'reference'] as const) {
    it(`${backend}: total norm of every order; scales by maxNorm/(norm + 1e-6) only above maxNorm`, () => {
      const a = Float32Array.from([3, -4]),
        b = Float32Array.from([12]);
      expect(fl.clipGradNorm([a.slice(), b.slice()], 100, 2, { backend })).toBeCloseTo(13, 12);
      expect(fl.clipGradNorm([a.slice(), b.slice()], 100, 1, { backend })).toBeCloseTo(19, 12);
      expect(fl.clipGradNorm([a.slice(), b.slice()], 100, Infinity, { backend })).toBe(12);
      expect(fl.clipGradNorm([a.slice(), b.slice()], 100, 3, { backend })).toBeCloseTo((27 + 64 + 1728) ** (1 / 3), 12);
      const x = [a.slice(), b.slice()];
      expect(fl.clipGradNorm(x, 100, 2, { backend })).toBeCloseTo(13, 12);
      expect([...x[0], ...x[1]]).toEqual([3, -4, 12]); // untouched below maxNorm
      const y = [a.slice(), b.slice()];
      fl.clipGradNorm(y, 6.5, 2, { backend });
      const f = Math.fround(6.5 / (13 + 1e-6));
      expect([...y[0], ...y[1]]).toEqual([3, -4, 12].map((v) => Math.fround(v * f)));
    });

    it(`${backend}: errorIfNonfinite, and NaN gradients`, () => {
      const g = Float32Array.from([1, NaN, 2]);
      expect(() => fl.clipGradNorm([g], 1, 2, { backend, errorIfNonfinite: true })).toThrow(/NaN/);
      expect(Object.is(g[0], 1)).toBe(true);
      expect(Number.isNaN(fl.clipGradNorm([g], 1, 2, { backend }))).toBe(true);
      expect(Number.isNaN(g[0])).toBe(true); // PyTorch multiplies by NaN too
    });
  }

  it('native and reference agree on large inputs; the thread count changes no bits', () => {
    const gs = grads(3, 100001, 6, 0.01);
    const n1 = fl.clipGradNorm(
      gs.map((g) => g.slice()),
      1,
    );
    const nr = fl.clipGradNorm(
      gs.map((g) => g.slice()),
      1,
      2,
      { backend: 'reference' },
    );
    expect(n1).toBeCloseTo(nr, 10);
    fl.setNumThreads(1);
    const a = gs.map((g) => g.slice());
    const na = fl.clipGradNorm(a, 0.5);
    fl.setNumThreads(initialThreads);
    const b = gs.map((g) => g.slice());
    const nb = fl.clipGradNorm(b, 0.5);
    expect(na).toBe(nb);
    a.forEach((g, i) => expectSameBits(g, b[i]));
  });

  it('clipGradValue clamps in place (native and reference)', () => {
    for (const backend of ['native', 'reference'] as const) {
      const g = Float32Array.from([-3, -0.5, 0, 0.5, 3, NaN]);
      fl.clipGradValue(g, 1, { backend });
      expect([...g].slice(0, 5)).toEqual([-1, -0.5, 0, 0.5, 1]);
      expect(Number.isNaN(g[5])).toBe(true);
    }
    expect(() => fl.clipGradValue([new Float32Array(2)], -1)).toThrow(RangeError);
    const buf = new Float32Array(4);
    expect(() => fl.clipGradNorm([buf.subarray(0, 3), buf.subarray(2)], 1)).toThrow(/overlaps/);
  });
});

describe('GradAccumulator', () => {
  it('sums in float64 and reads the mean or the sum as float32', () => {
    const acc = new fl.GradAccumulator();
    const steps = [grads(2, 1001, 1), grads(2, 1001, 2), grads(2, 1001, 3)];
    for (const [w, b] of steps) acc.add({ w, b });
    expect(acc.steps).toBe(3);
    const mean = acc.read(),
      sum = acc.read({ mean: false });
    for (const [name, t] of [
      ['w', 0],
      ['b', 1],
    ] as const) {
      const s = f64(steps[0][t]).map((v, k) => v + steps[1][t][k] + steps[2][t][k]);
      expectSameBits(sum[name], Float32Array.from(s));
      expectSameBits(mean[name], Float32Array.from(s.map((v) => v / 3)));
    }
    acc.reset();
    expect(acc.steps).toBe(0);
    expect(() => acc.read()).toThrow(/nothing was added/);
  });

  it('the same bits for any thread count; names and lengths are fixed by the first add', () => {
    const gs = grads(4, 70001, 4);
    const run = (threads: number) => {
      fl.setNumThreads(threads);
      const acc = new fl.GradAccumulator();
      for (const g of gs) acc.add({ g });
      return acc.read().g;
    };
    const a = run(1),
      b = run(2);
    fl.setNumThreads(initialThreads);
    expectSameBits(a, b);
    const acc = new fl.GradAccumulator();
    acc.add({ w: new Float32Array(3) });
    expect(() => acc.add({ w: new Float32Array(4) })).toThrow(RangeError);
    expect(() => acc.add({ v: new Float32Array(3) })).toThrow(/unknown gradient 'v'/);
    expect(() => acc.add({ w: new Float32Array(3), v: new Float32Array(3) })).toThrow(/unknown gradient 'v'/);
  });

  it('checks its options; the backend is native unless asked (or implied by a DeviceBuffer)', () => {
    expect(() => new fl.GradAccumulator({ backend: 'reference' as never })).toThrow(TypeError);
    expect(() => new fl.GradAccumulator({ threads: 2 } as never)).toThrow(/Unknown GradAccumulator option 'threads'/);
    const acc = new fl.GradAccumulator();
    expect(acc.backend).toBeUndefined();
    acc.add({ w: new Float32Array(3) });
    expect(acc.backend).toBe('native');
    expect(() => acc.add({ w: new Float64Array(3) as never })).toThrow(/Float32Array/);
    expect(() => acc.read({ out: { w: new Float32Array(2) } })).toThrow(/3 elements/);
    expect(new fl.GradAccumulator({ backend: 'native' }).backend).toBe('native');
    if (!fl.cuda.available()) {
      const gpu = new fl.GradAccumulator({ backend: 'cuda' });
      expect(() => gpu.add({ w: new Float32Array(3) })).toThrow(fl.CudaUnavailableError);
      expect(gpu.steps).toBe(0);
    }
  });
});
