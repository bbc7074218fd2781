// The bench's peers measure the same thing fuseloss does: the onnxruntime-node peer's committed ONNX
// graphs (bench/peers/models) and the TensorFlow.js peer's tf.losses expressions give the same loss and
// gradient as fuseloss on a small input; and the tfjs peer's own check rejects a peer that differs.
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import * as fl from '../src/index';
import { caseData, compare, loadTf, type TfCaseLoss, tfjsLoss } from '../bench/peers/tfjs';
import { expectClose, rng } from './helpers';

const models = join(__dirname, '..', 'bench', 'peers', 'models');

describe('bench peers', () => {
  it('onnxruntime cross-entropy graph = fuseloss crossEntropy (loss and gradient)', async () => {
    const n = 37,
      c = 11;
    const r = rng(5);
    const x = r.floats(n * c, 2),
      ids = Int32Array.from({ length: n }, () => r.int(0, c));
    const ours = fl.crossEntropy(x, ids, { shape: [n, c] });
    const session = await ort.InferenceSession.create(join(models, 'cross_entropy.onnx'));
    const out = await session.run({
      logits: new ort.Tensor('float32', x, [n, c]),
      labels: new ort.Tensor(
        'int64',
        BigInt64Array.from(ids, (v) => BigInt(v)),
        [n],
      ),
    });
    expect((out.loss.data as Float32Array)[0]).toBeCloseTo(ours.loss, 5);
    expectClose(out.grad.data as Float32Array, ours.grad, 1e-5, 1e-6, 'grad');
  });

  it('onnxruntime MSE graph = fuseloss mseLoss (loss and gradient)', async () => {
    const r = rng(6);
    const x = r.floats(8 * 13),
      t = r.floats(8 * 13);
    const ours = fl.mseLoss(x, t, { shape: [8, 13] });
    const session = await ort.InferenceSession.create(join(models, 'mse.onnx'));
    const out = await session.run({ x: new ort.Tensor('float32', x, [8, 13]), t: new ort.Tensor('float32', t, [8, 13]) });
    expect((out.loss.data as Float32Array)[0]).toBeCloseTo(ours.loss, 5);
    expectClose(out.grad.data as Float32Array, ours.grad, 1e-5, 1e-6, 'grad');
  });

  const tfjsCases: TfCaseLoss[] = ['crossEntropy', 'mseLoss', 'huberLoss', 'binaryCrossEntropyWithLogits', 'l1Loss'];
  it.each(tfjsCases)('tfjs peer %s = fuseloss (loss and gradient)', async (loss) => {
    const loaded = await loadTf();
    expect(loaded, '@tensorflow/tfjs is a dev dependency and must load').not.toBeNull();
    const { tf } = loaded!;
    const n = 19,
      c = loss === 'crossEntropy' ? 7 : 5;
    const { input, target } = caseData(loss, n, c, 11);
    const fn = (fl as unknown as Record<string, (x: Float32Array, t: unknown, o: object) => { loss: number; grad: Float32Array }>)[loss];
    const ours = fn(input, target, { shape: [n, c] });
    const x = tf.tensor2d(input, [n, c]);
    const r = tf.valueAndGrad(tfjsLoss(tf, loss, target, n, c))(x);
    const value = r.value.dataSync()[0],
      grad = r.grad.dataSync();
    expect(value).toBeCloseTo(ours.loss, 5);
    expectClose(grad, ours.grad, 1e-5, 1e-6, 'grad');
    expect(compare(value, grad, ours.loss, ours.grad)).toBeNull();
    tf.dispose([x, r.value, r.grad]);
  });

  it('the tfjs peer check rejects a different loss value or gradient', () => {
    const g = Float32Array.of(0.1, -0.2, 0.3);
    expect(compare(1, g, 1, g)).toBeNull();
    expect(compare(1.1, g, 1, g)).toMatch(/loss mismatch/);
    expect(compare(1, Float32Array.of(0.1, -0.2, 0.31), 1, g)).toMatch(/gradient mismatch at 2/);
    expect(compare(1, g.subarray(1), 1, g)).toMatch(/gradient length/);
  });
});
