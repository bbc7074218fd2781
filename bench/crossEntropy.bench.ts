// crossEntropy forward + backward at the foundation's shapes. Bytes per element counted: 4 read (logits)
// + 4 written (gradient); the class ids (4 bytes per row) are left out.
import type { CrossEntropyOptions } from '../src/index';
import { fl } from './pkg';

const { crossEntropy } = fl;
import { lcg, type Workload } from './harness';

const shapes: { name: string; shape: number[]; options?: CrossEntropyOptions }[] = [
  { name: 'ce [4096,1000]', shape: [4096, 1000] },
  { name: 'ce [256,32000]', shape: [256, 32000] },
  { name: 'ce [65536,10]', shape: [65536, 10] },
  { name: 'ce seg [8,21,128,128]', shape: [8, 21, 128, 128] },
  { name: 'ce [4096,1000] ls=0.1 weight', shape: [4096, 1000], options: { labelSmoothing: 0.1 } },
];

export function workloads(): Workload[] {
  return shapes.map(({ name, shape, options }) => {
    const [n, c] = shape;
    const s = shape.slice(2).reduce((a, b) => a * b, 1);
    const rand = lcg(12345);
    const input = Float32Array.from({ length: n * c * s }, () => (rand() - 0.5) * 8);
    const target = Int32Array.from({ length: n * s }, () => Math.floor(rand() * c));
    const grad = new Float32Array(input.length);
    const opts: CrossEntropyOptions = { shape, out: { grad }, ...options };
    if (options?.labelSmoothing) opts.weight = Float32Array.from({ length: c }, (_, i) => 0.5 + (i % 7) / 7);
    return {
      name, elems: input.length, bytesPerElem: 8,
      native: () => crossEntropy(input, target, opts),
      reference: () => crossEntropy(input, target, { ...opts, backend: 'reference' }),
      cuda: () => crossEntropy(input, target, { ...opts, backend: 'cuda' }),
    };
  });
}
