// What every pass over task gradients shares: the gradient-list check and the backend choice.
import { DeviceBuffer } from '../backends/device';
import { backendFor, checkNotDetached, rangeError, typeError } from '../core/validate';

/** Where combineGradients runs: 'native' (default) or 'reference'. */
export type ReductionBackend = 'native' | 'reference';
/** The gradient passes' backends (gramMatrix, combineGradients, clipping): the CPU ones, or 'cuda' (the GPU; DeviceBuffers or host arrays). */
export type GradientBackend = ReductionBackend | 'cuda';
/** One gradient or a list of them, on the host or (backend 'cuda') the GPU. */
export type F32Grads = Float32Array | DeviceBuffer<'float32'> | readonly (Float32Array | DeviceBuffer<'float32'>)[];

/** The task gradients: a non-empty array of Float32Arrays (or float32 DeviceBuffers) of one length. */
export function taskGrads(grads: unknown, name = 'grads'): Float32Array[] {
  if (!Array.isArray(grads)) throw typeError('an array of Float32Arrays', name, grads);
  if (grads.length === 0) throw new RangeError(`Expected at least one gradient (T >= 1) for ${name} but received none`);
  const n = (grads[0] as Float32Array)?.length;
  grads.forEach((g, t) => {
    // a float32 DeviceBuffer stands for a Float32Array here (length and identity are all that is checked)
    if (!(g instanceof Float32Array) && !(g instanceof DeviceBuffer && g.dtype === 'float32'))
      throw typeError('a Float32Array', `${name}[${t}]`, g);
    checkNotDetached(g as Float32Array, `${name}[${t}]`);
    if (g.length !== n) throw rangeError(`${n} elements (the length of ${name}[0])`, `${name}[${t}]`, g);
  });
  return grads as Float32Array[];
}

/** The backend of a gradient pass: 'cuda' allowed, and implied by DeviceBuffer arrays. */
export function gradientBackend(name: string, v: unknown, arrays: readonly unknown[]): GradientBackend {
  const b = v ?? 'native';
  if (b !== 'native' && b !== 'reference' && b !== 'cuda') throw typeError("'native' | 'reference' | 'cuda'", `${name}.backend`, v);
  return backendFor(name, b, v !== undefined, arrays);
}
