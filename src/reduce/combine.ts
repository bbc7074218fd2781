// Task-gradient combination (PCGrad, MGDA, CAGrad, IMTL-G, GradDrop, sum, mean), the Gram matrix, norm
// clipping and gradient accumulation. Every pass over gradient memory runs native (one Gram pass, one
// combine pass); the T×T decisions — which combination of the task gradients — are small solves here,
// on the Gram matrix, shared by both backends.
import { cudaNative, native } from '../backends/binding';
import { DeviceBuffer, holding, toNativeArgs } from '../backends/device';
import { combineReference, gradDropReference, gramReference, totalNormReference } from '../backends/reference/reduce';
import { backendFor, checkF32Arg, checkNotDetached, overlaps, rangeError, typeError } from '../core/validate';
import { Rng } from '../core/random';

/** The task-gradient combination methods of combineGradients. */
export const COMBINE_METHODS = ['sum', 'mean', 'pcgrad', 'graddrop', 'mgda', 'cagrad', 'imtl', 'gradvac', 'nashmtl', 'upgrad', 'alignedmtl', 'dbmtl'] as const;
/** A combination method's name (one of COMBINE_METHODS). */
export type CombineMethod = (typeof COMBINE_METHODS)[number];
/** MGDA's gradient normalisation before the min-norm solve (as the authors' code): none, l2, loss, loss+. */
export type MgdaNormalization = 'none' | 'l2' | 'loss' | 'loss+';
/** Where combineGradients runs: 'native' (default) or 'reference'. */
export type ReductionBackend = 'native' | 'reference';
/** The gradient passes' backends (gramMatrix, combineGradients, clipping): the CPU ones, or 'cuda' (the GPU; DeviceBuffers or host arrays). */
export type GradientBackend = ReductionBackend | 'cuda';
/** One gradient or a list of them, on the host or (backend 'cuda') the GPU. */
export type F32Grads = Float32Array | DeviceBuffer<'float32'> | readonly (Float32Array | DeviceBuffer<'float32'>)[];

/** Options of combineGradients (and of multiHeadBackward's combine). */
export interface CombineOptions {
  /** sum, mean, pcgrad, graddrop, mgda, cagrad, imtl, gradvac, nashmtl, upgrad, alignedmtl or dbmtl. */
  method: CombineMethod;
  /** pcgrad: seed of the random projection order; graddrop: seed of the per-element draws (default 0). */
  seed?: number;
  /** mgda: gradient normalisation before the min-norm solve (default 'none'). */
  normalization?: MgdaNormalization;
  /** mgda with 'loss' / 'loss+': each task's loss. */
  losses?: ArrayLike<number>;
  /** cagrad: the conflict-averse radius c (default 0.5). */
  c?: number;
  /** cagrad: 0 none, 1 divide by 1 + c² (default, as the authors' code), 2 divide by 1 + c. */
  rescale?: 0 | 1 | 2;
  /** gradvac: EMA rate of the target similarities (default 0.5); dbmtl: EMA rate of the gradients (default 0.9). */
  beta?: number;
  /** dbmtl: decay exponent of the EMA rate, β/stepᵠ (default 0.5). */
  betaSigma?: number;
  /**
   * gradvac, dbmtl: the method's state across steps, kept by the caller (start with {}; it is filled and
   * updated in place). gradvac: target similarities and the projection-order generator; dbmtl: the
   * gradient EMA buffers.
   */
  state?: CombineState;
  /** Preallocated output (the gradients' length). */
  out?: Float32Array | DeviceBuffer<'float32'>;
  /**
   * 'native' (default), 'reference' (float64 TypeScript) or 'cuda' (every pass over the gradients on the
   * GPU, implied by DeviceBuffer gradients; the small T×T solves stay in TypeScript).
   */
  backend?: GradientBackend;
}

/** State of the stateful methods (see CombineOptions.state). */
export interface CombineState {
  /** Steps this state has seen. */
  step?: number;
  /** gradvac: target cosine similarities ρ̂ (T×T, row-major). */
  rho?: number[];
  /** gradvac: generator state of the projection order. */
  rng?: number[];
  /** dbmtl: EMA of each task's gradient. */
  buffers?: Float32Array[];
  /** dbmtl on backend 'cuda': work buffers of the EMA update (reused; the CPU backends update in place). */
  scratch?: Float32Array[];
}

/** What combineGradients returns; `D` is DeviceBuffer<'float32'> when the gradients are DeviceBuffers. */
export interface CombineResult<D = Float32Array> {
  /** The combined gradient. */
  grad: D;
  /** grad = Σₜ coefficients[t]·gradsₜ (null for graddrop, which masks per element). */
  coefficients: Float64Array | null;
  /** The Gram matrix gᵢ·gⱼ (T×T, row-major) when the method used one. */
  gram: Float64Array | null;
}

function taskGrads(grads: unknown, name = 'grads'): Float32Array[] {
  if (!Array.isArray(grads)) throw typeError('an array of Float32Arrays', name, grads);
  if (grads.length === 0) throw new RangeError(`Expected at least one gradient (T >= 1) for ${name} but received none`);
  const n = (grads[0] as Float32Array)?.length;
  grads.forEach((g, t) => {
    // a float32 DeviceBuffer stands for a Float32Array here (length and identity are all that is checked)
    if (!(g instanceof Float32Array) && !(g instanceof DeviceBuffer && g.dtype === 'float32')) throw typeError('a Float32Array', `${name}[${t}]`, g);
    checkNotDetached(g as Float32Array, `${name}[${t}]`);
    if (g.length !== n) throw rangeError(`${n} elements (the length of ${name}[0])`, `${name}[${t}]`, g);
  });
  return grads as Float32Array[];
}


/** The backend of a gradient pass: 'cuda' allowed, and implied by DeviceBuffer arrays. */
function gradientBackend(name: string, v: unknown, arrays: readonly unknown[]): GradientBackend {
  const b = v ?? 'native';
  if (b !== 'native' && b !== 'reference' && b !== 'cuda') throw typeError("'native' | 'reference' | 'cuda'", `${name}.backend`, v);
  return backendFor(name, b, v !== undefined, arrays);
}

/** The T×T Gram matrix of the task gradients (row-major Float64Array), one pass over them (on the GPU for DeviceBuffers or backend 'cuda'). */
export function gramMatrix(grads: readonly (Float32Array | DeviceBuffer<'float32'>)[], options: { backend?: GradientBackend } = {}): Float64Array {
  const g = taskGrads(grads);
  const backend = gradientBackend('gramMatrix', options.backend, g);
  if (backend === 'reference') return gramReference(g);
  const out = new Float64Array(g.length * g.length);
  if (backend === 'cuda') cudaNative().gramMatrix(toNativeArgs(g), out);
  else native().gramMatrix(g, out);
  return out;
}

/** `gramMatrix` off the event loop; the same bits. */
export async function gramMatrixAsync(grads: readonly (Float32Array | DeviceBuffer<'float32'>)[], options: { backend?: GradientBackend } = {}): Promise<Float64Array> {
  const g = taskGrads(grads);
  const backend = gradientBackend('gramMatrix', options.backend, g);
  if (backend === 'reference') return gramReference(g);
  const out = new Float64Array(g.length * g.length);
  if (backend === 'cuda') await holding(g, () => cudaNative().gramMatrixAsync(toNativeArgs(g), out));
  else await native().gramMatrixAsync(g, out);
  return out;
}

// ---------------------------------------------------------------- T×T solvers (exported for tests)

const at = (G: ArrayLike<number>, T: number, i: number, j: number) => G[i * T + j];

/** PCGrad (Yu et al. 2020): each gᵢ is projected off every gⱼ it conflicts with, in a random order. */
export function pcgradCoefficients(G: ArrayLike<number>, T: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const total = new Float64Array(T);
  for (let i = 0; i < T; i++) {
    const c = new Float64Array(T);
    c[i] = 1;
    const order = Array.from({ length: T }, (_, k) => k);
    for (let k = T - 1; k > 0; k--) {
      const r = rng.nextUint32() % (k + 1);
      [order[k], order[r]] = [order[r], order[k]];
    }
    for (const j of order) {
      // (Σₖ cₖgₖ)·gⱼ from the Gram matrix
      let d = 0;
      for (let k = 0; k < T; k++) d += c[k] * at(G, T, k, j);
      const gjj = at(G, T, j, j);
      if (d < 0 && gjj > 0) c[j] -= d / gjj;
    }
    for (let k = 0; k < T; k++) total[k] += c[k];
  }
  return total;
}

/** min over γ ∈ [0, 1] of ‖γ·v₁ + (1 − γ)·v₂‖² from v₁·v₁, v₁·v₂, v₂·v₂ (exact line search). */
function lineMin(v11: number, v12: number, v22: number): number {
  if (v12 >= v11) return 1;
  if (v12 >= v22) return 0;
  return (v22 - v12) / (v11 + v22 - 2 * v12);
}

/**
 * The min-norm point of the convex hull of the gradients (MGDA, Sener & Koltun 2018): Frank–Wolfe on the
 * Gram matrix from the best pair with exact line search, as the paper's solver, plus away steps (so it
 * converges linearly) until the duality gap is below 1e-12 of the scale (at most 10000 iterations).
 * Returns the simplex weights α.
 */
export function minNormWeights(G: ArrayLike<number>, T: number, maxIter = 10000): Float64Array {
  const a = new Float64Array(T);
  if (T === 1) return (a[0] = 1), a;
  let best = Infinity, bi = 0, bj = 1, bg = 0.5;
  for (let i = 0; i < T; i++)
    for (let j = i + 1; j < T; j++) {
      const g = lineMin(at(G, T, i, i), at(G, T, i, j), at(G, T, j, j));
      const cost = g * g * at(G, T, i, i) + 2 * g * (1 - g) * at(G, T, i, j) + (1 - g) * (1 - g) * at(G, T, j, j);
      if (cost < best) (best = cost), (bi = i), (bj = j), (bg = g);
    }
  a[bi] = bg;
  a[bj] = 1 - bg;
  let scale = 0;
  for (let i = 0; i < T; i++) scale = Math.max(scale, Math.abs(at(G, T, i, i)));
  const Ga = new Float64Array(T), d = new Float64Array(T);
  for (let it = 0; it < maxIter; it++) {
    Ga.fill(0);
    for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) Ga[i] += at(G, T, i, j) * a[j];
    let aGa = 0;
    for (let i = 0; i < T; i++) aGa += a[i] * Ga[i];
    let s = 0, v = -1;
    for (let i = 1; i < T; i++) if (Ga[i] < Ga[s]) s = i;
    for (let i = 0; i < T; i++) if (a[i] > 0 && (v < 0 || Ga[i] > Ga[v])) v = i;
    const gapFw = aGa - Ga[s], gapAway = Ga[v] - aGa;
    if (Math.max(gapFw, gapAway) <= 1e-12 * Math.max(scale, 1e-300)) break;
    let gmax: number;
    if (gapFw >= gapAway) {
      for (let i = 0; i < T; i++) d[i] = (i === s ? 1 : 0) - a[i];
      gmax = 1;
    } else {
      for (let i = 0; i < T; i++) d[i] = a[i] - (i === v ? 1 : 0);
      gmax = a[v] < 1 ? a[v] / (1 - a[v]) : 0;
    }
    let dGd = 0, dGa = 0;
    for (let i = 0; i < T; i++) {
      dGa += d[i] * Ga[i];
      for (let j = 0; j < T; j++) dGd += d[i] * at(G, T, i, j) * d[j];
    }
    const g = dGd > 0 ? Math.min(gmax, Math.max(0, -dGa / dGd)) : gmax;
    if (g === 0) break;
    for (let i = 0; i < T; i++) a[i] = Math.max(0, a[i] + g * d[i]);
    if (gapFw < gapAway && g === gmax) a[v] = 0;  // the away vertex left the active set
    let sum = 0;
    for (let i = 0; i < T; i++) sum += a[i];
    for (let i = 0; i < T; i++) a[i] /= sum;
  }
  return a;
}

/** MGDA: α on the normalised gradients gₜ/nₜ; coefficients αₜ/nₜ on the given ones. */
export function mgdaCoefficients(G: ArrayLike<number>, T: number, normalization: MgdaNormalization, losses?: ArrayLike<number>): Float64Array {
  const n = Array.from({ length: T }, (_, t) => {
    const l2 = Math.sqrt(at(G, T, t, t));
    if (normalization === 'l2') return l2;
    if (normalization === 'loss') return losses![t];
    if (normalization === 'loss+') return losses![t] * l2;
    return 1;
  });
  n.forEach((v, t) => {
    if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`mgda: the ${normalization} normaliser of task ${t} is ${v}; it must be finite and > 0`);
  });
  const Gn = new Float64Array(T * T);
  for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) Gn[i * T + j] = at(G, T, i, j) / (n[i] * n[j]);
  const a = minNormWeights(Gn, T);
  return a.map((v, t) => v / n[t]);
}

/** Euclidean projection onto the probability simplex. */
function projectSimplex(v: Float64Array): Float64Array {
  const u = Array.from(v).sort((x, y) => y - x);
  let css = 0, theta = 0;
  for (let i = 0; i < u.length; i++) {
    css += u[i];
    const t = (css - 1) / (i + 1);
    if (u[i] - t > 0) theta = t;
  }
  return v.map((x) => Math.max(x - theta, 0));
}

/**
 * CAGrad (Liu et al. 2021): w = argmin over the simplex of wᵀG·(1/T) + c·‖g₀‖·√(wᵀGw + 1e-8) (projected
 * gradient descent with backtracking), then d = g₀ + λ·g_w with λ = c·‖g₀‖/(‖g_w‖ + 1e-8), rescaled.
 * Returns the coefficients of d and the solver's w.
 */
export function cagradCoefficients(G: ArrayLike<number>, T: number, c = 0.5, rescale: 0 | 1 | 2 = 1): { coefficients: Float64Array; w: Float64Array } {
  let mean = 0;
  for (let i = 0; i < T * T; i++) mean += G[i];
  mean /= T * T;
  const g0norm = Math.sqrt(mean + 1e-8);
  const cc = c * g0norm + 1e-8;
  const Gb = new Float64Array(T);
  for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) Gb[i] += at(G, T, i, j) / T;
  const f = (w: Float64Array) => {
    let lin = 0, quad = 0;
    for (let i = 0; i < T; i++) {
      lin += w[i] * Gb[i];
      for (let j = 0; j < T; j++) quad += w[i] * at(G, T, i, j) * w[j];
    }
    return lin + cc * Math.sqrt(quad + 1e-8);
  };
  const grad = (w: Float64Array) => {
    const Gw = new Float64Array(T);
    let quad = 0;
    for (let i = 0; i < T; i++) {
      for (let j = 0; j < T; j++) Gw[i] += at(G, T, i, j) * w[j];
      quad += w[i] * Gw[i];
    }
    const s = Math.sqrt(quad + 1e-8);
    return Gw.map((v, i) => Gb[i] + (cc * v) / s);
  };
  let w: Float64Array = new Float64Array(T).fill(1 / T);
  let fw = f(w);
  let step = 1 / Math.max(1e-12, Math.max(...Array.from({ length: T }, (_, i) => at(G, T, i, i))));
  for (let it = 0; it < 1000; it++) {
    const g = grad(w);
    let next: Float64Array = w, fn = Infinity;
    for (let tries = 0; tries < 60; tries++) {
      next = projectSimplex(w.map((v, i) => v - step * g[i]));
      fn = f(next);
      if (fn <= fw - 1e-12 * Math.abs(fw) || tries === 59) break;
      step *= 0.5;
    }
    let change = 0;
    for (let i = 0; i < T; i++) change += Math.abs(next[i] - w[i]);
    if (fn > fw) break;
    w = next;
    fw = fn;
    step *= 2;
    if (change < 1e-12) break;
  }
  let quad = 0;
  for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) quad += w[i] * at(G, T, i, j) * w[j];
  const lambda = cc / (Math.sqrt(quad) + 1e-8);
  const scale = rescale === 1 ? 1 + c * c : rescale === 2 ? 1 + c : 1;
  return { coefficients: w.map((v) => (1 / T + lambda * v) / scale), w };
}

/** Solves A·x = b (n×n, row-major) by Gaussian elimination with partial pivoting. */
function solve(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const M = A.slice(), x = b.slice();
  for (let col = 0; col < n; col++) {
    let p = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(M[r * n + col]) > Math.abs(M[p * n + col])) p = r;
    if (M[p * n + col] === 0) throw new RangeError('imtl: the task gradients are linearly dependent (singular system)');
    if (p !== col) {
      for (let k = 0; k < n; k++) [M[col * n + k], M[p * n + k]] = [M[p * n + k], M[col * n + k]];
      [x[col], x[p]] = [x[p], x[col]];
    }
    for (let r = col + 1; r < n; r++) {
      const f = M[r * n + col] / M[col * n + col];
      for (let k = col; k < n; k++) M[r * n + k] -= f * M[col * n + k];
      x[r] -= f * x[col];
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r];
    for (let k = r + 1; k < n; k++) s -= M[r * n + k] * x[k];
    x[r] = s / M[r * n + r];
  }
  return x;
}

/**
 * IMTL-G (Liu et al. 2021): the combination d = Σ αₜgₜ (Σ α = 1) whose projections onto every unit
 * gradient uₜ = gₜ/‖gₜ‖ are equal: α₂..T = (g₁Uᵀ)(DUᵀ)⁻¹ with Dₜ = g₁ − gₜ, Uₜ = u₁ − uₜ, all from G.
 */
export function imtlCoefficients(G: ArrayLike<number>, T: number): Float64Array {
  const a = new Float64Array(T);
  if (T === 1) return (a[0] = 1), a;
  const n = Array.from({ length: T }, (_, t) => Math.sqrt(at(G, T, t, t)));
  n.forEach((v, t) => {
    if (!(v > 0)) throw new RangeError(`imtl: grads[${t}] is zero; IMTL-G needs non-zero task gradients`);
  });
  const m = T - 1;
  // (D Uᵀ)[a][b] = (g₁ − g_{a+1})·(u₁ − u_{b+1});  (g₁ Uᵀ)[b] = g₁·(u₁ − u_{b+1})
  const dot = (i: number, j: number) => at(G, T, i, j) / n[j]; // gᵢ·uⱼ
  const DU = new Float64Array(m * m), gU = new Float64Array(m);
  for (let b = 0; b < m; b++) {
    gU[b] = dot(0, 0) - dot(0, b + 1);
    for (let r = 0; r < m; r++) DU[r * m + b] = dot(0, 0) - dot(0, b + 1) - dot(r + 1, 0) + dot(r + 1, b + 1);
  }
  // α₂..T as a row vector: x·DU = gU  ⇔  DUᵀ·xᵀ = gUᵀ
  const DUt = new Float64Array(m * m);
  for (let r = 0; r < m; r++) for (let b = 0; b < m; b++) DUt[b * m + r] = DU[r * m + b];
  const x = solve(DUt, gU, m);
  let s = 0;
  for (let t = 0; t < m; t++) (a[t + 1] = x[t]), (s += x[t]);
  a[0] = 1 - s;
  return a;
}

/**
 * GradVac (Wang et al. 2021): like PCGrad, but each gᵢ is moved towards the target similarity ρ̂ᵢⱼ (an EMA
 * of the observed cosine, rate β) whenever its cosine with gⱼ falls below it:
 * gᵢ += ‖gᵢ‖·(ρ̂·√(1−ρ²) − ρ·√(1−ρ̂²)) / (‖gⱼ‖·√(1−ρ̂²))·gⱼ; the gⱼ in a random order (a generator kept in
 * the state, first seeded from `seed`). Updates state.rho and state.rng.
 */
export function gradvacCoefficients(G: ArrayLike<number>, T: number, beta: number, seed: number, state: CombineState): Float64Array {
  if (!state.rho || state.rho.length !== T * T) state.rho = new Array<number>(T * T).fill(0);
  const rng = new Rng(seed);
  if (state.rng && state.rng.length === 4) rng.s = [state.rng[0] >>> 0, state.rng[1] >>> 0, state.rng[2] >>> 0, state.rng[3] >>> 0];
  const rho = state.rho;
  const total = new Float64Array(T);
  const norm = (t: number) => Math.sqrt(at(G, T, t, t));
  for (let i = 0; i < T; i++) {
    const c = new Float64Array(T);
    c[i] = 1;
    const order = Array.from({ length: T }, (_, k) => k).filter((k) => k !== i);
    for (let k = order.length - 1; k > 0; k--) {
      const r = rng.nextUint32() % (k + 1);
      [order[k], order[r]] = [order[r], order[k]];
    }
    for (const j of order) {
      let cGj = 0, cGc = 0;
      for (let a = 0; a < T; a++) {
        cGj += c[a] * at(G, T, a, j);
        for (let b = 0; b < T; b++) cGc += c[a] * at(G, T, a, b) * c[b];
      }
      const ni = Math.sqrt(cGc), nj = norm(j);
      const r = ni > 0 && nj > 0 ? cGj / (ni * nj) : 0;
      const target = rho[i * T + j];
      if (r < target) {
        const w = (ni * (target * Math.sqrt(Math.max(0, 1 - r * r)) - r * Math.sqrt(Math.max(0, 1 - target * target)))) /
          (nj * Math.sqrt(Math.max(1e-30, 1 - target * target)));
        c[j] += w;
      }
      rho[i * T + j] = (1 - beta) * target + beta * r;
    }
    for (let k = 0; k < T; k++) total[k] += c[k];
  }
  state.rng = [...rng.s];
  state.step = (state.step ?? 0) + 1;
  return total;
}

/**
 * Nash-MTL (Navon et al. 2022): the bargaining solution α > 0 of (Ĝα)ₜ = 1/αₜ on the Gram matrix normalised
 * by its Frobenius norm (as the authors' code), found exactly: it is the minimiser of the convex
 * ½αᵀĜα − Σ log αₜ, by damped Newton steps (the authors approximate it with 20 convex-concave steps).
 */
export function nashCoefficients(G: ArrayLike<number>, T: number): Float64Array {
  let fro = 0;
  for (let i = 0; i < T * T; i++) fro += G[i] * G[i];
  fro = Math.sqrt(fro);
  if (!(fro > 0)) throw new RangeError('nashmtl: every task gradient is zero');
  const Gn = Float64Array.from({ length: T * T }, (_, i) => G[i] / fro);
  const f = (a: Float64Array) => {
    let q = 0, l = 0;
    for (let i = 0; i < T; i++) {
      l += Math.log(a[i]);
      for (let j = 0; j < T; j++) q += a[i] * Gn[i * T + j] * a[j];
    }
    return 0.5 * q - l;
  };
  let a: Float64Array = new Float64Array(T).fill(1 / Math.sqrt(T));
  for (let it = 0; it < 100; it++) {
    const g = new Float64Array(T), H = new Float64Array(T * T);
    for (let i = 0; i < T; i++) {
      for (let j = 0; j < T; j++) (g[i] += Gn[i * T + j] * a[j]), (H[i * T + j] = Gn[i * T + j]);
      g[i] -= 1 / a[i];
      H[i * T + i] += 1 / (a[i] * a[i]);
    }
    const d = solve(H, g, T);  // Newton step: a − d
    let dec = 0;
    for (let i = 0; i < T; i++) dec += g[i] * d[i];
    if (dec < 1e-24) break;
    let step = 1;
    const f0 = f(a);
    for (;;) {
      const next = a.map((v, i) => v - step * d[i]);
      // near the solution (quadratic convergence) the objective's rounding would defeat the Armijo test
      if (next.every((v) => v > 0) && (dec < 1e-8 || f(next) <= f0 - 0.25 * step * dec)) {
        a = next;
        break;
      }
      step *= 0.5;
      if (step < 1e-20) return a;
    }
  }
  return a;
}

/** min vᵀGv over v ≥ u (G positive definite), by cyclic coordinate descent to convergence. */
function boxQp(G: Float64Array, u: Float64Array, T: number): Float64Array {
  const v = u.slice();
  for (let sweep = 0; sweep < 100000; sweep++) {
    let moved = 0;
    for (let i = 0; i < T; i++) {
      let r = 0;
      for (let j = 0; j < T; j++) if (j !== i) r += G[i * T + j] * v[j];
      const next = Math.max(u[i], -r / G[i * T + i]);
      moved = Math.max(moved, Math.abs(next - v[i]));
      v[i] = next;
    }
    if (moved < 1e-15) break;
  }
  return v;
}

/**
 * UPGrad (Quinton & Rey 2024, torchjd's defaults): the Gram matrix normalised by its trace and
 * regularised by 1e-4·I; each uₜ = eₜ/T is projected onto the dual cone (min vᵀGv with v ≥ uₜ) and the
 * projections are summed. The result conflicts with no task gradient.
 */
export function upgradCoefficients(G: ArrayLike<number>, T: number): Float64Array {
  let tr = 0;
  for (let i = 0; i < T; i++) tr += at(G, T, i, i);
  if (!(tr >= 1e-4)) return new Float64Array(T);  // torchjd: a (near) zero Gramian gives zero weights
  const Gn = Float64Array.from({ length: T * T }, (_, i) => G[i] / tr);
  for (let i = 0; i < T; i++) Gn[i * T + i] += 1e-4;
  const total = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    const u = new Float64Array(T);
    u[t] = 1 / T;
    const v = boxQp(Gn, u, T);
    for (let i = 0; i < T; i++) total[i] += v[i];
  }
  return total;
}

/** Eigen-decomposition of a symmetric matrix (cyclic Jacobi): eigenvalues and eigenvectors (columns). */
function symmetricEigen(A: ArrayLike<number>, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(A as ArrayLike<number>);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p], vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  return { values: Float64Array.from({ length: n }, (_, i) => a[i * n + i]), vectors: V };
}

/**
 * Aligned-MTL (Senushkin et al. 2023), LibMTL's 'min' scaling: with G = VΛVᵀ restricted to the
 * eigenvalues above max λ·T·2⁻²³ (the rank), B = √λ_min·V·Λ^(−½)·Vᵀ aligns the task gradients to an
 * orthogonal, equal-norm system; the coefficients are B's column sums.
 */
export function alignedCoefficients(G: ArrayLike<number>, T: number): Float64Array {
  const { values, vectors } = symmetricEigen(G, T);
  const maxL = Math.max(...values);
  if (!(maxL > 0)) throw new RangeError('alignedmtl: every task gradient is zero');
  const tol = maxL * T * 1.1920928955078125e-7;
  const keep = Array.from({ length: T }, (_, i) => i).filter((i) => values[i] > tol);
  const lmin = Math.min(...keep.map((i) => values[i]));
  const alpha = new Float64Array(T);
  for (let r = 0; r < T; r++)
    for (let c = 0; c < T; c++) {
      let b = 0;
      for (const k of keep) b += (vectors[r * T + k] * vectors[c * T + k]) / Math.sqrt(values[k]);
      alpha[c] += Math.sqrt(lmin) * b;
    }
  return alpha;
}

// ---------------------------------------------------------------- combineGradients

function planCombine(grads: readonly Float32Array[], options: CombineOptions) {
  const g = taskGrads(grads);
  if (typeof options !== 'object' || options === null) throw typeError('{ method, … }', 'combineGradients options', options);
  const known = ['method', 'seed', 'normalization', 'losses', 'c', 'rescale', 'beta', 'betaSigma', 'state', 'out', 'backend'];
  for (const k of Object.keys(options))
    if (!known.includes(k) && (options as unknown as Record<string, unknown>)[k] !== undefined)
      throw new TypeError(`Unknown option '${k}' for combineGradients; expected ${known.join(', ')}`);
  const method = options.method;
  if (!(COMBINE_METHODS as readonly string[]).includes(method)) throw typeError(COMBINE_METHODS.map((m) => `'${m}'`).join(' | '), 'combineGradients.method', method);
  const seed = options.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1) throw rangeError('an integer in [0, 2^32)', 'combineGradients.seed', seed);
  const normalization = options.normalization ?? 'none';
  if (!['none', 'l2', 'loss', 'loss+'].includes(normalization)) throw typeError("'none' | 'l2' | 'loss' | 'loss+'", 'combineGradients.normalization', normalization);
  let losses: Float64Array | undefined;
  if (method === 'mgda' && (normalization === 'loss' || normalization === 'loss+')) {
    if (options.losses === undefined || typeof options.losses !== 'object' || options.losses === null || (options.losses as ArrayLike<number>).length !== g.length)
      throw rangeError(`${g.length} losses (one per gradient)`, 'combineGradients.losses', options.losses);
    losses = Float64Array.from(options.losses);
  }
  const c = options.c ?? 0.5;
  if (typeof c !== 'number' || !(c >= 0) || !Number.isFinite(c)) throw rangeError('a finite number >= 0', 'combineGradients.c', c);
  const rescale = options.rescale ?? 1;
  if (rescale !== 0 && rescale !== 1 && rescale !== 2) throw typeError('0 | 1 | 2', 'combineGradients.rescale', rescale);
  const n = g[0].length;
  const backend = gradientBackend('combineGradients', options.backend, [...g, options.out]);
  let out: Float32Array;
  if (options.out === undefined) out = g.some((x) => x instanceof DeviceBuffer) ? (DeviceBuffer.alloc(n) as unknown as Float32Array) : new Float32Array(n);
  else {
    const o = options.out as Float32Array;
    const d: unknown = options.out;
    if (!(o instanceof Float32Array) && !(d instanceof DeviceBuffer && d.dtype === 'float32')) throw typeError('a Float32Array', 'combineGradients.out', options.out);
    checkNotDetached(o, 'out');
    if (o.length !== n) throw rangeError(`${n} elements (the gradients' length)`, 'combineGradients.out', options.out);
    g.forEach((x, t) => {
      if (overlaps(o, x)) throw new RangeError(`combineGradients.out overlaps grads[${t}]`);
    });
    out = o;
  }
  const beta = options.beta ?? (method === 'dbmtl' ? 0.9 : 0.5);
  if (typeof beta !== 'number' || !(beta >= 0 && beta <= 1)) throw rangeError('a number in [0, 1]', 'combineGradients.beta', beta);
  const betaSigma = options.betaSigma ?? 0.5;
  if (typeof betaSigma !== 'number' || !(betaSigma >= 0) || !Number.isFinite(betaSigma)) throw rangeError('a finite number >= 0', 'combineGradients.betaSigma', betaSigma);
  const state = options.state;
  if ((method === 'gradvac' || method === 'dbmtl') && (typeof state !== 'object' || state === null))
    throw new TypeError(`combineGradients: '${method}' keeps state across steps; pass options.state (start with {}) and keep it`);
  return {
    g, method, seed, normalization: normalization as MgdaNormalization, losses, c, rescale: rescale as 0 | 1 | 2, beta, betaSigma,
    state: state ?? null, out, backend,
  };
}

type Plan = ReturnType<typeof planCombine>;

function needsGram(m: CombineMethod): boolean {
  return m !== 'sum' && m !== 'mean' && m !== 'graddrop' && m !== 'dbmtl';
}

function coefficientsFor(p: Plan, G: Float64Array | null): Float64Array {
  const T = p.g.length;
  if (G) for (let t = 0; t < T; t++) if (!Number.isFinite(G[t * T + t])) throw new RangeError(`combineGradients: grads[${t}] has a non-finite element (NaN or ±Infinity); '${p.method}' needs finite gradients`);
  switch (p.method) {
    case 'sum': return new Float64Array(T).fill(1);
    case 'mean': return new Float64Array(T).fill(1 / T);
    case 'pcgrad': return pcgradCoefficients(G!, T, p.seed);
    case 'mgda': return mgdaCoefficients(G!, T, p.normalization, p.losses);
    case 'cagrad': return cagradCoefficients(G!, T, p.c, p.rescale).coefficients;
    case 'imtl': return imtlCoefficients(G!, T);
    case 'gradvac': return gradvacCoefficients(G!, T, p.beta, p.seed, p.state!);
    case 'nashmtl': return nashCoefficients(G!, T);
    case 'upgrad': return upgradCoefficients(G!, T);
    case 'alignedmtl': return alignedCoefficients(G!, T);
    default: throw new Error(`internal: ${p.method} has no coefficients`);
  }
}

/**
 * Combines T task gradients of the same length (representation gradients or flattened parameter
 * gradients) into one: grad = Σₜ coefficientsₜ·gradsₜ for every method but graddrop (dbmtl's
 * coefficients apply to its EMA buffers). Gram-based methods read the gradients twice (Gram pass, combine
 * pass) and refuse non-finite gradients; sum, mean, graddrop and dbmtl propagate NaN like arithmetic.
 */
export function combineGradients(grads: readonly DeviceBuffer<'float32'>[], options: CombineOptions): CombineResult<DeviceBuffer<'float32'>>;
/** Host gradients: the combined gradient is a Float32Array (or `out`). */
export function combineGradients(grads: readonly Float32Array[], options: CombineOptions): CombineResult;
export function combineGradients(grads: readonly (Float32Array | DeviceBuffer<'float32'>)[], options: CombineOptions): CombineResult | CombineResult<DeviceBuffer<'float32'>> {
  return combineWithGram(grads as Float32Array[], options, null);
}

/** combineGradients with the Gram matrix already known (multiHeadBackward computes it with the heads). */
export function combineWithGram(grads: readonly Float32Array[], options: CombineOptions, gram: Float64Array | null): CombineResult {
  const p = planCombine(grads, options);
  const ref = p.backend === 'reference';
  if (p.method === 'dbmtl') return dbmtl(p);
  const cuda = p.backend === 'cuda';
  if (p.method === 'graddrop') {
    if (ref) gradDropReference(p.g, p.seed, p.out);
    else if (cuda) cudaNative().gradDrop(toNativeArgs(p.g), p.seed, toNativeArgs([p.out])[0]);
    else native().gradDrop(p.g, p.seed, p.out);
    return { grad: p.out, coefficients: null, gram: null };
  }
  let G: Float64Array | null = null;
  if (needsGram(p.method)) {
    G = gram ?? (ref ? gramReference(p.g) : new Float64Array(p.g.length ** 2));
    if (!ref && !gram) (cuda ? cudaNative().gramMatrix(toNativeArgs(p.g), G) : native().gramMatrix(p.g, G));
  }
  const coef = coefficientsFor(p, G);
  if (ref) combineReference(p.g, coef, p.out);
  else if (cuda) cudaNative().combineGradients(toNativeArgs(p.g), coef, toNativeArgs([p.out])[0]);
  else native().combineGradients(p.g, coef, p.out);
  return { grad: p.out, coefficients: coef, gram: G };
}

/** `combineGradients` off the event loop (the passes over the gradients run on the thread pool); the same bits. */
export async function combineGradientsAsync(grads: readonly DeviceBuffer<'float32'>[], options: CombineOptions): Promise<CombineResult<DeviceBuffer<'float32'>>>;
/** Host gradients: the combined gradient is a Float32Array (or `out`). */
export async function combineGradientsAsync(grads: readonly Float32Array[], options: CombineOptions): Promise<CombineResult>;
export async function combineGradientsAsync(grads: readonly (Float32Array | DeviceBuffer<'float32'>)[], options: CombineOptions): Promise<CombineResult | CombineResult<DeviceBuffer<'float32'>>> {
  return combineGradientsAsyncWithGram(grads as Float32Array[], options, null);
}

export async function combineGradientsAsyncWithGram(grads: readonly Float32Array[], options: CombineOptions, gram: Float64Array | null): Promise<CombineResult> {
  const p = planCombine(grads, options);
  if (p.backend === 'reference' || p.method === 'dbmtl') return combineWithGram(grads, options, gram);
  const cuda = p.backend === 'cuda';
  if (p.method === 'graddrop') {
    if (cuda) await holding([...p.g, p.out], () => cudaNative().gradDropAsync(toNativeArgs(p.g), p.seed, toNativeArgs([p.out])[0]));
    else await native().gradDropAsync(p.g, p.seed, p.out);
    return { grad: p.out, coefficients: null, gram: null };
  }
  let G: Float64Array | null = null;
  if (needsGram(p.method)) {
    G = gram;
    if (!G) {
      const g2 = (G = new Float64Array(p.g.length ** 2));
      await (cuda ? holding(p.g, () => cudaNative().gramMatrixAsync(toNativeArgs(p.g), g2)) : native().gramMatrixAsync(p.g, g2));
    }
  }
  const coef = coefficientsFor(p, G);
  if (cuda) await holding([...p.g, p.out], () => cudaNative().combineGradientsAsync(toNativeArgs(p.g), coef, toNativeArgs([p.out])[0]));
  else await native().combineGradientsAsync(p.g, coef, p.out);
  return { grad: p.out, coefficients: coef, gram: G };
}

/**
 * DB-MTL's gradient-magnitude balancing (Lin et al. 2023, LibMTL's defaults β = 0.9, σ = 0.5): with the
 * gradients of the log losses gₜ (what MultiTaskLoss's 'dbmtl' strategy produces), the EMA
 * bufₜ ← (1 − β/stepᵠ)·gₜ + (β/stepᵠ)·bufₜ, then every buffer is scaled to the largest norm:
 * grad = Σₜ (max‖buf‖/(‖bufₜ‖ + 1e-8))·bufₜ. Coefficients are those of the buffers.
 */
function dbmtl(p: Plan): CombineResult {
  const st = p.state!;
  const T = p.g.length, n = p.g[0].length;
  const cuda = p.backend === 'cuda';
  // buffers live where the work does: on the GPU for backend 'cuda'
  const where = (a: Float32Array[] | undefined) => !a || a.some((b) => (b instanceof DeviceBuffer) !== cuda);
  const fresh = (a: Float32Array[] | undefined) => where(a) || a!.length !== T || a!.some((b) => b.length !== n);
  const make = () => p.g.map(() => (cuda ? (DeviceBuffer.alloc(n) as unknown as Float32Array) : new Float32Array(n)));
  if (fresh(st.buffers)) (st.buffers = make()), (st.step = 0);
  const step = (st.step ?? 0) + 1;  // counted once the buffers are updated (a refused call leaves it)
  const c = p.beta / step ** p.betaSigma;
  const buffers = st.buffers!;
  let norms: ArrayLike<number>;
  if (p.backend === 'native') {
    // one native pass: each buffer updated in place and its norm taken while its blocks are in cache
    const out = new Float64Array(T);
    native().emaUpdate(buffers, p.g, c, out);
    norms = out;
  } else {
    const mix = Float64Array.from([1 - c, c]);
    if (cuda) {
      // the GPU's combine pass writes to a distinct array: the update goes through scratch buffers
      if (fresh(st.scratch)) st.scratch = make();
      for (let t = 0; t < T; t++) {
        const out = st.scratch![t];
        cudaNative().combineGradients(toNativeArgs([p.g[t], buffers[t]]), mix, toNativeArgs([out])[0]);
        [buffers[t], st.scratch![t]] = [out, buffers[t]];
      }
      norms = buffers.map((b) => cudaNative().totalNorm(toNativeArgs([b]), 2));
    } else {
      for (let t = 0; t < T; t++) combineReference([p.g[t], buffers[t]], mix, buffers[t]);  // element by element: in place
      norms = buffers.map((b) => totalNormReference([b], 2));
    }
  }
  st.step = step;
  const top = Math.max(...Array.from(norms));
  const coef = Float64Array.from(norms, (u) => top / (u + 1e-8));
  if (p.backend === 'reference') combineReference(buffers, coef, p.out);
  else if (cuda) cudaNative().combineGradients(toNativeArgs(buffers), coef, toNativeArgs([p.out])[0]);
  else native().combineGradients(buffers, coef, p.out);
  return { grad: p.out, coefficients: coef, gram: null };
}

// ---------------------------------------------------------------- clipping

function arrays(grads: unknown, name: string): Float32Array[] {
  const list = grads instanceof Float32Array || grads instanceof DeviceBuffer ? [grads] : grads;
  if (!Array.isArray(list)) throw typeError('a Float32Array or an array of them', name, grads);
  list.forEach((g, i) => {
    if (!(g instanceof Float32Array) && !(g instanceof DeviceBuffer && g.dtype === 'float32')) throw typeError('a Float32Array', `${name}[${i}]`, g);
    checkNotDetached(g as Float32Array, `${name}[${i}]`);
  });
  for (let i = 0; i < list.length; i++)
    for (let j = i + 1; j < list.length; j++)
      if (overlaps(list[i], list[j])) throw new RangeError(`${name}[${j}] overlaps ${name}[${i}]`);
  return list as Float32Array[];
}

/** Options of clipGradNorm. */
export interface ClipGradNormOptions {
  /** Throw a RangeError (before scaling anything) when the total norm is NaN or infinite. Default false. */
  errorIfNonfinite?: boolean;
  /** 'native' (default), 'reference' or 'cuda' (implied by DeviceBuffer gradients). */
  backend?: GradientBackend;
}

/**
 * PyTorch's clip_grad_norm_: the p-norm of all gradients together (normType 2 by default, or any p > 0,
 * or Infinity); if it exceeds maxNorm every gradient is multiplied in place by maxNorm/(norm + 1e-6).
 * Returns the total norm (computed in float64).
 */
export function clipGradNorm(grads: F32Grads, maxNorm: number, normType = 2, options: ClipGradNormOptions = {}): number {
  const list = arrays(grads, 'grads');
  if (typeof maxNorm !== 'number' || !(maxNorm >= 0)) throw rangeError('a number >= 0', 'maxNorm', maxNorm);
  if (typeof normType !== 'number' || !(normType > 0)) throw rangeError('a number > 0 or Infinity', 'normType', normType);
  const backend = gradientBackend('clipGradNorm', options.backend, list);
  const ref = backend === 'reference', cuda = backend === 'cuda';
  const norm = ref ? totalNormReference(list, normType) : cuda ? cudaNative().totalNorm(toNativeArgs(list), normType) : native().totalNorm(list, normType);
  if (!Number.isFinite(norm) && options.errorIfNonfinite)
    throw new RangeError(`clipGradNorm: the total norm of order ${normType} is ${norm}; the gradients were left unchanged`);
  const coef = Math.min(1, maxNorm / (norm + 1e-6));
  if (coef < 1 || Number.isNaN(coef)) {
    const f = Math.fround(coef);
    if (ref) for (const g of list) for (let k = 0; k < g.length; k++) g[k] = Math.fround(g[k] * f);
    else if (cuda) cudaNative().scaleArrays(toNativeArgs(list), f);
    else native().scaleArrays(list, f);
  }
  return norm;
}

/** PyTorch's clip_grad_value_: clamps every gradient element to [−clipValue, clipValue] in place. */
export function clipGradValue(grads: F32Grads, clipValue: number, options: { backend?: GradientBackend } = {}): void {
  const list = arrays(grads, 'grads');
  if (typeof clipValue !== 'number' || !(clipValue >= 0)) throw rangeError('a number >= 0', 'clipValue', clipValue);
  const backend = gradientBackend('clipGradValue', options.backend, list);
  if (backend === 'cuda') {
    cudaNative().clipValues(toNativeArgs(list), clipValue);
  } else if (backend === 'reference') {
    const v = Math.fround(clipValue);
    for (const g of list) for (let k = 0; k < g.length; k++) g[k] = g[k] > v ? v : g[k] < -v ? -v : g[k];
  } else {
    native().clipValues(list, clipValue);
  }
}

// ---------------------------------------------------------------- accumulation

/** Options of a GradAccumulator. */
export interface GradAccumulatorOptions {
  /**
   * 'native' (float64 sums in host memory) or 'cuda' (float64 sums in GPU memory; gradients may be host
   * arrays or DeviceBuffers). Default: 'cuda' when the first `add` has a DeviceBuffer, else 'native'.
   */
  backend?: 'native' | 'cuda';
}

/** A gradient an accumulator takes: a Float32Array, or (backend 'cuda') a float32 DeviceBuffer. */
export type AccumulatedGrad = Float32Array | DeviceBuffer<'float32'>;

/**
 * Sums micro-batch gradients into float64 accumulators (one per name) and reads them back as float32,
 * divided by the number of added steps (`read()`) or not (`read({ mean: false })`). The float64 sums are
 * exact to float64 rounding and independent of the thread count, so reading after k steps gives the same
 * bits however the additions were scheduled. With backend 'cuda' the sums live on the GPU (same bits as
 * the CPU: each element's sum is the same float64 additions in the same order) and `read()` returns
 * DeviceBuffers: declare it as `new GradAccumulator<DeviceBuffer<'float32'>>({ backend: 'cuda' })`.
 */
export class GradAccumulator<G extends AccumulatedGrad = Float32Array> {
  private readonly acc = new Map<string, Float64Array | DeviceBuffer<'float64'>>();
  private count = 0;
  private chosen: 'native' | 'cuda' | undefined;

  /** An empty accumulator; the first `add` fixes the gradient names and lengths. */
  constructor(options: GradAccumulatorOptions = {}) {
    if (typeof options !== 'object' || options === null) throw typeError('{ backend? }', 'GradAccumulator options', options);
    for (const k of Object.keys(options)) if (k !== 'backend') throw new TypeError(`Unknown GradAccumulator option '${k}'; expected backend`);
    const b = options.backend;
    if (b !== undefined && b !== 'native' && b !== 'cuda') throw typeError("'native' | 'cuda'", 'GradAccumulator backend', b);
    this.chosen = b;
  }

  /** Steps added since the last reset. */
  get steps(): number {
    return this.count;
  }

  /** Where the sums live: 'native' (host) or 'cuda' (GPU); undefined until the first `add` when not configured. */
  get backend(): 'native' | 'cuda' | undefined {
    return this.chosen;
  }

  /** Adds one micro-batch's gradients ({ name: Float32Array or, on cuda, DeviceBuffer }); names and lengths must stay the same. */
  add(grads: Readonly<Record<string, AccumulatedGrad>>): void {
    if (typeof grads !== 'object' || grads === null) throw typeError('an object of Float32Arrays', 'grads', grads);
    const names = Object.keys(grads);
    if (this.acc.size > 0) {
      for (const k of names) if (!this.acc.has(k)) throw new TypeError(`GradAccumulator.add: unknown gradient '${k}' (the first add fixed the names: ${[...this.acc.keys()].join(', ')})`);
      for (const k of this.acc.keys()) if (!(k in grads)) throw new TypeError(`GradAccumulator.add: gradient '${k}' is missing`);
    }
    const backend = this.chosen ?? (backendFor('GradAccumulator.add', 'native', false, names.map((k) => grads[k])) as 'native' | 'cuda');
    for (const k of names) {
      const g = grads[k];
      checkF32Arg(g, `grads.${k}`, 'accumulator', backend);
      const a = this.acc.get(k);
      if (a && a.length !== g.length) throw rangeError(`${a.length} elements (as before)`, `grads.${k}`, g);
    }
    // Every accumulator exists before the first addition (an allocation that fails leaves the sums as they were).
    for (const k of names)
      if (!this.acc.has(k)) this.acc.set(k, backend === 'cuda' ? DeviceBuffer.alloc(grads[k].length, 'float64') : new Float64Array(grads[k].length));
    this.chosen = backend;
    for (const k of names) {
      const a = this.acc.get(k) as Float64Array | DeviceBuffer<'float64'>;
      if (backend === 'cuda') cudaNative().accumulateF64(...toNativeArgs([a, grads[k]] as [Float64Array, Float32Array]));
      else native().accumulateF64(a as Float64Array, grads[k] as Float32Array);
    }
    this.count++;
  }

  /**
   * The accumulated gradients as float32: the mean over the added steps (default) or the sum. On cuda they
   * are new DeviceBuffers, or written into `out` (DeviceBuffers or Float32Arrays).
   */
  read(options: { mean?: boolean; out?: Readonly<Record<string, AccumulatedGrad>> } = {}): Record<string, G> {
    if (this.count === 0) throw new RangeError('GradAccumulator.read: nothing was added');
    const divisor = options.mean === false ? 1 : this.count;
    const cuda = this.chosen === 'cuda';
    const r: Record<string, G> = {};
    for (const [k, a] of this.acc) {
      const given = options.out?.[k];
      const okOut = given instanceof Float32Array || (cuda && given instanceof DeviceBuffer && given.dtype === 'float32');
      if (given !== undefined && (!okOut || given.length !== a.length))
        throw rangeError(`a Float32Array${cuda ? ' or float32 DeviceBuffer' : ''} of ${a.length} elements`, `out.${k}`, given);
      const o = given ?? (cuda ? DeviceBuffer.alloc(a.length) : new Float32Array(a.length));
      if (cuda) cudaNative().readF64(...toNativeArgs([a, divisor, o] as [Float64Array, number, Float32Array]));
      else native().readF64(a as Float64Array, divisor, o as Float32Array);
      r[k] = o as G;
    }
    return r;
  }

  /** Clears the sums (keeps the buffers) and the step count. */
  reset(): void {
    for (const a of this.acc.values()) {
      if (a instanceof DeviceBuffer) a.zero();
      else a.fill(0);
    }
    this.count = 0;
  }

  /** Frees the GPU sums now (backend 'cuda'); the accumulator starts over (names unset, no steps). */
  dispose(): void {
    for (const a of this.acc.values()) if (a instanceof DeviceBuffer) a.dispose();
    this.acc.clear();
    this.count = 0;
  }
}
