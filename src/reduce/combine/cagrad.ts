// The 'cagrad' combine method of combineGradients (see types.ts for the descriptor).
import { at, projectSimplex } from './linalg';
import type { CombineDescriptor } from './types';

/**
 * CAGrad (Liu et al. 2021): w = argmin over the simplex of wᵀG·(1/T) + c·‖g₀‖·√(wᵀGw + 1e-8) (projected
 * gradient descent with backtracking), then d = g₀ + λ·g_w with λ = c·‖g₀‖/(‖g_w‖ + 1e-8), rescaled.
 * Returns the coefficients of d and the solver's w.
 */
export function cagradCoefficients(
  G: ArrayLike<number>,
  T: number,
  c = 0.5,
  rescale: 0 | 1 | 2 = 1,
): { coefficients: Float64Array; w: Float64Array } {
  let mean = 0;
  for (let i = 0; i < T * T; i++) mean += G[i];
  mean /= T * T;
  const g0norm = Math.sqrt(mean + 1e-8);
  const cc = c * g0norm + 1e-8;
  const Gb = new Float64Array(T);
  for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) Gb[i] += at(G, T, i, j) / T;
  const f = (w: Float64Array) => {
    let lin = 0,
      quad = 0;
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
    let next: Float64Array = w,
      fn = Infinity;
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

/** Liu et al. 2021: conflict-averse gradient descent around the mean gradient. */
export const method: CombineDescriptor<'cagrad'> = {
  name: 'cagrad',
  gram: true,
  state: false,
  coefficients: (p, G) => cagradCoefficients(G!, p.g.length, p.c, p.rescale).coefficients,
};
