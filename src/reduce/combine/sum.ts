// The 'sum' combine method of combineGradients (see types.ts for the descriptor).
import type { CombineDescriptor } from './types';

/** Σₜ gₜ. */
export const method: CombineDescriptor<'sum'> = {
  name: 'sum',
  gram: false,
  state: false,
  coefficients: (p) => new Float64Array(p.g.length).fill(1),
};
