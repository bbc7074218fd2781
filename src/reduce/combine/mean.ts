// The 'mean' combine method of combineGradients (see types.ts for the descriptor).
import type { CombineDescriptor } from './types';

/** Σₜ gₜ / T. */
export const method: CombineDescriptor<'mean'> = {
  name: 'mean',
  gram: false,
  state: false,
  coefficients: (p) => new Float64Array(p.g.length).fill(1 / p.g.length),
};
