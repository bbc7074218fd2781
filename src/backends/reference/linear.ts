// Pure-TypeScript linear layer (the oracle): every sum in float64, the obvious loops.
export interface LinearProblem {
  batch: number;
  inFeatures: number;
  outFeatures: number;
}

/** y[b, o] = bias[o] + Σ_i x[b, i]·W[o, i]. */
export function linearForwardReference(
  p: LinearProblem,
  x: Float32Array,
  weight: Float32Array,
  bias: Float32Array | null,
  y: Float32Array,
): void {
  const { batch: B, inFeatures: I, outFeatures: O } = p;
  for (let b = 0; b < B; b++)
    for (let o = 0; o < O; o++) {
      let s = bias ? bias[o] : 0;
      for (let i = 0; i < I; i++) s += x[b * I + i] * weight[o * I + i];
      y[b * O + o] = s;
    }
}

/** gradWeight = gradOutᵀ·x, gradBias = Σ_b gradOut, gradInput = gradOut·W (each when given; += with accumulate). */
export function linearBackwardReference(
  p: LinearProblem,
  x: Float32Array | null,
  gradOut: Float32Array,
  weight: Float32Array | null,
  gradWeight: Float32Array | null,
  gradBias: Float32Array | null,
  gradInput: Float32Array | null,
  accumulate: boolean,
): void {
  const { batch: B, inFeatures: I, outFeatures: O } = p;
  const put = (a: Float32Array, k: number, s: number) => (a[k] = accumulate ? a[k] + s : s);
  if (gradWeight && x)
    for (let o = 0; o < O; o++)
      for (let i = 0; i < I; i++) {
        let s = 0;
        for (let b = 0; b < B; b++) s += gradOut[b * O + o] * x[b * I + i];
        put(gradWeight, o * I + i, s);
      }
  if (gradBias)
    for (let o = 0; o < O; o++) {
      let s = 0;
      for (let b = 0; b < B; b++) s += gradOut[b * O + o];
      put(gradBias, o, s);
    }
  if (gradInput && weight)
    for (let b = 0; b < B; b++)
      for (let i = 0; i < I; i++) {
        let s = 0;
        for (let o = 0; o < O; o++) s += gradOut[b * O + o] * weight[o * I + i];
        put(gradInput, b * I + i, s);
      }
}
