// Loss-weighting strategies of MultiTaskLoss: how each task's weight is chosen every step, the joint loss
// they define, and their state (learned parameters, loss history, RNG). Pure bookkeeping over a few
// numbers per task; the heavy work (losses and weighted gradients) is one native call in multiTask.ts.
import { rangeError, typeError } from '../core/validate';

/** The weighting strategies of MultiTaskLoss. */
export const STRATEGIES = ['equal', 'static', 'uncertainty', 'dwa', 'rlw', 'gls', 'gradnorm', 'famo', 'dbmtl'] as const;
/** A weighting strategy's name (one of STRATEGIES). */
export type StrategyName = (typeof STRATEGIES)[number];

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
  | { rule: 0; w: Float64Array }
  | { rule: 1 }
  | { rule: 2; coef: Float64Array; offset: Float64Array; eps: number; normalize: boolean };

const OPTION_KEYS: Record<StrategyName, readonly string[]> = {
  equal: ['normalize'],
  static: ['weights'],
  uncertainty: ['init', 'lr', 'optimizer'],
  dwa: ['temperature'],
  rlw: ['seed'],
  gls: [],
  gradnorm: ['alpha', 'lr', 'optimizer'],
  famo: ['lr', 'optimizer', 'gamma', 'minLosses', 'eps'],
  dbmtl: ['eps'],
};

function finiteNumber(v: unknown, name: string, lo = -Infinity, hi = Infinity, fallback?: number): number {
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
    for (const k of Object.keys(o)) if (!tasks.includes(k)) throw new TypeError(`Unknown task '${k}' in ${name}; expected ${tasks.join(', ')}`);
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
class Optimizer {
  private t = 0;
  private m: number[];
  private v: number[];
  constructor(readonly kind: 'adam' | 'sgd', readonly lr: number, readonly weightDecay: number, size: number) {
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
      const bc1 = 1 - 0.9 ** this.t, bc2 = 1 - 0.999 ** this.t;
      p[i] -= (this.lr / bc1) * this.m[i] / (Math.sqrt(this.v[i]) / Math.sqrt(bc2) + 1e-8);
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

function numberArray(v: unknown, length: number, name: string): number[] {
  if (!Array.isArray(v) || v.length !== length || v.some((x) => typeof x !== 'number'))
    throw typeError(`an array of ${length} numbers`, name, v);
  return [...(v as number[])];
}

/** Like numberArray, with null standing for "no value" (JSON has no NaN). */
function nullableArray(v: unknown, length: number, name: string): (number | null)[] {
  if (!Array.isArray(v) || v.length !== length || v.some((x) => x !== null && typeof x !== 'number'))
    throw typeError(`an array of ${length} numbers or nulls`, name, v);
  return [...(v as (number | null)[])];
}

// ---------------------------------------------------------------- seeded normal draws (rlw)

/** xoshiro128** seeded through splitmix32: 32-bit state words, exact in JS, JSON-serialisable. */
export class Rng {
  s: [number, number, number, number];
  constructor(seed: number) {
    let x = seed >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s = [next(), next(), next(), next()];
  }
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] = (s[2] ^ s[0]) >>> 0;
    s[3] = (s[3] ^ s[1]) >>> 0;
    s[1] = (s[1] ^ s[2]) >>> 0;
    s[0] = (s[0] ^ s[3]) >>> 0;
    s[2] = (s[2] ^ t) >>> 0;
    s[3] = rotl(s[3], 11);
    return result;
  }
  /** Uniform in (0, 1], 24-bit resolution. */
  uniform(): number {
    return ((this.nextUint32() >>> 8) + 1) / 16777216;
  }
  /** Standard normal (Box–Muller, one draw per two uniforms). */
  normal(): number {
    const u1 = this.uniform(), u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

function softmax(z: readonly number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

// ---------------------------------------------------------------- strategies

/**
 * `used[i]`: task i contributed to this step (present in the batch and not fully masked). `L` holds the
 * task losses (0 where not used) and `w` the weights applied to the gradients.
 */
export abstract class Strategy {
  readonly T: number;
  /** Task losses of the last compute (null: not used then). */
  protected last: (number | null)[];
  constructor(readonly name: StrategyName, readonly tasks: readonly string[]) {
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

function fixed(w: readonly number[]): StepWeights {
  return { rule: 0, w: Float64Array.from(w) };
}

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

/** Kendall, Gal & Cipolla 2018: L = Σ cₜ·e^(−sₜ)·Lₜ + ½·sₜ with cₜ = ½ (regression) or 1 (classification). */
class Uncertainty extends Strategy {
  s: number[];
  private grad: number[];
  private readonly c: number[];
  private readonly opt: Optimizer;
  constructor(tasks: readonly string[], cfg: WeightingConfig, forms: readonly UncertaintyForm[]) {
    super('uncertainty', tasks);
    this.s = typeof cfg.init === 'number' || cfg.init === undefined
      ? new Array<number>(this.T).fill(finiteNumber(cfg.init ?? 0, 'weighting.init'))
      : perTask(cfg.init, tasks, 'weighting.init');
    this.c = forms.map((f) => (f === 'classification' ? 1 : 0.5));
    this.grad = new Array<number>(this.T).fill(0);
    this.opt = makeOptimizer(cfg, 1e-3, 0, this.T);
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
    for (let i = 0; i < this.T; i++) if (used[i]) (this.sum[i] += L[i]), (this.count[i] += 1);
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
    if (!Array.isArray(p.history) || p.history.length > 2) throw typeError('at most two epochs of losses', 'state.params.history', p.history);
    this.history = p.history.map((h, e) => nullableArray(h, this.T, `state.params.history[${e}]`));
    this.sum = numberArray(p.epochSum, this.T, 'state.params.epochSum');
    this.count = numberArray(p.epochCount, this.T, 'state.params.epochCount');
  }
}

/** Lin et al. 2022: wₜ = softmax(z), z ~ N(0, I), redrawn at every endStep from a seeded generator. */
class Rlw extends Strategy {
  private rng: Rng;
  private readonly seed: number;
  private z: number[];
  constructor(tasks: readonly string[], c: WeightingConfig) {
    super('rlw', tasks);
    this.seed = c.seed === undefined ? 0 : finiteNumber(c.seed, 'weighting.seed', 0, 2 ** 32 - 1);
    if (!Number.isInteger(this.seed)) throw rangeError('an integer in [0, 2^32)', 'weighting.seed', c.seed);
    this.rng = new Rng(this.seed);
    this.z = this.draw();
  }
  private draw() {
    return this.tasks.map(() => this.rng.normal());
  }
  stepWeights() {
    return fixed(softmax(this.z));
  }
  override endStep() {
    this.z = this.draw();
  }
  params() {
    return { ...this.baseParams(), seed: this.seed, rng: [...this.rng.s], z: [...this.z] };
  }
  load(p: Record<string, unknown>) {
    this.loadBase(p);
    const s = numberArray(p.rng, 4, 'state.params.rng');
    this.rng.s = [s[0] >>> 0, s[1] >>> 0, s[2] >>> 0, s[3] >>> 0];
    this.z = numberArray(p.z, this.T, 'state.params.z');
  }
}

/** Chennupati et al. 2019: L = (Π Lₜ)^(1/T) over the tasks of the step; gradients by the chain rule. */
class Gls extends Strategy {
  constructor(tasks: readonly string[]) {
    super('gls', tasks);
  }
  stepWeights(): StepWeights {
    return { rule: 1 };
  }
  override joint(L: Float64Array, _w: Float64Array, used: readonly boolean[]) {
    let s = 0, n = 0;
    for (let i = 0; i < this.T; i++) if (used[i]) (s += Math.log(L[i])), n++;
    return n ? Math.exp(s / n) : 0;
  }
  params() {
    return this.baseParams();
  }
  load(p: Record<string, unknown>) {
    this.loadBase(p);
  }
}

/**
 * Chen et al. 2018: learnable wₜ (start 1). At endStep, with Gₜ = wₜ·‖∇_W Lₜ‖, Ḡ their mean, L̃ₜ = Lₜ/Lₜ(0)
 * and rₜ = L̃ₜ/mean(L̃), the loss Σ|Gₜ − Ḡ·rₜ^α| (target held constant) takes one optimizer step; then
 * wₜ ≥ 0 and Σ wₜ = T.
 */
class GradNorm extends Strategy {
  w: number[];
  private initial: (number | null)[];
  private readonly alpha: number;
  private readonly opt: Optimizer;
  constructor(tasks: readonly string[], c: WeightingConfig) {
    super('gradnorm', tasks);
    this.alpha = finiteNumber(c.alpha, 'weighting.alpha', 0, Infinity, 1.5);
    this.w = new Array<number>(this.T).fill(1);
    this.initial = new Array<number | null>(this.T).fill(null);
    this.opt = makeOptimizer(c, 0.025, 0, this.T);
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
      norms = Object.fromEntries(idx.map((i) => [this.tasks[i], finiteNumber(weighted[this.tasks[i]], `weightedGradNorms.${this.tasks[i]}`, 0) / this.w[i]]));
    }
    if (norms === undefined || typeof norms !== 'object' || norms === null)
      throw new TypeError("endStep: the 'gradnorm' strategy needs { gradNorms: { task: ‖∇_W Lₜ‖ } } (or weightedGradNorms) for the tasks of the last compute");
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
  private readonly opt: Optimizer;
  constructor(tasks: readonly string[], c: WeightingConfig) {
    super('famo', tasks);
    this.xi = new Array<number>(this.T).fill(0);
    this.min = c.minLosses === undefined ? new Array<number>(this.T).fill(0) : perTask(c.minLosses, tasks, 'weighting.minLosses');
    this.eps = finiteNumber(c.eps, 'weighting.eps', 0, Infinity, 1e-8);
    this.opt = makeOptimizer(c, 0.025, finiteNumber(c.gamma, 'weighting.gamma', 0, Infinity, 0.01), this.T);
  }
  stepWeights(): StepWeights {
    return { rule: 2, coef: Float64Array.from(softmax(this.xi)), offset: Float64Array.from(this.min), eps: this.eps, normalize: true };
  }
  override joint(L: Float64Array, _w: Float64Array, used: readonly boolean[]) {
    const z = softmax(this.xi);
    let c = 0, s = 0;
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
      throw new TypeError("endStep: the 'famo' strategy needs { lossesAfter: { task: loss } }, each task's loss on the same batch after the update");
    const delta = new Array<number>(this.T).fill(0);
    for (const i of idx) {
      const a = finiteNumber(after[this.tasks[i]], `lossesAfter.${this.tasks[i]}`);
      delta[i] = Math.log(this.last[i]! - this.min[i] + this.eps) - Math.log(a - this.min[i] + this.eps);
    }
    // d/dξ of softmax(ξ)·δ: zⱼ·(δⱼ − Σ zᵢδᵢ)
    const z = softmax(this.xi);
    const zd = z.reduce((acc, zi, i) => acc + zi * delta[i], 0);
    this.opt.step(this.xi, z.map((zj, j) => zj * (delta[j] - zd)));
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

function makeOptimizer(c: WeightingConfig, lr: number, weightDecay: number, size: number): Optimizer {
  const kind = c.optimizer ?? 'adam';
  if (kind !== 'adam' && kind !== 'sgd') throw typeError("'adam' | 'sgd'", 'weighting.optimizer', c.optimizer);
  return new Optimizer(kind, finiteNumber(c.lr, 'weighting.lr', 0, Infinity, lr), weightDecay, size);
}

export function makeStrategy(config: unknown, tasks: readonly string[], forms: readonly UncertaintyForm[]): Strategy {
  const c = (config ?? { strategy: 'equal' }) as WeightingConfig;
  if (typeof c !== 'object' || c === null) throw typeError('{ strategy, … }', 'weighting', config);
  if (!(STRATEGIES as readonly string[]).includes(c.strategy as string))
    throw typeError(STRATEGIES.map((s) => `'${s}'`).join(' | '), 'weighting.strategy', c.strategy);
  const allowed = OPTION_KEYS[c.strategy];
  for (const k of Object.keys(c))
    if (k !== 'strategy' && !allowed.includes(k) && (c as unknown as Record<string, unknown>)[k] !== undefined)
      throw new TypeError(`Unknown option '${k}' for the '${c.strategy}' strategy; expected ${allowed.length ? allowed.join(', ') : 'none'}`);
  switch (c.strategy) {
    case 'equal': return new Equal(tasks, c);
    case 'static': return new Static(tasks, c);
    case 'uncertainty': return new Uncertainty(tasks, c, forms);
    case 'dwa': return new Dwa(tasks, c);
    case 'rlw': return new Rlw(tasks, c);
    case 'gls': return new Gls(tasks);
    case 'gradnorm': return new GradNorm(tasks, c);
    case 'famo': return new Famo(tasks, c);
    case 'dbmtl': return new DbMtl(tasks, c);
  }
}
