// `fuseloss/tfjs`: drop-in replacements for TensorFlow.js losses (`tf.losses.*`), same signatures and
// semantics (weights broadcast to the losses, labelSmoothing, the four tf.Reduction modes), computed by
// fuseloss's fused kernels: one native call gives every per-element loss and its gradient, already
// scaled by the reduction's coefficient, and `tf.customGrad` hands that gradient to tfjs's autodiff, so
// `model.fit` and `optimizer.minimize` work unchanged. Gradients flow to the predictions/logits; labels
// and weights are treated as constants (as in training).
//
//   import * as tf from '@tensorflow/tfjs';
//   import { losses } from 'fuseloss/tfjs';
//   const fused = losses(tf);
//   model.compile({ optimizer: 'adam', loss: (y, p) => fused.softmaxCrossEntropy(y, p) });
//
// @tensorflow/tfjs-core is an optional peer dependency: this module never imports it; you pass your `tf`.
import { crossEntropy } from './losses/crossEntropy';
import { cosineDistance } from './losses/rowwise';
import { binaryCrossEntropyWithLogits, hingeLoss, huberLoss, l1Loss, logLoss, mseLoss } from './losses/elementwise';

/** tf.Reduction's values. */
export enum Reduction {
  NONE = 0,
  MEAN = 1,
  SUM = 2,
  SUM_BY_NONZERO_WEIGHTS = 3,
}

/** The slice of a tfjs tensor used here (any tf.Tensor fits). */
export interface TfTensor {
  /** The tensor's dims. */
  shape: number[];
  /** Its element type ('float32', …). */
  dtype: string;
  /** Its elements, read synchronously. */
  dataSync(): ArrayLike<number>;
}

/** The slice of the `tf` namespace used here (pass `@tensorflow/tfjs` or `@tensorflow/tfjs-core`). */
export interface Tf {
  /** tf.customGrad: a function with its own gradient. */
  customGrad(
    f: (...args: never[]) => { value: TfTensor; gradFunc: (dy: TfTensor, saved: TfTensor[]) => TfTensor | TfTensor[] },
  ): (...args: TfTensor[]) => TfTensor;
  /** tf.tensor. */
  tensor(values: Float32Array, shape: number[], dtype?: string): TfTensor;
  /** tf.scalar. */
  scalar(value: number): TfTensor;
  /** tf.mul. */
  mul(a: TfTensor, b: TfTensor): TfTensor;
  /** tf.broadcastTo. */
  broadcastTo(x: TfTensor, shape: number[]): TfTensor;
  /** tf.dispose. */
  dispose(x: TfTensor | TfTensor[]): void;
  /** tf.zerosLike. */
  zerosLike(x: TfTensor): TfTensor;
  /** tf.transpose. */
  transpose(x: TfTensor, perm: number[]): TfTensor;
}

/** tfjs's loss weights: a tensor broadcastable to the losses, a number, or none. */
export type Weights = TfTensor | number | undefined | null;

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The reduction's coefficient on each loss element, weights included: the loss is Σ cᵢ·lᵢ (NONE: cᵢ·lᵢ each). */
function coefficients(tf: Tf, lossShape: number[], weights: Weights, reduction: Reduction): Float32Array {
  const n = size(lossShape);
  let w: Float32Array | null = null;
  if (weights !== undefined && weights !== null) {
    if (typeof weights === 'number') w = new Float32Array(n).fill(weights);
    else {
      const b = tf.broadcastTo(weights, lossShape);
      w = Float32Array.from(b.dataSync());
      tf.dispose(b);
    }
  }
  const c = new Float32Array(n);
  const wi = (i: number) => (w ? w[i] : 1);
  if (reduction === Reduction.NONE || reduction === Reduction.SUM) for (let i = 0; i < n; i++) c[i] = wi(i);
  else if (reduction === Reduction.MEAN) {
    // tfjs: Σ w·l / Σ w, divided by |losses| / |weights| when the weights were broadcast: Σ w·l over the
    // sum of the broadcast weights (the mean without weights)
    let sw = 0;
    for (let i = 0; i < n; i++) sw += wi(i);
    for (let i = 0; i < n; i++) c[i] = wi(i) / sw;
  } else {
    let nonzero = 0;
    for (let i = 0; i < n; i++) if (wi(i) !== 0) nonzero++;
    for (let i = 0; i < n; i++) c[i] = wi(i) / nonzero;
  }
  return c;
}

/**
 * The fused-loss op: `kernel(x, c)` returns per-element losses (reduction 'none') and their gradient
 * scaled by c. Wrapped in tf.customGrad over the predictions.
 */
function fused(
  tf: Tf,
  predictions: TfTensor,
  lossShape: number[],
  weights: Weights,
  reduction: Reduction,
  kernel: (x: Float32Array, c: Float32Array) => { loss: Float32Array; grad: Float32Array },
): TfTensor {
  const f = tf.customGrad(((x: TfTensor) => {
    const data = Float32Array.from(x.dataSync());
    const none = reduction === Reduction.NONE;
    const c = coefficients(tf, lossShape, weights, reduction);
    // NONE: the gradient waits for dy; the kernel's per-element gradient (c = weights) is scaled by it.
    const r = kernel(data, c);
    let value: TfTensor;
    if (none) {
      const l = new Float32Array(r.loss.length);
      for (let i = 0; i < l.length; i++) l[i] = r.loss[i] * c[i];
      value = tf.tensor(l, lossShape);
    } else {
      let s = 0;
      for (let i = 0; i < r.loss.length; i++) s += c[i] * r.loss[i];
      value = tf.scalar(s);
    }
    const grad = r.grad;
    return {
      value,
      gradFunc: (dy: TfTensor) => {
        const d = dy.dataSync();
        const g = new Float32Array(grad.length);
        if (none) {
          const per = grad.length / d.length; // gradient elements per loss element (C for softmax rows)
          for (let i = 0; i < g.length; i++) g[i] = grad[i] * d[Math.floor(i / per)];
        } else for (let i = 0; i < g.length; i++) g[i] = grad[i] * d[0];
        return tf.tensor(g, x.shape);
      },
    };
  }) as never);
  return f(predictions);
}

function checkSame(a: TfTensor, b: TfTensor, fn: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i]))
    throw new RangeError(`${fn}: labels shape [${a.shape.join(', ')}] and predictions shape [${b.shape.join(', ')}] must match`);
}

/** The tf.losses functions, computed by fuseloss. */
export function losses(tf: Tf) {
  const flat = (t: TfTensor) => Float32Array.from(t.dataSync());
  // A loss of one element per prediction: labels and predictions of one shape.
  const pointwise = (
    fn: string,
    labels: TfTensor,
    predictions: TfTensor,
    weights: Weights,
    reduction: Reduction,
    run: (x: Float32Array, y: Float32Array, c: Float32Array) => { loss: number | Float32Array; grad: Float32Array },
  ) => {
    checkSame(labels, predictions, fn);
    const y = flat(labels);
    return fused(tf, predictions, predictions.shape, weights, reduction, (x, c) => {
      const r = run(x, y, c);
      return { loss: r.loss as Float32Array, grad: r.grad };
    });
  };
  return {
    /** tf.Reduction's values (NONE, MEAN, SUM, SUM_BY_NONZERO_WEIGHTS). */
    Reduction,
    /** tf.losses.softmaxCrossEntropy(onehotLabels, logits, weights?, labelSmoothing = 0, reduction = SUM_BY_NONZERO_WEIGHTS): softmax over the last axis. */
    softmaxCrossEntropy(
      onehotLabels: TfTensor,
      logits: TfTensor,
      weights?: Weights,
      labelSmoothing = 0,
      reduction = Reduction.SUM_BY_NONZERO_WEIGHTS,
    ): TfTensor {
      checkSame(onehotLabels, logits, 'softmaxCrossEntropy');
      const C = logits.shape[logits.shape.length - 1];
      const rows = size(logits.shape) / C;
      let y = flat(onehotLabels);
      if (labelSmoothing > 0) y = y.map((v) => v * (1 - labelSmoothing) + labelSmoothing / C);
      return fused(tf, logits, logits.shape.slice(0, -1), weights, reduction, (x, c) => {
        const r = crossEntropy(x, y, { shape: [rows, C], reduction: 'none', gradOutput: c });
        return { loss: r.loss as Float32Array, grad: r.grad };
      });
    },
    /** tf.losses.sigmoidCrossEntropy(multiClassLabels, logits, weights?, labelSmoothing = 0, reduction). */
    sigmoidCrossEntropy(
      multiClassLabels: TfTensor,
      logits: TfTensor,
      weights?: Weights,
      labelSmoothing = 0,
      reduction = Reduction.SUM_BY_NONZERO_WEIGHTS,
    ): TfTensor {
      checkSame(multiClassLabels, logits, 'sigmoidCrossEntropy');
      let y = flat(multiClassLabels);
      if (labelSmoothing > 0) y = y.map((v) => v * (1 - labelSmoothing) + 0.5 * labelSmoothing);
      return fused(tf, logits, logits.shape, weights, reduction, (x, c) => {
        const r = binaryCrossEntropyWithLogits(x, y, { shape: [x.length], reduction: 'none', gradOutput: c });
        return { loss: r.loss as Float32Array, grad: r.grad };
      });
    },
    /** tf.losses.meanSquaredError(labels, predictions, weights?, reduction). */
    meanSquaredError(labels: TfTensor, predictions: TfTensor, weights?: Weights, reduction = Reduction.SUM_BY_NONZERO_WEIGHTS): TfTensor {
      return pointwise('meanSquaredError', labels, predictions, weights, reduction, (x, y, c) =>
        mseLoss(x, y, { shape: [x.length], reduction: 'none', gradOutput: c }),
      );
    },
    /** tf.losses.absoluteDifference(labels, predictions, weights?, reduction). */
    absoluteDifference(labels: TfTensor, predictions: TfTensor, weights?: Weights, reduction = Reduction.SUM_BY_NONZERO_WEIGHTS): TfTensor {
      return pointwise('absoluteDifference', labels, predictions, weights, reduction, (x, y, c) =>
        l1Loss(x, y, { shape: [x.length], reduction: 'none', gradOutput: c }),
      );
    },
    /**
     * tf.losses.cosineDistance(labels, predictions, axis, weights?, reduction): 1 − Σ labels·predictions
     * along `axis` (kept as a dim of size 1), unnormalised as in tfjs. Another axis than the last is moved
     * last with tf.transpose (whose gradient tfjs knows).
     */
    cosineDistance(
      labels: TfTensor,
      predictions: TfTensor,
      axis: number,
      weights?: Weights,
      reduction = Reduction.SUM_BY_NONZERO_WEIGHTS,
    ): TfTensor {
      checkSame(labels, predictions, 'cosineDistance');
      const rank = predictions.shape.length;
      const ax = axis < 0 ? axis + rank : axis;
      if (!Number.isInteger(ax) || ax < 0 || ax >= rank)
        throw new RangeError(`cosineDistance: axis ${axis} is out of range for rank ${rank}`);
      const perm = [...Array(rank).keys()].filter((d) => d !== ax).concat(ax);
      const moved = ax !== rank - 1;
      const p = moved ? tf.transpose(predictions, perm) : predictions;
      const y = flat(moved ? tf.transpose(labels, perm) : labels);
      const D = predictions.shape[ax];
      const lossShape = predictions.shape.map((d, i) => (i === ax ? 1 : d));
      return fused(tf, p, lossShape, weights, reduction, (x, c) => {
        const r = cosineDistance(x, y, { shape: [x.length / D, D], reduction: 'none', gradOutput: c });
        return { loss: r.loss as Float32Array, grad: r.grad };
      });
    },
    /** tf.losses.hingeLoss(labels, predictions, weights?, reduction): labels 0/1 read as −1/+1, max(0, 1 − y·p). */
    hingeLoss(labels: TfTensor, predictions: TfTensor, weights?: Weights, reduction = Reduction.SUM_BY_NONZERO_WEIGHTS): TfTensor {
      return pointwise('hingeLoss', labels, predictions, weights, reduction, (x, y, c) =>
        hingeLoss(x, y, { shape: [x.length], reduction: 'none', gradOutput: c }),
      );
    },
    /** tf.losses.logLoss(labels, predictions, weights?, epsilon = 1e-7, reduction) on probabilities. */
    logLoss(
      labels: TfTensor,
      predictions: TfTensor,
      weights?: Weights,
      epsilon = 1e-7,
      reduction = Reduction.SUM_BY_NONZERO_WEIGHTS,
    ): TfTensor {
      return pointwise('logLoss', labels, predictions, weights, reduction, (x, y, c) =>
        logLoss(x, y, { shape: [x.length], reduction: 'none', gradOutput: c, epsilon }),
      );
    },
    /** tf.losses.huberLoss(labels, predictions, weights?, delta = 1, reduction). */
    huberLoss(
      labels: TfTensor,
      predictions: TfTensor,
      weights?: Weights,
      delta = 1,
      reduction = Reduction.SUM_BY_NONZERO_WEIGHTS,
    ): TfTensor {
      return pointwise('huberLoss', labels, predictions, weights, reduction, (x, y, c) =>
        huberLoss(x, y, { shape: [x.length], reduction: 'none', gradOutput: c, delta }),
      );
    },
  };
}
