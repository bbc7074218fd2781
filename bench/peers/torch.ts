// The PyTorch CPU peer: when `/usr/bin/python3 -c 'import torch'` works (Debian's python3-torch), a child
// process times the same losses forward + backward on the same data (written to a temp directory) with
// the same thread counts. Before any timing counts, its loss value must equal fuseloss's (relative 1e-4):
// a peer that measured something else is reported as an error, not as a ratio.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Args, fmt, progress, table, time, type Timing } from '../harness';
import { fl } from '../pkg';

const PYTHON = '/usr/bin/python3';

export function torchVersion(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

interface Case {
  name: string;
  loss: 'crossEntropy' | 'mseLoss' | 'huberLoss' | 'binaryCrossEntropyWithLogits';
  shape: [number, number];
  options?: Record<string, number>;
}

const CASES: Case[] = [
  { name: 'crossEntropy [4096,1000]', loss: 'crossEntropy', shape: [4096, 1000] },
  { name: 'crossEntropy [256,32000]', loss: 'crossEntropy', shape: [256, 32000] },
  { name: 'crossEntropy [4096,1000] ls=0.1', loss: 'crossEntropy', shape: [4096, 1000], options: { labelSmoothing: 0.1 } },
  { name: 'mseLoss [4096,1024]', loss: 'mseLoss', shape: [4096, 1024] },
  { name: 'huberLoss [4096,1024]', loss: 'huberLoss', shape: [4096, 1024], options: { delta: 1 } },
  { name: 'binaryCrossEntropyWithLogits [4096,1024]', loss: 'binaryCrossEntropyWithLogits', shape: [4096, 1024] },
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
  const u = () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296);
  const input = Float32Array.from({ length: n * k }, () => (u() - 0.5) * 6);
  const target = c.loss === 'crossEntropy' ? Int32Array.from({ length: n }, () => Math.floor(u() * k))
    : c.loss === 'binaryCrossEntropyWithLogits' ? Float32Array.from({ length: n * k }, () => (u() < 0.3 ? 1 : 0))
      : Float32Array.from({ length: n * k }, () => (u() - 0.5) * 4);
  return { input, target };
}

export function run(args: Args): { rows: TorchRow[]; text: string; version: string | null } {
  const version = torchVersion();
  if (!version) return { rows: [], text: `PyTorch peer skipped: ${PYTHON} cannot import torch (apt-get install python3-torch).`, version };
  const all = fl.getNumThreads();
  const threads = args.threads ?? [...new Set([1, all])];
  const dir = mkdtempSync(join(tmpdir(), 'fuseloss-torch-'));
  const rows: TorchRow[] = [];
  try {
    for (const c of CASES) {
      if (args.filter && !`torch ${c.name}`.includes(args.filter)) continue;
      const { input, target } = data(c);
      const fn = (fl as unknown as Record<string, (x: Float32Array, t: unknown, o: object) => { loss: unknown }>)[c.loss];
      const grad = new Float32Array(input.length);
      const opts = { shape: c.shape, ...c.options, out: { grad } };
      const ours = fn(input, target, opts).loss as number;
      writeFileSync(join(dir, 'x.bin'), Buffer.from(input.buffer));
      writeFileSync(join(dir, 't.bin'), Buffer.from(target.buffer));
      const spec = { loss: c.loss, shape: c.shape, input: join(dir, 'x.bin'), target: join(dir, 't.bin'),
        targetKind: c.loss === 'crossEntropy' ? 'index' : 'float', options: c.options ?? {}, threads, samples: args.quick ? 3 : 7 };
      writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
      progress(`torch ${c.name}`);
      const out = JSON.parse(execFileSync(PYTHON, [join(__dirname, 'torch_peer.py'), join(dir, 'spec.json')], { encoding: 'utf8' })) as {
        loss: number; timings: Record<string, { medianMs: number; minMs: number; maxMs: number }>;
      };
      const agrees = Math.abs(out.loss - ours) <= 1e-4 * Math.max(1, Math.abs(ours));
      for (const t of threads) {
        fl.setNumThreads(t);
        progress(`torch ${c.name}: fuseloss, ${t} thread(s)`);
        const mine = time(() => fn(input, target, opts), { samples: args.quick ? 3 : 7 });
        const theirs = out.timings[String(t)];
        rows.push({
          workload: c.name, threads: t, fuseloss: mine, torch: agrees ? theirs : null, ratio: agrees ? theirs.medianMs / mine.medianMs : NaN,
          note: agrees ? undefined : `loss mismatch: torch ${out.loss}, fuseloss ${ours}`,
        });
      }
    }
  } finally {
    fl.setNumThreads(all);
    rmSync(dir, { recursive: true, force: true });
    progress('');
  }
  const text = table(
    ['workload (forward + backward)', 'thr', 'fuseloss ms', `torch ${version} ms`, '× PyTorch'],
    rows.map((r) => [r.workload, String(r.threads), r.fuseloss.medianMs, r.torch ? r.torch.medianMs : '—', r.torch ? `${fmt(r.ratio)}×` : (r.note ?? '—')]),
  );
  return { rows, text, version };
}
