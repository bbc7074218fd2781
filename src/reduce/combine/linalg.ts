// The small T×T linear algebra the combine methods share: min-norm weights (Frank–Wolfe), simplex
// projection, Gaussian elimination, a box-constrained QP, the symmetric eigendecomposition. Float64.

export const at = (G: ArrayLike<number>, T: number, i: number, j: number) => G[i * T + j];

/** min over γ ∈ [0, 1] of ‖γ·v₁ + (1 − γ)·v₂‖² from v₁·v₁, v₁·v₂, v₂·v₂ (exact line search). */
export function lineMin(v11: number, v12: number, v22: number): number {
  if (v12 >= v11) return 1;
  if (v12 >= v22) return 0;
  return (v22 - v12) / (v11 + v22 - 2 * v12);
}

/**
 * The min-norm point of the convex hull of the gradients (MGDA, Sener & Koltun 2018): Frank–Wolfe on the
 * Gram matrix from the best pair with exact line search, as the paper's solver, plus away steps (so it
 * converges linearly) until the duality gap is below 1e-12 of the scale (at most 10000 iterations).
 * Returns the simplex weights α.
 */
export function minNormWeights(G: ArrayLike<number>, T: number, maxIter = 10000): Float64Array {
  const a = new Float64Array(T);
  if (T === 1) return ((a[0] = 1), a);
  let best = Infinity,
    bi = 0,
    bj = 1,
    bg = 0.5;
  for (let i = 0; i < T; i++)
    for (let j = i + 1; j < T; j++) {
      const g = lineMin(at(G, T, i, i), at(G, T, i, j), at(G, T, j, j));
      const cost = g * g * at(G, T, i, i) + 2 * g * (1 - g) * at(G, T, i, j) + (1 - g) * (1 - g) * at(G, T, j, j);
      if (cost < best) ((best = cost), (bi = i), (bj = j), (bg = g));
    }
  a[bi] = bg;
  a[bj] = 1 - bg;
  let scale = 0;
  for (let i = 0; i < T; i++) scale = Math.max(scale, Math.abs(at(G, T, i, i)));
  const Ga = new Float64Array(T),
    d = new Float64Array(T);
  for (let it = 0; it < maxIter; it++) {
    Ga.fill(0);
    for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) Ga[i] += at(G, T, i, j) * a[j];
    let aGa = 0;
    for (let i = 0; i < T; i++) aGa += a[i] * Ga[i];
    let s = 0,
      v = -1;
    for (let i = 1; i < T; i++) if (Ga[i] < Ga[s]) s = i;
    for (let i = 0; i < T; i++) if (a[i] > 0 && (v < 0 || Ga[i] > Ga[v])) v = i;
    const gapFw = aGa - Ga[s],
      gapAway = Ga[v] - aGa;
    if (Math.max(gapFw, gapAway) <= 1e-12 * Math.max(scale, 1e-300)) break;
    let gmax: number;
    if (gapFw >= gapAway) {
      for (let i = 0; i < T; i++) d[i] = (i === s ? 1 : 0) - a[i];
      gmax = 1;
    } else {
      for (let i = 0; i < T; i++) d[i] = a[i] - (i === v ? 1 : 0);
      gmax = a[v] < 1 ? a[v] / (1 - a[v]) : 0;
    }
    let dGd = 0,
      dGa = 0;
    for (let i = 0; i < T; i++) {
      dGa += d[i] * Ga[i];
      for (let j = 0; j < T; j++) dGd += d[i] * at(G, T, i, j) * d[j];
    }
    const g = dGd > 0 ? Math.min(gmax, Math.max(0, -dGa / dGd)) : gmax;
    if (g === 0) break;
    for (let i = 0; i < T; i++) a[i] = Math.max(0, a[i] + g * d[i]);
    if (gapFw < gapAway && g === gmax) a[v] = 0; // the away vertex left the active set
    let sum = 0;
    for (let i = 0; i < T; i++) sum += a[i];
    for (let i = 0; i < T; i++) a[i] /= sum;
  }
  return a;
}

/** Euclidean projection onto the probability simplex. */
export function projectSimplex(v: Float64Array): Float64Array {
  const u = Array.from(v).sort((x, y) => y - x);
  let css = 0,
    theta = 0;
  for (let i = 0; i < u.length; i++) {
    css += u[i];
    const t = (css - 1) / (i + 1);
    if (u[i] - t > 0) theta = t;
  }
  return v.map((x) => Math.max(x - theta, 0));
}

/** Solves A·x = b (n×n, row-major) by Gaussian elimination with partial pivoting. */
export function solve(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const M = A.slice(),
    x = b.slice();
  for (let col = 0; col < n; col++) {
    let p = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(M[r * n + col]) > Math.abs(M[p * n + col])) p = r;
    if (M[p * n + col] === 0) throw new RangeError('imtl: the task gradients are linearly dependent (singular system)');
    if (p !== col) {
      for (let k = 0; k < n; k++) [M[col * n + k], M[p * n + k]] = [M[p * n + k], M[col * n + k]];
      [x[col], x[p]] = [x[p], x[col]];
    }
    for (let r = col + 1; r < n; r++) {
      const f = M[r * n + col] / M[col * n + col];
      for (let k = col; k < n; k++) M[r * n + k] -= f * M[col * n + k];
      x[r] -= f * x[col];
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r];
    for (let k = r + 1; k < n; k++) s -= M[r * n + k] * x[k];
    x[r] = s / M[r * n + r];
  }
  return x;
}

/** min vᵀGv over v ≥ u (G positive definite), by cyclic coordinate descent to convergence. */
export function boxQp(G: Float64Array, u: Float64Array, T: number): Float64Array {
  const v = u.slice();
  for (let sweep = 0; sweep < 100000; sweep++) {
    let moved = 0;
    for (let i = 0; i < T; i++) {
      let r = 0;
      for (let j = 0; j < T; j++) if (j !== i) r += G[i * T + j] * v[j];
      const next = Math.max(u[i], -r / G[i * T + i]);
      moved = Math.max(moved, Math.abs(next - v[i]));
      v[i] = next;
    }
    if (moved < 1e-15) break;
  }
  return v;
}

/** Eigen-decomposition of a symmetric matrix (cyclic Jacobi): eigenvalues and eigenvectors (columns). */
export function symmetricEigen(A: ArrayLike<number>, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(A as ArrayLike<number>);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1),
          s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p],
            akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k],
            aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p],
            vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  return { values: Float64Array.from({ length: n }, (_, i) => a[i * n + i]), vectors: V };
}
