// A small valid problem ([4, 3]) for every loss of the catalogue, and how to call it (shared by the
// nanPolicy and bad-input suites).
import * as fl from '../../src/index';
import { problem } from './elementwiseProblems';
import { rng } from '../helpers';

type Call = (input: Float32Array, target: unknown, options: Record<string, unknown>) => { loss: unknown; grad: Float32Array };
const fn = (name: string) => (fl as unknown as Record<string, Call>)[name];

/** A valid problem of shape [4, 3] for each loss: input, target and how to call it. */
export function setup(name: string) {
  const r = rng(name.length * 31);
  const ids = Int32Array.from([0, 2, 1, 2]);
  const bits = Float32Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? 1 : 0));
  switch (name) {
    case 'crossEntropy':
    case 'nllLoss':
    case 'multiMarginLoss':
      return { input: r.floats(12), target: ids as Float32Array | Int32Array, floatTarget: false };
    case 'multilabelSoftMarginLoss':
    case 'softF1Loss':
      return { input: r.floats(12), target: bits, floatTarget: true };
    case 'cosineEmbeddingLoss':
      return { input: r.floats(12), target: Float32Array.from([1, -1, 1, -1]), floatTarget: true, input2: r.floats(12) };
    default: {
      const p = problem(name as never, 7, 12);
      return { input: p.input, target: p.target, floatTarget: true };
    }
  }
}

export function call(name: string, s: ReturnType<typeof setup>, options: Record<string, unknown>) {
  const o = { shape: [4, 3], reduction: 'sum', ...options };
  if (name === 'cosineEmbeddingLoss')
    return (
      fl.cosineEmbeddingLoss as unknown as (
        a: Float32Array,
        b: Float32Array,
        t: unknown,
        o: object,
      ) => { loss: unknown; grad: Float32Array }
    )(s.input, s.input2!, s.target, o);
  return fn(name)(s.input, s.target, o);
}
