// nllLoss and the row-coupled losses at a large shape ([4096, 1024]) and a small one ([64, 64]).
// Bytes per element counted: inputs read + gradients written (class ids and per-row values left out).
import { fl } from './pkg';
import { type Args, lcg, scaled, type Workload } from './harness';

type Fns = Record<string, (backend: 'native' | 'reference') => unknown>;

function data(n: number, c: number): Fns {
  const rand = lcg(4242);
  const x = Float32Array.from({ length: n * c }, () => (rand() - 0.5) * 6);
  const x2 = Float32Array.from({ length: n * c }, () => (rand() - 0.5) * 6);
  const ids = Int32Array.from({ length: n }, () => Math.floor(rand() * c));
  const bits = Float32Array.from({ length: n * c }, () => (rand() < 0.3 ? 1 : 0));
  const pm = Float32Array.from({ length: n }, () => (rand() < 0.5 ? 1 : -1));
  const grad = new Float32Array(n * c),
    grad2 = new Float32Array(n * c);
  const shape = [n, c];
  return {
    nllLoss: (backend) => fl.nllLoss(x, ids, { shape, backend, out: { grad } }),
    multiMarginLoss: (backend) => fl.multiMarginLoss(x, ids, { shape, backend, out: { grad } }),
    multilabelSoftMarginLoss: (backend) => fl.multilabelSoftMarginLoss(x, bits, { shape, backend, out: { grad } }),
    cosineEmbeddingLoss: (backend) => fl.cosineEmbeddingLoss(x, x2, pm, { shape, backend, out: { grad, grad2 } }),
    softF1Loss: (backend) => fl.softF1Loss(x, bits, { shape, backend, out: { grad } }),
  };
}

const BYTES: Record<string, number> = {
  nllLoss: 8,
  multiMarginLoss: 8,
  multilabelSoftMarginLoss: 12,
  cosineEmbeddingLoss: 16,
  softF1Loss: 12,
};

export function workloads(args: Args): Workload[] {
  const out: Workload[] = [];
  for (const [stated, c] of args.quick
    ? [[4096, 1024]]
    : [
        [4096, 1024],
        [64, 64],
      ]) {
    // --quick: the large shape only
    const n = scaled(args, stated);
    let fns: Fns | null = null; // one data set per shape, made when its first workload runs
    for (const [name, bytesPerElem] of Object.entries(BYTES)) {
      out.push({
        name: `${name} [${n},${c}]`,
        elems: n * c,
        bytesPerElem,
        make: () => {
          const f = (fns ??= data(n, c))[name];
          return { native: () => f('native'), reference: () => f('reference') };
        },
      });
    }
  }
  return out;
}
