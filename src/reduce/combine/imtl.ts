// The 'imtl' combine method of combineGradients (see types.ts for the descriptor).
import { at, solve } from './linalg';
import type { CombineDescriptor } from './types';

/**
 * IMTL-G (Liu et al. 2021): the combination d = Σ αₜgₜ (Σ α = 1) whose projections onto every unit
 * gradient uₜ = gₜ/‖gₜ‖ are equal: α₂..T = (g₁Uᵀ)(DUᵀ)⁻¹ with Dₜ = g₁ − gₜ, Uₜ = u₁ − uₜ, all from G.
 */
export function imtlCoefficients(G: ArrayLike<number>, T: number): Float64Array {
  const a = new Float64Array(T);
  if (T === 1) return ((a[0] = 1), a);
  const n = Array.from({ length: T }, (_, t) => Math.sqrt(at(G, T, t, t)));
  n.forEach((v, t) => {
    if (!(v > 0)) throw new RangeError(`imtl: grads[${t}] is zero; IMTL-G needs non-zero task gradients`);
  });
  const m = T - 1;
  // (D Uᵀ)[a][b] = (g₁ − g_{a+1})·(u₁ − u_{b+1});  (g₁ Uᵀ)[b] = g₁·(u₁ − u_{b+1})
  const dot = (i: number, j: number) => at(G, T, i, j) / n[j]; // gᵢ·uⱼ
  const DU = new Float64Array(m * m),
    gU = new Float64Array(m);
  for (let b = 0; b < m; b++) {
    gU[b] = dot(0, 0) - dot(0, b + 1);
    for (let r = 0; r < m; r++) DU[r * m + b] = dot(0, 0) - dot(0, b + 1) - dot(r + 1, 0) + dot(r + 1, b + 1);
  }
  // α₂..T as a row vector: x·DU = gU  ⇔  DUᵀ·xᵀ = gUᵀ
  const DUt = new Float64Array(m * m);
  for (let r = 0; r < m; r++) for (let b = 0; b < m; b++) DUt[b * m + r] = DU[r * m + b];
  const x = solve(DUt, gU, m);
  let s = 0;
  for (let t = 0; t < m; t++) ((a[t + 1] = x[t]), (s += x[t]));
  a[0] = 1 - s;
  return a;
}

/** Liu et al. 2021 (IMTL-G): equal projections of the combined gradient on every task gradient. */
export const method: CombineDescriptor<'imtl'> = {
  name: 'imtl',
  gram: true,
  state: false,
  coefficients: (p, G) => imtlCoefficients(G!, p.g.length),
};
