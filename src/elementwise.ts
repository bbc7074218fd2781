// The elementwise losses (input and target of the same shape): validation and output allocation, then
// the native kernel or the reference. Options and their ranges come from the op table (src/ops.ts).
import { cudaNative, native } from './binding';
import { type Backend, type ElementwiseSpec, ELEMENTWISE_LOSSES, type KlReduction, type Reduction } from './ops';
import type { LossResult } from './crossEntropy';
import { elementwiseReference, type ElementwiseProblem } from './reference/elementwise';
import { floatInput, isTensorLike, type FloatInput, type TensorLike } from './tensor';
import { floatArrayOption, gradOutputOption, resolveOutputs } from './outputs';
import { checkFinite, checkNotDetached, checkOptionNames, hasOption, rangeError, scalarOption, typeError } from './validate';

export interface ElementwiseOptions<R extends string = Reduction> {
  /** Dims of a Float32Array input (any rank >= 1); the target has the same shape. */
  shape?: readonly number[];
  reduction?: R;
  /** Per-sample weight, length = first dim. */
  sampleWeight?: Float32Array | readonly number[] | null;
  gradOutput?: Float32Array | null;
  gradScale?: number;
  out?: { grad?: Float32Array; loss?: Float32Array };
  inplace?: boolean;
  backend?: Backend;
  /** 'propagate' (default, PyTorch's behaviour) or 'raise': RangeError at the first NaN/±Infinity of input or target. */
  nanPolicy?: 'propagate' | 'raise';
}
export type MseLossOptions<R extends Reduction = Reduction> = ElementwiseOptions<R>;
export type L1LossOptions<R extends Reduction = Reduction> = ElementwiseOptions<R>;
export interface SmoothL1LossOptions<R extends Reduction = Reduction> extends ElementwiseOptions<R> { beta?: number }
export interface HuberLossOptions<R extends Reduction = Reduction> extends ElementwiseOptions<R> { delta?: number }
export interface BinaryCrossEntropyOptions<R extends Reduction = Reduction> extends ElementwiseOptions<R> {
  weight?: Float32Array | readonly number[] | null;
}
export interface BinaryCrossEntropyWithLogitsOptions<R extends Reduction = Reduction> extends BinaryCrossEntropyOptions<R> {
  posWeight?: Float32Array | readonly number[] | null;
}
export interface HingeEmbeddingLossOptions<R extends Reduction = Reduction> extends ElementwiseOptions<R> { margin?: number }
export interface KlDivOptions<R extends KlReduction = KlReduction> extends ElementwiseOptions<R> { logTarget?: boolean }
export interface PoissonNllLossOptions<R extends Reduction = Reduction> extends ElementwiseOptions<R> {
  logInput?: boolean;
  full?: boolean;
  eps?: number;
}
export interface SigmoidFocalLossOptions<R extends Reduction = Reduction> extends ElementwiseOptions<R> {
  alpha?: number;
  gamma?: number;
}
export type HingeLossOptions<R extends Reduction = Reduction> = ElementwiseOptions<R>;
export interface LogLossOptions<R extends Reduction = Reduction> extends ElementwiseOptions<R> { epsilon?: number }

type Result<R extends string> = LossResult<R extends 'none' ? 'none' : 'mean'>;
const REDUCTION_CODE = { none: 0, mean: 1, sum: 2, batchmean: 1 } as const;

export interface ElementwisePlan {
  spec: ElementwiseSpec;
  problem: ElementwiseProblem;
  grad: Float32Array;
  lossOut: Float32Array | null;
  backend: Backend;
}

export function planElementwise(spec: ElementwiseSpec, input: FloatInput, target: Float32Array | TensorLike<Float32Array>, options: object = {}): ElementwisePlan {
  const name = spec.name;
  if (typeof options !== 'object' || options === null) throw typeError('an options object', `${name} options`, options);
  checkOptionNames(options, spec);
  const o = options as Record<string, unknown>;
  const x = floatInput(input, o.shape, 'input');
  const dims = x.dims;
  const numel = x.data.length;
  const t = isTensorLike(target) ? target.data : target;
  if (isTensorLike(target) && (target.dims.length !== dims.length || target.dims.some((d, i) => d !== dims[i])))
    throw rangeError(`target.dims [${dims.join(', ')}] (the input's dims)`, 'target.dims', `[${target.dims.join(', ')}]`);
  if (!(t instanceof Float32Array)) throw typeError('a Float32Array (the input\'s shape)', 'target', t);
  checkNotDetached(t, 'target');
  if (t.length !== numel) throw rangeError(`${numel} elements (the input's shape [${dims.join(', ')}])`, 'target', t);
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
  const backend = scalarOption<Backend>(o, spec, 'backend');
  if (scalarOption<string>(o, spec, 'nanPolicy') === 'raise')
    checkFinite([['input', x.data], ['target', t]], backend === 'reference' ? null : (a) => native().firstNonFinite(a));
  const has = (k: string) => hasOption(spec, k);
  const param = <T extends number | boolean>(k: string, fallback: T): T => (has(k) ? scalarOption<T>(o, spec, k) : fallback);
  const params = {
    beta: param('beta', 1), delta: param('delta', 1), margin: param('margin', 1), logTarget: param('logTarget', false),
    logInput: param('logInput', true), full: param('full', false), eps: param('eps', 1e-8), alpha: param('alpha', 0.25),
    gamma: param('gamma', 2), epsilon: param('epsilon', 1e-7),
  };

  const gradOutput = gradOutputOption(o.gradOutput, name, reduction, numel, "the input's shape");
  const { grad, lossOut } = resolveOutputs({
    name, input: x.data, out: o.out, inplace, reduction, lossLength: numel,
    inputs: [['target', t], ['weight', weight], ['posWeight', posWeight], ['sampleWeight', sampleWeight], ['gradOutput', gradOutput]],
  });
  return {
    spec, grad, lossOut, backend,
    problem: { name, input: x.data, target: t, numel, samples, classes, weight, posWeight, sampleWeight, gradOutput, reduction, gradScale, params },
  };
}

export function elementwiseNativeArgs(p: ElementwisePlan) {
  const q = p.problem, k = q.params;
  let p0 = 0, p1 = 0, flag = false, flag2 = false;
  switch (q.name) {
    case 'smoothL1Loss': p0 = k.beta; break;
    case 'huberLoss': p0 = k.delta; break;
    case 'hingeEmbeddingLoss': p0 = k.margin; break;
    case 'klDiv': flag = k.logTarget; break;
    case 'poissonNllLoss': p0 = k.eps, flag = k.logInput, flag2 = k.full; break;
    case 'sigmoidFocalLoss': p0 = k.alpha, p1 = k.gamma; break;
    case 'logLoss': p0 = k.epsilon; break;
    default: break;
  }
  return [
    p.spec.kind, q.input, q.target, q.numel, q.samples, q.classes, q.weight, q.posWeight, q.sampleWeight, q.gradOutput, p.grad,
    p.lossOut, REDUCTION_CODE[q.reduction], q.reduction === 'batchmean', q.gradScale, p0, p1, flag, flag2,
  ] as const;
}

function result<R extends string>(p: ElementwisePlan, loss: number): Result<R> {
  return { loss: p.problem.reduction === 'none' ? p.lossOut! : loss, grad: p.grad } as Result<R>;
}

function runSync<R extends string>(spec: ElementwiseSpec, input: FloatInput, target: Float32Array | TensorLike<Float32Array>, options?: object): Result<R> {
  const p = planElementwise(spec, input, target, options);
  if (p.backend === 'reference') return result(p, elementwiseReference(p.problem, p.grad, p.lossOut));
  if (p.backend === 'cuda') return result(p, cudaNative().elementwiseLoss(...elementwiseNativeArgs(p)));
  return result(p, native().elementwiseLoss(...elementwiseNativeArgs(p)));
}

async function runAsync<R extends string>(spec: ElementwiseSpec, input: FloatInput, target: Float32Array | TensorLike<Float32Array>, options?: object): Promise<Result<R>> {
  const p = planElementwise(spec, input, target, options);
  if (p.backend === 'reference') return result(p, elementwiseReference(p.problem, p.grad, p.lossOut));
  if (p.backend === 'cuda') return result(p, await cudaNative().elementwiseLossAsync(...elementwiseNativeArgs(p)));
  return result(p, await native().elementwiseLossAsync(...elementwiseNativeArgs(p)));
}

const specOf = (name: ElementwiseSpec['name']) => ELEMENTWISE_LOSSES.find((s) => s.name === name)!;
type Target = Float32Array | TensorLike<Float32Array>;

function pair<O extends ElementwiseOptions<string>>(name: ElementwiseSpec['name']) {
  const spec = specOf(name);
  return [
    <R extends string = 'mean'>(input: FloatInput, target: Target, options?: O & { reduction?: R }) => runSync<R>(spec, input, target, options),
    <R extends string = 'mean'>(input: FloatInput, target: Target, options?: O & { reduction?: R }) => runAsync<R>(spec, input, target, options),
  ] as const;
}

/** (x − t)², PyTorch's F.mse_loss. */
export const [mseLoss, mseLossAsync] = pair<MseLossOptions>('mseLoss');
/** |x − t|, PyTorch's F.l1_loss. */
export const [l1Loss, l1LossAsync] = pair<L1LossOptions>('l1Loss');
/** PyTorch's F.smooth_l1_loss (option beta). */
export const [smoothL1Loss, smoothL1LossAsync] = pair<SmoothL1LossOptions>('smoothL1Loss');
/** PyTorch's F.huber_loss (option delta). */
export const [huberLoss, huberLossAsync] = pair<HuberLossOptions>('huberLoss');
/** PyTorch's F.binary_cross_entropy on probabilities (logs clamped at −100). */
export const [binaryCrossEntropy, binaryCrossEntropyAsync] = pair<BinaryCrossEntropyOptions>('binaryCrossEntropy');
/** PyTorch's F.binary_cross_entropy_with_logits (weight, posWeight). */
export const [binaryCrossEntropyWithLogits, binaryCrossEntropyWithLogitsAsync] =
  pair<BinaryCrossEntropyWithLogitsOptions>('binaryCrossEntropyWithLogits');
/** PyTorch's F.hinge_embedding_loss (targets ±1, option margin). */
export const [hingeEmbeddingLoss, hingeEmbeddingLossAsync] = pair<HingeEmbeddingLossOptions>('hingeEmbeddingLoss');
/** PyTorch's F.kl_div: input log-probabilities; logTarget; reduction incl. 'batchmean'. */
export const [klDiv, klDivAsync] = pair<KlDivOptions>('klDiv');
/** PyTorch's F.poisson_nll_loss (logInput, full, eps). */
export const [poissonNllLoss, poissonNllLossAsync] = pair<PoissonNllLossOptions>('poissonNllLoss');
/** torchvision.ops.sigmoid_focal_loss (alpha, gamma; default reduction 'none', as torchvision). */
export const [sigmoidFocalLoss, sigmoidFocalLossAsync] = pair<SigmoidFocalLossOptions>('sigmoidFocalLoss');
/** tf.losses.hingeLoss: labels 0/1 read as ±1, max(0, 1 − y·x). */
export const [hingeLoss, hingeLossAsync] = pair<HingeLossOptions>('hingeLoss');
/** tf.losses.logLoss on probabilities: −t·log(x + ε) − (1 − t)·log(1 − x + ε) (option epsilon, default 1e-7). */
export const [logLoss, logLossAsync] = pair<LogLossOptions>('logLoss');
