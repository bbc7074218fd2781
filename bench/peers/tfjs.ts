// The TensorFlow.js peer: the same losses through `tf.losses.*`, forward and gradient with
// `tf.valueAndGrad`, on the same data, on the wasm backend (@tensorflow/tfjs-backend-wasm, SIMD) when it
// initialises, else on tfjs's cpu backend. Each timed step ends with the gradient read back into a JS
// typed array (`dataSync`), as fuseloss's does. In Node the wasm backend runs one thread, so fuseloss is
// timed with the same thread count. Before any timing counts, its loss and gradient must equal
// fuseloss's (see `compare`): a peer that measured something else is reported as an error, not a ratio.
import { type Args, fmt, progress, scaled, makeTable, type PeerResult, time, type Timing } from '../harness';
import { fl } from '../pkg';

/** The slice of @tensorflow/tfjs this file uses (typed loosely: it is an optional dev dependency). */
export interface Tf {
  tensor2d(data: Float32Array | Int32Array, shape: [number, number], dtype?: string): TfTensor;
  oneHot(indices: TfTensor, depth: number): TfTensor;
  valueAndGrad(f: (x: TfTensor) => TfTensor): (x: TfTensor) => { value: TfTensor; grad: TfTensor };
  dispose(t: TfTensor | TfTensor[]): void;
  setBackend(name: string): Promise<boolean>;
  getBackend(): string;
  ready(): Promise<void>;
  version: Record<string, string>;
  losses: Record<string, (labels: TfTensor, predictions: TfTensor, weights?: TfTensor, ...rest: number[]) => TfTensor>;
  cast(x: TfTensor, dtype: string): TfTensor;
  tensor1d(data: Int32Array, dtype?: string): TfTensor;
}
export interface TfTensor {
  dataSync(): Float32Array;
}

export type TfCaseLoss = 'crossEntropy' | 'mseLoss' | 'huberLoss' | 'binaryCrossEntropyWithLogits' | 'l1Loss';

/** The tfjs expression of each fuseloss loss (mean reduction, PyTorch's defaults). */
export function tfjsLoss(tf: Tf, loss: TfCaseLoss, target: Float32Array | Int32Array, n: number, c: number): (x: TfTensor) => TfTensor {
  if (loss === 'crossEntropy') {
    // tfjs takes one-hot labels; they are made once here, outside the timed step.
    const onehot = tf.cast(tf.oneHot(tf.tensor1d(target as Int32Array, 'int32'), c), 'float32');
    return (x) => tf.losses.softmaxCrossEntropy(onehot, x);
  }
  const t = tf.tensor2d(target as Float32Array, [n, c]);
  if (loss === 'mseLoss') return (x) => tf.losses.meanSquaredError(t, x);
  if (loss === 'l1Loss') return (x) => tf.losses.absoluteDifference(t, x);
  if (loss === 'huberLoss') return (x) => tf.losses.huberLoss(t, x, undefined, 1);
  return (x) => tf.losses.sigmoidCrossEntropy(t, x);
}

/** Loads @tensorflow/tfjs and picks the wasm backend (else cpu); null when tfjs is not installed. */
export async function loadTf(): Promise<{ tf: Tf; backend: string; threads: number; note: string } | null> {
  let tf: Tf;
  try {
    tf = require('@tensorflow/tfjs') as Tf;
  } catch {
    return null;
  }
  let note = '';
  try {
    const wasm = require('@tensorflow/tfjs-backend-wasm') as { getThreadsCount?: () => number };
    if (await tf.setBackend('wasm')) {
      await tf.ready();
      return { tf, backend: 'wasm', threads: wasm.getThreadsCount?.() ?? 1, note };
    }
    note = 'the wasm backend did not initialise; ';
  } catch (e) {
    note = `the wasm backend did not load (${(e as Error).message}); `;
  }
  await tf.setBackend('cpu');
  return { tf, backend: 'cpu', threads: 1, note };
}

export interface TfjsRow {
  workload: string;
  threads: number;
  fuseloss: Timing;
  tfjs: Timing | null;
  ratio: number;
  note?: string;
}

const CASES: { loss: TfCaseLoss; c: number }[] = [
  { loss: 'crossEntropy', c: 1000 },
  { loss: 'mseLoss', c: 1024 },
  { loss: 'huberLoss', c: 1024 },
  { loss: 'binaryCrossEntropyWithLogits', c: 1024 },
  { loss: 'l1Loss', c: 1024 },
];

export function caseData(loss: TfCaseLoss, n: number, c: number, seed = 31337) {
  let s = seed;
  const u = () => (s = (s * 1103515245 + 12345) >>> 0) / 4294967296;
  const input = Float32Array.from({ length: n * c }, () => (u() - 0.5) * 6);
  const target =
    loss === 'crossEntropy'
      ? Int32Array.from({ length: n }, () => Math.floor(u() * c))
      : loss === 'binaryCrossEntropyWithLogits'
        ? Float32Array.from({ length: n * c }, () => (u() < 0.3 ? 1 : 0))
        : Float32Array.from({ length: n * c }, () => (u() - 0.5) * 4);
  return { input, target };
}

/**
 * null when tfjs computed the same thing as fuseloss, else what differs. tfjs sums a mean in float32 (we
 * sum in float64), so over 4 Mi elements its loss is off by ~1e-3 relative: the loss is held to 5e-3
 * relative (a wrong reduction or formula is off by far more), and every gradient element to 1e-6 + 1e-3
 * relative.
 */
export function compare(loss: number, grad: Float32Array, expectedLoss: number, expectedGrad: Float32Array): string | null {
  if (!(Math.abs(loss - expectedLoss) <= 5e-3 * Math.max(1, Math.abs(expectedLoss))))
    return `loss mismatch: tfjs ${loss}, fuseloss ${expectedLoss}`;
  if (grad.length !== expectedGrad.length) return `gradient length ${grad.length}, expected ${expectedGrad.length}`;
  for (let i = 0; i < grad.length; i++)
    if (!(Math.abs(grad[i] - expectedGrad[i]) <= 1e-6 + 1e-3 * Math.abs(expectedGrad[i])))
      return `gradient mismatch at ${i}: tfjs ${grad[i]}, fuseloss ${expectedGrad[i]}`;
  return null;
}

export async function run(args: Args): Promise<PeerResult<TfjsRow> & { backend: string | null }> {
  const loaded = await loadTf();
  if (!loaded)
    return { rows: [], table: null, note: 'skipped: @tensorflow/tfjs does not load (npm install it)', version: null, backend: null };
  const { tf, backend, threads, note } = loaded;
  const version = tf.version['tfjs-core'] ?? tf.version.tfjs ?? 'unknown';
  const all = fl.getNumThreads();
  const samples = args.quick ? 3 : 7;
  const rows: TfjsRow[] = [];
  const n = scaled(args, 4096);
  for (const k of CASES) {
    const name = `${k.loss} [${n},${k.c}]`;
    if (args.filter && !`tfjs ${name}`.includes(args.filter)) continue;
    progress(`tfjs ${name}`);
    const { input, target } = caseData(k.loss, n, k.c);
    const grad = new Float32Array(input.length);
    const fn = (fl as unknown as Record<string, (x: Float32Array, t: unknown, o: object) => { loss: unknown }>)[k.loss];
    const opts = { shape: [n, k.c], out: { grad } };
    const expected = fn(input, target, opts).loss as number;
    const x = tf.tensor2d(input, [n, k.c]);
    const vg = tf.valueAndGrad(tfjsLoss(tf, k.loss, target, n, k.c));
    let theirGrad: Float32Array = new Float32Array(0);
    const step = () => {
      const r = vg(x);
      theirGrad = r.grad.dataSync();
      const v = r.value.dataSync()[0];
      tf.dispose([r.value, r.grad]);
      return v;
    };
    const got = step();
    const mismatch = compare(got, theirGrad, expected, grad);
    const agrees = mismatch === null;
    const theirs = agrees ? time(step, { samples, minSampleMs: 0 }) : null;
    tf.dispose(x);
    fl.setNumThreads(threads);
    const mine = time(() => fn(input, target, opts), { samples });
    rows.push({
      workload: name,
      threads,
      fuseloss: mine,
      tfjs: theirs,
      ratio: theirs ? theirs.medianMs / mine.medianMs : NaN,
      note: mismatch ?? undefined,
    });
  }
  fl.setNumThreads(all);
  progress('');
  const tab = makeTable(
    ['workload (forward + gradient)', 'thr', 'fuseloss ms', `tfjs ${version} ${backend} ms`, '× tfjs'],
    rows.map((r) => [
      r.workload,
      String(r.threads),
      r.fuseloss.medianMs,
      r.tfjs ? r.tfjs.medianMs : '—',
      r.tfjs ? `${fmt(r.ratio)}×` : (r.note ?? '—'),
    ]),
  );
  return { rows, table: tab, note: `${note}backend ${backend}, ${threads} thread(s)`, version, backend };
}
