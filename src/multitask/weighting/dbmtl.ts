// The 'dbmtl' loss-weighting strategy of MultiTaskLoss (see base.ts for the interface).
import { finiteNumber, NEEDS_NOTHING, type StepWeights, Strategy, type StrategyDescriptor, type WeightingConfig } from './base';

/** Lin et al. 2023 (DB-MTL), loss-scale part: L = Σ log(Lₜ + ε), so wₜ = 1/(Lₜ + ε). */
class DbMtl extends Strategy {
  private readonly eps: number;
  constructor(tasks: readonly string[], c: WeightingConfig) {
    super('dbmtl', tasks);
    this.eps = finiteNumber(c.eps, 'weighting.eps', 0, Infinity, 1e-8);
  }
  stepWeights(): StepWeights {
    return { rule: 2, coef: new Float64Array(this.T).fill(1), offset: new Float64Array(this.T), eps: this.eps, normalize: false };
  }
  override joint(L: Float64Array, _w: Float64Array, used: readonly boolean[]) {
    let s = 0;
    for (let i = 0; i < this.T; i++) if (used[i]) s += Math.log(L[i] + this.eps);
    return s;
  }
  params() {
    return this.baseParams();
  }
  load(p: Record<string, unknown>) {
    this.loadBase(p);
  }
}

/** The 'dbmtl' strategy's registry entry. */
export const strategy: StrategyDescriptor<'dbmtl'> = {
  name: 'dbmtl',
  options: ['eps'],
  needs: NEEDS_NOTHING,
  make: (tasks, c) => new DbMtl(tasks, c),
};
