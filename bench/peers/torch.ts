// The PyTorch CPU peer: when `/usr/bin/python3 -c 'import torch'` works (Debian's python3-torch), a child
// process times the same losses forward + backward on the same data (written to a temp directory) with
// the same thread counts. Before any timing counts, its loss value must equal fuseloss's (relative 1e-4):
// a peer that measured something else is reported as an error, not as a ratio.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Args, fmt, progress, scaled, makeTable, type PeerResult, time, type Timing } from '../harness';
import { fl } from '../pkg';

const PYTHON = '/usr/bin/python3';

interface Case {
  loss: 'crossEntropy' | 'mseLoss' | 'huberLoss' | 'binaryCrossEntropyWithLogits';
  shape: [number, number];
  options?: Record<string, number>;
}

const CASES: Case[] = [
  { loss: 'crossEntropy', shape: [4096, 1000] },
  { loss: 'crossEntropy', shape: [256, 32000] },
  { loss: 'crossEntropy', shape: [4096, 1000], options: { labelSmoothing: 0.1 } },
  { loss: 'mseLoss', shape: [4096, 1024] },
  { loss: 'huberLoss', shape: [4096, 1024], options: { delta: 1 } },
  { loss: 'binaryCrossEntropyWithLogits', shape: [4096, 1024] },
];

export interface TorchRow {
  workload: string;
  threads: number;
  fuseloss: Timing;
  torch: { medianMs: number; minMs: number; maxMs: number } | null;
  ratio: number;
  note?: string;
}

function data(c: Case) {
  const [n, k] = c.shape;
  let s = 4242;
  const u = () => (s = (s * 1103515245 + 12345) >>> 0) / 4294967296;
  const input = Float32Array.from({ length: n * k }, () => (u() - 0.5) * 6);
  const target =
    c.loss === 'crossEntropy'
      ? Int32Array.from({ length: n }, () => Math.floor(u() * k))
      : c.loss === 'binaryCrossEntropyWithLogits'
        ? Float32Array.from({ length: n * k }, () => (u() < 0.3 ? 1 : 0))
        : Float32Array.from({ length: n * k }, () => (u() - 0.5) * 4);
  return { input, target };
}

export function run(args: Args): PeerResult<TorchRow> {
  const all = fl.getNumThreads();
  const threads = args.threads ?? [...new Set([1, all])];
  const samples = args.quick ? 3 : 7;
  const dir = mkdtempSync(join(tmpdir(), 'fuseloss-torch-'));
  const rows: TorchRow[] = [];
  let version: string | null = null;
  try {
    type Fn = (x: Float32Array, t: unknown, o: object) => { loss: unknown };
    const cases = CASES.map((c) => ({ ...c, shape: [scaled(args, c.shape[0]), c.shape[1]] as [number, number] }))
      .map((c) => ({ ...c, name: `${c.loss} [${c.shape}]${c.options?.labelSmoothing ? ` ls=${c.options.labelSmoothing}` : ''}` }))
      .filter((c) => !args.filter || `torch ${c.name}`.includes(args.filter));
    // Every case's data goes to disk first; one Python process then times them all (torch's import once).
    const specs = cases.map((c, i) => {
      const { input, target } = data(c);
      writeFileSync(join(dir, `x${i}.bin`), Buffer.from(input.buffer));
      writeFileSync(join(dir, `t${i}.bin`), Buffer.from(target.buffer));
      return {
        loss: c.loss,
        shape: c.shape,
        input: join(dir, `x${i}.bin`),
        target: join(dir, `t${i}.bin`),
        targetKind: c.loss === 'crossEntropy' ? 'index' : 'float',
        options: c.options ?? {},
        threads,
        samples,
        warmupS: 0.1,
        minSampleS: args.quick ? 0.008 : 0.02,
      }; // torch's first calls are slow: a full warm-up even with --quick
    });
    if (!specs.length) return { rows, table: null, note: 'no case matches --filter', version };
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(specs));
    progress(`torch: ${specs.length} cases in one Python process`);
    const child = spawnSync(PYTHON, [join(__dirname, 'torch_peer.py'), join(dir, 'spec.json')], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (child.error || child.status !== 0) {
      const why = child.error
        ? child.error.message
        : (/No module named '?(\w+)/.exec(child.stderr)?.[0] ?? child.stderr.trim().split('\n').pop());
      if (child.error || /No module named/.test(child.stderr))
        return { rows, table: null, note: `skipped: ${PYTHON} cannot run it (${why}; apt-get install python3-torch)`, version };
      throw new Error(`the PyTorch peer failed: ${child.stderr}`);
    }
    const out = JSON.parse(child.stdout) as {
      torch: string;
      cases: { loss: number; timings: Record<string, { medianMs: number; minMs: number; maxMs: number }> }[];
    };
    version = out.torch;
    cases.forEach((c, i) => {
      const { input, target } = data(c);
      const fn = (fl as unknown as Record<string, Fn>)[c.loss];
      const grad = new Float32Array(input.length);
      const opts = { shape: c.shape, ...c.options, out: { grad } };
      const ours = fn(input, target, opts).loss as number;
      const theirs = out.cases[i];
      const agrees = Math.abs(theirs.loss - ours) <= 1e-4 * Math.max(1, Math.abs(ours));
      for (const t of threads) {
        fl.setNumThreads(t);
        progress(`torch ${c.name}: fuseloss, ${t} thread(s)`);
        const mine = time(() => fn(input, target, opts), { samples });
        const tt = theirs.timings[String(t)];
        rows.push({
          workload: c.name,
          threads: t,
          fuseloss: mine,
          torch: agrees ? tt : null,
          ratio: agrees ? tt.medianMs / mine.medianMs : NaN,
          note: agrees ? undefined : `loss mismatch: torch ${theirs.loss}, fuseloss ${ours}`,
        });
      }
    });
  } finally {
    fl.setNumThreads(all);
    rmSync(dir, { recursive: true, force: true });
    progress('');
  }
  const tab = makeTable(
    ['workload (forward + backward)', 'thr', 'fuseloss ms', `torch ${version} ms`, '× PyTorch'],
    rows.map((r) => [
      r.workload,
      String(r.threads),
      r.fuseloss.medianMs,
      r.torch ? r.torch.medianMs : '—',
      r.torch ? `${fmt(r.ratio)}×` : (r.note ?? '—'),
    ]),
  );
  return { rows, table: tab, note: '', version };
}
