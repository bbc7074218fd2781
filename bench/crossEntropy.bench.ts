// crossEntropy forward + backward at the foundation's shapes. Bytes per element counted: 4 read (logits)
// + 4 written (gradient); the class ids (4 bytes per row) are left out.
import type { CrossEntropyOptions } from '../src/index';
import { fl } from './pkg';

const { crossEntropy } = fl;
import { type Args, lcg, scaled, type Workload } from './harness';

const shapes: { label: string; shape: number[]; options?: CrossEntropyOptions }[] = [
  { label: 'ce', shape: [4096, 1000] },
  { label: 'ce', shape: [256, 32000] },
  { label: 'ce', shape: [65536, 10] },
  { label: 'ce seg', shape: [8, 21, 128, 128] },
  { label: 'ce', shape: [4096, 1000], options: { labelSmoothing: 0.1 } },
];

export function workloads(args: Args): Workload[] {
  return shapes.map(({ label, shape: stated, options }) => {
    const shape = [scaled(args, stated[0]), ...stated.slice(1)];
    const name = `${label} [${shape.join(',')}]${options?.labelSmoothing ? ` ls=${options.labelSmoothing} weight` : ''}`;
    const [n, c] = shape;
    const s = shape.slice(2).reduce((a, b) => a * b, 1);
    return { name, elems: n * c * s, bytesPerElem: 8, make: () => data(shape, n, c, s, options) };
  });
}

function data(shape: number[], n: number, c: number, s: number, options?: CrossEntropyOptions) {
  const rand = lcg(12345);
  const input = Float32Array.from({ length: n * c * s }, () => (rand() - 0.5) * 8);
  const target = Int32Array.from({ length: n * s }, () => Math.floor(rand() * c));
  const grad = new Float32Array(input.length);
  const opts: CrossEntropyOptions = { shape, out: { grad }, ...options };
  if (options?.labelSmoothing) opts.weight = Float32Array.from({ length: c }, (_, i) => 0.5 + (i % 7) / 7);
  return {
    native: () => crossEntropy(input, target, opts),
    reference: () => crossEntropy(input, target, { ...opts, backend: 'reference' }),
    cuda: () => crossEntropy(input, target, { ...opts, backend: 'cuda' }),
  };
}
