// The TypeScript tables of native codes against the C++ lists they mirror: the elementwise kinds' X-macro list
// (native/include/fuseloss/elementwise.h) names each kind's TypeScript key, TaskFamily's comments do
// (multi_task.h), and the kCount sentinel closes each enum, so a kind added on one side only fails here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ELEMENTWISE_KIND, ELEMENTWISE_LOSSES } from '../../src/losses/ops';
import { FAMILY } from '../../src/multitask/multiTaskLoss';

function enumOf(header: string, name: string): { values: Map<string, number>; count: boolean } {
  const text = readFileSync(join(__dirname, '..', '..', 'native', 'include', 'fuseloss', header), 'utf8');
  const body = new RegExp(`enum class ${name} : int \\{([\\s\\S]*?)\\};`).exec(text)?.[1] ?? '';
  const values = new Map<string, number>();
  for (const m of body.matchAll(/^\s*\w+ = (\d+),\s*\/\/ (\w+)/gm)) values.set(m[2], Number(m[1]));
  return { values, count: /^\s*kCount,/m.test(body) };
}

describe('native codes', () => {
  it('ELEMENTWISE_KIND equals FUSELOSS_ELEMENTWISE_KINDS (the list the enum and the dispatch come from), kind for kind', () => {
    const text = readFileSync(join(__dirname, '..', '..', 'native', 'include', 'fuseloss', 'elementwise.h'), 'utf8');
    const e = {
      values: new Map([...text.matchAll(/^\s*X\((\w+), (\d+), (\w+)\)/gm)].map((m) => [m[3], Number(m[2])] as [string, number])),
    };
    expect(/enum class ElementwiseLoss[\s\S]*FUSELOSS_ELEMENTWISE_KINDS\(FUSELOSS_EW_ENUM\)[\s\S]*kCount,/.test(text)).toBe(true);
    expect(Object.fromEntries(e.values)).toEqual({ ...ELEMENTWISE_KIND });
    for (const spec of ELEMENTWISE_LOSSES) expect(spec.kind).toBe(e.values.get(spec.name));
    expect([...e.values.values()].sort((a, b) => a - b)).toEqual([...Array(e.values.size).keys()]);
  });
  it("MultiTaskLoss's FAMILY equals TaskFamily", () => {
    const f = enumOf('multi_task.h', 'TaskFamily');
    expect(f.count).toBe(true);
    expect(Object.fromEntries(f.values)).toEqual({ ...FAMILY });
  });
});
