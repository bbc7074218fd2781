// Writes the docs' generated tables in place, between `<!-- generated:NAME … -->` and `<!-- /generated -->`
// markers, from the op table (src/losses/ops.ts) and the registries: `npm run docs` (before typedoc).
// test/docs.test.ts fails when a committed page differs from what this writes.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOSSES, linearCrossEntropySpec, lossTable, optionsTable, crossEntropySpec, mseLossSpec } from '../src/losses/ops';

/** Each generated block's content by name. */
export const GENERATED: Record<string, () => string> = {
  lossTable: () => lossTable(LOSSES),
  'options:crossEntropy': () => optionsTable(crossEntropySpec),
  'options:mseLoss': () => optionsTable(mseLossSpec),
  'options:linearCrossEntropy': () => optionsTable(linearCrossEntropySpec),
};

/** The pages that carry generated blocks. */
export const PAGES = ['docs/losses.md'];

const BLOCK = /(<!-- generated:([\w:]+)[^>]*-->\n)([\s\S]*?)(<!-- \/generated -->)/g;

/** The names of a page's generated blocks, in order. */
export function blockNames(text: string): string[] {
  return [...text.matchAll(BLOCK)].map((m) => m[2]);
}

/** A page's text with every generated block rewritten (unknown block names are an error). */
export function regenerate(text: string, page: string): string {
  return text.replace(BLOCK, (_m, open: string, name: string, _old: string, close: string) => {
    const make = GENERATED[name];
    if (!make) throw new Error(`${page}: unknown generated block '${name}'`);
    return `${open}${make()}\n${close}`;
  });
}

if (require.main === module) {
  const root = join(__dirname, '..');
  for (const page of PAGES) {
    const file = join(root, page);
    const text = readFileSync(file, 'utf8');
    const next = regenerate(text, page);
    if (next !== text) writeFileSync(file, next);
    console.log(`${page}: ${next === text ? 'up to date' : 'rewritten'}`);
  }
}
