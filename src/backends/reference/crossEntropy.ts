// Pure-TypeScript softmax cross-entropy: the oracle for tests and the baseline for benchmarks.
// Written straight from PyTorch's definition, in float64, one (sample, position) at a time:
//   logp = log_softmax(x) over the class dim
//   class ids:     ℓ = (1-ε)·(-w_y·logp_y) + (ε/C)·(-Σ_c w_c·logp_c); ignored targets give 0
//   probabilities: ℓ = -Σ_c w_c·((1-ε)·t_c + ε/C)·logp_c
//   'mean' divides by Σ w_y over non-ignored targets (class ids) or by N·d1·…·dk (probabilities).
// Gradients are the derivatives of ℓ times the reduction's scale (dℓ/dx_c = Σ_k g_k·(δ_kc - p_c) with
// g_k = -dℓ/dlogp_k).
import type { Reduction } from '../../losses/ops';

export interface CrossEntropyProblem {
  input: Float32Array;
  /** Class ids [N, S] or probabilities [N, C, S]. */
  target: Int32Array | Float32Array;
  n: number;
  c: number;
  s: number;
  weight: Float32Array | null;
  /** Per-sample weights [N] (multiply losses and gradients before the reduction), or null. */
  sampleWeight: Float32Array | null;
  ignoreIndex: number;
  labelSmoothing: number;
  reduction: Reduction;
  gradScale: number;
  gradOutput: Float32Array | null;
}

/** Returns the reduced loss (0 for 'none') and writes grad [N, C, S] and, for 'none', lossOut [N, S]. */
export function crossEntropyReference(p: CrossEntropyProblem, grad: Float32Array, lossOut: Float32Array | null): number {
  const { input, target, n, c: C, s: S, weight, ignoreIndex, labelSmoothing: eps, reduction } = p;
  const byIndex = target instanceof Int32Array;
  const w = (k: number) => (weight ? weight[k] : 1);
  const at = (i: number, k: number, j: number) => (i * C + k) * S + j;

  // Validate every class id before writing anything.
  let denom = n * S;
  if (byIndex) {
    denom = 0;
    for (let q = 0; q < n * S; q++) {
      const y = target[q];
      if (y === ignoreIndex) continue;
      if (y < 0 || y >= C) throw new RangeError(`target[${q}] = ${y}: expected a class id in [0, ${C}) or ignoreIndex (${ignoreIndex})`);
      denom += w(y);
    }
  }
  // Input is read fully before grad is written, row by row, so grad may alias input (in place).
  const logp = new Float64Array(C);
  const g = new Float64Array(C); // -dℓ/dlogp
  let total = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < S; j++) {
      let m = -Infinity;
      for (let k = 0; k < C; k++) m = Math.max(m, input[at(i, k, j)]);
      let sum = 0;
      for (let k = 0; k < C; k++) sum += Math.exp(input[at(i, k, j)] - m);
      const lse = m + Math.log(sum);
      for (let k = 0; k < C; k++) logp[k] = input[at(i, k, j)] - lse;

      let loss = 0;
      g.fill(0);
      if (byIndex) {
        const y = target[i * S + j];
        if (y === ignoreIndex) {
          for (let k = 0; k < C; k++) grad[at(i, k, j)] = 0;
          if (lossOut) lossOut[i * S + j] = 0;
          continue;
        }
        loss = (1 - eps) * -w(y) * logp[y];
        g[y] += (1 - eps) * w(y);
        if (eps > 0) {
          for (let k = 0; k < C; k++) {
            loss += (eps / C) * -w(k) * logp[k];
            g[k] += (eps / C) * w(k);
          }
        }
      } else {
        for (let k = 0; k < C; k++) {
          const tk = Math.fround(target[at(i, k, j)] * Math.fround(1 - eps) + Math.fround(eps / C));
          const q = w(k) * (eps > 0 ? tk : target[at(i, k, j)]);
          loss += -q * logp[k];
          g[k] = q;
        }
      }
      const sw = p.sampleWeight ? p.sampleWeight[i] : 1;
      loss *= sw;
      let scale = p.gradScale * sw;
      if (reduction === 'mean') scale /= denom;
      if (reduction === 'none' && p.gradOutput) scale *= p.gradOutput[i * S + j];
      let gsum = 0;
      for (let k = 0; k < C; k++) gsum += g[k];
      for (let k = 0; k < C; k++) grad[at(i, k, j)] = scale * (Math.exp(logp[k]) * gsum - g[k]);
      if (lossOut) lossOut[i * S + j] = loss;
      total += loss;
    }
  }
  if (reduction === 'mean') return total / denom;
  if (reduction === 'sum') return total;
  return 0;
}
