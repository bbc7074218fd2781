// Shared option handling of every loss: optional weight arrays, gradOutput, and the outputs (preallocated
// `out`, `inplace`), all checked before anything is written.
import { DeviceBuffer } from './device';
import { checkNotDetached, overlaps, rangeError, sameView, typeError } from './validate';

// A float32 DeviceBuffer stands where a Float32Array does: the checks below use its length and identity,
// and the CUDA backend reads and writes it on the device.
const isF32Device = (v: unknown): v is DeviceBuffer => v instanceof DeviceBuffer && v.dtype === 'float32';
const asF32 = (v: DeviceBuffer) => v as unknown as Float32Array;

/** A new output like `like`: on the GPU when `like` is a DeviceBuffer. */
export function newLike(like: Float32Array, length: number): Float32Array {
  return like instanceof DeviceBuffer ? asF32(DeviceBuffer.alloc(length)) : new Float32Array(length);
}

/** A Float32Array or number[] option (copied to a Float32Array), or null when absent. */
export function floatArrayOption(v: unknown, name: string, length?: number, what?: string): Float32Array | null {
  if (v == null) return null;
  let a: Float32Array;
  if (v instanceof Float32Array) a = v;
  else if (isF32Device(v)) a = asF32(v);
  else if (Array.isArray(v) && v.every((e) => typeof e === 'number')) a = Float32Array.from(v);
  else throw typeError('a Float32Array or number[]', name, v);
  checkNotDetached(a, name);
  if (length !== undefined && a.length !== length) throw rangeError(`${length} elements (${what})`, name, v);
  return a;
}

/** gradOutput: only with reduction 'none', `length` elements. */
export function gradOutputOption(v: unknown, name: string, reduction: string, length: number, what: string): Float32Array | null {
  if (v == null) return null;
  if (reduction !== 'none') throw new TypeError(`${name}.gradOutput is only allowed with reduction 'none' (use gradScale with '${reduction}')`);
  if (!(v instanceof Float32Array) && !isF32Device(v)) throw typeError('a Float32Array', `${name}.gradOutput`, v);
  const a = v as Float32Array;
  checkNotDetached(a, 'gradOutput');
  if (a.length !== length) throw rangeError(`${length} elements (${what})`, `${name}.gradOutput`, v);
  return a;
}

export interface OutputRequest {
  name: string;
  /** The input the gradient belongs to (and may overwrite with inplace). */
  input: Float32Array;
  out: unknown;
  inplace: boolean;
  reduction: string;
  /** Length of the per-element loss for reduction 'none'. */
  lossLength: number;
  /** Arrays the outputs must not overlap. */
  inputs: readonly (readonly [string, ArrayBufferView | null])[];
  /** Extra gradient outputs (e.g. grad2 of a two-input loss) with their inputs. */
  extraGrads?: readonly (readonly [key: string, input: Float32Array])[];
}

export interface Outputs {
  grad: Float32Array;
  lossOut: Float32Array | null;
  extra: Record<string, Float32Array>;
}

function gradOutput(name: string, key: string, out: Record<string, unknown> | undefined, input: Float32Array, inplace: boolean): Float32Array {
  const v = out?.[key];
  if (v === undefined) return inplace ? input : newLike(input, input.length);
  if (!(v instanceof Float32Array) && !isF32Device(v)) throw typeError('a Float32Array', `${name}.out.${key}`, v);
  const g = v as Float32Array;
  checkNotDetached(g, `out.${key}`);
  if (g.length !== input.length) throw rangeError(`${input.length} elements (the input's shape)`, `${name}.out.${key}`, v);
  if (inplace && !sameView(g, input))
    throw new TypeError(`${name}: inplace: true writes the gradient over its input; out.${key} must be omitted or be that input`);
  if (!sameView(g, input) && overlaps(g, input))
    throw new RangeError(`${name}.out.${key} overlaps input without being the same array (in place needs the same array)`);
  return g;
}

export function resolveOutputs(r: OutputRequest): Outputs {
  const { name, out } = r;
  if (out !== undefined && (typeof out !== 'object' || out === null)) throw typeError('{ grad?, loss? }', `${name}.out`, out);
  const o = out as Record<string, unknown> | undefined;
  const keys = ['grad', 'loss', ...(r.extraGrads ?? []).map(([k]) => k)];
  if (o)
    for (const k of Object.keys(o))
      if (!keys.includes(k) && o[k] !== undefined)
        throw new TypeError(`Unknown key '${k}' in ${name}.out; expected ${keys.join(', ')}`);
  const grad = gradOutput(name, 'grad', o, r.input, r.inplace);
  const extra: Record<string, Float32Array> = {};
  for (const [key, input] of r.extraGrads ?? []) extra[key] = gradOutput(name, key, o, input, r.inplace);
  // A gradient may be its own input (in place); it must not overlap anything else.
  const owned: [string, Float32Array, Float32Array][] = [['grad', grad, r.input], ...(r.extraGrads ?? []).map(([k, i]) => [k, extra[k], i] as [string, Float32Array, Float32Array])];
  const arrays: (readonly [string, ArrayBufferView | null])[] = [['input', r.input], ...(r.extraGrads ?? []).map(([k, i]) => [`the input of ${k}`, i] as const), ...r.inputs];
  for (const [key, g, own] of owned) {
    for (const [label, other] of arrays)
      if (other && !(other === own && sameView(g, own)) && overlaps(g, other))
        throw new RangeError(`${name}: out.${key} overlaps ${label}`);
    for (const [key2, h] of owned) if (key2 !== key && overlaps(g, h)) throw new RangeError(`${name}: out.${key} overlaps out.${key2}`);
  }
  const grads = owned.map(([, g]) => g);
  let lossOut: Float32Array | null = null;
  if (r.reduction === 'none') {
    if (o?.loss !== undefined) {
      if (!(o.loss instanceof Float32Array) && !isF32Device(o.loss)) throw typeError('a Float32Array', `${name}.out.loss`, o.loss);
      const l = o.loss as Float32Array;
      checkNotDetached(l, 'out.loss');
      if (l.length !== r.lossLength) throw rangeError(`${r.lossLength} elements`, `${name}.out.loss`, o.loss);
      for (const v of [...grads, r.input, ...r.inputs.map(([, a]) => a)])
        if (v && overlaps(l, v)) throw new RangeError(`${name}.out.loss overlaps an input or a gradient`);
      lossOut = l;
    } else {
      lossOut = newLike(r.input, r.lossLength);
    }
  } else if (o?.loss !== undefined) {
    throw new TypeError(`${name}.out.loss is only used with reduction 'none' (got '${r.reduction}')`);
  }
  return { grad, lossOut, extra };
}
