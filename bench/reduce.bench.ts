// Gradient reduction: linearBackward (GFLOP/s against the FMA peak measured in the same run), the heads
// of multiHeadBackward, and combineGradients against one read of all task gradients (the memory roofline
// of a reduction: a float64 sum of squares over the same bytes).
import { type Args, fmt, progress, scaled, makeTable, type Table, time, type Timing } from './harness';
import { fl } from './pkg';

export interface ReduceRow {
  workload: string;
  impl: string;
  threads: number;
  timing: Timing;
  gflops: number;
  pctPeak: number;
  vsRoofline: number;
  vsReference: number;
}

function uniform(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296) * 2 - 1;
  return out;
}

export function run(args: Args): { rows: ReduceRow[]; table: Table; peak: number; peakAll: number; threads: number } {
  const all = fl.getNumThreads();
  const threadSet = args.threads ?? [...new Set([1, all])];
  const samples = args.quick ? 3 : 5;
  const rows: ReduceRow[] = [];
  const want = (name: string) => !args.filter || name.includes(args.filter);
  progress('FMA peak');
  const peak = fl.internal.fmaPeak(args.quick ? 100 : 300);
  // Every thread at once: on virtual CPUs that share a core's floating-point units this is far below
  // threads × peak, and it bounds the per-thread figures of the multi-thread rows.
  const peakAll = all > 1 ? fl.internal.fmaPeak(args.quick ? 100 : 300, true) : peak;

  // ---- linearBackward (gradWeight + gradBias + gradInput: 4·B·I·O flops)
  // --quick leaves out the LM-head shape [256, 4096 → 32000] (~4 s of data and timing)
  const linearShapes: [number, number, number, boolean][] = [
    [4096, 768, 1000, true],
    ...(args.quick ? [] : [[256, 4096, 32000, false] as [number, number, number, boolean]]),
  ];
  for (const [stated, I, O, withRef] of linearShapes) {
    const B = scaled(args, stated);
    const name = `linearBackward [${B}, ${I} → ${O}]`;
    if (!want(name)) continue;
    const x = uniform(B * I, 1),
      w = uniform(O * I, 2),
      g = uniform(B * O, 3);
    const out = { gradWeight: new Float32Array(O * I), gradBias: new Float32Array(O), gradInput: new Float32Array(B * I) };
    const shape = { batch: B, inFeatures: I, outFeatures: O };
    const flops = 4 * B * I * O;
    let ref: Timing | null = null;
    if (withRef && (!args.quick || args.scale < 1)) {
      // the float64 reference takes ~17 s here: not in --quick
      progress(`${name}: reference`);
      ref = time(() => fl.linearBackward(x, g, w, { ...shape, backend: 'reference', out }), { samples: 1, minSampleMs: 0, warmupMs: 0 });
      rows.push({
        workload: name,
        impl: 'reference (TS)',
        threads: 1,
        timing: ref,
        gflops: flops / (ref.medianMs * 1e6),
        pctPeak: NaN,
        vsRoofline: NaN,
        vsReference: 1,
      });
    }
    for (const t of threadSet) {
      fl.setNumThreads(t);
      progress(`${name}: ${t} thread(s)`);
      const tm = time(() => fl.linearBackward(x, g, w, { ...shape, out }), { samples, minSampleMs: 0, warmupMs: 200 });
      const gflops = flops / (tm.medianMs * 1e6);
      rows.push({
        workload: name,
        impl: `native ${fl.runtimeInfo().isa}`,
        threads: t,
        timing: tm,
        gflops,
        pctPeak: (100 * gflops) / (peak * t),
        vsRoofline: NaN,
        vsReference: ref ? ref.medianMs / tm.medianMs : NaN,
      });
    }
  }

  // ---- multiHeadBackward: 3 and 10 heads on [4096, 768] features, summed shared gradient
  for (const outs of [
    [1000, 100, 8],
    [1000, 100, 8, 100, 3, 40, 20, 16, 4, 1],
  ]) {
    const B = scaled(args, 4096),
      I = 768;
    const name = `multiHeadBackward ${outs.length} heads [${B}, ${I}]`;
    if (!want(name)) continue;
    const x = uniform(B * I, 4);
    const heads = Object.fromEntries(
      outs.map((O, h) => [
        `h${h}`,
        {
          weight: uniform(O * I, 10 + h),
          gradOut: uniform(B * O, 20 + h),
          outFeatures: O,
          out: { gradWeight: new Float32Array(O * I), gradBias: new Float32Array(O), gradInput: new Float32Array(B * I) },
        },
      ]),
    );
    const shared = new Float32Array(B * I);
    const flops = outs.reduce((s, O) => s + 4 * B * I * O, 0);
    for (const t of threadSet) {
      fl.setNumThreads(t);
      progress(`${name}: ${t} thread(s)`);
      const tm = time(
        () => fl.multiHeadBackward(x, heads, { batch: B, inFeatures: I, combine: { method: 'sum' }, out: { sharedGrad: shared } }),
        { samples, minSampleMs: 0, warmupMs: 200 },
      );
      const gflops = flops / (tm.medianMs * 1e6);
      rows.push({
        workload: name,
        impl: `native ${fl.runtimeInfo().isa}`,
        threads: t,
        timing: tm,
        gflops,
        pctPeak: (100 * gflops) / (peak * t),
        vsRoofline: NaN,
        vsReference: NaN,
      });
    }
  }

  // ---- combineGradients at 1M-element gradients, against one read of all of them
  const n = scaled(args, 1 << 20);
  const size = n === 1 << 20 ? '1M' : String(n);
  for (const T of args.quick ? [10] : [2, 10]) {
    // --quick: ten tasks only
    const gs = Array.from({ length: T }, (_, t) => uniform(n, 100 + t));
    const out = new Float32Array(n);
    for (const method of fl.COMBINE_METHODS) {
      const name = `combineGradients ${method} T=${T} [${size}]`;
      if (!want(name)) continue;
      let ref: Timing | null = null;
      progress(`${name}: reference`);
      const refState = {},
        state = {};
      ref = time(() => fl.combineGradients(gs, { method, out, backend: 'reference', state: refState }), {
        samples: 1,
        minSampleMs: 0,
        warmupMs: 0,
      });
      rows.push({
        workload: name,
        impl: 'reference (TS)',
        threads: 1,
        timing: ref,
        gflops: NaN,
        pctPeak: NaN,
        vsRoofline: NaN,
        vsReference: 1,
      });
      for (const t of threadSet) {
        fl.setNumThreads(t);
        progress(`${name}: ${t} thread(s)`);
        // The read is timed beside each method, so a slow spell of the machine affects both alike.
        const read = time(() => fl.clipGradNorm(gs, 2), { samples });
        const tm = time(() => fl.combineGradients(gs, { method, out, state }), { samples });
        rows.push({
          workload: name,
          impl: `native ${fl.runtimeInfo().isa}`,
          threads: t,
          timing: tm,
          gflops: NaN,
          pctPeak: NaN,
          vsRoofline: tm.medianMs / read.medianMs,
          vsReference: ref.medianMs / tm.medianMs,
        });
      }
    }
  }
  fl.setNumThreads(all);
  progress('');
  const tab = makeTable(
    ['workload', 'impl', 'thr', 'ms (median)', 'spread', 'GFLOP/s', '% FMA peak', '× one read', '× reference'],
    rows.map((r) => [
      r.workload,
      r.impl,
      String(r.threads),
      r.timing.medianMs,
      `${fmt(r.timing.minMs)}–${fmt(r.timing.maxMs)}`,
      Number.isNaN(r.gflops) ? '—' : r.gflops,
      Number.isNaN(r.pctPeak) ? '—' : `${fmt(r.pctPeak)}%`,
      Number.isNaN(r.vsRoofline) ? '—' : `${fmt(r.vsRoofline)}×`,
      Number.isNaN(r.vsReference) ? '—' : `${fmt(r.vsReference)}×`,
    ]),
  );
  return { rows, table: tab, peak, peakAll, threads: all };
}
