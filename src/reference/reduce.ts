// Pure-TypeScript passes over task gradients (the oracle): float64 sums, the obvious loops.

export function gramReference(grads: readonly Float32Array[]): Float64Array {
  const T = grads.length, n = grads[0].length;
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

const M64 = (1n << 64n) - 1n;
/** The native generator: splitmix64 of (seed, k), 53 bits, in [0, 1). */
export function uniformAt(seed: number, k: number): number {
  let z = (BigInt(seed) + 0x9e3779b97f4a7c15n * BigInt(k + 1)) & M64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
  z ^= z >> 31n;
  return Number(z >> 11n) / 9007199254740992;
}

export function gradDropReference(grads: readonly Float32Array[], seed: number, out: Float32Array): void {
  for (let k = 0; k < out.length; k++) {
    let sum = 0, abs = 0;
    for (const g of grads) (sum += g[k]), (abs += Math.abs(g[k]));
    const P = abs > 0 ? 0.5 * (1 + sum / abs) : 0.5;
    const keepPositive = P > uniformAt(seed, k);
    let r = 0;
    for (const g of grads) if (keepPositive ? g[k] > 0 : g[k] < 0) r += g[k];
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
