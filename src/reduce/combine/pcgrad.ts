// The 'pcgrad' combine method of combineGradients (see types.ts for the descriptor).
import { Rng } from '../../core/random';
import { at } from './linalg';
import type { CombineDescriptor } from './types';

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

/** Yu et al. 2020: project away conflicting components in a seeded random order. */
export const method: CombineDescriptor<'pcgrad'> = {
  name: 'pcgrad',
  gram: true,
  state: false,
  coefficients: (p, G) => pcgradCoefficients(G!, p.g.length, p.seed),
};
