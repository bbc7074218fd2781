// Inputs are Float32Arrays with `options.shape`, or tensor-like objects `{ data, dims }` such as an
// onnxruntime-node Tensor. Data is used in place (zero copy) whenever it is already the right type.
import { DeviceBuffer } from '../backends/device';
import { checkNotDetached, rangeError, typeError } from './validate';

/** A tensor as onnxruntime-node's `ort.Tensor` (or a plain object) holds it: row-major data and its dims. */
export interface TensorLike<T extends ArrayBufferView = ArrayBufferView> {
  /** Row-major elements (used in place, zero copy, when already the right type). */
  readonly data: T;
  /** The dims; their product is the element count. */
  readonly dims: readonly number[];
  /** ONNX's element type name ('float32', 'int64', …), when the tensor has one. */
  readonly type?: string;
}

/** A float input: a Float32Array (with `options.shape`) or a float32 tensor. */
export type FloatInput = Float32Array | TensorLike<Float32Array>;
/** Class ids (Int32Array, or int64 as ONNX models emit) or probabilities (Float32Array), or a tensor of them. */
export type TargetInput = Int32Array | Float32Array | BigInt64Array | TensorLike<Int32Array | Float32Array | BigInt64Array>;

export function isTensorLike(v: unknown): v is TensorLike {
  return typeof v === 'object' && v !== null && !ArrayBuffer.isView(v) && 'data' in v && 'dims' in v;
}

export function checkDims(dims: unknown, name: string): number[] {
  if (!Array.isArray(dims) || dims.length === 0) throw typeError('a non-empty array of dims', name, dims);
  const out: number[] = [];
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) throw rangeError('non-negative integer dims', `${name}[${i}]`, d);
    out.push(d);
  }
  const count = out.reduce((a, b) => a * b, 1);
  // Beyond 2^32 elements no typed array can hold it; also keeps products exact as doubles.
  if (!(count <= 2 ** 32)) throw rangeError('an element count of at most 2^32', name, `[${out.join(', ')}]`);
  return out;
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** A float input with its dims; `shape` from options must agree with tensor dims when both are given. */
export function floatInput(v: unknown, shape: unknown, name: string): { data: Float32Array; dims: number[] } {
  let data: unknown, dims: unknown;
  if (isTensorLike(v)) {
    data = v.data;
    dims = v.dims;
    if (v.type !== undefined && v.type !== 'float32') throw typeError("a 'float32' tensor", name, `a '${v.type}' tensor`);
    if (shape !== undefined) {
      const s = checkDims(shape, 'options.shape');
      const d = checkDims(dims, `${name}.dims`);
      if (s.length !== d.length || s.some((x, i) => x !== d[i]))
        throw rangeError(`options.shape to equal ${name}.dims [${d.join(', ')}]`, 'options.shape', `[${s.join(', ')}]`);
    }
  } else {
    data = v;
    dims = shape;
    if (dims === undefined && (v instanceof Float32Array || v instanceof DeviceBuffer))
      throw new TypeError(
        `Expected options.shape (e.g. [N, C]) for a ${v instanceof DeviceBuffer ? 'DeviceBuffer' : 'Float32Array'} ${name} but received undefined`,
      );
  }
  if (data instanceof DeviceBuffer && data.dtype === 'float32')
    data = data as unknown as Float32Array; // used by identity and length only
  else if (!(data instanceof Float32Array))
    throw typeError('a Float32Array (or a tensor with float32 data, or a float32 DeviceBuffer)', name, data);
  checkNotDetached(data as Float32Array, name);
  const d = checkDims(dims, isTensorLike(v) ? `${name}.dims` : 'options.shape');
  const count = elementCount(d);
  if ((data as Float32Array).length !== count) throw rangeError(`${count} elements (shape [${d.join(', ')}])`, name, data);
  return { data: data as Float32Array, dims: d };
}

/** Class ids as Int32Array (BigInt64Array targets, as ONNX models emit, are converted with a range check). */
export function toInt32(data: BigInt64Array, name: string): Int32Array {
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < -2147483648n || v > 2147483647n) throw rangeError('class ids that fit in int32', `${name}[${i}]`, v);
    out[i] = Number(v);
  }
  return out;
}
