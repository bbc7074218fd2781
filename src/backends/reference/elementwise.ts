// Pure-TypeScript elementwise losses: the oracle for tests and the baseline for benchmarks. Each loss
// is PyTorch's formula for one element in float64, with its derivative written out by hand; the
// finite-difference tests check the derivatives against the formulas.
import type { ElementwiseName } from '../../losses/ops';

export interface ElementwiseProblem {
  name: ElementwiseName;
  input: Float32Array;
  target: Float32Array;
  numel: number;
  samples: number;
  classes: number;
  weight: Float32Array | null; // numel or classes
  posWeight: Float32Array | null; // classes
  sampleWeight: Float32Array | null; // samples
  gradOutput: Float32Array | null;
  reduction: 'mean' | 'sum' | 'none' | 'batchmean';
  gradScale: number;
  /** The loss's own options by name (booleans as 0 / 1), from its op-table row. */
  params: Readonly<Record<string, number>>;
}

type Params = ElementwiseProblem['params'];

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const softplusNeg = (x: number) => Math.log1p(Math.exp(-Math.abs(x))) + Math.max(-x, 0); // log(1 + exp(-x))
const sign = (x: number) => (x > 0 ? 1 : x < 0 ? -1 : x); // NaN stays NaN, ±0 stays

/** [loss, dloss/dx] of one element. */
export function elementLoss(name: ElementwiseName, x: number, t: number, pw: number, hasPw: boolean, p: Params): [number, number] {
  switch (name) {
    case 'mseLoss':
      return [(x - t) ** 2, 2 * (x - t)];
    case 'l1Loss':
      return [Math.abs(x - t), sign(x - t)];
    case 'smoothL1Loss': {
      const d = x - t,
        a = Math.abs(d);
      if (p.beta === 0) return [a, sign(d)];
      return a < p.beta ? [(0.5 * a * a) / p.beta, d / p.beta] : [a - 0.5 * p.beta, sign(d)];
    }
    case 'huberLoss': {
      const d = x - t,
        a = Math.abs(d);
      return a < p.delta ? [0.5 * a * a, d] : [p.delta * (a - 0.5 * p.delta), d < -p.delta ? -p.delta : d > p.delta ? p.delta : d];
    }
    case 'binaryCrossEntropy': {
      const logX = Math.max(Math.log(x), -100),
        log1mX = Math.max(Math.log1p(-x), -100);
      return [(t - 1) * log1mX - t * logX, (x - t) / Math.max((1 - x) * x, 1e-12)];
    }
    case 'binaryCrossEntropyWithLogits': {
      const lw = hasPw ? 1 + (pw - 1) * t : 1;
      const loss = (1 - t) * x + lw * softplusNeg(x);
      const grad = hasPw ? (pw * t + 1 - t) * sigmoid(x) - pw * t : sigmoid(x) - t;
      return [loss, grad];
    }
    case 'hingeEmbeddingLoss': {
      const m = p.margin - x;
      const loss = (t !== 1 ? Math.max(m, 0) : 0) + (t !== -1 ? x : 0);
      const grad = (t !== 1 ? (m >= 0 ? -1 : 0) : 0) + (t !== -1 ? 1 : 0);
      return [loss, grad];
    }
    case 'klDiv':
      if (p.logTarget) return [Math.exp(t) * (t - x), -Math.exp(t)];
      return [(t === 0 ? 0 : t * Math.log(t)) - t * x, -t];
    case 'poissonNllLoss': {
      let loss: number, grad: number;
      if (p.logInput) [loss, grad] = [Math.exp(x) - t * x, Math.exp(x) - t];
      else [loss, grad] = [x - t * Math.log(x + p.eps), 1 - t / (x + p.eps)];
      if (p.full && t > 1) loss += t * Math.log(t) - t + 0.5 * Math.log(2 * Math.PI * t);
      return [loss, grad];
    }
    case 'hingeLoss': {
      // tfjs: labels 0/1 read as ±1; relu(1 − y·x), relu' = 0 at 0
      const y = 2 * t - 1,
        m = 1 - y * x;
      return [Number.isNaN(m) ? NaN : Math.max(0, m), m > 0 ? -y : 0];
    }
    case 'logLoss': {
      // tfjs: −t·log(x + ε) − (1 − t)·log(1 − x + ε)
      const a = x + p.epsilon,
        b = 1 - x + p.epsilon;
      return [-t * Math.log(a) - (1 - t) * Math.log(b), -t / a + (1 - t) / b];
    }
    case 'softMarginLoss': {
      // PyTorch: log(1 + exp(−t·x)); d/dx = −t·σ(−t·x)
      const z = t * x;
      return [softplusNeg(z), -t * sigmoid(-z)];
    }
    case 'sigmoidFocalLoss': {
      const pr = sigmoid(x);
      const ce = (1 - t) * x + softplusNeg(x);
      const pt = pr * t + (1 - pr) * (1 - t);
      const b = 1 - pt;
      const mod = b ** p.gamma; // 0 ** 0 = 1 in JS, as in PyTorch
      let loss = ce * mod;
      let grad = (pr - t) * mod;
      if (p.gamma !== 0) grad -= ce * p.gamma * (p.gamma === 1 ? 1 : b ** (p.gamma - 1)) * pr * (1 - pr) * (2 * t - 1);
      if (p.alpha >= 0) {
        const at = p.alpha * t + (1 - p.alpha) * (1 - t);
        loss *= at;
        grad *= at;
      }
      return [loss, grad];
    }
  }
}

/** Returns the reduced loss (0 for 'none'); writes grad and, for 'none', lossOut. */
export function elementwiseReference(q: ElementwiseProblem, grad: Float32Array, lossOut: Float32Array | null): number {
  const { input, target, numel, samples, classes } = q;
  if (q.name === 'binaryCrossEntropy')
    for (let i = 0; i < numel; i++)
      if (!(input[i] >= 0 && input[i] <= 1))
        throw new RangeError(`input[${i}] = ${input[i]}: binaryCrossEntropy expects probabilities in [0, 1]`);
  const perSample = samples > 0 ? numel / samples : 1;
  const denom = q.reduction === 'batchmean' ? samples : numel;
  const scale = q.reduction === 'mean' || q.reduction === 'batchmean' ? q.gradScale / denom : q.gradScale;
  let total = 0;
  for (let i = 0; i < numel; i++) {
    const col = i % classes;
    let w = 1;
    if (q.weight) w = q.weight.length === numel ? q.weight[i] : q.weight[col];
    if (q.sampleWeight) w *= q.sampleWeight[Math.floor(i / perSample)];
    const pw = q.posWeight ? q.posWeight[col] : 1;
    const smooth = q.name === 'smoothL1Loss' && q.params.beta === 0 ? 'l1Loss' : q.name;
    const [l, d] = elementLoss(smooth, input[i], target[i], pw, q.posWeight !== null, q.params);
    const s = q.reduction === 'none' && q.gradOutput ? scale * q.gradOutput[i] : scale;
    grad[i] = d * w * s;
    if (lossOut) lossOut[i] = l * w;
    total += l * w;
  }
  if (q.reduction === 'none') return 0;
  return q.reduction === 'sum' ? total : total / denom;
}
