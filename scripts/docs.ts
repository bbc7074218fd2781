// Prints the README's options tables from the op table (src/ops.ts): `npx tsx scripts/docs.ts`.
// test/docs.test.ts fails when the README and the op table disagree.
import { LOSSES, optionsTable } from '../src/ops';

for (const spec of LOSSES) console.log(`### \`${spec.name}\` options\n\n${optionsTable(spec)}\n`);
