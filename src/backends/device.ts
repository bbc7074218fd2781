// DeviceBuffer: float32, int32 or float64 memory on the GPU, owned by the CUDA addon. Passed to a loss or to
// MultiTaskLoss with backend 'cuda' wherever a Float32Array (or Int32Array of class ids) goes, it is read
// and written in place: nothing crosses PCIe but the scalar loss.
import { cudaNative } from './binding';

/** Element types a DeviceBuffer holds (float64: GradAccumulator's sums). */
export type DeviceDType = 'float32' | 'int32' | 'float64';
/** The host typed array of a DeviceBuffer's element type. */
export type HostArrayOf<D extends DeviceDType> = D extends 'int32' ? Int32Array : D extends 'float64' ? Float64Array : Float32Array;

const HOST = { float32: Float32Array, int32: Int32Array, float64: Float64Array } as const;

type Handle = object;

/**
 * Memory on the GPU (device 0): float32 (logits, targets, gradients, weights), int32 (class ids) or float64
 * (accumulators: `GradAccumulator` with backend 'cuda').
 * Upload once (`DeviceBuffer.from`), pass it to `crossEntropy`, the elementwise losses or `MultiTaskLoss`
 * (backend 'cuda', implied when an argument is a DeviceBuffer) and the kernels read and write it where it
 * is; gradients of a DeviceBuffer input come back as DeviceBuffers. `toHost()` copies it out.
 * `dispose()` frees it now; a buffer that is garbage-collected without `dispose()` is freed then (a safety
 * net, not a schedule: GPU memory is scarcer than the JS heap knows).
 */
export class DeviceBuffer<D extends DeviceDType = DeviceDType> {
  /** Elements. */
  readonly length: number;
  /** Element type. */
  readonly dtype: D;
  #handle: Handle | null;
  #pending = 0;
  #disposeRequested = false;
  // overlaps()/sameView() of the validation layer see a DeviceBuffer as a view of its own buffer.
  readonly #identity = {};

  private constructor(handle: Handle, length: number, dtype: D) {
    this.#handle = handle;
    this.length = length;
    this.dtype = dtype;
  }

  /** A zero-filled buffer of `length` elements. Throws CudaUnavailableError without a GPU, an Error when the device is out of memory. */
  static alloc<D extends DeviceDType = 'float32'>(length: number, dtype: D = 'float32' as D): DeviceBuffer<D> {
    if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'float64')
      throw new TypeError(`Expected 'float32' | 'int32' | 'float64' for dtype but received ${String(dtype)}`);
    if (!Number.isInteger(length) || length < 0 || length > 2 ** 40)
      throw new RangeError(`Expected an integer in [0, 2^40] for length but received ${String(length)}`);
    const handle = cudaNative().deviceAlloc(length, dtype);
    return new DeviceBuffer(handle, length, dtype);
  }

  /** A buffer holding a copy of `data` (Float32Array → float32, Int32Array → int32, Float64Array → float64). */
  static from(data: Float32Array): DeviceBuffer<'float32'>;
  static from(data: Int32Array): DeviceBuffer<'int32'>;
  static from(data: Float64Array): DeviceBuffer<'float64'>;
  static from(data: Float32Array | Int32Array | Float64Array): DeviceBuffer;
  static from(data: Float32Array | Int32Array | Float64Array): DeviceBuffer {
    const dtype =
      data instanceof Float32Array ? 'float32' : data instanceof Int32Array ? 'int32' : data instanceof Float64Array ? 'float64' : null;
    if (!dtype)
      throw new TypeError(
        `Expected a Float32Array, an Int32Array or a Float64Array for data but received ${Object.prototype.toString.call(data).slice(8, -1)}`,
      );
    const b = DeviceBuffer.alloc(data.length, dtype);
    b.copyFromHost(data);
    return b;
  }

  /** Bytes on the device. */
  get byteLength(): number {
    return this.length * HOST[this.dtype].BYTES_PER_ELEMENT;
  }
  /** Always 0 (a buffer is one allocation). */
  get byteOffset(): number {
    return 0;
  }
  /** An identity object, so the overlap checks treat the buffer as a view of its own storage. */
  get buffer(): object {
    return this.#identity;
  }
  /** Whether `dispose()` was called. */
  get disposed(): boolean {
    return this.#disposeRequested;
  }

  /** Copies the buffer to a new host array (or into `out`, of the same type and length). */
  toHost(out?: HostArrayOf<D>): HostArrayOf<D> {
    const want = HOST[this.dtype];
    const host = out ?? (new want(this.length) as HostArrayOf<D>);
    if (!(host instanceof want) || host.length !== this.length)
      throw new TypeError(`Expected a ${want.name} of ${this.length} elements for out`);
    if (this.length) cudaNative().deviceCopy(this.handle(), host, false);
    return host;
  }

  /** Overwrites the buffer with `data` (a typed array of its type and length). */
  copyFromHost(data: HostArrayOf<D>): void {
    const want = HOST[this.dtype];
    if (!(data instanceof want) || data.length !== this.length)
      throw new TypeError(`Expected a ${want.name} of ${this.length} elements for data`);
    if (this.length) cudaNative().deviceCopy(this.handle(), data, true);
  }

  /** Overwrites the buffer with another DeviceBuffer's contents (same type and length), device to device; returns the copy's GPU time in ms. */
  copyFrom(src: DeviceBuffer<D>): number {
    if (!(src instanceof DeviceBuffer) || src.dtype !== this.dtype || src.length !== this.length)
      throw new TypeError(`Expected a ${this.dtype} DeviceBuffer of ${this.length} elements for src`);
    return this.length ? cudaNative().deviceCopyDevice(this.handle(), src.handle()) : 0;
  }

  /** Sets every element to zero, on the device (no host memory, nothing copied). */
  zero(): void {
    if (this.length) cudaNative().deviceZero(this.handle());
  }

  /**
   * Frees the device memory (at once, or when the last pending async call using it settles). Using the
   * buffer afterwards is a TypeError. Idempotent.
   */
  dispose(): void {
    if (this.#disposeRequested) return;
    this.#disposeRequested = true;
    if (this.#pending === 0) this.#free();
  }

  #free(): void {
    if (this.#handle) cudaNative().deviceFree(this.#handle);
    this.#handle = null;
  }

  /** @internal The native handle (throws once disposed). */
  handle(): Handle {
    if (this.#disposeRequested || !this.#handle)
      throw new TypeError(`The DeviceBuffer (${this.dtype}, ${this.length} elements) was disposed`);
    return this.#handle;
  }

  /** @internal An async call uses the buffer: dispose() waits for it. */
  acquire(): void {
    this.#pending++;
  }
  /** @internal */
  release(): void {
    if (--this.#pending === 0 && this.#disposeRequested) this.#free();
  }
}

/** Whether v is a DeviceBuffer. */
export function isDeviceBuffer(v: unknown): v is DeviceBuffer {
  return v instanceof DeviceBuffer;
}

/** Native arguments: DeviceBuffers become their handles. */
export function toNativeArgs<T extends readonly unknown[]>(args: T): T {
  let any = false;
  for (const a of args) if (a instanceof DeviceBuffer) any = true;
  if (!any) return args;
  return args.map((a) => (a instanceof DeviceBuffer ? a.handle() : a)) as unknown as T;
}

/** The DeviceBuffers among args (one level deep). */
export function deviceBuffersIn(args: readonly unknown[]): DeviceBuffer[] {
  const out: DeviceBuffer[] = [];
  for (const a of args) if (a instanceof DeviceBuffer) out.push(a);
  return out;
}

/** Runs an async native call holding the DeviceBuffers among args (dispose() waits; GC cannot take them). */
export async function holding<T>(args: readonly unknown[], run: () => Promise<T>): Promise<T> {
  const held = deviceBuffersIn(args);
  for (const b of held) b.acquire();
  try {
    return await run();
  } finally {
    for (const b of held) b.release();
  }
}
