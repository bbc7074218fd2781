// The 'famo' loss-weighting strategy of MultiTaskLoss (see base.ts for the interface).
import {
  type EndStepInfo,
  finiteNumber,
  makeParamOptimizer,
  numberArray,
  ParamOptimizer,
  perTask,
  softmax,
  type StepWeights,
  Strategy,
  type StrategyDescriptor,
  type WeightingConfig,
} from './base';

/**
 * Liu et al. 2023 (FAMO): z = softmax(ξ); the step minimises Σ zₜ·log(Lₜ − mₜ + ε) / c with
 * c = Σ zₜ/(Lₜ − mₜ + ε), i.e. gradient weights wₜ = zₜ / ((Lₜ − mₜ + ε)·c). At endStep, with the losses
 * after the update, δₜ = log(Lₜ − mₜ + ε) − log(Lₜ' − mₜ + ε) and ξ takes an Adam step (lr 0.025, weight
 * decay γ = 0.01) along the softmax Jacobian times δ, as the authors' code does.
 */
class Famo extends Strategy {
  xi: number[];
  private readonly min: number[];
  private readonly eps: number;
  private readonly opt: ParamOptimizer;
  constructor(tasks: readonly string[], c: WeightingConfig) {
    super('famo', tasks);
    this.xi = new Array<number>(this.T).fill(0);
    this.min = c.minLosses === undefined ? new Array<number>(this.T).fill(0) : perTask(c.minLosses, tasks, 'weighting.minLosses');
    this.eps = finiteNumber(c.eps, 'weighting.eps', 0, Infinity, 1e-8);
    this.opt = makeParamOptimizer(c, 0.025, finiteNumber(c.gamma, 'weighting.gamma', 0, Infinity, 0.01), this.T);
  }
  stepWeights(): StepWeights {
    return { rule: 2, coef: Float64Array.from(softmax(this.xi)), offset: Float64Array.from(this.min), eps: this.eps, normalize: true };
  }
  override joint(L: Float64Array, _w: Float64Array, used: readonly boolean[]) {
    const z = softmax(this.xi);
    let c = 0,
      s = 0;
    for (let i = 0; i < this.T; i++) {
      if (!used[i]) continue;
      const d = L[i] - this.min[i] + this.eps;
      c += z[i] / d;
      s += z[i] * Math.log(d);
    }
    return c > 0 ? s / c : 0;
  }
  override endStep(info: EndStepInfo | undefined) {
    const idx = this.tasks.map((_, i) => i).filter((i) => this.last[i] !== null);
    if (idx.length === 0) return;
    const after = info?.lossesAfter;
    if (after === undefined || typeof after !== 'object' || after === null)
      throw new TypeError(
        "endStep: the 'famo' strategy needs { lossesAfter: { task: loss } }, each task's loss on the same batch after the update",
      );
    const delta = new Array<number>(this.T).fill(0);
    for (const i of idx) {
      const a = finiteNumber(after[this.tasks[i]], `lossesAfter.${this.tasks[i]}`);
      delta[i] = Math.log(this.last[i]! - this.min[i] + this.eps) - Math.log(a - this.min[i] + this.eps);
    }
    // d/dξ of softmax(ξ)·δ: zⱼ·(δⱼ − Σ zᵢδᵢ)
    const z = softmax(this.xi);
    const zd = z.reduce((acc, zi, i) => acc + zi * delta[i], 0);
    this.opt.step(
      this.xi,
      z.map((zj, j) => zj * (delta[j] - zd)),
    );
  }
  params() {
    return { ...this.baseParams(), logits: [...this.xi], optimizer: this.opt.state() };
  }
  load(p: Record<string, unknown>) {
    this.loadBase(p);
    this.xi = numberArray(p.logits, this.T, 'state.params.logits');
    this.opt.load(p.optimizer, 'state.params.optimizer');
  }
}

/** The 'famo' strategy's registry entry. */
export const strategy: StrategyDescriptor<'famo'> = {
  name: 'famo',
  options: ['lr', 'optimizer', 'gamma', 'minLosses', 'eps'],
  needs: { lossesAfterUpdate: true, gradNorms: false },
  make: (tasks, c) => new Famo(tasks, c),
};
