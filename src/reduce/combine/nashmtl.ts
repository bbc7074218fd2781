// The 'nashmtl' combine method of combineGradients (see types.ts for the descriptor).
import { solve } from './linalg';
import type { CombineDescriptor } from './types';

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
    let q = 0,
      l = 0;
    for (let i = 0; i < T; i++) {
      l += Math.log(a[i]);
      for (let j = 0; j < T; j++) q += a[i] * Gn[i * T + j] * a[j];
    }
    return 0.5 * q - l;
  };
  let a: Float64Array = new Float64Array(T).fill(1 / Math.sqrt(T));
  for (let it = 0; it < 100; it++) {
    const g = new Float64Array(T),
      H = new Float64Array(T * T);
    for (let i = 0; i < T; i++) {
      for (let j = 0; j < T; j++) ((g[i] += Gn[i * T + j] * a[j]), (H[i * T + j] = Gn[i * T + j]));
      g[i] -= 1 / a[i];
      H[i * T + i] += 1 / (a[i] * a[i]);
    }
    const d = solve(H, g, T); // Newton step: a − d
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

/** Navon et al. 2022: the Nash bargaining solution. */
export const method: CombineDescriptor<'nashmtl'> = {
  name: 'nashmtl',
  gram: true,
  state: false,
  coefficients: (p, G) => nashCoefficients(G!, p.g.length),
};
