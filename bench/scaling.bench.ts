// The scaling sweep: how the cost of the fused kernels grows with the work. Cross-entropy forward +
// backward against the batch size N (C = 1000) and the class count C (N = 1024); MultiTaskLoss against
// the number of tasks (each a [4096, 100] cross-entropy, BCE-with-logits or Huber head, cycling); and a
// few workloads against the thread count 1…cores (speed-up over one thread).
import type * as Fuseloss from '../src/index';
import type { Sweep } from '../src/train/chart';
import { type Args, lcg, progress, scaled, time } from './harness';

export type { Sweep };
import { fl } from './pkg';

function ceStep(n: number, c: number) {
  const rand = lcg(n * 31 + c);
  const x = Float32Array.from({ length: n * c }, () => (rand() - 0.5) * 8);
  const ids = Int32Array.from({ length: n }, () => Math.floor(rand() * c));
  const grad = new Float32Array(n * c);
  const options = { shape: [n, c], out: { grad } };
  return () => fl.crossEntropy(x, ids, options);
}

function multiTask(tasks: number, n: number) {
  const kinds = [
    { loss: 'crossEntropy', ids: true },
    { loss: 'binaryCrossEntropyWithLogits', ids: false },
    { loss: 'huberLoss', ids: false },
  ] as const;
  const rand = lcg(7 + tasks);
  const c = 100;
  const config: Record<string, Fuseloss.TaskConfig> = {};
  const batch: Record<string, Fuseloss.TaskBatch> = {};
  for (let t = 0; t < tasks; t++) {
    const k = kinds[t % kinds.length];
    config[`t${t}`] = { loss: k.loss };
    batch[`t${t}`] = {
      input: Float32Array.from({ length: n * c }, () => (rand() - 0.5) * 6),
      target: k.ids
        ? Int32Array.from({ length: n }, () => Math.floor(rand() * c))
        : Float32Array.from({ length: n * c }, () => (rand() < 0.3 ? 1 : 0)),
      shape: [n, c],
      out: { grad: new Float32Array(n * c) },
    };
  }
  const mtl = new fl.MultiTaskLoss({ tasks: config, weighting: { strategy: 'equal' } });
  return () => mtl.compute(batch);
}

function linear(b: number, i: number, o: number) {
  const rand = lcg(b + i + o);
  const u = (k: number) => Float32Array.from({ length: k }, () => rand() * 2 - 1);
  const x = u(b * i),
    w = u(o * i),
    g = u(b * o);
  const out = { gradWeight: new Float32Array(o * i), gradBias: new Float32Array(o), gradInput: new Float32Array(b * i) };
  return () => fl.linearBackward(x, g, w, { batch: b, inFeatures: i, outFeatures: o, out });
}

export function run(args: Args): Sweep[] {
  if (args.filter && !'scaling'.includes(args.filter)) return []; // --filter scaling (or a part of the word) runs it
  const all = fl.getNumThreads();
  const threadSet = args.threads ?? [...new Set([1, all])];
  const samples = args.quick ? 3 : 5;
  const ms = (f: () => unknown) => time(f, { samples }).medianMs;
  const sweeps: Sweep[] = [];
  const perThreads = (label: string, f: () => unknown) =>
    threadSet.map((t) => {
      fl.setNumThreads(t);
      return { label: `${label}, ${t} thr`, y: ms(f) };
    });

  // cost vs N and vs C: time per element stays flat once the pool has work for every thread
  const byN = (args.quick ? [64, 512, 4096, 16384] : [64, 256, 1024, 4096, 16384, 65536]).map((n) => scaled(args, n));
  const byC = args.quick ? [10, 100, 1000, 10000] : [10, 100, 1000, 10000, 32000];
  const nForC = scaled(args, 1024);
  for (const [axis, xs, make] of [
    ['N', byN, (v: number) => ceStep(v, 1000)],
    ['C', byC, (v: number) => ceStep(nForC, v)],
  ] as const) {
    const series = new Map<string, number[]>();
    for (const v of xs) {
      progress(`scaling: crossEntropy, ${axis} = ${v}`);
      const f = make(v);
      for (const { label, y } of perThreads('crossEntropy', f)) {
        const elems = axis === 'N' ? v * 1000 : nForC * v;
        series.set(label, [...(series.get(label) ?? []), (y * 1e6) / elems]);
      }
    }
    sweeps.push({
      axis,
      x: [...xs],
      unit: 'ns / element',
      log: true,
      title:
        axis === 'N'
          ? 'crossEntropy fwd+bwd, C = 1000: ns per element vs batch N'
          : `crossEntropy fwd+bwd, N = ${nForC}: ns per element vs classes C`,
      series: [...series].map(([label, y]) => ({ label, y })),
    });
  }

  // cost vs tasks: one fused MultiTaskLoss step
  const tasks = args.quick ? [1, 2, 4, 8] : [1, 2, 4, 8, 16];
  const n = scaled(args, 4096);
  const bySeries = new Map<string, number[]>();
  for (const t of tasks) {
    progress(`scaling: MultiTaskLoss, ${t} task(s)`);
    const f = multiTask(t, n);
    for (const { label, y } of perThreads('MultiTaskLoss', f)) bySeries.set(label, [...(bySeries.get(label) ?? []), y]);
  }
  sweeps.push({
    axis: 'tasks',
    x: tasks,
    unit: 'ms / step',
    log: false,
    title: `MultiTaskLoss step ([${n}, 100] heads): ms vs tasks`,
    series: [...bySeries].map(([label, y]) => ({ label, y })),
  });

  // speed-up vs threads 1…cores
  const threads = Array.from({ length: Math.max(...threadSet, all) }, (_, i) => i + 1);
  const cases: [string, () => unknown][] = [
    [`crossEntropy [${n},1000]`, ceStep(n, 1000)],
    [`linearBackward [${n}, 768 → 1000]`, linear(n, 768, 1000)],
    [`MultiTaskLoss 10 tasks [${n}, 100]`, multiTask(10, n)],
  ];
  const speedups = cases.map(([label, f]) => {
    const times = threads.map((t) => {
      progress(`scaling: ${label}, ${t} thread(s)`);
      fl.setNumThreads(t);
      return ms(f);
    });
    return { label, y: times.map((v) => times[0] / v) };
  });
  sweeps.push({ axis: 'threads', x: threads, unit: '× one thread', log: false, title: 'speed-up vs threads', series: speedups });
  fl.setNumThreads(all);
  progress('');
  return sweeps;
}
