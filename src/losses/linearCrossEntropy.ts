// linearCrossEntropy / linearCrossEntropyAsync: a linear head and its softmax cross-entropy in one pass,
// the [N, C] logits never materialised (PyTorch's F.linear_cross_entropy; Liger-Kernel's fused linear
// cross-entropy extras). Validation and output allocation here, once; then the native chunked kernel
// (native/src/kernels/linear_cross_entropy.cc) or the float64 reference.
import { native, type LinearCrossEntropyNativeArgs, type NativeReduction } from '../backends/binding';
import {
  linearCrossEntropyReference,
  type LinearCrossEntropyProblem,
  type LinearCrossEntropyValues,
} from '../backends/reference/linearCrossEntropy';
import { floatInput, isTensorLike, type FloatInput, type TargetInput, toInt32 } from '../core/tensor';
import {
  backendFor,
  checkFinite,
  checkNotDetached,
  checkOptionNames,
  checkNoOverlap,
  rangeError,
  scalarOption,
  typeError,
} from '../core/validate';
import { linearCrossEntropySpec as spec, type Reduction } from './ops';
import { floatArrayOption, gradOutputOption } from './outputs';

/** Which gradients `linearCrossEntropy` computes (each defaults to true; gradLinearBias needs linearBias). */
export interface LinearCrossEntropyCompute {
  /** d(loss)/d(input) `[N, H]`. */
  gradInput?: boolean;
  /** d(loss)/d(linearWeight) `[C, H]`. */
  gradLinearWeight?: boolean;
  /** d(loss)/d(linearBias) `[C]`. */
  gradLinearBias?: boolean;
}

/** Preallocated outputs of `linearCrossEntropy`. */
export interface LinearCrossEntropyOut {
  /** `[N, H]`. */
  gradInput?: Float32Array;
  /** `[C, H]`. */
  gradLinearWeight?: Float32Array;
  /** `[C]`. */
  gradLinearBias?: Float32Array;
  /** `[N]`, reduction 'none'. */
  loss?: Float32Array;
  /** `[N]`, with returnLse. */
  lse?: Float32Array;
}

/** Options of `linearCrossEntropy` (see the options table in docs/losses.md). */
export interface LinearCrossEntropyOptions<R extends Reduction = Reduction> {
  /** Dims of a plain Float32Array input: `[N, H]`. */
  shape?: readonly number[];
  /** The head's bias `[C]` (PyTorch's `bias`). */
  linearBias?: Float32Array | readonly number[] | null;
  /** Class weights `[C]`. */
  weight?: Float32Array | readonly number[] | null;
  /** Rows whose class id equals it are left out (default −100). */
  ignoreIndex?: number;
  /** ε in [0, 1] (default 0). */
  labelSmoothing?: number;
  /** Per-row weights `[N]`: multiply each row's loss and gradient. */
  sampleWeight?: Float32Array | readonly number[] | null;
  /** 'mean' (default), 'sum' or 'none' (`[N]`). */
  reduction?: R;
  /** 'none' only: the upstream gradient per row `[N]`. */
  gradOutput?: Float32Array | null;
  /** Multiplies every gradient (default 1). */
  gradScale?: number;
  /** z-loss scale s ≥ 0: each counted row adds s·lse² (default 0). */
  lseSquareScale?: number;
  /** Soft-cap: logits become cap·tanh(logits / cap) (> 0; default none). */
  softcap?: number | null;
  /** Also return `zLoss`. */
  returnZLoss?: boolean;
  /** Also return `lse` `[N]`. */
  returnLse?: boolean;
  /** Also return `accuracy` (class ids only). */
  returnAccuracy?: boolean;
  /** Which gradients to compute (default all). */
  compute?: LinearCrossEntropyCompute;
  /** Preallocated outputs. */
  out?: LinearCrossEntropyOut;
  /** Add the gradients into `out` (gradient accumulation). Default false. */
  accumulate?: boolean;
  /** Rows per chunk (default: about 24 MiB of logits). */
  chunkSize?: number;
  /** 'native' (default) or 'reference'. */
  backend?: 'native' | 'reference';
  /** 'propagate' (default) or 'raise'. */
  nanPolicy?: 'propagate' | 'raise';
}

/** What `linearCrossEntropy` returns. */
export interface LinearCrossEntropyResult<R extends Reduction = Reduction> {
  /** The reduced loss (cross-entropy + z-loss), or per-row losses `[N]` for 'none'. */
  loss: R extends 'none' ? Float32Array : number;
  /** d(loss)/d(input) `[N, H]` (zero-length when `compute.gradInput` is false). */
  gradInput: Float32Array;
  /** d(loss)/d(linearWeight) `[C, H]` (zero-length when `compute.gradLinearWeight` is false). */
  gradLinearWeight: Float32Array;
  /** d(loss)/d(linearBias) `[C]`, with linearBias. */
  gradLinearBias?: Float32Array;
  /** The z-loss part of `loss`, with returnZLoss. */
  zLoss?: number;
  /** Per-row log-sum-exp `[N]`, with returnLse. */
  lse?: Float32Array;
  /** Share of counted rows whose argmax is the target, with returnAccuracy. */
  accuracy?: number;
}

const REDUCTION_CODE: Record<Reduction, NativeReduction> = { none: 0, mean: 1, sum: 2 };
const EMPTY = new Float32Array(0);

interface Plan {
  problem: LinearCrossEntropyProblem;
  gradInput: Float32Array | null;
  gradWeight: Float32Array | null;
  gradBias: Float32Array | null;
  lossOut: Float32Array | null;
  lse: Float32Array | null;
  accumulate: boolean;
  chunkSize: number;
  returnZLoss: boolean;
  returnAccuracy: boolean;
  backend: 'native' | 'reference';
}

function plan(input: FloatInput, linearWeight: FloatInput, target: TargetInput, options: LinearCrossEntropyOptions = {}): Plan {
  const name = spec.name;
  if (typeof options !== 'object' || options === null) throw typeError('an options object', `${name} options`, options);
  checkOptionNames(options, spec);
  const opts = options as Record<string, unknown>;
  const x = floatInput(input, options.shape, 'input');
  if (x.dims.length !== 2) throw rangeError('2 dims [N, H]', 'input shape', `[${x.dims.join(', ')}]`);
  const [n, h] = x.dims;
  if (h < 1) throw rangeError('at least one feature (H >= 1)', 'input shape', `[${x.dims.join(', ')}]`);
  // linearWeight: [C, H] (its dims, or C = length / H)
  let W: Float32Array;
  if (isTensorLike(linearWeight)) {
    const t = floatInput(linearWeight, undefined, 'linearWeight');
    if (t.dims.length !== 2 || t.dims[1] !== h)
      throw rangeError(`dims [C, ${h}] (H from input)`, 'linearWeight.dims', `[${t.dims.join(', ')}]`);
    W = t.data;
  } else {
    if (!(linearWeight instanceof Float32Array))
      throw typeError('a Float32Array [C, H] (or a float32 tensor)', 'linearWeight', linearWeight);
    checkNotDetached(linearWeight, 'linearWeight');
    W = linearWeight;
  }
  if (W.length === 0 || W.length % h !== 0) throw rangeError(`a positive multiple of H = ${h} elements ([C, H])`, 'linearWeight', W);
  const c = W.length / h;
  // target: class ids [N] or probabilities [N, C]
  let t: unknown = target,
    tDims: readonly number[] | undefined;
  if (isTensorLike(target)) ((t = target.data), (tDims = target.dims));
  if (t instanceof BigInt64Array) t = toInt32(t, 'target');
  let targetArr: Int32Array | Float32Array;
  if (t instanceof Int32Array) {
    targetArr = t;
    if (t.length !== n) throw rangeError(`${n} class ids ([N])`, 'target', t);
    if (tDims && (tDims.length !== 1 || tDims[0] !== n)) throw rangeError(`target.dims [${n}]`, 'target.dims', `[${tDims.join(', ')}]`);
  } else if (t instanceof Float32Array) {
    targetArr = t;
    if (t.length !== n * c) throw rangeError(`${n * c} probabilities ([N, C] = [${n}, ${c}])`, 'target', t);
  } else throw typeError('an Int32Array of class ids or a Float32Array of probabilities', 'target', t);
  checkNotDetached(targetArr, 'target');

  const bias = floatArrayOption(options.linearBias, `${name}.linearBias`, c, 'C, from linearWeight');
  const weight = floatArrayOption(options.weight, `${name}.weight`, c, 'C, from linearWeight');
  const sampleWeight = floatArrayOption(options.sampleWeight, `${name}.sampleWeight`, n, 'N, one per row');
  const ignoreIndex = scalarOption<number>(opts, spec, 'ignoreIndex');
  const labelSmoothing = scalarOption<number>(opts, spec, 'labelSmoothing');
  const reduction = scalarOption<Reduction>(opts, spec, 'reduction');
  const gradScale = scalarOption<number>(opts, spec, 'gradScale');
  const lseSquareScale = scalarOption<number>(opts, spec, 'lseSquareScale');
  const softcap = options.softcap == null ? 0 : scalarOption<number>(opts, spec, 'softcap');
  const returnZLoss = scalarOption<boolean>(opts, spec, 'returnZLoss');
  const returnLse = scalarOption<boolean>(opts, spec, 'returnLse');
  const returnAccuracy = scalarOption<boolean>(opts, spec, 'returnAccuracy');
  const accumulate = scalarOption<boolean>(opts, spec, 'accumulate');
  const chunkSize = options.chunkSize === undefined ? linearCrossEntropyChunkSize(c) : scalarOption<number>(opts, spec, 'chunkSize');
  if (returnAccuracy && !(targetArr instanceof Int32Array))
    throw new TypeError(`${name}.returnAccuracy needs class-id targets (an Int32Array), not probabilities`);
  const gradOutput = gradOutputOption(options.gradOutput, name, reduction, n, '[N]');
  const backend = backendFor(
    name,
    scalarOption<'native' | 'reference'>(opts, spec, 'backend'),
    opts.backend !== undefined,
    [x.data, W, bias, weight, sampleWeight, gradOutput, targetArr],
    spec,
  ) as 'native' | 'reference';
  if (scalarOption<string>(opts, spec, 'nanPolicy') === 'raise')
    checkFinite(
      [
        ['input', x.data],
        ['linearWeight', W],
        ['linearBias', bias],
      ],
      backend === 'reference' ? null : (a) => native().firstNonFinite(a),
    );

  // compute and out
  const compute = options.compute ?? {};
  if (typeof compute !== 'object' || compute === null)
    throw typeError('an object { gradInput?, gradLinearWeight?, gradLinearBias? }', `${name}.compute`, compute);
  for (const k of Object.keys(compute))
    if (!['gradInput', 'gradLinearWeight', 'gradLinearBias'].includes(k))
      throw new TypeError(`Unknown key '${k}' in ${name}.compute; expected gradInput, gradLinearWeight, gradLinearBias`);
  const want = (k: keyof LinearCrossEntropyCompute) => {
    const v = compute[k] ?? true;
    if (typeof v !== 'boolean') throw typeError('a boolean', `${name}.compute.${k}`, v);
    return v;
  };
  const out = options.out ?? {};
  if (typeof out !== 'object' || out === null) throw typeError('an object of Float32Arrays', `${name}.out`, out);
  for (const k of Object.keys(out))
    if (!['gradInput', 'gradLinearWeight', 'gradLinearBias', 'loss', 'lse'].includes(k))
      throw new TypeError(`Unknown key '${k}' in ${name}.out; expected gradInput, gradLinearWeight, gradLinearBias, loss, lse`);
  const output = (k: keyof LinearCrossEntropyOut, on: boolean, length: number, what: string, grad: boolean): Float32Array | null => {
    if (!on) return null;
    const v = out[k];
    if (v === undefined) {
      if (accumulate && grad) throw new TypeError(`${name}: accumulate needs out.${k} (the buffer to add into)`);
      return new Float32Array(length);
    }
    if (!(v instanceof Float32Array)) throw typeError('a Float32Array', `${name}.out.${k}`, v);
    checkNotDetached(v, `out.${k}`);
    if (v.length !== length) throw rangeError(`${length} elements (${what})`, `${name}.out.${k}`, v);
    return v;
  };
  const gradInput = output('gradInput', want('gradInput'), n * h, '[N, H]', true);
  const gradWeight = output('gradLinearWeight', want('gradLinearWeight'), c * h, '[C, H]', true);
  const gradBias = output('gradLinearBias', bias !== null && want('gradLinearBias'), c, '[C]', true);
  const lossOut = output('loss', reduction === 'none', n, '[N]', false);
  const lse = output('lse', returnLse, n, '[N]', false);
  const outs: [string, Float32Array | null][] = [
    ['out.gradInput', gradInput],
    ['out.gradLinearWeight', gradWeight],
    ['out.gradLinearBias', gradBias],
    ['out.loss', lossOut],
    ['out.lse', lse],
  ];
  const ins: [string, ArrayBufferView | null][] = [
    ['input', x.data],
    ['linearWeight', W],
    ['linearBias', bias],
    ['target', targetArr],
    ['weight', weight],
    ['sampleWeight', sampleWeight],
    ['gradOutput', gradOutput],
  ];
  checkNoOverlap(outs, ins);
  return {
    problem: {
      input: x.data,
      weight: W,
      bias,
      n,
      h,
      c,
      target: targetArr,
      classWeight: weight,
      sampleWeight,
      gradOutput,
      ignoreIndex,
      labelSmoothing,
      reduction,
      gradScale,
      lseSquareScale,
      softcap,
    },
    gradInput,
    gradWeight,
    gradBias,
    lossOut,
    lse,
    accumulate,
    chunkSize,
    returnZLoss,
    returnAccuracy,
    backend,
  };
}

function nativeArgs(p: Plan, stats: Float64Array): LinearCrossEntropyNativeArgs {
  const q = p.problem;
  return [
    q.input,
    q.weight,
    q.bias,
    q.target,
    q.classWeight,
    q.sampleWeight,
    q.gradOutput,
    p.gradInput,
    p.gradWeight,
    p.gradBias,
    p.lossOut,
    p.lse,
    stats,
    q.n,
    q.h,
    q.c,
    q.ignoreIndex,
    q.labelSmoothing,
    REDUCTION_CODE[q.reduction],
    q.gradScale,
    q.lseSquareScale,
    q.softcap,
    p.chunkSize,
    p.accumulate,
    p.returnAccuracy,
  ];
}

function result<R extends Reduction>(p: Plan, v: LinearCrossEntropyValues): LinearCrossEntropyResult<R> {
  const r: LinearCrossEntropyResult<R> = {
    loss: (p.problem.reduction === 'none' ? p.lossOut! : v.loss) as LinearCrossEntropyResult<R>['loss'],
    gradInput: p.gradInput ?? EMPTY,
    gradLinearWeight: p.gradWeight ?? EMPTY,
  };
  if (p.gradBias) r.gradLinearBias = p.gradBias;
  if (p.returnZLoss) r.zLoss = v.zLoss;
  if (p.lse) r.lse = p.lse;
  if (p.returnAccuracy) r.accuracy = v.accuracy;
  return r;
}

function reference(p: Plan): LinearCrossEntropyValues {
  return linearCrossEntropyReference(
    p.problem,
    { gradInput: p.gradInput, gradWeight: p.gradWeight, gradBias: p.gradBias, loss: p.lossOut, lse: p.lse },
    p.accumulate,
  );
}

/**
 * A linear head and its cross-entropy, loss and gradients in one pass: the result of
 * `crossEntropy(linearForward(input, linearWeight, linearBias), target)` and its backward (PyTorch's
 * `F.linear_cross_entropy`), computed in row chunks so that only chunkSize × C logits ever exist.
 * `input` is `[N, H]` features, `linearWeight` `[C, H]` (PyTorch's Linear layout), `target` class ids
 * `[N]` or probabilities `[N, C]`. Same bits for any thread count.
 */
export function linearCrossEntropy<R extends Reduction = 'mean'>(
  input: FloatInput,
  linearWeight: FloatInput,
  target: TargetInput,
  options?: LinearCrossEntropyOptions<R>,
): LinearCrossEntropyResult<R> {
  const p = plan(input, linearWeight, target, options);
  if (p.backend === 'reference') return result(p, reference(p));
  const stats = new Float64Array(2);
  const loss = native().linearCrossEntropy(...nativeArgs(p, stats));
  return result(p, { loss, zLoss: stats[0], accuracy: stats[1] });
}

/**
 * `linearCrossEntropy` on a worker thread (the event loop stays free); the same bits. Do not modify the
 * arrays until the promise settles. Argument errors reject the promise (nothing is written).
 */
export async function linearCrossEntropyAsync<R extends Reduction = 'mean'>(
  input: FloatInput,
  linearWeight: FloatInput,
  target: TargetInput,
  options?: LinearCrossEntropyOptions<R>,
): Promise<LinearCrossEntropyResult<R>> {
  const p = plan(input, linearWeight, target, options);
  if (p.backend === 'reference') return result(p, reference(p));
  const stats = new Float64Array(2);
  const loss = await native().linearCrossEntropyAsync(...nativeArgs(p, stats));
  return result(p, { loss, zLoss: stats[0], accuracy: stats[1] });
}

/** The rows per chunk `linearCrossEntropy` uses for C classes when no chunkSize is given (about 24 MiB of logits, at least 16 rows). */
export function linearCrossEntropyChunkSize(classes: number): number {
  if (typeof classes !== 'number' || !Number.isInteger(classes) || classes < 1) throw rangeError('an integer >= 1', 'classes', classes);
  return Math.max(16, Math.min(4096, Math.floor((6 * 1024 * 1024) / classes) & ~15));
}
