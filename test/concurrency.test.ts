// Concurrency: many async calls in flight at once, calls from worker_threads, and resizing the pool while
// work runs all give the same bits as serial sync calls.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import * as fl from '../src/index';
import { expectSameBits, rng } from './helpers';

function problems(count: number) {
  return Array.from({ length: count }, (_, i) => {
    const r = rng(5000 + i);
    const n = 8 + (i % 13),
      c = 3 + ((i * 7) % 40);
    return { n, c, x: r.floats(n * c, 2), t: Int32Array.from({ length: n }, () => r.int(0, c)), y: r.floats(n * c) };
  });
}

describe('concurrency', () => {
  it('1000 concurrent async calls (cross-entropy and MSE) match serial sync calls', async () => {
    const ps = problems(500);
    const serial = ps.map((p) => [fl.crossEntropy(p.x, p.t, { shape: [p.n, p.c] }), fl.mseLoss(p.x, p.y, { shape: [p.n, p.c] })] as const);
    const parallel = await Promise.all(
      ps.map((p) => Promise.all([fl.crossEntropyAsync(p.x, p.t, { shape: [p.n, p.c] }), fl.mseLossAsync(p.x, p.y, { shape: [p.n, p.c] })])),
    );
    parallel.forEach(([ce, mse], i) => {
      expect(Object.is(ce.loss, serial[i][0].loss)).toBe(true);
      expectSameBits(ce.grad, serial[i][0].grad);
      expect(Object.is(mse.loss, serial[i][1].loss)).toBe(true);
      expectSameBits(mse.grad, serial[i][1].grad);
    });
  });

  it('resizing the thread pool while async work runs is safe and changes no bits', async () => {
    const r = rng(77);
    const x = r.floats(2048 * 1000, 3),
      t = Int32Array.from({ length: 2048 }, () => r.int(0, 1000));
    const expected = fl.crossEntropy(x, t, { shape: [2048, 1000] });
    const initial = fl.getNumThreads();
    const pending = Array.from({ length: 40 }, () => fl.crossEntropyAsync(x, t, { shape: [2048, 1000] }));
    for (const n of [1, 4, 2, 8, 1, initial]) fl.setNumThreads(n);
    for (const r2 of await Promise.all(pending)) {
      expect(Object.is(r2.loss, expected.loss)).toBe(true);
      expectSameBits(r2.grad, expected.grad);
    }
    expect(fl.getNumThreads()).toBe(initial);
  });

  it('4 worker_threads compute the same bits as the main thread', async () => {
    const dist = join(__dirname, '..', 'dist', 'cjs', 'index.js');
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const fl = require(${JSON.stringify(dist)});
      const { x, t, n, c } = workerData;
      const ce = fl.crossEntropy(x, t, { shape: [n, c], labelSmoothing: 0.1 });
      fl.crossEntropyAsync(x, t, { shape: [n, c], labelSmoothing: 0.1 }).then((a) => {
        parentPort.postMessage({ loss: ce.loss, grad: ce.grad, asyncLoss: a.loss, asyncGrad: a.grad });
      });`;
    const r = rng(99);
    const n = 512,
      c = 300;
    const x = r.floats(n * c, 2),
      t = Int32Array.from({ length: n }, () => r.int(0, c));
    const expected = fl.crossEntropy(x, t, { shape: [n, c], labelSmoothing: 0.1 });
    const results = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<{ loss: number; grad: Float32Array; asyncLoss: number; asyncGrad: Float32Array }>((resolve, reject) => {
            const w = new Worker(code, { eval: true, workerData: { x, t, n, c } });
            w.once('message', (m) => {
              resolve(m);
              void w.terminate();
            });
            w.once('error', reject);
          }),
      ),
    );
    for (const m of results) {
      expect(Object.is(m.loss, expected.loss)).toBe(true);
      expect(Object.is(m.asyncLoss, expected.loss)).toBe(true);
      expectSameBits(m.grad, expected.grad);
      expectSameBits(m.asyncGrad, expected.grad);
    }
  });

  it('terminating a worker_thread while its async calls run neither hangs nor crashes; exit with work in flight is clean', async () => {
    const dist = join(__dirname, '..', 'dist', 'cjs', 'index.js');
    const code = `
      const { parentPort } = require('node:worker_threads');
      const fl = require(${JSON.stringify(dist)});
      const n = 2048, c = 2000;
      const x = new Float32Array(n * c).fill(0.5), t = new Int32Array(n);
      for (let i = 0; i < 8; i++) void fl.crossEntropyAsync(x, t, { shape: [n, c] });
      parentPort.postMessage('started');`;
    for (let k = 0; k < 3; k++) {
      const w = new Worker(code, { eval: true });
      await new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
      await w.terminate(); // resolves: the thread ended while its calls were still running
    }
    // the main thread's pool still works and gives the same bits
    const r = rng(3);
    const x = r.floats(64 * 10),
      t = Int32Array.from({ length: 64 }, () => r.int(0, 10));
    const again = fl.crossEntropy(x, t, { shape: [64, 10] });
    expectSameBits(again.grad, fl.crossEntropy(x, t, { shape: [64, 10] }).grad);
    // a process that exits (explicitly, or by running out of work) with async calls in flight and pool threads alive
    for (const ending of ['process.exit(0)', '']) {
      const script = `const fl = require(${JSON.stringify(dist)}); fl.setNumThreads(2);
        const x = new Float32Array(2048 * 2000).fill(0.5), t = new Int32Array(2048);
        for (let i = 0; i < 4; i++) void fl.crossEntropyAsync(x, t, { shape: [2048, 2000] });
        setTimeout(() => { ${ending} }, 5);`;
      const res = spawnSync(process.execPath, ['-e', script], { timeout: 30000 });
      expect(res.status, String(res.stderr)).toBe(0);
      expect(res.signal).toBeNull();
    }
  }, 60_000); // three workers and two child processes loading the addon: seconds under ASan on a busy machine; a hang still fails
});
