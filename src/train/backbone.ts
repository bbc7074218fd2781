// OnnxBackbone: a frozen shared trunk run by ONNX Runtime (onnxruntime-node, CPU). It wraps an
// InferenceSession, checks at creation that the model's input and output fit (names, float32 types,
// ranks), and turns a batch into a [batch, features] Float32Array for the heads fuseloss trains.
import type * as Ort from 'onnxruntime-node';
import { typeError } from '../core/validate';

/** Options of `OnnxBackbone.create`. */
export interface BackboneOptions {
  /** The output to use as features (default: the model's first float32 output). */
  outputName?: string;
  /** The input to feed (default: the model's only input; required when it has several). */
  inputName?: string;
  /** Passed to InferenceSession.create (threads, execution providers, …). */
  sessionOptions?: Ort.InferenceSession.SessionOptions;
}

/** A batch for the backbone: an ort.Tensor or a plain { data, dims } (float32). */
export type BackboneInput =
  | Ort.Tensor
  | {
      /** Row-major float32 elements. */
      data: Float32Array;
      /** Their dims, batch first. */
      dims: readonly number[];
    };

/** The backbone's output as features: one row per batch element. */
export interface Features {
  /** The features, `[batch, features]` row-major: the output flattened after its batch dimension. */
  data: Float32Array;
  /** `[batch, features]`. */
  dims: [number, number];
}

type Meta = { name: string; isTensor: boolean; type?: string; shape?: readonly (number | string)[] };

let ortModule: typeof Ort | null = null;
/** onnxruntime-node, loaded on first use (the loss kernels never need it). */
export function ort(): typeof Ort {
  return (ortModule ??= require('onnxruntime-node') as typeof Ort);
}

const fmtShape = (s: readonly (number | string)[]) =>
  `[${s.map((d) => (typeof d === 'number' && d >= 0 ? d : typeof d === 'string' ? d : '?')).join(', ')}]`;

/** A frozen trunk run by ONNX Runtime (onnxruntime-node, CPU), checked at creation (see `create`). */
export class OnnxBackbone {
  /** The model input fed with the batch. */
  readonly inputName: string;
  /** The model output used as features. */
  readonly outputName: string;
  /** The model's input shape (symbolic dimensions as strings, e.g. ['batch', 6]). */
  readonly inputShape: readonly (number | string)[];
  /** The features output's shape (symbolic dimensions as strings). */
  readonly outputShape: readonly (number | string)[];
  /** Features per row when the model states them (the product of the output's non-batch dimensions), else null. */
  readonly featureSize: number | null;

  private constructor(
    private readonly session: Ort.InferenceSession,
    input: Meta,
    output: Meta,
  ) {
    this.inputName = input.name;
    this.outputName = output.name;
    this.inputShape = input.shape ?? [];
    this.outputShape = output.shape ?? [];
    const rest = this.outputShape.slice(1);
    this.featureSize = rest.every((d) => typeof d === 'number' && d >= 0) ? (rest as number[]).reduce((a, b) => a * b, 1) : null;
  }

  /** Loads a model (a path or its bytes) and checks that its input and output fit. */
  static async create(model: string | Uint8Array, options: BackboneOptions = {}): Promise<OnnxBackbone> {
    if (typeof model !== 'string' && !(model instanceof Uint8Array))
      throw typeError('a model path or its bytes (Uint8Array)', 'model', model);
    if (typeof options !== 'object' || options === null)
      throw typeError('{ outputName?, inputName?, sessionOptions? }', 'options', options);
    const o = ort();
    const session =
      typeof model === 'string'
        ? await o.InferenceSession.create(model, options.sessionOptions ?? {})
        : await o.InferenceSession.create(model, options.sessionOptions ?? {});
    try {
      const ins = session.inputMetadata as unknown as Meta[],
        outs = session.outputMetadata as unknown as Meta[];
      const list = (ms: Meta[]) =>
        ms.map((m) => `${m.name} (${m.isTensor ? `${m.type} ${fmtShape(m.shape ?? [])}` : 'not a tensor'})`).join(', ');
      let input: Meta | undefined;
      if (options.inputName !== undefined) {
        input = ins.find((m) => m.name === options.inputName);
        if (!input) throw new RangeError(`inputName: the model has no input '${options.inputName}' (its inputs: ${list(ins)})`);
      } else {
        if (ins.length !== 1)
          throw new RangeError(`inputName: the model has ${ins.length} inputs (${list(ins)}); say which one takes the batch`);
        input = ins[0];
      }
      if (!input.isTensor || input.type !== 'float32')
        throw new TypeError(`input '${input.name}': expected a float32 tensor input, the model's is ${list([input])}`);
      if ((input.shape ?? []).length < 1)
        throw new RangeError(`input '${input.name}': expected a batch dimension, the model's shape is ${fmtShape(input.shape ?? [])}`);
      let output: Meta | undefined;
      if (options.outputName !== undefined) {
        output = outs.find((m) => m.name === options.outputName);
        if (!output) throw new RangeError(`outputName: the model has no output '${options.outputName}' (its outputs: ${list(outs)})`);
        if (!output.isTensor || output.type !== 'float32')
          throw new TypeError(`outputName: '${output.name}' is not a float32 tensor (${list([output])}); pick a float feature output`);
      } else {
        output = outs.find((m) => m.isTensor && m.type === 'float32');
        if (!output) throw new TypeError(`the model has no float32 output to use as features (its outputs: ${list(outs)})`);
      }
      if ((output.shape ?? []).length < 2)
        throw new RangeError(
          `output '${output.name}': expected [batch, features…] (rank >= 2), the model's shape is ${fmtShape(output.shape ?? [])}`,
        );
      return new OnnxBackbone(session, input, output);
    } catch (e) {
      await session.release();
      throw e;
    }
  }

  private feed(input: BackboneInput): Ort.Tensor {
    const o = ort();
    let tensor: Ort.Tensor;
    if (input instanceof o.Tensor) {
      if (input.type !== 'float32') throw new TypeError(`input: expected a float32 tensor, got ${input.type}`);
      tensor = input;
    } else {
      if (typeof input !== 'object' || input === null || !(input.data instanceof Float32Array) || !Array.isArray(input.dims))
        throw typeError('an ort.Tensor or { data: Float32Array, dims: number[] }', 'input', input);
      const n = input.dims.reduce((a, b) => a * b, 1);
      if (input.dims.some((d) => !Number.isInteger(d) || d < 0))
        throw new RangeError(`input.dims: expected non-negative integers, got [${input.dims.join(', ')}]`);
      if (n !== input.data.length)
        throw new RangeError(`input: dims [${input.dims.join(', ')}] need ${n} elements, data has ${input.data.length}`);
      tensor = new o.Tensor('float32', input.data, [...input.dims]);
    }
    const want = this.inputShape,
      got = tensor.dims;
    const bad = got.length !== want.length || want.some((d, i) => typeof d === 'number' && d >= 0 && d !== got[i]);
    if (bad) throw new RangeError(`input: expected dims ${fmtShape(want)} (model input '${this.inputName}'), got [${got.join(', ')}]`);
    return tensor;
  }

  /** Runs the backbone on a batch; the features come back as [batch, features]. */
  async features(input: BackboneInput): Promise<Features> {
    const tensor = this.feed(input);
    const out = (await this.session.run({ [this.inputName]: tensor }, [this.outputName]))[this.outputName];
    const dims = out.dims;
    const batch = dims[0];
    const per = dims.slice(1).reduce((a, b) => a * b, 1);
    return { data: out.data as Float32Array, dims: [batch, per] };
  }

  /** Frees the session. */
  async release(): Promise<void> {
    await this.session.release();
  }
}

/** A loss result's arrays (what every loss returns; grad2 for two-input losses). */
export interface LossArrays {
  /** The reduced loss, or per-element losses ('none'). */
  loss: number | Float32Array;
  /** d(loss)/d(input). */
  grad: Float32Array;
  /** d(loss)/d(input2), two-input losses. */
  grad2?: Float32Array;
}

/** The tensors `ortGradients` adds. */
export interface OrtTensors {
  /** The gradient as an ort.Tensor shaped like the input (wraps `grad`). */
  gradTensor: Ort.Tensor;
  /** The second input's gradient, two-input losses. */
  grad2Tensor?: Ort.Tensor;
  /** reduction 'none': the per-element losses as an ort.Tensor. */
  lossTensor?: Ort.Tensor;
}

/**
 * A loss result with its gradient(s) as ort.Tensors (zero copy: the tensors wrap the result's arrays)
 * shaped like `input` (an ort.Tensor or anything with `dims`, e.g. the backbone's features). With
 * reduction 'none' the per-element loss comes back as `lossTensor` too, shaped like the input without
 * the dims the loss reduces (`lossDims`, default: the input's first dim).
 */
export function ortGradients<R extends LossArrays>(
  result: R,
  input: { dims: readonly number[] },
  lossDims?: readonly number[],
): R & OrtTensors {
  const o = ort();
  const dims = [...input.dims];
  if (dims.reduce((a, b) => a * b, 1) !== result.grad.length)
    throw new RangeError(`input.dims [${dims.join(', ')}] do not match the gradient's ${result.grad.length} elements`);
  const out: R & OrtTensors = { ...result, gradTensor: new o.Tensor('float32', result.grad, dims) };
  if (result.grad2) out.grad2Tensor = new o.Tensor('float32', result.grad2, dims);
  if (result.loss instanceof Float32Array) {
    const ld = lossDims ? [...lossDims] : result.loss.length === result.grad.length ? dims : [result.loss.length];
    out.lossTensor = new o.Tensor('float32', result.loss, ld);
  }
  return out;
}
