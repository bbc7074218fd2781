// Pure-TypeScript row-coupled losses (the oracle): PyTorch's formulas in float64, row by row.
export interface RowProblem {
  name: 'multiMarginLoss' | 'multilabelSoftMarginLoss' | 'cosineEmbeddingLoss' | 'softF1Loss' | 'cosineDistance';
  input: Float32Array;
  input2: Float32Array | null;
  targetIndex: Int32Array | null;
  target: Float32Array | null;
  weight: Float32Array | null;
  sampleWeight: Float32Array | null;
  gradOutput: Float32Array | null;
  n: number;
  c: number;
  reduction: 'mean' | 'sum' | 'none';
  gradScale: number;
  p: number;
  margin: number;
  eps: number;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const softplusNeg = (x: number) => Math.log1p(Math.exp(-Math.abs(x))) + Math.max(-x, 0); // log(1 + exp(-x))

/** Returns the reduced loss (0 for 'none'); writes grad (and grad2) and, for 'none', lossOut. */
export function rowLossReference(q: RowProblem, grad: Float32Array, grad2: Float32Array | null, lossOut: Float32Array | null): number {
  const { n: N, c: C, reduction } = q;
  const sw = (i: number) => (q.sampleWeight ? q.sampleWeight[i] : 1);
  const go = (i: number) => (reduction === 'none' && q.gradOutput ? q.gradOutput[i] : 1);
  const perSample = q.name !== 'softF1Loss';
  const denom = perSample ? N : C;
  const base = reduction === 'mean' ? q.gradScale / denom : q.gradScale;
  let total = 0;
  const emit = (i: number, l: number) => {
    if (lossOut) lossOut[i] = l;
    total += l;
  };

  if (q.name === 'multiMarginLoss') {
    const t = q.targetIndex!;
    for (let i = 0; i < N; i++) if (t[i] < 0 || t[i] >= C) throw new RangeError(`target[${i}] = ${t[i]}: expected a class id in [0, ${C})`);
    for (let i = 0; i < N; i++) {
      const y = t[i],
        xy = q.input[i * C + y],
        w = q.weight ? q.weight[y] : 1;
      const s = (base * go(i) * sw(i) * w) / C;
      let l = 0,
        gy = 0;
      const row = new Float64Array(C);
      for (let c = 0; c < C; c++) {
        if (c === y) continue;
        const z = q.margin - xy + q.input[i * C + c];
        if (z > 0) {
          l += q.p === 2 ? z * z : z;
          row[c] = q.p === 2 ? 2 * s * z : s;
          gy -= row[c];
        }
      }
      row[y] = gy;
      grad.set(row, i * C);
      emit(i, ((l * w) / C) * sw(i));
    }
  } else if (q.name === 'multilabelSoftMarginLoss') {
    const t = q.target!;
    const out = new Float64Array(C);
    for (let i = 0; i < N; i++) {
      let l = 0;
      const s = (base * go(i) * sw(i)) / C;
      for (let c = 0; c < C; c++) {
        const x = q.input[i * C + c],
          tc = t[i * C + c],
          w = q.weight ? q.weight[c] : 1;
        l += w * ((1 - tc) * x + softplusNeg(x));
        out[c] = w * (sigmoid(x) - tc) * s;
      }
      grad.set(out, i * C);
      emit(i, (l / C) * sw(i));
    }
  } else if (q.name === 'cosineDistance') {
    // tfjs: 1 − Σ t·x per row, gradient −t
    const t = q.target!,
      x = q.input;
    for (let i = 0; i < N; i++) {
      let dot = 0;
      for (let d = 0; d < C; d++) dot += t[i * C + d] * x[i * C + d];
      const s = base * go(i) * sw(i);
      for (let d = 0; d < C; d++) grad[i * C + d] = -s * t[i * C + d];
      emit(i, (1 - dot) * sw(i));
    }
  } else if (q.name === 'cosineEmbeddingLoss') {
    const t = q.target!,
      x1 = q.input,
      x2 = q.input2!;
    const g1 = new Float64Array(C),
      g2 = new Float64Array(C);
    for (let i = 0; i < N; i++) {
      let dot = 0,
        m1 = 0,
        m2 = 0;
      for (let d = 0; d < C; d++) {
        const a = x1[i * C + d],
          b = x2[i * C + d];
        dot += a * b;
        m1 += a * a;
        m2 += b * b;
      }
      m1 += 1e-12;
      m2 += 1e-12;
      const den = Math.sqrt(m1 * m2),
        cos = dot / den;
      let l = 0,
        dcos = 0;
      if (t[i] === 1) [l, dcos] = [1 - cos, -1];
      else if (t[i] === -1 && cos - q.margin >= 0) [l, dcos] = [cos - q.margin, 1];
      const s = base * go(i) * sw(i) * dcos;
      for (let d = 0; d < C; d++) {
        const a = x1[i * C + d],
          b = x2[i * C + d];
        g1[d] = s * (b / den - (cos * a) / m1);
        g2[d] = s * (a / den - (cos * b) / m2);
      }
      grad.set(g1, i * C);
      grad2!.set(g2, i * C);
      emit(i, l * sw(i));
    }
  } else {
    // soft F1 per label c: F1 = 2·Σ w·p·t / (Σ w·(p + t) + eps), p = sigmoid(x); loss 1 − F1
    const t = q.target!;
    const A = new Float64Array(C),
      B = new Float64Array(C).fill(q.eps);
    const p = Float64Array.from(q.input, sigmoid);
    for (let i = 0; i < N; i++)
      for (let c = 0; c < C; c++) {
        A[c] += sw(i) * p[i * C + c] * t[i * C + c];
        B[c] += sw(i) * (p[i * C + c] + t[i * C + c]);
      }
    for (let c = 0; c < C; c++) emit(c, 1 - (2 * A[c]) / B[c]);
    for (let i = 0; i < N; i++)
      for (let c = 0; c < C; c++) {
        const pr = p[i * C + c],
          tc = t[i * C + c];
        const df1 = (sw(i) * (2 * tc * B[c] - 2 * A[c])) / (B[c] * B[c]);
        grad[i * C + c] = -base * go(c) * df1 * pr * (1 - pr);
      }
  }
  if (reduction === 'none') return 0;
  return reduction === 'sum' ? total : total / denom;
}
