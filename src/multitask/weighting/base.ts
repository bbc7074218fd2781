// The interface every loss-weighting strategy of MultiTaskLoss implements, the descriptor each registers
// with (weighting/index.ts lists them), and the helpers they share: option checks, per-task numbers, the
// small optimizer of learned weighting parameters. One file per strategy beside this one.
import { rangeError, typeError } from '../../core/validate';
import type { StrategyName } from './index';

/** A weighting strategy and its options (each strategy reads its own). */
export interface WeightingConfig {
  /** equal, static (weights), uncertainty (Kendall et al.), dwa, rlw, gls, gradnorm, famo or dbmtl. */
  strategy: StrategyName;
  /** equal: wₜ = 1/T instead of 1. */
  normalize?: boolean;
  /** static: one weight ≥ 0 per task (array in task order, or keyed by task). */
  weights?: readonly number[] | Readonly<Record<string, number>>;
  /** uncertainty: initial log-variances sₜ (default 0). */
  init?: number | readonly number[] | Readonly<Record<string, number>>;
  /** dwa: softmax temperature τ (default 2). */
  temperature?: number;
  /** rlw: seed of the random weights (default 0). */
  seed?: number;
  /** gradnorm: restoring-force exponent α (default 1.5). */
  alpha?: number;
  /** Learning rate of the learned parameters: uncertainty 1e-3, gradnorm 0.025, famo 0.025. */
  lr?: number;
  /** Optimizer of the learned parameters: 'adam' (PyTorch's Adam, default) or 'sgd'. */
  optimizer?: 'adam' | 'sgd';
  /** famo: weight decay γ of its logits (default 0.01). */
  gamma?: number;
  /** famo: the losses' lower bounds mₜ (default 0). */
  minLosses?: readonly number[] | Readonly<Record<string, number>>;
  /** famo, dbmtl: ε inside the logs (default 1e-8). */
  eps?: number;
}

/** Per task: 'regression' (½·e^(−s)·L + ½·s, the default) or 'classification' (e^(−s)·L + ½·s). */
export type UncertaintyForm = 'regression' | 'classification';

/** Information the step hook needs for some strategies. */
export interface EndStepInfo {
  /** gradnorm: ‖∇_W Lₜ‖, the norm of each task's unweighted loss gradient on the shared layer W. */
  gradNorms?: Readonly<Record<string, number>>;
  /**
   * gradnorm, instead of gradNorms: ‖∇_W (wₜ·Lₜ)‖, norms of the weighted gradients — what
   * multiHeadBackward's gradNorms are when its gradOuts are MultiTaskLoss's (already weighted) grads.
   */
  weightedGradNorms?: Readonly<Record<string, number>>;
  /** famo: each task's loss on the same batch after the parameter update. */
  lossesAfter?: Readonly<Record<string, number>>;
}

/**
 * How the native call applies the weights: 0 — known before the pass (wₜ folded into each task's
 * gradient scale); 1 — geometric mean of this step's losses; 2 — log losses aₜ/(Lₜ − mₜ + ε) (normalised
 * or not). Rules 1 and 2 depend on this step's losses, so gradients are rescaled after the loss pass.
 */
export type StepWeights =
  { rule: 0; w: Float64Array } | { rule: 1 } | { rule: 2; coef: Float64Array; offset: Float64Array; eps: number; normalize: boolean };

/** What a strategy needs from the training loop beyond its losses (MultiTaskTrainer and users read it). */
export interface StrategyNeeds {
  /** endStep wants each task's loss on the same batch after the parameter update (EndStepInfo.lossesAfter). */
  readonly lossesAfterUpdate: boolean;
  /** endStep wants the tasks' gradient norms on the shared layer (EndStepInfo.gradNorms or weightedGradNorms). */
  readonly gradNorms: boolean;
}

/** A strategy as the registry holds it: its name, the options it reads, what it needs, and its factory. */
export interface StrategyDescriptor<N extends string = string> {
  readonly name: N;
  /** The WeightingConfig keys it reads (any other key is an error). */
  readonly options: readonly string[];
  readonly needs: StrategyNeeds;
  make(tasks: readonly string[], config: WeightingConfig, forms: readonly UncertaintyForm[]): Strategy;
}

export const NEEDS_NOTHING: StrategyNeeds = { lossesAfterUpdate: false, gradNorms: false };

export function finiteNumber(v: unknown, name: string, lo = -Infinity, hi = Infinity, fallback?: number): number {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || Number.isNaN(v)) throw typeError('a number', name, v);
  if (!(v >= lo && v <= hi) || !Number.isFinite(v)) throw rangeError(`a finite number in [${lo}, ${hi}]`, name, v);
  return v;
}

/** One number per task, from an array in task order or an object keyed by task name. */
export function perTask(v: unknown, tasks: readonly string[], name: string, lo = -Infinity): number[] {
  let out: unknown[];
  if (Array.isArray(v) || ArrayBuffer.isView(v)) {
    const a = Array.from(v as ArrayLike<unknown>);
    if (a.length !== tasks.length) throw rangeError(`${tasks.length} numbers (one per task: ${tasks.join(', ')})`, name, v);
    out = a;
  } else if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o))
      if (!tasks.includes(k)) throw new TypeError(`Unknown task '${k}' in ${name}; expected ${tasks.join(', ')}`);
    out = tasks.map((t) => {
      if (!(t in o)) throw new RangeError(`${name}: missing the weight of task '${t}'`);
      return o[t];
    });
  } else {
    throw typeError('an array or an object keyed by task', name, v);
  }
  return out.map((x, i) => finiteNumber(x, `${name}.${tasks[i]}`, lo));
}

// ---------------------------------------------------------------- optimizer of learned parameters

/** PyTorch's torch.optim.Adam (L2 weight decay added to the gradient) or plain SGD. */
export class ParamOptimizer {
  private t = 0;
  private m: number[];
  private v: number[];
  constructor(
    readonly kind: 'adam' | 'sgd',
    readonly lr: number,
    readonly weightDecay: number,
    size: number,
  ) {
    this.m = new Array<number>(size).fill(0);
    this.v = new Array<number>(size).fill(0);
  }
  step(p: number[], grad: readonly number[]): void {
    this.t += 1;
    for (let i = 0; i < p.length; i++) {
      const g = grad[i] + this.weightDecay * p[i];
      if (this.kind === 'sgd') {
        p[i] -= this.lr * g;
        continue;
      }
      this.m[i] = 0.9 * this.m[i] + (1 - 0.9) * g;
      this.v[i] = 0.999 * this.v[i] + (1 - 0.999) * g * g;
      const bc1 = 1 - 0.9 ** this.t,
        bc2 = 1 - 0.999 ** this.t;
      p[i] -= ((this.lr / bc1) * this.m[i]) / (Math.sqrt(this.v[i]) / Math.sqrt(bc2) + 1e-8);
    }
  }
  state() {
    return { t: this.t, m: [...this.m], v: [...this.v] };
  }
  load(s: unknown, name: string): void {
    const o = s as { t?: unknown; m?: unknown; v?: unknown };
    if (typeof o !== 'object' || o === null || typeof o.t !== 'number') throw typeError('optimizer state { t, m, v }', name, s);
    this.t = o.t;
    this.m = numberArray(o.m, this.m.length, `${name}.m`);
    this.v = numberArray(o.v, this.v.length, `${name}.v`);
  }
}

export function numberArray(v: unknown, length: number, name: string): number[] {
  if (!Array.isArray(v) || v.length !== length || v.some((x) => typeof x !== 'number'))
    throw typeError(`an array of ${length} numbers`, name, v);
  return [...(v as number[])];
}

/** Like numberArray, with null standing for "no value" (JSON has no NaN). */
export function nullableArray(v: unknown, length: number, name: string): (number | null)[] {
  if (!Array.isArray(v) || v.length !== length || v.some((x) => x !== null && typeof x !== 'number'))
    throw typeError(`an array of ${length} numbers or nulls`, name, v);
  return [...(v as (number | null)[])];
}

export function softmax(z: readonly number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

// ---------------------------------------------------------------- the strategy interface

/**
 * `used[i]`: task i contributed to this step (present in the batch and not fully masked). `L` holds the
 * task losses (0 where not used) and `w` the weights applied to the gradients.
 */
export abstract class Strategy {
  readonly T: number;
  /** Task losses of the last compute (null: not used then). */
  protected last: (number | null)[];
  constructor(
    readonly name: StrategyName,
    readonly tasks: readonly string[],
  ) {
    this.T = tasks.length;
    this.last = new Array<number | null>(this.T).fill(null);
  }
  abstract stepWeights(): StepWeights;
  joint(L: Float64Array, w: Float64Array, used: readonly boolean[]): number {
    let s = 0;
    for (let i = 0; i < this.T; i++) if (used[i]) s += w[i] * L[i];
    return s;
  }
  /** Records a step's losses; returns strategy-specific extras for the result. */
  observe(L: Float64Array, w: Float64Array, used: readonly boolean[]): Record<string, unknown> {
    for (let i = 0; i < this.T; i++) this.last[i] = used[i] ? L[i] : null;
    return {};
  }
  endStep(_info: EndStepInfo | undefined): void {}
  endEpoch(): void {}
  abstract params(): Record<string, unknown>;
  abstract load(p: Record<string, unknown>): void;
  protected baseParams() {
    return { last: [...this.last] };
  }
  protected loadBase(p: Record<string, unknown>) {
    this.last = nullableArray(p.last, this.T, 'state.params.last');
  }
}

export function fixed(w: readonly number[]): StepWeights {
  return { rule: 0, w: Float64Array.from(w) };
}

export function makeParamOptimizer(c: WeightingConfig, lr: number, weightDecay: number, size: number): ParamOptimizer {
  const kind = c.optimizer ?? 'adam';
  if (kind !== 'adam' && kind !== 'sgd') throw typeError("'adam' | 'sgd'", 'weighting.optimizer', c.optimizer);
  return new ParamOptimizer(kind, finiteNumber(c.lr, 'weighting.lr', 0, Infinity, lr), weightDecay, size);
}
