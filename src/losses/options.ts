// The options every loss of the catalogue takes (documented once; each family's options extend them).
import type { Backend } from './ops';
import type { DeviceBuffer } from '../backends/device';

/** Preallocated outputs of a loss call: written in place, returned as the result's arrays. */
export interface LossOutputs {
  /** The gradient d(loss)/d(input): a Float32Array (or, backend 'cuda', a DeviceBuffer) with the input's element count. Default: a new array (a new DeviceBuffer when the input is one). */
  grad?: Float32Array | DeviceBuffer<'float32'>;
  /** reduction 'none' only: the per-element (or per-row) losses. Default: a new array (a new DeviceBuffer when the input is one). */
  loss?: Float32Array | DeviceBuffer<'float32'>;
}

/**
 * Options shared by every loss. `R` is the reduction's type, `B` the backends the family runs on.
 */
export interface LossOptionsBase<R extends string, B extends string = Backend> {
  /**
   * Dims of a plain Float32Array input (an ort.Tensor or `{ data, dims }` brings its own). Each loss
   * says which ranks it takes; the target follows the input's shape.
   */
  shape?: readonly number[];
  /**
   * How per-element losses become the result: 'mean' (default; over the elements, or over the weights
   * where PyTorch divides by them), 'sum', or 'none' (the losses themselves, shaped like the input
   * without the dims the loss couples). As PyTorch's `reduction`.
   */
  reduction?: R;
  /**
   * Per-sample weight, length = the first dim (N): multiplies each sample's losses and gradients before
   * the reduction; the mean still divides by the element count. No PyTorch counterpart (it would be a
   * multiplication of the 'none' losses). Default none.
   */
  sampleWeight?: Float32Array | readonly number[] | DeviceBuffer<'float32'> | null;
  /**
   * reduction 'none' only: the upstream gradient ∂L/∂loss per loss element (what `loss.backward(g)` takes
   * in PyTorch); the gradient is scaled by it element by element. Default ones.
   */
  gradOutput?: Float32Array | DeviceBuffer<'float32'> | null;
  /** A factor on the gradient (not on the loss), e.g. a task weight or 1/accumulation steps. Default 1. */
  gradScale?: number;
  /** Write the gradient over the input (saves an allocation; the input is lost). Default false. */
  inplace?: boolean;
  /**
   * 'native' (default: the C++ addon, SIMD and the thread pool), 'reference' (pure TypeScript in float64:
   * the oracle), or 'cuda' where the family has a CUDA build (host arrays, staged in and out, or
   * DeviceBuffers, used in place; 'cuda' is implied when an argument is a DeviceBuffer).
   */
  backend?: B;
  /**
   * 'propagate' (default, PyTorch's behaviour: NaN in, NaN out) or 'raise': a RangeError naming the first
   * NaN/±Infinity of the inputs or target, before anything is written.
   */
  nanPolicy?: 'propagate' | 'raise';
}
