// Gradient accumulation over micro-batches: float64 sums of float32 gradients (host or GPU memory).
import { cudaNative, native } from '../backends/binding';
import { DeviceBuffer, toNativeArgs } from '../backends/device';
import { backendFor, checkF32Arg, rangeError, typeError } from '../core/validate';

/** Options of a GradAccumulator. */
export interface GradAccumulatorOptions {
  /**
   * 'native' (float64 sums in host memory) or 'cuda' (float64 sums in GPU memory; gradients may be host
   * arrays or DeviceBuffers). Default: 'cuda' when the first `add` has a DeviceBuffer, else 'native'.
   */
  backend?: 'native' | 'cuda';
}

/** A gradient an accumulator takes: a Float32Array, or (backend 'cuda') a float32 DeviceBuffer. */
export type AccumulatedGrad = Float32Array | DeviceBuffer<'float32'>;

/**
 * Sums micro-batch gradients into float64 accumulators (one per name) and reads them back as float32,
 * divided by the number of added steps (`read()`) or not (`read({ mean: false })`). The float64 sums are
 * exact to float64 rounding and independent of the thread count, so reading after k steps gives the same
 * bits however the additions were scheduled. With backend 'cuda' the sums live on the GPU (same bits as
 * the CPU: each element's sum is the same float64 additions in the same order) and `read()` returns
 * DeviceBuffers: declare it as `new GradAccumulator<DeviceBuffer<'float32'>>({ backend: 'cuda' })`.
 */
export class GradAccumulator<G extends AccumulatedGrad = Float32Array> {
  private readonly acc = new Map<string, Float64Array | DeviceBuffer<'float64'>>();
  private count = 0;
  private chosen: 'native' | 'cuda' | undefined;

  /** An empty accumulator; the first `add` fixes the gradient names and lengths. */
  constructor(options: GradAccumulatorOptions = {}) {
    if (typeof options !== 'object' || options === null) throw typeError('{ backend? }', 'GradAccumulator options', options);
    for (const k of Object.keys(options))
      if (k !== 'backend') throw new TypeError(`Unknown GradAccumulator option '${k}'; expected backend`);
    const b = options.backend;
    if (b !== undefined && b !== 'native' && b !== 'cuda') throw typeError("'native' | 'cuda'", 'GradAccumulator backend', b);
    this.chosen = b;
  }

  /** Steps added since the last reset. */
  get steps(): number {
    return this.count;
  }

  /** Where the sums live: 'native' (host) or 'cuda' (GPU); undefined until the first `add` when not configured. */
  get backend(): 'native' | 'cuda' | undefined {
    return this.chosen;
  }

  /** Adds one micro-batch's gradients ({ name: Float32Array or, on cuda, DeviceBuffer }); names and lengths must stay the same. */
  add(grads: Readonly<Record<string, AccumulatedGrad>>): void {
    if (typeof grads !== 'object' || grads === null) throw typeError('an object of Float32Arrays', 'grads', grads);
    const names = Object.keys(grads);
    if (this.acc.size > 0) {
      for (const k of names)
        if (!this.acc.has(k))
          throw new TypeError(
            `GradAccumulator.add: unknown gradient '${k}' (the first add fixed the names: ${[...this.acc.keys()].join(', ')})`,
          );
      for (const k of this.acc.keys()) if (!(k in grads)) throw new TypeError(`GradAccumulator.add: gradient '${k}' is missing`);
    }
    const backend =
      this.chosen ??
      (backendFor(
        'GradAccumulator.add',
        'native',
        false,
        names.map((k) => grads[k]),
      ) as 'native' | 'cuda');
    for (const k of names) {
      const g = grads[k];
      checkF32Arg(g, `grads.${k}`, 'accumulator', backend);
      const a = this.acc.get(k);
      if (a && a.length !== g.length) throw rangeError(`${a.length} elements (as before)`, `grads.${k}`, g);
    }
    // Every accumulator exists before the first addition (an allocation that fails leaves the sums as they were).
    for (const k of names)
      if (!this.acc.has(k))
        this.acc.set(k, backend === 'cuda' ? DeviceBuffer.alloc(grads[k].length, 'float64') : new Float64Array(grads[k].length));
    this.chosen = backend;
    for (const k of names) {
      const a = this.acc.get(k) as Float64Array | DeviceBuffer<'float64'>;
      if (backend === 'cuda') cudaNative().accumulateF64(...toNativeArgs([a, grads[k]] as [Float64Array, Float32Array]));
      else native().accumulateF64(a as Float64Array, grads[k] as Float32Array);
    }
    this.count++;
  }

  /**
   * The accumulated gradients as float32: the mean over the added steps (default) or the sum. On cuda they
   * are new DeviceBuffers, or written into `out` (DeviceBuffers or Float32Arrays).
   */
  read(options: { mean?: boolean; out?: Readonly<Record<string, AccumulatedGrad>> } = {}): Record<string, G> {
    if (this.count === 0) throw new RangeError('GradAccumulator.read: nothing was added');
    const divisor = options.mean === false ? 1 : this.count;
    const cuda = this.chosen === 'cuda';
    const r: Record<string, G> = {};
    for (const [k, a] of this.acc) {
      const given = options.out?.[k];
      const okOut = given instanceof Float32Array || (cuda && given instanceof DeviceBuffer && given.dtype === 'float32');
      if (given !== undefined && (!okOut || given.length !== a.length))
        throw rangeError(`a Float32Array${cuda ? ' or float32 DeviceBuffer' : ''} of ${a.length} elements`, `out.${k}`, given);
      const o = given ?? (cuda ? DeviceBuffer.alloc(a.length) : new Float32Array(a.length));
      if (cuda) cudaNative().readF64(...toNativeArgs([a, divisor, o] as [Float64Array, number, Float32Array]));
      else native().readF64(a as Float64Array, divisor, o as Float32Array);
      r[k] = o as G;
    }
    return r;
  }

  /** Clears the sums (keeps the buffers) and the step count. */
  reset(): void {
    for (const a of this.acc.values()) {
      if (a instanceof DeviceBuffer) a.zero();
      else a.fill(0);
    }
    this.count = 0;
  }

  /** Frees the GPU sums now (backend 'cuda'); the accumulator starts over (names unset, no steps). */
  dispose(): void {
    for (const a of this.acc.values()) if (a instanceof DeviceBuffer) a.dispose();
    this.acc.clear();
    this.count = 0;
  }
}
