// The elementwise losses (input and target of the same shape): validation and output allocation, then
// the native kernel or the reference. Options and their ranges come from the op table (src/ops.ts).
import { cudaNative, native } from '../backends/binding';
import type { LossOptionsBase, LossOutputs } from './options';
import { type Backend, type ElementwiseSpec, ELEMENTWISE_LOSSES, type KlReduction, type OptionSpec, type Reduction } from './ops';
import type { DeviceLossResult, LossResult } from './crossEntropy';
import { elementwiseReference, type ElementwiseProblem } from '../backends/reference/elementwise';
import { floatInput, isTensorLike, type FloatInput, type TensorLike } from '../core/tensor';
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
 * Options of the elementwise losses (input and target of one shape, any rank ≥ 1; one loss per element).
 * 'none' keeps the input's shape.
 */
export interface ElementwiseOptions<R extends string = Reduction> extends LossOptionsBase<R> {
  /** Preallocated outputs. */
  out?: LossOutputs;
}
/** `mseLoss` options (PyTorch's F.mse_loss: no options of its own). */
export type MseLossOptions<R extends Reduction = Reduction> = ElementwiseOptions<R>;
/** `l1Loss` options (PyTorch's F.l1_loss: no options of its own). */
export type L1LossOptions<R extends Reduction = Reduction> = ElementwiseOptions<R>;
/** `smoothL1Loss` options (PyTorch's F.smooth_l1_loss). */
export interface SmoothL1LossOptions<R extends Reduction = Reduction> extends ElementwiseOptions<R> {
  /** Quadratic below |x − t| < beta, linear above (PyTorch's `beta`, ≥ 0; 0 is L1). Default 1. */
  beta?: number;
}
/** `huberLoss` options (PyTorch's F.huber_loss). */
export interface HuberLossOptions<R extends Reduction = Reduction> extends ElementwiseOptions<R> {
  /** 0.5·(x − t)² below |x − t| < delta, delta·(|x − t| − delta/2) above (PyTorch's `delta`, > 0). Default 1. */
  delta?: number;
}
/** `binaryCrossEntropy` options (PyTorch's F.binary_cross_entropy; input: probabilities in [0, 1]). */
export interface BinaryCrossEntropyOptions<R extends Reduction = Reduction> extends ElementwiseOptions<R> {
  /** Rescales each element's loss: length = the element count, or the last dim (broadcast); PyTorch's `weight`. Default none. */
  weight?: Float32Array | readonly number[] | DeviceBuffer<'float32'> | null;
}
/** `binaryCrossEntropyWithLogits` options (PyTorch's F.binary_cross_entropy_with_logits; input: logits). */
export interface BinaryCrossEntropyWithLogitsOptions<R extends Reduction = Reduction> extends BinaryCrossEntropyOptions<R> {
  /** Weight of the positive term per class, length = the last dim (PyTorch's `pos_weight`). Default none (1). */
  posWeight?: Float32Array | readonly number[] | DeviceBuffer<'float32'> | null;
}
/** `hingeEmbeddingLoss` options (PyTorch's F.hinge_embedding_loss; targets ±1). */
export interface HingeEmbeddingLossOptions<R extends Reduction = Reduction> extends ElementwiseOptions<R> {
  /** ℓ = x where t = 1, max(0, margin − x) where t = −1 (PyTorch's `margin`). Default 1. */
  margin?: number;
}
/** `klDiv` options (PyTorch's F.kl_div; input: log-probabilities; reduction also 'batchmean'). */
export interface KlDivOptions<R extends KlReduction = KlReduction> extends ElementwiseOptions<R> {
  /** The target is given as log-probabilities (PyTorch's `log_target`). Default false. */
  logTarget?: boolean;
}
/** `poissonNllLoss` options (PyTorch's F.poisson_nll_loss; targets: counts). */
export interface PoissonNllLossOptions<R extends Reduction = Reduction> extends ElementwiseOptions<R> {
  /** ℓ = exp(x) − t·x when true (the input is a log-rate), x − t·log(x + eps) when false (a rate); PyTorch's `log_input`. Default true. */
  logInput?: boolean;
  /** Adds Stirling's term t·log t − t + ½·log(2πt) where t > 1 (PyTorch's `full`). Default false. */
  full?: boolean;
  /** Added to x inside the log when logInput is false (PyTorch's `eps`, ≥ 0). Default 1e-8. */
  eps?: number;
}
/** `sigmoidFocalLoss` options (torchvision.ops.sigmoid_focal_loss; input: logits; default reduction 'none'). */
export interface SigmoidFocalLossOptions<R extends Reduction = Reduction> extends ElementwiseOptions<R> {
  /** Weight of positives, α·t + (1 − α)·(1 − t) (≤ 1; negative disables it); torchvision's `alpha`. Default 0.25. */
  alpha?: number;
  /** Focusing exponent on (1 − p_t), ≥ 0 (torchvision's `gamma`). Default 2. */
  gamma?: number;
}
/** `softMarginLoss` options (PyTorch's F.soft_margin_loss: targets ±1; no options of its own). */
export type SoftMarginLossOptions<R extends Reduction = Reduction> = ElementwiseOptions<R>;
/** `hingeLoss` options (tf.losses.hingeLoss: labels 0/1; no options of its own). */
export type HingeLossOptions<R extends Reduction = Reduction> = ElementwiseOptions<R>;
/** `logLoss` options (tf.losses.logLoss; input: probabilities). */
export interface LogLossOptions<R extends Reduction = Reduction> extends ElementwiseOptions<R> {
  /** ε inside both logs: −t·log(x + ε) − (1 − t)·log(1 − x + ε), ≥ 0 (tfjs's `epsilon`). Default 1e-7. */
  epsilon?: number;
}

/** The result of an elementwise loss: `loss` a number, or per-element losses for reduction 'none'. */
export type ElementwiseResult<R extends string> = LossResult<R extends 'none' ? 'none' : 'mean'>;
const REDUCTION_CODE = { none: 0, mean: 1, sum: 2, batchmean: 1 } as const;

export interface ElementwisePlan {
  spec: ElementwiseSpec;
  /** The native scalar and boolean arguments, filled from the options by their op-table slots. */
  slots: { p0: number; p1: number; flag: boolean; flag2: boolean };
  problem: ElementwiseProblem;
  grad: Float32Array;
  lossOut: Float32Array | null;
  backend: Backend;
}

export function planElementwise(
  spec: ElementwiseSpec,
  input: FloatInput,
  target: Float32Array | TensorLike<Float32Array>,
  options: object = {},
): ElementwisePlan {
  const name = spec.name;
  if (typeof options !== 'object' || options === null) throw typeError('an options object', `${name} options`, options);
  checkOptionNames(options, spec);
  const o = options as Record<string, unknown>;
  const x = floatInput(input, o.shape, 'input');
  const dims = x.dims;
  const numel = x.data.length;
  const t: unknown = isTensorLike(target) ? target.data : target;
  if (isTensorLike(target) && (target.dims.length !== dims.length || target.dims.some((d, i) => d !== dims[i])))
    throw rangeError(`target.dims [${dims.join(', ')}] (the input's dims)`, 'target.dims', `[${target.dims.join(', ')}]`);
  if (!(t instanceof Float32Array) && !(t instanceof DeviceBuffer && t.dtype === 'float32'))
    throw typeError("a Float32Array (the input's shape)", 'target', t);
  const tf = t as Float32Array;
  checkNotDetached(tf, 'target');
  if (tf.length !== numel) throw rangeError(`${numel} elements (the input's shape [${dims.join(', ')}])`, 'target', t);
  const samples = dims[0];
  const classes = Math.max(1, dims[dims.length - 1]);

  const weight = floatArrayOption(o.weight, `${name}.weight`);
  if (weight && weight.length !== numel && weight.length !== classes)
    throw rangeError(`${numel} elements (the input's shape) or ${classes} (the last dim)`, `${name}.weight`, weight);
  const posWeight = floatArrayOption(o.posWeight, `${name}.posWeight`);
  if (posWeight && posWeight.length !== classes) throw rangeError(`${classes} elements (the last dim)`, `${name}.posWeight`, posWeight);
  const sampleWeight = floatArrayOption(o.sampleWeight, `${name}.sampleWeight`);
  if (sampleWeight && sampleWeight.length !== samples)
    throw rangeError(`${samples} elements (the first dim)`, `${name}.sampleWeight`, sampleWeight);

  const reduction = scalarOption<KlReduction>(o, spec, 'reduction');
  const gradScale = scalarOption<number>(o, spec, 'gradScale');
  const inplace = scalarOption<boolean>(o, spec, 'inplace');
  const backend = backendFor(
    name,
    scalarOption<Backend>(o, spec, 'backend'),
    o.backend !== undefined,
    [
      x.data,
      t,
      weight,
      posWeight,
      sampleWeight,
      o.gradOutput,
      (o.out as Record<string, unknown> | undefined)?.grad,
      (o.out as Record<string, unknown> | undefined)?.loss,
    ],
    spec,
  );
  if (scalarOption<string>(o, spec, 'nanPolicy') === 'raise') {
    checkFiniteHost(name, [
      ['input', x.data],
      ['target', t],
    ]);
    checkFinite(
      [
        ['input', x.data],
        ['target', t as Float32Array],
      ],
      backend === 'reference' ? null : (a) => native().firstNonFinite(a),
    );
  }
  // The loss's own scalar options, each into the native slot its op-table row names (and by name for the reference).
  const params: Record<string, number> = {};
  const slots = { p0: 0, p1: 0, flag: false, flag2: false };
  for (const opt of nativeOptions(spec)) {
    const v = scalarOption<number | boolean>(o, spec, opt.name);
    params[opt.name] = Number(v);
    if (opt.native === 'flag' || opt.native === 'flag2') slots[opt.native] = Boolean(v);
    else slots[opt.native!] = Number(v);
  }

  const gradOutput = gradOutputOption(o.gradOutput, name, reduction, numel, "the input's shape");
  const { grad, lossOut } = resolveOutputs({
    name,
    input: x.data,
    out: o.out,
    inplace,
    reduction,
    lossLength: numel,
    inputs: [
      ['target', tf],
      ['weight', weight],
      ['posWeight', posWeight],
      ['sampleWeight', sampleWeight],
      ['gradOutput', gradOutput],
    ],
  });
  return {
    spec,
    grad,
    lossOut,
    backend,
    slots,
    problem: {
      name,
      input: x.data,
      target: tf,
      numel,
      samples,
      classes,
      weight,
      posWeight,
      sampleWeight,
      gradOutput,
      reduction,
      gradScale,
      params,
    },
  };
}

// The options of a loss that fill native slots, read from its op-table row once.
const nativeOptionCache = new WeakMap<ElementwiseSpec, readonly OptionSpec[]>();
function nativeOptions(spec: ElementwiseSpec): readonly OptionSpec[] {
  let list = nativeOptionCache.get(spec);
  if (!list) nativeOptionCache.set(spec, (list = spec.options.filter((opt) => opt.native)));
  return list;
}

export function elementwiseNativeArgs(p: ElementwisePlan) {
  const q = p.problem,
    k = p.slots;
  return [
    p.spec.kind,
    q.input,
    q.target,
    q.numel,
    q.samples,
    q.classes,
    q.weight,
    q.posWeight,
    q.sampleWeight,
    q.gradOutput,
    p.grad,
    p.lossOut,
    REDUCTION_CODE[q.reduction],
    q.reduction === 'batchmean',
    q.gradScale,
    k.p0,
    k.p1,
    k.flag,
    k.flag2,
  ] as const;
}

function result<R extends string>(p: ElementwisePlan, loss: number): ElementwiseResult<R> {
  return { loss: p.problem.reduction === 'none' ? p.lossOut! : loss, grad: p.grad } as ElementwiseResult<R>;
}

function runSync<R extends string>(
  spec: ElementwiseSpec,
  input: FloatInput,
  target: Float32Array | TensorLike<Float32Array>,
  options?: object,
): ElementwiseResult<R> {
  const p = planElementwise(spec, input, target, options);
  if (p.backend === 'reference') return result(p, elementwiseReference(p.problem, p.grad, p.lossOut));
  if (p.backend === 'cuda') return result(p, cudaNative().elementwiseLoss(...toNativeArgs(elementwiseNativeArgs(p))));
  return result(p, native().elementwiseLoss(...elementwiseNativeArgs(p)));
}

async function runAsync<R extends string>(
  spec: ElementwiseSpec,
  input: FloatInput,
  target: Float32Array | TensorLike<Float32Array>,
  options?: object,
): Promise<ElementwiseResult<R>> {
  const p = planElementwise(spec, input, target, options);
  if (p.backend === 'reference') return result(p, elementwiseReference(p.problem, p.grad, p.lossOut));
  if (p.backend === 'cuda') {
    const args = elementwiseNativeArgs(p);
    return result(p, await holding(args, () => cudaNative().elementwiseLossAsync(...toNativeArgs(args))));
  }
  return result(p, await native().elementwiseLossAsync(...elementwiseNativeArgs(p)));
}

const specOf = (name: ElementwiseSpec['name']) => ELEMENTWISE_LOSSES.find((s) => s.name === name)!;
/** An elementwise loss's target: a Float32Array (or float32 tensor) of the input's shape. */
export type ElementwiseTarget = Float32Array | TensorLike<Float32Array>;
type Target = ElementwiseTarget;

/** An elementwise loss: host arrays in and out, or DeviceBuffers in and out (backend 'cuda'). */
export interface ElementwiseLossFn<O> {
  /** On the GPU: input (and target) are DeviceBuffers; the gradient and 'none' losses stay on the GPU. */
  <R extends string = 'mean'>(
    input: DeviceBuffer<'float32'>,
    target: DeviceBuffer<'float32'> | Float32Array,
    options: O & { reduction?: R },
  ): DeviceLossResult<R>;
  /** Host arrays (or tensors) in, host arrays out; any backend. */
  <R extends string = 'mean'>(
    input: FloatInput,
    target: Target | DeviceBuffer<'float32'>,
    options?: O & { reduction?: R },
  ): ElementwiseResult<R>;
}
/** The async form of an elementwise loss. */
export interface ElementwiseLossAsyncFn<O> {
  /** On the GPU: input (and target) are DeviceBuffers; the gradient and 'none' losses stay on the GPU. */
  <R extends string = 'mean'>(
    input: DeviceBuffer<'float32'>,
    target: DeviceBuffer<'float32'> | Float32Array,
    options: O & { reduction?: R },
  ): Promise<DeviceLossResult<R>>;
  /** Host arrays (or tensors) in, host arrays out; any backend. */
  <R extends string = 'mean'>(
    input: FloatInput,
    target: Target | DeviceBuffer<'float32'>,
    options?: O & { reduction?: R },
  ): Promise<ElementwiseResult<R>>;
}

function pair<O extends ElementwiseOptions<string>>(
  name: ElementwiseSpec['name'],
): readonly [ElementwiseLossFn<O>, ElementwiseLossAsyncFn<O>] {
  const spec = specOf(name);
  const sync = (input: unknown, target: unknown, options?: object) => runSync(spec, input as FloatInput, target as Target, options);
  const async_ = (input: unknown, target: unknown, options?: object) => runAsync(spec, input as FloatInput, target as Target, options);
  return [sync as ElementwiseLossFn<O>, async_ as ElementwiseLossAsyncFn<O>] as const;
}

const mse = pair<MseLossOptions>('mseLoss');
/** (x − t)² per element: PyTorch's `F.mse_loss`. Loss and d(loss)/d(input) in one pass. */
export const mseLoss = mse[0];
/** `mseLoss` off the event loop (the kernel runs on the thread pool); resolves to the same result, bit for bit. */
export const mseLossAsync = mse[1];
const l1 = pair<L1LossOptions>('l1Loss');
/** |x − t| per element: PyTorch's `F.l1_loss` (gradient sign(x − t), 0 at 0). */
export const l1Loss = l1[0];
/** `l1Loss` off the event loop (the kernel runs on the thread pool); resolves to the same result, bit for bit. */
export const l1LossAsync = l1[1];
const smoothL1 = pair<SmoothL1LossOptions>('smoothL1Loss');
/** PyTorch's `F.smooth_l1_loss`: 0.5·d²/beta below |d| < beta, |d| − beta/2 above (d = x − t; option `beta`). */
export const smoothL1Loss = smoothL1[0];
/** `smoothL1Loss` off the event loop (the kernel runs on the thread pool); resolves to the same result, bit for bit. */
export const smoothL1LossAsync = smoothL1[1];
const huber = pair<HuberLossOptions>('huberLoss');
/** PyTorch's `F.huber_loss`: 0.5·d² below |d| < delta, delta·(|d| − delta/2) above (option `delta`). */
export const huberLoss = huber[0];
/** `huberLoss` off the event loop (the kernel runs on the thread pool); resolves to the same result, bit for bit. */
export const huberLossAsync = huber[1];
const bce = pair<BinaryCrossEntropyOptions>('binaryCrossEntropy');
/** PyTorch's `F.binary_cross_entropy` on probabilities in [0, 1] (logs clamped at −100; option `weight`); input outside [0, 1] is a RangeError. */
export const binaryCrossEntropy = bce[0];
/** `binaryCrossEntropy` off the event loop (the kernel runs on the thread pool); resolves to the same result, bit for bit. */
export const binaryCrossEntropyAsync = bce[1];
const bceLogits = pair<BinaryCrossEntropyWithLogitsOptions>('binaryCrossEntropyWithLogits');
/** PyTorch's `F.binary_cross_entropy_with_logits` on logits, stable for any |x| (options `weight`, `posWeight`). */
export const binaryCrossEntropyWithLogits = bceLogits[0];
/** `binaryCrossEntropyWithLogits` off the event loop (the kernel runs on the thread pool); resolves to the same result, bit for bit. */
export const binaryCrossEntropyWithLogitsAsync = bceLogits[1];
const hingeEmbedding = pair<HingeEmbeddingLossOptions>('hingeEmbeddingLoss');
/** PyTorch's `F.hinge_embedding_loss`: x where t = 1, max(0, margin − x) where t = −1 (option `margin`). */
export const hingeEmbeddingLoss = hingeEmbedding[0];
/** `hingeEmbeddingLoss` off the event loop (the kernel runs on the thread pool); resolves to the same result, bit for bit. */
export const hingeEmbeddingLossAsync = hingeEmbedding[1];
const kl = pair<KlDivOptions>('klDiv');
/** PyTorch's `F.kl_div`: input log-probabilities, target probabilities (or log-probabilities with `logTarget`); reduction also 'batchmean'. */
export const klDiv = kl[0];
/** `klDiv` off the event loop (the kernel runs on the thread pool); resolves to the same result, bit for bit. */
export const klDivAsync = kl[1];
const poisson = pair<PoissonNllLossOptions>('poissonNllLoss');
/** PyTorch's `F.poisson_nll_loss` on counts (options `logInput`, `full`, `eps`). */
export const poissonNllLoss = poisson[0];
/** `poissonNllLoss` off the event loop (the kernel runs on the thread pool); resolves to the same result, bit for bit. */
export const poissonNllLossAsync = poisson[1];
const focal = pair<SigmoidFocalLossOptions>('sigmoidFocalLoss');
/** `torchvision.ops.sigmoid_focal_loss` on logits (options `alpha`, `gamma`; default reduction 'none', as torchvision). */
export const sigmoidFocalLoss = focal[0];
/** `sigmoidFocalLoss` off the event loop (the kernel runs on the thread pool); resolves to the same result, bit for bit. */
export const sigmoidFocalLossAsync = focal[1];
const softMargin = pair<SoftMarginLossOptions>('softMarginLoss');
/** PyTorch's `F.soft_margin_loss`: log(1 + exp(−t·x)) per element, targets ±1 (a logistic loss on margins). */
export const softMarginLoss = softMargin[0];
/** `softMarginLoss` off the event loop (the kernel runs on the thread pool); resolves to the same result, bit for bit. */
export const softMarginLossAsync = softMargin[1];
const hinge = pair<HingeLossOptions>('hingeLoss');
/** TensorFlow.js's `tf.losses.hingeLoss`: labels 0/1 read as ±1, max(0, 1 − y·x) per element (no PyTorch function). */
export const hingeLoss = hinge[0];
/** `hingeLoss` off the event loop (the kernel runs on the thread pool); resolves to the same result, bit for bit. */
export const hingeLossAsync = hinge[1];
const log = pair<LogLossOptions>('logLoss');
/** TensorFlow.js's `tf.losses.logLoss` on probabilities: −t·log(x + ε) − (1 − t)·log(1 − x + ε) (option `epsilon`, default 1e-7). */
export const logLoss = log[0];
/** `logLoss` off the event loop (the kernel runs on the thread pool); resolves to the same result, bit for bit. */
export const logLossAsync = log[1];
