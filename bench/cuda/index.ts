// The GPU section alone (`npx tsx bench/cuda/index.ts [--quick] [--out <dir>]`): what `npm run bench`
// runs last where CUDA is available, without the CPU sections. Prints the table and writes
// <out>/<date>-<host>-cuda.json.
import { machine, parseArgs, resultStem, textTable, writeResults } from '../harness';
import * as gpu from '../cuda.bench';

const args = parseArgs(process.argv.slice(2));
const r = gpu.run(args);
console.log(`CUDA${r.device ? ` on ${r.device}` : ''}; PyTorch peer: ${r.torch ?? 'not run'}`);
console.log(r.table ? textTable(r.table) : r.note);
console.log(`wrote ${writeResults(resultStem(args, 'cuda'), { machine: machine(), date: new Date().toISOString(), ...r })}`);
