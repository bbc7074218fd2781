// On a GPU machine: the 10-task MultiTaskLoss step (bench/multiTask.bench.ts's head set, batch 4096) with
// backend 'cuda' against 'native' on the same machine. Host arrays in and out: the step's time includes
// the PCIe copies of every input and gradient. `node node_modules/tsx/dist/cli.mjs bench/cuda/multiTask.ts`
import { time } from '../harness';
import { fl } from '../pkg';
import { headSet, TEN } from '../multiTask.bench';

if (!fl.cuda.available()) {
  console.log(JSON.stringify({ skipped: fl.cuda.unavailableReason() }));
} else {
  // the CUDA backend has crossEntropy and the elementwise losses: the set without its row loss (9 tasks)
  const heads = TEN.filter((h) => h.loss !== 'multilabelSoftMarginLoss');
  const hs = headSet(heads, 4096);
  const bytes = Object.values(hs.batch).reduce((s, b) => s + 3 * b.input.byteLength, 0);
  for (const backend of ['native', 'cuda'] as const) {
    const m = new fl.MultiTaskLoss({ ...hs.config('native'), backend });
    const t = time(() => m.compute(hs.batch), { samples: 9, minSampleMs: 20 });
    console.log(JSON.stringify({ backend, tasks: heads.length, threads: fl.getNumThreads(), usPerStep: +(t.medianMs * 1000).toFixed(1), hostGBps: +(bytes / (t.medianMs * 1e6)).toFixed(1) }));
  }
}
