// The docs: the README is the front page and links every page of docs/; generated tables are written in
// place by `npm run docs` (scripts/docs.ts) and must not be stale; every loss is documented.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOSSES, linearCrossEntropySpec } from '../src/losses/ops';
import { blockNames, PAGES, regenerate } from '../scripts/docs';

const root = join(__dirname, '..');
const read = (p: string) => readFileSync(join(root, p), 'utf8');

describe('docs', () => {
  const readme = read('README.md');
  const pages = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md'));
  it('the README links every page of docs/, and every page links back', () => {
    expect(pages.length).toBeGreaterThan(5);
    for (const p of pages) {
      expect(readme, p).toContain(`](docs/${p})`);
      expect(read(`docs/${p}`), p).toContain('](../README.md)');
    }
  });
  it('the README fits on a few screens', () => expect(readme.split('\n').length).toBeLessThan(200));
  it('generated tables are up to date (npm run docs)', () => {
    for (const page of PAGES) {
      const text = read(page);
      // every marker opens a block the generator knows (a malformed one would be skipped silently)
      expect(blockNames(text).length, page).toBe((text.match(/<!-- generated:/g) ?? []).length);
      expect(blockNames(text).length, page).toBeGreaterThan(0);
      expect(regenerate(text, page), `${page} is stale: run npm run docs`).toBe(text);
    }
  });
  it('documents every loss and linearCrossEntropy in docs/losses.md', () => {
    const losses = read('docs/losses.md');
    for (const spec of [...LOSSES, linearCrossEntropySpec]) expect(losses).toContain(`\`${spec.name}\``);
    expect(losses).toContain('<!-- generated:options:linearCrossEntropy');
  });
  it('relative links between the docs resolve', () => {
    for (const file of ['README.md', ...pages.map((p) => `docs/${p}`)]) {
      const dir = file.includes('/') ? 'docs' : '.';
      for (const m of read(file).matchAll(/\]\(((?:\.\.\/|docs\/|bench\/|\.\/)?[\w./-]+\.(?:md|svg))(?:#[\w-]*)?\)/g))
        expect(existsSync(join(root, dir, m[1])), `${file} → ${m[1]}`).toBe(true);
    }
  });
  it('names the two commands', () => {
    expect(readme).toContain('npm install && npm run bench');
    expect(readme).toContain('npm test');
  });
});
