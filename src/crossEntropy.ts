// crossEntropy / crossEntropyAsync: validation and output allocation (once, here), then the native
// kernel or the reference. PyTorch's F.cross_entropy semantics; see src/ops.ts for the options.
import { cudaNative, native, type NativeReduction } from './binding';
import { type Backend, crossEntropySpec as spec, type Reduction } from './ops';
import { crossEntropyReference, type CrossEntropyProblem } from './reference/crossEntropy';
import { elementCount, floatInput, isTensorLike, type FloatInput, type TargetInput, toInt32 } from './tensor';
import {
  checkNotDetached, checkOptionNames, describe, overlaps, rangeError, sameView, scalarOption, typeError,
} from './validate';

export interface CrossEntropyOptions<R extends Reduction = Reduction> {
  /** Dims of a Float32Array input: [N, C] or [N, C, d1, …, dk] (or [C] for one sample). */
  shape?: readonly number[];
  weight?: Float32Array | readonly number[] | null;
  ignoreIndex?: number;
  labelSmoothing?: number;
  reduction?: R;
  gradOutput?: Float32Array | null;
  gradScale?: number;
  out?: { grad?: Float32Array; loss?: Float32Array };
  inplace?: boolean;
  backend?: Backend;
}

export interface LossResult<R extends Reduction = Reduction> {
  /** The reduced loss, or per-element losses [N, d1…dk] for reduction 'none'. */
  loss: R extends 'none' ? Float32Array : number;
  /** d(loss)/d(input), same shape as input. */
  grad: Float32Array;
}

interface Plan {
  problem: CrossEntropyProblem;
  grad: Float32Array;
  lossOut: Float32Array | null;
  backend: Backend;
}

const REDUCTION_CODE: Record<Reduction, NativeReduction> = { none: 0, mean: 1, sum: 2 };

function plan(input: FloatInput, target: TargetInput, options: CrossEntropyOptions = {}): Plan {
  if (typeof options !== 'object' || options === null) throw typeError('an options object', 'crossEntropy options', options);
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
  let targetArr: Int32Array | Float32Array;
  if (t instanceof Int32Array) {
    targetArr = t;
    checkNotDetached(t, 'target');
    if (t.length !== n * s)
      throw rangeError(`${n * s} class ids (shape [${positionDims.join(', ')}])`, 'target', t);
    if (tDims && (tDims.length !== positionDims.length || tDims.some((d, i) => d !== positionDims[i])))
      throw rangeError(`target.dims [${positionDims.join(', ')}]`, 'target.dims', `[${tDims.join(', ')}]`);
  } else if (t instanceof Float32Array) {
    targetArr = t;
    checkNotDetached(t, 'target');
    if (t.length !== x.data.length)
      throw rangeError(`${x.data.length} probabilities (the input's shape [${dims.join(', ')}])`, 'target', t);
    if (tDims && (tDims.length !== dims.length || tDims.some((d, i) => d !== dims[i])))
      throw rangeError(`target.dims [${dims.join(', ')}]`, 'target.dims', `[${tDims.join(', ')}]`);
  } else {
    throw typeError('an Int32Array of class ids or a Float32Array of probabilities', 'target', t);
  }

  let weight: Float32Array | null = null;
  if (options.weight != null) {
    const w = options.weight;
    if (w instanceof Float32Array) weight = w;
    else if (Array.isArray(w) && w.every((v) => typeof v === 'number')) weight = Float32Array.from(w);
    else throw typeError('a Float32Array or number[] of per-class weights', 'crossEntropy.weight', w);
    checkNotDetached(weight, 'weight');
    if (weight.length !== c) throw rangeError(`${c} per-class weights (C)`, 'crossEntropy.weight', w);
  }

  const ignoreIndex = scalarOption<number>(opts, spec, 'ignoreIndex');
  const labelSmoothing = scalarOption<number>(opts, spec, 'labelSmoothing');
  const reduction = scalarOption<Reduction>(opts, spec, 'reduction');
  const gradScale = scalarOption<number>(opts, spec, 'gradScale');
  const inplace = scalarOption<boolean>(opts, spec, 'inplace');
  const backend = scalarOption<Backend>(opts, spec, 'backend');

  let gradOutput: Float32Array | null = null;
  if (options.gradOutput != null) {
    if (reduction !== 'none')
      throw new TypeError(`crossEntropy.gradOutput is only allowed with reduction 'none' (use gradScale with '${reduction}')`);
    if (!(options.gradOutput instanceof Float32Array))
      throw typeError('a Float32Array', 'crossEntropy.gradOutput', options.gradOutput);
    gradOutput = options.gradOutput;
    checkNotDetached(gradOutput, 'gradOutput');
    if (gradOutput.length !== n * s)
      throw rangeError(`${n * s} elements (shape [${positionDims.join(', ')}])`, 'crossEntropy.gradOutput', gradOutput);
  }

  const out = options.out;
  if (out !== undefined && (typeof out !== 'object' || out === null)) throw typeError('{ grad?, loss? }', 'crossEntropy.out', out);
  if (out) {
    for (const k of Object.keys(out))
      if (k !== 'grad' && k !== 'loss' && (out as Record<string, unknown>)[k] !== undefined)
        throw new TypeError(`Unknown key '${k}' in crossEntropy.out; expected grad and/or loss`);
  }
  let grad: Float32Array;
  if (out?.grad !== undefined) {
    if (!(out.grad instanceof Float32Array)) throw typeError('a Float32Array', 'crossEntropy.out.grad', out.grad);
    checkNotDetached(out.grad, 'out.grad');
    if (out.grad.length !== x.data.length)
      throw rangeError(`${x.data.length} elements (the input's shape [${dims.join(', ')}])`, 'crossEntropy.out.grad', out.grad);
    if (inplace && !sameView(out.grad, x.data))
      throw new TypeError('crossEntropy: inplace: true writes the gradient over input; out.grad must be omitted or be input');
    grad = out.grad;
  } else {
    grad = inplace ? x.data : new Float32Array(x.data.length);
  }
  // The gradient may be the input itself (in place); no other overlap is safe.
  if (!sameView(grad, x.data) && overlaps(grad, x.data))
    throw new RangeError('crossEntropy.out.grad overlaps input without being the same array (in place needs the same array)');
  for (const [name, other] of [['target', targetArr], ['weight', weight], ['gradOutput', gradOutput]] as const)
    if (other && overlaps(grad, other)) throw new RangeError(`crossEntropy: the gradient output overlaps ${name}`);

  let lossOut: Float32Array | null = null;
  if (reduction === 'none') {
    if (out?.loss !== undefined) {
      if (!(out.loss instanceof Float32Array)) throw typeError('a Float32Array', 'crossEntropy.out.loss', out.loss);
      checkNotDetached(out.loss, 'out.loss');
      if (out.loss.length !== n * s)
        throw rangeError(`${n * s} elements (shape [${positionDims.join(', ')}])`, 'crossEntropy.out.loss', out.loss);
      if (overlaps(out.loss, grad) || overlaps(out.loss, x.data) || overlaps(out.loss, targetArr))
        throw new RangeError('crossEntropy.out.loss overlaps input, target or the gradient');
      lossOut = out.loss;
    } else {
      lossOut = new Float32Array(n * s);
    }
  } else if (out?.loss !== undefined) {
    throw new TypeError(`crossEntropy.out.loss is only used with reduction 'none' (got '${reduction}')`);
  }

  return {
    problem: { input: x.data, target: targetArr, n, c, s, weight, ignoreIndex, labelSmoothing, reduction, gradScale, gradOutput },
    grad,
    lossOut,
    backend,
  };
}

function nativeArgs(p: Plan) {
  const q = p.problem;
  return [
    q.input, q.target, q.n, q.c, q.s, q.weight, q.ignoreIndex, q.labelSmoothing, REDUCTION_CODE[q.reduction], q.gradScale,
    q.gradOutput, p.grad, p.lossOut,
  ] as const;
}

function result<R extends Reduction>(p: Plan, loss: number): LossResult<R> {
  return { loss: (p.problem.reduction === 'none' ? p.lossOut! : loss) as LossResult<R>['loss'], grad: p.grad };
}

/**
 * Softmax cross-entropy and its gradient with respect to `input`, in one pass (PyTorch's
 * `F.cross_entropy`). `input` is [N, C] or [N, C, d1…dk] (class dim second); `target` holds class ids
 * (Int32Array, [N, d1…dk]) or class probabilities (Float32Array, the input's shape).
 */
export function crossEntropy<R extends Reduction = 'mean'>(
  input: FloatInput, target: TargetInput, options?: CrossEntropyOptions<R>,
): LossResult<R> {
  const p = plan(input, target, options);
  if (p.backend === 'reference') return result(p, crossEntropyReference(p.problem, p.grad, p.lossOut));
  if (p.backend === 'cuda') return result(p, cudaNative().crossEntropy(...nativeArgs(p)));
  return result(p, native().crossEntropy(...nativeArgs(p)));
}

/**
 * The same as `crossEntropy`, computed on a worker thread; the event loop stays free. The arrays are
 * used in place: do not modify input, target, weight or outputs until the promise settles.
 * Argument errors reject the promise (nothing is written).
 */
export async function crossEntropyAsync<R extends Reduction = 'mean'>(
  input: FloatInput, target: TargetInput, options?: CrossEntropyOptions<R>,
): Promise<LossResult<R>> {
  const p = plan(input, target, options);
  if (p.backend === 'reference') return result(p, crossEntropyReference(p.problem, p.grad, p.lossOut));
  if (p.backend === 'cuda') return result(p, await cudaNative().crossEntropyAsync(...nativeArgs(p)));
  return result(p, await native().crossEntropyAsync(...nativeArgs(p)));
}

export { describe as describeValue };
