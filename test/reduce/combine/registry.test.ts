// The combine registry: every method is one file (src/reduce/combine/<name>.ts) exporting its descriptor
// (Gram or not, state or not, coefficients or its own passes). These checks loop over it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as fl from '../../../src/index';
import { COMBINE_REGISTRY } from '../../../src/reduce/combine';

const grads = (T: number, n: number) =>
  Array.from({ length: T }, (_, t) => Float32Array.from({ length: n }, (_, i) => Math.sin(1 + i * (t + 1)) + (t === 1 ? 0.3 : 0)));

describe('the combine registry', () => {
  it('lists every method once, each in its own file, in COMBINE_METHODS order', () => {
    expect(COMBINE_REGISTRY.map((d) => d.name)).toEqual([...fl.COMBINE_METHODS]);
    for (const d of COMBINE_REGISTRY)
      expect(existsSync(join(__dirname, '..', '..', '..', 'src', 'reduce', 'combine', `${d.name}.ts`)), d.name).toBe(true);
  });
  for (const d of COMBINE_REGISTRY)
    it(`${d.name}: declares coefficients or passes of its own, its Gram use and its state`, () => {
      expect(Boolean(d.coefficients) !== Boolean(d.run)).toBe(true);
      expect(Boolean(d.run)).toBe(Boolean(d.runAsync));
      const g = grads(3, 40);
      if (d.state) expect(() => fl.combineGradients(g, { method: d.name })).toThrow(/keeps state across steps/);
      const state = {};
      const r = fl.combineGradients(g, { method: d.name, state, backend: 'native' });
      const ref = fl.combineGradients(g, { method: d.name, state: {}, backend: 'reference' });
      expect(r.gram !== null).toBe(d.gram);
      expect(r.coefficients !== null).toBe(Boolean(d.coefficients) || d.name === 'dbmtl');
      for (let i = 0; i < 40; i++) expect(Math.abs(r.grad[i] - ref.grad[i])).toBeLessThan(1e-4 * (1 + Math.abs(ref.grad[i])));
      if (d.state) expect(Object.keys(state).length).toBeGreaterThan(0);
    });
});
