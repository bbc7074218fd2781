// backend 'cuda'. On a machine with an NVIDIA GPU (and the CUDA addon built), the CUDA kernels are
// compared with PyTorch's golden values and with the CPU kernels on random problems, sync and async.
// Without one, backend 'cuda' must fail with a clear error and never fall back to the CPU silently.
// Tolerance vs CPU/PyTorch: gradients |a-e| <= 2e-5·|e| + 2e-6·max|e|, losses 2e-5 relative (the GPU sums
// in another order and uses CUDA's expf).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as fl from '../../src/index';
import { crossEntropy, crossEntropyAsync, cuda, CudaUnavailableError, DeviceBuffer, type CrossEntropyOptions } from '../../src/index';
import { ELEMENTWISE_LOSSES } from '../../src/losses/ops';
import { materialize, optionSets, problem } from '../losses/elementwiseProblems';
import { decode, expectClose, expectSameBits, loadFixtures, mtlBatch, MTL_TASKS, rng } from '../helpers';

type AnyLoss = (input: Float32Array, target: Float32Array, options?: object) => { loss: number | Float32Array; grad: Float32Array };
const ewFn = (name: string) => (fl as unknown as Record<string, AnyLoss>)[name];
const ewFnAsync = (name: string) =>
  (fl as unknown as Record<string, (...a: Parameters<AnyLoss>) => Promise<ReturnType<AnyLoss>>>)[`${name}Async`];

const available = cuda.available();

if (!available) {
  describe('backend cuda without a usable GPU', () => {
    it('reports why it is unavailable and throws a clear error instead of falling back', async () => {
      const reason = cuda.unavailableReason();
      expect(reason).toBeTruthy();
      expect(cuda.devices()).toEqual([]);
      const call = () => crossEntropy(new Float32Array(6), new Int32Array([0, 1]), { shape: [2, 3], backend: 'cuda' });
      expect(call).toThrow(CudaUnavailableError);
      expect(call).toThrow(/backend 'cuda' is unavailable/);
      await expect(crossEntropyAsync(new Float32Array(6), new Int32Array([0, 1]), { shape: [2, 3], backend: 'cuda' })).rejects.toThrow(
        CudaUnavailableError,
      );
      const mtl = new fl.MultiTaskLoss({ tasks: { a: { loss: 'mseLoss' } }, backend: 'cuda' });
      const mg = new Float32Array(4).fill(7);
      expect(() => mtl.compute({ a: { input: new Float32Array(4), target: new Float32Array(4), shape: [4], out: { grad: mg } } })).toThrow(
        CudaUnavailableError,
      );
      expect(mg.every((v) => v === 7)).toBe(true);
      for (const spec of ELEMENTWISE_LOSSES) {
        const grad = new Float32Array(4).fill(7);
        expect(() => ewFn(spec.name)(new Float32Array(4), new Float32Array(4), { shape: [4], backend: 'cuda', out: { grad } })).toThrow(
          CudaUnavailableError,
        );
        expect(grad.every((v) => v === 7)).toBe(true);
      }
    });
  });
} else {
  const fixtures = loadFixtures('crossEntropy');
  describe(`backend cuda on ${cuda.devices()[0]?.name}`, () => {
    it('lists its devices', () => {
      const d = cuda.devices();
      expect(d.length).toBeGreaterThan(0);
      expect(d[0].totalMemory).toBeGreaterThan(0);
      expect(d[0].computeCapability).toMatch(/^\d+\.\d+$/);
    });

    for (const c of fixtures.cases) {
      it(`matches PyTorch: ${c.name}`, () => {
        const input = decode(c.input);
        const target = c.targetKind === 'index' ? Int32Array.from(c.target as number[]) : decode(c.target);
        const o = c.options;
        const r = crossEntropy(input, target, {
          shape: c.shape,
          reduction: o.reduction,
          ignoreIndex: o.ignoreIndex,
          labelSmoothing: o.labelSmoothing,
          weight: o.weight ? decode(o.weight) : undefined,
          gradOutput: o.gradOutput ? decode(o.gradOutput) : undefined,
          gradScale: o.gradScale,
          sampleWeight: o.sampleWeight ? decode(o.sampleWeight) : undefined,
          backend: 'cuda',
        });
        if (Array.isArray(c.loss)) expectClose(r.loss as Float32Array, decode(c.loss), 2e-5, 2e-6, 'loss');
        else expectClose([r.loss as number], decode([c.loss]), 2e-5, 0, 'loss');
        expectClose(r.grad, decode(c.grad), 2e-5, 2e-6, 'grad');
      });
    }

    // every kernel: warp-per-row (C in 32…1024, each register width), block-per-row (C > 1024), lanes (C < 32 or spatial)
    const shapes = [
      [4096, 1000],
      [256, 32000],
      [65536, 10],
      [4, 21, 64, 64],
      [7, 33],
      [3, 5, 17],
      [50, 64],
      [37, 100],
      [19, 250],
      [11, 500],
      [5, 1024],
      [9, 1025],
    ];
    for (const shape of shapes)
      for (const kind of ['index', 'prob'] as const)
        for (const [reduction, ls, weighted] of [
          ['mean', 0, false],
          ['sum', 0.1, true],
          ['none', 0.05, false],
        ] as const) {
          it(`matches the CPU kernels: [${shape}] ${kind} ${reduction} ls=${ls} weight=${weighted}`, async () => {
            const r = rng(shape[0] * 31 + shape[1]);
            const [n, c] = shape;
            const s = shape.slice(2).reduce((a, b) => a * b, 1);
            const input = r.floats(n * c * s, 3);
            let target: Int32Array | Float32Array;
            if (kind === 'index') target = Int32Array.from({ length: n * s }, () => (r.next() < 0.1 ? -100 : r.int(0, c)));
            else {
              target = new Float32Array(n * c * s);
              for (let i = 0; i < n; i++) for (let j = 0; j < s; j++) for (let k = 0; k < c; k++) target[(i * c + k) * s + j] = 1 / c;
            }
            const opts: CrossEntropyOptions = {
              shape,
              reduction,
              labelSmoothing: ls,
              weight: weighted ? Float32Array.from({ length: c }, () => 0.5 + r.next()) : undefined,
              gradOutput: reduction === 'none' ? r.floats(n * s) : undefined,
            };
            const cpu = crossEntropy(input, target, opts);
            const gpu = crossEntropy(input, target, { ...opts, backend: 'cuda' });
            const gpuAsync = await crossEntropyAsync(input, target, { ...opts, backend: 'cuda' });
            if (reduction === 'none') {
              expectClose(gpu.loss as Float32Array, cpu.loss as Float32Array, 2e-5, 2e-6, 'loss');
              expectClose(gpuAsync.loss as Float32Array, cpu.loss as Float32Array, 2e-5, 2e-6, 'async loss');
            } else {
              expectClose([gpu.loss as number], [cpu.loss as number], 2e-5, 0, 'loss');
              expect(gpuAsync.loss).toBe(gpu.loss);
            }
            expectClose(gpu.grad, cpu.grad, 2e-5, 2e-6, 'grad');
            expectClose(gpuAsync.grad, gpu.grad, 0, 0, 'async grad');
          });
        }

    it('works in place and with preallocated outputs', () => {
      const r = rng(9);
      const input = r.floats(64 * 500, 2);
      const target = Int32Array.from({ length: 64 }, () => r.int(0, 500));
      const cpu = crossEntropy(input, target, { shape: [64, 500] });
      const buf = input.slice();
      const inplace = crossEntropy(buf, target, { shape: [64, 500], backend: 'cuda', inplace: true });
      expect(inplace.grad).toBe(buf);
      expectClose(buf, cpu.grad, 2e-5, 2e-6, 'inplace');
      const grad = new Float32Array(64 * 500);
      crossEntropy(input, target, { shape: [64, 500], backend: 'cuda', out: { grad } });
      expectClose(grad, cpu.grad, 2e-5, 2e-6, 'out');
    });

    it('rejects out-of-range class ids before writing anything', () => {
      const grad = new Float32Array(6).fill(7);
      expect(() => crossEntropy(new Float32Array(6), new Int32Array([0, 3]), { shape: [2, 3], backend: 'cuda', out: { grad } })).toThrow(
        /target\[1\] = 3/,
      );
      expect(grad.every((v) => v === 7)).toBe(true);
    });
  });

  describe(`elementwise losses on ${cuda.devices()[0]?.name}: the CPU kernels' bits`, () => {
    let seed = 9000;
    for (const spec of ELEMENTWISE_LOSSES) {
      const reductions = spec.name === 'klDiv' ? ['mean', 'sum', 'none', 'batchmean'] : ['mean', 'sum', 'none'];
      for (const shape of [[37], [64, 129], [1000, 1001]])
        for (const reduction of reductions)
          for (const o of optionSets[spec.name])
            for (const withSampleWeight of [false, true]) {
              const sd = seed++;
              it(`${spec.name} [${shape}] ${reduction} ${JSON.stringify(o)}${withSampleWeight ? ' sampleWeight' : ''}`, async () => {
                const numel = shape.reduce((a, b) => a * b, 1);
                const { input, target } = problem(spec.name, sd, numel);
                const opts: Record<string, unknown> = { ...materialize(spec.name, o, shape, sd), shape, reduction, gradScale: 0.75 };
                if (withSampleWeight)
                  opts.sampleWeight = rng(sd + 3)
                    .floats(shape[0])
                    .map(Math.abs);
                if (reduction === 'none') opts.gradOutput = rng(sd + 1).floats(numel);
                const cpu = ewFn(spec.name)(input, target, { ...opts, backend: 'native' });
                const gpu = ewFn(spec.name)(input, target, { ...opts, backend: 'cuda' });
                const gpuAsync = await ewFnAsync(spec.name)(input, target, { ...opts, backend: 'cuda' });
                for (const r of [gpu, gpuAsync]) {
                  // the same bits, NaN for NaN (the GPU's NaN is 0x7fffffff, the CPU's 0x7fc00000)
                  expectSameBits(r.grad, cpu.grad, 'grad', { nanPayloads: false });
                  if (reduction === 'none')
                    expectSameBits(r.loss as Float32Array, cpu.loss as Float32Array, 'loss', { nanPayloads: false });
                  else expectClose([r.loss as number], [cpu.loss as number], 1e-12, 0, 'loss');
                }
              });
            }
    }

    it('checks arguments before touching the device (nothing written)', () => {
      const grad = new Float32Array(4).fill(7);
      expect(() =>
        fl.binaryCrossEntropy(Float32Array.from([0.5, 2, 0.1, 0.2]), new Float32Array(4), { shape: [4], backend: 'cuda', out: { grad } }),
      ).toThrow(/input\[1\]/);
      expect(grad.every((v) => v === 7)).toBe(true);
    });
  });

  describe(`MultiTaskLoss on ${cuda.devices()[0]?.name}`, () => {
    const r0 = rng(4242);
    const n = 3000;
    const batch = () => mtlBatch(r0, n);
    const tasks = MTL_TASKS;
    for (const strategy of ['static', 'gls', 'famo'] as const) {
      it(`${strategy}: the GPU step equals the CPU step (elementwise tasks bit for bit, cross-entropy within rounding)`, async () => {
        const b = batch();
        const weighting = strategy === 'static' ? { strategy, weights: [0.5, 2, 1, 3] } : { strategy };
        const cpu = new fl.MultiTaskLoss({ tasks, weighting }).compute(b);
        const gpu = new fl.MultiTaskLoss({ tasks, weighting, backend: 'cuda' }).compute(b);
        const gpuAsync = await new fl.MultiTaskLoss({ tasks, weighting, backend: 'cuda' }).computeAsync(b);
        for (const r of [gpu, gpuAsync]) {
          expect(r.tasks).toEqual(cpu.tasks);
          expect(r.skipped).toEqual(['masked']);
          expect([...r.grads.masked].every((v) => v === 0)).toBe(true);
          for (const t of r.tasks) {
            expect(r.taskLosses[t] / cpu.taskLosses[t]).toBeCloseTo(1, 5);
            expect(r.weights[t] / cpu.weights[t]).toBeCloseTo(1, 5);
          }
          if (strategy === 'static') {
            expectSameBits(r.grads.sex, cpu.grads.sex, 'sex');
            expectSameBits(r.grads.mass, cpu.grads.mass, 'mass');
          }
          for (const t of r.tasks) expectClose(r.grads[t], cpu.grads[t], 2e-5, 2e-6, t);
          expect(r.loss / cpu.loss).toBeCloseTo(1, 5);
        }
      });
    }

    // Every row loss as a task, beside a cross-entropy task; an empty row task (N = 0) among them.
    const rowTasks = {
      margin: { loss: 'multiMarginLoss', p: 2, margin: 0.8 },
      multilabel: { loss: 'multilabelSoftMarginLoss' },
      cosine: { loss: 'cosineEmbeddingLoss', margin: 0.2 },
      f1: { loss: 'softF1Loss' },
      distance: { loss: 'cosineDistance', reduction: 'sum' },
      ce: { loss: 'crossEntropy' },
      none: { loss: 'multiMarginLoss' },
    } as const;
    const rowBatch = (r: ReturnType<typeof rng>, N: number, C: number, device: boolean) => {
      const d = <T extends Float32Array | Int32Array>(a: T) => (device ? DeviceBuffer.from(a) : a);
      const labels = Float32Array.from({ length: N * C }, () => (r.next() < 0.3 ? 1 : 0));
      return {
        margin: {
          input: d(r.floats(N * C, 2)),
          target: d(Int32Array.from({ length: N }, () => r.int(0, C))),
          shape: [N, C],
          sampleWeight: d(Float32Array.from({ length: N }, () => 0.5 + r.next())),
        },
        multilabel: { input: d(r.floats(N * C, 2)), target: d(labels), shape: [N, C] },
        cosine: {
          input: d(r.floats(N * C)),
          input2: d(r.floats(N * C)),
          target: d(Float32Array.from({ length: N }, (_, i) => (i % 3 ? 1 : -1))),
          shape: [N, C],
        },
        f1: { input: d(r.floats(N * C, 2)), target: d(labels.slice()), shape: [N, C] },
        distance: { input: d(r.floats(N * C, 1 / C)), target: d(r.floats(N * C)), shape: [N, C] }, // 1 − t·x > 0 (gls takes logs)
        ce: { input: d(r.floats(N * C, 2)), target: d(Int32Array.from({ length: N }, () => r.int(0, C))), shape: [N, C] },
        none: { input: d(new Float32Array(0)), target: d(new Int32Array(0)), shape: [0, C] },
      };
    };
    for (const [strategy, N, C] of [
      ['static', 64, 40],
      ['gls', 33, 1000],
      ['dbmtl', 300, 7],
    ] as const) {
      it(`row-loss tasks (${strategy}, [${N}, ${C}]): host arrays and DeviceBuffers against the CPU step`, async () => {
        const weighting = strategy === 'static' ? { strategy, weights: [0.5, 2, 1, 3, 0.25, 1.5, 1] } : { strategy };
        const cpu = new fl.MultiTaskLoss({ tasks: rowTasks, weighting }).compute(rowBatch(rng(N + C), N, C, false) as never);
        const onHost = new fl.MultiTaskLoss({ tasks: rowTasks, weighting, backend: 'cuda' }).compute(
          rowBatch(rng(N + C), N, C, false) as never,
        );
        const onDevice = await new fl.MultiTaskLoss({ tasks: rowTasks, weighting, backend: 'cuda' }).computeAsync(
          rowBatch(rng(N + C), N, C, true) as never,
        );
        for (const r of [onHost, onDevice]) {
          expect(r.tasks).toEqual(cpu.tasks);
          expect(r.skipped).toEqual(['none']);
          for (const t of r.tasks) {
            expect(r.taskLosses[t] / cpu.taskLosses[t]).toBeCloseTo(1, 5);
            expect(r.weights[t] / cpu.weights[t]).toBeCloseTo(1, 5);
          }
          expect(r.loss / cpu.loss).toBeCloseTo(1, 5);
        }
        for (const t of cpu.tasks) {
          expectClose(onHost.grads[t], cpu.grads[t], 2e-5, 2e-6, t);
          expect(onDevice.deviceGrads[t]).toBeInstanceOf(DeviceBuffer);
          expectClose(onDevice.deviceGrads[t].toHost(), cpu.grads[t], 2e-5, 2e-6, `${t} (device)`);
        }
        expectClose(onHost.grads2.cosine, cpu.grads2.cosine, 2e-5, 2e-6, 'cosine grad2');
        expectClose(onDevice.deviceGrads2.cosine.toHost(), cpu.grads2.cosine, 2e-5, 2e-6, 'cosine grad2 (device)');
        expect(Object.keys(onDevice.grads2)).toEqual([]);
      });
    }

    it('row-loss tasks: device class ids are checked before anything is written', () => {
      const grad = DeviceBuffer.from(new Float32Array(6).fill(7));
      const mtl = new fl.MultiTaskLoss({ tasks: { a: { loss: 'multiMarginLoss' }, b: { loss: 'mseLoss' } }, backend: 'cuda' });
      const bGrad = new Float32Array(4).fill(7);
      expect(() =>
        mtl.compute({
          a: {
            input: DeviceBuffer.from(new Float32Array(6)),
            target: DeviceBuffer.from(Int32Array.of(0, 3)),
            shape: [2, 3],
            out: { grad },
          },
          b: { input: new Float32Array(4), target: new Float32Array(4), shape: [4], out: { grad: bGrad } },
        }),
      ).toThrow(/tasks\.a: target\[1\] = 3/);
      expect([...grad.toHost()]).toEqual([7, 7, 7, 7, 7, 7]);
      expect([...bGrad]).toEqual([7, 7, 7, 7]);
    });
  });

  // PyTorch's own CUDA losses on the same GPU (scripts/gpu/torch-cuda-peer.py writes them; the README's GPU
  // test command runs it first): the same seeded inputs through fuseloss's CUDA kernels, on host arrays and on
  // DeviceBuffers. Both sides are float32 on the GPU: losses within 2e-5 relative, gradients within
  // 2e-5·|e| + 2e-6·max|e|; NaN and infinities must match exactly.
  describe(`PyTorch's CUDA losses on ${cuda.devices()[0]?.name}`, () => {
    const dir = process.env.FUSELOSS_TORCH_CUDA ?? join(__dirname, '..', '..', 'build', 'torch-cuda');
    const have = existsSync(join(dir, 'manifest.json'));
    it('has the peer results (python3 scripts/gpu/torch-cuda-peer.py)', () => {
      expect(have, `${dir}/manifest.json is missing: run python3 scripts/gpu/torch-cuda-peer.py on this machine first`).toBe(true);
    });
    if (!have) return;
    type Ref = { offset: number; length: number; dtype: 'f32' | 'i32' };
    type PeerCase = {
      name: string;
      fn: string;
      shape: number[];
      input: Ref;
      input2?: Ref;
      target: Ref;
      options: Record<string, Ref | number | boolean>;
      reduction: string;
      loss: number | string | Ref;
      grad: Ref;
      grad2?: Ref;
      gradOutput?: Ref;
    };
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { torch: string; cases: PeerCase[] };
    const data = readFileSync(join(dir, 'data.bin'));
    const arr = (r: Ref) => {
      const bytes = data.buffer.slice(data.byteOffset + r.offset, data.byteOffset + r.offset + r.length * 4);
      return r.dtype === 'i32' ? new Int32Array(bytes) : new Float32Array(bytes);
    };
    const isRef = (v: unknown): v is Ref => typeof v === 'object' && v !== null && 'offset' in v;
    const scalar = (v: number | string) => (typeof v === 'string' ? Number(v) : v);
    for (const c of manifest.cases) {
      it(`torch ${manifest.torch}: ${c.name}`, async () => {
        const opts: Record<string, unknown> = { shape: c.shape, reduction: c.reduction };
        for (const [k, v] of Object.entries(c.options)) opts[k] = isRef(v) ? arr(v) : v;
        if (c.gradOutput) opts.gradOutput = arr(c.gradOutput);
        const x = arr(c.input),
          x2 = c.input2 ? arr(c.input2) : undefined,
          t = arr(c.target);
        const f = (
          fl as unknown as Record<
            string,
            (...a: unknown[]) => {
              loss: number | Float32Array | DeviceBuffer;
              grad: Float32Array | DeviceBuffer;
              grad2?: Float32Array | DeviceBuffer;
            }
          >
        )[c.fn];
        const fa = (fl as unknown as Record<string, (...a: unknown[]) => Promise<ReturnType<typeof f>>>)[`${c.fn}Async`];
        const call = (g: typeof f, a: unknown, a2: unknown, tt: unknown, o: object) => (x2 ? g(a, a2, tt, o) : g(a, tt, o));
        const dev = (v: unknown) => (v instanceof Float32Array || v instanceof Int32Array ? DeviceBuffer.from(v) : v);
        const devOpts = Object.fromEntries(Object.entries(opts).map(([k, v]) => [k, dev(v)]));
        const results = [call(f, x, x2, t, { ...opts, backend: 'cuda' }), await call(fa as never, dev(x), x2 && dev(x2), dev(t), devOpts)];
        for (const [k, r] of results.entries()) {
          const at = `${k ? 'DeviceBuffers' : 'host arrays'}`;
          const h = (v: unknown) => (v instanceof DeviceBuffer ? (v.toHost() as Float32Array) : (v as Float32Array));
          if (isRef(c.loss)) expectClose(h(r.loss), arr(c.loss) as Float32Array, 2e-5, 1e-6, `${at} loss`);
          else expectClose([r.loss as number], [scalar(c.loss)], 2e-5, 0, `${at} loss`);
          expectClose(h(r.grad), arr(c.grad) as Float32Array, 2e-5, 2e-6, `${at} grad`);
          if (c.grad2) expectClose(h(r.grad2), arr(c.grad2) as Float32Array, 2e-5, 2e-6, `${at} grad2`);
        }
      });
    }
  });
}
