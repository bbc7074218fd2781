// MultiTaskLoss: the joint loss L = Σ wₜ·Lₜ of several task heads, every task's loss and weighted gradient
// in one native call (all tasks' chunks share the thread pool), with a weighting strategy and its state.
import { cudaNative, native } from '../backends/binding';
import { type DeviceBuffer, holding, isDeviceBuffer, toNativeArgs } from '../backends/device';
import {
  type CrossEntropyPlan,
  nativeArgs as ceNativeArgs,
  plan as planCrossEntropy,
  planReference as planCrossEntropyReference,
} from '../losses/crossEntropy';
import { elementwiseNativeArgs, type ElementwisePlan, planElementwise } from '../losses/elementwise';
import { type ElementwiseSpec, LOSSES, type LossSpec } from '../losses/ops';
import { elementwiseReference } from '../backends/reference/elementwise';
import { nllLossReference } from '../backends/reference/nllLoss';
import { rowLossReference } from '../backends/reference/rowwise';
import { planRows, rowNativeArgs, type RowPlan } from '../losses/rowwise';
import type { FloatInput } from '../core/tensor';
import { overlaps, scalarOption, typeError } from '../core/validate';
import {
  type EndStepInfo,
  makeStrategy,
  type StepWeights,
  type Strategy,
  type StrategyName,
  type StrategyNeeds,
  strategyNeeds,
  type UncertaintyForm,
  type WeightingConfig,
} from './weighting';
import { floatArrayOption } from '../losses/outputs';

export type { WeightingConfig, EndStepInfo, StrategyName, StrategyNeeds, UncertaintyForm } from './weighting';
export { STRATEGIES } from './weighting';

/** A task: its loss (any function of the catalogue) and that loss's options. */
export interface TaskConfig {
  /** The task's loss: any function of the catalogue by name ('crossEntropy', 'huberLoss', …); its options sit beside it. */
  loss: string;
  /** The uncertainty strategy's form for this task (default 'regression'). */
  uncertainty?: UncertaintyForm;
  [option: string]: unknown;
}

/** A MultiTaskLoss's configuration. */
export interface MultiTaskConfig {
  /** name → the task's loss and that loss's options (PyTorch's names). */
  tasks: Readonly<Record<string, TaskConfig>>;
  /** The weighting strategy and its options (default { strategy: 'equal' }). */
  weighting?: WeightingConfig;
  /**
   * 'native' (the CPU addon, one call per step), 'cuda' (the GPU, one call per step, every loss of the catalogue;
   * host arrays staged in and out, or DeviceBuffers whose gradients stay on the GPU in `deviceGrads`) or
   * 'reference' (pure TypeScript, task by task).
   */
  backend?: 'native' | 'reference' | 'cuda';
}

/** One task's data for a step. */
export interface TaskBatch {
  /** The task head's output: a Float32Array (with `shape`), a float32 tensor, or (backend 'cuda') a float32 DeviceBuffer (with `shape`). */
  input: FloatInput | DeviceBuffer<'float32'>;
  /** The task's target, as its loss takes it (class ids, labels, values; a DeviceBuffer with backend 'cuda'). */
  target: unknown;
  /** cosineEmbeddingLoss: the second input. */
  input2?: FloatInput;
  /** Dims of a plain Float32Array input. */
  shape?: readonly number[];
  /** Per-sample weight, length = the first dim (0 masks a sample without a label). */
  sampleWeight?: Float32Array | readonly number[] | DeviceBuffer<'float32'> | null;
  /** Preallocated gradients. */
  out?: {
    /** d(loss)/d(input), the input's shape. Default: a new array (a new DeviceBuffer when the input is one). */
    grad?: Float32Array | DeviceBuffer<'float32'>;
    /** cosineEmbeddingLoss: d(loss)/d(input2). Default: a new array. */
    grad2?: Float32Array;
  };
  /** Write the gradient over the input. */
  inplace?: boolean;
}

/** Options of one `compute` call. */
export interface ComputeOptions {
  /** Multiplies every gradient (e.g. 1 / accumulation steps); the losses are not scaled. */
  gradScale?: number;
}

/** What `compute` returns. */
export interface MultiTaskResult {
  /** The joint loss the strategy defines (Σ wₜ·Lₜ for the linear strategies). */
  loss: number;
  /** Each contributing task's loss Lₜ (its own reduction, unweighted). */
  taskLosses: Record<string, number>;
  /** The weight applied to each contributing task's gradient (dL/dLₜ). */
  weights: Record<string, number>;
  /** d(loss)/d(input) of every task in the batch with a host input, already weighted (zeros for a fully masked task). */
  grads: Record<string, Float32Array>;
  /** The same for tasks whose input is a DeviceBuffer (backend 'cuda'): their gradients stay on the GPU. */
  deviceGrads: Record<string, DeviceBuffer<'float32'>>;
  /** cosineEmbeddingLoss tasks: the gradient of the second input. */
  grads2: Record<string, Float32Array>;
  /** The same for cosineEmbeddingLoss tasks whose inputs are DeviceBuffers (backend 'cuda'). */
  deviceGrads2: Record<string, DeviceBuffer<'float32'>>;
  /** Tasks that contributed, in configuration order. */
  tasks: string[];
  /** Tasks absent from the batch or fully masked (no element, every target ignored): no contribution. */
  skipped: string[];
  /** uncertainty: dL/dsₜ of each contributing task's log-variance. */
  logVarGrads?: Record<string, number>;
}

/** A JSON-serialisable snapshot for checkpoints (MultiTaskLoss.fromState resumes from it exactly). */
export interface MultiTaskState {
  /** The format's version. */
  version: 1;
  /** The weighting strategy it was saved with. */
  strategy: StrategyName;
  /** The tasks, in configuration order. */
  tasks: string[];
  /** Steps ended (`endStep` calls). */
  step: number;
  /** Epochs ended (`endEpoch` calls). */
  epoch: number;
  /** The strategy's own state (log-variances, optimizer moments, loss histories, generator state…). */
  params: Record<string, unknown>;
}

// Native family codes (native/include/fuseloss/multi_task.h).
/** The native task family codes (native/include/fuseloss/multi_task.h, TaskFamily; test/losses/nativeCodes.test.ts checks them). */
export const FAMILY = {
  crossEntropy: 0,
  nllLoss: 1,
  elementwise: 2,
  multiMarginLoss: 3,
  multilabelSoftMarginLoss: 4,
  cosineEmbeddingLoss: 5,
  softF1Loss: 6,
  cosineDistance: 7,
} as const;
/** Options that belong to a step's data, not to the task's configuration. */
const PER_BATCH = new Set(['shape', 'sampleWeight', 'out', 'inplace', 'backend', 'gradOutput']);
const BATCH_KEYS = new Set(['input', 'target', 'input2', 'shape', 'sampleWeight', 'out', 'inplace']);

interface Setup {
  name: string;
  spec: LossSpec;
  family: number;
  options: Record<string, unknown>;
}

type Planned =
  | { i: number; kind: 'ce' | 'nll'; plan: CrossEntropyPlan }
  | { i: number; kind: 'ew'; plan: ElementwisePlan }
  | { i: number; kind: 'row'; plan: RowPlan };

interface Prepared {
  planned: Planned[];
  weights: StepWeights;
}

function prefixed(e: unknown, task: string): unknown {
  if (e instanceof TypeError) return new TypeError(`tasks.${task}: ${e.message}`);
  if (e instanceof RangeError) return new RangeError(`tasks.${task}: ${e.message}`);
  return e;
}

function setupTask(name: string, cfg: unknown): Setup {
  if (typeof cfg !== 'object' || cfg === null) throw typeError('{ loss, …options }', `tasks.${name}`, cfg);
  const { loss, uncertainty: _form, ...options } = cfg as TaskConfig;
  const spec = LOSSES.find((s) => s.name === loss);
  if (!spec) throw typeError(`a loss of the catalogue (${LOSSES.map((s) => s.name).join(', ')})`, `tasks.${name}.loss`, loss);
  for (const k of Object.keys(options)) {
    if (options[k] === undefined) continue;
    if (PER_BATCH.has(k))
      throw new TypeError(
        `tasks.${name}.${k}: '${k}' belongs to a step's data (compute({ ${name}: { ${k} } })), not to the task's configuration`,
      );
    if (!spec.options.some((o) => o.name === k))
      throw new TypeError(
        `Unknown option '${k}' for tasks.${name} (${spec.name}); expected one of: ${spec.options
          .filter((o) => !PER_BATCH.has(o.name))
          .map((o) => o.name)
          .join(', ')}`,
      );
  }
  try {
    for (const o of spec.options) {
      if (options[o.name] === undefined) continue;
      if (o.type === 'float32') floatArrayOption(options[o.name], `${spec.name}.${o.name}`);
      else if (o.type !== 'shape' && o.type !== 'outputs') scalarOption(options, spec, o.name);
    }
  } catch (e) {
    throw prefixed(e, name);
  }
  // A task needs a scalar loss: losses whose own default is 'none' (sigmoidFocalLoss) default to 'mean' here.
  if (options.reduction === undefined && spec.options.find((o) => o.name === 'reduction')?.default === 'none') options.reduction = 'mean';
  if (options.reduction === 'none')
    throw new TypeError(`tasks.${name}.reduction: 'none' has no scalar loss to weight; use 'mean' or 'sum'`);
  const family = spec.name in FAMILY ? FAMILY[spec.name as keyof typeof FAMILY] : FAMILY.elementwise;
  return { name, spec, family, options };
}

function uncertaintyForm(name: string, cfg: TaskConfig): UncertaintyForm {
  const f = cfg.uncertainty ?? 'regression';
  if (f !== 'regression' && f !== 'classification') throw typeError("'regression' | 'classification'", `tasks.${name}.uncertainty`, f);
  return f;
}

function planTask(s: Setup, i: number, item: TaskBatch, gradScale: number): Planned {
  // (Built by a loop: an object spread followed by more keys is ~100x slower in V8 and this runs every step.)
  const opts: Record<string, unknown> = {
    gradScale,
    shape: item.shape,
    sampleWeight: item.sampleWeight,
    out: item.out,
    inplace: item.inplace,
  };
  for (const k in s.options) if (k !== 'gradScale') opts[k] = s.options[k];
  const spec = s.spec;
  if (s.family !== FAMILY.cosineEmbeddingLoss && item.input2 !== undefined) throw new TypeError(`input2 is only for cosineEmbeddingLoss`);
  switch (s.family) {
    case FAMILY.crossEntropy:
    case FAMILY.nllLoss:
      if (item.out?.grad2 !== undefined) throw new TypeError(`out.grad2 is only for cosineEmbeddingLoss`);
      {
        const plan = planCrossEntropy(item.input as FloatInput, item.target as never, opts, spec);
        const e = plan.extras;
        if (e && (e.returnZLoss || e.lse || e.returnAccuracy))
          throw new TypeError(
            `tasks: returnZLoss, returnLse and returnAccuracy are for crossEntropy calls; a MultiTaskLoss task takes lseSquareScale and softcap`,
          );
        return { i, kind: s.family === FAMILY.crossEntropy ? 'ce' : 'nll', plan };
      }
    case FAMILY.elementwise:
      if (item.out?.grad2 !== undefined) throw new TypeError(`out.grad2 is only for cosineEmbeddingLoss`);
      return { i, kind: 'ew', plan: planElementwise(spec as ElementwiseSpec, item.input as FloatInput, item.target as never, opts) };
    default:
      if (s.family === FAMILY.cosineEmbeddingLoss && item.input2 === undefined) throw typeError('a Float32Array', 'input2', undefined);
      return { i, kind: 'row', plan: planRows(spec, item.input as FloatInput, item.target as never, opts, item.input2) };
  }
}

function gradsOf(p: Planned): Float32Array[] {
  if (p.kind === 'row') return p.plan.grad2 ? [p.plan.grad, p.plan.grad2] : [p.plan.grad];
  return [p.plan.grad];
}

function arraysOf(p: Planned): ArrayBufferView[] {
  const q = p.plan.problem as unknown as Record<string, unknown>;
  return Object.values(q).filter((v): v is ArrayBufferView => ArrayBuffer.isView(v));
}

function checkClassIds(p: Planned): void {
  let ids: Int32Array | null = null,
    c = 0,
    ignore: number | null = null;
  if ((p.kind === 'ce' || p.kind === 'nll') && p.plan.problem.target instanceof Int32Array)
    ((ids = p.plan.problem.target), (c = p.plan.problem.c), (ignore = p.plan.problem.ignoreIndex));
  else if (p.kind === 'row' && p.plan.problem.targetIndex) ((ids = p.plan.problem.targetIndex), (c = p.plan.problem.c));
  if (!ids) return;
  for (let k = 0; k < ids.length; k++) {
    const y = ids[k];
    if (y !== ignore && !(y >= 0 && y < c))
      throw new RangeError(`target[${k}] = ${y}: expected a class id in [0, ${c})${ignore === null ? '' : ` or ignoreIndex (${ignore})`}`);
  }
}

/** A task computed alone contributes nothing when no sample counts (the native core's test, in TS). */
function isEmpty(p: Planned): boolean {
  if (p.kind === 'ew') return p.plan.problem.numel === 0;
  if (p.kind === 'row') return p.plan.problem.n === 0;
  const q = p.plan.problem;
  if (q.n * q.s === 0) return true;
  if (!(q.target instanceof Int32Array)) return false;
  let w = 0;
  for (let k = 0; k < q.target.length; k++) {
    const y = q.target[k];
    if (y !== q.ignoreIndex) w += q.weight ? q.weight[y] : 1;
  }
  return w === 0;
}

/** Appends a task's native arguments: family, argument count, the family's positional arguments. */
function pushNativeTask(flat: unknown[], p: Planned): void {
  let family: number, args: readonly unknown[];
  switch (p.kind) {
    case 'ce':
      ((family = FAMILY.crossEntropy), (args = ceNativeArgs(p.plan)));
      break;
    case 'nll':
      ((family = FAMILY.nllLoss), (args = ceNativeArgs(p.plan)));
      break;
    case 'ew':
      ((family = FAMILY.elementwise), (args = elementwiseNativeArgs(p.plan)));
      break;
    default:
      ((family = FAMILY[p.plan.problem.name]), (args = rowNativeArgs(p.plan)));
  }
  flat.push(family, args.length);
  for (const a of args) flat.push(a);
}

function referenceTask(p: Planned): number {
  switch (p.kind) {
    case 'ce':
      return planCrossEntropyReference(p.plan, null);
    case 'nll':
      return nllLossReference(p.plan.problem, p.plan.grad, null);
    case 'ew':
      return elementwiseReference(p.plan.problem, p.plan.grad, null);
    default:
      return rowLossReference(p.plan.problem, p.plan.grad, p.plan.grad2, null);
  }
}

/** The loss-dependent weight rules (1, 2), as the native core computes them. */
function ruleWeights(sw: StepWeights, L: Float64Array, empty: Uint8Array, idx: readonly number[]): number[] {
  const w = idx.map(() => 0);
  if (sw.rule === 1) {
    let logSum = 0,
      count = 0;
    idx.forEach((_, k) => {
      if (!empty[k]) ((logSum += Math.log(L[k])), count++);
    });
    const g = count ? Math.exp(logSum / count) : 0;
    idx.forEach((_, k) => {
      if (!empty[k]) w[k] = g / (count * L[k]);
    });
  } else if (sw.rule === 2) {
    let norm = 0;
    idx.forEach((t, k) => {
      if (empty[k]) return;
      w[k] = sw.coef[t] / (L[k] - sw.offset[t] + sw.eps);
      norm += w[k];
    });
    if (sw.normalize)
      idx.forEach((_, k) => {
        if (!empty[k]) w[k] /= norm;
      });
  }
  return w;
}

/** Many task heads' losses in one native call per step, weighted by a strategy (static, uncertainty, DWA, GradNorm, FAMO, …) whose state it keeps. */
export class MultiTaskLoss {
  /** Task names in configuration order. */
  readonly taskNames: readonly string[];
  private readonly nameSet: ReadonlySet<string>;
  /** compute's native results (losses, weights, empty flags; 3 per task), reused: finish copies them out. */
  private readonly syncOut: Float64Array;
  /** The weighting strategy. */
  readonly strategy: StrategyName;
  /** What the weighting strategy needs from the training loop (its registry entry): losses after the update, gradient norms. */
  readonly strategyNeeds: StrategyNeeds;
  private readonly setups: Setup[];
  private readonly weighting: Strategy;
  private readonly backend: 'native' | 'reference' | 'cuda';
  private steps = 0;
  private epochs = 0;

  /** Validates the config (every task's loss and options) and sets up the strategy's state. */
  constructor(config: MultiTaskConfig) {
    if (typeof config !== 'object' || config === null) throw typeError('{ tasks, weighting? }', 'MultiTaskLoss config', config);
    for (const k of Object.keys(config))
      if (!['tasks', 'weighting', 'backend'].includes(k))
        throw new TypeError(`Unknown key '${k}' in the MultiTaskLoss config; expected tasks, weighting, backend`);
    const tasks = config.tasks;
    if (typeof tasks !== 'object' || tasks === null || Object.keys(tasks).length === 0)
      throw typeError('an object with at least one task', 'tasks', tasks);
    this.taskNames = Object.keys(tasks);
    this.nameSet = new Set(this.taskNames);
    this.syncOut = new Float64Array(3 * this.taskNames.length);
    this.setups = this.taskNames.map((n) => setupTask(n, tasks[n]));
    const forms = this.taskNames.map((n) => uncertaintyForm(n, tasks[n]));
    this.weighting = makeStrategy(config.weighting, this.taskNames, forms);
    this.strategy = this.weighting.name;
    this.strategyNeeds = strategyNeeds(this.strategy);
    const backend = config.backend ?? 'native';
    if (backend !== 'native' && backend !== 'reference' && backend !== 'cuda')
      throw typeError("'native' | 'reference' | 'cuda'", 'backend', backend);
    this.backend = backend;
  }

  /** A MultiTaskLoss in the state `state()` returned (same config): resumes exactly. */
  static fromState(config: MultiTaskConfig, state: MultiTaskState): MultiTaskLoss {
    const m = new MultiTaskLoss(config);
    if (typeof state !== 'object' || state === null || state.version !== 1)
      throw typeError('a MultiTaskLoss state (version 1)', 'state', state);
    if (state.strategy !== m.strategy)
      throw new TypeError(`state: saved with the '${state.strategy}' strategy, the config has '${m.strategy}'`);
    if (!Array.isArray(state.tasks) || state.tasks.join('\u0000') !== m.taskNames.join('\u0000'))
      throw new TypeError(`state: saved for tasks [${String(state.tasks)}], the config has [${m.taskNames.join(', ')}]`);
    if (!Number.isInteger(state.step) || !Number.isInteger(state.epoch) || state.step < 0 || state.epoch < 0)
      throw typeError('non-negative integers step and epoch', 'state', state);
    if (typeof state.params !== 'object' || state.params === null) throw typeError('an object', 'state.params', state.params);
    m.weighting.load(state.params);
    m.steps = state.step;
    m.epochs = state.epoch;
    return m;
  }

  /** JSON-serialisable snapshot: strategy parameters, loss history, RNG, optimizer moments, counters. */
  state(): MultiTaskState {
    return JSON.parse(
      JSON.stringify({
        version: 1,
        strategy: this.strategy,
        tasks: [...this.taskNames],
        step: this.steps,
        epoch: this.epochs,
        params: this.weighting.params(),
      }),
    ) as MultiTaskState;
  }

  /** Steps and epochs ended so far. */
  get step(): number {
    return this.steps;
  }
  /** Epochs ended so far. */
  get epoch(): number {
    return this.epochs;
  }

  /** The weights the next compute applies (linear strategies); null for loss-dependent ones (gls, famo, dbmtl). */
  currentWeights(): Record<string, number> | null {
    const sw = this.weighting.stepWeights();
    if (sw.rule !== 0) return null;
    return Object.fromEntries(this.taskNames.map((n, i) => [n, sw.w[i]]));
  }

  /** Ends a training step: strategies that learn or redraw per step advance (see the README's table). */
  endStep(info?: EndStepInfo): void {
    if (info !== undefined && (typeof info !== 'object' || info === null))
      throw typeError('{ gradNorms?, lossesAfter? }', 'endStep info', info);
    this.weighting.endStep(info);
    this.steps++;
  }

  /** Ends an epoch (dwa turns the epoch's average losses into its next weights). */
  endEpoch(): void {
    this.weighting.endEpoch();
    this.epochs++;
  }

  /** Every task's loss and weighted gradient in one native call. */
  compute(batch: Readonly<Record<string, TaskBatch | undefined | null>>, options?: ComputeOptions): MultiTaskResult {
    const p = this.prepare(batch, options);
    if (this.backend === 'reference') return this.finish(p, ...this.runReference(p));
    const out = this.syncOut.subarray(0, 3 * p.planned.length);
    try {
      if (this.backend === 'cuda') cudaNative().multiTask(...toNativeArgs(this.nativeCall(p, out)));
      else native().multiTask(...this.nativeCall(p, out));
    } catch (e) {
      throw this.nativeError(p, e);
    }
    return this.finishNative(p, out);
  }

  /** compute on a worker thread; do not touch the batch's arrays until the promise settles. */
  async computeAsync(batch: Readonly<Record<string, TaskBatch | undefined | null>>, options?: ComputeOptions): Promise<MultiTaskResult> {
    const p = this.prepare(batch, options);
    if (this.backend === 'reference') return this.finish(p, ...this.runReference(p));
    const out = new Float64Array(3 * p.planned.length);
    try {
      const args = this.nativeCall(p, out);
      if (this.backend === 'cuda') await holding(args, () => cudaNative().multiTaskAsync(...toNativeArgs(args)));
      else await native().multiTaskAsync(...args);
    } catch (e) {
      throw this.nativeError(p, e);
    }
    return this.finishNative(p, out);
  }

  private prepare(batch: Readonly<Record<string, TaskBatch | undefined | null>>, options: ComputeOptions | undefined): Prepared {
    if (typeof batch !== 'object' || batch === null) throw typeError('an object keyed by task', 'batch', batch);
    // (for-in and a Set: no key array per step; this runs every step)
    for (const k in batch)
      if (Object.hasOwn(batch, k) && !this.nameSet.has(k))
        throw new TypeError(`Unknown task '${k}' in the batch; expected ${this.taskNames.join(', ')}`);
    let g = 1;
    if (options !== undefined) {
      if (typeof options !== 'object' || options === null) throw typeError('{ gradScale? }', 'compute options', options);
      for (const k of Object.keys(options)) if (k !== 'gradScale') throw new TypeError(`Unknown compute option '${k}'; expected gradScale`);
      if (options.gradScale !== undefined) {
        if (typeof options.gradScale !== 'number' || !Number.isFinite(options.gradScale))
          throw typeError('a finite number', 'gradScale', options.gradScale);
        g = options.gradScale;
      }
    }
    const weights = this.weighting.stepWeights();
    const planned: Planned[] = [];
    this.setups.forEach((s, i) => {
      const item = batch[s.name];
      if (item === undefined || item === null) return;
      try {
        if (typeof item !== 'object') throw typeError('{ input, target, … }', 'batch entry', item);
        for (const k in item)
          if (Object.hasOwn(item, k) && !BATCH_KEYS.has(k))
            throw new TypeError(`Unknown key '${k}' in the batch entry; expected ${[...BATCH_KEYS].join(', ')}`);
        const own = s.options.gradScale === undefined ? 1 : (s.options.gradScale as number);
        planned.push(planTask(s, i, item, own * g * (weights.rule === 0 ? weights.w[i] : 1)));
      } catch (e) {
        throw prefixed(e, s.name);
      }
    });
    if (this.backend !== 'cuda')
      for (const t of planned)
        if (t.plan.backend === 'cuda')
          // the planners pick 'cuda' when an array is a DeviceBuffer
          throw new TypeError(
            `tasks.${this.taskNames[t.i]}: DeviceBuffer arguments live on the GPU; they need the config's backend 'cuda' (this MultiTaskLoss has '${this.backend}')`,
          );
    // Tasks run side by side: a task's gradient must not overlap another task's arrays (the native core
    // checks this itself before writing; the reference checks here).
    if (this.backend === 'reference')
      for (const a of planned)
        for (const b of planned) {
          if (a === b) continue;
          for (const g1 of gradsOf(a))
            for (const other of [...arraysOf(b), ...gradsOf(b)])
              if (overlaps(g1, other))
                throw new RangeError(`tasks.${this.taskNames[a.i]}: its gradient overlaps an array of task '${this.taskNames[b.i]}'`);
        }
    return { planned, weights };
  }

  /** The core names tasks by their position in the call; the user knows them by name. */
  private nativeError(p: Prepared, e: unknown): unknown {
    if (!(e instanceof Error)) return e;
    const named = e.message.replace(/tasks\[(\d+)\]/g, (m, k: string) => {
      const t = p.planned[Number(k)];
      return t ? `tasks.${this.taskNames[t.i]}` : m;
    });
    if (e instanceof TypeError) return new TypeError(named);
    if (e instanceof RangeError) return new RangeError(named);
    return e;
  }

  private nativeCall(p: Prepared, out: Float64Array) {
    const sw = p.weights;
    const coef = sw.rule === 2 ? Float64Array.from(p.planned, (t) => sw.coef[t.i]) : null;
    const offset = sw.rule === 2 ? Float64Array.from(p.planned, (t) => sw.offset[t.i]) : null;
    const flat: unknown[] = [sw.rule, coef, offset, sw.rule === 2 ? sw.eps : 0, sw.rule === 2 && sw.normalize, out, p.planned.length];
    for (const t of p.planned) pushNativeTask(flat, t);
    return flat;
  }

  /** out: the native call's [losses, weights after, empty flags], k each (read in place, not copied). */
  private finishNative(p: Prepared, out: Float64Array): MultiTaskResult {
    const k = p.planned.length;
    return this.finish(p, out, out.subarray(k, 2 * k), out.subarray(2 * k, 3 * k));
  }

  /** The same computation task by task in TypeScript: empty tasks zeroed, rule weights applied after. */
  private runReference(p: Prepared): [Float64Array, Float64Array, ArrayLike<number>] {
    // Every check before anything is written, as the native core does: class ids are the one thing the
    // planners leave to the kernels.
    for (const t of p.planned) {
      try {
        checkClassIds(t);
      } catch (e) {
        throw prefixed(e, this.taskNames[t.i]);
      }
    }
    const k = p.planned.length;
    const L = new Float64Array(k),
      W = new Float64Array(k).fill(1),
      empty = new Uint8Array(k);
    p.planned.forEach((t, j) => {
      if (isEmpty(t)) {
        empty[j] = 1;
        W[j] = 0;
        for (const g of gradsOf(t)) g.fill(0);
      } else {
        L[j] = referenceTask(t);
      }
    });
    if (p.weights.rule !== 0) {
      const w = ruleWeights(
        p.weights,
        L,
        empty,
        p.planned.map((t) => t.i),
      );
      p.planned.forEach((t, j) => {
        if (empty[j]) return;
        W[j] = w[j];
        for (const g of gradsOf(t)) for (let e = 0; e < g.length; e++) g[e] = Math.fround(g[e] * w[j]);
      });
    }
    return [L, W, empty];
  }

  private finish(p: Prepared, losses: ArrayLike<number>, after: ArrayLike<number>, empty: ArrayLike<number>): MultiTaskResult {
    const T = this.taskNames.length;
    const L = new Float64Array(T),
      w = new Float64Array(T);
    const used = new Array<boolean>(T).fill(false);
    const r: MultiTaskResult = {
      loss: 0,
      taskLosses: {},
      weights: {},
      grads: {},
      deviceGrads: {},
      grads2: {},
      deviceGrads2: {},
      tasks: [],
      skipped: [],
    };
    p.planned.forEach((t, j) => {
      const name = this.taskNames[t.i];
      if (isDeviceBuffer(t.plan.grad)) r.deviceGrads[name] = t.plan.grad as DeviceBuffer<'float32'>;
      else r.grads[name] = t.plan.grad;
      if (t.kind === 'row' && t.plan.grad2) {
        if (isDeviceBuffer(t.plan.grad2)) r.deviceGrads2[name] = t.plan.grad2 as DeviceBuffer<'float32'>;
        else r.grads2[name] = t.plan.grad2;
      }
      if (empty[j]) return;
      used[t.i] = true;
      L[t.i] = losses[j];
      w[t.i] = p.weights.rule === 0 ? p.weights.w[t.i] : after[j];
    });
    for (let i = 0; i < T; i++) {
      const name = this.taskNames[i];
      if (!used[i]) {
        r.skipped.push(name);
        continue;
      }
      r.tasks.push(name);
      r.taskLosses[name] = L[i];
      r.weights[name] = w[i];
    }
    r.loss = this.weighting.joint(L, w, used);
    Object.assign(r, this.weighting.observe(L, w, used));
    return r;
  }
}
