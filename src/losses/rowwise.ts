// Row-coupled losses: multiMarginLoss, multilabelSoftMarginLoss, cosineEmbeddingLoss (two inputs, two
// gradients), softF1Loss. Validation and outputs here, then the native kernel or the reference.
import { cudaNative, native, type RowLossArgs } from '../backends/binding';
import type { DeviceLossResult, LossResult } from './crossEntropy';
import {
  type Backend,
  cosineEmbeddingLossSpec,
  type LossSpec,
  multilabelSoftMarginLossSpec,
  multiMarginLossSpec,
  type Reduction,
  softF1LossSpec,
  cosineDistanceSpec,
} from './ops';
import type { LossOptionsBase, LossOutputs } from './options';
import { floatArrayOption, gradOutputOption, resolveOutputs } from './outputs';
import { rowLossReference, type RowProblem } from '../backends/reference/rowwise';
import { floatInput, isTensorLike, type FloatInput, type TensorLike, toInt32 } from '../core/tensor';
import {
  backendFor,
  checkFinite,
  checkFiniteHost,
  checkNotDetached,
  checkOptionNames,
  hasOption,
  rangeError,
  scalarOption,
  typeError,
} from '../core/validate';
import { DeviceBuffer, holding, toNativeArgs } from '../backends/device';

/**
 * Options of the row-coupled losses: input `[N, C]` (or `[C]` for one sample); 'none' gives one loss per
 * sample (softF1Loss: per label). Every backend, 'cuda' included (host arrays or DeviceBuffers).
 */
export interface RowLossOptions<R extends Reduction = Reduction> extends LossOptionsBase<R> {
  /** Preallocated outputs. */
  out?: LossOutputs;
}
/** `multiMarginLoss` options (PyTorch's F.multi_margin_loss). */
export interface MultiMarginLossOptions<R extends Reduction = Reduction> extends RowLossOptions<R> {
  /** The exponent of each hinge term, 1 or 2 (PyTorch's `p`). Default 1. */
  p?: 1 | 2;
  /** The margin in max(0, margin − x_y + x_c) (PyTorch's `margin`). Default 1. */
  margin?: number;
  /** Class weights, length C, applied by the target class (PyTorch's `weight`). Default none. */
  weight?: Float32Array | readonly number[] | null;
}
/** `multilabelSoftMarginLoss` options (PyTorch's F.multilabel_soft_margin_loss; targets 0/1 `[N, C]`). */
export interface MultilabelSoftMarginLossOptions<R extends Reduction = Reduction> extends RowLossOptions<R> {
  /** Class weights, length C (PyTorch's `weight`). Default none. */
  weight?: Float32Array | readonly number[] | null;
}
/** `cosineEmbeddingLoss` options (PyTorch's F.cosine_embedding_loss; two inputs `[N, D]`, targets ±1 `[N]`). */
export interface CosineEmbeddingLossOptions<R extends Reduction = Reduction> extends Omit<RowLossOptions<R>, 'out'> {
  /** ℓ = 1 − cos where t = 1, max(0, cos − margin) where t = −1 (PyTorch's `margin`). Default 0. */
  margin?: number;
  /** Preallocated outputs: the gradients w.r.t. both inputs and the per-sample losses ('none'). */
  out?: LossOutputs & {
    /** d(loss)/d(input2), `[N, D]`. Default: a new array. */
    grad2?: Float32Array;
  };
}
/** `cosineDistance` options (tf.losses.cosineDistance along the last dim; no options of its own). */
export type CosineDistanceOptions<R extends Reduction = Reduction> = RowLossOptions<R>;
/** `softF1Loss` options (a differentiable macro F1 over labels; targets in [0, 1] `[N, C]`; 'none' gives `[C]`). */
export interface SoftF1LossOptions<R extends Reduction = Reduction> extends RowLossOptions<R> {
  /** Added to each label's denominator Σ(p + t), ≥ 0. Default 1e-8. */
  eps?: number;
}

/** A row loss's target: class ids (multiMarginLoss: Int32Array or int64) or Float32Array labels, or a tensor of them. */
export type RowTarget = Float32Array | Int32Array | BigInt64Array | TensorLike<Float32Array | Int32Array | BigInt64Array> | DeviceBuffer;
type Target = RowTarget;
/** A row loss's input: host data, or (backend 'cuda') a float32 DeviceBuffer with `shape`. */
export type RowInput = FloatInput | DeviceBuffer<'float32'>;
/** A row loss's result: host arrays, or DeviceBuffers when the input is one. */
export type RowResult<I, R extends Reduction> = I extends DeviceBuffer ? DeviceLossResult<R> : LossResult<R>;

export interface RowPlan {
  problem: RowProblem;
  grad: Float32Array;
  grad2: Float32Array | null;
  lossOut: Float32Array | null;
  backend: Backend;
}

const REDUCTION_CODE = { none: 0, mean: 1, sum: 2 } as const;

export function planRows(spec: LossSpec, input: FloatInput, target: Target, options: object = {}, input2?: FloatInput): RowPlan {
  const name = spec.name as RowProblem['name'];
  if (typeof options !== 'object' || options === null) throw typeError('an options object', `${name} options`, options);
  checkOptionNames(options, spec);
  const o = options as Record<string, unknown>;
  const x = floatInput(input, o.shape, input2 ? 'input1' : 'input');
  if (x.dims.length > 2) throw rangeError('[N, C] or [C]', input2 ? 'input1 shape' : 'input shape', `[${x.dims.join(', ')}]`);
  const [n, c] = x.dims.length === 1 ? [1, x.dims[0]] : x.dims;
  if (c < 1) throw rangeError('at least one column (C >= 1)', 'input shape', `[${x.dims.join(', ')}]`);
  let x2: Float32Array | null = null;
  if (input2 !== undefined) {
    x2 = floatInput(input2, o.shape, 'input2').data;
    if (x2.length !== x.data.length) throw rangeError(`${x.data.length} elements (input1's shape)`, 'input2', x2);
  }

  let t: unknown = isTensorLike(target) ? target.data : target;
  let targetIndex: Int32Array | null = null,
    targetF: Float32Array | null = null;
  if (name === 'multiMarginLoss') {
    if (t instanceof BigInt64Array) t = toInt32(t, 'target');
    if (!(t instanceof Int32Array) && !(t instanceof DeviceBuffer && t.dtype === 'int32'))
      throw typeError('an Int32Array of class ids', 'target', t);
    const ids = t as Int32Array;
    checkNotDetached(ids, 'target');
    if (ids.length !== n) throw rangeError(`${n} class ids (N)`, 'target', t);
    targetIndex = ids;
  } else {
    if (!(t instanceof Float32Array) && !(t instanceof DeviceBuffer && t.dtype === 'float32'))
      throw typeError('a Float32Array', 'target', t);
    const tf = t as Float32Array;
    checkNotDetached(tf, 'target');
    const want = name === 'cosineEmbeddingLoss' ? n : n * c;
    if (tf.length !== want)
      throw rangeError(`${want} elements (${name === 'cosineEmbeddingLoss' ? 'N' : "the input's shape"})`, 'target', t);
    targetF = tf;
  }
  const has = (k: string) => hasOption(spec, k);
  const weight = floatArrayOption(o.weight, `${name}.weight`, c, 'C');
  const sampleWeight = floatArrayOption(o.sampleWeight, `${name}.sampleWeight`, n, 'N');
  const reduction = scalarOption<Reduction>(o, spec, 'reduction');
  const gradScale = scalarOption<number>(o, spec, 'gradScale');
  const inplace = scalarOption<boolean>(o, spec, 'inplace');
  const out = o.out as Record<string, unknown> | undefined;
  const backend = backendFor(
    name,
    scalarOption<Backend>(o, spec, 'backend'),
    o.backend !== undefined,
    [x.data, x2, targetIndex, targetF, weight, sampleWeight, o.gradOutput, out?.grad, out?.grad2, out?.loss],
    spec,
  );
  if (scalarOption<string>(o, spec, 'nanPolicy') === 'raise') {
    checkFiniteHost(name, [
      ['input', x.data],
      ['input2', x2],
      ['target', targetF],
    ]);
    checkFinite(
      [
        [input2 ? 'input1' : 'input', x.data],
        ['input2', x2],
        ['target', targetF],
      ],
      backend === 'reference' ? null : (a) => native().firstNonFinite(a),
    );
  }
  const p = has('p') ? scalarOption<number>(o, spec, 'p') : 1;
  const margin = has('margin') ? scalarOption<number>(o, spec, 'margin') : 0;
  const eps = has('eps') ? scalarOption<number>(o, spec, 'eps') : 0;
  const perLabel = name === 'softF1Loss';
  const gradOutput = gradOutputOption(o.gradOutput, name, reduction, perLabel ? c : n, perLabel ? 'C, one per label' : 'N, one per sample');
  const outs = resolveOutputs({
    name,
    input: x.data,
    out: o.out,
    inplace,
    reduction,
    lossLength: perLabel ? c : n,
    inputs: [
      ['target', targetIndex ?? targetF],
      ['weight', weight],
      ['sampleWeight', sampleWeight],
      ['gradOutput', gradOutput],
    ],
    extraGrads: x2 ? [['grad2', x2]] : [],
  });
  return {
    grad: outs.grad,
    grad2: outs.extra.grad2 ?? null,
    lossOut: outs.lossOut,
    backend,
    problem: {
      name,
      input: x.data,
      input2: x2,
      targetIndex,
      target: targetF,
      weight,
      sampleWeight,
      gradOutput,
      n,
      c,
      reduction,
      gradScale,
      p,
      margin,
      eps,
    },
  };
}

export function rowNativeArgs(p: RowPlan): RowLossArgs {
  const q = p.problem;
  return [
    q.input,
    q.input2,
    q.targetIndex,
    q.target,
    q.weight,
    q.sampleWeight,
    q.gradOutput,
    p.grad,
    p.grad2,
    p.lossOut,
    q.n,
    q.c,
    REDUCTION_CODE[q.reduction],
    q.gradScale,
    q.p,
    q.margin,
    q.eps,
  ];
}

function result<R extends Reduction>(p: RowPlan, loss: number): LossResult<R> & { grad2?: Float32Array } {
  const r = { loss: p.problem.reduction === 'none' ? p.lossOut! : loss, grad: p.grad } as LossResult<R> & { grad2?: Float32Array };
  if (p.grad2) r.grad2 = p.grad2;
  return r;
}

type Kernel = 'multiMarginLoss' | 'multilabelSoftMarginLoss' | 'cosineEmbeddingLoss' | 'softF1Loss' | 'cosineDistance';

function run<R extends Reduction>(kernel: Kernel, p: RowPlan) {
  if (p.backend === 'reference') return result<R>(p, rowLossReference(p.problem, p.grad, p.grad2, p.lossOut));
  if (p.backend === 'cuda') return result<R>(p, cudaNative()[kernel](...toNativeArgs(rowNativeArgs(p))));
  return result<R>(p, native()[kernel](...rowNativeArgs(p)));
}

async function runAsync<R extends Reduction>(kernel: Kernel, p: RowPlan) {
  if (p.backend === 'reference') return result<R>(p, rowLossReference(p.problem, p.grad, p.grad2, p.lossOut));
  const args = rowNativeArgs(p);
  if (p.backend === 'cuda') return result<R>(p, await holding(args, () => cudaNative()[`${kernel}Async`](...toNativeArgs(args))));
  return result<R>(p, await native()[`${kernel}Async`](...args));
}

/** PyTorch's F.multi_margin_loss: Σ_{c≠y} w_y·max(0, margin − x_y + x_c)^p / C per sample. */
export function multiMarginLoss<R extends Reduction = 'mean', I extends RowInput = FloatInput>(
  input: I,
  target: Target,
  options?: MultiMarginLossOptions<R>,
): RowResult<I, R> {
  return run<R>('multiMarginLoss', planRows(multiMarginLossSpec, input as FloatInput, target as Target, options)) as RowResult<I, R>;
}
/** `multiMarginLoss` off the event loop (the kernel runs on the thread pool); resolves to the same result, bit for bit. */
export function multiMarginLossAsync<R extends Reduction = 'mean', I extends RowInput = FloatInput>(
  input: I,
  target: Target,
  options?: MultiMarginLossOptions<R>,
): Promise<RowResult<I, R>> {
  return Promise.resolve().then(() =>
    runAsync<R>('multiMarginLoss', planRows(multiMarginLossSpec, input as FloatInput, target as Target, options)),
  ) as Promise<RowResult<I, R>>;
}

/** PyTorch's F.multilabel_soft_margin_loss: per sample, the mean over classes of BCE-with-logits. */
export function multilabelSoftMarginLoss<R extends Reduction = 'mean', I extends RowInput = FloatInput>(
  input: I,
  target: Target,
  options?: MultilabelSoftMarginLossOptions<R>,
): RowResult<I, R> {
  return run<R>(
    'multilabelSoftMarginLoss',
    planRows(multilabelSoftMarginLossSpec, input as FloatInput, target as Target, options),
  ) as RowResult<I, R>;
}
/** `multilabelSoftMarginLoss` off the event loop (the kernel runs on the thread pool); resolves to the same result, bit for bit. */
export function multilabelSoftMarginLossAsync<R extends Reduction = 'mean', I extends RowInput = FloatInput>(
  input: I,
  target: Target,
  options?: MultilabelSoftMarginLossOptions<R>,
): Promise<RowResult<I, R>> {
  return Promise.resolve().then(() =>
    runAsync<R>('multilabelSoftMarginLoss', planRows(multilabelSoftMarginLossSpec, input as FloatInput, target as Target, options)),
  ) as Promise<RowResult<I, R>>;
}

/** cosineEmbeddingLoss's result: the loss, and the gradients w.r.t. both inputs. */
export interface CosineEmbeddingResult<R extends Reduction = Reduction> extends LossResult<R> {
  /** d(loss)/d(input2), `[N, D]`. */
  grad2: Float32Array;
}
/** cosineEmbeddingLoss's result on DeviceBuffers (backend 'cuda'): both gradients stay on the GPU. */
export interface DeviceCosineEmbeddingResult<R extends Reduction = Reduction> extends DeviceLossResult<R> {
  /** d(loss)/d(input2), `[N, D]`. */
  grad2: DeviceBuffer<'float32'>;
}

/** PyTorch's F.cosine_embedding_loss of two `[N, D]` inputs; `grad` and `grad2` are the gradients w.r.t. each. */
export function cosineEmbeddingLoss<R extends Reduction = 'mean', I extends RowInput = FloatInput>(
  input1: I,
  input2: RowInput,
  target: Float32Array | TensorLike<Float32Array> | DeviceBuffer,
  options?: CosineEmbeddingLossOptions<R>,
): I extends DeviceBuffer ? DeviceCosineEmbeddingResult<R> : CosineEmbeddingResult<R> {
  return run<R>(
    'cosineEmbeddingLoss',
    planRows(cosineEmbeddingLossSpec, input1 as FloatInput, target as Target, options, input2 as FloatInput),
  ) as never;
}
/** `cosineEmbeddingLoss` off the event loop (the kernel runs on the thread pool); resolves to the same result, bit for bit. */
export function cosineEmbeddingLossAsync<R extends Reduction = 'mean', I extends RowInput = FloatInput>(
  input1: I,
  input2: RowInput,
  target: Float32Array | TensorLike<Float32Array> | DeviceBuffer,
  options?: CosineEmbeddingLossOptions<R>,
): Promise<I extends DeviceBuffer ? DeviceCosineEmbeddingResult<R> : CosineEmbeddingResult<R>> {
  return Promise.resolve().then(() =>
    runAsync<R>(
      'cosineEmbeddingLoss',
      planRows(cosineEmbeddingLossSpec, input1 as FloatInput, target as Target, options, input2 as FloatInput),
    ),
  ) as never;
}

/**
 * Differentiable macro F1 of multi-label classification from logits: per label c, with p = sigmoid(x),
 * F1_c = 2·Σ_i p·t / (Σ_i (p + t) + eps); the loss is 1 − F1_c, averaged over labels ('mean').
 */
export function softF1Loss<R extends Reduction = 'mean', I extends RowInput = FloatInput>(
  input: I,
  target: Float32Array | TensorLike<Float32Array> | DeviceBuffer,
  options?: SoftF1LossOptions<R>,
): RowResult<I, R> {
  return run<R>('softF1Loss', planRows(softF1LossSpec, input as FloatInput, target as Target, options)) as RowResult<I, R>;
}
/** `softF1Loss` off the event loop (the kernel runs on the thread pool); resolves to the same result, bit for bit. */
export function softF1LossAsync<R extends Reduction = 'mean', I extends RowInput = FloatInput>(
  input: I,
  target: Float32Array | TensorLike<Float32Array> | DeviceBuffer,
  options?: SoftF1LossOptions<R>,
): Promise<RowResult<I, R>> {
  return Promise.resolve().then(() =>
    runAsync<R>('softF1Loss', planRows(softF1LossSpec, input as FloatInput, target as Target, options)),
  ) as Promise<RowResult<I, R>>;
}

/** tf.losses.cosineDistance along the last dim: ℓ = 1 − Σ_d t·x per row of `[N, D]` (no normalisation; gradient −t). */
export function cosineDistance<R extends Reduction = 'mean', I extends RowInput = FloatInput>(
  input: I,
  target: Float32Array | TensorLike<Float32Array> | DeviceBuffer,
  options?: CosineDistanceOptions<R>,
): RowResult<I, R> {
  return run<R>('cosineDistance', planRows(cosineDistanceSpec, input as FloatInput, target as Target, options)) as RowResult<I, R>;
}
/** `cosineDistance` off the event loop (the kernel runs on the thread pool); resolves to the same result, bit for bit. */
export function cosineDistanceAsync<R extends Reduction = 'mean', I extends RowInput = FloatInput>(
  input: I,
  target: Float32Array | TensorLike<Float32Array> | DeviceBuffer,
  options?: CosineDistanceOptions<R>,
): Promise<RowResult<I, R>> {
  return Promise.resolve().then(() =>
    runAsync<R>('cosineDistance', planRows(cosineDistanceSpec, input as FloatInput, target as Target, options)),
  ) as Promise<RowResult<I, R>>;
}
