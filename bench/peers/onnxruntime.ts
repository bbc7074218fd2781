// The onnxruntime-node peer: each loss's forward and gradient as a plain ONNX graph (built by
// bench/peers/make_onnx_models.py, committed under models/), run by an InferenceSession on the CPU with
// intra-op threads matched to ours, on the same data. Its loss must equal fuseloss's (relative 1e-4)
// before any ratio is reported.
import { join } from 'node:path';
import { type Args, fmt, progress, scaled, makeTable, type PeerResult, time, timeAsync, type Timing } from '../harness';
import { fl } from '../pkg';

interface OrtModule {
  InferenceSession: { create(path: string, options: object): Promise<OrtSession> };
  Tensor: new (type: string, data: Float32Array | BigInt64Array, dims: number[]) => unknown;
  env: { versions?: Record<string, string> };
}
interface OrtSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: Float32Array }>>;
  release?(): Promise<void>;
}

function loadOrt(): OrtModule | null {
  try {
    return require('onnxruntime-node') as OrtModule;
  } catch {
    return null;
  }
}

export interface OrtRow {
  workload: string;
  threads: number;
  fuseloss: Timing;
  ort: Timing | null;
  ratio: number;
  note?: string;
}

export async function run(args: Args): Promise<PeerResult<OrtRow>> {
  const ort = loadOrt();
  if (!ort) return { rows: [], table: null, note: 'skipped: onnxruntime-node does not load (npm install it)', version: null };
  const version = ort.env.versions?.node ?? ort.env.versions?.common ?? 'unknown';
  const all = fl.getNumThreads();
  const threads = args.threads ?? [...new Set([1, all])];
  const samples = args.quick ? 3 : 7;
  const rows: OrtRow[] = [];
  let s = 99;
  const u = () => (s = (s * 1103515245 + 12345) >>> 0) / 4294967296;
  const n = scaled(args, 4096);
  const cases = [
    { name: `crossEntropy [${n},1000]`, model: 'cross_entropy.onnx', n, c: 1000 },
    { name: `mseLoss [${n},1024]`, model: 'mse.onnx', n, c: 1024 },
  ];
  for (const k of cases) {
    if (args.filter && !`onnxruntime ${k.name}`.includes(args.filter)) continue;
    const x = Float32Array.from({ length: k.n * k.c }, () => (u() - 0.5) * 6);
    const grad = new Float32Array(x.length);
    const isCe = k.model === 'cross_entropy.onnx';
    const ids = Int32Array.from({ length: k.n }, () => Math.floor(u() * k.c));
    const t = Float32Array.from({ length: k.n * k.c }, () => (u() - 0.5) * 4);
    const ours = () =>
      isCe ? fl.crossEntropy(x, ids, { shape: [k.n, k.c], out: { grad } }) : fl.mseLoss(x, t, { shape: [k.n, k.c], out: { grad } });
    const expected = ours().loss as number;
    const feeds = isCe
      ? {
          logits: new ort.Tensor('float32', x, [k.n, k.c]),
          labels: new ort.Tensor(
            'int64',
            BigInt64Array.from(ids, (v) => BigInt(v)),
            [k.n],
          ),
        }
      : { x: new ort.Tensor('float32', x, [k.n, k.c]), t: new ort.Tensor('float32', t, [k.n, k.c]) };
    for (const th of threads) {
      progress(`onnxruntime ${k.name}: ${th} thread(s)`);
      const session = await ort.InferenceSession.create(join(__dirname, 'models', k.model), {
        intraOpNumThreads: th,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        executionProviders: ['cpu'],
      });
      const first = await session.run(feeds);
      const got = first.loss.data[0];
      const agrees = Math.abs(got - expected) <= 1e-4 * Math.max(1, Math.abs(expected));
      const theirs = agrees ? await timeAsync(() => session.run(feeds), { samples }) : null;
      await session.release?.();
      fl.setNumThreads(th);
      const mine = time(ours, { samples });
      rows.push({
        workload: k.name,
        threads: th,
        fuseloss: mine,
        ort: theirs,
        ratio: theirs ? theirs.medianMs / mine.medianMs : NaN,
        note: agrees ? undefined : `loss mismatch: onnxruntime ${got}, fuseloss ${expected}`,
      });
    }
  }
  fl.setNumThreads(all);
  progress('');
  const tab = makeTable(
    ['workload (forward + gradient)', 'thr', 'fuseloss ms', `onnxruntime ${version} ms`, '× onnxruntime'],
    rows.map((r) => [
      r.workload,
      String(r.threads),
      r.fuseloss.medianMs,
      r.ort ? r.ort.medianMs : '—',
      r.ort ? `${fmt(r.ratio)}×` : (r.note ?? '—'),
    ]),
  );
  return { rows, table: tab, note: '', version };
}
