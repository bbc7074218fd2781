// The 'mgda' combine method of combineGradients (see types.ts for the descriptor).
import { at, minNormWeights } from './linalg';
import type { MgdaNormalization } from './types';
import type { CombineDescriptor } from './types';

/** MGDA: α on the normalised gradients gₜ/nₜ; coefficients αₜ/nₜ on the given ones. */
export function mgdaCoefficients(
  G: ArrayLike<number>,
  T: number,
  normalization: MgdaNormalization,
  losses?: ArrayLike<number>,
): Float64Array {
  const n = Array.from({ length: T }, (_, t) => {
    const l2 = Math.sqrt(at(G, T, t, t));
    if (normalization === 'l2') return l2;
    if (normalization === 'loss') return losses![t];
    if (normalization === 'loss+') return losses![t] * l2;
    return 1;
  });
  n.forEach((v, t) => {
    if (!(v > 0) || !Number.isFinite(v))
      throw new RangeError(`mgda: the ${normalization} normaliser of task ${t} is ${v}; it must be finite and > 0`);
  });
  const Gn = new Float64Array(T * T);
  for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) Gn[i * T + j] = at(G, T, i, j) / (n[i] * n[j]);
  const a = minNormWeights(Gn, T);
  return a.map((v, t) => v / n[t]);
}

/** Sener & Koltun 2018: the min-norm point of the gradients' convex hull. */
export const method: CombineDescriptor<'mgda'> = {
  name: 'mgda',
  gram: true,
  state: false,
  coefficients: (p, G) => mgdaCoefficients(G!, p.g.length, p.normalization, p.losses),
};
