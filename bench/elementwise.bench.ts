// The elementwise losses at a large shape ([4096, 1024], 4 Mi elements) and a small one ([64, 64]).
// Bytes per element counted: 8 read (input, target) + 4 written (gradient).
import type { ElementwiseName } from '../src/losses/ops';
import { fl } from './pkg';

const { ELEMENTWISE_LOSSES } = fl;
import { type Args, lcg, scaled, type Workload } from './harness';

type Loss = (input: Float32Array, target: Float32Array, options?: object) => unknown;

function data(name: ElementwiseName, n: number) {
  const rand = lcg(777);
  const input = new Float32Array(n),
    target = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rand(),
      z = (rand() - 0.5) * 6;
    if (name === 'binaryCrossEntropy') ((input[i] = rand()), (target[i] = u));
    else if (name === 'binaryCrossEntropyWithLogits' || name === 'sigmoidFocalLoss') ((input[i] = z), (target[i] = u < 0.3 ? 1 : 0));
    else if (name === 'hingeEmbeddingLoss') ((input[i] = z), (target[i] = u < 0.5 ? 1 : -1));
    else if (name === 'hingeLoss') ((input[i] = z), (target[i] = u < 0.5 ? 1 : 0));
    else if (name === 'logLoss') ((input[i] = rand()), (target[i] = u < 0.5 ? 1 : 0));
    else if (name === 'klDiv') ((input[i] = -Math.abs(z)), (target[i] = u));
    else if (name === 'poissonNllLoss') ((input[i] = z / 3), (target[i] = Math.floor(u * 5)));
    else ((input[i] = z), (target[i] = (rand() - 0.5) * 6));
  }
  return { input, target };
}

export function workloads(args: Args): Workload[] {
  const out: Workload[] = [];
  for (const spec of ELEMENTWISE_LOSSES) {
    const loss = (fl as unknown as Record<string, Loss>)[spec.name];
    for (const stated of args.quick
      ? [[4096, 1024]]
      : [
          [4096, 1024],
          [64, 64],
        ]) {
      // --quick: the large shape only
      const shape = [scaled(args, stated[0]), stated[1]];
      const n = shape[0] * shape[1];
      out.push({
        name: `${spec.name} [${shape}]`,
        elems: n,
        bytesPerElem: 12,
        make: () => {
          const { input, target } = data(spec.name, n);
          const grad = new Float32Array(n);
          const opts = { shape, reduction: 'mean', out: { grad } };
          return {
            native: () => loss(input, target, opts),
            reference: () => loss(input, target, { ...opts, backend: 'reference' }),
          };
        },
      });
    }
  }
  return out;
}
