// fuseloss: fused loss kernels (loss + gradient in one pass) over a C++ Node-API addon, with a
// pure-TypeScript reference of every kernel.
import { native } from './backends/binding';

export { crossEntropy, crossEntropyAsync } from './losses/crossEntropy';
export type { CrossEntropyOptions, CrossEntropyResult, LossResult, DeviceLossResult, DeviceTarget } from './losses/crossEntropy';
export { nllLoss, nllLossAsync } from './losses/nllLoss';
export { linearCrossEntropy, linearCrossEntropyAsync, linearCrossEntropyChunkSize } from './losses/linearCrossEntropy';
export type {
  LinearCrossEntropyOptions,
  LinearCrossEntropyResult,
  LinearCrossEntropyCompute,
  LinearCrossEntropyOut,
} from './losses/linearCrossEntropy';
export type { NllLossOptions } from './losses/nllLoss';
export {
  multiMarginLoss,
  multiMarginLossAsync,
  multilabelSoftMarginLoss,
  multilabelSoftMarginLossAsync,
  cosineEmbeddingLoss,
  cosineEmbeddingLossAsync,
  softF1Loss,
  softF1LossAsync,
  cosineDistance,
  cosineDistanceAsync,
} from './losses/rowwise';
export type {
  MultiMarginLossOptions,
  MultilabelSoftMarginLossOptions,
  CosineEmbeddingLossOptions,
  SoftF1LossOptions,
  CosineDistanceOptions,
  RowLossOptions,
  RowTarget,
  RowInput,
  RowResult,
  CosineEmbeddingResult,
  DeviceCosineEmbeddingResult,
} from './losses/rowwise';
export {
  mseLoss,
  mseLossAsync,
  l1Loss,
  l1LossAsync,
  smoothL1Loss,
  smoothL1LossAsync,
  huberLoss,
  huberLossAsync,
  binaryCrossEntropy,
  binaryCrossEntropyAsync,
  binaryCrossEntropyWithLogits,
  binaryCrossEntropyWithLogitsAsync,
  hingeEmbeddingLoss,
  hingeEmbeddingLossAsync,
  klDiv,
  klDivAsync,
  poissonNllLoss,
  poissonNllLossAsync,
  sigmoidFocalLoss,
  sigmoidFocalLossAsync,
  hingeLoss,
  hingeLossAsync,
  logLoss,
  logLossAsync,
  softMarginLoss,
  softMarginLossAsync,
} from './losses/elementwise';
export type {
  ElementwiseOptions,
  MseLossOptions,
  L1LossOptions,
  SmoothL1LossOptions,
  HuberLossOptions,
  BinaryCrossEntropyOptions,
  BinaryCrossEntropyWithLogitsOptions,
  HingeEmbeddingLossOptions,
  KlDivOptions,
  PoissonNllLossOptions,
  SigmoidFocalLossOptions,
  HingeLossOptions,
  LogLossOptions,
  SoftMarginLossOptions,
  ElementwiseResult,
  ElementwiseTarget,
  ElementwiseLossFn,
  ElementwiseLossAsyncFn,
} from './losses/elementwise';
export { MultiTaskLoss, STRATEGIES } from './multitask/multiTaskLoss';
export type { LossOptionsBase, LossOutputs } from './losses/options';
export { OnnxBackbone, ortGradients } from './train/backbone';
export { MultiTaskTrainer } from './train/trainer';
export type {
  TrainerConfig,
  TrainerTask,
  Dataset,
  TaskMetrics,
  StepInfo,
  EpochInfo,
  FitOptions,
  SavedTrainer,
  Activation,
  ForwardResult,
  TrainerGradients,
} from './train/trainer';
export type { BackboneOptions, BackboneInput, Features, LossArrays, OrtTensors } from './train/backbone';
export { SGD, Adam, AdamW, Optimizer, createOptimizer, encodeFloat32, decodeFloat32 } from './train/optim';
export type {
  SgdOptions,
  AdamOptions,
  OptimizerState,
  OptimizerConfig,
  OptimizerHyperParameters,
  SgdConfig,
  AdamConfig,
  OptimizerBackend,
  OptimParam,
} from './train/optim';
export {
  linearForward,
  linearForwardAsync,
  linearBackward,
  linearBackwardAsync,
  multiHeadBackward,
  multiHeadBackwardAsync,
} from './reduce/linear';
export { gramMatrix, gramMatrixAsync } from './reduce/gram';
export { combineGradients, combineGradientsAsync, COMBINE_METHODS } from './reduce/combine';
export { clipGradNorm, clipGradValue } from './reduce/clip';
export { GradAccumulator } from './reduce/accumulate';
export type { CombineMethod, CombineOptions, CombineResult, CombineState, MgdaNormalization } from './reduce/combine';
export type { ClipGradNormOptions } from './reduce/clip';
export type { ReductionBackend, GradientBackend, F32Grads } from './reduce/gradients';
export type { GradAccumulatorOptions, AccumulatedGrad } from './reduce/accumulate';
export type {
  F32Arg,
  LinearShape,
  LinearForwardOptions,
  LinearBackwardOptions,
  LinearGrads,
  LinearGradSelection,
  LinearOutput,
  HeadInput,
  MultiHeadOptions,
  MultiHeadResult,
  HeadGrads,
} from './reduce/linear';
export type {
  MultiTaskConfig,
  TaskConfig,
  TaskBatch,
  ComputeOptions,
  MultiTaskResult,
  MultiTaskState,
  WeightingConfig,
  EndStepInfo,
  StrategyName,
  StrategyNeeds,
  UncertaintyForm,
} from './multitask/multiTaskLoss';
export type { TensorLike, FloatInput, TargetInput } from './core/tensor';
export type { Reduction, KlReduction, Backend, LossSpec, OptionSpec, OptionType, ElementwiseSpec, ElementwiseName } from './losses/ops';
export {
  LOSSES,
  ELEMENTWISE_LOSSES,
  ROW_LOSSES,
  REDUCTIONS,
  BACKENDS,
  crossEntropySpec,
  nllLossSpec,
  linearCrossEntropySpec,
  optionsTable,
  lossTable,
} from './losses/ops';
export { AddonLoadError, CudaUnavailableError, cuda, nativeAvailable, nativeLoadError } from './backends/binding';
export type { CudaDevice } from './backends/binding';
export { DeviceBuffer } from './backends/device';
export type { DeviceDType, HostArrayOf } from './backends/device';

/** Threads the native kernels use (the calling thread included). Default: the number of cores. */
export function setNumThreads(n: number): void {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 1024)
    throw new RangeError(`Expected an integer in [1, 1024] for threads but received ${String(n)}`);
  native().setNumThreads(n);
}

/** Threads the native kernels use now (the calling thread included). */
export function getNumThreads(): number {
  return native().numThreads();
}

/** An instruction-set level of the kernels: SSE2 (any x86-64), AVX2 + FMA, or AVX-512F. */
export type Isa = 'baseline' | 'avx2' | 'avx512';

/** What `runtimeInfo()` reports. */
export interface RuntimeInfo {
  /** The level the kernels dispatch to now (the best this CPU runs, unless `setIsa` or FUSELOSS_ISA chose another). */
  isa: Isa;
  /** Every level this CPU can run. */
  supportedIsas: Isa[];
  /** Threads per kernel call (`getNumThreads()`). */
  threads: number;
  /** Hardware threads of this machine (the default thread count). */
  hardwareThreads: number;
  /** The compiler that built the addon (e.g. '12.2.0'). */
  compiler: string;
}

/** The instruction-set level the kernels dispatch to, the levels this CPU supports, and build facts. */
export function runtimeInfo(): RuntimeInfo {
  const b = native();
  return {
    isa: b.isa() as Isa,
    supportedIsas: b.supportedIsas() as Isa[],
    threads: b.numThreads(),
    hardwareThreads: b.hardwareThreads(),
    compiler: b.build.compiler,
  };
}

/**
 * Forces an instruction-set level (tests and benchmarks; FUSELOSS_ISA sets it at load). Every level gives
 * the same bits; only speed differs. Throws RangeError if this CPU cannot run it.
 */
export function setIsa(isa: Isa): void {
  native().setIsa(isa);
}

/** Internal probes used by the benchmarks. */
export const internal = {
  /** y = a·x over the thread pool: the memory-bandwidth roofline (4 bytes read + 4 written per element). */
  scaleCopy(x: Float32Array, y: Float32Array, a: number): void {
    native().scaleCopy(x, y, a);
  },
  /**
   * Float32 FMA peak of the active ISA level, GFLOP/s, measured for about `ms` milliseconds: one thread, or
   * with `allThreads` the same kernel on every pool thread at once (their aggregate rate).
   */
  fmaPeak(ms = 50, allThreads = false): number {
    return native().fmaPeak(ms, allThreads);
  },
};
