// Soak: a million small calls and a thousand large ones (sync, async and multi-task) leave the resident
// set within a stated bound — no leak per call in the addon, its async workers or the pool.
import { describe, expect, it } from 'vitest';
import * as fl from '../src/index';
import { rng } from './helpers';

const MiB = 1024 * 1024;
const settle = async () => {
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 20));
};

describe('soak', () => {
  it('1e6 small calls and 1e3 large ones: RSS grows by less than 64 MiB', async () => {
    const r = rng(1);
    const x = r.floats(32 * 10),
      t = Int32Array.from({ length: 32 }, (_, i) => i % 10),
      y = r.floats(32 * 10);
    const g = new Float32Array(320);
    const bigX = r.floats(2048 * 1000),
      bigT = Int32Array.from({ length: 2048 }, (_, i) => (i * 31) % 1000),
      bigG = new Float32Array(2048 * 1000);
    const mtl = new fl.MultiTaskLoss({ tasks: { a: { loss: 'crossEntropy' }, b: { loss: 'mseLoss' } }, weighting: { strategy: 'gls' } });
    const batch = { a: { input: x, target: t, shape: [32, 10] }, b: { input: y, target: x, shape: [32, 10] } };
    // warm up (allocators, JIT, pool threads), then measure
    for (let i = 0; i < 20000; i++) fl.crossEntropy(x, t, { shape: [32, 10], out: { grad: g } });
    await settle();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 700000; i++) fl.crossEntropy(x, t, { shape: [32, 10], out: { grad: g } });
    for (let i = 0; i < 200000; i++) fl.mseLoss(x, y, { shape: [32, 10], out: { grad: g } });
    for (let i = 0; i < 100000; i++) mtl.compute(batch);
    for (let k = 0; k < 100; k++) await Promise.all(Array.from({ length: 100 }, () => fl.mseLossAsync(x, y, { shape: [32, 10] })));
    for (let i = 0; i < 1000; i++) fl.crossEntropy(bigX, bigT, { shape: [2048, 1000], out: { grad: bigG } });
    await settle();
    const grown = (process.memoryUsage().rss - before) / MiB;
    expect(grown).toBeLessThan(64);
  }, 120000);
});
