// The 'dwa' loss-weighting strategy of MultiTaskLoss (see base.ts for the interface).
import { typeError } from '../../core/validate';
import {
  finiteNumber,
  fixed,
  NEEDS_NOTHING,
  nullableArray,
  numberArray,
  softmax,
  Strategy,
  type StrategyDescriptor,
  type WeightingConfig,
} from './base';

/** Liu, Johns & Davison 2019: wₜ = T·softmax(rₜ/τ), rₜ = Lₜ(e−1)/Lₜ(e−2) from epoch-average losses. */
class Dwa extends Strategy {
  private readonly tau: number;
  private sum: number[];
  private count: number[];
  /** Epoch-average losses of the last two epochs (oldest first; null: the task had no batch). */
  private history: (number | null)[][] = [];
  constructor(tasks: readonly string[], c: WeightingConfig) {
    super('dwa', tasks);
    this.tau = finiteNumber(c.temperature, 'weighting.temperature', Number.MIN_VALUE, Infinity, 2);
    this.sum = new Array<number>(this.T).fill(0);
    this.count = new Array<number>(this.T).fill(0);
  }
  stepWeights() {
    if (this.history.length < 2) return fixed(new Array<number>(this.T).fill(1));
    const [a, b] = this.history;
    const r = this.tasks.map((_, i) => (a[i] !== null && b[i] !== null ? b[i]! / a[i]! : 1));
    return fixed(softmax(r.map((x) => x / this.tau)).map((p) => this.T * p));
  }
  override observe(L: Float64Array, w: Float64Array, used: readonly boolean[]) {
    super.observe(L, w, used);
    for (let i = 0; i < this.T; i++) if (used[i]) ((this.sum[i] += L[i]), (this.count[i] += 1));
    return {};
  }
  override endEpoch() {
    this.history.push(this.sum.map((s, i) => (this.count[i] ? s / this.count[i] : null)));
    if (this.history.length > 2) this.history.shift();
    this.sum.fill(0);
    this.count.fill(0);
  }
  params() {
    return { ...this.baseParams(), history: this.history.map((h) => [...h]), epochSum: [...this.sum], epochCount: [...this.count] };
  }
  load(p: Record<string, unknown>) {
    this.loadBase(p);
    if (!Array.isArray(p.history) || p.history.length > 2)
      throw typeError('at most two epochs of losses', 'state.params.history', p.history);
    this.history = p.history.map((h, e) => nullableArray(h, this.T, `state.params.history[${e}]`));
    this.sum = numberArray(p.epochSum, this.T, 'state.params.epochSum');
    this.count = numberArray(p.epochCount, this.T, 'state.params.epochCount');
  }
}

/** The 'dwa' strategy's registry entry. */
export const strategy: StrategyDescriptor<'dwa'> = {
  name: 'dwa',
  options: ['temperature'],
  needs: NEEDS_NOTHING,
  make: (tasks, c) => new Dwa(tasks, c),
};
