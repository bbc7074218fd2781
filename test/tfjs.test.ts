// fuseloss/tfjs against TensorFlow.js's own losses on its cpu backend: the same values and gradients for
// every reduction and weights form, and a small tfjs model trained with either loss ends at the same
// weights (within tolerance).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { losses, Reduction } from '../src/tfjs';
import { expectClose, rng } from './helpers';

const fused = losses(tf as never);
beforeAll(async () => {
  await tf.setBackend('cpu');
});

type LossName =
  'softmaxCrossEntropy' | 'sigmoidCrossEntropy' | 'meanSquaredError' | 'absoluteDifference' | 'huberLoss' | 'hingeLoss' | 'logLoss';
const N = 7,
  C = 5;

function problem(name: LossName, seed: number) {
  const r = rng(seed);
  const pred = r.floats(N * C, 2);
  let labels: Float32Array;
  if (name === 'softmaxCrossEntropy')
    labels = Float32Array.from({ length: N * C }, (_, i) => (i % C === (Math.floor(i / C) * 3) % C ? 1 : 0));
  else if (name === 'sigmoidCrossEntropy' || name === 'hingeLoss')
    labels = Float32Array.from({ length: N * C }, () => (r.next() < 0.4 ? 1 : 0));
  else if (name === 'logLoss') labels = Float32Array.from({ length: N * C }, () => (r.next() < 0.3 ? r.next() : r.next() < 0.5 ? 1 : 0));
  else labels = r.floats(N * C, 1.5);
  if (name === 'logLoss') for (let i = 0; i < pred.length; i++) pred[i] = 0.02 + 0.96 / (1 + Math.exp(-pred[i])); // probabilities
  return { pred: tf.tensor(pred, [N, C]), labels: tf.tensor(labels, [N, C]) };
}

// tfjs's own call and ours, with the same optional arguments
function call(
  impl: 'tf' | 'fused',
  name: LossName,
  labels: tf.Tensor,
  pred: tf.Tensor,
  weights: tf.Tensor | number | undefined,
  reduction: Reduction,
  extra: number,
): tf.Tensor {
  const lib = impl === 'tf' ? (tf.losses as unknown as typeof fused) : fused;
  const w = weights as never;
  switch (name) {
    case 'softmaxCrossEntropy':
      return lib.softmaxCrossEntropy(labels as never, pred as never, w, extra, reduction) as never;
    case 'sigmoidCrossEntropy':
      return lib.sigmoidCrossEntropy(labels as never, pred as never, w, extra, reduction) as never;
    case 'huberLoss':
      return lib.huberLoss(labels as never, pred as never, w, extra || 1, reduction) as never;
    case 'hingeLoss':
      return lib.hingeLoss(labels as never, pred as never, w, reduction) as never;
    case 'logLoss':
      return lib.logLoss(labels as never, pred as never, w, extra || 1e-7, reduction) as never;
    case 'meanSquaredError':
      return lib.meanSquaredError(labels as never, pred as never, w, reduction) as never;
    default:
      return lib.absoluteDifference(labels as never, pred as never, w, reduction) as never;
  }
}

const names: LossName[] = [
  'softmaxCrossEntropy',
  'sigmoidCrossEntropy',
  'meanSquaredError',
  'absoluteDifference',
  'huberLoss',
  'hingeLoss',
  'logLoss',
];
const reductions = [Reduction.NONE, Reduction.MEAN, Reduction.SUM, Reduction.SUM_BY_NONZERO_WEIGHTS];

describe('fuseloss/tfjs = tf.losses (value and gradient)', () => {
  for (const name of names) {
    it.each(reductions.map((r) => [Reduction[r], r] as const))(`${name}, %s, each weights form`, (_, reduction) => {
      const { pred, labels } = problem(name, 3 + reduction);
      const lossShape = name === 'softmaxCrossEntropy' ? [N] : [N, C];
      const r = rng(40 + reduction);
      const weightForms: (tf.Tensor | number | undefined)[] = [
        undefined,
        0.7,
        tf.tensor(
          Float32Array.from({ length: lossShape.reduce((a, b) => a * b, 1) }, (_, i) => (i % 4 === 0 ? 0 : 0.25 + r.next())),
          lossShape,
        ),
        name === 'softmaxCrossEntropy'
          ? tf.tensor(Float32Array.of(2), [1])
          : tf.tensor(
              Float32Array.from({ length: N }, (_, i) => (i === 2 ? 0 : 0.5 + i / N)),
              [N, 1],
            ),
      ];
      const extras =
        name === 'softmaxCrossEntropy' || name === 'sigmoidCrossEntropy'
          ? [0, 0.2]
          : name === 'huberLoss'
            ? [1, 0.6]
            : name === 'logLoss'
              ? [1e-7, 1e-3]
              : [0];
      for (const weights of weightForms)
        for (const extra of extras) {
          const what = `weights ${weights === undefined ? 'none' : typeof weights === 'number' ? weights : `[${weights.shape}]`}, extra ${extra}`;
          const theirs = call('tf', name, labels, pred, weights, reduction, extra);
          const ours = call('fused', name, labels, pred, weights, reduction, extra);
          expect(ours.shape, what).toEqual(theirs.shape);
          expectClose(ours.dataSync() as Float32Array, theirs.dataSync() as Float32Array, 2e-5, 1e-6, `${what}: value`);
          // gradient of Σ (loss · fixed upstream) w.r.t. the predictions
          const up = tf.tensor(
            Float32Array.from({ length: theirs.size }, (_, i) => 1 + (i % 3) * 0.5),
            theirs.shape,
          );
          const gT = tf.grad((p: tf.Tensor) => tf.sum(tf.mul(call('tf', name, labels, p, weights, reduction, extra), up)))(pred);
          const gO = tf.grad((p: tf.Tensor) => tf.sum(tf.mul(call('fused', name, labels, p, weights, reduction, extra), up)))(pred);
          expectClose(gO.dataSync() as Float32Array, gT.dataSync() as Float32Array, 2e-5, 1e-6, `${what}: gradient`);
        }
    });
  }

  it.each([[1], [-1], [0]])('cosineDistance along axis %i: value and gradient, every reduction and weights form', (axis) => {
    const r = rng(60 + axis);
    const labels = tf.tensor(r.floats(N * C), [N, C]),
      pred = tf.tensor(r.floats(N * C, 2), [N, C]);
    const lossShape = axis === 0 ? [1, C] : [N, 1];
    for (const reduction of reductions)
      for (const weights of [
        undefined,
        0.5,
        tf.tensor(
          Float32Array.from({ length: lossShape[0] * lossShape[1] }, (_, i) => (i % 3 === 0 ? 0 : 1 + i / 10)),
          lossShape,
        ),
      ]) {
        const what = `${Reduction[reduction]}, weights ${weights === undefined ? 'none' : typeof weights === 'number' ? weights : 'tensor'}`;
        const theirs = tf.losses.cosineDistance(labels, pred, axis, weights, reduction);
        const ours = fused.cosineDistance(labels as never, pred as never, axis, weights as never, reduction) as unknown as tf.Tensor;
        expect(ours.shape, what).toEqual(theirs.shape);
        expectClose(ours.dataSync() as Float32Array, theirs.dataSync() as Float32Array, 2e-5, 1e-6, `${what}: value`);
        const up = tf.tensor(
          Float32Array.from({ length: theirs.size }, (_, i) => 1 + (i % 3) * 0.5),
          theirs.shape,
        );
        const gT = tf.grad((p: tf.Tensor) => tf.sum(tf.mul(tf.losses.cosineDistance(labels, p, axis, weights, reduction), up)))(pred);
        const gO = tf.grad((p: tf.Tensor) =>
          tf.sum(tf.mul(fused.cosineDistance(labels as never, p as never, axis, weights as never, reduction) as unknown as tf.Tensor, up)),
        )(pred);
        expectClose(gO.dataSync() as Float32Array, gT.dataSync() as Float32Array, 2e-5, 1e-6, `${what}: gradient`);
      }
    expect(() => fused.cosineDistance(labels as never, pred as never, 2)).toThrow(/axis 2 is out of range for rank 2/);
  });

  it('shape mismatches are named', () => {
    expect(() => fused.meanSquaredError(tf.zeros([2, 3]) as never, tf.zeros([3, 2]) as never)).toThrow(
      /meanSquaredError: labels shape \[2, 3\] and predictions shape \[3, 2\] must match/,
    );
  });
});

describe('a tfjs model trains to the same weights with either loss', () => {
  it.each([['softmaxCrossEntropy'], ['meanSquaredError']] as const)('%s', async (name) => {
    const r = rng(8);
    const X = tf.tensor(r.floats(64 * 4), [64, 4]);
    const Y =
      name === 'softmaxCrossEntropy'
        ? tf
            .oneHot(
              tf.tensor1d(
                Int32Array.from({ length: 64 }, (_, i) => i % 3),
                'int32',
              ),
              3,
            )
            .cast('float32')
        : tf.tensor(r.floats(64 * 3), [64, 3]);
    const train = async (loss: (y: tf.Tensor, p: tf.Tensor) => tf.Tensor) => {
      const model = tf.sequential({
        layers: [
          tf.layers.dense({ units: 8, activation: 'tanh', inputShape: [4], kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
          tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
        ],
      });
      model.compile({ optimizer: tf.train.sgd(0.1), loss: loss as never });
      await model.fit(X, Y, { epochs: 15, batchSize: 16, shuffle: false, verbose: 0 });
      return model.getWeights().map((w) => Float32Array.from(w.dataSync()));
    };
    const theirs = await train(
      (y, p) => (name === 'softmaxCrossEntropy' ? tf.losses.softmaxCrossEntropy(y, p) : tf.losses.meanSquaredError(y, p)) as tf.Tensor,
    );
    const ours = await train(
      (y, p) =>
        (name === 'softmaxCrossEntropy'
          ? fused.softmaxCrossEntropy(y as never, p as never)
          : fused.meanSquaredError(y as never, p as never)) as never,
    );
    theirs.forEach((w, i) => expectClose(ours[i], w, 1e-4, 1e-5, `weights ${i}`));
  });
});
