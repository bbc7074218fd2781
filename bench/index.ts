// `npm run bench [-- --quick] [-- --filter <text>] [-- --threads 1,2] [-- --json] [-- --out <dir>]`
// Times every loss of the catalogue, MultiTaskLoss, the gradient reductions and the scaling sweeps, then
// the same work in each peer present (PyTorch CPU, onnxruntime-node, TensorFlow.js), and the GPU section
// where CUDA is available (bench/cuda.bench.ts); prints the tables
// and writes <out>/<date>-<host>-bench.{json,md} with two SVG charts (and bench/results/latest.* for a
// full default run, which the README shows).
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ce from './crossEntropy.bench';
import * as gpu from './cuda.bench';
import * as ew from './elementwise.bench';
import * as heads from './linearCrossEntropy.bench';
import * as mt from './multiTask.bench';
import * as ortPeer from './peers/onnxruntime';
import * as tfjsPeer from './peers/tfjs';
import * as torchPeer from './peers/torch';
import * as rd from './reduce.bench';
import * as rw from './rowwise.bench';
import * as sc from './scaling.bench';
import * as tr from './train.bench';
import {
  fmt,
  machine,
  makeTable,
  parseArgs,
  render,
  resultStem,
  runWorkloads,
  scaled,
  type Table,
  textTable,
  writeResults,
} from './harness';
import { type Bar, barChart, lineCharts, markdown, sweepTable } from './report';

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const m = machine();
  const started = performance.now();
  const seconds: Record<string, number> = {};
  const section = <T>(name: string, f: () => T): T => {
    const t0 = performance.now();
    const r = f();
    seconds[name] = (performance.now() - t0) / 1000;
    return r;
  };
  const sectionAsync = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const r = await f();
    seconds[name] = (performance.now() - t0) / 1000;
    return r;
  };
  const say = (title: string, body: string) => console.log(`\n${title}\n${body}`);
  console.log(
    `fuseloss bench — ${m.cpu}, ${m.cores} cores, node ${m.node}, ISA ${m.isa} (supported: ${m.supportedIsas.join(', ')})` +
      (args.quick ? ', --quick' : '') +
      (args.scale < 1 ? `, --scale ${args.scale} (tiny shapes: figures meaningless)` : ''),
  );

  const losses = section('losses', () => runWorkloads([...ce.workloads(args), ...ew.workloads(args), ...rw.workloads(args)], args));
  const roofText = [
    '  DRAM (2^26 elements): ' +
      Object.entries(losses.dram)
        .map(([t, v]) => `${t} thread(s) ${v.toFixed(1)}`)
        .join(', '),
    '  same working set:     ' +
      Object.entries(losses.rooflines)
        .map(([k, v]) => `${k.replace('@', ' elems/')}thr ${v.toFixed(1)}`)
        .join(', '),
  ].join('\n');
  const lossTable = render(losses.rows);
  if (losses.rows.length) (say('rooflines (y = a·x, 4 B read + 4 B written per element, GB/s):', roofText), say('', textTable(lossTable)));

  const multiTask = section('multiTask', () => mt.run(args));
  const mtTitle = 'MultiTaskLoss (static weights; one-by-one = the same losses called natively one at a time)';
  if (multiTask.rows.length) say(`${mtTitle}:`, textTable(multiTask.table));

  const fusedHeads = section('fusedHeads', () => heads.run(args));
  const headsTitle =
    'Fused linear heads: linearCrossEntropy against the unfused path on our kernels and PyTorch CPU (same data and threads; working MB: peak RSS growth of one call in a fresh process, beyond inputs and returned gradients)';
  if (fusedHeads.table) say(`${headsTitle}:`, textTable(fusedHeads.table));

  const reduce = section('reduce', () => rd.run(args));
  const rdTitle = `Gradient reduction (FMA peak measured now: ${reduce.peak.toFixed(1)} GFLOP/s on one thread, ${reduce.peakAll.toFixed(1)} with all ${reduce.threads} threads at once; "% FMA peak" is per thread, of the one-thread peak; "× one read": time / the time of one read of all task gradients)`;
  if (reduce.rows.length) say(`${rdTitle}:`, textTable(reduce.table));

  const trainStep = await sectionAsync('train', () => tr.run(args));
  const trTitle = 'Training step (MultiTaskTrainer: where the time of one step goes)';
  if (trainStep.table) say(`${trTitle}:`, textTable(trainStep.table));

  const sweeps = section('scaling', () => sc.run(args));
  for (const s of sweeps) say(`scaling: ${s.title}`, textTable(sweepTable(s)));

  const torch = section('torch', () => torchPeer.run(args));
  const torchTitle = 'PyTorch CPU (same data, same thread counts; × = PyTorch time / fuseloss time)';
  say(`${torchTitle}:`, torch.table ? textTable(torch.table) : `PyTorch peer ${torch.note}`);
  const ort = await sectionAsync('onnxruntime', () => ortPeer.run(args));
  const ortTitle = 'onnxruntime-node (the loss and its gradient as an ONNX graph, intra-op threads matched; × = its time / fuseloss time)';
  say(`${ortTitle}:`, ort.table ? textTable(ort.table) : `onnxruntime-node peer ${ort.note}`);
  const tfjs = await sectionAsync('tfjs', () => tfjsPeer.run(args));
  const tfjsTitle = 'TensorFlow.js (tf.losses.* with tf.valueAndGrad, gradient read back; same thread count; × = its time / fuseloss time)';
  say(`${tfjsTitle}:`, (tfjs.note ? `${tfjs.note}\n` : '') + (tfjs.table ? textTable(tfjs.table) : ''));

  const cudaRun = section('cuda', () => gpu.run(args));
  const cudaTitle = `CUDA${cudaRun.device ? ` on ${cudaRun.device}` : ''} (kernel time by CUDA events on DeviceBuffers; calls timed whole; "% of D2D copy": bandwidth over a device-to-device copy of the same bytes; × torch: PyTorch eager loss + backward() on the same GPU, ${cudaRun.torch ?? 'not run'})`;
  say(`${cudaTitle}:`, cudaRun.table ? textTable(cudaRun.table) : (cudaRun.note ?? ''));

  // Headline: cross-entropy at [4096, 1000] against every peer, with the targets of issue #7.
  const n = scaled(args, 4096);
  const ceName = `crossEntropy [${n},1000]`;
  const headRows: (string | number)[][] = [];
  const bars: Bar[] = [];
  const refRow = losses.rows.find((r) => r.workload === `ce [${n},1000]` && r.threads === 1 && r.impl.startsWith('native'));
  if (refRow) {
    headRows.push([
      'pure-TS reference',
      '1',
      refRow.timing.medianMs * refRow.vsReference,
      refRow.timing.medianMs,
      `${fmt(refRow.vsReference)}×`,
      '—',
      '—',
    ]);
  }
  type PeerRow = { workload: string; threads: number; ratio: number; ours: number; theirs: number | null };
  const peerSets: { peer: string; target: number; rows: PeerRow[] }[] = [
    {
      peer: `PyTorch ${torch.version ?? ''}`,
      target: 4,
      rows: torch.rows.map((r) => ({
        workload: r.workload,
        threads: r.threads,
        ratio: r.ratio,
        ours: r.fuseloss.medianMs,
        theirs: r.torch?.medianMs ?? null,
      })),
    },
    {
      peer: `onnxruntime ${ort.version ?? ''}`,
      target: 3,
      rows: ort.rows.map((r) => ({
        workload: r.workload,
        threads: r.threads,
        ratio: r.ratio,
        ours: r.fuseloss.medianMs,
        theirs: r.ort?.medianMs ?? null,
      })),
    },
    {
      peer: `tfjs ${tfjs.version ?? ''} ${tfjs.backend ?? ''}`,
      target: 10,
      rows: tfjs.rows.map((r) => ({
        workload: r.workload,
        threads: r.threads,
        ratio: r.ratio,
        ours: r.fuseloss.medianMs,
        theirs: r.tfjs?.medianMs ?? null,
      })),
    },
  ];
  // The pure-TS reference on the peers' workloads, one thread (the bench's baseline).
  for (const [w, label] of [
    [`ce [${n},1000]`, ceName],
    ...['mseLoss', 'huberLoss', 'binaryCrossEntropyWithLogits', 'l1Loss'].map((l) => [`${l} [${n},1024]`, `${l} [${n},1024]`]),
  ]) {
    const r = losses.rows.find((x) => x.workload === w && x.threads === 1 && x.impl.startsWith('native'));
    if (r) bars.push({ peer: 'pure-TS reference', label: `${label} · 1 thr`, ratio: r.vsReference });
  }
  for (const { peer, target, rows } of peerSets) {
    for (const r of rows) {
      bars.push({ peer: peer.trim(), label: `${r.workload} · ${r.threads} thr`, ratio: r.ratio });
      if (r.workload !== ceName) continue;
      const ok = Number.isFinite(r.ratio);
      headRows.push([
        peer.trim(),
        String(r.threads),
        r.theirs ?? '—',
        r.ours,
        ok ? `${fmt(r.ratio)}×` : 'mismatch',
        `≥ ${target}×`,
        ok && r.ratio >= target ? 'yes' : 'no',
      ]);
    }
  }
  const headline: Table = makeTable(['peer', 'thr', 'peer ms', 'fuseloss ms', '× peer', 'target', 'met'], headRows);
  say(`headline: ${ceName} forward + backward against each peer:`, textTable(headline));

  const totalS = (performance.now() - started) / 1000;
  const stem = resultStem(args, 'bench');
  const results = {
    machine: m,
    args,
    date: new Date().toISOString(),
    seconds: { ...seconds, total: totalS },
    rooflines: losses.rooflines,
    dram: losses.dram,
    rows: losses.rows,
    multiTask: multiTask.rows,
    fusedHeads: fusedHeads.rows,
    reduce: reduce.rows,
    fmaPeak: reduce.peak,
    fmaPeakAllThreads: reduce.peakAll,
    trainStep: trainStep.rows,
    scaling: sweeps,
    torch: { version: torch.version, note: torch.note, rows: torch.rows },
    onnxruntime: { version: ort.version, note: ort.note, rows: ort.rows },
    tfjs: { version: tfjs.version, backend: tfjs.backend, note: tfjs.note, rows: tfjs.rows },
    cuda: { device: cudaRun.device, note: cudaRun.note, torch: cudaRun.torch, rows: cudaRun.rows },
  };
  const json = writeResults(stem, results);
  const peersSvg = `${stem}-peers.svg`,
    scalingSvg = `${stem}-scaling.svg`;
  writeFileSync(peersSvg, barChart(`fuseloss forward + backward vs peers (same data, same threads) — ${m.cpu}`, bars));
  if (sweeps.length) writeFileSync(scalingSvg, lineCharts(`fuseloss scaling — ${m.cpu}, ${m.cores} cores`, sweeps));
  const present = (name: string, v: string | null, note: string) => `${name}: ${v ? `${v}${note ? ` (${note})` : ''}` : note || 'absent'}`;
  const md = markdown({
    title: `fuseloss benchmark — ${results.date.slice(0, 10)}`,
    preamble: [
      `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}, ISA in use ${m.isa} (supported: ${m.supportedIsas.join(', ')}), compiler ${m.compiler}.`,
      '',
      `Command: \`npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\` — ${fmt(totalS)} s; every figure below comes from this one run. Times are medians of several samples after warm-up; the JSON next to this file has every sample.`,
      args.scale < 1 ? `\n**--scale ${args.scale}: tiny shapes for a smoke test; these figures mean nothing.**` : '',
      '',
      `Peers: ${present('PyTorch', torch.version, torch.note)}; ${present('onnxruntime-node', ort.version, ort.note)}; ${present('TensorFlow.js', tfjs.version, tfjs.note)}.`,
    ],
    headline,
    peersSvg,
    scalingSvg: sweeps.length ? scalingSvg : null,
    sweeps,
    sections: [
      {
        title: 'Losses: native against the pure-TS reference and the memory roofline',
        note: ['Rooflines (y = a·x, GB/s):', '', '```', roofText, '```'].join('\n'),
        table: losses.rows.length ? lossTable : null,
      },
      { title: mtTitle, table: multiTask.rows.length ? multiTask.table : null },
      { title: headsTitle, table: fusedHeads.table },
      { title: rdTitle, table: reduce.rows.length ? reduce.table : null },
      { title: trTitle, table: trainStep.table },
      { title: torchTitle, note: torch.table ? undefined : torch.note, table: torch.table },
      { title: ortTitle, note: ort.table ? undefined : ort.note, table: ort.table },
      { title: tfjsTitle, note: tfjs.note, table: tfjs.table },
      { title: cudaTitle, note: cudaRun.table ? undefined : cudaRun.note, table: cudaRun.table ?? null },
    ],
  });
  writeFileSync(`${stem}.md`, md);
  const full = !args.quick && !args.filter && !args.threads && args.scale === 1 && args.outDir === join(__dirname, 'results');
  if (full) {
    // The README shows these: the latest full run's report and charts under fixed names.
    const latest = join(__dirname, 'results', 'latest');
    writeFileSync(`${latest}.md`, md.replaceAll(`](${stem.split('/').pop()}-`, '](latest-'));
    copyFileSync(peersSvg, `${latest}-peers.svg`);
    copyFileSync(scalingSvg, `${latest}-scaling.svg`);
  }
  console.log(
    `\nsections (s): ${Object.entries(seconds)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(', ')}; total ${totalS.toFixed(1)} s`,
  );
  console.log(`wrote ${json}, ${stem}.md, ${peersSvg}${sweeps.length ? `, ${scalingSvg}` : ''}`);
  if (args.json) console.log(JSON.stringify(results));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
