// The op table: every loss declared once — its options (type, default, range), PyTorch peer and target
// kinds. Argument validation, defaults, the README options table (scripts/docs.ts, checked by a test)
// and the test matrix read it. Adding a loss means a kernel, a reference, and one entry here.

/** How an option is validated: number (with range), integer, enum (values), boolean, shape, float32 array, outputs, backend. */
export type OptionType = 'number' | 'integer' | 'enum' | 'boolean' | 'shape' | 'float32' | 'outputs' | 'backend';

/** One option of a loss in the op table (what validation, the README tables and the tests read). */
export interface OptionSpec {
  /** The option's name (PyTorch's, camelCase). */
  readonly name: string;
  /** Its kind, which decides how it is validated. */
  readonly type: OptionType;
  /** Its default (absent: none). */
  readonly default?: number | string | boolean;
  /** Inclusive range for numbers. */
  readonly range?: readonly [number, number];
  /** The allowed values of an enum option. */
  readonly values?: readonly string[];
  /** What it does (the docs' text). */
  readonly doc: string;
  /** The native argument this option fills (elementwise losses: scalars p0, p1 and booleans flag, flag2). */
  readonly native?: 'p0' | 'p1' | 'flag' | 'flag2';
}

/** One loss in the op table: its name, peer, targets and options. */
export interface LossSpec {
  /** The function's name ('crossEntropy', …). */
  readonly name: string;
  /** Its PyTorch (or torchvision / TensorFlow.js) peer. */
  readonly torch: string;
  /** What its target is. */
  readonly targets: string;
  /** Its options. */
  readonly options: readonly OptionSpec[];
}

/** The reductions every loss takes. */
export const REDUCTIONS = ['mean', 'sum', 'none'] as const;
/** 'mean' (default), 'sum' or 'none' (PyTorch's reduction). */
export type Reduction = (typeof REDUCTIONS)[number];
/** klDiv also takes 'batchmean' (sum / first dim), as PyTorch's F.kl_div. */
export type KlReduction = Reduction | 'batchmean';
/** The backends. */
export const BACKENDS = ['native', 'reference', 'cuda'] as const;
/** 'native' (the C++ addon, default), 'reference' (pure TypeScript, float64) or 'cuda' (where the family has a CUDA build). */
export type Backend = (typeof BACKENDS)[number];

/** Options every loss takes (shape, reduction conventions, outputs, backend). */
const common: readonly OptionSpec[] = [
  {
    name: 'shape',
    type: 'shape',
    doc: 'Dims of `input` when it is a plain Float32Array, e.g. `[N, C]` or `[N, C, H, W]`. Taken from `dims` for tensor-like inputs.',
  },
  {
    name: 'reduction',
    type: 'enum',
    values: REDUCTIONS,
    default: 'mean',
    doc: "`'mean'`, `'sum'` or `'none'` (per-element losses, shape `[N, d1…dk]`).",
  },
  { name: 'gradOutput', type: 'float32', doc: "`'none'` only: upstream gradient per element (shape `[N, d1…dk]`); default ones." },
  {
    name: 'gradScale',
    type: 'number',
    default: 1,
    doc: 'Multiplies the gradient (e.g. a task weight or 1/accumulation steps), in the same pass.',
  },
  { name: 'out', type: 'outputs', doc: "`{ grad?, loss? }`: preallocated Float32Arrays to write into (`loss` for `'none'`)." },
  { name: 'inplace', type: 'boolean', default: false, doc: 'Write the gradient over `input` (no second buffer).' },
  {
    name: 'backend',
    type: 'backend',
    values: BACKENDS,
    default: 'native',
    doc: "`'native'` (CPU addon), `'reference'` (pure TypeScript) or `'cuda'` (NVIDIA GPU: host arrays staged in and out, or DeviceBuffers used in place).",
  },
  {
    name: 'nanPolicy',
    type: 'enum',
    values: ['propagate', 'raise'],
    default: 'propagate',
    doc: "`'propagate'`: NaN and ±Infinity in the input or target flow through the arithmetic, as in PyTorch. `'raise'`: a RangeError naming the first offending element, before anything is written (one extra read of input and target).",
  },
];

const sampleWeight: OptionSpec = {
  name: 'sampleWeight',
  type: 'float32',
  doc: "Per-sample weight (length = first dim): multiplies each sample's losses and gradients before the reduction (the mean still divides by the element count).",
};

/** Liger-Kernel's large-vocabulary extras of cross-entropy (crossEntropy on [N, C], linearCrossEntropy). */
const ceExtras: readonly OptionSpec[] = [
  {
    name: 'lseSquareScale',
    type: 'number',
    default: 0,
    range: [0, Infinity],
    doc: "z-loss (PaLM): each counted row adds s·lse² to its loss; not class-weighted; `'mean'` divides the z-loss sum by the number of counted rows (Liger-Kernel's rule).",
  },
  {
    name: 'softcap',
    type: 'number',
    range: [Number.MIN_VALUE, Infinity],
    doc: 'Logits become cap·tanh(logits / cap) before the loss (Gemma 2); the gradient includes the tanh. Default none.',
  },
  {
    name: 'returnZLoss',
    type: 'boolean',
    default: false,
    doc: "Also return `zLoss`, the z-loss part of `loss` (reduced like it; for `'none'` its sum).",
  },
  { name: 'returnLse', type: 'boolean', default: false, doc: "Also return `lse`, the log-sum-exp of each row's (capped) logits, `[N]`." },
  {
    name: 'returnAccuracy',
    type: 'boolean',
    default: false,
    doc: 'Also return `accuracy`, the share of counted rows whose argmax is the target (class ids only).',
  },
];

/** crossEntropy in the op table. */
export const crossEntropySpec: LossSpec = {
  name: 'crossEntropy',
  torch: 'torch.nn.functional.cross_entropy',
  targets: 'Int32Array of class ids `[N, d1…dk]`, or Float32Array of class probabilities (same shape as input)',
  options: [
    { name: 'weight', type: 'float32', doc: 'Per-class weight, length C (Float32Array or number[]).' },
    {
      name: 'ignoreIndex',
      type: 'integer',
      default: -100,
      range: [-2147483648, 2147483647],
      doc: 'Class-id targets equal to it contribute no loss and no gradient, and are left out of the mean.',
    },
    {
      name: 'labelSmoothing',
      type: 'number',
      default: 0,
      range: [0, 1],
      doc: "Mixes the target with the uniform distribution: (1-ε)·target + ε/C, PyTorch's formula (weights included).",
    },
    ...ceExtras,
    sampleWeight,
    ...common,
  ],
};

/** linearCrossEntropy in the op table: a linear head and its cross-entropy in one pass (not in LOSSES: its input is features, not logits). */
export const linearCrossEntropySpec: LossSpec = {
  name: 'linearCrossEntropy',
  torch: 'torch.nn.functional.linear_cross_entropy',
  targets:
    'Int32Array of class ids `[N]` (BigInt64Array converted), or Float32Array of class probabilities `[N, C]` (input: features `[N, H]`, linearWeight `[C, H]`)',
  options: [
    {
      name: 'shape',
      type: 'shape',
      doc: 'Dims of `input` when it is a plain Float32Array: `[N, H]`. Taken from `dims` for tensor-like inputs.',
    },
    { name: 'linearBias', type: 'float32', doc: "The head's bias, length C (PyTorch's `bias`). Default none." },
    { name: 'weight', type: 'float32', doc: 'Per-class weight, length C, as in `crossEntropy`.' },
    {
      name: 'ignoreIndex',
      type: 'integer',
      default: -100,
      range: [-2147483648, 2147483647],
      doc: 'Rows whose class id equals it contribute no loss (cross-entropy or z-loss) and no gradient, and are left out of the mean.',
    },
    {
      name: 'labelSmoothing',
      type: 'number',
      default: 0,
      range: [0, 1],
      doc: 'As in `crossEntropy`: (1-ε)·target + ε/C (weights included).',
    },
    sampleWeight,
    { name: 'reduction', type: 'enum', values: REDUCTIONS, default: 'mean', doc: "`'mean'`, `'sum'` or `'none'` (per-row losses `[N]`)." },
    { name: 'gradOutput', type: 'float32', doc: "`'none'` only: upstream gradient per row `[N]`; default ones." },
    { name: 'gradScale', type: 'number', default: 1, doc: 'Multiplies every gradient (e.g. 1/accumulation steps), in the same pass.' },
    ...ceExtras,
    {
      name: 'compute',
      type: 'outputs',
      doc: '`{ gradInput?, gradLinearWeight?, gradLinearBias? }`: false skips that gradient (it comes back as a zero-length array). Default: all (gradLinearBias only with linearBias).',
    },
    {
      name: 'out',
      type: 'outputs',
      doc: '`{ gradInput?, gradLinearWeight?, gradLinearBias?, loss?, lse? }`: preallocated Float32Arrays to write into.',
    },
    {
      name: 'accumulate',
      type: 'boolean',
      default: false,
      doc: 'Add the gradients into `out` (gradient accumulation over micro-batches); needs `out` for each computed gradient.',
    },
    {
      name: 'chunkSize',
      type: 'integer',
      range: [1, 2 ** 40],
      doc: 'Rows per chunk: the logits buffer is chunkSize × C floats. Default: about 24 MiB of logits (at least 16 rows). Results do not depend on the thread count for any chunk size.',
    },
    {
      name: 'backend',
      type: 'backend',
      values: ['native', 'reference'],
      default: 'native',
      doc: "`'native'` (CPU addon) or `'reference'` (pure TypeScript, float64).",
    },
    {
      name: 'nanPolicy',
      type: 'enum',
      values: ['propagate', 'raise'],
      default: 'propagate',
      doc: "`'propagate'`, or `'raise'`: a RangeError naming the first NaN or ±Infinity of input, linearWeight or linearBias, before anything is written.",
    },
  ],
};

// ---- elementwise losses: input and target of the same shape, one loss per element

/** An elementwise loss's name. */
export type ElementwiseName =
  | 'mseLoss'
  | 'l1Loss'
  | 'smoothL1Loss'
  | 'huberLoss'
  | 'binaryCrossEntropy'
  | 'binaryCrossEntropyWithLogits'
  | 'hingeEmbeddingLoss'
  | 'klDiv'
  | 'poissonNllLoss'
  | 'sigmoidFocalLoss'
  | 'hingeLoss'
  | 'logLoss'
  | 'softMarginLoss';
/** An elementwise loss in the op table. */
export interface ElementwiseSpec extends LossSpec {
  /** The function's name. */
  readonly name: ElementwiseName;
  /** Its kind code in the native core (native/include/fuseloss/elementwise.h). */
  readonly kind: number;
}

// A row of the elementwise table: its name, its native kind (native/include/fuseloss/elementwise.h;
// test/losses/nativeCodes.test.ts checks it), its peer, target and own options (each naming the native slot
// it fills), and its reduction.
function elementwise(
  name: ElementwiseName,
  kind: number,
  torch: string,
  targets: string,
  specific: readonly OptionSpec[],
  reduction: { values?: readonly string[]; default?: string } = {},
): ElementwiseSpec {
  const values = reduction.values ?? REDUCTIONS;
  const options = [
    ...specific,
    sampleWeight,
    ...common.map((o) => {
      if (o.name === 'reduction')
        return {
          ...o,
          values,
          default: reduction.default ?? 'mean',
          doc: `${values.map((v) => `\`'${v}'\``).join(', ')}${values.includes('batchmean') ? ' (sum / first dim)' : ''}; \`'none'\` keeps the input's shape.`,
        };
      return o; // backend: 'native', 'reference' or 'cuda'
    }),
  ];
  return { name, torch, targets, kind, options };
}

const sameShape = "Float32Array with the input's shape";
const bceWeight: OptionSpec = {
  name: 'weight',
  type: 'float32',
  doc: 'Rescales each element: length = the element count, or the last dim (broadcast).',
};

export const mseLossSpec = elementwise('mseLoss', 0, 'torch.nn.functional.mse_loss', sameShape, []);
export const l1LossSpec = elementwise('l1Loss', 1, 'torch.nn.functional.l1_loss', sameShape, []);
export const smoothL1LossSpec = elementwise('smoothL1Loss', 2, 'torch.nn.functional.smooth_l1_loss', sameShape, [
  {
    name: 'beta',
    type: 'number',
    default: 1,
    range: [0, Infinity],
    native: 'p0',
    doc: 'Quadratic below |x − t| < beta, linear above; beta = 0 is L1.',
  },
]);
export const huberLossSpec = elementwise('huberLoss', 3, 'torch.nn.functional.huber_loss', sameShape, [
  {
    name: 'delta',
    type: 'number',
    default: 1,
    range: [Number.MIN_VALUE, Infinity],
    native: 'p0',
    doc: 'Quadratic below |x − t| < delta, delta·(|x − t| − delta/2) above; > 0.',
  },
]);
export const binaryCrossEntropySpec = elementwise(
  'binaryCrossEntropy',
  4,
  'torch.nn.functional.binary_cross_entropy',
  "Float32Array of probabilities in [0, 1], the input's shape (input: probabilities in [0, 1])",
  [bceWeight],
);
export const binaryCrossEntropyWithLogitsSpec = elementwise(
  'binaryCrossEntropyWithLogits',
  5,
  'torch.nn.functional.binary_cross_entropy_with_logits',
  `${sameShape} (input: logits)`,
  [bceWeight, { name: 'posWeight', type: 'float32', doc: 'Weight of positive examples per class (length = last dim).' }],
);
export const hingeEmbeddingLossSpec = elementwise(
  'hingeEmbeddingLoss',
  6,
  'torch.nn.functional.hinge_embedding_loss',
  `${sameShape}, values 1 or -1`,
  [
    {
      name: 'margin',
      type: 'number',
      default: 1,
      range: [-Infinity, Infinity],
      native: 'p0',
      doc: 'ℓ = x where t = 1, max(0, margin − x) where t = −1.',
    },
  ],
);
export const klDivSpec = elementwise(
  'klDiv',
  7,
  'torch.nn.functional.kl_div',
  `${sameShape} (input: log-probabilities)`,
  [{ name: 'logTarget', type: 'boolean', default: false, native: 'flag', doc: 'The target is given as log-probabilities.' }],
  { values: ['mean', 'sum', 'none', 'batchmean'] },
);
export const poissonNllLossSpec = elementwise('poissonNllLoss', 8, 'torch.nn.functional.poisson_nll_loss', `${sameShape} (counts)`, [
  { name: 'logInput', type: 'boolean', default: true, native: 'flag', doc: 'ℓ = exp(x) − t·x if true, else x − t·log(x + eps).' },
  { name: 'full', type: 'boolean', default: false, native: 'flag2', doc: 'Adds the Stirling term t·log t − t + ½·log(2πt) (where t > 1).' },
  {
    name: 'eps',
    type: 'number',
    default: 1e-8,
    range: [0, Infinity],
    native: 'p0',
    doc: 'Added to x inside the log when logInput is false.',
  },
]);
export const sigmoidFocalLossSpec = elementwise(
  'sigmoidFocalLoss',
  9,
  'torchvision.ops.sigmoid_focal_loss',
  `${sameShape} (input: logits)`,
  [
    {
      name: 'alpha',
      type: 'number',
      default: 0.25,
      range: [-Infinity, 1],
      native: 'p0',
      doc: 'Weight of positives, α·t + (1 − α)·(1 − t); negative disables it.',
    },
    { name: 'gamma', type: 'number', default: 2, range: [0, Infinity], native: 'p1', doc: 'Focusing exponent on (1 − p_t).' },
  ],
  { default: 'none' },
);

export const softMarginLossSpec = elementwise(
  'softMarginLoss',
  12,
  'torch.nn.functional.soft_margin_loss',
  `${sameShape}, values 1 or -1`,
  [],
);

// Two losses of TensorFlow.js without a PyTorch function (fuseloss/tfjs uses them for tf.losses.*).
export const hingeLossSpec = elementwise('hingeLoss', 10, 'tf.losses.hingeLoss', `${sameShape}, labels 0 or 1 (read as −1 / +1)`, []);
export const logLossSpec = elementwise('logLoss', 11, 'tf.losses.logLoss', `${sameShape}, labels in [0, 1] (input: probabilities)`, [
  {
    name: 'epsilon',
    type: 'number',
    default: 1e-7,
    range: [0, Infinity],
    native: 'p0',
    doc: 'Added inside both logs: −t·log(x + ε) − (1 − t)·log(1 − x + ε).',
  },
]);

/** The elementwise losses of the op table. */
export const ELEMENTWISE_LOSSES: readonly ElementwiseSpec[] = [
  mseLossSpec,
  l1LossSpec,
  smoothL1LossSpec,
  huberLossSpec,
  binaryCrossEntropySpec,
  binaryCrossEntropyWithLogitsSpec,
  hingeEmbeddingLossSpec,
  klDivSpec,
  poissonNllLossSpec,
  sigmoidFocalLossSpec,
  hingeLossSpec,
  logLossSpec,
  softMarginLossSpec,
];
/** Each elementwise loss's native kind, from the rows above. */
export const ELEMENTWISE_KIND: Readonly<Record<ElementwiseName, number>> = Object.fromEntries(
  ELEMENTWISE_LOSSES.map((s) => [s.name, s.kind]),
) as Record<ElementwiseName, number>;

// ---- row-coupled losses

/** Common options with the row losses' reduction doc. */
function rowCommon(reduction: { default?: string; doc?: string } = {}): OptionSpec[] {
  return common.map((o) => {
    if (o.name === 'reduction' && reduction.doc) return { ...o, default: reduction.default ?? 'mean', doc: reduction.doc };
    return o;
  });
}

/** nllLoss in the op table. */
export const nllLossSpec: LossSpec = {
  name: 'nllLoss',
  torch: 'torch.nn.functional.nll_loss',
  targets: 'Int32Array of class ids `[N, d1…dk]` (input: log-probabilities `[N, C, d1…dk]`)',
  options: [
    { name: 'weight', type: 'float32', doc: 'Per-class weight, length C.' },
    {
      name: 'ignoreIndex',
      type: 'integer',
      default: -100,
      range: [-2147483648, 2147483647],
      doc: 'Targets equal to it are left out (no loss, no gradient, not in the mean).',
    },
    sampleWeight,
    ...common,
  ],
};

export const multiMarginLossSpec: LossSpec = {
  name: 'multiMarginLoss',
  torch: 'torch.nn.functional.multi_margin_loss',
  targets: 'Int32Array of class ids `[N]` (input: scores `[N, C]`)',
  options: [
    { name: 'p', type: 'integer', default: 1, range: [1, 2], doc: '1 (hinge) or 2 (squared hinge).' },
    { name: 'margin', type: 'number', default: 1, range: [-Infinity, Infinity], doc: 'ℓ = Σ_{c≠y} w_y·max(0, margin − x_y + x_c)^p / C.' },
    { name: 'weight', type: 'float32', doc: 'Per-class weight (of the target class), length C.' },
    sampleWeight,
    ...rowCommon({ doc: "`'mean'` (over samples), `'sum'` or `'none'` (per sample, `[N]`)." }),
  ],
};

export const multilabelSoftMarginLossSpec: LossSpec = {
  name: 'multilabelSoftMarginLoss',
  torch: 'torch.nn.functional.multilabel_soft_margin_loss',
  targets: 'Float32Array `[N, C]` of 0/1 labels (input: logits `[N, C]`)',
  options: [
    { name: 'weight', type: 'float32', doc: 'Per-class weight, length C.' },
    sampleWeight,
    ...rowCommon({ doc: "`'mean'` (over samples), `'sum'` or `'none'` (per sample, `[N]`: the mean over classes)." }),
  ],
};

export const cosineEmbeddingLossSpec: LossSpec = {
  name: 'cosineEmbeddingLoss',
  torch: 'torch.nn.functional.cosine_embedding_loss',
  targets: 'Float32Array `[N]` of 1 / −1 (inputs: two `[N, D]` arrays; gradients for both)',
  options: [
    {
      name: 'margin',
      type: 'number',
      default: 0,
      range: [-Infinity, Infinity],
      doc: 'ℓ = 1 − cos where t = 1, max(0, cos − margin) where t = −1.',
    },
    sampleWeight,
    ...rowCommon({ doc: "`'mean'` (over samples), `'sum'` or `'none'` (per sample, `[N]`)." }),
  ],
};

export const softF1LossSpec: LossSpec = {
  name: 'softF1Loss',
  torch: '(none: differentiable macro F1)',
  targets: 'Float32Array `[N, C]` of labels in [0, 1] (input: logits `[N, C]`)',
  options: [
    { name: 'eps', type: 'number', default: 1e-8, range: [0, Infinity], doc: "Added to each label's denominator Σ(p + t)." },
    sampleWeight,
    ...rowCommon({ doc: "`'mean'` (macro: over labels), `'sum'` or `'none'` (per label, `[C]`)." }),
  ],
};

export const cosineDistanceSpec: LossSpec = {
  name: 'cosineDistance',
  torch: 'tf.losses.cosineDistance',
  targets: 'Float32Array `[N, D]` (labels; ℓ = 1 − Σ_d t·x per row, along the last dim, unnormalised as tfjs)',
  options: [sampleWeight, ...rowCommon({ doc: "`'mean'` (over rows), `'sum'` or `'none'` (per row, `[N]`)." })],
};

/** The row-coupled losses of the op table. */
export const ROW_LOSSES: readonly LossSpec[] = [
  multiMarginLossSpec,
  multilabelSoftMarginLossSpec,
  cosineEmbeddingLossSpec,
  softF1LossSpec,
  cosineDistanceSpec,
];

/** Every loss of the catalogue (the op table). */
export const LOSSES: readonly LossSpec[] = [crossEntropySpec, nllLossSpec, ...ELEMENTWISE_LOSSES, ...ROW_LOSSES];

function rangeText([lo, hi]: readonly [number, number]): string {
  if (lo === Number.MIN_VALUE) return ' > 0';
  if (lo === -Infinity && hi === Infinity) return '';
  if (hi === Infinity) return ` ≥ ${lo}`;
  if (lo === -Infinity) return ` ≤ ${hi}`;
  return ` in [${lo}, ${hi}]`;
}

const COMMON_NAMES = new Set([...common.map((o) => o.name), 'sampleWeight']);

/** Markdown table of every loss: function, PyTorch peer, target, its own options (common ones aside). */
export function lossTable(specs: readonly LossSpec[]): string {
  const rows = specs.map((spec) => {
    const own = spec.options.filter(
      (o) =>
        !COMMON_NAMES.has(o.name) ||
        (o.name === 'reduction' && o.default !== 'mean') ||
        (o.name === 'reduction' && (o.values ?? []).length !== 3),
    );
    const opts = own.map(
      (o) =>
        `\`${o.name}\`${o.default === undefined ? '' : ` = ${JSON.stringify(o.default)}`}${o.name === 'reduction' ? ` (${(o.values ?? []).join(', ')})` : ''}`,
    );
    return `| \`${spec.name}\` | \`${spec.torch}\` | ${spec.targets} | ${opts.join(', ') || '—'} |`;
  });
  return ['| function | PyTorch peer | target | own options (= default) |', '|---|---|---|---|', ...rows].join('\n');
}

/** Markdown table of a loss's options, as the README shows it. */
export function optionsTable(spec: LossSpec): string {
  const rows = spec.options.map((o) => {
    const def = o.default === undefined ? '—' : `\`${JSON.stringify(o.default)}\``;
    const range = o.range ? rangeText(o.range) : '';
    return `| \`${o.name}\` | ${o.type}${range} | ${def} | ${o.doc} |`;
  });
  return ['| option | type | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
