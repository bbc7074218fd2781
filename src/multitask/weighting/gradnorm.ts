// The 'gradnorm' loss-weighting strategy of MultiTaskLoss (see base.ts for the interface).
import {
  type EndStepInfo,
  finiteNumber,
  fixed,
  makeParamOptimizer,
  nullableArray,
  numberArray,
  ParamOptimizer,
  Strategy,
  type StrategyDescriptor,
  type WeightingConfig,
} from './base';

/**
 * Chen et al. 2018: learnable wₜ (start 1). At endStep, with Gₜ = wₜ·‖∇_W Lₜ‖, Ḡ their mean, L̃ₜ = Lₜ/Lₜ(0)
 * and rₜ = L̃ₜ/mean(L̃), the loss Σ|Gₜ − Ḡ·rₜ^α| (target held constant) takes one optimizer step; then
 * wₜ ≥ 0 and Σ wₜ = T.
 */
class GradNorm extends Strategy {
  w: number[];
  private initial: (number | null)[];
  private readonly alpha: number;
  private readonly opt: ParamOptimizer;
  constructor(tasks: readonly string[], c: WeightingConfig) {
    super('gradnorm', tasks);
    this.alpha = finiteNumber(c.alpha, 'weighting.alpha', 0, Infinity, 1.5);
    this.w = new Array<number>(this.T).fill(1);
    this.initial = new Array<number | null>(this.T).fill(null);
    this.opt = makeParamOptimizer(c, 0.025, 0, this.T);
  }
  stepWeights() {
    return fixed(this.w);
  }
  override observe(L: Float64Array, w: Float64Array, used: readonly boolean[]) {
    super.observe(L, w, used);
    for (let i = 0; i < this.T; i++) if (used[i] && this.initial[i] === null) this.initial[i] = L[i];
    return {};
  }
  override endStep(info: EndStepInfo | undefined) {
    const idx = this.tasks.map((_, i) => i).filter((i) => this.last[i] !== null);
    if (idx.length === 0) return;
    let norms = info?.gradNorms;
    const weighted = info?.weightedGradNorms;
    if (norms === undefined && weighted !== undefined && typeof weighted === 'object' && weighted !== null) {
      // ‖∇(wₜLₜ)‖ = wₜ·‖∇Lₜ‖ with the weights the last compute applied (this.w)
      norms = Object.fromEntries(
        idx.map((i) => [this.tasks[i], finiteNumber(weighted[this.tasks[i]], `weightedGradNorms.${this.tasks[i]}`, 0) / this.w[i]]),
      );
    }
    if (norms === undefined || typeof norms !== 'object' || norms === null)
      throw new TypeError(
        "endStep: the 'gradnorm' strategy needs { gradNorms: { task: ‖∇_W Lₜ‖ } } (or weightedGradNorms) for the tasks of the last compute",
      );
    const G = idx.map((i) => this.w[i] * finiteNumber(norms[this.tasks[i]], `gradNorms.${this.tasks[i]}`, 0));
    const Gbar = G.reduce((a, b) => a + b, 0) / idx.length;
    const rel = idx.map((i) => this.last[i]! / this.initial[i]!);
    const relMean = rel.reduce((a, b) => a + b, 0) / idx.length;
    const grad = new Array<number>(this.T).fill(0);
    idx.forEach((i, k) => {
      const target = Gbar * (rel[k] / relMean) ** this.alpha;
      grad[i] = Math.sign(G[k] - target) * norms[this.tasks[i]];
    });
    this.opt.step(this.w, grad);
    for (let i = 0; i < this.T; i++) this.w[i] = Math.max(this.w[i], 0);
    const s = this.w.reduce((a, b) => a + b, 0);
    for (let i = 0; i < this.T; i++) this.w[i] = s > 0 ? (this.w[i] * this.T) / s : 1;
  }
  params() {
    return { ...this.baseParams(), weights: [...this.w], initialLosses: [...this.initial], optimizer: this.opt.state() };
  }
  load(p: Record<string, unknown>) {
    this.loadBase(p);
    this.w = numberArray(p.weights, this.T, 'state.params.weights');
    this.initial = nullableArray(p.initialLosses, this.T, 'state.params.initialLosses');
    this.opt.load(p.optimizer, 'state.params.optimizer');
  }
}

/** The 'gradnorm' strategy's registry entry. */
export const strategy: StrategyDescriptor<'gradnorm'> = {
  name: 'gradnorm',
  options: ['alpha', 'lr', 'optimizer'],
  needs: { lossesAfterUpdate: false, gradNorms: true },
  make: (tasks, c) => new GradNorm(tasks, c),
};
