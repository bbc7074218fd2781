// The 'upgrad' combine method of combineGradients (see types.ts for the descriptor).
import { at, boxQp } from './linalg';
import type { CombineDescriptor } from './types';

/**
 * UPGrad (Quinton & Rey 2024, torchjd's defaults): the Gram matrix normalised by its trace and
 * regularised by 1e-4·I; each uₜ = eₜ/T is projected onto the dual cone (min vᵀGv with v ≥ uₜ) and the
 * projections are summed. The result conflicts with no task gradient.
 */
export function upgradCoefficients(G: ArrayLike<number>, T: number): Float64Array {
  let tr = 0;
  for (let i = 0; i < T; i++) tr += at(G, T, i, i);
  if (!(tr >= 1e-4)) return new Float64Array(T); // torchjd: a (near) zero Gramian gives zero weights
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

/** Quinton & Rey 2024 (torchjd): the unconflicting projection of gradients. */
export const method: CombineDescriptor<'upgrad'> = {
  name: 'upgrad',
  gram: true,
  state: false,
  coefficients: (p, G) => upgradCoefficients(G!, p.g.length),
};
