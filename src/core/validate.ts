// Argument checks with one error shape: "Expected <what> for <name> but received <value>". Everything is
// checked here, before any output is touched; the native layer re-checks sizes before it reads memory.
import { DeviceBuffer } from '../backends/device';
import type { Backend, LossSpec, OptionSpec } from '../losses/ops';

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as { length?: number }).length ?? v.byteLength})`;
  if (v instanceof DeviceBuffer) return `a ${v.dtype} DeviceBuffer(${v.length})`;
  if (Array.isArray(v)) return `Array(${v.length})`;
  if (typeof v === 'function') return 'a function';
  return `an object (${Object.prototype.toString.call(v).slice(8, -1)})`;
}

export function typeError(what: string, name: string, v: unknown): TypeError {
  return new TypeError(`Expected ${what} for ${name} but received ${describe(v)}`);
}

export function rangeError(what: string, name: string, v: unknown): RangeError {
  return new RangeError(`Expected ${what} for ${name} but received ${describe(v)}`);
}

/**
 * A float32 array argument of a stateful object (optimizer, accumulator): a live Float32Array, or, when
 * `backend` is 'cuda', a live float32 DeviceBuffer. `owner` names the object in the error.
 */
export function checkF32Arg(v: unknown, name: string, owner: string, backend: string): void {
  if (v instanceof DeviceBuffer) {
    if (v.dtype !== 'float32') throw typeError('a Float32Array or a float32 DeviceBuffer', name, v);
    if (backend !== 'cuda')
      throw new TypeError(`${name}: a DeviceBuffer lives on the GPU and needs backend 'cuda' (this ${owner} is '${backend}')`);
    if (v.disposed) throw new TypeError(`Expected a live DeviceBuffer for ${name} but it was disposed`);
    return;
  }
  if (!(v instanceof Float32Array))
    throw typeError(backend === 'cuda' ? 'a Float32Array or a float32 DeviceBuffer' : 'a Float32Array', name, v);
  checkNotDetached(v, name);
}

export function checkNotDetached(a: ArrayBufferView, name: string): void {
  if (a instanceof DeviceBuffer) {
    if (a.disposed) throw new TypeError(`Expected a live DeviceBuffer for ${name} but it was disposed`);
    return;
  }
  if (a.byteLength !== 0) return;
  try {
    (a.buffer as ArrayBuffer).slice(0, 0); // throws on a detached buffer
  } catch {
    throw new TypeError(`Expected an attached ArrayBuffer for ${name} but its buffer is detached`);
  }
}

export function number(v: unknown, spec: OptionSpec, owner: string): number {
  const name = `${owner}.${spec.name}`;
  if (typeof v !== 'number') throw typeError(spec.type === 'integer' ? 'an integer' : 'a number', name, v);
  if (spec.type === 'integer' && !Number.isInteger(v)) throw rangeError('an integer', name, v);
  if (spec.range && !(v >= spec.range[0] && v <= spec.range[1]))
    throw rangeError(`a number in [${spec.range[0]}, ${spec.range[1]}]`, name, v);
  return v;
}

export function oneOf<T extends string>(v: unknown, values: readonly T[], name: string): T {
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v))
    throw typeError(values.map((x) => `'${x}'`).join(' | '), name, v);
  return v as T;
}

/** Rejects option names the loss does not know (a typo would otherwise be ignored silently). */
// Option lookups by name, built once per loss (validation runs on every call, so it stays O(options)).
const optionMaps = new WeakMap<LossSpec, Map<string, OptionSpec>>();
function optionMap(spec: LossSpec): Map<string, OptionSpec> {
  let m = optionMaps.get(spec);
  if (!m) optionMaps.set(spec, (m = new Map(spec.options.map((o) => [o.name, o]))));
  return m;
}

export function checkOptionNames(options: object, spec: LossSpec): void {
  const known = optionMap(spec);
  for (const key in options) {
    if (!Object.prototype.hasOwnProperty.call(options, key) || (options as Record<string, unknown>)[key] === undefined) continue;
    if (!known.has(key))
      throw new TypeError(`Unknown option '${key}' for ${spec.name}; expected one of: ${spec.options.map((o) => o.name).join(', ')}`);
  }
}

/** Whether the loss has an option of that name. */
export function hasOption(spec: LossSpec, name: string): boolean {
  return optionMap(spec).has(name);
}

export function optionSpec(spec: LossSpec, name: string): OptionSpec {
  const o = optionMap(spec).get(name);
  if (!o) throw new Error(`internal: ${spec.name} has no option ${name}`);
  return o;
}

/** Reads a scalar option with its default and range from the op table. */
export function scalarOption<T extends number | string | boolean>(options: Record<string, unknown>, spec: LossSpec, name: string): T {
  const o = optionSpec(spec, name);
  const v = options[name];
  if (v === undefined) return o.default as T;
  if (o.type === 'number' || o.type === 'integer') return number(v, o, spec.name) as T;
  if (o.type === 'enum' || o.type === 'backend') return oneOf(v, o.values as readonly string[], `${spec.name}.${name}`) as T;
  if (o.type === 'boolean') {
    if (typeof v !== 'boolean') throw typeError('a boolean', `${spec.name}.${name}`, v);
    return v as T;
  }
  throw new Error(`internal: ${name} is not a scalar option`);
}

/** Byte ranges of two views intersect (same buffer). */
export function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.buffer !== b.buffer) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/** RangeError '<out> overlaps <array>' when an output overlaps an input or another output (nothing written yet). */
export function checkNoOverlap(
  outs: readonly (readonly [string, ArrayBufferView | null])[],
  ins: readonly (readonly [string, ArrayBufferView | null])[],
): void {
  for (const [n, o] of outs) {
    if (!o) continue;
    for (const [m, i] of ins) if (i && overlaps(o, i)) throw new RangeError(`${n} overlaps ${m}`);
    for (const [m, q] of outs) if (q && q !== o && m !== n && overlaps(o, q)) throw new RangeError(`${n} overlaps ${m}`);
  }
}

export function sameView(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.byteLength === b.byteLength;
}

/**
 * nanPolicy 'raise': a RangeError naming the first NaN or ±Infinity of the given arrays, in order. Scanned
 * natively (on the pool) unless `native` is null (the reference backend scans in TypeScript).
 */
export function checkFinite(
  arrays: readonly (readonly [string, Float32Array | null])[],
  native: ((a: Float32Array) => number) | null,
): void {
  for (const [name, a] of arrays) {
    if (!a) continue;
    let first = -1;
    if (native) first = native(a);
    else
      for (let i = 0; i < a.length; i++)
        if (!Number.isFinite(a[i])) {
          first = i;
          break;
        }
    if (first >= 0)
      throw new RangeError(`${name}[${first}] = ${a[first]}: nanPolicy 'raise' refuses NaN and ±Infinity (nothing was written)`);
  }
}

/**
 * The backend of a call whose arrays may be DeviceBuffers: 'cuda' when one is (a backend option naming
 * another is a TypeError: the data is on the GPU), else the option's value.
 */
export function backendFor(name: string, option: Backend, explicit: boolean, arrays: readonly unknown[], spec?: LossSpec): Backend {
  if (!arrays.some((a) => a instanceof DeviceBuffer)) return option;
  const values = spec?.options.find((o) => o.name === 'backend')?.values;
  if (values && !values.includes('cuda'))
    throw new TypeError(`${name} has no CUDA build, so it cannot take DeviceBuffer arguments; copy them to the host with toHost()`);
  if (explicit && option !== 'cuda')
    throw new TypeError(
      `${name}: DeviceBuffer arguments live on the GPU and need backend 'cuda' (got '${option}'); copy them to the host with toHost() for another backend`,
    );
  return 'cuda';
}

/** nanPolicy 'raise' scans host memory: a DeviceBuffer among the arrays is a TypeError. */
export function checkFiniteHost(name: string, arrays: readonly (readonly [string, unknown])[]): void {
  for (const [k, a] of arrays)
    if (a instanceof DeviceBuffer)
      throw new TypeError(
        `${name}: nanPolicy 'raise' scans host arrays; ${k} is a DeviceBuffer (use 'propagate', or check it on the host)`,
      );
}
