// Shared option handling of every loss: optional weight arrays, gradOutput, and the outputs (preallocated
// `out`, `inplace`), all checked before anything is written.
import { DeviceBuffer } from '../backends/device';
import { checkNotDetached, overlaps, rangeError, sameView, typeError } from '../core/validate';

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
/** what: the expected shape in words (or a function building it, called only for the error message). */
export function gradOutputOption(
  v: unknown,
  name: string,
  reduction: string,
  length: number,
  what: string | (() => string),
): Float32Array | null {
  if (v == null) return null;
  if (reduction !== 'none')
    throw new TypeError(`${name}.gradOutput is only allowed with reduction 'none' (use gradScale with '${reduction}')`);
  if (!(v instanceof Float32Array) && !isF32Device(v)) throw typeError('a Float32Array', `${name}.gradOutput`, v);
  const a = v as Float32Array;
  checkNotDetached(a, 'gradOutput');
  if (a.length !== length) throw rangeError(`${length} elements (${typeof what === 'function' ? what() : what})`, `${name}.gradOutput`, v);
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

function gradOutput(
  name: string,
  key: string,
  out: Record<string, unknown> | undefined,
  input: Float32Array,
  inplace: boolean,
): Float32Array {
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

/** out.<key> (gradient g of input own) against every input and every other gradient output. */
function checkOwnedOutput(
  r: OutputRequest,
  key: string,
  g: Float32Array,
  own: Float32Array,
  grad: Float32Array,
  extra: Record<string, Float32Array>,
): void {
  const hit = (other: ArrayBufferView | null) => other != null && !(other === own && sameView(g, own)) && overlaps(g, other);
  if (hit(r.input)) throw new RangeError(`${r.name}: out.${key} overlaps input`);
  if (r.extraGrads) for (const [k, i] of r.extraGrads) if (hit(i)) throw new RangeError(`${r.name}: out.${key} overlaps the input of ${k}`);
  for (const [label, other] of r.inputs) if (hit(other)) throw new RangeError(`${r.name}: out.${key} overlaps ${label}`);
  if (key !== 'grad' && overlaps(g, grad)) throw new RangeError(`${r.name}: out.${key} overlaps out.grad`);
  if (r.extraGrads)
    for (const [k] of r.extraGrads) if (k !== key && overlaps(g, extra[k])) throw new RangeError(`${r.name}: out.${key} overlaps out.${k}`);
}

export function resolveOutputs(r: OutputRequest): Outputs {
  // (Plain loops and no temporary arrays: every loss call and every task of every MultiTaskLoss step runs this.)
  const { name, out } = r;
  if (out !== undefined && (typeof out !== 'object' || out === null)) throw typeError('{ grad?, loss? }', `${name}.out`, out);
  const o = out as Record<string, unknown> | undefined;
  const extras = r.extraGrads;
  if (o)
    for (const k of Object.keys(o))
      if (o[k] !== undefined && k !== 'grad' && k !== 'loss' && !extras?.some(([e]) => e === k))
        throw new TypeError(
          `Unknown key '${k}' in ${name}.out; expected ${['grad', 'loss', ...(extras ?? []).map(([e]) => e)].join(', ')}`,
        );
  const grad = gradOutput(name, 'grad', o, r.input, r.inplace);
  const extra: Record<string, Float32Array> = {};
  if (extras) for (const [key, input] of extras) extra[key] = gradOutput(name, key, o, input, r.inplace);
  // A gradient may be its own input (in place); it must not overlap anything else.
  checkOwnedOutput(r, 'grad', grad, r.input, grad, extra);
  if (extras) for (const [key, input] of extras) checkOwnedOutput(r, key, extra[key], input, grad, extra);
  let lossOut: Float32Array | null = null;
  if (r.reduction === 'none') {
    if (o?.loss !== undefined) {
      if (!(o.loss instanceof Float32Array) && !isF32Device(o.loss)) throw typeError('a Float32Array', `${name}.out.loss`, o.loss);
      const l = o.loss as Float32Array;
      checkNotDetached(l, 'out.loss');
      if (l.length !== r.lossLength) throw rangeError(`${r.lossLength} elements`, `${name}.out.loss`, o.loss);
      for (const v of [grad, ...Object.values(extra), r.input, ...r.inputs.map(([, a]) => a)])
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
