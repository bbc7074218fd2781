// Linear heads y = x·Wᵀ + b (W: [outFeatures, inFeatures], PyTorch's layout) and their backward pass, on
// the addon's blocked multi-threaded GEMM, or the float64 reference.
import { cudaNative, native } from '../backends/binding';
import { DeviceBuffer, holding, toNativeArgs } from '../backends/device';
import { combineGradientsAsyncWithGram, type CombineOptions, combineWithGram } from './combine';
import { linearBackwardReference, linearForwardReference, type LinearProblem } from '../backends/reference/linear';
import { gramReference } from '../backends/reference/reduce';
import { backendFor, checkNoOverlap, checkNotDetached, rangeError, typeError } from '../core/validate';

/** The dims of a linear layer y = x·Wᵀ + b (torch.nn.Linear's layout: W is [outFeatures, inFeatures]). */
export interface LinearShape {
  /** Rows of x (B). */
  batch: number;
  /** Features per row of x (I). */
  inFeatures: number;
  /** Outputs per row (O). */
  outFeatures: number;
  /**
   * 'native' (default: our blocked GEMM, multi-threaded), 'reference' (float64 TypeScript) or 'cuda' (our
   * tiled GEMM on the GPU; host arrays staged, DeviceBuffers used in place; implied by a DeviceBuffer
   * argument). multiHeadBackward takes 'native' or 'reference'.
   */
  backend?: 'native' | 'reference' | 'cuda';
}

/** `linearForward` options (PyTorch's F.linear). */
export interface LinearForwardOptions extends LinearShape {
  /** Preallocated output. */
  out?: {
    /** y [batch, outFeatures]. Default: a new array (a new DeviceBuffer when an input is one). */
    output?: Float32Array | DeviceBuffer<'float32'>;
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

/** A linear layer's gradients (those computed); `D` is DeviceBuffer<'float32'> for a backward on DeviceBuffers. */
export interface LinearGrads<D = Float32Array> {
  /** d(loss)/dW [outFeatures, inFeatures]. */
  gradWeight?: D;
  /** d(loss)/db [outFeatures]. */
  gradBias?: D;
  /** d(loss)/dx [batch, inFeatures]. */
  gradInput?: D;
}

/** A float32 array argument on the host or (backend 'cuda') the GPU. */
export type F32Arg = Float32Array | DeviceBuffer<'float32'>;

function dims(o: LinearShape, name: string, cuda = false): LinearProblem & { backend: 'native' | 'reference' | 'cuda' } {
  if (typeof o !== 'object' || o === null) throw typeError('{ batch, inFeatures, outFeatures }', `${name} options`, o);
  const d = (k: 'batch' | 'inFeatures' | 'outFeatures') => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 2 ** 40) throw rangeError('an integer >= 0', `${name}.${k}`, v);
    return v;
  };
  const backend = o.backend ?? 'native';
  if (backend !== 'native' && backend !== 'reference' && !(cuda && backend === 'cuda'))
    throw typeError(cuda ? "'native' | 'reference' | 'cuda'" : "'native' | 'reference'", `${name}.backend`, backend);
  return { batch: d('batch'), inFeatures: d('inFeatures'), outFeatures: d('outFeatures'), backend };
}

function array(v: unknown, name: string, length: number, what: string): Float32Array {
  if (v instanceof DeviceBuffer && v.dtype === 'float32')
    v = v as unknown as Float32Array; // length and identity only
  else if (!(v instanceof Float32Array)) throw typeError(`a Float32Array of ${length} elements (${what})`, name, v);
  const a = v as Float32Array;
  checkNotDetached(a, name);
  if (a.length !== length) throw rangeError(`${length} elements (${what})`, name, v);
  return a;
}

/** A new float32 output: a DeviceBuffer on backend 'cuda' when `device`, else a Float32Array. */
function fresh(length: number, device: boolean): Float32Array {
  return device ? (DeviceBuffer.alloc(length) as unknown as Float32Array) : new Float32Array(length);
}

function planForward(x0: F32Arg, weight0: F32Arg, bias0: F32Arg | null | undefined, options: LinearForwardOptions) {
  const p = dims(options, 'linearForward', true);
  const { batch: B, inFeatures: I, outFeatures: O } = p;
  const x = array(x0, 'x', B * I, '[batch, inFeatures]');
  const weight = array(weight0, 'weight', O * I, '[outFeatures, inFeatures]');
  const b = bias0 == null ? null : array(bias0, 'bias', O, '[outFeatures]');
  p.backend = backendFor('linearForward', p.backend, options.backend !== undefined, [x0, weight0, bias0, options.out?.output]);
  const device = [x0, weight0, bias0].some((a) => a instanceof DeviceBuffer);
  const y =
    options.out?.output === undefined ? fresh(B * O, device) : array(options.out.output, 'out.output', B * O, '[batch, outFeatures]');
  checkNoOverlap(
    [['out.output', y]],
    [
      ['x', x],
      ['weight', weight],
      ['bias', b],
    ],
  );
  return { p, x, weight, b, y };
}

/** `linearForward`'s result; `D` is DeviceBuffer<'float32'> for a forward on DeviceBuffers. */
export interface LinearOutput<D = Float32Array> {
  /** y [batch, outFeatures]. */
  output: D;
}

type ForwardPlan = ReturnType<typeof planForward>;
const forwardArgs = (q: ForwardPlan) => [q.x, q.weight, q.b, q.p.batch, q.p.inFeatures, q.p.outFeatures, q.y] as const;

/** On the GPU: x (and weight, bias) DeviceBuffers; the output stays on the GPU. */
export function linearForward(
  x: DeviceBuffer<'float32'>,
  weight: F32Arg,
  bias: F32Arg | null,
  options: LinearForwardOptions,
): LinearOutput<DeviceBuffer<'float32'>>;
/** y = x·Wᵀ + b for x [batch, inFeatures], W [outFeatures, inFeatures], b [outFeatures] (or null): PyTorch's F.linear, on our own GEMM (float32 FMA sums, the same bits for any thread count). */
export function linearForward(x: Float32Array, weight: F32Arg, bias: F32Arg | null, options: LinearForwardOptions): LinearOutput;
export function linearForward(
  x: F32Arg,
  weight: F32Arg,
  bias: F32Arg | null,
  options: LinearForwardOptions,
): LinearOutput | LinearOutput<DeviceBuffer<'float32'>> {
  const q = planForward(x, weight, bias, options);
  if (q.p.backend === 'reference') linearForwardReference(q.p, q.x, q.weight, q.b, q.y);
  else if (q.p.backend === 'cuda') cudaNative().linearForward(...toNativeArgs(forwardArgs(q)));
  else native().linearForward(...forwardArgs(q));
  return { output: q.y };
}

/** On the GPU, off the event loop: x (and weight, bias) DeviceBuffers; the output stays on the GPU. */
export async function linearForwardAsync(
  x: DeviceBuffer<'float32'>,
  weight: F32Arg,
  bias: F32Arg | null,
  options: LinearForwardOptions,
): Promise<LinearOutput<DeviceBuffer<'float32'>>>;
/** `linearForward` off the event loop (the GEMM runs on the thread pool); the same bits. */
export async function linearForwardAsync(
  x: Float32Array,
  weight: F32Arg,
  bias: F32Arg | null,
  options: LinearForwardOptions,
): Promise<LinearOutput>;
export async function linearForwardAsync(
  x: F32Arg,
  weight: F32Arg,
  bias: F32Arg | null,
  options: LinearForwardOptions,
): Promise<LinearOutput | LinearOutput<DeviceBuffer<'float32'>>> {
  const q = planForward(x, weight, bias, options);
  const args = forwardArgs(q);
  if (q.p.backend === 'reference') linearForwardReference(q.p, q.x, q.weight, q.b, q.y);
  else if (q.p.backend === 'cuda') await holding(args, () => cudaNative().linearForwardAsync(...toNativeArgs(args)));
  else await native().linearForwardAsync(...args);
  return { output: q.y };
}

function planBackward(x0: F32Arg | null, gradOut0: F32Arg, weight0: F32Arg | null, options: LinearBackwardOptions) {
  const p = dims(options, 'linearBackward', true);
  const x = x0 as Float32Array | null,
    gradOut = gradOut0 as Float32Array,
    weight = weight0 as Float32Array | null;
  const { batch: B, inFeatures: I, outFeatures: O } = p;
  const want = { gradWeight: true, gradBias: true, gradInput: true, ...(options.compute ?? {}) };
  const accumulate = options.accumulate ?? false;
  if (typeof accumulate !== 'boolean') throw typeError('a boolean', 'linearBackward.accumulate', accumulate);
  array(gradOut, 'gradOut', B * O, '[batch, outFeatures]');
  if (want.gradWeight) array(x, 'x', B * I, '[batch, inFeatures]');
  if (want.gradInput) array(weight, 'weight', O * I, '[outFeatures, inFeatures]');
  const out = (options.out ?? {}) as LinearGrads<F32Arg>;
  p.backend = backendFor('linearBackward', p.backend, options.backend !== undefined, [
    want.gradWeight ? x0 : null,
    gradOut0,
    want.gradInput ? weight0 : null,
    out.gradWeight,
    out.gradBias,
    out.gradInput,
  ]);
  const device = gradOut0 instanceof DeviceBuffer;
  const make = (k: keyof LinearGrads, len: number, what: string): Float32Array | null => {
    if (!want[k]) return null;
    if (out[k] === undefined) {
      if (accumulate) throw new TypeError(`linearBackward: accumulate needs out.${k} (the buffer to add into)`);
      return fresh(len, device);
    }
    return array(out[k], `out.${k}`, len, what);
  };
  const gw = make('gradWeight', O * I, '[outFeatures, inFeatures]');
  const gb = make('gradBias', O, '[outFeatures]');
  const gi = make('gradInput', B * I, '[batch, inFeatures]');
  checkNoOverlap(
    [
      ['out.gradWeight', gw],
      ['out.gradBias', gb],
      ['out.gradInput', gi],
    ],
    [
      ['x', want.gradWeight ? x : null],
      ['weight', want.gradInput ? weight : null],
      ['gradOut', gradOut],
    ],
  );
  return { p, x: want.gradWeight ? x : null, gradOut, weight: want.gradInput ? weight : null, gw, gb, gi, accumulate };
}

function grads(q: ReturnType<typeof planBackward>): LinearGrads {
  const r: LinearGrads = {};
  if (q.gw) r.gradWeight = q.gw;
  if (q.gb) r.gradBias = q.gb;
  if (q.gi) r.gradInput = q.gi;
  return r;
}

type BackwardPlan = ReturnType<typeof planBackward>;
const backwardArgs = (q: BackwardPlan) =>
  [q.x, q.gradOut, q.weight, q.p.batch, q.p.inFeatures, q.p.outFeatures, q.gw, q.gb, q.gi, q.accumulate] as const;

/** On the GPU: gradOut (and x, weight) DeviceBuffers; the gradients stay on the GPU. */
export function linearBackward(
  x: F32Arg | null,
  gradOut: DeviceBuffer<'float32'>,
  weight: F32Arg | null,
  options: LinearBackwardOptions,
): LinearGrads<DeviceBuffer<'float32'>>;
/**
 * Backward of a linear head: gradWeight = gradOutᵀ·x, gradBias = Σ_b gradOut, gradInput = gradOut·W.
 * `x` may be null when gradWeight is not computed, `weight` when gradInput is not.
 */
export function linearBackward(x: F32Arg | null, gradOut: Float32Array, weight: F32Arg | null, options: LinearBackwardOptions): LinearGrads;
export function linearBackward(
  x: F32Arg | null,
  gradOut: F32Arg,
  weight: F32Arg | null,
  options: LinearBackwardOptions,
): LinearGrads | LinearGrads<DeviceBuffer<'float32'>> {
  const q = planBackward(x, gradOut, weight, options);
  if (q.p.backend === 'reference') linearBackwardReference(q.p, q.x, q.gradOut, q.weight, q.gw, q.gb, q.gi, q.accumulate);
  else if (q.p.backend === 'cuda') cudaNative().linearBackward(...toNativeArgs(backwardArgs(q)));
  else native().linearBackward(...backwardArgs(q));
  return grads(q);
}

/** On the GPU, off the event loop: gradOut (and x, weight) DeviceBuffers; the gradients stay on the GPU. */
export async function linearBackwardAsync(
  x: F32Arg | null,
  gradOut: DeviceBuffer<'float32'>,
  weight: F32Arg | null,
  options: LinearBackwardOptions,
): Promise<LinearGrads<DeviceBuffer<'float32'>>>;
/** `linearBackward` off the event loop; the same bits. */
export async function linearBackwardAsync(
  x: F32Arg | null,
  gradOut: Float32Array,
  weight: F32Arg | null,
  options: LinearBackwardOptions,
): Promise<LinearGrads>;
export async function linearBackwardAsync(
  x: F32Arg | null,
  gradOut: F32Arg,
  weight: F32Arg | null,
  options: LinearBackwardOptions,
): Promise<LinearGrads | LinearGrads<DeviceBuffer<'float32'>>> {
  const q = planBackward(x, gradOut, weight, options);
  const args = backwardArgs(q);
  if (q.p.backend === 'reference') linearBackwardReference(q.p, q.x, q.gradOut, q.weight, q.gw, q.gb, q.gi, q.accumulate);
  else if (q.p.backend === 'cuda') await holding(args, () => cudaNative().linearBackwardAsync(...toNativeArgs(args)));
  else await native().linearBackwardAsync(...args);
  return grads(q);
}

// ---------------------------------------------------------------- multiHeadBackward

/** One head of `multiHeadBackward`: its weight and the loss gradient on its outputs. */
export interface HeadInput {
  /** The head's weight, `[outFeatures, inFeatures]` (a DeviceBuffer on backend 'cuda'). */
  weight: F32Arg;
  /** The loss gradient on this head's outputs, `[batch, outFeatures]` (e.g. MultiTaskLoss's r.grads[task]; a DeviceBuffer on backend 'cuda'). */
  gradOut: F32Arg;
  /** The head's outputs (O). */
  outFeatures: number;
  /** Compute gradBias (default true). */
  bias?: boolean;
  /** Preallocated outputs. */
  out?: LinearGrads<F32Arg>;
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
    /** The combined gradient on the shared representation [batch, inFeatures]. Default: a new array (a DeviceBuffer on backend 'cuda' with DeviceBuffer inputs). */
    sharedGrad?: F32Arg;
  };
  /** 'native' (default), 'reference' or 'cuda' (every head's GEMMs, the Gram matrix and the combination on the GPU; implied by DeviceBuffers). */
  backend?: 'native' | 'reference' | 'cuda';
}

/** One head's gradients from `multiHeadBackward` (`D`: DeviceBuffer<'float32'> on DeviceBuffer inputs). */
export interface HeadGrads<D = Float32Array> {
  /** d(loss)/dWₜ [outFeatures, inFeatures]. */
  gradWeight: D;
  /** d(loss)/dbₜ [outFeatures] (unless the head's bias: false). */
  gradBias?: D;
  /** gₜ = gradOutₜ·Wₜ: this task's gradient on the shared representation [batch, inFeatures]. */
  gradInput: D;
}

/** `multiHeadBackward`'s result (`D`: DeviceBuffer<'float32'> on DeviceBuffer inputs). */
export interface MultiHeadResult<D = Float32Array> {
  /** Each head's gradients, by head name. */
  heads: Record<string, HeadGrads<D>>;
  /** The combined gradient on the shared representation (null with combine: false). */
  sharedGrad: D | null;
  /** sharedGrad = Σₜ coefficientsₜ·gₜ (null for graddrop or combine: false). */
  coefficients: Float64Array | null;
  /** The Gram matrix gᵢ·gⱼ of the representation gradients (T×T, head order). */
  gram: Float64Array;
  /** ‖gₜ‖ per head: the per-task gradient norms GradNorm needs (MultiTaskLoss endStep). */
  gradNorms: Record<string, number>;
}

function planHeads(x0: F32Arg, heads: Readonly<Record<string, HeadInput>>, options: MultiHeadOptions) {
  if (typeof options !== 'object' || options === null) throw typeError('{ batch, inFeatures, … }', 'multiHeadBackward options', options);
  const p = dims({ ...options, outFeatures: 0 }, 'multiHeadBackward', true);
  const { batch: B, inFeatures: I } = p;
  const x = array(x0, 'x', B * I, '[batch, inFeatures]');
  if (typeof heads !== 'object' || heads === null || Object.keys(heads).length === 0)
    throw typeError('an object with at least one head', 'heads', heads);
  const accumulate = options.accumulate ?? false;
  if (typeof accumulate !== 'boolean') throw typeError('a boolean', 'multiHeadBackward.accumulate', accumulate);
  const names = Object.keys(heads);
  const given = [
    x0,
    options.out?.sharedGrad,
    ...names.flatMap((n) => {
      const h = heads[n] ?? {};
      return [h.weight, h.gradOut, h.out?.gradWeight, h.out?.gradBias, h.out?.gradInput];
    }),
  ];
  p.backend = backendFor('multiHeadBackward', p.backend, options.backend !== undefined, given);
  const device = given.some((a) => a instanceof DeviceBuffer);
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
        return fresh(len, device);
      }
      return array(out[k], `${at}.out.${k}`, len, what);
    };
    const gw = make('gradWeight', O * I, '[outFeatures, inFeatures]');
    const gb = h.bias === false ? null : make('gradBias', O, '[outFeatures]');
    const gi = make('gradInput', B * I, '[batch, inFeatures]');
    return { name, O, weight, gradOut, gw, gb, gi };
  });
  // every output against every input and every other output
  const outs = planned.flatMap(
    (h) =>
      [
        [`heads.${h.name}.out.gradWeight`, h.gw],
        [`heads.${h.name}.out.gradBias`, h.gb],
        [`heads.${h.name}.out.gradInput`, h.gi],
      ] as [string, Float32Array | null][],
  );
  const ins = [
    ['x', x],
    ...planned.flatMap((h) => [
      [`heads.${h.name}.weight`, h.weight],
      [`heads.${h.name}.gradOut`, h.gradOut],
    ]),
  ] as [string, Float32Array][];
  checkNoOverlap(outs, ins);
  const combine = options.combine === undefined ? { method: 'sum' as const } : options.combine;
  if (combine !== false && (typeof combine !== 'object' || combine === null))
    throw typeError('combine options or false', 'multiHeadBackward.combine', combine);
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
  const c = combineWithGram(
    q.planned.map((h) => h.gi),
    { ...q.combine, out: options.out?.sharedGrad, backend: q.p.backend } as CombineOptions,
    gram,
  );
  return { heads, sharedGrad: c.grad, coefficients: c.coefficients, gram, gradNorms };
}

/**
 * Backward of several linear task heads on the same shared features x [batch, inFeatures]: each head's
 * parameter gradients and its representation gradient gₜ = gradOutₜ·Wₜ (all heads' GEMMs in one pool
 * job, plus the Gram matrix of the gₜ, in one native call), then their combination into one gradient on
 * the shared representation (combineGradients' methods; the combine pass is a second native call).
 */
type HeadsPlan = ReturnType<typeof planHeads>;
/** The native arguments' head lists (DeviceBuffers as their handles on backend 'cuda'). */
function headArgs(q: HeadsPlan): unknown[][] {
  return q.planned.map((p) => toNativeArgs([p.O, p.weight, p.gradOut, p.gw, p.gb, p.gi]));
}
const headBuffers = (q: HeadsPlan) => [q.x, ...q.planned.flatMap((p) => [p.weight, p.gradOut, p.gw, p.gb, p.gi])];

/** On the GPU: x and the heads' arrays DeviceBuffers; every gradient stays on the GPU. */
export function multiHeadBackward(
  x: DeviceBuffer<'float32'>,
  heads: Readonly<Record<string, HeadInput>>,
  options: MultiHeadOptions,
): MultiHeadResult<DeviceBuffer<'float32'>>;
/**
 * Backward of several linear task heads on the same shared features x [batch, inFeatures]: each head's
 * parameter gradients and its representation gradient gₜ = gradOutₜ·Wₜ (all heads' GEMMs in one pool
 * job, plus the Gram matrix of the gₜ, in one native call), then their combination into one gradient on
 * the shared representation (combineGradients' methods; the combine pass is a second native call).
 */
export function multiHeadBackward(x: Float32Array, heads: Readonly<Record<string, HeadInput>>, options: MultiHeadOptions): MultiHeadResult;
export function multiHeadBackward(
  x: F32Arg,
  heads: Readonly<Record<string, HeadInput>>,
  options: MultiHeadOptions,
): MultiHeadResult | MultiHeadResult<DeviceBuffer<'float32'>> {
  const q = planHeads(x, heads, options);
  const T = q.planned.length;
  let gram: Float64Array;
  if (q.p.backend === 'reference') {
    for (const h of q.planned)
      linearBackwardReference({ ...q.p, outFeatures: h.O }, q.x, h.gradOut, h.weight, h.gw, h.gb, h.gi, q.accumulate);
    gram = gramReference(q.planned.map((h) => h.gi));
  } else {
    gram = new Float64Array(T * T);
    const b = q.p.backend === 'cuda' ? cudaNative() : native();
    b.multiHeadBackward(toNativeArgs([q.x])[0], q.p.batch, q.p.inFeatures, headArgs(q), gram, q.accumulate);
  }
  return finishHeads(q, gram, options);
}

/** On the GPU, off the event loop: x and the heads' arrays DeviceBuffers; every gradient stays on the GPU. */
export async function multiHeadBackwardAsync(
  x: DeviceBuffer<'float32'>,
  heads: Readonly<Record<string, HeadInput>>,
  options: MultiHeadOptions,
): Promise<MultiHeadResult<DeviceBuffer<'float32'>>>;
/** `multiHeadBackward` off the event loop; the same bits. */
export async function multiHeadBackwardAsync(
  x: Float32Array,
  heads: Readonly<Record<string, HeadInput>>,
  options: MultiHeadOptions,
): Promise<MultiHeadResult>;
export async function multiHeadBackwardAsync(
  x: F32Arg,
  heads: Readonly<Record<string, HeadInput>>,
  options: MultiHeadOptions,
): Promise<MultiHeadResult | MultiHeadResult<DeviceBuffer<'float32'>>> {
  const q = planHeads(x, heads, options);
  if (q.p.backend === 'reference') return multiHeadBackward(x as Float32Array, heads, options);
  const T = q.planned.length;
  const gram = new Float64Array(T * T);
  if (q.p.backend === 'cuda')
    await holding(headBuffers(q), () =>
      cudaNative().multiHeadBackwardAsync(toNativeArgs([q.x])[0], q.p.batch, q.p.inFeatures, headArgs(q), gram, q.accumulate),
    );
  else await native().multiHeadBackwardAsync(q.x, q.p.batch, q.p.inFeatures, headArgs(q), gram, q.accumulate);
  if (q.combine === false) return finishHeads(q, gram, options);
  const r = finishHeads({ ...q, combine: false }, gram, options);
  const c = await combineGradientsAsyncWithGram(
    q.planned.map((h) => h.gi),
    { ...q.combine, out: options.out?.sharedGrad, backend: q.p.backend } as CombineOptions,
    gram,
  );
  return { ...r, sharedGrad: c.grad, coefficients: c.coefficients };
}
