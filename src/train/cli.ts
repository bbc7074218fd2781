// `fuseloss train`: multi-task training of heads on a frozen ONNX backbone, on a real table — the Palmer
// penguins of vega-datasets by default (species: cross-entropy, sex: BCE with logits, body mass: Huber).
// Prints a progress bar and a per-epoch table, and writes a JSON log, an SVG chart of the loss curves and
// task weights, and the trained model (heads, optimizer and weighting state) into --out.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OnnxBackbone } from './backbone';
import { lineCharts } from './chart';
import { COMBINE_METHODS, type CombineMethod } from '../reduce/combine';
import { PENGUINS_CONFIG, penguinsRows, prepareTable, readTable, type TableConfig } from './data';
import { fmtNumber } from '../core/format';
import { STRATEGIES } from '../multitask/multiTaskLoss';
import { type EpochInfo, MultiTaskTrainer, type TaskMetrics } from './trainer';
import type { StrategyName } from '../multitask/weighting';

/** The usage text of `fuseloss train`. */
export const USAGE = `usage: fuseloss train [options]
  --epochs N           epochs (default 40)
  --weighting NAME     loss weighting: ${STRATEGIES.join(', ')} (default uncertainty)
  --combine NAME       task-gradient combination on the shared layer: ${COMBINE_METHODS.join(', ')} (default sum)
  --model PATH|none    ONNX backbone (default: the package's models/mlp_encoder.onnx for the penguins;
                       none with --data unless given)
  --output NAME        the model output to use as features (default: its first float output)
  --data PATH          a CSV or JSON table instead of the penguins; needs --config
  --config PATH        JSON: { features: [cols], categorical?: [cols], tasks: { name: { column, type:
                       "class" | "binary" | "regression", positive?, loss?, options? } } }
  --batch-size N       (default 32)   --lr X (Adam, default 0.01)   --seed N (default 0)
  --neck N             shared layer units (default 32; 0: heads on the features)
  --out DIR            where the log, chart and model go (default fuseloss-train-out)
  --quiet              no progress bar`;

/** Where the command writes: stdout lines, stderr text, and whether stderr is a terminal. */
export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  tty: boolean;
}

function parse(argv: string[]) {
  const o: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'\n${USAGE}`);
    const k = a.slice(2);
    if (k === 'quiet' || k === 'help') o[k] = true;
    else {
      if (i + 1 >= argv.length) throw new Error(`--${k} needs a value\n${USAGE}`);
      o[k] = argv[++i];
    }
  }
  const known = [
    'epochs',
    'weighting',
    'combine',
    'model',
    'output',
    'data',
    'config',
    'batch-size',
    'lr',
    'seed',
    'neck',
    'out',
    'quiet',
    'help',
  ];
  for (const k of Object.keys(o)) if (!known.includes(k)) throw new Error(`unknown option --${k}\n${USAGE}`);
  const int = (k: string, d: number, lo: number) => {
    const v = o[k] === undefined ? d : Number(o[k]);
    if (!Number.isInteger(v) || v < lo) throw new Error(`--${k}: expected an integer >= ${lo}, got ${o[k]}`);
    return v;
  };
  const weighting = (o.weighting as string | undefined) ?? 'uncertainty';
  if (!(STRATEGIES as readonly string[]).includes(weighting))
    throw new Error(`--weighting: expected one of ${STRATEGIES.join(', ')}, got ${weighting}`);
  const combine = (o.combine as string | undefined) ?? 'sum';
  if (!(COMBINE_METHODS as readonly string[]).includes(combine))
    throw new Error(`--combine: expected one of ${COMBINE_METHODS.join(', ')}, got ${combine}`);
  const lr = o.lr === undefined ? 0.01 : Number(o.lr);
  if (!(lr > 0)) throw new Error(`--lr: expected a number > 0, got ${o.lr}`);
  if (o.data !== undefined && o.config === undefined)
    throw new Error('--data needs --config (which columns are features and which are tasks)');
  return {
    epochs: int('epochs', 40, 0),
    batchSize: int('batch-size', 32, 1),
    seed: int('seed', 0, 0),
    neck: int('neck', 32, 0),
    lr,
    weighting: weighting as StrategyName,
    combine: combine as CombineMethod,
    model: o.model as string | undefined,
    output: o.output as string | undefined,
    data: o.data as string | undefined,
    config: o.config as string | undefined,
    out: (o.out as string | undefined) ?? 'fuseloss-train-out',
    quiet: o.quiet === true,
    help: o.help === true,
  };
}

function bar(done: number, total: number, width = 24): string {
  const k = Math.round((done / Math.max(1, total)) * width);
  return `[${'#'.repeat(k)}${'.'.repeat(width - k)}]`;
}

function metricText(m: TaskMetrics | undefined): string {
  if (!m) return '';
  if (m.accuracy !== undefined) return `acc ${m.accuracy.toFixed(3)} F1 ${m.macroF1!.toFixed(3)}`;
  return `MAE ${fmtNumber(m.mae!)} RMSE ${fmtNumber(m.rmse!)}`;
}

/** A model shipped in the package's models/ (from src/train/ in development, from dist/cjs/train/ when installed). */
function packagedModel(name: string): string {
  const dir = [join(__dirname, '..', '..'), join(__dirname, '..', '..', '..')].find((d) => existsSync(join(d, 'models', name)));
  if (!dir) throw new Error(`models/${name} is missing from the package`);
  return join(dir, 'models', name);
}

/** Runs `fuseloss train` with these arguments; resolves to the exit code. */
export async function train(argv: string[], io: Io): Promise<number> {
  const a = parse(argv);
  if (a.help) return (io.out(USAGE), 0);
  const t0 = performance.now();
  const tableConfig: TableConfig = a.config
    ? (JSON.parse(readFileSync(a.config, 'utf8')) as TableConfig)
    : { ...PENGUINS_CONFIG, seed: a.seed };
  const rows = a.data ? readTable(a.data) : penguinsRows();
  const data = prepareTable(rows, tableConfig);
  const modelPath = a.model ?? (a.data ? 'none' : packagedModel('mlp_encoder.onnx'));
  const backbone = modelPath === 'none' ? null : await OnnxBackbone.create(modelPath, { outputName: a.output });
  const trainer = new MultiTaskTrainer(
    {
      tasks: data.tasks,
      inFeatures: backbone ? undefined : data.featureNames.length,
      neck: a.neck ? { units: a.neck, activation: 'relu' } : null,
      weighting: { strategy: a.weighting },
      combine: { method: a.combine },
      optimizer: { type: 'adam', lr: a.lr },
      seed: a.seed,
    },
    backbone,
  );
  const taskNames = trainer.taskNames;
  io.out(
    `fuseloss train — ${a.data ?? 'Palmer penguins (vega-datasets)'}: ${data.train.size} train / ${data.test.size} held-out rows` +
      `${data.dropped ? ` (${data.dropped} dropped: missing features)` : ''}, features ${data.featureNames.length}` +
      `${backbone ? ` → ${modelPath.split(/[\\/]/).pop()} → ${trainer.inFeatures}` : ''}${a.neck ? ` → neck ${a.neck}` : ''}`,
  );
  io.out(
    `tasks: ${taskNames.map((t) => `${t} (${data.tasks[t].loss}, ${data.tasks[t].outputs} out)`).join(', ')}; weighting ${a.weighting}, combine ${a.combine}, Adam lr ${a.lr}, batch ${a.batchSize}, ${a.epochs} epochs`,
  );
  const head = [
    'epoch',
    'loss',
    ...taskNames.map((t) => `L ${t}`),
    ...taskNames.map((t) => `w ${t}`),
    ...taskNames.map((t) => `held-out ${t}`),
  ];
  const widths = head.map((h, i) => Math.max(h.length, i < 1 ? 5 : i <= 2 * taskNames.length ? 8 : 22));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  io.out(line(head));
  io.out(widths.map((w) => '-'.repeat(w)).join('  '));
  const steps = Math.ceil(data.train.size / a.batchSize);
  const history = await trainer.fit(data.train, {
    epochs: a.epochs,
    batchSize: a.batchSize,
    shuffle: a.seed,
    validation: data.test,
    onStep: (s) => {
      if (!a.quiet && io.tty)
        io.err(
          `\r${bar(s.step + 1, steps)} epoch ${trainer.epoch + 1}/${a.epochs} step ${s.step + 1}/${steps} loss ${s.loss.toFixed(4)}\x1b[K`,
        );
    },
    onEpoch: (e: EpochInfo) => {
      if (!a.quiet && io.tty) io.err('\r\x1b[K');
      io.out(
        line([
          String(e.epoch),
          e.loss.toFixed(4),
          ...taskNames.map((t) => (e.taskLosses[t] ?? NaN).toFixed(4)),
          ...taskNames.map((t) => (e.weights[t] ?? NaN).toFixed(3)),
          ...taskNames.map((t) => metricText(e.metrics?.[t])),
        ]),
      );
    },
  });
  const final = await trainer.evaluate(data.test);
  const seconds = (performance.now() - t0) / 1000;
  io.out(
    `\nheld-out (${data.test.size} rows): ${taskNames.map((t) => `${t}: ${metricText(final[t])}`).join('; ')} — ${seconds.toFixed(1)} s`,
  );
  const dir = resolve(a.out);
  mkdirSync(dir, { recursive: true });
  const epochs = history.map((h) => h.epoch);
  writeFileSync(
    join(dir, 'training.svg'),
    lineCharts(`fuseloss train — ${a.data ?? 'penguins'}: weighting ${a.weighting}, combine ${a.combine}`, [
      {
        axis: 'epoch',
        title: 'loss per epoch (mean over steps)',
        unit: 'loss',
        log: false,
        x: epochs,
        series: [
          { label: 'joint', y: history.map((h) => h.loss) },
          ...taskNames.map((t) => ({ label: t, y: history.map((h) => h.taskLosses[t] ?? NaN) })),
        ],
      },
      {
        axis: 'epoch',
        title: 'task weights',
        unit: 'weight',
        log: false,
        x: epochs,
        series: taskNames.map((t) => ({ label: t, y: history.map((h) => h.weights[t] ?? NaN) })),
      },
    ]),
  );
  writeFileSync(
    join(dir, 'training.json'),
    JSON.stringify(
      {
        command: ['fuseloss', 'train', ...argv],
        data: a.data ?? 'vega-datasets/data/penguins.json',
        model: modelPath,
        tasks: data.tasks,
        classes: data.classes,
        featureNames: data.featureNames,
        trainRows: data.train.size,
        testRows: data.test.size,
        history,
        heldOut: final,
        seconds,
      },
      null,
      1,
    ),
  );
  trainer.save(join(dir, 'model.json'));
  io.out(`wrote ${join(dir, 'training.json')}, ${join(dir, 'training.svg')}, ${join(dir, 'model.json')}`);
  await backbone?.release();
  return 0;
}
