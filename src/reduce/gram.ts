// The Gram matrix gᵢ·gⱼ of the task gradients: one native pass over them (the Gram-based combine methods'
// first pass; multiHeadBackward computes it with the heads).
import { cudaNative, native } from '../backends/binding';
import { type DeviceBuffer, holding, toNativeArgs } from '../backends/device';
import { gramReference } from '../backends/reference/reduce';
import { type GradientBackend, gradientBackend, taskGrads } from './gradients';

/** The T×T Gram matrix of the task gradients (row-major Float64Array), one pass over them (on the GPU for DeviceBuffers or backend 'cuda'). */
export function gramMatrix(
  grads: readonly (Float32Array | DeviceBuffer<'float32'>)[],
  options: { backend?: GradientBackend } = {},
): Float64Array {
  const g = taskGrads(grads);
  const backend = gradientBackend('gramMatrix', options.backend, g);
  if (backend === 'reference') return gramReference(g);
  const out = new Float64Array(g.length * g.length);
  if (backend === 'cuda') cudaNative().gramMatrix(toNativeArgs(g), out);
  else native().gramMatrix(g, out);
  return out;
}

/** `gramMatrix` off the event loop; the same bits. */
export async function gramMatrixAsync(
  grads: readonly (Float32Array | DeviceBuffer<'float32'>)[],
  options: { backend?: GradientBackend } = {},
): Promise<Float64Array> {
  const g = taskGrads(grads);
  const backend = gradientBackend('gramMatrix', options.backend, g);
  if (backend === 'reference') return gramReference(g);
  const out = new Float64Array(g.length * g.length);
  if (backend === 'cuda') await holding(g, () => cudaNative().gramMatrixAsync(toNativeArgs(g), out));
  else await native().gramMatrixAsync(g, out);
  return out;
}
