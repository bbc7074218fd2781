// crossEntropy / crossEntropyAsync: validation and output allocation (once, here), then the native
// kernel or the reference. PyTorch's F.cross_entropy semantics; see src/ops.ts for the options.
import { cudaNative, native, type NativeReduction } from '../backends/binding';
import type { LossOptionsBase, LossOutputs } from './options';
import { type Backend, crossEntropySpec, type LossSpec, type Reduction } from './ops';
import { crossEntropyReference, type CrossEntropyProblem } from '../backends/reference/crossEntropy';
import { softmaxRowsReference } from '../backends/reference/linearCrossEntropy';
import { elementCount, floatInput, isTensorLike, type FloatInput, type TargetInput, toInt32 } from '../core/tensor';
import { floatArrayOption, gradOutputOption, resolveOutputs } from './outputs';
import {
  backendFor,
  checkFinite,
  checkFiniteHost,
  checkNotDetached,
  checkOptionNames,
  rangeError,
  scalarOption,
  typeError,
} from '../core/validate';
import { DeviceBuffer, holding, toNativeArgs } from '../backends/device';

/**
 * Options of `crossEntropy` (PyTorch's `F.cross_entropy`) and `nllLoss`. Input dims: [N, C] or
 * [N, C, d1, …, dk] (or [C] for one sample); targets: class ids [N, d1…dk] or probabilities (input's shape).
 */
export interface CrossEntropyOptions<R extends Reduction = Reduction> extends LossOptionsBase<R> {
  /** Class weights, length C (PyTorch's `weight`): each target class's loss is multiplied by its weight; the mean divides by the sum of the weights of the counted targets. Default none. */
  weight?: Float32Array | readonly number[] | DeviceBuffer<'float32'> | null;
  /** A class id whose targets contribute neither loss nor gradient (PyTorch's `ignore_index`). Default −100. */
  ignoreIndex?: number;
  /** ε in [0, 1]: the target becomes (1 − ε)·target + ε/C (PyTorch's `label_smoothing`, class weights included). Default 0. */
  labelSmoothing?: number;
  /** z-loss scale s ≥ 0 (input [N, C]): each counted row adds s·lse² (Liger-Kernel's rule; default 0). */
  lseSquareScale?: number;
  /** Soft-cap (input [N, C]): logits become cap·tanh(logits / cap) before the loss (> 0; default none). */
  softcap?: number | null;
  /** Also return `zLoss` (input [N, C]). */
  returnZLoss?: boolean;
  /** Also return `lse`, each row's log-sum-exp `[N]` (input [N, C]). */
  returnLse?: boolean;
  /** Also return `accuracy`, the share of counted rows whose argmax is the target (class ids, input [N, C]). */
  returnAccuracy?: boolean;
  /** Preallocated outputs. */
  out?: LossOutputs;
}

/** What every loss returns. */
export interface LossResult<R extends Reduction = Reduction> {
  /** The reduced loss, or per-element losses [N, d1…dk] for reduction 'none'. */
  loss: R extends 'none' ? Float32Array : number;
  /** d(loss)/d(input), same shape as input. */
  grad: Float32Array;
}

/** What `crossEntropy` returns: the loss and gradient, and the extras asked for. */
export interface CrossEntropyResult<R extends Reduction = Reduction> extends LossResult<R> {
  /** The z-loss part of `loss`, with returnZLoss. */
  zLoss?: number;
  /** Each row's log-sum-exp of the (capped) logits `[N]`, with returnLse. */
  lse?: Float32Array;
  /** The share of counted rows whose argmax is the target, with returnAccuracy. */
  accuracy?: number;
}

/** What a loss returns when its input is a DeviceBuffer (backend 'cuda'): the gradient stays on the GPU. */
export interface DeviceLossResult<R extends string = Reduction> {
  /** The reduced loss (copied to the host), or the per-element losses as a DeviceBuffer for reduction 'none'. */
  loss: R extends 'none' ? DeviceBuffer<'float32'> : number;
  /** d(loss)/d(input) on the GPU, the input's element count. */
  grad: DeviceBuffer<'float32'>;
}

/** A crossEntropy target on the GPU: class ids (int32) or probabilities (float32). */
export type DeviceTarget = DeviceBuffer<'int32'> | DeviceBuffer<'float32'>;

export interface CrossEntropyPlan {
  problem: CrossEntropyProblem;
  grad: Float32Array;
  lossOut: Float32Array | null;
  backend: Backend;
  /** The large-vocabulary extras, when any is asked for. */
  extras: CrossEntropyExtras | null;
}

interface CrossEntropyExtras {
  lseSquareScale: number;
  softcap: number;
  lse: Float32Array | null;
  returnZLoss: boolean;
  returnAccuracy: boolean;
  /** The native call writes [zLoss, accuracy] here. */
  stats: Float64Array;
}

const REDUCTION_CODE: Record<Reduction, NativeReduction> = { none: 0, mean: 1, sum: 2 };

// crossEntropy and nllLoss share shapes, targets and options (nllLoss: class ids only, no smoothing).
export function plan(
  input: FloatInput,
  target: TargetInput,
  options: CrossEntropyOptions = {},
  spec: LossSpec = crossEntropySpec,
): CrossEntropyPlan {
  const name = spec.name;
  const classIdsOnly = name === 'nllLoss';
  if (typeof options !== 'object' || options === null) throw typeError('an options object', `${name} options`, options);
  checkOptionNames(options, spec);
  const opts = options as Record<string, unknown>;
  const x = floatInput(input, options.shape, 'input');
  const dims = x.dims;
  // [C] is one sample; otherwise [N, C, d1…dk].
  const oneSample = dims.length === 1;
  const n = oneSample ? 1 : dims[0];
  const c = oneSample ? dims[0] : dims[1];
  const s = oneSample ? 1 : elementCount(dims.slice(2));
  if (c < 1) throw rangeError('at least one class (C >= 1)', 'input shape', `[${dims.join(', ')}]`);
  const positionDims = oneSample ? [] : [dims[0], ...dims.slice(2)];

  // target: class ids [N, d1…dk] or probabilities with the input's shape
  let t: unknown = target;
  let tDims: readonly number[] | undefined;
  if (isTensorLike(target)) {
    t = target.data;
    tDims = target.dims;
  }
  if (t instanceof BigInt64Array) t = toInt32(t, 'target');
  // A DeviceBuffer target stands for the typed array of its dtype (length and identity are all the checks use).
  if (t instanceof DeviceBuffer) t = t.dtype === 'int32' ? (t as unknown as Int32Array) : (t as unknown as Float32Array);
  const isIds = t instanceof Int32Array || (t instanceof DeviceBuffer && t.dtype === 'int32');
  const isProbs = t instanceof Float32Array || (t instanceof DeviceBuffer && t.dtype === 'float32');
  let targetArr: Int32Array | Float32Array;
  if (isIds) {
    targetArr = t as Int32Array;
    checkNotDetached(targetArr, 'target');
    if (targetArr.length !== n * s) throw rangeError(`${n * s} class ids (shape [${positionDims.join(', ')}])`, 'target', t);
    if (tDims && (tDims.length !== positionDims.length || tDims.some((d, i) => d !== positionDims[i])))
      throw rangeError(`target.dims [${positionDims.join(', ')}]`, 'target.dims', `[${tDims.join(', ')}]`);
  } else if (isProbs && !classIdsOnly) {
    targetArr = t as Float32Array;
    checkNotDetached(targetArr, 'target');
    if (targetArr.length !== x.data.length)
      throw rangeError(`${x.data.length} probabilities (the input's shape [${dims.join(', ')}])`, 'target', t);
    if (tDims && (tDims.length !== dims.length || tDims.some((d, i) => d !== dims[i])))
      throw rangeError(`target.dims [${dims.join(', ')}]`, 'target.dims', `[${tDims.join(', ')}]`);
  } else if (classIdsOnly) {
    throw typeError('an Int32Array of class ids', 'target', t);
  } else {
    throw typeError('an Int32Array of class ids or a Float32Array of probabilities', 'target', t);
  }

  const weight = floatArrayOption(options.weight, `${name}.weight`, c, 'C, one per class');
  const sampleWeight = floatArrayOption(options.sampleWeight, `${name}.sampleWeight`, n, 'N, one per sample');

  const ignoreIndex = scalarOption<number>(opts, spec, 'ignoreIndex');
  const labelSmoothing = classIdsOnly ? 0 : scalarOption<number>(opts, spec, 'labelSmoothing');
  const reduction = scalarOption<Reduction>(opts, spec, 'reduction');
  const gradScale = scalarOption<number>(opts, spec, 'gradScale');
  const inplace = scalarOption<boolean>(opts, spec, 'inplace');
  const backend = backendFor(
    name,
    scalarOption<Backend>(opts, spec, 'backend'),
    opts.backend !== undefined,
    [x.data, targetArr, weight, sampleWeight, options.gradOutput, options.out?.grad, options.out?.loss],
    spec,
  );
  if (scalarOption<string>(opts, spec, 'nanPolicy') === 'raise') {
    checkFiniteHost(name, [
      ['input', x.data],
      ['target', targetArr],
    ]);
    checkFinite(
      [
        ['input', x.data],
        ['target', targetArr instanceof Float32Array ? targetArr : null],
      ],
      backend === 'reference' ? null : (a) => native().firstNonFinite(a),
    );
  }

  let extras: CrossEntropyExtras | null = null;
  if (!classIdsOnly) {
    const lseSquareScale = scalarOption<number>(opts, spec, 'lseSquareScale');
    const softcap = options.softcap == null ? 0 : scalarOption<number>(opts, spec, 'softcap');
    const returnZLoss = scalarOption<boolean>(opts, spec, 'returnZLoss');
    const returnLse = scalarOption<boolean>(opts, spec, 'returnLse');
    const returnAccuracy = scalarOption<boolean>(opts, spec, 'returnAccuracy');
    if (lseSquareScale !== 0 || softcap !== 0 || returnZLoss || returnLse || returnAccuracy) {
      if (s !== 1)
        throw new RangeError(
          `${name}: lseSquareScale, softcap and the return* extras need input [N, C] (no spatial dims), got shape [${dims.join(', ')}]`,
        );
      if (inplace && (lseSquareScale !== 0 || softcap !== 0))
        throw new TypeError(`${name}: lseSquareScale and softcap need the input intact, so they cannot be combined with inplace`);
      if (backend === 'cuda')
        throw new TypeError(`${name}: lseSquareScale, softcap and the return* extras have no CUDA build yet; use backend 'native'`);
      if (returnAccuracy && !(targetArr instanceof Int32Array))
        throw new TypeError(`${name}.returnAccuracy needs class-id targets (an Int32Array), not probabilities`);
      extras = {
        lseSquareScale,
        softcap,
        lse: returnLse ? new Float32Array(n) : null,
        returnZLoss,
        returnAccuracy,
        stats: new Float64Array(2),
      };
    }
  }

  const gradOutput = gradOutputOption(options.gradOutput, name, reduction, n * s, () => `shape [${positionDims.join(', ')}]`);
  const { grad, lossOut } = resolveOutputs({
    name,
    input: x.data,
    out: options.out,
    inplace,
    reduction,
    lossLength: n * s,
    inputs: [
      ['target', targetArr],
      ['weight', weight],
      ['gradOutput', gradOutput],
      ['sampleWeight', sampleWeight],
    ],
  });

  return {
    problem: {
      input: x.data,
      target: targetArr,
      n,
      c,
      s,
      weight,
      sampleWeight,
      ignoreIndex,
      labelSmoothing,
      reduction,
      gradScale,
      gradOutput,
    },
    grad,
    lossOut,
    backend,
    extras,
  };
}

export function nativeArgs(p: CrossEntropyPlan) {
  const q = p.problem,
    e = p.extras;
  const base = [
    q.input,
    q.target,
    q.n,
    q.c,
    q.s,
    q.weight,
    q.ignoreIndex,
    q.labelSmoothing,
    REDUCTION_CODE[q.reduction],
    q.gradScale,
    q.gradOutput,
    p.grad,
    p.lossOut,
    q.sampleWeight,
  ] as const;
  // The extras ride as optional trailing arguments (native/src/napi/parse.h), so plain calls stay as they were.
  return e ? ([...base, e.lseSquareScale, e.softcap, e.lse, e.returnAccuracy, e.stats] as unknown as typeof base) : base;
}

/** The reference of a planned call: crossEntropyReference, or with extras the softmax-rows oracle. */
export function planReference(p: CrossEntropyPlan, lossOut: Float32Array | null): number {
  const e = p.extras;
  if (!e) return crossEntropyReference(p.problem, p.grad, lossOut);
  const q = p.problem,
    C = q.c,
    input = q.input,
    grad = p.grad;
  grad.fill(0); // ignored rows have no gradient
  const v = softmaxRowsReference(
    { ...q, classWeight: q.weight, lseSquareScale: e.lseSquareScale, softcap: e.softcap },
    (i, k) => input[i * C + k],
    (i, dz) => grad.set(dz, i * C),
    { loss: lossOut, lse: e.lse },
  );
  e.stats[0] = v.zLoss;
  e.stats[1] = e.returnAccuracy ? v.accuracy : NaN;
  return v.loss;
}

export function result<R extends Reduction>(p: CrossEntropyPlan, loss: number): CrossEntropyResult<R> {
  const r: CrossEntropyResult<R> = { loss: (p.problem.reduction === 'none' ? p.lossOut! : loss) as LossResult<R>['loss'], grad: p.grad };
  const e = p.extras;
  if (e) {
    if (e.returnZLoss) r.zLoss = e.stats[0];
    if (e.lse) r.lse = e.lse;
    if (e.returnAccuracy) r.accuracy = e.stats[1];
  }
  return r;
}

/**
 * Softmax cross-entropy and its gradient with respect to `input`, in one pass (PyTorch's
 * `F.cross_entropy`). `input` is [N, C] or [N, C, d1…dk] (class dim second); `target` holds class ids
 * (Int32Array, [N, d1…dk]) or class probabilities (Float32Array, the input's shape).
 */
export function crossEntropy<R extends Reduction = 'mean'>(
  input: DeviceBuffer<'float32'>,
  target: DeviceTarget | Int32Array | Float32Array,
  options: CrossEntropyOptions<R>,
): DeviceLossResult<R>;
/** Host arrays (or tensors) in, host arrays out; any backend. */
export function crossEntropy<R extends Reduction = 'mean'>(
  input: FloatInput,
  target: TargetInput | DeviceTarget,
  options?: CrossEntropyOptions<R>,
): CrossEntropyResult<R>;
export function crossEntropy<R extends Reduction = 'mean'>(
  input: FloatInput | DeviceBuffer<'float32'>,
  target: TargetInput | DeviceTarget,
  options?: CrossEntropyOptions<R>,
): CrossEntropyResult<R> | DeviceLossResult<R> {
  const p = plan(input as FloatInput, target as TargetInput, options);
  if (p.backend === 'reference') return result(p, planReference(p, p.lossOut));
  if (p.backend === 'cuda') return result(p, cudaNative().crossEntropy(...toNativeArgs(nativeArgs(p))));
  return result(p, native().crossEntropy(...nativeArgs(p)));
}

/**
 * The same as `crossEntropy`, computed on a worker thread; the event loop stays free. The arrays are
 * used in place: do not modify input, target, weight or outputs until the promise settles.
 * Argument errors reject the promise (nothing is written).
 */
export async function crossEntropyAsync<R extends Reduction = 'mean'>(
  input: DeviceBuffer<'float32'>,
  target: DeviceTarget | Int32Array | Float32Array,
  options: CrossEntropyOptions<R>,
): Promise<DeviceLossResult<R>>;
/** Host arrays (or tensors) in, host arrays out; any backend. */
export async function crossEntropyAsync<R extends Reduction = 'mean'>(
  input: FloatInput,
  target: TargetInput | DeviceTarget,
  options?: CrossEntropyOptions<R>,
): Promise<CrossEntropyResult<R>>;
export async function crossEntropyAsync<R extends Reduction = 'mean'>(
  input: FloatInput | DeviceBuffer<'float32'>,
  target: TargetInput | DeviceTarget,
  options?: CrossEntropyOptions<R>,
): Promise<CrossEntropyResult<R> | DeviceLossResult<R>> {
  const p = plan(input as FloatInput, target as TargetInput, options);
  if (p.backend === 'reference') return result(p, planReference(p, p.lossOut));
  if (p.backend === 'cuda') {
    const args = nativeArgs(p);
    return result(p, await holding(args, () => cudaNative().crossEntropyAsync(...toNativeArgs(args))));
  }
  return result(p, await native().crossEntropyAsync(...nativeArgs(p)));
}
