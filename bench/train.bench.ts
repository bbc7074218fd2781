// One multi-task training step at batch 1024 with 3 tasks (the penguins' heads: species cross-entropy,
// sex BCE-with-logits, body-mass Huber) on the MLP backbone's 32 features: the backbone forward (ONNX
// Runtime) against fuseloss's part of the step — neck + heads forward, MultiTaskLoss, multiHeadBackward
// with the combine, neck backward and the Adam step — and against the same step in pure TypeScript
// (backend 'reference'), so users see where a step's time goes.
import { join } from 'node:path';
import { type Args, fmt, makeTable, progress, scaled, type Table, timeAsync } from './harness';
import { fl } from './pkg';

export interface TrainRow {
  part: string;
  threads: number;
  ms: number;
  spread: string;
}

export async function run(args: Args): Promise<{ rows: TrainRow[]; table: Table | null }> {
  if (args.filter && !'train step'.includes(args.filter)) return { rows: [], table: null };
  const B = scaled(args, 1024);
  const all = fl.getNumThreads();
  const threads = args.threads ?? [...new Set([1, all])];
  const samples = args.quick ? 3 : 7;
  const backbone = await fl.OnnxBackbone.create(join(__dirname, '..', 'models', 'mlp_encoder.onnx'), {
    sessionOptions: { intraOpNumThreads: all },
  });
  let s = 5;
  const u = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
  const raw = Float32Array.from({ length: B * 6 }, () => u() * 2 - 1);
  const feats = await backbone.features({ data: raw, dims: [B, 6] });
  const ds = {
    inputs: feats.data,
    rowDims: [32],
    size: B,
    targets: {
      species: Int32Array.from({ length: B }, () => Math.floor(u() * 3)),
      sex: Float32Array.from({ length: B }, () => (u() < 0.5 ? 1 : 0)),
      mass: Float32Array.from({ length: B }, () => u() * 2 - 1),
    },
  };
  const rows = Int32Array.from({ length: B }, (_, i) => i);
  const tasks = {
    species: { loss: 'crossEntropy', outputs: 3 },
    sex: { loss: 'binaryCrossEntropyWithLogits', outputs: 1 },
    mass: { loss: 'huberLoss', outputs: 1, delta: 1 },
  };
  const trainer = (backend: 'native' | 'reference') =>
    new fl.MultiTaskTrainer({
      tasks,
      inFeatures: 32,
      neck: { units: 64 },
      weighting: { strategy: 'uncertainty' },
      combine: { method: 'pcgrad' },
      backend,
    });
  const out: TrainRow[] = [];
  const add = (part: string, t: number, tm: { medianMs: number; minMs: number; maxMs: number }) =>
    out.push({ part, threads: t, ms: tm.medianMs, spread: `${fmt(tm.minMs)}–${fmt(tm.maxMs)}` });
  progress('train step: backbone');
  add(
    `backbone forward (onnxruntime, ${all} intra-op threads)`,
    all,
    await timeAsync(() => backbone.features({ data: raw, dims: [B, 6] }), { samples }),
  );
  progress('train step: reference');
  const ref = trainer('reference');
  add('loss + reduction + Adam, pure TS (reference)', 1, await timeAsync(() => ref.step(ds, rows), { samples }));
  const native = trainer('native');
  for (const t of threads) {
    fl.setNumThreads(t);
    progress(`train step: native, ${t} thread(s)`);
    add('loss + reduction + Adam, fuseloss native', t, await timeAsync(() => native.step(ds, rows), { samples }));
  }
  fl.setNumThreads(all);
  await backbone.release();
  progress('');
  const refMs = out[1].ms;
  return {
    rows: out,
    table: makeTable(
      ['part of one step (batch ' + B + ', 3 tasks, neck 64, pcgrad, uncertainty)', 'thr', 'ms (median)', 'spread', '× pure TS'],
      out.map((r, i) => [r.part, String(r.threads), r.ms, r.spread, i === 0 ? '—' : `${fmt(refMs / r.ms)}×`]),
    ),
  };
}
