// The README's options tables are generated from the op table (scripts/docs.ts); they must not drift.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOSSES, optionsTable } from '../src/ops';

describe('README', () => {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  for (const spec of LOSSES)
    it(`shows the ${spec.name} options table of src/ops.ts`, () => expect(readme).toContain(optionsTable(spec)));
  it('names the two commands', () => {
    expect(readme).toContain('npm install && npm run bench');
    expect(readme).toContain('npm test');
  });
});
