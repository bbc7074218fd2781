// The 'static' loss-weighting strategy of MultiTaskLoss (see base.ts for the interface).
import { fixed, NEEDS_NOTHING, perTask, Strategy, type StrategyDescriptor, type WeightingConfig } from './base';

class Static extends Strategy {
  private readonly w: number[];
  constructor(tasks: readonly string[], c: WeightingConfig) {
    super('static', tasks);
    if (c.weights === undefined) throw new TypeError("weighting.weights: the 'static' strategy needs one weight per task");
    this.w = perTask(c.weights, tasks, 'weighting.weights', 0);
  }
  stepWeights() {
    return fixed(this.w);
  }
  params() {
    return this.baseParams();
  }
  load(p: Record<string, unknown>) {
    this.loadBase(p);
  }
}

/** The 'static' strategy's registry entry. */
export const strategy: StrategyDescriptor<'static'> = {
  name: 'static',
  options: ['weights'],
  needs: NEEDS_NOTHING,
  make: (tasks, c) => new Static(tasks, c),
};
