// Loads the native addon once, lazily. The search order is the node-gyp-build convention: a developer
// build in build/Release first, then a matching prebuild in prebuilds/<platform>-<arch>/. If nothing
// loads, native calls throw an error that says where we looked, why it failed and how to rebuild;
// `backend: 'reference'` keeps working without the addon. Never a silent fallback.
import * as fs from 'node:fs';
import * as path from 'node:path';

export type NativeReduction = 0 | 1 | 2;
type F32 = Float32Array;
/** linearCrossEntropy's positional arguments (native/src/napi/linear_cross_entropy.cc). */
export type LinearCrossEntropyNativeArgs = readonly [
  input: F32,
  linearWeight: F32,
  linearBias: F32 | null,
  target: Int32Array | F32,
  weight: F32 | null,
  sampleWeight: F32 | null,
  gradOutput: F32 | null,
  gradInput: F32 | null,
  gradLinearWeight: F32 | null,
  gradLinearBias: F32 | null,
  loss: F32 | null,
  lse: F32 | null,
  stats: Float64Array,
  n: number,
  h: number,
  c: number,
  ignoreIndex: number,
  labelSmoothing: number,
  reduction: NativeReduction,
  gradScale: number,
  lseSquareScale: number,
  softcap: number,
  chunkSize: number,
  accumulate: boolean,
  wantAccuracy: boolean,
];

/** (input, input2, targetIndex, target, weight, sampleWeight, gradOutput, grad, grad2, lossOut, n, c, reduction, gradScale, p, margin, eps) */
export type RowLossArgs = [
  input: F32,
  input2: F32 | null,
  targetIndex: Int32Array | null,
  target: F32 | null,
  weight: F32 | null,
  sampleWeight: F32 | null,
  gradOutput: F32 | null,
  grad: F32,
  grad2: F32 | null,
  lossOut: F32 | null,
  n: number,
  c: number,
  reduction: NativeReduction,
  gradScale: number,
  p: number,
  margin: number,
  eps: number,
];
type RowLossFn = (...args: RowLossArgs) => number;
type RowLossAsyncFn = (...args: RowLossArgs) => Promise<number>;

export interface NativeBinding {
  crossEntropy(
    input: F32,
    target: Int32Array | F32,
    n: number,
    c: number,
    s: number,
    weight: F32 | null,
    ignoreIndex: number,
    labelSmoothing: number,
    reduction: NativeReduction,
    gradScale: number,
    gradOutput: F32 | null,
    grad: F32,
    lossOut: F32 | null,
    sampleWeight: F32 | null,
  ): number;
  crossEntropyAsync(
    input: F32,
    target: Int32Array | F32,
    n: number,
    c: number,
    s: number,
    weight: F32 | null,
    ignoreIndex: number,
    labelSmoothing: number,
    reduction: NativeReduction,
    gradScale: number,
    gradOutput: F32 | null,
    grad: F32,
    lossOut: F32 | null,
    sampleWeight: F32 | null,
  ): Promise<number>;
  nllLoss: NativeBinding['crossEntropy'];
  nllLossAsync: NativeBinding['crossEntropyAsync'];
  multiMarginLoss: RowLossFn;
  multiMarginLossAsync: RowLossAsyncFn;
  multilabelSoftMarginLoss: RowLossFn;
  multilabelSoftMarginLossAsync: RowLossAsyncFn;
  cosineEmbeddingLoss: RowLossFn;
  cosineEmbeddingLossAsync: RowLossAsyncFn;
  softF1Loss: RowLossFn;
  softF1LossAsync: RowLossAsyncFn;
  cosineDistance: RowLossFn;
  cosineDistanceAsync: RowLossAsyncFn;
  elementwiseLoss(
    kind: number,
    input: F32,
    target: F32,
    numel: number,
    samples: number,
    classes: number,
    weight: F32 | null,
    posWeight: F32 | null,
    sampleWeight: F32 | null,
    gradOutput: F32 | null,
    grad: F32,
    lossOut: F32 | null,
    reduction: NativeReduction,
    batchmean: boolean,
    gradScale: number,
    p0: number,
    p1: number,
    flag: boolean,
    flag2: boolean,
  ): number;
  elementwiseLossAsync(
    kind: number,
    input: F32,
    target: F32,
    numel: number,
    samples: number,
    classes: number,
    weight: F32 | null,
    posWeight: F32 | null,
    sampleWeight: F32 | null,
    gradOutput: F32 | null,
    grad: F32,
    lossOut: F32 | null,
    reduction: NativeReduction,
    batchmean: boolean,
    gradScale: number,
    p0: number,
    p1: number,
    flag: boolean,
    flag2: boolean,
  ): Promise<number>;
  /** (rule, coef, offset, eps, normalize, out: Float64Array(3·T), T, then per task: family, k, its k positional args) */
  multiTask(...args: unknown[]): void;
  multiTaskAsync(...args: unknown[]): Promise<void>;
  linearCrossEntropy(...args: LinearCrossEntropyNativeArgs): number;
  linearCrossEntropyAsync(...args: LinearCrossEntropyNativeArgs): Promise<number>;
  linearForward(x: F32, weight: F32, bias: F32 | null, batch: number, inF: number, outF: number, y: F32): number;
  linearForwardAsync(x: F32, weight: F32, bias: F32 | null, batch: number, inF: number, outF: number, y: F32): Promise<number>;
  linearBackward(
    x: F32 | null,
    gradOut: F32,
    weight: F32 | null,
    batch: number,
    inF: number,
    outF: number,
    gw: F32 | null,
    gb: F32 | null,
    gi: F32 | null,
    accumulate: boolean,
  ): number;
  linearBackwardAsync(
    x: F32 | null,
    gradOut: F32,
    weight: F32 | null,
    batch: number,
    inF: number,
    outF: number,
    gw: F32 | null,
    gb: F32 | null,
    gi: F32 | null,
    accumulate: boolean,
  ): Promise<number>;
  fmaPeak(ms: number, allThreads?: boolean): number;
  multiHeadBackward(x: F32, batch: number, inF: number, heads: unknown[][], gram: Float64Array | null, accumulate: boolean): number;
  multiHeadBackwardAsync(
    x: F32,
    batch: number,
    inF: number,
    heads: unknown[][],
    gram: Float64Array | null,
    accumulate: boolean,
  ): Promise<number>;
  optimizerStep(kind: number, hyper: Float64Array, nesterov: boolean, maximize: boolean, buffers: (F32 | null)[][]): number;
  optimizerStepAsync(kind: number, hyper: Float64Array, nesterov: boolean, maximize: boolean, buffers: (F32 | null)[][]): Promise<number>;
  gramMatrix(grads: F32[], out: Float64Array): number;
  gramMatrixAsync(grads: F32[], out: Float64Array): Promise<number>;
  combineGradients(grads: F32[], coef: Float64Array, out: F32): number;
  combineGradientsAsync(grads: F32[], coef: Float64Array, out: F32): Promise<number>;
  gradDrop(grads: F32[], seed: number, out: F32): number;
  gradDropAsync(grads: F32[], seed: number, out: F32): Promise<number>;
  totalNorm(arrays: F32[], p: number): number;
  emaUpdate(buffers: F32[], grads: F32[], keep: number, norms: Float64Array): number;
  scaleArrays(arrays: F32[], factor: number): number;
  clipValues(arrays: F32[], value: number): number;
  accumulateF64(acc: Float64Array, g: F32): number;
  readF64(acc: Float64Array, divisor: number, out: F32): number;
  setNumThreads(n: number): void;
  numThreads(): number;
  hardwareThreads(): number;
  isa(): string;
  setIsa(name: string): void;
  supportedIsas(): string[];
  scaleCopy(x: F32, y: F32, a: number): void;
  firstNonFinite(a: F32): number;
  readonly isaEnvError: string;
  readonly build: { compiler: string; napiVersion: number };
}

/** Thrown by native calls when the addon did not load: where it was looked for and why it failed. */
export class AddonLoadError extends Error {
  /** An error listing the files tried and why none loaded. */
  constructor(
    /** The files tried, in order. */
    readonly looked: readonly string[],
    /** Why none loaded. */
    readonly reason: string,
  ) {
    super(
      `fuseloss: the native addon could not be loaded.\n` +
        `  looked for: ${looked.join(', ')}\n` +
        `  reason: ${reason}\n` +
        `  fix: rebuild it with \`npm run build:native\` (needs cmake and a C++17 compiler), ` +
        `or pass { backend: 'reference' } to use the pure-TypeScript kernels.`,
    );
    this.name = 'AddonLoadError';
  }
}

function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        if (JSON.parse(fs.readFileSync(pj, 'utf8')).name === 'fuseloss') return dir;
      } catch {
        /* not ours */
      }
    }
    const up = path.dirname(dir);
    if (up === dir) return path.resolve(__dirname, '..');
    dir = up;
  }
}

function candidates(root: string, name: 'fuseloss' | 'fuseloss_cuda', envVar: string): string[] {
  // An explicit path is the only place looked at: asking for one file and silently loading another
  // would hide the problem.
  if (process.env[envVar]) return [path.resolve(process.env[envVar]!)];
  const out = [path.join(root, 'build', 'Release', `${name}.node`)];
  const pre = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  const ours = (f: string) => f.endsWith('.node') && (name === 'fuseloss_cuda') === f.startsWith('fuseloss_cuda');
  const prebuilt = fs.existsSync(pre) ? fs.readdirSync(pre).filter(ours).sort() : [];
  if (prebuilt.length) for (const f of prebuilt) out.push(path.join(pre, f));
  else out.push(path.join(pre, `${name}*.node`));
  return out;
}

function dlopenFirst<T>(looked: readonly string[]): { binding?: T; file?: string; reasons: string[] } {
  const reasons: string[] = [];
  for (const file of looked) {
    if (!fs.existsSync(file)) {
      reasons.push(`${file}: not found`);
      continue;
    }
    try {
      const mod = { exports: {} as T };
      process.dlopen(mod, file);
      return { binding: mod.exports, file, reasons };
    } catch (e) {
      reasons.push(`${file}: ${(e as Error).message}`);
    }
  }
  return { reasons };
}

let loaded: { binding?: NativeBinding; error?: AddonLoadError } | undefined;

function load(): { binding?: NativeBinding; error?: AddonLoadError } {
  const looked = candidates(packageRoot(), 'fuseloss', 'FUSELOSS_ADDON_PATH');
  const r = dlopenFirst<NativeBinding>(looked);
  if (r.binding) {
    if (r.binding.isaEnvError) return { error: new AddonLoadError([r.file!], r.binding.isaEnvError) };
    return { binding: r.binding };
  }
  return { error: new AddonLoadError(looked, r.reasons.join('; ')) };
}

/** The addon, or throws AddonLoadError explaining why it is unavailable. */
export function native(): NativeBinding {
  loaded ??= load();
  if (loaded.error) throw loaded.error;
  return loaded.binding!;
}

/** Whether the addon loaded; `nativeLoadError()` says why not. */
export function nativeAvailable(): boolean {
  loaded ??= load();
  return loaded.binding !== undefined;
}

/** Why the addon did not load (an AddonLoadError), or undefined when it did. */
export function nativeLoadError(): Error | undefined {
  loaded ??= load();
  return loaded.error;
}

// ---- CUDA: a separate addon (fuseloss_cuda.node), loaded only when backend 'cuda' is asked for.

/** A CUDA device as `cuda.devices()` reports it. */
export interface CudaDevice {
  /** The device's CUDA index. */
  index: number;
  /** Its name (e.g. 'NVIDIA H100 80GB HBM3'). */
  name: string;
  /** Its global memory in bytes. */
  totalMemory: number;
  /** Its compute capability ('9.0'). */
  computeCapability: string;
  /** Its streaming multiprocessors. */
  multiprocessors: number;
}

/** The kernels the CUDA addon has: the CPU addon's signatures (arrays may also be DeviceBuffer handles). */
type CudaKernels = Pick<
  NativeBinding,
  | 'crossEntropy'
  | 'crossEntropyAsync'
  | 'nllLoss'
  | 'nllLossAsync'
  | 'multiMarginLoss'
  | 'multiMarginLossAsync'
  | 'multilabelSoftMarginLoss'
  | 'multilabelSoftMarginLossAsync'
  | 'cosineEmbeddingLoss'
  | 'cosineEmbeddingLossAsync'
  | 'softF1Loss'
  | 'softF1LossAsync'
  | 'cosineDistance'
  | 'cosineDistanceAsync'
  | 'linearForward'
  | 'linearForwardAsync'
  | 'linearBackward'
  | 'linearBackwardAsync'
  | 'gramMatrix'
  | 'gramMatrixAsync'
  | 'combineGradients'
  | 'combineGradientsAsync'
  | 'gradDrop'
  | 'gradDropAsync'
  | 'totalNorm'
  | 'scaleArrays'
  | 'clipValues'
  | 'multiHeadBackward'
  | 'multiHeadBackwardAsync'
  | 'elementwiseLoss'
  | 'elementwiseLossAsync'
  | 'multiTask'
  | 'multiTaskAsync'
  | 'accumulateF64'
  | 'readF64'
  | 'optimizerStep'
  | 'optimizerStepAsync'
>;

export interface CudaBinding extends CudaKernels {
  devices(): CudaDevice[];
  deviceAlloc(length: number, dtype: 'float32' | 'int32' | 'float64'): object;
  deviceFree(handle: object): void;
  deviceCopy(handle: object, host: Float32Array | Int32Array | Float64Array, toDevice: boolean): void;
  deviceCopyDevice(dst: object, src: object): number;
  deviceZero(handle: object): void;
  lastKernelMs(): number;
  readonly cudaRuntimeVersion: number;
}

/** Thrown by backend 'cuda' calls when CUDA cannot run here (no CUDA addon, driver or device). */
export class CudaUnavailableError extends Error {
  /** An error saying why CUDA is unavailable. */
  constructor(
    /** Why CUDA is unavailable. */
    readonly reason: string,
  ) {
    super(
      `fuseloss: backend 'cuda' is unavailable: ${reason}. ` +
        `The CUDA addon is built by \`npm run build:native\` when nvcc is found (cmake option FUSELOSS_CUDA), ` +
        `and needs an NVIDIA driver and GPU at run time; use backend 'native' (CPU) otherwise.`,
    );
    this.name = 'CudaUnavailableError';
  }
}

let cudaLoaded: { binding?: CudaBinding; devices?: CudaDevice[]; error?: CudaUnavailableError } | undefined;

function loadCuda(): NonNullable<typeof cudaLoaded> {
  const looked = candidates(packageRoot(), 'fuseloss_cuda', 'FUSELOSS_CUDA_ADDON_PATH');
  const r = dlopenFirst<CudaBinding>(looked);
  if (!r.binding) return { error: new CudaUnavailableError(`the CUDA addon could not be loaded (${r.reasons.join('; ')})`) };
  try {
    return { binding: r.binding, devices: r.binding.devices() };
  } catch (e) {
    return { error: new CudaUnavailableError((e as Error).message) };
  }
}

/** The CUDA addon with at least one device, or throws CudaUnavailableError saying why not. */
export function cudaNative(): CudaBinding {
  cudaLoaded ??= loadCuda();
  if (cudaLoaded.error) throw cudaLoaded.error;
  return cudaLoaded.binding!;
}

/** The CUDA backend: whether it can run here and on which devices. */
export const cuda = {
  /** Whether backend 'cuda' can run here (the CUDA addon loads and sees a device). */
  available(): boolean {
    cudaLoaded ??= loadCuda();
    return cudaLoaded.binding !== undefined;
  },
  /** The visible devices (empty when CUDA is unavailable). */
  devices(): CudaDevice[] {
    cudaLoaded ??= loadCuda();
    return cudaLoaded.devices ?? [];
  },
  /** Why backend 'cuda' is unavailable, or undefined when it is available. */
  unavailableReason(): string | undefined {
    cudaLoaded ??= loadCuda();
    return cudaLoaded.error?.reason;
  },
  /**
   * GPU time in milliseconds (CUDA events) of the kernels of the last backend 'cuda' call (or of the last
   * `DeviceBuffer.copyFrom`), its host↔device copies excluded. Throws CudaUnavailableError without CUDA.
   */
  lastKernelMs(): number {
    return cudaNative().lastKernelMs();
  },
};
