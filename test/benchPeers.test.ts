// The bench's onnxruntime-node peer measures the same thing fuseloss does: its committed ONNX graphs
// (bench/peers/models) give the same loss and gradient as fuseloss on a small input.
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import * as fl from '../src/index';
import { expectClose, rng } from './helpers';

const models = join(__dirname, '..', 'bench', 'peers', 'models');

describe('bench peers', () => {
  it('onnxruntime cross-entropy graph = fuseloss crossEntropy (loss and gradient)', async () => {
    const n = 37, c = 11;
    const r = rng(5);
    const x = r.floats(n * c, 2), ids = Int32Array.from({ length: n }, () => r.int(0, c));
    const ours = fl.crossEntropy(x, ids, { shape: [n, c] });
    const session = await ort.InferenceSession.create(join(models, 'cross_entropy.onnx'));
    const out = await session.run({ logits: new ort.Tensor('float32', x, [n, c]), labels: new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [n]) });
    expect((out.loss.data as Float32Array)[0]).toBeCloseTo(ours.loss, 5);
    expectClose(out.grad.data as Float32Array, ours.grad, 1e-5, 1e-6, 'grad');
  });

  it('onnxruntime MSE graph = fuseloss mseLoss (loss and gradient)', async () => {
    const r = rng(6);
    const x = r.floats(8 * 13), t = r.floats(8 * 13);
    const ours = fl.mseLoss(x, t, { shape: [8, 13] });
    const session = await ort.InferenceSession.create(join(models, 'mse.onnx'));
    const out = await session.run({ x: new ort.Tensor('float32', x, [8, 13]), t: new ort.Tensor('float32', t, [8, 13]) });
    expect((out.loss.data as Float32Array)[0]).toBeCloseTo(ours.loss, 5);
    expectClose(out.grad.data as Float32Array, ours.grad, 1e-5, 1e-6, 'grad');
  });
});
