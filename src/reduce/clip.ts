// Gradient clipping by total norm and by value, over any list of gradients (PyTorch's clip_grad_norm_ and
// clip_grad_value_), in native passes.
import { cudaNative, native } from '../backends/binding';
import { DeviceBuffer, toNativeArgs } from '../backends/device';
import { totalNormReference } from '../backends/reference/reduce';
import { checkNotDetached, overlaps, rangeError, typeError } from '../core/validate';
import { type F32Grads, type GradientBackend, gradientBackend } from './gradients';

function arrays(grads: unknown, name: string): Float32Array[] {
  const list = grads instanceof Float32Array || grads instanceof DeviceBuffer ? [grads] : grads;
  if (!Array.isArray(list)) throw typeError('a Float32Array or an array of them', name, grads);
  list.forEach((g, i) => {
    if (!(g instanceof Float32Array) && !(g instanceof DeviceBuffer && g.dtype === 'float32'))
      throw typeError('a Float32Array', `${name}[${i}]`, g);
    checkNotDetached(g as Float32Array, `${name}[${i}]`);
  });
  for (let i = 0; i < list.length; i++)
    for (let j = i + 1; j < list.length; j++) if (overlaps(list[i], list[j])) throw new RangeError(`${name}[${j}] overlaps ${name}[${i}]`);
  return list as Float32Array[];
}

/** Options of clipGradNorm. */
export interface ClipGradNormOptions {
  /** Throw a RangeError (before scaling anything) when the total norm is NaN or infinite. Default false. */
  errorIfNonfinite?: boolean;
  /** 'native' (default), 'reference' or 'cuda' (implied by DeviceBuffer gradients). */
  backend?: GradientBackend;
}

/**
 * PyTorch's clip_grad_norm_: the p-norm of all gradients together (normType 2 by default, or any p > 0,
 * or Infinity); if it exceeds maxNorm every gradient is multiplied in place by maxNorm/(norm + 1e-6).
 * Returns the total norm (computed in float64).
 */
export function clipGradNorm(grads: F32Grads, maxNorm: number, normType = 2, options: ClipGradNormOptions = {}): number {
  const list = arrays(grads, 'grads');
  if (typeof maxNorm !== 'number' || !(maxNorm >= 0)) throw rangeError('a number >= 0', 'maxNorm', maxNorm);
  if (typeof normType !== 'number' || !(normType > 0)) throw rangeError('a number > 0 or Infinity', 'normType', normType);
  const backend = gradientBackend('clipGradNorm', options.backend, list);
  const ref = backend === 'reference',
    cuda = backend === 'cuda';
  const norm = ref
    ? totalNormReference(list, normType)
    : cuda
      ? cudaNative().totalNorm(toNativeArgs(list), normType)
      : native().totalNorm(list, normType);
  if (!Number.isFinite(norm) && options.errorIfNonfinite)
    throw new RangeError(`clipGradNorm: the total norm of order ${normType} is ${norm}; the gradients were left unchanged`);
  const coef = Math.min(1, maxNorm / (norm + 1e-6));
  if (coef < 1 || Number.isNaN(coef)) {
    const f = Math.fround(coef);
    if (ref) for (const g of list) for (let k = 0; k < g.length; k++) g[k] = Math.fround(g[k] * f);
    else if (cuda) cudaNative().scaleArrays(toNativeArgs(list), f);
    else native().scaleArrays(list, f);
  }
  return norm;
}

/** PyTorch's clip_grad_value_: clamps every gradient element to [−clipValue, clipValue] in place. */
export function clipGradValue(grads: F32Grads, clipValue: number, options: { backend?: GradientBackend } = {}): void {
  const list = arrays(grads, 'grads');
  if (typeof clipValue !== 'number' || !(clipValue >= 0)) throw rangeError('a number >= 0', 'clipValue', clipValue);
  const backend = gradientBackend('clipGradValue', options.backend, list);
  if (backend === 'cuda') {
    cudaNative().clipValues(toNativeArgs(list), clipValue);
  } else if (backend === 'reference') {
    const v = Math.fround(clipValue);
    for (const g of list) for (let k = 0; k < g.length; k++) g[k] = g[k] > v ? v : g[k] < -v ? -v : g[k];
  } else {
    native().clipValues(list, clipValue);
  }
}
