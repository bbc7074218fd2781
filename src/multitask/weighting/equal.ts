// The 'equal' loss-weighting strategy of MultiTaskLoss (see base.ts for the interface).
import { typeError } from '../../core/validate';
import { fixed, NEEDS_NOTHING, Strategy, type StrategyDescriptor, type WeightingConfig } from './base';

class Equal extends Strategy {
  private readonly w: number;
  constructor(tasks: readonly string[], c: WeightingConfig) {
    super('equal', tasks);
    if (c.normalize !== undefined && typeof c.normalize !== 'boolean') throw typeError('a boolean', 'weighting.normalize', c.normalize);
    this.w = c.normalize ? 1 / this.T : 1;
  }
  stepWeights() {
    return fixed(new Array<number>(this.T).fill(this.w));
  }
  params() {
    return this.baseParams();
  }
  load(p: Record<string, unknown>) {
    this.loadBase(p);
  }
}

/** The 'equal' strategy's registry entry. */
export const strategy: StrategyDescriptor<'equal'> = {
  name: 'equal',
  options: ['normalize'],
  needs: NEEDS_NOTHING,
  make: (tasks, c) => new Equal(tasks, c),
};
