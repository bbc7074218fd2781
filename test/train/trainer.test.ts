// The ONNX backbone wrapper, the multi-task trainer and `fuseloss train` on the penguins: wrapper checks
// on the committed models, a seeded training run that reaches its held-out metrics and repeats bit for
// bit, save → load → continue = uninterrupted, and end-to-end gradients against finite differences.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { train } from '../../src/train/cli';
import { PENGUINS_CONFIG, penguinsRows, prepareTable } from '../../src/train/data';
import * as fl from '../../src/index';
import { rng } from '../helpers';

const root = join(__dirname, '..', '..');
const mlp = join(root, 'models', 'mlp_encoder.onnx'),
  conv = join(root, 'models', 'conv_encoder.onnx');
const tmp = mkdtempSync(join(tmpdir(), 'fuseloss-train-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('OnnxBackbone', () => {
  it('the committed models: names, dims, batch sizes 1…N, ort.Tensor or { data, dims }, bytes or path', async () => {
    const b = await fl.OnnxBackbone.create(mlp);
    expect([b.inputName, b.outputName, b.featureSize]).toEqual(['features', 'embedding', 32]);
    const r = rng(1);
    for (const n of [1, 2, 7, 64]) {
      const x = r.floats(n * 6);
      const f = await b.features({ data: x, dims: [n, 6] });
      expect(f.dims).toEqual([n, 32]);
      expect(f.data.length).toBe(n * 32);
      const g = await b.features(new ort.Tensor('float32', x, [n, 6]));
      expect(Array.from(g.data)).toEqual(Array.from(f.data));
    }
    const c = await fl.OnnxBackbone.create(new Uint8Array(readFileSync(conv)));
    const img = await c.features({ data: r.floats(3 * 784), dims: [3, 1, 28, 28] });
    expect(img.dims).toEqual([3, 16]);
    await Promise.all([b.release(), c.release()]);
  });

  it('wrong input shapes, names and a model without a float output give clear errors', async () => {
    const b = await fl.OnnxBackbone.create(mlp);
    await expect(b.features({ data: new Float32Array(10), dims: [2, 5] })).rejects.toThrow(
      "input: expected dims [batch, 6] (model input 'features'), got [2, 5]",
    );
    await expect(b.features({ data: new Float32Array(11), dims: [2, 6] })).rejects.toThrow(
      'input: dims [2, 6] need 12 elements, data has 11',
    );
    await expect(b.features({ data: new Float32Array(12), dims: [2, 6, 1] })).rejects.toThrow(RangeError);
    await expect(b.features(new ort.Tensor('int32', new Int32Array(6), [1, 6]) as unknown as ort.Tensor)).rejects.toThrow(
      'expected a float32 tensor, got int32',
    );
    await expect(fl.OnnxBackbone.create(mlp, { outputName: 'logits' })).rejects.toThrow(
      "outputName: the model has no output 'logits' (its outputs: embedding (float32 [batch, 32]))",
    );
    await expect(fl.OnnxBackbone.create(mlp, { inputName: 'image' })).rejects.toThrow("inputName: the model has no input 'image'");
    const noFloat = join(__dirname, '..', 'fixtures', 'onnx', 'int_output.onnx');
    await expect(fl.OnnxBackbone.create(noFloat)).rejects.toThrow(
      'the model has no float32 output to use as features (its outputs: label (int64 [batch]))',
    );
    await expect(fl.OnnxBackbone.create(noFloat, { outputName: 'label' })).rejects.toThrow(TypeError);
    await expect(fl.OnnxBackbone.create(42 as unknown as string)).rejects.toThrow(TypeError);
    await b.release();
  });
});

const data = prepareTable(penguinsRows(), PENGUINS_CONFIG);

async function penguinTrainer(
  backend: 'native' | 'reference' = 'native',
  weighting: fl.StrategyName = 'uncertainty',
  combine: fl.CombineMethod = 'sum',
) {
  const backbone = await fl.OnnxBackbone.create(mlp);
  return new fl.MultiTaskTrainer(
    {
      tasks: data.tasks,
      weighting: { strategy: weighting },
      combine: { method: combine },
      optimizer: { type: 'adam', lr: 0.01 },
      seed: 0,
      backend,
    },
    backbone,
  );
}

describe('MultiTaskTrainer on the penguins', () => {
  it('the data: 342 rows with measurements, 20% held out, missing sex masked', () => {
    expect(data.train.size + data.test.size).toBe(342);
    expect(data.test.size).toBe(68);
    expect(data.featureNames).toHaveLength(6);
    expect(data.classes.species).toEqual(['Adelie', 'Chinstrap', 'Gentoo']);
    expect(data.train.masks?.sex?.includes(0)).toBe(true);
  });

  it('reaches species accuracy >= 0.95 and sex accuracy >= 0.8 held out, identically across two runs', async () => {
    const run = async () => {
      const t = await penguinTrainer();
      await t.fit(data.train, { epochs: 30, batchSize: 32, shuffle: 7 });
      return { m: await t.evaluate(data.test), params: t.params };
    };
    const a = await run(),
      b = await run();
    // measured on this seed: species 1.000, sex 0.866, mass MAE 285 g (RMSE 360 g)
    expect(a.m.species.accuracy).toBeGreaterThanOrEqual(0.95);
    expect(a.m.sex.accuracy).toBeGreaterThanOrEqual(0.8);
    expect(a.m.mass.mae).toBeLessThan(400);
    for (const k of Object.keys(a.params)) expect(Buffer.from(b.params[k].buffer).equals(Buffer.from(a.params[k].buffer)), k).toBe(true);
    expect(b.m).toEqual(a.m);
  });

  it.each([
    ['uncertainty', 'sum'],
    ['dwa', 'pcgrad'],
    ['famo', 'dbmtl'],
    ['gradnorm', 'mgda'],
  ] as const)('save → load → continue = uninterrupted (%s, %s)', async (weighting, combine) => {
    const a = await penguinTrainer('native', weighting, combine);
    await a.fit(data.train, { epochs: 4, shuffle: 3 });
    const b = await penguinTrainer('native', weighting, combine);
    await b.fit(data.train, { epochs: 2, shuffle: 3 });
    const file = join(tmp, `model-${weighting}-${combine}.json`);
    b.save(file);
    const c = fl.MultiTaskTrainer.load(file, await fl.OnnxBackbone.create(mlp));
    expect(c.epoch).toBe(2);
    await c.fit(data.train, { epochs: 2, shuffle: 3 });
    for (const k of Object.keys(a.params)) expect(Buffer.from(c.params[k].buffer).equals(Buffer.from(a.params[k].buffer)), k).toBe(true);
  });

  it('fit yields to the event loop while it trains (its kernels run off it)', async () => {
    // no backbone: only the kernels' async forms can yield here
    const t = new fl.MultiTaskTrainer({
      tasks: data.tasks,
      inFeatures: data.featureNames.length,
      weighting: { strategy: 'uncertainty' },
      seed: 0,
    });
    let fired = false;
    const seen: boolean[] = [];
    setImmediate(() => (fired = true));
    await t.fit(data.train, { epochs: 1, onStep: () => seen.push(fired) });
    // a fit that blocked until its end would report false at every step
    expect(seen.length).toBe(Math.ceil(data.train.size / 32));
    expect(seen.every((v) => v)).toBe(true);
  });

  it('native and reference trainers agree after a few steps', async () => {
    const n = await penguinTrainer('native'),
      r = await penguinTrainer('reference');
    await n.fit(data.train, { epochs: 1 });
    await r.fit(data.train, { epochs: 1 });
    for (const k of Object.keys(n.params))
      for (let i = 0; i < n.params[k].length; i++) expect(Math.abs(n.params[k][i] - r.params[k][i]), `${k}[${i}]`).toBeLessThan(2e-4);
  });
});

describe('end-to-end gradients = finite differences', () => {
  it('neck and heads of a tiny model (static weights, combine sum, reference backend in float64 sums)', async () => {
    const r = rng(4);
    const N = 6,
      F = 4;
    const ds: fl.Dataset = {
      inputs: r.floats(N * F),
      rowDims: [F],
      size: N,
      targets: {
        c: Int32Array.from({ length: N }, (_, i) => i % 3),
        b: Float32Array.from({ length: N * 2 }, (_, i) => ((i * 7) % 3 === 0 ? 1 : 0)),
        y: r.floats(N),
      },
    };
    const config: fl.TrainerConfig = {
      tasks: {
        c: { loss: 'crossEntropy', outputs: 3 },
        b: { loss: 'binaryCrossEntropyWithLogits', outputs: 2 },
        y: { loss: 'mseLoss', outputs: 1 },
      },
      inFeatures: F,
      neck: { units: 5, activation: 'tanh' },
      weighting: { strategy: 'static', weights: [1, 0.5, 2] },
      seed: 3,
      backend: 'reference',
    };
    const t = new fl.MultiTaskTrainer(config);
    const rows = Int32Array.from({ length: N }, (_, i) => i);
    const { grads } = await t.gradients(ds, rows);
    const lossAt = async () => (await t.gradients(ds, rows)).loss;
    for (const [name, p] of Object.entries(t.params)) {
      for (let i = 0; i < p.length; i += Math.max(1, Math.floor(p.length / 5))) {
        const h = 1e-2,
          keep = p[i];
        p[i] = keep + h;
        const up = await lossAt();
        p[i] = keep - h;
        const down = await lossAt();
        p[i] = keep;
        const fd = (up - down) / (2 * h);
        expect(Math.abs(grads[name][i] - fd), `${name}[${i}]: analytic ${grads[name][i]}, fd ${fd}`).toBeLessThan(
          2e-3 + 2e-2 * Math.abs(fd),
        );
      }
    }
  });
});

describe('fuseloss train (CLI)', () => {
  it('trains on the penguins and writes the log, the chart and the model', async () => {
    const out: string[] = [];
    const dir = join(tmp, 'cli');
    const code = await train(['--epochs', '12', '--weighting', 'dwa', '--combine', 'pcgrad', '--out', dir], {
      out: (s) => out.push(s),
      err: () => {},
      tty: false,
    });
    expect(code).toBe(0);
    const text = out.join('\n');
    expect(text).toMatch(/274 train \/ 68 held-out rows/);
    expect(text).toMatch(/^12 /m);
    const log = JSON.parse(readFileSync(join(dir, 'training.json'), 'utf8'));
    expect(log.history).toHaveLength(12);
    expect(log.heldOut.species.accuracy).toBeGreaterThan(0.9);
    const svg = readFileSync(join(dir, 'training.svg'), 'utf8');
    expect(svg).toMatch(/^<svg/);
    expect(svg).not.toMatch(/NaN/);
    const saved = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    expect(saved.format).toBe('fuseloss-trainer');
    expect(saved.epoch).toBe(12);
  });

  it('bad options say what is expected', async () => {
    const io = { out: () => {}, err: () => {}, tty: false };
    await expect(train(['--weighting', 'magic'], io)).rejects.toThrow(/--weighting: expected one of equal/);
    await expect(train(['--epochs', '-1'], io)).rejects.toThrow(/--epochs: expected an integer >= 0/);
    await expect(train(['--data', 'x.csv'], io)).rejects.toThrow(/--data needs --config/);
    await expect(train(['--frobnicate', '1'], io)).rejects.toThrow(/unknown option --frobnicate/);
  });
});

describe('ONNX Runtime interop', () => {
  it('backbone features (an ort.Tensor) go straight into a loss; gradients come back as ort.Tensors, zero copy', async () => {
    const b = await fl.OnnxBackbone.create(mlp);
    const x = rng(12).floats(8 * 6);
    const out = await b.features(new ort.Tensor('float32', x, [8, 6]));
    const feats = new ort.Tensor('float32', out.data, out.dims);
    const target = new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: 8 }, (_, i) => BigInt(i % 32)),
      [8],
    );
    const r = fl.ortGradients(fl.crossEntropy(feats, target), feats);
    expect(r.gradTensor).toBeInstanceOf(ort.Tensor);
    expect(r.gradTensor.dims).toEqual([8, 32]);
    expect(r.gradTensor.data).toBe(r.grad);
    const none = fl.ortGradients(
      fl.mseLoss(feats, new ort.Tensor('float32', new Float32Array(8 * 32), [8, 32]), { reduction: 'none' }),
      feats,
    );
    expect(none.lossTensor!.dims).toEqual([8, 32]);
    expect(() => fl.ortGradients(r, { dims: [7, 32] })).toThrow(/do not match the gradient's 256 elements/);
    await b.release();
  });
});
