// The weighting registry: every strategy is one file (src/multitask/weighting/<name>.ts) exporting its
// descriptor; MultiTaskLoss, the trainer and the CLI read the registry. These checks loop over it, so a new
// strategy is covered by adding its file and its registry line.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as fl from '../../../src/index';
import { STRATEGY_REGISTRY, strategyNeeds } from '../../../src/multitask/weighting';

const tasks = { a: { loss: 'crossEntropy' }, b: { loss: 'mseLoss' } } as const;
const batch = (k: number) => ({
  a: { input: Float32Array.from({ length: 12 }, (_, i) => Math.sin(i + k)), target: Int32Array.from([0, 2, 1, 2]), shape: [4, 3] },
  b: { input: Float32Array.from({ length: 4 }, (_, i) => i / 3 + k), target: new Float32Array(4), shape: [4, 1] },
});
const needed = { static: { weights: [1, 2] } } as Record<string, object>;

describe('the weighting registry', () => {
  it('lists every strategy once, each in its own file, in STRATEGIES order', () => {
    expect(STRATEGY_REGISTRY.map((d) => d.name)).toEqual([...fl.STRATEGIES]);
    expect(new Set(fl.STRATEGIES).size).toBe(fl.STRATEGIES.length);
    for (const d of STRATEGY_REGISTRY)
      expect(existsSync(join(__dirname, '..', '..', '..', 'src', 'multitask', 'weighting', `${d.name}.ts`)), d.name).toBe(true);
  });
  for (const d of STRATEGY_REGISTRY) {
    it(`${d.name}: its options are the ones it accepts, its needs drive endStep`, () => {
      expect(() => new fl.MultiTaskLoss({ tasks, weighting: { strategy: d.name, ...needed[d.name], bogus: 1 } as never })).toThrow(
        new RegExp(`Unknown option 'bogus' for the '${d.name}' strategy; expected ${d.options.length ? d.options.join(', ') : 'none'}`),
      );
      const m = new fl.MultiTaskLoss({ tasks, weighting: { strategy: d.name, ...needed[d.name] } as never });
      expect(m.strategy).toBe(d.name);
      expect(m.strategyNeeds).toEqual(strategyNeeds(d.name));
      for (let k = 0; k < 3; k++) {
        const r = m.compute(batch(k));
        expect(Number.isFinite(r.loss)).toBe(true);
        m.endStep({
          gradNorms: m.strategyNeeds.gradNorms ? { a: 1 + k, b: 0.5 } : undefined,
          lossesAfter: m.strategyNeeds.lossesAfterUpdate ? { a: r.taskLosses.a * 0.9, b: r.taskLosses.b * 0.95 } : undefined,
        });
      }
      const saved = JSON.parse(JSON.stringify(m.state()));
      expect(fl.MultiTaskLoss.fromState({ tasks, weighting: { strategy: d.name, ...needed[d.name] } as never }, saved).state()).toEqual(
        m.state(),
      );
    });
  }
});
