// MultiTaskTrainer: backbone (ONNX Runtime, frozen) → shared neck (Linear + activation, optional) → one
// Linear head per task → MultiTaskLoss → multiHeadBackward with combineGradients (any method) → neck
// backward → one fused optimizer step. fit / evaluate / save / load.
import { readFileSync, writeFileSync } from 'node:fs';
import type { OnnxBackbone } from './backbone';
import type { CombineMethod, CombineOptions } from '../reduce/combine';
import { linearBackwardAsync, linearForward, linearForwardAsync, multiHeadBackwardAsync } from '../reduce/linear';
import { MultiTaskLoss, type MultiTaskState, type TaskBatch, type TaskConfig } from '../multitask/multiTaskLoss';
import { createOptimizer, decodeFloat32, encodeFloat32, type Optimizer, type OptimizerConfig, type OptimizerState } from './optim';
import { rangeError, typeError } from '../core/validate';
import type { WeightingConfig } from '../multitask/weighting';
import { mulberry32 } from '../core/random';

export interface TrainerTask extends TaskConfig {
  /** Outputs of this task's head: classes for crossEntropy, labels for BCE, values for regression. */
  outputs: number;
}

/** The neck's activation: ReLU (default), tanh, or none (a linear neck). */
export type Activation = 'relu' | 'tanh' | 'none';

/** A MultiTaskTrainer's configuration (JSON: it is saved with the model). */
export interface TrainerConfig {
  /** name → the task's loss (any catalogue loss, with its options) and its head's output count. */
  tasks: Record<string, TrainerTask>;
  /** Features per row coming in (default: the backbone's featureSize). */
  inFeatures?: number;
  /** The trainable shared layer (default { units: 32, activation: 'relu' }); null: heads sit on the features. */
  neck?: {
    /** Units of the shared layer. */
    units: number;
    /** Its activation (default 'relu'). */
    activation?: Activation;
  } | null;
  /** The MultiTaskLoss weighting strategy and its options (default { strategy: 'equal' }). */
  weighting?: WeightingConfig;
  /** How the tasks' gradients on the shared layer combine (default { method: 'sum' }). */
  combine?: Omit<CombineOptions, 'out' | 'backend' | 'state' | 'losses'>;
  /** Default { type: 'adam', lr: 0.01 }. */
  optimizer?: OptimizerConfig;
  /** Seed of the parameter init (default 0). */
  seed?: number;
  /** 'reference': every kernel in pure TypeScript (the oracle, and the bench's baseline). */
  backend?: 'native' | 'reference';
}

/** Rows of inputs with per-task targets. */
export interface Dataset {
  /** Row-major inputs: `size` rows of `rowDims` each (what the backbone takes after the batch dimension). */
  inputs: Float32Array;
  /** The dims of one row (what the backbone takes after its batch dim; the features per row without a backbone). */
  rowDims: readonly number[];
  /** Rows (N). */
  size: number;
  /** crossEntropy: Int32Array class ids (ignoreIndex −100 marks a missing label); others: Float32Array [size, outputs]. */
  targets: Record<string, Int32Array | Float32Array>;
  /** 0 where a row has no label for the task (a sample weight of 0); absent: every row labelled. */
  masks?: Record<string, Uint8Array>;
  /** Regression: the targets' standardization, so MAE / RMSE are reported in the original units. */
  scales?: Record<
    string,
    {
      /** The mean subtracted from the target. */
      mean: number;
      /** The standard deviation it was divided by. */
      std: number;
    }
  >;
}

/** One task's metrics on a dataset (classification: accuracy, macroF1; regression: mae, rmse). */
export interface TaskMetrics {
  /** Fraction of labelled rows predicted right (argmax; logit > 0 for BCE heads, averaged over labels). */
  accuracy?: number;
  /** F1 averaged over the classes present (per label for BCE heads, then averaged). */
  macroF1?: number;
  /** Mean absolute error, in the target's units when the dataset gives its scale. */
  mae?: number;
  /** Root mean squared error, in the target's units when the dataset gives its scale. */
  rmse?: number;
  /** Labelled rows counted. */
  count: number;
}

/** What `fit` reports after each step (onStep). */
export interface StepInfo {
  /** Epochs completed before this step. */
  epoch: number;
  /** The step's index within its epoch. */
  step: number;
  /** The joint loss of the step (the weighting strategy's). */
  loss: number;
  /** Each task's loss on the step's batch (unweighted). */
  taskLosses: Record<string, number>;
  /** Each task's weight this step. */
  weights: Record<string, number>;
}

/** What `fit` reports after each epoch (onEpoch) and returns per epoch. */
export interface EpochInfo {
  /** Epochs completed, this one included. */
  epoch: number;
  /** The joint loss, averaged over the epoch's steps. */
  loss: number;
  /** Each task's loss, averaged over the epoch's steps. */
  taskLosses: Record<string, number>;
  /** Each task's weight at the epoch's last step. */
  weights: Record<string, number>;
  /** On `validation`, when given. */
  metrics?: Record<string, TaskMetrics>;
}

/** Options of `MultiTaskTrainer.fit`. */
export interface FitOptions {
  /** Epochs to train (on top of those already done). */
  epochs: number;
  /** Default 32. */
  batchSize?: number;
  /** Seed of the per-epoch shuffles (default 0); false: no shuffling. */
  shuffle?: number | false;
  /** Evaluated after each epoch: EpochInfo.metrics. */
  validation?: Dataset;
  /** Called after every step. */
  onStep?: (info: StepInfo) => void;
  /** Called after every epoch. */
  onEpoch?: (info: EpochInfo) => void;
}

const IGNORE = -100;

/** The permutation of epoch `epoch` (a function of the seed and the epoch only, so resuming reshuffles alike). */
function permutation(n: number, seed: number, epoch: number): Int32Array {
  const next = mulberry32((seed * 0x9e3779b1 + epoch * 0x85ebca6b + 1) >>> 0);
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

function act(kind: Activation, z: Float32Array, a: Float32Array): void {
  if (kind === 'relu') for (let i = 0; i < z.length; i++) a[i] = z[i] > 0 ? z[i] : 0;
  else if (kind === 'tanh') for (let i = 0; i < z.length; i++) a[i] = Math.tanh(z[i]);
  else a.set(z);
}

/** g ← g ⊙ act'(z) (tanh via its output a). */
function actBackward(kind: Activation, z: Float32Array, a: Float32Array, g: Float32Array): void {
  if (kind === 'relu') for (let i = 0; i < g.length; i++) g[i] = z[i] > 0 ? g[i] : 0;
  else if (kind === 'tanh') for (let i = 0; i < g.length; i++) g[i] *= 1 - a[i] * a[i];
}

/** A trainer as `save` / `toJSON` write it: everything `load` / `fromJSON` need to resume exactly. */
/** The forward pass of neck and heads. */
export interface ForwardResult {
  /** The neck's pre-activation [B, units] (null without a neck). */
  z: Float32Array | null;
  /** The shared representation the heads read: the neck's output, or the features without a neck. */
  a: Float32Array;
  /** Each task's head outputs [B, outputs]. */
  outputs: Record<string, Float32Array>;
}

/** `gradients`' result. */
export interface TrainerGradients {
  /** The joint loss. */
  loss: number;
  /** Every parameter's gradient, by parameter name (as `params`). */
  grads: Record<string, Float32Array>;
  /** The step's losses and weights. */
  info: StepInfo;
  /** ‖gₜ‖ of each task's (weighted) gradient on the shared representation. */
  gradNorms: Record<string, number>;
}

/** A trainer as `save` / `toJSON` write it: everything `load` / `fromJSON` need to resume exactly. */
export interface SavedTrainer {
  /** The file's kind. */
  format: 'fuseloss-trainer';
  /** The format's version. */
  version: 1;
  /** The trainer's configuration. */
  config: TrainerConfig;
  /** Epochs completed. */
  epoch: number;
  /** Every parameter buffer as base64 float32 (bit-exact). */
  params: Record<string, string>;
  /** The optimizer's state (moments, step count). */
  optimizer: OptimizerState;
  /** The MultiTaskLoss weighting state. */
  weighting: MultiTaskState;
  /** The combine method's state across steps (gradvac, dbmtl). */
  combineState: Record<string, unknown>;
}

/** Trains a neck and one linear head per task on a frozen backbone (see TrainerConfig, fit, evaluate, save). */
export class MultiTaskTrainer {
  /** The configuration (a copy). */
  readonly config: TrainerConfig;
  /** name → float32 buffer: 'neck.weight' [units, inFeatures], 'neck.bias', '<task>.weight' [outputs, in], '<task>.bias'. */
  readonly params: Record<string, Float32Array> = {};
  /** The tasks, in configuration order. */
  readonly taskNames: string[];
  /** Features per row coming in (the neck's input). */
  readonly inFeatures: number;
  /** The MultiTaskLoss that weights the tasks (its state is saved with the trainer). */
  readonly loss: MultiTaskLoss;
  /** The optimizer over every parameter buffer. */
  readonly optimizer: Optimizer;
  /** Epochs completed. */
  epoch = 0;
  private readonly backbone: OnnxBackbone | null;
  private readonly hidden: number;
  private readonly activation: Activation;
  private combineState: Record<string, unknown> = {};
  private readonly lossTasks: Record<string, TaskConfig>;

  /**
   * A trainer with freshly initialised parameters (from `config.seed`).
   * @param config tasks, neck, weighting, combine, optimizer, seed.
   * @param backbone the frozen trunk (null: the dataset's rows are the features).
   */
  constructor(config: TrainerConfig, backbone: OnnxBackbone | null = null) {
    if (typeof config !== 'object' || config === null)
      throw typeError('{ tasks, neck?, weighting?, combine?, optimizer? }', 'config', config);
    if (typeof config.tasks !== 'object' || config.tasks === null || !Object.keys(config.tasks).length)
      throw typeError('an object with at least one task', 'config.tasks', config.tasks);
    this.config = JSON.parse(JSON.stringify(config)) as TrainerConfig;
    this.backbone = backbone;
    const inF = config.inFeatures ?? backbone?.featureSize;
    if (typeof inF !== 'number' || !Number.isInteger(inF) || inF < 1)
      throw rangeError('an integer >= 1 (or a backbone that states its feature size)', 'config.inFeatures', inF);
    this.inFeatures = inF;
    const neck = config.neck === undefined ? { units: 32, activation: 'relu' as Activation } : config.neck;
    if (neck !== null && (typeof neck !== 'object' || !Number.isInteger(neck.units) || neck.units < 1))
      throw rangeError('{ units: integer >= 1, activation? } or null', 'config.neck', neck);
    this.hidden = neck ? neck.units : inF;
    this.activation = neck?.activation ?? (neck ? 'relu' : 'none');
    if (!['relu', 'tanh', 'none'].includes(this.activation))
      throw typeError("'relu' | 'tanh' | 'none'", 'config.neck.activation', this.activation);
    this.taskNames = Object.keys(config.tasks);
    const next = mulberry32(config.seed ?? 0);
    const init = (name: string, n: number, fanIn: number) => {
      const bound = 1 / Math.sqrt(fanIn);
      this.params[name] = Float32Array.from({ length: n }, () => (next() * 2 - 1) * bound);
    };
    if (neck) (init('neck.weight', neck.units * inF, inF), init('neck.bias', neck.units, inF));
    for (const t of this.taskNames) {
      const o = config.tasks[t].outputs;
      if (!Number.isInteger(o) || o < 1) throw rangeError('an integer >= 1', `config.tasks.${t}.outputs`, o);
      (init(`${t}.weight`, o * this.hidden, this.hidden), init(`${t}.bias`, o, this.hidden));
    }
    this.lossTasks = Object.fromEntries(
      this.taskNames.map((t) => {
        const { outputs: _, ...loss } = config.tasks[t];
        return [t, loss];
      }),
    );
    this.loss = new MultiTaskLoss({ tasks: this.lossTasks, weighting: config.weighting, backend: config.backend ?? 'native' });
    this.optimizer = createOptimizer(this.params, {
      ...(config.optimizer ?? { type: 'adam', lr: 0.01 }),
      backend: config.backend ?? 'native',
    } as OptimizerConfig);
  }

  private get backend(): 'native' | 'reference' {
    return this.config.backend ?? 'native';
  }

  /** Features of rows [rows] of a dataset: the backbone's output, or the rows themselves. */
  private async features(data: Dataset, rows: ArrayLike<number>): Promise<Float32Array> {
    const per = data.rowDims.reduce((a, b) => a * b, 1);
    const x = new Float32Array(rows.length * per);
    for (let i = 0; i < rows.length; i++) x.set(data.inputs.subarray(rows[i] * per, rows[i] * per + per), i * per);
    if (!this.backbone) {
      if (per !== this.inFeatures) throw new RangeError(`dataset rows have ${per} values, the trainer takes ${this.inFeatures} features`);
      return x;
    }
    const f = await this.backbone.features({ data: x, dims: [rows.length, ...data.rowDims] });
    if (f.dims[1] !== this.inFeatures)
      throw new RangeError(`the backbone gives ${f.dims[1]} features per row, the trainer takes ${this.inFeatures}`);
    return f.data;
  }

  /** Forward of neck and heads on features x [B, inFeatures] (see forwardAsync). */
  forward(x: Float32Array, B: number): ForwardResult {
    const neck = this.neckShape(B);
    const z = neck ? linearForward(x, this.params['neck.weight'], this.params['neck.bias'], neck).output : null;
    const a = z ? this.activate(z) : x;
    const outputs: Record<string, Float32Array> = {};
    for (const t of this.taskNames)
      outputs[t] = linearForward(a, this.params[`${t}.weight`], this.params[`${t}.bias`], this.headShape(t, B)).output;
    return { z, a, outputs };
  }

  /** `forward` with every GEMM off the event loop (what fit, evaluate and predict use); the same bits. */
  async forwardAsync(x: Float32Array, B: number): Promise<ForwardResult> {
    const neck = this.neckShape(B);
    const z = neck ? (await linearForwardAsync(x, this.params['neck.weight'], this.params['neck.bias'], neck)).output : null;
    const a = z ? this.activate(z) : x;
    const ys = await Promise.all(
      this.taskNames.map((t) => linearForwardAsync(a, this.params[`${t}.weight`], this.params[`${t}.bias`], this.headShape(t, B))),
    );
    return { z, a, outputs: Object.fromEntries(this.taskNames.map((t, i) => [t, ys[i].output])) };
  }

  private neckShape(B: number) {
    return this.params['neck.weight'] ? { batch: B, inFeatures: this.inFeatures, outFeatures: this.hidden, backend: this.backend } : null;
  }

  private headShape(t: string, B: number) {
    return { batch: B, inFeatures: this.hidden, outFeatures: this.config.tasks[t].outputs, backend: this.backend };
  }

  private activate(z: Float32Array): Float32Array {
    const a = new Float32Array(z.length);
    act(this.activation, z, a);
    return a;
  }

  private batchOf(data: Dataset, rows: ArrayLike<number>, outputs: Record<string, Float32Array>): Record<string, TaskBatch> {
    const B = rows.length;
    const batch: Record<string, TaskBatch> = {};
    for (const t of this.taskNames) {
      const y = data.targets[t];
      if (!y) continue; // a task without labels in this dataset contributes nothing
      const C = this.config.tasks[t].outputs;
      let target: Int32Array | Float32Array;
      if (y instanceof Int32Array) target = Int32Array.from({ length: B }, (_, i) => y[rows[i]]);
      else {
        target = new Float32Array(B * C);
        for (let i = 0; i < B; i++) target.set(y.subarray(rows[i] * C, rows[i] * C + C), i * C);
      }
      const mask = data.masks?.[t];
      const item: TaskBatch = { input: outputs[t], target, shape: [B, C] };
      if (mask) item.sampleWeight = Float32Array.from({ length: B }, (_, i) => mask[rows[i]]);
      batch[t] = item;
    }
    return batch;
  }

  /**
   * The loss and every parameter's gradient on rows of a dataset, without updating the parameters, the
   * optimizer or the weighting strategy (`step` does those).
   */
  async gradients(data: Dataset, rows: ArrayLike<number>): Promise<TrainerGradients> {
    const B = rows.length;
    const x = await this.features(data, rows);
    const { z, a, outputs } = await this.forwardAsync(x, B);
    const r = await this.loss.computeAsync(this.batchOf(data, rows, outputs));
    const backend = this.backend;
    const heads = Object.fromEntries(
      Object.keys(r.grads).map((t) => [
        t,
        { weight: this.params[`${t}.weight`], gradOut: r.grads[t], outFeatures: this.config.tasks[t].outputs },
      ]),
    );
    const hasNeck = z !== null;
    const combine = this.config.combine ?? { method: 'sum' as CombineMethod };
    const mh = await multiHeadBackwardAsync(a, heads, {
      batch: B,
      inFeatures: this.hidden,
      backend,
      combine: hasNeck ? { ...combine, state: this.combineState, losses: Object.keys(r.grads).map((t) => r.taskLosses[t]) } : false,
    });
    const grads: Record<string, Float32Array> = {};
    for (const t of this.taskNames) {
      const h = mh.heads[t];
      grads[`${t}.weight`] = h ? h.gradWeight : new Float32Array(this.params[`${t}.weight`].length);
      grads[`${t}.bias`] = h?.gradBias ?? new Float32Array(this.params[`${t}.bias`].length);
    }
    if (hasNeck) {
      const g = mh.sharedGrad!;
      actBackward(this.activation, z, a, g);
      const gn = await linearBackwardAsync(x, g, null, {
        batch: B,
        inFeatures: this.inFeatures,
        outFeatures: this.hidden,
        compute: { gradInput: false },
        backend,
      });
      grads['neck.weight'] = gn.gradWeight!;
      grads['neck.bias'] = gn.gradBias!;
    }
    const info: StepInfo = {
      epoch: this.epoch,
      step: this.loss.step,
      loss: r.loss,
      taskLosses: { ...r.taskLosses },
      weights: { ...r.weights },
    };
    return { loss: r.loss, grads, info, gradNorms: mh.gradNorms };
  }

  /** One training step on rows of a dataset. */
  async step(data: Dataset, rows: ArrayLike<number>): Promise<StepInfo> {
    const { grads, info, gradNorms } = await this.gradients(data, rows);
    await this.optimizer.stepAsync(grads);
    let lossesAfter: Record<string, number> | undefined;
    if (this.loss.strategyNeeds.lossesAfterUpdate) {
      const x = await this.features(data, rows);
      const { outputs } = await this.forwardAsync(x, rows.length);
      lossesAfter = (await this.loss.computeAsync(this.batchOf(data, rows, outputs))).taskLosses;
    }
    this.loss.endStep({ weightedGradNorms: gradNorms, lossesAfter });
    return info;
  }

  /** Trains for `epochs` more epochs (shuffled per epoch from the seed and the epoch number). */
  async fit(data: Dataset, options: FitOptions): Promise<EpochInfo[]> {
    checkDataset(data, 'dataset');
    if (typeof options !== 'object' || options === null || !Number.isInteger(options.epochs) || options.epochs < 0)
      throw rangeError('{ epochs: integer >= 0, … }', 'fit options', options);
    const bs = options.batchSize ?? 32;
    if (!Number.isInteger(bs) || bs < 1) throw rangeError('an integer >= 1', 'batchSize', bs);
    const history: EpochInfo[] = [];
    for (let e = 0; e < options.epochs; e++) {
      const order =
        options.shuffle === false
          ? Int32Array.from({ length: data.size }, (_, i) => i)
          : permutation(data.size, options.shuffle ?? 0, this.epoch);
      let sum = 0,
        steps = 0,
        last: StepInfo | null = null;
      const taskSums: Record<string, number> = {};
      for (let b = 0; b < data.size; b += bs) {
        const info = await this.step(data, order.subarray(b, Math.min(b + bs, data.size)));
        info.step = steps;
        sum += info.loss;
        for (const [t, v] of Object.entries(info.taskLosses)) taskSums[t] = (taskSums[t] ?? 0) + v;
        steps++;
        last = info;
        options.onStep?.(info);
      }
      this.loss.endEpoch();
      this.epoch++;
      const ep: EpochInfo = {
        epoch: this.epoch,
        loss: sum / Math.max(1, steps),
        taskLosses: Object.fromEntries(Object.entries(taskSums).map(([t, v]) => [t, v / steps])),
        weights: last?.weights ?? {},
      };
      if (options.validation) ep.metrics = await this.evaluate(options.validation);
      history.push(ep);
      options.onEpoch?.(ep);
    }
    return history;
  }

  /** Predictions (head outputs) for every row: task → [size, outputs]. */
  async predict(data: Dataset, batchSize = 256): Promise<Record<string, Float32Array>> {
    const out = Object.fromEntries(this.taskNames.map((t) => [t, new Float32Array(data.size * this.config.tasks[t].outputs)]));
    for (let b = 0; b < data.size; b += batchSize) {
      const rows = Int32Array.from({ length: Math.min(batchSize, data.size - b) }, (_, i) => b + i);
      const { outputs } = await this.forwardAsync(await this.features(data, rows), rows.length);
      for (const t of this.taskNames) out[t].set(outputs[t], b * this.config.tasks[t].outputs);
    }
    return out;
  }

  /**
   * Per-task metrics: accuracy and macro-F1 for crossEntropy (argmax) and binary BCE-with-logits heads
   * (logit > 0; several labels: per label, averaged), MAE and RMSE for the others (in the target's units
   * when the dataset gives its scale).
   */
  async evaluate(data: Dataset): Promise<Record<string, TaskMetrics>> {
    checkDataset(data, 'dataset');
    const pred = await this.predict(data);
    const metrics: Record<string, TaskMetrics> = {};
    for (const t of this.taskNames) {
      const y = data.targets[t];
      if (!y) continue;
      const C = this.config.tasks[t].outputs,
        p = pred[t],
        mask = data.masks?.[t];
      const loss = this.config.tasks[t].loss;
      const labelled = (i: number) => !mask || mask[i] !== 0;
      if (loss === 'crossEntropy' || loss === 'nllLoss') {
        const truth: number[] = [],
          guess: number[] = [];
        for (let i = 0; i < data.size; i++) {
          const yi = (y as Int32Array)[i];
          if (yi === IGNORE || !labelled(i)) continue;
          let best = 0;
          for (let c = 1; c < C; c++) if (p[i * C + c] > p[i * C + best]) best = c;
          (truth.push(yi), guess.push(best));
        }
        metrics[t] = { ...classification(truth, guess, C), count: truth.length };
      } else if (loss === 'binaryCrossEntropyWithLogits' || loss === 'sigmoidFocalLoss') {
        let acc = 0,
          f1 = 0,
          count = 0;
        for (let c = 0; c < C; c++) {
          const truth: number[] = [],
            guess: number[] = [];
          for (let i = 0; i < data.size; i++)
            if (labelled(i)) (truth.push(y[i * C + c] >= 0.5 ? 1 : 0), guess.push(p[i * C + c] > 0 ? 1 : 0));
          const m = classification(truth, guess, 2);
          ((acc += m.accuracy), (f1 += m.macroF1), (count = truth.length));
        }
        metrics[t] = { accuracy: acc / C, macroF1: f1 / C, count };
      } else {
        const s = data.scales?.[t] ?? { mean: 0, std: 1 };
        let ae = 0,
          se = 0,
          n = 0;
        for (let i = 0; i < data.size; i++) {
          if (!labelled(i)) continue;
          for (let c = 0; c < C; c++) {
            const d = (p[i * C + c] - y[i * C + c]) * s.std;
            ((ae += Math.abs(d)), (se += d * d), n++);
          }
        }
        metrics[t] = { mae: ae / Math.max(1, n), rmse: Math.sqrt(se / Math.max(1, n)), count: n / C };
      }
    }
    return metrics;
  }

  /** Everything needed to resume: config, epoch, parameters, optimizer, weighting and combine state. */
  toJSON(): SavedTrainer {
    return {
      format: 'fuseloss-trainer',
      version: 1,
      config: this.config,
      epoch: this.epoch,
      params: Object.fromEntries(Object.entries(this.params).map(([k, v]) => [k, encodeFloat32(v)])),
      optimizer: this.optimizer.state(),
      weighting: this.loss.state(),
      combineState: JSON.parse(
        JSON.stringify(this.combineState, (_, v) =>
          v instanceof Float32Array
            ? { float32: encodeFloat32(v) }
            : v instanceof Float64Array
              ? { float64: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') }
              : v,
        ),
      ),
    };
  }

  /** Writes `toJSON()` to a file. */
  save(path: string): void {
    writeFileSync(path, JSON.stringify(this.toJSON()));
  }

  /** A trainer from `toJSON()`'s object, resuming exactly (parameters, optimizer, weighting, combine state, epoch). */
  static fromJSON(saved: SavedTrainer, backbone: OnnxBackbone | null = null): MultiTaskTrainer {
    if (typeof saved !== 'object' || saved === null || saved.format !== 'fuseloss-trainer' || saved.version !== 1)
      throw typeError('a saved fuseloss trainer (format fuseloss-trainer, version 1)', 'saved', saved);
    const tr = new MultiTaskTrainer(saved.config, backbone);
    for (const [k, v] of Object.entries(tr.params)) {
      const a = decodeFloat32(saved.params[k], `params.${k}`);
      if (a.length !== v.length) throw rangeError(`${v.length} elements`, `params.${k}`, a);
      v.set(a);
    }
    tr.optimizer.loadState(saved.optimizer);
    (tr as { loss: MultiTaskLoss }).loss = MultiTaskLoss.fromState(
      { tasks: tr.lossTasks, weighting: saved.config.weighting, backend: saved.config.backend ?? 'native' },
      saved.weighting,
    );
    tr.epoch = saved.epoch;
    tr.combineState = reviveCombineState(saved.combineState);
    return tr;
  }

  /** A trainer from a file `save` wrote (see fromJSON). */
  static load(path: string, backbone: OnnxBackbone | null = null): MultiTaskTrainer {
    return MultiTaskTrainer.fromJSON(JSON.parse(readFileSync(path, 'utf8')) as SavedTrainer, backbone);
  }
}

/** The combine state as saved (typed arrays of dbmtl's buffers were written as base64). */
function reviveCombineState(s: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(s ?? {}), (_, v) => {
    if (v && typeof v === 'object' && typeof v.float32 === 'string') return decodeFloat32(v.float32, 'combineState');
    if (v && typeof v === 'object' && typeof v.float64 === 'string') {
      const b = Buffer.from(v.float64, 'base64');
      const out = new Float64Array(b.length / 8);
      new Uint8Array(out.buffer).set(b);
      return out;
    }
    return v;
  }) as Record<string, unknown>;
}

function classification(truth: number[], guess: number[], C: number): { accuracy: number; macroF1: number } {
  let correct = 0;
  const tp = new Float64Array(C),
    fp = new Float64Array(C),
    fn = new Float64Array(C);
  for (let i = 0; i < truth.length; i++) {
    if (truth[i] === guess[i]) (correct++, tp[truth[i]]++);
    else (fp[guess[i]]++, fn[truth[i]]++);
  }
  let f1 = 0,
    present = 0;
  for (let c = 0; c < C; c++) {
    if (tp[c] + fn[c] === 0 && fp[c] === 0) continue; // a class absent from truth and predictions
    present++;
    const d = 2 * tp[c] + fp[c] + fn[c];
    f1 += d ? (2 * tp[c]) / d : 0;
  }
  return { accuracy: truth.length ? correct / truth.length : NaN, macroF1: present ? f1 / present : NaN };
}

function checkDataset(d: Dataset, name: string): void {
  if (typeof d !== 'object' || d === null || !(d.inputs instanceof Float32Array) || !Array.isArray(d.rowDims) || !Number.isInteger(d.size))
    throw typeError('{ inputs: Float32Array, rowDims, size, targets }', name, d);
  const per = d.rowDims.reduce((a, b) => a * b, 1);
  if (d.inputs.length !== d.size * per)
    throw new RangeError(`${name}.inputs: expected ${d.size} rows × ${per} = ${d.size * per} values, got ${d.inputs.length}`);
}
