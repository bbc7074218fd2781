// Random elementwise-loss problems in each loss's domain and option sets (shared by the CPU and CUDA suites).
import type { ElementwiseName } from '../../src/losses/ops';
import { rng } from '../helpers';

// Random problems in each loss's domain.
export function problem(name: ElementwiseName, seed: number, numel: number) {
  const r = rng(seed);
  const input = new Float32Array(numel),
    target = new Float32Array(numel);
  for (let i = 0; i < numel; i++) {
    const u = r.next(),
      z = r.floats(1, 2)[0];
    switch (name) {
      case 'binaryCrossEntropy':
        input[i] = r.next();
        target[i] = u;
        break;
      case 'binaryCrossEntropyWithLogits':
      case 'sigmoidFocalLoss':
        input[i] = z;
        target[i] = u < 0.3 ? 1 : u < 0.9 ? 0 : r.next();
        break;
      case 'hingeEmbeddingLoss':
      case 'softMarginLoss':
        input[i] = z;
        target[i] = u < 0.5 ? 1 : -1;
        break;
      case 'hingeLoss':
        input[i] = z;
        target[i] = u < 0.5 ? 1 : 0;
        break;
      case 'logLoss':
        input[i] = r.next();
        target[i] = u < 0.4 ? 1 : u < 0.8 ? 0 : r.next();
        break;
      case 'klDiv':
        input[i] = -Math.abs(z);
        target[i] = u < 0.1 ? 0 : r.next();
        break;
      case 'poissonNllLoss':
        input[i] = z;
        target[i] = Math.floor(u * 6);
        break;
      default:
        input[i] = z;
        target[i] = r.floats(1, 1)[0];
    }
  }
  return { input, target };
}

export const optionSets: Record<ElementwiseName, Record<string, unknown>[]> = {
  mseLoss: [{}],
  l1Loss: [{}],
  smoothL1Loss: [{}, { beta: 0.3 }, { beta: 0 }],
  huberLoss: [{}, { delta: 0.4 }],
  binaryCrossEntropy: [{}, { weight: 'classes' }, { weight: 'elements' }],
  binaryCrossEntropyWithLogits: [{}, { posWeight: 'classes' }, { weight: 'classes', posWeight: 'classes' }],
  hingeEmbeddingLoss: [{}, { margin: -0.5 }],
  klDiv: [{}, { logTarget: true }],
  poissonNllLoss: [{}, { logInput: false, eps: 1e-6 }, { full: true }],
  sigmoidFocalLoss: [{}, { alpha: -1 }, { gamma: 0 }, { gamma: 1, alpha: 0.5 }],
  hingeLoss: [{}],
  logLoss: [{}, { epsilon: 1e-3 }, { epsilon: 0 }],
  softMarginLoss: [{}],
};

export function materialize(name: ElementwiseName, o: Record<string, unknown>, shape: number[], seed: number) {
  const r = rng(seed);
  const numel = shape.reduce((a, b) => a * b, 1),
    classes = shape[shape.length - 1];
  const out: Record<string, unknown> = { ...o };
  for (const k of ['weight', 'posWeight'])
    if (o[k]) out[k] = Float32Array.from({ length: o[k] === 'classes' ? classes : numel }, () => 0.25 + 2 * r.next());
  if (name === 'klDiv' && o.logTarget) out.logTarget = true;
  return out;
}
