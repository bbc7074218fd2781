// Pure-TypeScript linear head + cross-entropy (the oracle): every sum in float64, one row at a time.
//   z = x·Wᵀ + b;  with softcap: z' = cap·tanh(z / cap), else z' = z;  lse = log Σ exp(z');  logp = z' − lse
//   class ids:     ℓ = (1−ε)·(−w_y·logp_y) + (ε/C)·(−Σ_c w_c·logp_c); ignored rows give 0 and are not counted
//   probabilities: ℓ = −Σ_c w_c·((1−ε)·t_c + ε/C)·logp_c
//   z-loss (Liger-Kernel's rule): each counted row adds s·lse², not class-weighted
//   sampleWeight multiplies a row's whole loss (cross-entropy and z-loss) and its gradient
//   'mean': the cross-entropy sum / Σ w_y over counted rows (probabilities: / N), the z-loss sum / the count
// dℓ/dz' = scale·(p·Σg − g) + zscale·2s·lse·p (g_c = −dℓ/dlogp_c), then dz = dz'·(1 − tanh²) with softcap;
// gradInput = dz·W, gradWeight = dzᵀ·x, gradBias = Σ_rows dz.
import type { Reduction } from '../../losses/ops';

export interface LinearCrossEntropyProblem {
  input: Float32Array;
  weight: Float32Array;
  bias: Float32Array | null;
  n: number;
  h: number;
  c: number;
  /** Class ids [N] or probabilities [N, C]. */
  target: Int32Array | Float32Array;
  classWeight: Float32Array | null;
  sampleWeight: Float32Array | null;
  gradOutput: Float32Array | null;
  ignoreIndex: number;
  labelSmoothing: number;
  reduction: Reduction;
  gradScale: number;
  lseSquareScale: number;
  /** 0: none. */
  softcap: number;
}

export interface LinearCrossEntropyOutputs {
  gradInput: Float32Array | null;
  gradWeight: Float32Array | null;
  gradBias: Float32Array | null;
  /** [N] for reduction 'none'. */
  loss: Float32Array | null;
  lse: Float32Array | null;
}

export interface LinearCrossEntropyValues {
  loss: number;
  zLoss: number;
  accuracy: number;
}

/** The softmax cross-entropy part: every option but the head (shared with crossEntropy's extras). */
export type SoftmaxRowsProblem = Omit<LinearCrossEntropyProblem, 'input' | 'weight' | 'bias' | 'h'>;

/**
 * Row by row: the logits z[k] = logit(i, k), capped, their loss and dℓ/dz (float64); `onRow(i, dz)` takes
 * each counted row's gradient (ignored rows have none). Writes out.loss ('none') and out.lse; returns the
 * reduced loss, the z-loss part and the accuracy.
 */
export function softmaxRowsReference(
  p: SoftmaxRowsProblem,
  logit: (i: number, k: number) => number,
  onRow: (i: number, dz: Float64Array) => void,
  out: { loss: Float32Array | null; lse: Float32Array | null },
): LinearCrossEntropyValues {
  const { n: N, c: C, target, ignoreIndex, labelSmoothing: eps, reduction, softcap: cap } = p;
  const s = p.lseSquareScale;
  const byIndex = target instanceof Int32Array;
  const w = (k: number) => (p.classWeight ? p.classWeight[k] : 1);
  let denom = N,
    count = N;
  if (byIndex) {
    denom = 0;
    count = 0;
    for (let i = 0; i < N; i++) {
      const y = target[i];
      if (y === ignoreIndex) continue;
      if (y < 0 || y >= C) throw new RangeError(`target[${i}] = ${y}: expected a class id in [0, ${C}) or ignoreIndex (${ignoreIndex})`);
      denom += w(y);
      count++;
    }
  }
  const z = new Float64Array(C),
    logp = new Float64Array(C),
    g = new Float64Array(C),
    dz = new Float64Array(C);
  let ceTotal = 0,
    zTotal = 0,
    correct = 0;
  for (let i = 0; i < N; i++) {
    for (let k = 0; k < C; k++) {
      const v = logit(i, k);
      z[k] = cap > 0 ? cap * Math.tanh(v / cap) : v;
    }
    let m = -Infinity,
      am = 0;
    for (let k = 0; k < C; k++) if (z[k] > m) ((m = z[k]), (am = k));
    let sum = 0;
    for (let k = 0; k < C; k++) sum += Math.exp(z[k] - m);
    const lse = m + Math.log(sum);
    if (out.lse) out.lse[i] = lse;
    for (let k = 0; k < C; k++) logp[k] = z[k] - lse;
    const sw = p.sampleWeight ? p.sampleWeight[i] : 1;
    g.fill(0);
    let loss = 0;
    if (byIndex) {
      const y = target[i];
      if (y === ignoreIndex) {
        if (out.loss) out.loss[i] = 0;
        continue; // no loss, no gradient
      }
      if (am === y) correct++;
      loss = (1 - eps) * -w(y) * logp[y];
      g[y] += (1 - eps) * w(y);
      if (eps > 0)
        for (let k = 0; k < C; k++) {
          loss += (eps / C) * -w(k) * logp[k];
          g[k] += (eps / C) * w(k);
        }
    } else {
      for (let k = 0; k < C; k++) {
        const q = w(k) * ((1 - eps) * target[i * C + k] + eps / C);
        loss += -q * logp[k];
        g[k] = q;
      }
    }
    const zl = s * lse * lse;
    ceTotal += loss * sw;
    zTotal += zl * sw;
    if (out.loss) out.loss[i] = (loss + zl) * sw;
    const upstream = p.gradScale * sw * (reduction === 'none' && p.gradOutput ? p.gradOutput[i] : 1);
    const ceScale = upstream / (reduction === 'mean' ? denom : 1);
    const zScale = upstream / (reduction === 'mean' ? count : 1);
    let gsum = 0;
    for (let k = 0; k < C; k++) gsum += g[k];
    for (let k = 0; k < C; k++) {
      const pk = Math.exp(logp[k]);
      let d = ceScale * (pk * gsum - g[k]) + zScale * 2 * s * lse * pk;
      if (cap > 0) d *= 1 - (z[k] / cap) ** 2;
      dz[k] = d;
    }
    onRow(i, dz);
  }
  const accuracy = byIndex ? correct / count : NaN;
  if (reduction === 'mean') {
    const zLoss = s !== 0 ? zTotal / count : 0;
    return { loss: ceTotal / denom + zLoss, zLoss, accuracy };
  }
  if (reduction === 'sum') return { loss: ceTotal + zTotal, zLoss: zTotal, accuracy };
  return { loss: 0, zLoss: zTotal, accuracy };
}

export function linearCrossEntropyReference(
  p: LinearCrossEntropyProblem,
  out: LinearCrossEntropyOutputs,
  accumulate: boolean,
): LinearCrossEntropyValues {
  const { input: x, weight: W, bias, n: N, h: H, c: C } = p;
  const gW = new Float64Array(C * H),
    gB = new Float64Array(C),
    gX = new Float64Array(N * H);
  const logit = (i: number, k: number) => {
    let v = bias ? bias[k] : 0;
    for (let j = 0; j < H; j++) v += x[i * H + j] * W[k * H + j];
    return v;
  };
  const values = softmaxRowsReference(
    p,
    logit,
    (i, dz) => {
      for (let k = 0; k < C; k++) {
        const d = dz[k];
        gB[k] += d;
        for (let j = 0; j < H; j++) {
          gW[k * H + j] += d * x[i * H + j];
          gX[i * H + j] += d * W[k * H + j];
        }
      }
    },
    out,
  );
  const put = (dst: Float32Array | null, src: Float64Array) => {
    if (dst) for (let q = 0; q < src.length; q++) dst[q] = accumulate ? dst[q] + src[q] : src[q];
  };
  put(out.gradInput, gX);
  put(out.gradWeight, gW);
  put(out.gradBias, gB);
  return values;
}
