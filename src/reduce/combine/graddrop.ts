// The 'graddrop' combine method of combineGradients (see types.ts for the descriptor).
import { cudaNative, native } from '../../backends/binding';
import { holding, toNativeArgs } from '../../backends/device';
import { gradDropReference } from '../../backends/reference/reduce';
import type { CombineDescriptor, CombinePlan, CombineResult } from './types';

/** Chen et al. 2020: per element, keep the sign of a seeded draw against the gradients' sign purity; one native pass (no coefficients). */
export const method: CombineDescriptor<'graddrop'> = {
  name: 'graddrop',
  gram: false,
  state: false,
  run(p: CombinePlan): CombineResult {
    if (p.backend === 'reference') gradDropReference(p.g, p.seed, p.out);
    else if (p.backend === 'cuda') cudaNative().gradDrop(toNativeArgs(p.g), p.seed, toNativeArgs([p.out])[0]);
    else native().gradDrop(p.g, p.seed, p.out);
    return { grad: p.out, coefficients: null, gram: null };
  },
  async runAsync(p: CombinePlan): Promise<CombineResult> {
    if (p.backend === 'reference') return method.run!(p);
    if (p.backend === 'cuda')
      await holding([...p.g, p.out], () => cudaNative().gradDropAsync(toNativeArgs(p.g), p.seed, toNativeArgs([p.out])[0]));
    else await native().gradDropAsync(p.g, p.seed, p.out);
    return { grad: p.out, coefficients: null, gram: null };
  },
};
