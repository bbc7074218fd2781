// The op table: every loss declared once — its options (type, default, range), PyTorch peer and target
// kinds. Argument validation, defaults, the README options table (scripts/docs.ts, checked by a test)
// and the test matrix read it. Adding a loss means a kernel, a reference, and one entry here.

export type OptionType = 'number' | 'integer' | 'enum' | 'boolean' | 'shape' | 'float32' | 'outputs' | 'backend';

export interface OptionSpec {
  readonly name: string;
  readonly type: OptionType;
  readonly default?: number | string | boolean;
  /** Inclusive range for numbers. */
  readonly range?: readonly [number, number];
  readonly values?: readonly string[];
  readonly doc: string;
}

export interface LossSpec {
  readonly name: string;
  readonly torch: string;
  readonly targets: string;
  readonly options: readonly OptionSpec[];
}

export const REDUCTIONS = ['mean', 'sum', 'none'] as const;
export type Reduction = (typeof REDUCTIONS)[number];
export const BACKENDS = ['native', 'reference', 'cuda'] as const;
export type Backend = (typeof BACKENDS)[number];

/** Options every loss takes (shape, reduction conventions, outputs, backend). */
const common: readonly OptionSpec[] = [
  { name: 'shape', type: 'shape', doc: 'Dims of `input` when it is a plain Float32Array, e.g. `[N, C]` or `[N, C, H, W]`. Taken from `dims` for tensor-like inputs.' },
  { name: 'reduction', type: 'enum', values: REDUCTIONS, default: 'mean', doc: "`'mean'`, `'sum'` or `'none'` (per-element losses, shape `[N, d1…dk]`)." },
  { name: 'gradOutput', type: 'float32', doc: "`'none'` only: upstream gradient per element (shape `[N, d1…dk]`); default ones." },
  { name: 'gradScale', type: 'number', default: 1, doc: 'Multiplies the gradient (e.g. a task weight or 1/accumulation steps), in the same pass.' },
  { name: 'out', type: 'outputs', doc: '`{ grad?, loss? }`: preallocated Float32Arrays to write into (`loss` for `\'none\'`).' },
  { name: 'inplace', type: 'boolean', default: false, doc: 'Write the gradient over `input` (no second buffer).' },
  { name: 'backend', type: 'backend', values: BACKENDS, default: 'native', doc: "`'native'` (CPU addon), `'reference'` (pure TypeScript) or `'cuda'` (NVIDIA GPU; host arrays in and out)." },
];

export const crossEntropySpec: LossSpec = {
  name: 'crossEntropy',
  torch: 'torch.nn.functional.cross_entropy',
  targets: 'Int32Array of class ids `[N, d1…dk]`, or Float32Array of class probabilities (same shape as input)',
  options: [
    { name: 'weight', type: 'float32', doc: 'Per-class weight, length C (Float32Array or number[]).' },
    { name: 'ignoreIndex', type: 'integer', default: -100, range: [-2147483648, 2147483647], doc: 'Class-id targets equal to it contribute no loss and no gradient, and are left out of the mean.' },
    { name: 'labelSmoothing', type: 'number', default: 0, range: [0, 1], doc: 'Mixes the target with the uniform distribution: (1-ε)·target + ε/C, PyTorch\'s formula (weights included).' },
    ...common,
  ],
};

export const LOSSES: readonly LossSpec[] = [crossEntropySpec];

/** Markdown table of a loss's options, as the README shows it. */
export function optionsTable(spec: LossSpec): string {
  const rows = spec.options.map((o) => {
    const def = o.default === undefined ? '—' : `\`${JSON.stringify(o.default)}\``;
    const range = o.range ? ` in [${o.range[0]}, ${o.range[1]}]` : '';
    return `| \`${o.name}\` | ${o.type}${range} | ${def} | ${o.doc} |`;
  });
  return ['| option | type | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
