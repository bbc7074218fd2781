// The 'gls' loss-weighting strategy of MultiTaskLoss (see base.ts for the interface).
import { NEEDS_NOTHING, type StepWeights, Strategy, type StrategyDescriptor } from './base';

/** Chennupati et al. 2019: L = (Π Lₜ)^(1/T) over the tasks of the step; gradients by the chain rule. */
class Gls extends Strategy {
  constructor(tasks: readonly string[]) {
    super('gls', tasks);
  }
  stepWeights(): StepWeights {
    return { rule: 1 };
  }
  override joint(L: Float64Array, _w: Float64Array, used: readonly boolean[]) {
    let s = 0,
      n = 0;
    for (let i = 0; i < this.T; i++) if (used[i]) ((s += Math.log(L[i])), n++);
    return n ? Math.exp(s / n) : 0;
  }
  params() {
    return this.baseParams();
  }
  load(p: Record<string, unknown>) {
    this.loadBase(p);
  }
}

/** The 'gls' strategy's registry entry. */
export const strategy: StrategyDescriptor<'gls'> = {
  name: 'gls',
  options: [],
  needs: NEEDS_NOTHING,
  make: (tasks) => new Gls(tasks),
};
