// Bad input: every case is a clear TypeError/RangeError naming the argument, thrown before anything is
// written (a preallocated out.grad keeps its sentinel), on both backends, sync and async.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { native } from '../../src/backends/binding';
import { crossEntropy, crossEntropyAsync, cuda, type CrossEntropyOptions } from '../../src/index';

const SENTINEL = 12345;
const x6 = () => Float32Array.from([1, 2, 3, 4, 5, 6]);
const t2 = () => Int32Array.from([0, 2]);
const out = () => new Float32Array(6).fill(SENTINEL);

interface Case {
  name: string;
  error: typeof TypeError | typeof RangeError;
  message: RegExp;
  args: () => [unknown, unknown, (CrossEntropyOptions & Record<string, unknown>) | undefined];
  /** The out.grad buffer to check untouched (defaults to options.out.grad). */
  untouched?: (args: ReturnType<Case['args']>) => Float32Array | undefined;
}

const detached = () => {
  const a = new Float32Array(6);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
};

const cases: Case[] = [
  {
    name: 'input of the wrong typed-array type',
    error: TypeError,
    message: /Float32Array.*input.*Float64Array/,
    args: () => [new Float64Array(6), t2(), { shape: [2, 3], out: { grad: out() } }],
  },
  {
    name: 'input given as number[]',
    error: TypeError,
    message: /input/,
    args: () => [[1, 2, 3, 4, 5, 6], t2(), { shape: [2, 3], out: { grad: out() } }],
  },
  {
    name: 'Float32Array input without shape',
    error: TypeError,
    message: /options\.shape/,
    args: () => [x6(), t2(), { out: { grad: out() } }],
  },
  {
    name: 'shape that does not match the input length',
    error: RangeError,
    message: /8 elements \(shape \[2, 4\]\) for input but received Float32Array\(6\)/,
    args: () => [x6(), t2(), { shape: [2, 4], out: { grad: out() } }],
  },
  { name: 'non-integer dim', error: RangeError, message: /options\.shape\[0\].*2\.5/, args: () => [x6(), t2(), { shape: [2.5, 3] }] },
  { name: 'negative dim', error: RangeError, message: /options\.shape\[1\]/, args: () => [x6(), t2(), { shape: [2, -3] as number[] }] },
  { name: 'shape that is not an array', error: TypeError, message: /options\.shape/, args: () => [x6(), t2(), { shape: '2x3' as never }] },
  { name: 'empty shape', error: TypeError, message: /options\.shape/, args: () => [x6(), t2(), { shape: [] }] },
  { name: 'zero classes', error: RangeError, message: /C >= 1/, args: () => [new Float32Array(0), new Int32Array(4), { shape: [4, 0] }] },
  { name: 'element count beyond any buffer', error: RangeError, message: /2\^32/, args: () => [x6(), t2(), { shape: [2 ** 20, 2 ** 20] }] },
  {
    name: 'target of the wrong type',
    error: TypeError,
    message: /Int32Array of class ids or a Float32Array of probabilities for target.*Uint8Array/,
    args: () => [x6(), Uint8Array.from([0, 1]), { shape: [2, 3], out: { grad: out() } }],
  },
  {
    name: 'target as number[]',
    error: TypeError,
    message: /for target/,
    args: () => [x6(), [0, 1], { shape: [2, 3], out: { grad: out() } }],
  },
  {
    name: 'class-id target of the wrong length',
    error: RangeError,
    message: /2 class ids \(shape \[2\]\) for target but received Int32Array\(3\)/,
    args: () => [x6(), Int32Array.from([0, 1, 2]), { shape: [2, 3], out: { grad: out() } }],
  },
  {
    name: 'probability target of the wrong length',
    error: RangeError,
    message: /6 probabilities.*for target/,
    args: () => [x6(), new Float32Array(5), { shape: [2, 3], out: { grad: out() } }],
  },
  {
    name: 'class id = C',
    error: RangeError,
    message: /target\[1\] = 3: expected a class id in \[0, 3\) or ignoreIndex \(-100\)/,
    args: () => [x6(), Int32Array.from([0, 3]), { shape: [2, 3], out: { grad: out() } }],
  },
  {
    name: 'negative class id that is not ignoreIndex',
    error: RangeError,
    message: /target\[0\] = -1/,
    args: () => [x6(), Int32Array.from([-1, 0]), { shape: [2, 3], out: { grad: out() } }],
  },
  {
    name: 'class id out of range in a spatial target',
    error: RangeError,
    message: /target\[5\] = 7/,
    args: () => [
      new Float32Array(24),
      Int32Array.from([0, 1, 2, 0, 1, 7, 0, 0]),
      { shape: [2, 3, 4], out: { grad: new Float32Array(24).fill(SENTINEL) } },
    ],
  },
  {
    name: 'weight of the wrong length',
    error: RangeError,
    message: /3 elements \(C, one per class\) for crossEntropy\.weight/,
    args: () => [x6(), t2(), { shape: [2, 3], weight: [1, 2], out: { grad: out() } }],
  },
  {
    name: 'weight of the wrong type',
    error: TypeError,
    message: /crossEntropy\.weight/,
    args: () => [x6(), t2(), { shape: [2, 3], weight: 'heavy' as never, out: { grad: out() } }],
  },
  {
    name: 'labelSmoothing above 1',
    error: RangeError,
    message: /\[0, 1\] for crossEntropy\.labelSmoothing but received 1\.5/,
    args: () => [x6(), t2(), { shape: [2, 3], labelSmoothing: 1.5, out: { grad: out() } }],
  },
  {
    name: 'labelSmoothing NaN',
    error: RangeError,
    message: /labelSmoothing/,
    args: () => [x6(), t2(), { shape: [2, 3], labelSmoothing: NaN, out: { grad: out() } }],
  },
  {
    name: 'labelSmoothing as a string',
    error: TypeError,
    message: /a number for crossEntropy\.labelSmoothing/,
    args: () => [x6(), t2(), { shape: [2, 3], labelSmoothing: '0.1' as never }],
  },
  {
    name: 'unknown reduction',
    error: TypeError,
    message: /'mean' \| 'sum' \| 'none' for crossEntropy\.reduction but received "avg"/,
    args: () => [x6(), t2(), { shape: [2, 3], reduction: 'avg' as never, out: { grad: out() } }],
  },
  {
    name: 'non-integer ignoreIndex',
    error: RangeError,
    message: /integer for crossEntropy\.ignoreIndex/,
    args: () => [x6(), t2(), { shape: [2, 3], ignoreIndex: 1.5 }],
  },
  {
    name: 'gradScale as a string',
    error: TypeError,
    message: /gradScale/,
    args: () => [x6(), t2(), { shape: [2, 3], gradScale: 'x' as never }],
  },
  {
    name: 'gradOutput with a reduced loss',
    error: TypeError,
    message: /gradOutput is only allowed with reduction 'none'/,
    args: () => [x6(), t2(), { shape: [2, 3], gradOutput: new Float32Array(2), out: { grad: out() } }],
  },
  {
    name: 'gradOutput of the wrong length',
    error: RangeError,
    message: /2 elements.*gradOutput/,
    args: () => [x6(), t2(), { shape: [2, 3], reduction: 'none', gradOutput: new Float32Array(3), out: { grad: out() } }],
  },
  {
    name: 'out.grad of the wrong length',
    error: RangeError,
    message: /6 elements.*out\.grad but received Float32Array\(5\)/,
    args: () => [x6(), t2(), { shape: [2, 3], out: { grad: new Float32Array(5).fill(SENTINEL) } }],
  },
  {
    name: 'out.grad of the wrong type',
    error: TypeError,
    message: /Float32Array for crossEntropy\.out\.grad/,
    args: () => [x6(), t2(), { shape: [2, 3], out: { grad: new Float64Array(6) as never } }],
    untouched: () => undefined,
  },
  {
    name: 'out.grad partly overlapping the input',
    error: RangeError,
    message: /overlaps input/,
    args: () => {
      const b = new Float32Array(9);
      return [b.subarray(0, 6), t2(), { shape: [2, 3], out: { grad: b.subarray(3, 9) } }];
    },
    untouched: () => undefined,
  },
  {
    name: 'out.grad overlapping a probability target',
    error: RangeError,
    message: /overlaps target/,
    args: () => {
      const b = new Float32Array(12);
      return [x6(), b.subarray(0, 6), { shape: [2, 3], out: { grad: b.subarray(0, 6) } }];
    },
    untouched: () => undefined,
  },
  {
    name: 'out.loss of the wrong length',
    error: RangeError,
    message: /out\.loss/,
    args: () => [x6(), t2(), { shape: [2, 3], reduction: 'none', out: { grad: out(), loss: new Float32Array(3) } }],
  },
  {
    name: 'out.loss with a reduced loss',
    error: TypeError,
    message: /out\.loss is only used with reduction 'none'/,
    args: () => [x6(), t2(), { shape: [2, 3], out: { grad: out(), loss: new Float32Array(2) } }],
  },
  {
    name: 'unknown key in out',
    error: TypeError,
    message: /Unknown key 'gradient'/,
    args: () => [x6(), t2(), { shape: [2, 3], out: { gradient: out() } as never }],
  },
  {
    name: 'inplace with a different out.grad',
    error: TypeError,
    message: /inplace/,
    args: () => [x6(), t2(), { shape: [2, 3], inplace: true, out: { grad: out() } }],
  },
  {
    name: 'unknown option (a typo)',
    error: TypeError,
    message: /Unknown option 'label_smoothing' for crossEntropy; expected one of: weight, ignoreIndex, labelSmoothing/,
    args: () => [x6(), t2(), { shape: [2, 3], label_smoothing: 0.1, out: { grad: out() } }],
  },
  {
    name: 'unknown backend',
    error: TypeError,
    message: /'native' \| 'reference' \| 'cuda' for crossEntropy\.backend/,
    args: () => [x6(), t2(), { shape: [2, 3], backend: 'gpu' as never, out: { grad: out() } }],
  },
  { name: 'options that are not an object', error: TypeError, message: /options/, args: () => [x6(), t2(), 'mean' as never] },
  {
    name: 'detached input buffer',
    error: TypeError,
    message: /detached/,
    args: () => [detached(), t2(), { shape: [2, 3], out: { grad: out() } }],
  },
  {
    name: 'detached out.grad buffer',
    error: TypeError,
    message: /out\.grad.*detached|detached.*out\.grad/,
    args: () => [x6(), t2(), { shape: [2, 3], out: { grad: detached() } }],
    untouched: () => undefined,
  },
];

// On a machine with a GPU the CUDA backend must reject the same inputs the same way.
const backends = cuda.available() ? (['native', 'reference', 'cuda'] as const) : (['native', 'reference'] as const);

describe('crossEntropy rejects bad input before writing anything', () => {
  for (const c of cases) {
    for (const backend of backends) {
      it(`${c.name} (${backend})`, async () => {
        const args = c.args();
        const opts = args[2] && typeof args[2] === 'object' ? { backend, ...args[2] } : args[2];
        const grad = c.untouched
          ? c.untouched(args)
          : ((args[2] as CrossEntropyOptions | undefined)?.out?.grad as Float32Array | undefined);
        const call = () => crossEntropy(args[0] as never, args[1] as never, opts as never);
        expect(call).toThrow(c.error);
        expect(call).toThrow(c.message);
        await expect(crossEntropyAsync(args[0] as never, args[1] as never, opts as never)).rejects.toThrow(c.message);
        if (grad) expect(grad.every((v) => v === SENTINEL)).toBe(true);
      });
    }
  }
});

describe('empty batch', () => {
  // PyTorch accepts N = 0: 'mean' is NaN (0/0), 'sum' is 0, 'none' is empty. fuseloss does the same
  // rather than throwing, so a task with no labelled samples in a batch needs no special case.
  for (const backend of ['native', 'reference'] as const)
    it(`follows PyTorch (${backend})`, () => {
      const x = new Float32Array(0),
        t = new Int32Array(0);
      expect(crossEntropy(x, t, { shape: [0, 5], backend }).loss).toBeNaN();
      expect(crossEntropy(x, t, { shape: [0, 5], backend, reduction: 'sum' }).loss).toBe(0);
      const none = crossEntropy(x, t, { shape: [0, 5], backend, reduction: 'none' });
      expect(none.loss).toHaveLength(0);
      expect(none.grad).toHaveLength(0);
    });
});

describe('the native layer re-checks sizes (defence in depth)', () => {
  const b = native();
  it('rejects lengths that disagree with the dims', () => {
    const g = new Float32Array(6).fill(SENTINEL);
    expect(() => b.crossEntropy(new Float32Array(5), t2(), 2, 3, 1, null, -100, 0, 1, 1, null, g, null, null)).toThrow(
      /input: expected 6 elements/,
    );
    expect(() => b.crossEntropy(x6(), Int32Array.from([0]), 2, 3, 1, null, -100, 0, 1, 1, null, g, null, null)).toThrow(
      /target: expected 2 elements/,
    );
    expect(() => b.crossEntropy(x6(), t2(), 2, 3, 1, new Float32Array(2), -100, 0, 1, 1, null, g, null, null)).toThrow(
      /weight: expected 3/,
    );
    expect(() => b.crossEntropy(x6(), t2(), 2, 3, 1, null, -100, 0, 1, 1, null, new Float32Array(7), null, null)).toThrow(
      /out\.grad: expected 6/,
    );
    expect(() => b.crossEntropy(x6(), t2(), 2, 3, 1, null, -100, 0, 0, 1, null, g, null, null)).toThrow(/reduction 'none' needs an output/);
    expect(() => b.crossEntropy(x6(), t2(), 2, 3, 1, null, -100, 2, 1, 1, null, g, null, null)).toThrow(RangeError);
    expect(() => b.crossEntropy(x6(), t2(), 2.5, 3, 1, null, -100, 0, 1, 1, null, g, null, null)).toThrow(/N/);
    expect(() => b.crossEntropy(x6() as never, new Uint8Array(2) as never, 2, 3, 1, null, -100, 0, 1, 1, null, g, null, null)).toThrow(
      TypeError,
    );
    expect(g.every((v) => v === SENTINEL)).toBe(true);
  });
});

describe('addon loading', () => {
  const root = join(__dirname, '..', '..');
  const runNode = (code: string, env: Record<string, string>) =>
    execFileSync(process.execPath, ['-e', code], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });

  it('explains a missing addon (where it looked, why, how to rebuild) and keeps the reference working', () => {
    const outText = runNode(
      `const f = require('./dist/cjs');
       try { f.crossEntropy(new Float32Array(2), new Int32Array([0]), { shape: [1, 2] }); console.log('loaded?!'); }
       catch (e) { console.log(e.name + ': ' + e.message); }
       console.log('reference', f.crossEntropy(new Float32Array(2), new Int32Array([0]), { shape: [1, 2], backend: 'reference' }).loss);`,
      { FUSELOSS_ADDON_PATH: '/nonexistent/fuseloss.node' },
    );
    expect(outText).toMatch(/AddonLoadError: fuseloss: the native addon could not be loaded/);
    expect(outText).toMatch(/looked for: \/nonexistent\/fuseloss\.node/);
    expect(outText).toMatch(/reason: .*not found/);
    expect(outText).toMatch(/npm run build:native/);
    expect(outText).toMatch(/reference 0\.693147/);
  });

  it('honours FUSELOSS_ISA and rejects an unknown value with a clear error', () => {
    expect(runNode(`console.log(require('./dist/cjs').runtimeInfo().isa)`, { FUSELOSS_ISA: 'baseline' }).trim()).toBe('baseline');
    const bad = runNode(`try { require('./dist/cjs').runtimeInfo() } catch (e) { console.log(e.message) }`, { FUSELOSS_ISA: 'sse9' });
    expect(bad).toMatch(/FUSELOSS_ISA='sse9' is not one of baseline, avx2, avx512/);
  });

  it('loads from ESM and CommonJS entry points', () => {
    const esm = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { crossEntropy } from 'fuseloss'; console.log(crossEntropy(new Float32Array(2), new Int32Array([0]), { shape: [1, 2] }).loss)`,
      ],
      { cwd: root, encoding: 'utf8' },
    );
    expect(Number(esm)).toBeCloseTo(Math.LN2, 6);
    expect(
      Number(
        runNode(`console.log(require('fuseloss').crossEntropy(new Float32Array(2), new Int32Array([1]), { shape: [1, 2] }).loss)`, {}),
      ),
    ).toBeCloseTo(Math.LN2, 6);
  });
});
