// nllLoss and the row-coupled losses at a large shape ([4096, 1024]) and a small one ([64, 64]).
// Bytes per element counted: inputs read + gradients written (class ids and per-row values left out).
import { fl } from './pkg';
import { lcg, type Workload } from './harness';

export function workloads(): Workload[] {
  const out: Workload[] = [];
  for (const [n, c] of [[4096, 1024], [64, 64]]) {
    const rand = lcg(4242);
    const x = Float32Array.from({ length: n * c }, () => (rand() - 0.5) * 6);
    const x2 = Float32Array.from({ length: n * c }, () => (rand() - 0.5) * 6);
    const ids = Int32Array.from({ length: n }, () => Math.floor(rand() * c));
    const bits = Float32Array.from({ length: n * c }, () => (rand() < 0.3 ? 1 : 0));
    const pm = Float32Array.from({ length: n }, () => (rand() < 0.5 ? 1 : -1));
    const grad = new Float32Array(n * c), grad2 = new Float32Array(n * c);
    const shape = [n, c];
    const add = (name: string, bytesPerElem: number, f: (backend: 'native' | 'reference') => unknown) =>
      out.push({ name: `${name} [${n},${c}]`, elems: n * c, bytesPerElem, native: () => f('native'), reference: () => f('reference') });
    add('nllLoss', 8, (backend) => fl.nllLoss(x, ids, { shape, backend, out: { grad } }));
    add('multiMarginLoss', 8, (backend) => fl.multiMarginLoss(x, ids, { shape, backend, out: { grad } }));
    add('multilabelSoftMarginLoss', 12, (backend) => fl.multilabelSoftMarginLoss(x, bits, { shape, backend, out: { grad } }));
    add('cosineEmbeddingLoss', 16, (backend) => fl.cosineEmbeddingLoss(x, x2, pm, { shape, backend, out: { grad, grad2 } }));
    add('softF1Loss', 12, (backend) => fl.softF1Loss(x, bits, { shape, backend, out: { grad } }));
  }
  return out;
}
