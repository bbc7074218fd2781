// Linear heads y = x·Wᵀ + b (W: [outFeatures, inFeatures], PyTorch's layout) and their backward pass, on
// the addon's blocked multi-threaded GEMM, or the float64 reference.
import { native } from './binding';
import { combineGradientsAsyncWithGram, type CombineOptions, combineWithGram } from './combine';
import { linearBackwardReference, linearForwardReference, type LinearProblem } from './reference/linear';
import { gramReference } from './reference/reduce';
import { checkNotDetached, overlaps, rangeError, typeError } from './validate';

/** The dims of a linear layer y = x·Wᵀ + b (torch.nn.Linear's layout: W is [outFeatures, inFeatures]). */
export interface LinearShape {
  /** Rows of x (B). */
  batch: number;
  /** Features per row of x (I). */
  inFeatures: number;
  /** Outputs per row (O). */
  outFeatures: number;
  /** 'native' (default: our blocked GEMM, multi-threaded) or 'reference' (float64 TypeScript). */
  backend?: 'native' | 'reference';
}

/** `linearForward` options (PyTorch's F.linear). */
export interface LinearForwardOptions extends LinearShape {
  /** Preallocated output. */
  out?: {
    /** y [batch, outFeatures]. Default: a new array. */
    output?: Float32Array;
  };
}

/** Which gradients `linearBackward` computes (each defaults to true). */
export interface LinearGradSelection {
  /** gradOutᵀ·x [outFeatures, inFeatures] (needs x). */
  gradWeight?: boolean;
  /** Σ_b gradOut [outFeatures]. */
  gradBias?: boolean;
  /** gradOut·W [batch, inFeatures] (needs weight). */
  gradInput?: boolean;
}

/** `linearBackward` options (the backward of F.linear). */
export interface LinearBackwardOptions extends LinearShape {
  /** Which gradients to compute (default: all three). */
  compute?: LinearGradSelection;
  /** Preallocated outputs (required for the computed ones with accumulate). */
  out?: LinearGrads;
  /** Add into `out` instead of overwriting (gradient accumulation over micro-batches). Default false. */
  accumulate?: boolean;
}

/** A linear layer's gradients (those computed). */
export interface LinearGrads {
  /** d(loss)/dW [outFeatures, inFeatures]. */
  gradWeight?: Float32Array;
  /** d(loss)/db [outFeatures]. */
  gradBias?: Float32Array;
  /** d(loss)/dx [batch, inFeatures]. */
  gradInput?: Float32Array;
}

function dims(o: LinearShape, name: string): LinearProblem & { backend: 'native' | 'reference' } {
  if (typeof o !== 'object' || o === null) throw typeError('{ batch, inFeatures, outFeatures }', `${name} options`, o);
  const d = (k: 'batch' | 'inFeatures' | 'outFeatures') => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 2 ** 40) throw rangeError('an integer >= 0', `${name}.${k}`, v);
    return v;
  };
  const backend = o.backend ?? 'native';
  if (backend !== 'native' && backend !== 'reference') throw typeError("'native' | 'reference'", `${name}.backend`, backend);
  return { batch: d('batch'), inFeatures: d('inFeatures'), outFeatures: d('outFeatures'), backend };
}

function array(v: unknown, name: string, length: number, what: string): Float32Array {
  if (!(v instanceof Float32Array)) throw typeError(`a Float32Array of ${length} elements (${what})`, name, v);
  checkNotDetached(v, name);
  if (v.length !== length) throw rangeError(`${length} elements (${what})`, name, v);
  return v;
}

function noOverlap(outs: [string, Float32Array | null][], ins: [string, Float32Array | null][]): void {
  for (const [n, o] of outs) {
    if (!o) continue;
    for (const [m, i] of ins) if (i && overlaps(o, i)) throw new RangeError(`${n} overlaps ${m}`);
    for (const [m, p] of outs) if (p && p !== o && m !== n && overlaps(o, p)) throw new RangeError(`${n} overlaps ${m}`);
  }
}

function planForward(x: Float32Array, weight: Float32Array, bias: Float32Array | null | undefined, options: LinearForwardOptions) {
  const p = dims(options, 'linearForward');
  const { batch: B, inFeatures: I, outFeatures: O } = p;
  array(x, 'x', B * I, '[batch, inFeatures]');
  array(weight, 'weight', O * I, '[outFeatures, inFeatures]');
  const b = bias == null ? null : array(bias, 'bias', O, '[outFeatures]');
  const y = options.out?.output === undefined ? new Float32Array(B * O) : array(options.out.output, 'out.output', B * O, '[batch, outFeatures]');
  noOverlap([['out.output', y]], [['x', x], ['weight', weight], ['bias', b]]);
  return { p, x, weight, b, y };
}

/** `linearForward`'s result. */
export interface LinearOutput {
  /** y [batch, outFeatures]. */
  output: Float32Array;
}

/** y = x·Wᵀ + b for x [batch, inFeatures], W [outFeatures, inFeatures], b [outFeatures] (or null): PyTorch's F.linear, on our own GEMM (float32 FMA sums, the same bits for any thread count). */
export function linearForward(x: Float32Array, weight: Float32Array, bias: Float32Array | null, options: LinearForwardOptions): LinearOutput {
  const q = planForward(x, weight, bias, options);
  if (q.p.backend === 'reference') linearForwardReference(q.p, q.x, q.weight, q.b, q.y);
  else native().linearForward(q.x, q.weight, q.b, q.p.batch, q.p.inFeatures, q.p.outFeatures, q.y);
  return { output: q.y };
}

/** `linearForward` off the event loop (the GEMM runs on the thread pool); the same bits. */
export async function linearForwardAsync(x: Float32Array, weight: Float32Array, bias: Float32Array | null, options: LinearForwardOptions): Promise<LinearOutput> {
  const q = planForward(x, weight, bias, options);
  if (q.p.backend === 'reference') linearForwardReference(q.p, q.x, q.weight, q.b, q.y);
  else await native().linearForwardAsync(q.x, q.weight, q.b, q.p.batch, q.p.inFeatures, q.p.outFeatures, q.y);
  return { output: q.y };
}

function planBackward(x: Float32Array | null, gradOut: Float32Array, weight: Float32Array | null, options: LinearBackwardOptions) {
  const p = dims(options, 'linearBackward');
  const { batch: B, inFeatures: I, outFeatures: O } = p;
  const want = { gradWeight: true, gradBias: true, gradInput: true, ...(options.compute ?? {}) };
  const accumulate = options.accumulate ?? false;
  if (typeof accumulate !== 'boolean') throw typeError('a boolean', 'linearBackward.accumulate', accumulate);
  array(gradOut, 'gradOut', B * O, '[batch, outFeatures]');
  if (want.gradWeight) array(x, 'x', B * I, '[batch, inFeatures]');
  if (want.gradInput) array(weight, 'weight', O * I, '[outFeatures, inFeatures]');
  const out = options.out ?? {};
  const make = (k: keyof LinearGrads, len: number, what: string): Float32Array | null => {
    if (!want[k]) return null;
    if (out[k] === undefined) {
      if (accumulate) throw new TypeError(`linearBackward: accumulate needs out.${k} (the buffer to add into)`);
      return new Float32Array(len);
    }
    return array(out[k], `out.${k}`, len, what);
  };
  const gw = make('gradWeight', O * I, '[outFeatures, inFeatures]');
  const gb = make('gradBias', O, '[outFeatures]');
  const gi = make('gradInput', B * I, '[batch, inFeatures]');
  noOverlap([['out.gradWeight', gw], ['out.gradBias', gb], ['out.gradInput', gi]], [['x', want.gradWeight ? x : null], ['weight', want.gradInput ? weight : null], ['gradOut', gradOut]]);
  return { p, x: want.gradWeight ? x : null, gradOut, weight: want.gradInput ? weight : null, gw, gb, gi, accumulate };
}

function grads(q: ReturnType<typeof planBackward>): LinearGrads {
  const r: LinearGrads = {};
  if (q.gw) r.gradWeight = q.gw;
  if (q.gb) r.gradBias = q.gb;
  if (q.gi) r.gradInput = q.gi;
  return r;
}

/**
 * Backward of a linear head: gradWeight = gradOutᵀ·x, gradBias = Σ_b gradOut, gradInput = gradOut·W.
 * `x` may be null when gradWeight is not computed, `weight` when gradInput is not.
 */
export function linearBackward(x: Float32Array | null, gradOut: Float32Array, weight: Float32Array | null, options: LinearBackwardOptions): LinearGrads {
  const q = planBackward(x, gradOut, weight, options);
  if (q.p.backend === 'reference') linearBackwardReference(q.p, q.x, q.gradOut, q.weight, q.gw, q.gb, q.gi, q.accumulate);
  else native().linearBackward(q.x, q.gradOut, q.weight, q.p.batch, q.p.inFeatures, q.p.outFeatures, q.gw, q.gb, q.gi, q.accumulate);
  return grads(q);
}

/** `linearBackward` off the event loop; the same bits. */
export async function linearBackwardAsync(x: Float32Array | null, gradOut: Float32Array, weight: Float32Array | null, options: LinearBackwardOptions): Promise<LinearGrads> {
  const q = planBackward(x, gradOut, weight, options);
  if (q.p.backend === 'reference') linearBackwardReference(q.p, q.x, q.gradOut, q.weight, q.gw, q.gb, q.gi, q.accumulate);
  else await native().linearBackwardAsync(q.x, q.gradOut, q.weight, q.p.batch, q.p.inFeatures, q.p.outFeatures, q.gw, q.gb, q.gi, q.accumulate);
  return grads(q);
}

// ---------------------------------------------------------------- multiHeadBackward

/** One head of `multiHeadBackward`: its weight and the loss gradient on its outputs. */
export interface HeadInput {
  /** The head's weight, `[outFeatures, inFeatures]`. */
  weight: Float32Array;
  /** The loss gradient on this head's outputs, `[batch, outFeatures]` (e.g. MultiTaskLoss's r.grads[task]). */
  gradOut: Float32Array;
  /** The head's outputs (O). */
  outFeatures: number;
  /** Compute gradBias (default true). */
  bias?: boolean;
  /** Preallocated outputs. */
  out?: LinearGrads;
}

/** `multiHeadBackward` options. */
export interface MultiHeadOptions {
  /** Rows of x (B). */
  batch: number;
  /** Features per row of x, the shared representation (I). */
  inFeatures: number;
  /** How the heads' representation gradients become one (default { method: 'sum' }); false: not combined. */
  combine?: Omit<CombineOptions, 'out' | 'backend'> | false;
  /** Add into the `out` buffers (gradient accumulation). */
  accumulate?: boolean;
  /** Preallocated outputs. */
  out?: {
    /** The combined gradient on the shared representation [batch, inFeatures]. Default: a new array. */
    sharedGrad?: Float32Array;
  };
  /** 'native' (default) or 'reference'. */
  backend?: 'native' | 'reference';
}

/** One head's gradients from `multiHeadBackward`. */
export interface HeadGrads {
  /** d(loss)/dWₜ [outFeatures, inFeatures]. */
  gradWeight: Float32Array;
  /** d(loss)/dbₜ [outFeatures] (unless the head's bias: false). */
  gradBias?: Float32Array;
  /** gₜ = gradOutₜ·Wₜ: this task's gradient on the shared representation [batch, inFeatures]. */
  gradInput: Float32Array;
}

/** `multiHeadBackward`'s result. */
export interface MultiHeadResult {
  /** Each head's gradients, by head name. */
  heads: Record<string, HeadGrads>;
  /** The combined gradient on the shared representation (null with combine: false). */
  sharedGrad: Float32Array | null;
  /** sharedGrad = Σₜ coefficientsₜ·gₜ (null for graddrop or combine: false). */
  coefficients: Float64Array | null;
  /** The Gram matrix gᵢ·gⱼ of the representation gradients (T×T, head order). */
  gram: Float64Array;
  /** ‖gₜ‖ per head: the per-task gradient norms GradNorm needs (MultiTaskLoss endStep). */
  gradNorms: Record<string, number>;
}

function planHeads(x: Float32Array, heads: Readonly<Record<string, HeadInput>>, options: MultiHeadOptions) {
  if (typeof options !== 'object' || options === null) throw typeError('{ batch, inFeatures, … }', 'multiHeadBackward options', options);
  const p = dims({ ...options, outFeatures: 0 }, 'multiHeadBackward');
  const { batch: B, inFeatures: I } = p;
  array(x, 'x', B * I, '[batch, inFeatures]');
  if (typeof heads !== 'object' || heads === null || Object.keys(heads).length === 0) throw typeError('an object with at least one head', 'heads', heads);
  const accumulate = options.accumulate ?? false;
  if (typeof accumulate !== 'boolean') throw typeError('a boolean', 'multiHeadBackward.accumulate', accumulate);
  const names = Object.keys(heads);
  const planned = names.map((name) => {
    const h = heads[name];
    const at = `heads.${name}`;
    if (typeof h !== 'object' || h === null) throw typeError('{ weight, gradOut, outFeatures }', at, h);
    const O = h.outFeatures;
    if (typeof O !== 'number' || !Number.isInteger(O) || O < 0) throw rangeError('an integer >= 0', `${at}.outFeatures`, O);
    const weight = array(h.weight, `${at}.weight`, O * I, '[outFeatures, inFeatures]');
    const gradOut = array(h.gradOut, `${at}.gradOut`, B * O, '[batch, outFeatures]');
    const out = h.out ?? {};
    const make = (k: 'gradWeight' | 'gradBias' | 'gradInput', len: number, what: string) => {
      if (out[k] === undefined) {
        if (accumulate) throw new TypeError(`multiHeadBackward: accumulate needs ${at}.out.${k}`);
        return new Float32Array(len);
      }
      return array(out[k], `${at}.out.${k}`, len, what);
    };
    const gw = make('gradWeight', O * I, '[outFeatures, inFeatures]');
    const gb = h.bias === false ? null : make('gradBias', O, '[outFeatures]');
    const gi = make('gradInput', B * I, '[batch, inFeatures]');
    return { name, O, weight, gradOut, gw, gb, gi };
  });
  // every output against every input and every other output
  const outs = planned.flatMap((h) => [[`heads.${h.name}.out.gradWeight`, h.gw], [`heads.${h.name}.out.gradBias`, h.gb], [`heads.${h.name}.out.gradInput`, h.gi]] as [string, Float32Array | null][]);
  const ins = [['x', x], ...planned.flatMap((h) => [[`heads.${h.name}.weight`, h.weight], [`heads.${h.name}.gradOut`, h.gradOut]])] as [string, Float32Array][];
  noOverlap(outs, ins);
  const combine = options.combine === undefined ? { method: 'sum' as const } : options.combine;
  if (combine !== false && (typeof combine !== 'object' || combine === null)) throw typeError('combine options or false', 'multiHeadBackward.combine', combine);
  return { p, x, planned, accumulate, combine };
}

function finishHeads(q: ReturnType<typeof planHeads>, gram: Float64Array, options: MultiHeadOptions): MultiHeadResult {
  const heads: Record<string, HeadGrads> = {};
  const gradNorms: Record<string, number> = {};
  const T = q.planned.length;
  q.planned.forEach((h, t) => {
    heads[h.name] = h.gb ? { gradWeight: h.gw, gradBias: h.gb, gradInput: h.gi } : { gradWeight: h.gw, gradInput: h.gi };
    gradNorms[h.name] = Math.sqrt(gram[t * T + t]);
  });
  if (q.combine === false) return { heads, sharedGrad: null, coefficients: null, gram, gradNorms };
  const c = combineWithGram(q.planned.map((h) => h.gi), { ...q.combine, out: options.out?.sharedGrad, backend: q.p.backend } as CombineOptions, gram);
  return { heads, sharedGrad: c.grad, coefficients: c.coefficients, gram, gradNorms };
}

/**
 * Backward of several linear task heads on the same shared features x [batch, inFeatures]: each head's
 * parameter gradients and its representation gradient gₜ = gradOutₜ·Wₜ (all heads' GEMMs in one pool
 * job, plus the Gram matrix of the gₜ, in one native call), then their combination into one gradient on
 * the shared representation (combineGradients' methods; the combine pass is a second native call).
 */
export function multiHeadBackward(x: Float32Array, heads: Readonly<Record<string, HeadInput>>, options: MultiHeadOptions): MultiHeadResult {
  const q = planHeads(x, heads, options);
  const T = q.planned.length;
  let gram: Float64Array;
  if (q.p.backend === 'reference') {
    for (const h of q.planned)
      linearBackwardReference({ ...q.p, outFeatures: h.O }, q.x, h.gradOut, h.weight, h.gw, h.gb, h.gi, q.accumulate);
    gram = gramReference(q.planned.map((h) => h.gi));
  } else {
    gram = new Float64Array(T * T);
    native().multiHeadBackward(q.x, q.p.batch, q.p.inFeatures, q.planned.map((h) => [h.O, h.weight, h.gradOut, h.gw, h.gb, h.gi]), gram, q.accumulate);
  }
  return finishHeads(q, gram, options);
}

/** `multiHeadBackward` off the event loop; the same bits. */
export async function multiHeadBackwardAsync(x: Float32Array, heads: Readonly<Record<string, HeadInput>>, options: MultiHeadOptions): Promise<MultiHeadResult> {
  const q = planHeads(x, heads, options);
  if (q.p.backend === 'reference') return multiHeadBackward(x, heads, options);
  const T = q.planned.length;
  const gram = new Float64Array(T * T);
  await native().multiHeadBackwardAsync(q.x, q.p.batch, q.p.inFeatures, q.planned.map((h) => [h.O, h.weight, h.gradOut, h.gw, h.gb, h.gi]), gram, q.accumulate);
  if (q.combine === false) return finishHeads(q, gram, options);
  const r = finishHeads({ ...q, combine: false }, gram, options);
  const c = await combineGradientsAsyncWithGram(q.planned.map((h) => h.gi), { ...q.combine, out: options.out?.sharedGrad } as CombineOptions, gram);
  return { ...r, sharedGrad: c.grad, coefficients: c.coefficients };
}
