// One table over every exported function that takes arrays: each array argument is replaced in turn by
// a detached one, one of the wrong typed-array kind, one element short and a plain number[]; each option
// holding a dimension by a fraction, a negative number and 2^53. Every case must throw a TypeError or
// RangeError that names the argument, synchronously and from the async form, with every output untouched.
import { describe, expect, it } from 'vitest';
import * as fl from '../src/index';
import { LOSSES } from '../src/losses/ops';
import { call, setup } from './losses/lossProblems';

const SENT = 123.5;
const sentinel = (n: number) => new Float32Array(n).fill(SENT);
const untouched = (outs: Float32Array[]) => outs.every((o) => o.every((v) => v === SENT));

function detachedLike(a: ArrayBufferView): ArrayBufferView {
  const C = a.constructor as new (n: number) => ArrayBufferView;
  const d = new C((a as unknown as { length: number }).length);
  structuredClone(d.buffer, { transfer: [d.buffer as ArrayBuffer] });
  return d;
}
function wrongKind(a: ArrayBufferView): ArrayBufferView {
  return a instanceof Float32Array ? new Float64Array(a.length) : new Float32Array((a as Int32Array).length);
}
function shortOne(a: ArrayBufferView): ArrayBufferView {
  return (a as Float32Array).subarray(0, Math.max(0, (a as Float32Array).length - 1));
}

/** A valid call built from (possibly overridden) arguments; `outputs` must stay untouched on error. */
interface Api {
  name: string;
  arrays: string[];
  dims?: string[];
  make(o: Record<string, unknown>): { sync: () => unknown; async?: () => Promise<unknown>; outputs: Float32Array[] };
}

const r = (n: number, seed = 1) => {
  let s = seed;
  return Float32Array.from({ length: n }, () => (s = (s * 1103515245 + 12345) >>> 0) / 4294967296 - 0.5);
};

const lossApis: Api[] = LOSSES.map((spec) => ({
  name: spec.name,
  arrays: ['input', 'target', ...(spec.name === 'cosineEmbeddingLoss' ? ['input2'] : [])],
  make: (o) => {
    const s = setup(spec.name);
    const grad = sentinel(12);
    const problem = {
      ...s,
      input: (o.input ?? s.input) as Float32Array,
      target: o.target ?? s.target,
      input2: (o.input2 ?? s.input2) as Float32Array,
    };
    const options = { out: { grad, ...(spec.name === 'cosineEmbeddingLoss' ? { grad2: sentinel(12) } : {}) } };
    const outs = [grad, ...((options.out as { grad2?: Float32Array }).grad2 ? [(options.out as { grad2: Float32Array }).grad2] : [])];
    return { sync: () => call(spec.name, problem as never, options), outputs: outs };
  },
}));

const otherApis: Api[] = [
  {
    name: 'linearBackward',
    arrays: ['x', 'gradOut', 'weight'],
    dims: ['batch', 'inFeatures', 'outFeatures'],
    make: (o) => {
      const out = { gradWeight: sentinel(6), gradBias: sentinel(2), gradInput: sentinel(12) };
      const shape = { batch: 4, inFeatures: 3, outFeatures: 2, ...(o.dims as object) };
      const args = [(o.x ?? r(12)) as Float32Array, (o.gradOut ?? r(8)) as Float32Array, (o.weight ?? r(6)) as Float32Array] as const;
      return {
        sync: () => fl.linearBackward(...args, { ...shape, out }),
        async: () => fl.linearBackwardAsync(...args, { ...shape, out }),
        outputs: Object.values(out),
      };
    },
  },
  {
    name: 'linearCrossEntropy',
    arrays: ['input', 'linearWeight', 'target'],
    make: (o) => {
      const out = { gradInput: sentinel(12), gradLinearWeight: sentinel(6), gradLinearBias: sentinel(2) };
      const args = [
        (o.input ?? r(12)) as Float32Array,
        (o.linearWeight ?? r(6)) as Float32Array,
        (o.target ?? Int32Array.from([0, 1, 1, 0])) as Int32Array,
      ] as const;
      const options = { shape: [4, 3], linearBias: r(2), out };
      return {
        sync: () => fl.linearCrossEntropy(...args, options),
        async: () => fl.linearCrossEntropyAsync(...args, options),
        outputs: Object.values(out),
      };
    },
  },
  {
    name: 'linearForward',
    arrays: ['x', 'weight', 'bias'],
    dims: ['batch', 'inFeatures', 'outFeatures'],
    make: (o) => {
      const output = sentinel(8);
      const shape = { batch: 4, inFeatures: 3, outFeatures: 2, ...(o.dims as object) };
      const args = [(o.x ?? r(12)) as Float32Array, (o.weight ?? r(6)) as Float32Array, (o.bias ?? r(2)) as Float32Array] as const;
      return {
        sync: () => fl.linearForward(...args, { ...shape, out: { output } }),
        async: () => fl.linearForwardAsync(...args, { ...shape, out: { output } }),
        outputs: [output],
      };
    },
  },
  {
    name: 'multiHeadBackward',
    arrays: ['x', 'weight', 'gradOut'],
    dims: ['batch', 'inFeatures'],
    make: (o) => {
      const out = { gradWeight: sentinel(6), gradBias: sentinel(2), gradInput: sentinel(12) };
      const shape = { batch: 4, inFeatures: 3, ...(o.dims as object) };
      const heads = {
        a: { weight: (o.weight ?? r(6)) as Float32Array, gradOut: (o.gradOut ?? r(8)) as Float32Array, outFeatures: 2, out },
      };
      const sharedGrad = sentinel(12);
      const x = (o.x ?? r(12)) as Float32Array;
      return {
        sync: () => fl.multiHeadBackward(x, heads, { ...shape, out: { sharedGrad } }),
        async: () => fl.multiHeadBackwardAsync(x, heads, { ...shape, out: { sharedGrad } }),
        outputs: [...Object.values(out), sharedGrad],
      };
    },
  },
  {
    name: 'combineGradients',
    arrays: ['grads[0]', 'grads[1]'],
    make: (o) => {
      const out = sentinel(5);
      const g = [(o['grads[0]'] ?? r(5, 2)) as Float32Array, (o['grads[1]'] ?? r(5, 3)) as Float32Array];
      return {
        sync: () => fl.combineGradients(g, { method: 'mgda', out }),
        async: () => fl.combineGradientsAsync(g, { method: 'pcgrad', out }),
        outputs: [out],
      };
    },
  },
  {
    name: 'gramMatrix',
    arrays: ['grads[0]', 'grads[1]'],
    make: (o) => {
      const g = [(o['grads[0]'] ?? r(5, 2)) as Float32Array, (o['grads[1]'] ?? r(5, 3)) as Float32Array];
      return { sync: () => fl.gramMatrix(g), async: () => fl.gramMatrixAsync(g), outputs: [] };
    },
  },
  {
    name: 'clipGradNorm',
    arrays: ['grads[0]'],
    make: (o) => {
      const keep = sentinel(4);
      const g = [(o['grads[0]'] ?? r(5)) as Float32Array, keep];
      return { sync: () => fl.clipGradNorm(g, 1e-3), outputs: [keep] };
    },
  },
  {
    name: 'Adam.step',
    arrays: ['grads.w', 'grads.b'],
    make: (o) => {
      const w = sentinel(6),
        b = sentinel(2);
      const opt = new fl.Adam({ w, b }, { lr: 0.1 });
      const grads = { w: (o['grads.w'] ?? r(6)) as Float32Array, b: (o['grads.b'] ?? r(2)) as Float32Array };
      return { sync: () => opt.step(grads), async: () => opt.stepAsync(grads), outputs: [w, b] };
    },
  },
  {
    name: 'MultiTaskLoss.compute',
    arrays: ['input', 'target'],
    make: (o) => {
      const m = new fl.MultiTaskLoss({ tasks: { a: { loss: 'crossEntropy' }, b: { loss: 'mseLoss' } } });
      const gb = sentinel(6),
        ga = sentinel(6);
      const batch = {
        a: { input: (o.input ?? r(6)) as Float32Array, target: o.target ?? Int32Array.from([0, 2]), shape: [2, 3], out: { grad: ga } },
        b: { input: r(6), target: r(6), shape: [2, 3], out: { grad: gb } },
      };
      return { sync: () => m.compute(batch), async: () => m.computeAsync(batch), outputs: [ga, gb] };
    },
  },
];

function expectRejected(api: Api, label: string, o: Record<string, unknown>, mention: RegExp) {
  const c = api.make(o);
  let err: unknown;
  try {
    c.sync();
  } catch (e) {
    err = e;
  }
  expect(err, `${api.name}: ${label} did not throw`).toBeDefined();
  expect(err instanceof TypeError || err instanceof RangeError, `${api.name}: ${label}: ${String(err)}`).toBe(true);
  expect((err as Error).message).toMatch(mention);
  expect(untouched(c.outputs)).toBe(true);
}

describe('bad input across the API: named errors, nothing written', () => {
  for (const api of [...lossApis, ...otherApis]) {
    for (const name of api.arrays) {
      const key = name.replace(/[[\]]/g, (ch) => `\\${ch}`);
      it(`${api.name}: ${name} detached, of the wrong kind, one short, or a number[]`, async () => {
        const original = defaults(api, name); // the argument's valid value, to derive the bad ones from
        const cases: [string, unknown, RegExp][] = [
          ['detached', detachedLike(original), new RegExp(`${key}|detached`)],
          ['wrong kind', wrongKind(original), new RegExp(key)],
          ['number[]', Array.from(original as Float32Array), new RegExp(key)],
        ];
        if ((original as Float32Array).length > 1 && !api.name.startsWith('clipGradNorm'))
          cases.push(['one short', shortOne(original), new RegExp(key)]);
        for (const [label, value, mention] of cases) {
          expectRejected(api, `${name} ${label}`, { [name]: value }, mention);
          const c = api.make({ [name]: value });
          if (c.async) {
            await expect(c.async()).rejects.toThrow(mention);
            expect(untouched(c.outputs)).toBe(true);
          }
        }
      });
    }
    for (const dim of api.dims ?? [])
      it(`${api.name}: ${dim} fractional, negative or 2^53`, () => {
        for (const v of [1.5, -1, 2 ** 53]) expectRejected(api, `${dim} = ${v}`, { dims: { [dim]: v } }, new RegExp(dim));
      });
  }
});

/** The valid value an api uses for an array argument (the same shapes as its make()). */
function defaults(api: Api, name: string): ArrayBufferView {
  const lossSpec = LOSSES.find((s) => s.name === api.name);
  if (lossSpec) {
    const s = setup(api.name) as unknown as Record<string, ArrayBufferView>;
    return s[name];
  }
  const table: Record<string, Record<string, () => ArrayBufferView>> = {
    linearBackward: { x: () => r(12), gradOut: () => r(8), weight: () => r(6) },
    linearForward: { x: () => r(12), weight: () => r(6), bias: () => r(2) },
    linearCrossEntropy: { input: () => r(12), linearWeight: () => r(6), target: () => Int32Array.from([0, 1, 1, 0]) },
    multiHeadBackward: { x: () => r(12), weight: () => r(6), gradOut: () => r(8) },
    combineGradients: { 'grads[0]': () => r(5, 2), 'grads[1]': () => r(5, 3) },
    gramMatrix: { 'grads[0]': () => r(5, 2), 'grads[1]': () => r(5, 3) },
    clipGradNorm: { 'grads[0]': () => r(5) },
    'MultiTaskLoss.compute': { input: () => r(6), target: () => Int32Array.from([0, 2]) },
    'Adam.step': { 'grads.w': () => r(6), 'grads.b': () => r(2) },
  };
  return table[api.name][name]();
}
