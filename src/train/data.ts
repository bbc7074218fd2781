// Tables → training Datasets: numeric feature columns standardized (statistics of the training split),
// categorical columns one-hot, and per-task targets (class → crossEntropy ids, binary → BCE-with-logits
// 0/1, regression → standardized values), with missing labels masked. The default table is the Palmer
// penguins of the vega-datasets package.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Dataset, TrainerTask } from './trainer';

export interface TableConfig {
  /** Numeric columns, standardized. */
  features: string[];
  /** Categorical columns, one-hot (categories in sorted order). */
  categorical?: string[];
  tasks: Record<
    string,
    { column: string; type: 'class' | 'binary' | 'regression'; positive?: string; loss?: string; options?: Record<string, unknown> }
  >;
  /** Held-out fraction (default 0.2) and the seed of the split (default 0). */
  testFraction?: number;
  seed?: number;
}

export const PENGUINS_CONFIG: TableConfig = {
  features: ['Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)'],
  categorical: ['Island'],
  tasks: {
    species: { column: 'Species', type: 'class', options: { labelSmoothing: 0.05 } },
    sex: { column: 'Sex', type: 'binary', positive: 'MALE' },
    mass: { column: 'Body Mass (g)', type: 'regression', loss: 'huberLoss', options: { delta: 1 } },
  },
};

export type Row = Record<string, unknown>;

/** The penguins table shipped by vega-datasets. */
export function penguinsRows(): Row[] {
  // the package's exports map hides data/: resolve its entry point and go up from there
  const path = join(dirname(require.resolve('vega-datasets')), '..', 'data', 'penguins.json');
  return JSON.parse(readFileSync(path, 'utf8')) as Row[];
}

/** A CSV (header row, comma-separated, double-quoted fields) or a JSON array of objects. */
export function readTable(path: string): Row[] {
  const text = readFileSync(path, 'utf8');
  if (/\.json$/i.test(path)) {
    const rows = JSON.parse(text) as unknown;
    if (!Array.isArray(rows)) throw new TypeError(`${path}: expected a JSON array of objects`);
    return rows as Row[];
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const split = (line: string) => {
    const out: string[] = [];
    let cur = '',
      quoted = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i];
      if (quoted) {
        if (ch === '"' && line[i + 1] === '"') ((cur += '"'), i++);
        else if (ch === '"') quoted = false;
        else cur += ch;
      } else if (ch === '"') quoted = true;
      else if (ch === ',') (out.push(cur), (cur = ''));
      else cur += ch;
    }
    out.push(cur);
    return out;
  };
  const header = split(lines[0]);
  return lines.slice(1).map((l) => {
    const cells = split(l);
    return Object.fromEntries(
      header.map((h, i) => {
        const c = cells[i]?.trim() ?? '';
        return [h, c === '' || c === 'NA' ? null : Number.isFinite(Number(c)) ? Number(c) : c];
      }),
    );
  });
}

const missing = (v: unknown) => v === null || v === undefined || v === '' || (typeof v === 'number' && Number.isNaN(v));

export interface PreparedData {
  train: Dataset;
  test: Dataset;
  tasks: Record<string, TrainerTask>;
  /** Per class task: the class names in id order. */
  classes: Record<string, string[]>;
  featureNames: string[];
  dropped: number;
}

/**
 * Splits rows (seeded) and builds both Datasets. Rows missing a feature are dropped; a missing label
 * masks that task for the row.
 */
export function prepareTable(rows: Row[], config: TableConfig): PreparedData {
  const cats = config.categorical ?? [];
  for (const c of [...config.features, ...cats, ...Object.values(config.tasks).map((t) => t.column)])
    if (!rows.some((r) => c in r)) throw new RangeError(`column '${c}' is in no row (columns: ${Object.keys(rows[0] ?? {}).join(', ')})`);
  const kept = rows.filter(
    (r) => config.features.every((c) => typeof r[c] === 'number' && Number.isFinite(r[c] as number)) && cats.every((c) => !missing(r[c])),
  );
  const dropped = rows.length - kept.length;
  // seeded split
  let s = (config.seed ?? 0) * 2654435761 + 12345;
  const u = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
  const order = kept.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(u() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const nTest = Math.round(kept.length * (config.testFraction ?? 0.2));
  const testRows = order.slice(0, nTest).map((i) => kept[i]),
    trainRows = order.slice(nTest).map((i) => kept[i]);
  const stats = (col: string, list: Row[]) => {
    const v = list.map((r) => r[col]).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length) || 1;
    return { mean, std };
  };
  const featStats = config.features.map((c) => stats(c, trainRows));
  const levels = cats.map((c) => [...new Set(kept.map((r) => String(r[c])))].sort());
  const featureNames = [...config.features, ...cats.flatMap((c, k) => levels[k].map((l) => `${c}=${l}`))];
  const tasks: Record<string, TrainerTask> = {};
  const classes: Record<string, string[]> = {};
  const scales: Record<string, { mean: number; std: number }> = {};
  for (const [name, t] of Object.entries(config.tasks)) {
    if (t.type === 'class') {
      classes[name] = [
        ...new Set(
          kept
            .map((r) => r[t.column])
            .filter((v) => !missing(v))
            .map(String),
        ),
      ].sort();
      tasks[name] = { loss: t.loss ?? 'crossEntropy', outputs: classes[name].length, ...t.options };
    } else if (t.type === 'binary') {
      tasks[name] = { loss: t.loss ?? 'binaryCrossEntropyWithLogits', outputs: 1, ...t.options };
    } else {
      scales[name] = stats(t.column, trainRows);
      tasks[name] = { loss: t.loss ?? 'huberLoss', outputs: 1, ...t.options };
    }
  }
  const build = (list: Row[]): Dataset => {
    const F = featureNames.length;
    const inputs = new Float32Array(list.length * F);
    list.forEach((r, i) => {
      config.features.forEach((c, k) => (inputs[i * F + k] = ((r[c] as number) - featStats[k].mean) / featStats[k].std));
      let off = config.features.length;
      cats.forEach((c, k) => {
        inputs[i * F + off + levels[k].indexOf(String(r[c]))] = 1;
        off += levels[k].length;
      });
    });
    const targets: Dataset['targets'] = {},
      masks: Record<string, Uint8Array> = {};
    for (const [name, t] of Object.entries(config.tasks)) {
      const mask = Uint8Array.from(list, (r) => (missing(r[t.column]) ? 0 : 1));
      if (mask.includes(0)) masks[name] = mask;
      if (t.type === 'class')
        targets[name] = Int32Array.from(list, (r) => (missing(r[t.column]) ? -100 : classes[name].indexOf(String(r[t.column]))));
      else if (t.type === 'binary') targets[name] = Float32Array.from(list, (r) => (String(r[t.column]) === (t.positive ?? '1') ? 1 : 0));
      else
        targets[name] = Float32Array.from(list, (r) =>
          missing(r[t.column]) ? 0 : ((r[t.column] as number) - scales[name].mean) / scales[name].std,
        );
    }
    return { inputs, rowDims: [F], size: list.length, targets, masks, scales };
  };
  return { train: build(trainRows), test: build(testRows), tasks, classes, featureNames, dropped };
}
