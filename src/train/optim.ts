// Optimizers as fused native steps over float32 parameter buffers: SGD (momentum, dampening, Nesterov,
// weight decay), Adam and AdamW, with torch.optim's update rules and defaults. One native call updates
// every parameter (all buffers in one pool job); the state (moments, step count) is kept here and
// serializes to JSON (float32 buffers as base64, bit-exact). With backend 'cuda' (implied by DeviceBuffer
// parameters) the step runs on the GPU with the same bits, and the moments live there too.
import { cudaNative, native } from '../backends/binding';
import { DeviceBuffer, holding, toNativeArgs } from '../backends/device';
import { optimizerStepReference, type OptimHyper, type OptimizerHyperParameters } from '../backends/reference/optim';

export type { OptimizerHyperParameters };
import { backendFor, checkF32Arg, overlaps, rangeError, typeError } from '../core/validate';

/** torch.optim.SGD's options (same names, camelCase). */
export interface SgdOptions {
  /** Learning rate, ≥ 0 (required, as in PyTorch). */
  lr: number;
  /** Momentum factor, ≥ 0; 0 disables the momentum buffer. Default 0. */
  momentum?: number;
  /** Dampening of the momentum: buf = momentum·buf + (1 − dampening)·g. Default 0. */
  dampening?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). Default false. */
  nesterov?: boolean;
  /** L2 penalty added to the gradient: g + weightDecay·p, ≥ 0. Default 0. */
  weightDecay?: number;
  /** Maximise the objective (step along +g). Default false. */
  maximize?: boolean;
  /**
   * 'native' (default: one fused native step), 'reference' (TypeScript, the same bits) or 'cuda' (the GPU,
   * the same bits; implied when the parameters are DeviceBuffers, whose moments then live on the GPU too).
   */
  backend?: OptimizerBackend;
}

/** torch.optim.Adam / AdamW's options (same names, camelCase). */
export interface AdamOptions {
  /** Default 1e-3. */
  lr?: number;
  /** Default [0.9, 0.999]. */
  betas?: [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** Adam: L2 penalty added to the gradient (default 0); AdamW: decoupled decay (default 0.01). */
  weightDecay?: number;
  /** Maximise the objective. Default false. */
  maximize?: boolean;
  /**
   * 'native' (default: one fused native step), 'reference' (TypeScript, the same bits) or 'cuda' (the GPU,
   * the same bits; implied when the parameters are DeviceBuffers, whose moments then live on the GPU too).
   */
  backend?: OptimizerBackend;
}

/** Where an optimizer steps. */
export type OptimizerBackend = 'native' | 'reference' | 'cuda';

/** A parameter (or gradient) an optimizer takes: a Float32Array, or (backend 'cuda') a float32 DeviceBuffer. */
export type OptimParam = Float32Array | DeviceBuffer<'float32'>;

/** Float32 bytes as base64 (bit-exact JSON for parameters and optimizer state). */
export function encodeFloat32(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

/** The inverse of `encodeFloat32`; `name` labels errors. */
export function decodeFloat32(s: string, name = 'value'): Float32Array {
  if (typeof s !== 'string') throw typeError('a base64 string of float32 bytes', name, s);
  const b = Buffer.from(s, 'base64');
  if (b.length % 4) throw new RangeError(`${name}: ${b.length} bytes is not a whole number of float32s`);
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/** What `Optimizer.state()` returns (JSON). */
export interface OptimizerState {
  /** The optimizer's kind. */
  kind: 'sgd' | 'adam' | 'adamw';
  /** Its hyper-parameters. */
  hyper: OptimizerHyperParameters;
  /** Steps taken so far. */
  steps: number;
  /** Per parameter name: the moment buffers as base64 float32. */
  buffers: Record<
    string,
    {
      /** SGD's momentum buffer, or Adam's first moment. */
      expAvg?: string;
      /** Adam's second moment. */
      expAvgSq?: string;
    }
  >;
}

const KIND = { sgd: 0, adam: 1, adamw: 2 } as const;

function num(v: unknown, name: string, lo: number, hi = Infinity, hiOpen = false): number {
  if (typeof v !== 'number' || !(v >= lo) || !(hiOpen ? v < hi : v <= hi) || Number.isNaN(v))
    throw rangeError(`a number in [${lo}, ${hi}${hiOpen ? ')' : ']'}`, name, v);
  return v;
}

/** The shared machinery: named float32 parameters updated in place by `step(grads)`. */
export abstract class Optimizer<P extends OptimParam = Float32Array> {
  /** The parameters, by name, updated in place by `step`. */
  readonly params: Readonly<Record<string, P>>;
  protected readonly names: string[];
  protected readonly hyper: Omit<OptimHyper, 'step'>;
  protected readonly backend: OptimizerBackend;
  private readonly expAvg: Record<string, P> = {};
  private readonly expAvgSq: Record<string, P> = {};
  private steps = 0;

  protected constructor(params: Record<string, P>, hyper: Omit<OptimHyper, 'step'>, backend: unknown) {
    if (typeof params !== 'object' || params === null) throw typeError('an object of name → Float32Array', 'params', params);
    this.names = Object.keys(params);
    if (backend !== undefined && backend !== 'native' && backend !== 'reference' && backend !== 'cuda')
      throw typeError("'native' | 'reference' | 'cuda'", 'backend', backend);
    this.backend = backendFor(
      'Optimizer',
      (backend as OptimizerBackend | undefined) ?? 'native',
      backend !== undefined,
      this.names.map((n) => params[n]),
    ) as OptimizerBackend;
    for (const n of this.names) {
      checkF32Arg(params[n], `params.${n}`, 'optimizer', this.backend);
      for (const m of this.names)
        if (m < n && overlaps(params[m] as Float32Array, params[n] as Float32Array))
          throw new RangeError(`params.${n} overlaps params.${m}`);
    }
    this.params = params;
    this.hyper = hyper;
    const needsM = hyper.kind !== 'sgd' || hyper.momentum !== 0;
    // Moments beside their parameter: on the GPU for a DeviceBuffer, host memory otherwise.
    const zeros = (p: P) => (p instanceof DeviceBuffer ? DeviceBuffer.alloc(p.length) : new Float32Array(p.length)) as P;
    try {
      for (const n of this.names) {
        if (needsM) this.expAvg[n] = zeros(params[n]);
        if (hyper.kind !== 'sgd') this.expAvgSq[n] = zeros(params[n]);
      }
    } catch (e) {
      this.dispose(); // a failed allocation (GPU out of memory) frees the moments made so far
      throw e;
    }
  }

  /** Steps taken so far. */
  get stepCount(): number {
    return this.steps;
  }

  private plan(grads: Record<string, OptimParam>) {
    if (typeof grads !== 'object' || grads === null) throw typeError('an object of name → Float32Array', 'grads', grads);
    for (const n of Object.keys(grads))
      if (!(n in this.params)) throw new RangeError(`grads.${n}: no parameter of that name (expected ${this.names.join(', ')})`);
    const list: [OptimParam, OptimParam, OptimParam | null, OptimParam | null][] = [];
    for (const n of this.names) {
      const g = grads[n];
      if (!(g instanceof Float32Array) && !(g instanceof DeviceBuffer))
        throw typeError(`a Float32Array of ${this.params[n].length} elements`, `grads.${n}`, g);
      checkF32Arg(g, `grads.${n}`, 'optimizer', this.backend);
      checkF32Arg(this.params[n], `params.${n}`, 'optimizer', this.backend);
      if (g.length !== this.params[n].length)
        throw rangeError(`${this.params[n].length} elements (the length of params.${n})`, `grads.${n}`, g);
      if (overlaps(g as Float32Array, this.params[n] as Float32Array)) throw new RangeError(`grads.${n} overlaps params.${n}`);
      list.push([this.params[n], g, this.expAvg[n] ?? null, this.expAvgSq[n] ?? null]);
    }
    const h = this.hyper;
    const hyper = new Float64Array([h.lr, h.momentum, h.dampening, h.beta1, h.beta2, h.eps, h.weightDecay, this.steps + 1]);
    return { list, hyper };
  }

  private addonCall(list: [OptimParam, OptimParam, OptimParam | null, OptimParam | null][]) {
    return this.backend === 'cuda'
      ? { addon: cudaNative(), list: list.map((e) => toNativeArgs(e)) as unknown as Float32Array[][] }
      : { addon: native(), list: list as Float32Array[][] };
  }

  /** Updates every parameter in place from its gradient (all names of the constructor's params). */
  step(grads: Record<string, OptimParam>): void {
    const { list, hyper } = this.plan(grads);
    if (this.backend === 'reference')
      for (const [p, g, m, v] of list as Float32Array[][]) optimizerStepReference({ ...this.hyper, step: this.steps + 1 }, p, g, m, v);
    else {
      const n = this.addonCall(list);
      n.addon.optimizerStep(KIND[this.hyper.kind], hyper, this.hyper.nesterov, this.hyper.maximize, n.list);
    }
    this.steps++;
  }

  /** `step` off the event loop. Do not touch the parameters or gradients until it settles. */
  async stepAsync(grads: Record<string, OptimParam>): Promise<void> {
    const { list, hyper } = this.plan(grads);
    if (this.backend === 'reference')
      for (const [p, g, m, v] of list as Float32Array[][]) optimizerStepReference({ ...this.hyper, step: this.steps + 1 }, p, g, m, v);
    else {
      const n = this.addonCall(list);
      await holding(list.flat(), () =>
        n.addon.optimizerStepAsync(KIND[this.hyper.kind], hyper, this.hyper.nesterov, this.hyper.maximize, n.list),
      );
    }
    this.steps++;
  }

  /** JSON-serializable state (hyper-parameters, step count, moment buffers); parameters are not included. */
  state(): OptimizerState {
    const { kind, ...hyper } = this.hyper; // every field of OptimizerHyperParameters
    const buffers: OptimizerState['buffers'] = {};
    const host = (a: P) => (a instanceof DeviceBuffer ? a.toHost() : a) as Float32Array;
    for (const n of this.names) {
      buffers[n] = {};
      if (this.expAvg[n]) buffers[n].expAvg = encodeFloat32(host(this.expAvg[n]));
      if (this.expAvgSq[n]) buffers[n].expAvgSq = encodeFloat32(host(this.expAvgSq[n]));
    }
    return { kind, hyper, steps: this.steps, buffers };
  }

  /** Restores `state()` of an optimizer of the same kind over parameters of the same names and sizes. */
  loadState(s: OptimizerState): void {
    if (typeof s !== 'object' || s === null || s.kind !== this.hyper.kind)
      throw typeError(`a '${this.hyper.kind}' optimizer state`, 'state', s);
    if (!Number.isInteger(s.steps) || s.steps < 0) throw rangeError('an integer >= 0', 'state.steps', s.steps);
    const next: [P, Float32Array][] = [];
    for (const n of this.names) {
      const b = s.buffers?.[n];
      if (!b) throw new RangeError(`state.buffers.${n}: missing`);
      for (const [key, mine] of [
        ['expAvg', this.expAvg[n]],
        ['expAvgSq', this.expAvgSq[n]],
      ] as const) {
        if (!mine) continue;
        const a = decodeFloat32(b[key] as string, `state.buffers.${n}.${key}`);
        if (a.length !== mine.length) throw rangeError(`${mine.length} elements`, `state.buffers.${n}.${key}`, a);
        next.push([mine, a]);
      }
    }
    for (const [mine, a] of next) {
      if (mine instanceof DeviceBuffer) mine.copyFromHost(a);
      else (mine as Float32Array).set(a);
    }
    Object.assign(this.hyper, s.hyper, { kind: this.hyper.kind });
    this.steps = s.steps;
  }

  /** Frees the moments held on the GPU (parameters are the caller's). The optimizer is unusable afterwards on cuda. */
  dispose(): void {
    for (const m of [...Object.values(this.expAvg), ...Object.values(this.expAvgSq)]) if (m instanceof DeviceBuffer) m.dispose();
  }
}

/** torch.optim.SGD: momentum (buffer started at the first gradient), dampening, Nesterov, L2 weight decay. */
export class SGD<P extends OptimParam = Float32Array> extends Optimizer<P> {
  /** An SGD optimizer over named float32 parameters (Float32Arrays, or DeviceBuffers on the GPU). */
  constructor(params: Record<string, P>, options: SgdOptions) {
    if (typeof options !== 'object' || options === null) throw typeError('{ lr, momentum?, … }', 'SGD options', options);
    const momentum = num(options.momentum ?? 0, 'momentum', 0);
    const dampening = num(options.dampening ?? 0, 'dampening', -Infinity);
    const nesterov = options.nesterov ?? false;
    if (nesterov && (momentum <= 0 || dampening !== 0)) throw new RangeError('nesterov: requires momentum > 0 and dampening 0');
    super(
      params,
      {
        kind: 'sgd',
        lr: num(options.lr, 'lr', 0),
        momentum,
        dampening,
        nesterov,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weightDecay: num(options.weightDecay ?? 0, 'weightDecay', 0),
        maximize: options.maximize ?? false,
      },
      options.backend,
    );
  }
}

function adamHyper(kind: 'adam' | 'adamw', options: AdamOptions | undefined, defaultDecay: number): Omit<OptimHyper, 'step'> {
  const o = options ?? {};
  if (typeof o !== 'object') throw typeError('{ lr?, betas?, eps?, weightDecay? }', `${kind} options`, o);
  const betas = o.betas ?? [0.9, 0.999];
  if (!Array.isArray(betas) || betas.length !== 2) throw typeError('[beta1, beta2]', 'betas', betas);
  return {
    kind,
    lr: num(o.lr ?? 1e-3, 'lr', 0),
    momentum: 0,
    dampening: 0,
    nesterov: false,
    beta1: num(betas[0], 'betas[0]', 0, 1, true),
    beta2: num(betas[1], 'betas[1]', 0, 1, true),
    eps: num(o.eps ?? 1e-8, 'eps', 0),
    weightDecay: num(o.weightDecay ?? defaultDecay, 'weightDecay', 0),
    maximize: o.maximize ?? false,
  };
}

/** torch.optim.Adam (weight decay as an L2 term on the gradient). */
export class Adam<P extends OptimParam = Float32Array> extends Optimizer<P> {
  /** An Adam optimizer over named float32 parameters (options default as torch.optim.Adam). */
  constructor(params: Record<string, P>, options?: AdamOptions) {
    super(params, adamHyper('adam', options, 0), options?.backend);
  }
}

/** torch.optim.AdamW (decoupled weight decay, default 0.01). */
export class AdamW<P extends OptimParam = Float32Array> extends Optimizer<P> {
  /** An AdamW optimizer over named float32 parameters (options default as torch.optim.AdamW). */
  constructor(params: Record<string, P>, options?: AdamOptions) {
    super(params, adamHyper('adamw', options, 0.01), options?.backend);
  }
}

/** An optimizer as a config object: its kind and its options. */
export type OptimizerConfig = SgdConfig | AdamConfig;
/** `{ type: 'sgd', lr, … }`. */
export interface SgdConfig extends SgdOptions {
  /** The optimizer's kind. */
  type: 'sgd';
}
/** `{ type: 'adam' | 'adamw', … }`. */
export interface AdamConfig extends AdamOptions {
  /** The optimizer's kind. */
  type: 'adam' | 'adamw';
}

/** An optimizer from a config object ({ type: 'sgd' | 'adam' | 'adamw', …options }). */
export function createOptimizer<P extends OptimParam = Float32Array>(params: Record<string, P>, config: OptimizerConfig): Optimizer<P> {
  if (typeof config !== 'object' || config === null) throw typeError("{ type: 'sgd' | 'adam' | 'adamw', … }", 'optimizer', config);
  const { type, ...options } = config;
  if (type === 'sgd') return new SGD(params, options as SgdOptions);
  if (type === 'adam') return new Adam(params, options);
  if (type === 'adamw') return new AdamW(params, options);
  throw typeError("'sgd' | 'adam' | 'adamw'", 'optimizer.type', type);
}
