// The public types of combineGradients and what a combine method file declares (its descriptor).
import type { DeviceBuffer } from '../../backends/device';
import type { GradientBackend } from '../gradients';
import type { CombineMethod } from './index';

/** MGDA's gradient normalisation before the min-norm solve (as the authors' code): none, l2, loss, loss+. */
export type MgdaNormalization = 'none' | 'l2' | 'loss' | 'loss+';

/** Options of combineGradients (and of multiHeadBackward's combine). */
export interface CombineOptions {
  /** sum, mean, pcgrad, graddrop, mgda, cagrad, imtl, gradvac, nashmtl, upgrad, alignedmtl or dbmtl. */
  method: CombineMethod;
  /** pcgrad: seed of the random projection order; graddrop: seed of the per-element draws (default 0). */
  seed?: number;
  /** mgda: gradient normalisation before the min-norm solve (default 'none'). */
  normalization?: MgdaNormalization;
  /** mgda with 'loss' / 'loss+': each task's loss. */
  losses?: ArrayLike<number>;
  /** cagrad: the conflict-averse radius c (default 0.5). */
  c?: number;
  /** cagrad: 0 none, 1 divide by 1 + c² (default, as the authors' code), 2 divide by 1 + c. */
  rescale?: 0 | 1 | 2;
  /** gradvac: EMA rate of the target similarities (default 0.5); dbmtl: EMA rate of the gradients (default 0.9). */
  beta?: number;
  /** dbmtl: decay exponent of the EMA rate, β/stepᵠ (default 0.5). */
  betaSigma?: number;
  /**
   * gradvac, dbmtl: the method's state across steps, kept by the caller (start with {}; it is filled and
   * updated in place). gradvac: target similarities and the projection-order generator; dbmtl: the
   * gradient EMA buffers.
   */
  state?: CombineState;
  /** Preallocated output (the gradients' length). */
  out?: Float32Array | DeviceBuffer<'float32'>;
  /**
   * 'native' (default), 'reference' (float64 TypeScript) or 'cuda' (every pass over the gradients on the
   * GPU, implied by DeviceBuffer gradients; the small T×T solves stay in TypeScript).
   */
  backend?: GradientBackend;
}

/** State of the stateful methods (see CombineOptions.state). */
export interface CombineState {
  /** Steps this state has seen. */
  step?: number;
  /** gradvac: target cosine similarities ρ̂ (T×T, row-major). */
  rho?: number[];
  /** gradvac: generator state of the projection order. */
  rng?: number[];
  /** dbmtl: EMA of each task's gradient. */
  buffers?: Float32Array[];
  /** dbmtl on backend 'cuda': work buffers of the EMA update (reused; the CPU backends update in place). */
  scratch?: Float32Array[];
}

/** What combineGradients returns; `D` is DeviceBuffer<'float32'> when the gradients are DeviceBuffers. */
export interface CombineResult<D = Float32Array> {
  /** The combined gradient. */
  grad: D;
  /** grad = Σₜ coefficients[t]·gradsₜ (null for graddrop, which masks per element). */
  coefficients: Float64Array | null;
  /** The Gram matrix gᵢ·gⱼ (T×T, row-major) when the method used one. */
  gram: Float64Array | null;
}

/** A checked combineGradients call, as a method sees it. */
export interface CombinePlan {
  /** The task gradients (host arrays, or DeviceBuffers standing as them on backend 'cuda'). */
  g: Float32Array[];
  method: CombineMethod;
  seed: number;
  normalization: MgdaNormalization;
  losses: Float64Array | undefined;
  c: number;
  rescale: 0 | 1 | 2;
  beta: number;
  betaSigma: number;
  state: CombineState | null;
  out: Float32Array;
  backend: GradientBackend;
}

/** A combine method as the registry holds it (one file per method under src/reduce/combine/). */
export interface CombineDescriptor<N extends string = string> {
  readonly name: N;
  /** Reads the Gram matrix of the task gradients (one pass, or handed in by multiHeadBackward); such methods refuse non-finite gradients. */
  readonly gram: boolean;
  /** Keeps state across steps in options.state (the caller keeps it). */
  readonly state: boolean;
  /** The combination's coefficients from the plan and the Gram matrix, for methods whose result is Σₜ cₜ·gₜ. */
  readonly coefficients?: (p: CombinePlan, G: Float64Array | null) => Float64Array;
  /** Methods with passes of their own (graddrop's masks, dbmtl's EMA buffers). */
  readonly run?: (p: CombinePlan) => CombineResult;
  readonly runAsync?: (p: CombinePlan) => Promise<CombineResult>;
}
