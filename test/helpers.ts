import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';

/** Deterministic PRNG (mulberry32) so random tests replay. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo)),
    floats: (n: number, scale = 1) => Float32Array.from({ length: n }, () => normal() * scale),
  };
}

export function decode(values: (number | string)[]): Float32Array {
  return Float32Array.from(values, (v) => (typeof v === 'string' ? Number(v) : v));
}

export interface FixtureCase {
  name: string;
  shape: number[];
  input: (number | string)[];
  targetKind: 'index' | 'prob';
  target: (number | string)[];
  options: {
    reduction: 'mean' | 'sum' | 'none';
    ignoreIndex: number;
    labelSmoothing: number;
    weight?: (number | string)[];
    gradOutput?: (number | string)[];
    gradScale?: number;
    sampleWeight?: (number | string)[];
  };
  loss: number | string | (number | string)[];
  grad: (number | string)[];
}

export function loadFixtures(name: string): { torch: string; cases: FixtureCase[] } {
  return JSON.parse(readFileSync(join(__dirname, 'fixtures', `${name}.json`), 'utf8'));
}

/**
 * |actual - expected| <= atol + rtol·|expected| elementwise, where atol = atolFrac · max|expected| (so
 * a tensor's tiny entries are judged on the tensor's scale). NaN must match NaN and infinities match exactly.
 */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atolFrac: number, label = ''): void {
  expect(actual.length, `${label} length`).toBe(expected.length);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) if (Number.isFinite(expected[i])) scale = Math.max(scale, Math.abs(expected[i]));
  const atol = atolFrac * scale;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i],
      e = expected[i];
    if (Number.isNaN(e) || !Number.isFinite(e)) {
      if (!Object.is(a, e)) expect.fail(`${label}[${i}]: expected ${e}, got ${a}`);
      continue;
    }
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e)))
      expect.fail(`${label}[${i}]: expected ${e}, got ${a} (diff ${Math.abs(a - e)}, tol ${atol + rtol * Math.abs(e)})`);
  }
}

export function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/**
 * Bit-identical float arrays (fast on large arrays; reports the first difference). `nanPayloads: false`
 * accepts any NaN for a NaN (devices differ in the NaN they produce; the payload carries no meaning).
 */
export function expectSameBits(actual: Float32Array, expected: Float32Array, label = '', options: { nanPayloads?: boolean } = {}): void {
  expect(actual.length, `${label} length`).toBe(expected.length);
  const a = bits(actual),
    e = bits(expected);
  const anyNaN = options.nanPayloads === false;
  for (let i = 0; i < a.length; i++)
    if (a[i] !== e[i] && !(anyNaN && Number.isNaN(actual[i]) && Number.isNaN(expected[i])))
      expect.fail(`${label}[${i}]: expected ${expected[i]} (0x${e[i].toString(16)}), got ${actual[i]} (0x${a[i].toString(16)})`);
}

/** The four-task MultiTaskLoss problem of the CUDA tests (one task fully masked) and its tasks. */
export function mtlBatch(r: ReturnType<typeof rng>, n: number) {
  return {
    species: { input: r.floats(n * 1000, 2), target: Int32Array.from({ length: n }, (_, i) => (i * 7919) % 1000), shape: [n, 1000] },
    sex: { input: r.floats(n * 100, 2), target: Float32Array.from({ length: n * 100 }, (_, i) => (i % 3 === 0 ? 1 : 0)), shape: [n, 100] },
    mass: { input: r.floats(n * 8), target: r.floats(n * 8), shape: [n, 8] },
    masked: { input: r.floats(n * 5), target: new Int32Array(n).fill(-100), shape: [n, 5] },
  };
}
export const MTL_TASKS = {
  species: { loss: 'crossEntropy', labelSmoothing: 0.1 },
  sex: { loss: 'binaryCrossEntropyWithLogits' },
  mass: { loss: 'huberLoss', delta: 1 },
  masked: { loss: 'crossEntropy' },
} as const;
