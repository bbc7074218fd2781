// Prints the README's generated tables from the op table (src/ops.ts): `npx tsx scripts/docs.ts`.
// test/docs.test.ts fails when the README and the op table disagree.
import { crossEntropySpec, LOSSES, mseLossSpec, optionsTable, lossTable } from '../src/losses/ops';

console.log(`### All losses\n\n${lossTable(LOSSES)}\n`);
console.log(`### Options every elementwise loss takes\n\n${optionsTable(mseLossSpec)}\n`);
console.log(`### \`crossEntropy\` options\n\n${optionsTable(crossEntropySpec)}\n`);
