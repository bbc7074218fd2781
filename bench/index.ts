// `npm run bench [-- --quick] [-- --filter <text>] [-- --threads 1,2] [-- --json]`
import * as ce from './crossEntropy.bench';
import * as ew from './elementwise.bench';
import * as mt from './multiTask.bench';
import * as ortPeer from './peers/onnxruntime';
import * as torchPeer from './peers/torch';
import * as rd from './reduce.bench';
import * as rw from './rowwise.bench';
import { machine, parseArgs, render, runWorkloads, writeResults } from './harness';

const args = parseArgs(process.argv.slice(2));
const m = machine();
console.log(`fuseloss bench — ${m.cpu}, ${m.cores} cores, node ${m.node}, ISA ${m.isa} (supported: ${m.supportedIsas.join(', ')})`);
const { rows, rooflines, dram } = runWorkloads([...ce.workloads(), ...ew.workloads(), ...rw.workloads()], args);
console.log('\nrooflines (y = a·x, 4 B read + 4 B written per element, GB/s):');
console.log('  DRAM (2^26 elements): ' + Object.entries(dram).map(([t, v]) => `${t} thread(s) ${v.toFixed(1)}`).join(', '));
console.log('  same working set:     ' +
  Object.entries(rooflines).map(([k, v]) => `${k.replace('@', ' elems/')}thr ${v.toFixed(1)}`).join(', '));
console.log('\n' + render(rows));
const multiTask = mt.run(args);
if (multiTask.rows.length) console.log('\nMultiTaskLoss (static weights; one-by-one = the same losses called natively one at a time):\n' + multiTask.text);
const reduce = rd.run(args);
if (reduce.rows.length)
  console.log(`\nGradient reduction (FMA peak, one thread, measured now: ${reduce.peak.toFixed(1)} GFLOP/s; "× one read": time / the time of one read of all task gradients):\n` + reduce.text);
const peer = torchPeer.run(args);
console.log(`\nPyTorch CPU (same data, same thread counts; × = PyTorch time / fuseloss time):\n${peer.text}`);

void (async () => {
  const ortResult = await ortPeer.run(args);
  console.log(`\nonnxruntime-node (the loss and its gradient as an ONNX graph, intra-op threads matched; × = its time / fuseloss time):\n${ortResult.text}`);
  const results = {
    machine: m, args, date: new Date().toISOString(), rooflines, dram, rows, multiTask: multiTask.rows, reduce: reduce.rows, fmaPeak: reduce.peak,
    torch: { version: peer.version, rows: peer.rows }, onnxruntime: { version: ortResult.version, rows: ortResult.rows },
  };
  const file = writeResults('bench', results);
  console.log(`\nwrote ${file}`);
  if (args.json) console.log(JSON.stringify(results));
})();
