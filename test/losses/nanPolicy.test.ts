// nanPolicy: the default propagates NaN and ±Infinity like PyTorch; 'raise' throws a RangeError naming
// the first offending element of input or target, before anything is written — every loss, both backends.
import { describe, expect, it } from 'vitest';
import * as fl from '../../src/index';
import { LOSSES } from '../../src/losses/ops';
import { call, setup } from './lossProblems';

describe('nanPolicy', () => {
  for (const spec of LOSSES)
    for (const backend of ['native', 'reference'] as const) {
      it(`${spec.name} (${backend}): 'raise' names the first non-finite element; the default propagates`, () => {
        const s = setup(spec.name);
        s.input[5] = NaN;
        s.input[9] = Infinity;
        const grad = new Float32Array(12).fill(7);
        expect(() => call(spec.name, s, { backend, nanPolicy: 'raise', out: { grad } })).toThrow(RangeError);
        expect(() => call(spec.name, s, { backend, nanPolicy: 'raise', out: { grad } })).toThrow(/input1?\[5\] = NaN/);
        expect(grad.every((v) => v === 7)).toBe(true);
        if (spec.name === 'binaryCrossEntropy') {
          // PyTorch refuses probabilities outside [0, 1], NaN included, whatever the policy
          expect(() => call(spec.name, s, { backend })).toThrow(/expects probabilities in \[0, 1\]/);
        } else {
          const r = call(spec.name, s, { backend });
          const lossNaN = typeof r.loss === 'number' && !Number.isFinite(r.loss);
          expect(lossNaN || r.grad.some((v) => !Number.isFinite(v))).toBe(true);
        }
        // a clean input passes, a non-finite float target is named
        const clean = setup(spec.name);
        expect(() => call(spec.name, clean, { backend, nanPolicy: 'raise' })).not.toThrow();
        if (clean.floatTarget) {
          (clean.target as Float32Array)[3] = -Infinity;
          expect(() => call(spec.name, clean, { backend, nanPolicy: 'raise' })).toThrow(/target\[3\] = -Infinity/);
        }
        if (clean.input2) {
          const c2 = setup(spec.name);
          c2.input2![11] = NaN;
          expect(() => call(spec.name, c2, { backend, nanPolicy: 'raise' })).toThrow(/input2\[11\] = NaN/);
        }
        expect(() => call(spec.name, setup(spec.name), { backend, nanPolicy: 'ignore' })).toThrow(TypeError);
      });
    }

  it('large inputs: the native scan finds the first offender across chunks', () => {
    const n = 5 * 32768 + 3;
    const x = new Float32Array(n),
      t = new Float32Array(n);
    x[n - 2] = Infinity;
    x[3 * 32768 + 1] = NaN;
    expect(() => fl.mseLoss(x, t, { shape: [n], nanPolicy: 'raise' })).toThrow(new RegExp(`input\\[${3 * 32768 + 1}\\] = NaN`));
  });

  it('MultiTaskLoss: a task with nanPolicy raise names the task', () => {
    const m = new fl.MultiTaskLoss({ tasks: { a: { loss: 'mseLoss', nanPolicy: 'raise' }, b: { loss: 'l1Loss' } } });
    const x = Float32Array.from([1, NaN]);
    const g = new Float32Array(2).fill(7);
    expect(() =>
      m.compute({
        a: { input: x, target: new Float32Array(2), shape: [2] },
        b: { input: new Float32Array(2), target: new Float32Array(2), shape: [2], out: { grad: g } },
      }),
    ).toThrow(/tasks\.a: input\[1\] = NaN/);
    expect(g.every((v) => v === 7)).toBe(true);
  });
});
