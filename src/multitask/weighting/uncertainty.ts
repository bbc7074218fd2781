// The 'uncertainty' loss-weighting strategy of MultiTaskLoss (see base.ts for the interface).
import {
  finiteNumber,
  fixed,
  makeParamOptimizer,
  NEEDS_NOTHING,
  numberArray,
  ParamOptimizer,
  perTask,
  Strategy,
  type StrategyDescriptor,
  type UncertaintyForm,
  type WeightingConfig,
} from './base';

/** Kendall, Gal & Cipolla 2018: L = Σ cₜ·e^(−sₜ)·Lₜ + ½·sₜ with cₜ = ½ (regression) or 1 (classification). */
class Uncertainty extends Strategy {
  s: number[];
  private grad: number[];
  private readonly c: number[];
  private readonly opt: ParamOptimizer;
  constructor(tasks: readonly string[], cfg: WeightingConfig, forms: readonly UncertaintyForm[]) {
    super('uncertainty', tasks);
    this.s =
      typeof cfg.init === 'number' || cfg.init === undefined
        ? new Array<number>(this.T).fill(finiteNumber(cfg.init ?? 0, 'weighting.init'))
        : perTask(cfg.init, tasks, 'weighting.init');
    this.c = forms.map((f) => (f === 'classification' ? 1 : 0.5));
    this.grad = new Array<number>(this.T).fill(0);
    this.opt = makeParamOptimizer(cfg, 1e-3, 0, this.T);
  }
  stepWeights() {
    return fixed(this.s.map((s, i) => this.c[i] * Math.exp(-s)));
  }
  override joint(L: Float64Array, w: Float64Array, used: readonly boolean[]) {
    let j = 0;
    for (let i = 0; i < this.T; i++) if (used[i]) j += w[i] * L[i] + 0.5 * this.s[i];
    return j;
  }
  override observe(L: Float64Array, w: Float64Array, used: readonly boolean[]) {
    super.observe(L, w, used);
    // dL/dsₜ = −cₜ·e^(−sₜ)·Lₜ + ½, accumulated until endStep applies the optimizer step
    const g: Record<string, number> = {};
    for (let i = 0; i < this.T; i++) {
      if (!used[i]) continue;
      const d = -w[i] * L[i] + 0.5;
      this.grad[i] += d;
      g[this.tasks[i]] = d;
    }
    return { logVarGrads: g };
  }
  override endStep() {
    if (this.opt.lr > 0) this.opt.step(this.s, this.grad);
    this.grad.fill(0);
  }
  params() {
    return { ...this.baseParams(), logVars: [...this.s], pendingGrad: [...this.grad], optimizer: this.opt.state() };
  }
  load(p: Record<string, unknown>) {
    this.loadBase(p);
    this.s = numberArray(p.logVars, this.T, 'state.params.logVars');
    this.grad = numberArray(p.pendingGrad, this.T, 'state.params.pendingGrad');
    this.opt.load(p.optimizer, 'state.params.optimizer');
  }
}

/** The 'uncertainty' strategy's registry entry. */
export const strategy: StrategyDescriptor<'uncertainty'> = {
  name: 'uncertainty',
  options: ['init', 'lr', 'optimizer'],
  needs: NEEDS_NOTHING,
  make: (tasks, c, forms) => new Uncertainty(tasks, c, forms),
};
