// Linear heads y = x·Wᵀ + b (W: [outFeatures, inFeatures], PyTorch's layout) and their backward pass, on
// the addon's blocked multi-threaded GEMM, or the float64 reference.
import { native } from './binding';
import { linearBackwardReference, linearForwardReference, type LinearProblem } from './reference/linear';
import { checkNotDetached, overlaps, rangeError, typeError } from './validate';

export interface LinearShape {
  batch: number;
  inFeatures: number;
  outFeatures: number;
  backend?: 'native' | 'reference';
}

export interface LinearForwardOptions extends LinearShape {
  out?: { output?: Float32Array };
}

export interface LinearBackwardOptions extends LinearShape {
  /** Which gradients to compute (default: all three). */
  compute?: { gradWeight?: boolean; gradBias?: boolean; gradInput?: boolean };
  /** Preallocated outputs (required for the computed ones with accumulate). */
  out?: { gradWeight?: Float32Array; gradBias?: Float32Array; gradInput?: Float32Array };
  /** Add into `out` instead of overwriting (gradient accumulation over micro-batches). */
  accumulate?: boolean;
}

export interface LinearGrads {
  gradWeight?: Float32Array;
  gradBias?: Float32Array;
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

/** y = x·Wᵀ + b for x [batch, inFeatures], W [outFeatures, inFeatures], b [outFeatures] (or null). */
export function linearForward(x: Float32Array, weight: Float32Array, bias: Float32Array | null, options: LinearForwardOptions): { output: Float32Array } {
  const q = planForward(x, weight, bias, options);
  if (q.p.backend === 'reference') linearForwardReference(q.p, q.x, q.weight, q.b, q.y);
  else native().linearForward(q.x, q.weight, q.b, q.p.batch, q.p.inFeatures, q.p.outFeatures, q.y);
  return { output: q.y };
}

export async function linearForwardAsync(x: Float32Array, weight: Float32Array, bias: Float32Array | null, options: LinearForwardOptions): Promise<{ output: Float32Array }> {
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

export async function linearBackwardAsync(x: Float32Array | null, gradOut: Float32Array, weight: Float32Array | null, options: LinearBackwardOptions): Promise<LinearGrads> {
  const q = planBackward(x, gradOut, weight, options);
  if (q.p.backend === 'reference') linearBackwardReference(q.p, q.x, q.gradOut, q.weight, q.gw, q.gb, q.gi, q.accumulate);
  else await native().linearBackwardAsync(q.x, q.gradOut, q.weight, q.p.batch, q.p.inFeatures, q.p.outFeatures, q.gw, q.gb, q.gi, q.accumulate);
  return grads(q);
}
