// The 'alignedmtl' combine method of combineGradients (see types.ts for the descriptor).
import { symmetricEigen } from './linalg';
import type { CombineDescriptor } from './types';

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

/** Senushkin et al. 2023: align the gradients' principal components. */
export const method: CombineDescriptor<'alignedmtl'> = {
  name: 'alignedmtl',
  gram: true,
  state: false,
  coefficients: (p, G) => alignedCoefficients(G!, p.g.length),
};
