// Pure-TypeScript passes over task gradients (the oracle): float64 sums, the obvious loops.

export function gramReference(grads: readonly Float32Array[]): Float64Array {
  const T = grads.length,
    n = grads[0].length;
  const out = new Float64Array(T * T);
  for (let i = 0; i < T; i++)
    for (let j = i; j < T; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += grads[i][k] * grads[j][k];
      out[i * T + j] = out[j * T + i] = s;
    }
  return out;
}

export function combineReference(grads: readonly Float32Array[], coef: ArrayLike<number>, out: Float32Array): void {
  for (let k = 0; k < out.length; k++) {
    let s = 0;
    for (let t = 0; t < grads.length; t++) s += coef[t] * grads[t][k];
    out[k] = s;
  }
}

/** lowbias32 (the native generator's hash). */
function hash32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}
/** The native generator: u ∈ (0, 1) for element k from the hash of k keyed by the seed and k's high bits. */
export function uniformAt(seed: number, k: number): number {
  const hi = Math.floor(k / 4294967296),
    lo = k >>> 0;
  const seedLo = seed >>> 0,
    seedHi = Math.floor(seed / 4294967296) >>> 0;
  const key = hash32((seedLo ^ hash32((seedHi + Math.imul(0x9e3779b9, hi) + 0x85ebca6b) >>> 0)) >>> 0);
  return (hash32((lo ^ key) >>> 0) + 0.5) / 4294967296;
}

export function gradDropReference(grads: readonly Float32Array[], seed: number, out: Float32Array): void {
  for (let k = 0; k < out.length; k++) {
    let sum = 0,
      abs = 0;
    for (const g of grads) ((sum += g[k]), (abs += Math.abs(g[k])));
    // P = ½(1 + Σg/Σ|g|) > u, written without the division: Σg > Σ|g|·(2u − 1)
    const keepPositive = sum > abs * (2 * uniformAt(seed, k) - 1);
    let r = 0;
    // a NaN belongs to both parts (it propagates)
    for (const g of grads) if ((keepPositive ? g[k] > 0 : g[k] < 0) || Number.isNaN(g[k])) r += g[k];
    out[k] = r;
  }
}

export function totalNormReference(arrays: readonly Float32Array[], p: number): number {
  if (p === Infinity) {
    let m = 0;
    for (const a of arrays) for (const v of a) m = Math.abs(v) > m || Number.isNaN(v) ? Math.abs(v) : m;
    return m;
  }
  let s = 0;
  for (const a of arrays) for (const v of a) s += Math.abs(v) ** p;
  return p === 2 ? Math.sqrt(s) : p === 1 ? s : s ** (1 / p);
}
