// The README's options tables are generated from the op table (scripts/docs.ts); they must not drift.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crossEntropySpec, LOSSES, lossTable, mseLossSpec, optionsTable } from '../src/losses/ops';

describe('README', () => {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  it('shows the table of every loss from src/ops.ts', () => expect(readme).toContain(lossTable(LOSSES)));
  it('shows the common options and the crossEntropy options from src/ops.ts', () => {
    expect(readme).toContain(optionsTable(mseLossSpec));
    expect(readme).toContain(optionsTable(crossEntropySpec));
  });
  it('documents every exported loss', () => {
    for (const spec of LOSSES) expect(readme).toContain(`\`${spec.name}\``);
  });
  it('names the two commands', () => {
    expect(readme).toContain('npm install && npm run bench');
    expect(readme).toContain('npm test');
  });
});
