// Pure-TypeScript nll loss (PyTorch's F.nll_loss): ℓ = -w_y·x_y on log-probabilities; 'mean' divides by
// Σ w_y over the non-ignored targets. The gradient is -w_y·scale at the target, 0 elsewhere.
import type { CrossEntropyProblem } from './crossEntropy';

export function nllLossReference(p: CrossEntropyProblem, grad: Float32Array, lossOut: Float32Array | null): number {
  const { input, n, c: C, s: S, weight, ignoreIndex, reduction } = p;
  const target = p.target as Int32Array;
  let denom = 0;
  for (let q = 0; q < n * S; q++) {
    const y = target[q];
    if (y === ignoreIndex) continue;
    if (y < 0 || y >= C) throw new RangeError(`target[${q}] = ${y}: expected a class id in [0, ${C}) or ignoreIndex (${ignoreIndex})`);
    denom += weight ? weight[y] : 1;
  }
  // The targets' logits are read before the gradient is written (grad may alias input).
  const xy = Float64Array.from({ length: n * S }, (_, q) => {
    const y = target[q];
    return y === ignoreIndex ? 0 : input[(Math.floor(q / S) * C + y) * S + (q % S)];
  });
  grad.fill(0);
  let total = 0;
  for (let q = 0; q < n * S; q++) {
    const i = Math.floor(q / S),
      j = q % S,
      y = target[q];
    if (y === ignoreIndex) {
      if (lossOut) lossOut[q] = 0;
      continue;
    }
    const w = weight ? weight[y] : 1,
      sw = p.sampleWeight ? p.sampleWeight[i] : 1;
    const loss = -w * xy[q] * sw;
    let scale = p.gradScale * sw;
    if (reduction === 'mean') scale /= denom;
    if (reduction === 'none' && p.gradOutput) scale *= p.gradOutput[q];
    grad[(i * C + y) * S + j] = -w * scale;
    if (lossOut) lossOut[q] = loss;
    total += loss;
  }
  if (reduction === 'mean') return total / denom;
  return reduction === 'sum' ? total : 0;
}
