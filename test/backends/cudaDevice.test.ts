// DeviceBuffer: GPU memory passed wherever a Float32Array (or Int32Array of class ids) goes, with backend
// 'cuda'. On a GPU machine: round trips, every loss family on device-resident data against the same call
// on host arrays (the same kernels, so the same bits), mixed host/device arguments, outputs that stay on
// the device, checks that read device data (class ids, BCE's probabilities) before anything is written,
// lifetime (dispose, pending async calls), out-of-memory errors. Without a GPU: a clear error.
import { describe, expect, it } from 'vitest';
import * as fl from '../../src/index';
import { crossEntropy, crossEntropyAsync, cuda, CudaUnavailableError, DeviceBuffer, MultiTaskLoss } from '../../src/index';
import { ELEMENTWISE_LOSSES } from '../../src/losses/ops';
import { materialize, optionSets, problem } from '../losses/elementwiseProblems';
import { expectClose, expectSameBits, mtlBatch, MTL_TASKS, rng } from '../helpers';

type AnyLoss = (
  input: unknown,
  target: unknown,
  options?: object,
) => { loss: number | Float32Array | DeviceBuffer; grad: Float32Array | DeviceBuffer };
const ewFn = (name: string) => (fl as unknown as Record<string, AnyLoss>)[name];
const ewFnAsync = (name: string) =>
  (fl as unknown as Record<string, (...a: Parameters<AnyLoss>) => Promise<ReturnType<AnyLoss>>>)[`${name}Async`];
const host = (v: unknown) => (v instanceof DeviceBuffer ? (v.toHost() as Float32Array) : (v as Float32Array));

if (!cuda.available()) {
  describe('DeviceBuffer without a usable GPU', () => {
    it('throws CudaUnavailableError', () => {
      expect(() => DeviceBuffer.alloc(4)).toThrow(CudaUnavailableError);
      expect(() => DeviceBuffer.from(new Float32Array(4))).toThrow(CudaUnavailableError);
      expect(() => cuda.lastKernelMs()).toThrow(CudaUnavailableError);
    });
  });
} else {
  describe('DeviceBuffer', () => {
    it('round-trips float32 and int32, allocates zeros, copies on the device', () => {
      const f = rng(1).floats(1001);
      const df = DeviceBuffer.from(f);
      expect(df.dtype).toBe('float32');
      expect(df.length).toBe(1001);
      expect(df.byteLength).toBe(4004);
      expectSameBits(df.toHost(), f, 'float32');
      const i = Int32Array.from({ length: 77 }, (_, k) => k * 3 - 50);
      const di = DeviceBuffer.from(i);
      expect(di.dtype).toBe('int32');
      expect([...di.toHost()]).toEqual([...i]);
      const z = DeviceBuffer.alloc(513);
      expect(z.toHost().every((v) => v === 0)).toBe(true);
      const ms = z.copyFrom(DeviceBuffer.from(rng(2).floats(513)));
      expect(ms).toBeGreaterThanOrEqual(0);
      expectSameBits(z.toHost(), rng(2).floats(513), 'copyFrom');
      const out = new Float32Array(1001);
      expect(df.toHost(out)).toBe(out);
      df.copyFromHost(rng(3).floats(1001));
      expectSameBits(df.toHost(), rng(3).floats(1001), 'copyFromHost');
      expect(DeviceBuffer.alloc(0).toHost().length).toBe(0);
      const d64 = Float64Array.from({ length: 333 }, (_, k) => k / 7 - 20);
      const b64 = DeviceBuffer.from(d64);
      expect(b64.dtype).toBe('float64');
      expect(b64.byteLength).toBe(333 * 8);
      expect([...b64.toHost()]).toEqual([...d64]);
      expect(() => crossEntropy(b64 as never, new Int32Array(1), { shape: [1, 333] })).toThrow(TypeError);
      b64.zero();
      expect(b64.toHost().every((v) => v === 0)).toBe(true);
      df.zero();
      expect(df.toHost().every((v) => v === 0)).toBe(true);
      b64.dispose();
      for (const b of [df, di, z]) b.dispose();
    });

    it('checks its arguments and its lifetime', () => {
      expect(() => DeviceBuffer.alloc(-1)).toThrow(RangeError);
      expect(() => DeviceBuffer.alloc(1.5)).toThrow(RangeError);
      expect(() => DeviceBuffer.alloc(4, 'float16' as never)).toThrow(TypeError);
      expect(() => DeviceBuffer.from([1, 2] as never)).toThrow(TypeError);
      const b = DeviceBuffer.alloc(8);
      expect(() => b.toHost(new Float32Array(7))).toThrow(/8 elements/);
      expect(() => b.copyFromHost(new Int32Array(8) as never)).toThrow(TypeError);
      expect(() => b.copyFrom(DeviceBuffer.alloc(9))).toThrow(TypeError);
      b.dispose();
      b.dispose();
      expect(b.disposed).toBe(true);
      expect(() => b.toHost()).toThrow(/disposed/);
      expect(() => crossEntropy(b, new Int32Array([0, 1]), { shape: [2, 4] })).toThrow(/disposed/);
    });

    it('reports running out of device memory as an Error, and keeps working', () => {
      const total = cuda.devices()[0].totalMemory;
      expect(() => DeviceBuffer.alloc(Math.ceil((total * 2) / 4))).toThrow(/out of memory/);
      const ok = DeviceBuffer.from(Float32Array.of(1, 2, 3));
      expect([...ok.toHost()]).toEqual([1, 2, 3]);
      ok.dispose();
    });

    it('refuses backends other than cuda', () => {
      const x = DeviceBuffer.alloc(8);
      expect(() => crossEntropy(x, new Int32Array(2), { shape: [2, 4], backend: 'native' })).toThrow(/need backend 'cuda'/);
      expect(() => fl.mseLoss(x, new Float32Array(8), { shape: [8], backend: 'reference' })).toThrow(/need backend 'cuda'/);
      expect(() => fl.linearForward(x, new Float32Array(4), null, { batch: 2, inFeatures: 4, outFeatures: 1, backend: 'native' })).toThrow(
        /need backend 'cuda'/,
      );
      const mtl = new MultiTaskLoss({ tasks: { a: { loss: 'mseLoss' } } });
      expect(() => mtl.compute({ a: { input: x, target: new Float32Array(8), shape: [8] } })).toThrow(/backend 'cuda'/);
      x.dispose();
    });
  });

  describe('crossEntropy on DeviceBuffers', () => {
    const cases = [
      { shape: [512, 1000], kind: 'index', reduction: 'mean', ls: 0.1, weighted: true },
      { shape: [64, 32000], kind: 'index', reduction: 'sum', ls: 0, weighted: false },
      { shape: [300, 77], kind: 'prob', reduction: 'none', ls: 0.05, weighted: true },
      { shape: [8, 5, 33], kind: 'index', reduction: 'none', ls: 0, weighted: false },
      { shape: [1000, 10], kind: 'prob', reduction: 'mean', ls: 0, weighted: false },
    ] as const;
    for (const c of cases) {
      it(`[${c.shape}] ${c.kind} ${c.reduction}: device-resident equals host arrays (same kernels, same bits)`, async () => {
        const r = rng(c.shape[0] + c.shape[1]);
        const [n, C] = c.shape;
        const s = c.shape.slice(2).reduce((a, b) => a * b, 1);
        const input = r.floats(n * C * s, 3);
        const target =
          c.kind === 'index'
            ? Int32Array.from({ length: n * s }, () => (r.next() < 0.1 ? -100 : r.int(0, C)))
            : Float32Array.from({ length: n * C * s }, () => r.next() / C);
        const weight = c.weighted ? Float32Array.from({ length: C }, () => 0.5 + r.next()) : undefined;
        const sampleWeight = Float32Array.from({ length: n }, () => r.next());
        const gradOutput = c.reduction === 'none' ? r.floats(n * s) : undefined;
        const base = { shape: c.shape, reduction: c.reduction, labelSmoothing: c.ls, gradScale: 0.5 } as const;
        const ref = crossEntropy(input, target, { ...base, weight, sampleWeight, gradOutput, backend: 'cuda' });
        const dx = DeviceBuffer.from(input),
          dt = DeviceBuffer.from(target as Float32Array);
        const dw = weight && DeviceBuffer.from(weight),
          dsw = DeviceBuffer.from(sampleWeight),
          dgo = gradOutput && DeviceBuffer.from(gradOutput);
        const all = crossEntropy(dx, dt, { ...base, weight: dw, sampleWeight: dsw, gradOutput: dgo });
        const mixed = crossEntropy(dx, target, { ...base, weight, sampleWeight, gradOutput, backend: 'cuda' });
        const asyncR = await crossEntropyAsync(dx, dt, { ...base, weight: dw, sampleWeight: dsw, gradOutput: dgo });
        for (const [label, res] of [
          ['device', all],
          ['mixed', mixed],
          ['async', asyncR],
        ] as const) {
          expect(res.grad).toBeInstanceOf(DeviceBuffer);
          expectSameBits(res.grad.toHost(), ref.grad, `${label} grad`);
          if (c.reduction === 'none') {
            expect(res.loss).toBeInstanceOf(DeviceBuffer);
            expectSameBits(host(res.loss), ref.loss as Float32Array, `${label} loss`);
          } else expect(res.loss).toBe(ref.loss);
        }
        // the input and target are untouched; in place overwrites the input buffer
        expectSameBits(dx.toHost(), input, 'input untouched');
        const ip = crossEntropy(dx, dt, { ...base, weight: dw, sampleWeight: dsw, gradOutput: dgo, inplace: true });
        expect(ip.grad).toBe(dx);
        expectSameBits(dx.toHost(), ref.grad, 'inplace');
        const out = DeviceBuffer.alloc(input.length);
        const pre = crossEntropy(DeviceBuffer.from(input), dt, {
          ...base,
          weight: dw,
          sampleWeight: dsw,
          gradOutput: dgo,
          out: { grad: out },
        });
        expect(pre.grad).toBe(out);
        expectSameBits(out.toHost(), ref.grad, 'out.grad');
      });
    }

    it('checks class ids and class weights on the device before writing anything', () => {
      const x = DeviceBuffer.from(rng(5).floats(6));
      const grad = DeviceBuffer.from(new Float32Array(6).fill(7));
      expect(() => crossEntropy(x, DeviceBuffer.from(Int32Array.of(0, 3)), { shape: [2, 3], out: { grad } })).toThrow(/target\[1\] = 3/);
      expect(() => crossEntropy(x, DeviceBuffer.from(Int32Array.of(0, 1, 2)), { shape: [2, 3], out: { grad } })).toThrow(/2 class ids/);
      expect(() =>
        crossEntropy(x, Int32Array.of(0, 1), { shape: [2, 3], weight: DeviceBuffer.from(new Float32Array(4)), out: { grad } }),
      ).toThrow(/weight/);
      const ids = DeviceBuffer.from(Int32Array.of(0, 1));
      expect(() => crossEntropy(x, ids, { shape: [2, 3], out: { grad: ids as never } })).toThrow(TypeError);
      expect(() => crossEntropy(x, Int32Array.of(0, 1), { shape: [2, 3], nanPolicy: 'raise' })).toThrow(/nanPolicy 'raise'/);
      expect([...grad.toHost()]).toEqual([7, 7, 7, 7, 7, 7]);
    });

    it('keeps buffers alive for a pending async call: dispose() waits for it', async () => {
      const input = rng(6).floats(4096 * 1000);
      const target = Int32Array.from({ length: 4096 }, (_, i) => i % 1000);
      const ref = crossEntropy(input, target, { shape: [4096, 1000], backend: 'cuda' });
      const dx = DeviceBuffer.from(input);
      const pending = crossEntropyAsync(dx, DeviceBuffer.from(target), { shape: [4096, 1000] });
      dx.dispose();
      expect(dx.disposed).toBe(true);
      const r = await pending;
      expectSameBits(r.grad.toHost(), ref.grad, 'grad');
      expect(() => dx.toHost()).toThrow(/disposed/);
    });
  });

  describe('nllLoss on CUDA', () => {
    const cases = [
      { shape: [64, 10], reduction: 'mean', weighted: true },
      { shape: [8, 5, 33], reduction: 'none', weighted: false },
      { shape: [300, 1000], reduction: 'sum', weighted: true },
      { shape: [7, 3], reduction: 'mean', weighted: false, allIgnored: true },
    ] as const;
    for (const c of cases) {
      it(`[${c.shape}] ${c.reduction}: the CPU's gradient bits, host arrays and DeviceBuffers, sync and async`, async () => {
        const r = rng(c.shape[0] * 7 + c.shape[1]);
        const [n, C] = c.shape;
        const s = c.shape.slice(2).reduce((a, b) => a * b, 1);
        const input = r.floats(n * C * s, 3);
        const target = Int32Array.from({ length: n * s }, () => ('allIgnored' in c || r.next() < 0.1 ? -100 : r.int(0, C)));
        const opts = {
          shape: c.shape,
          reduction: c.reduction,
          gradScale: 0.5,
          sampleWeight: Float32Array.from({ length: n }, () => r.next()),
          weight: c.weighted ? Float32Array.from({ length: C }, () => 0.5 + r.next()) : undefined,
          gradOutput: c.reduction === 'none' ? r.floats(n * s) : undefined,
        } as const;
        const cpu = fl.nllLoss(input, target, opts);
        const gpu = fl.nllLoss(input, target, { ...opts, backend: 'cuda' });
        const dx = DeviceBuffer.from(input),
          dt = DeviceBuffer.from(target);
        const dev = fl.nllLoss(dx, dt, opts);
        const devAsync = await fl.nllLossAsync(dx, dt, opts);
        for (const res of [gpu, dev, devAsync]) {
          expectSameBits(host(res.grad), cpu.grad, 'grad');
          if (c.reduction === 'none') expectSameBits(host(res.loss), cpu.loss as Float32Array, 'loss');
          else if (Number.isNaN(cpu.loss)) expect(res.loss).toBeNaN();
          else expect(Math.abs((res.loss as number) - (cpu.loss as number))).toBeLessThanOrEqual(1e-12 * Math.abs(cpu.loss as number));
        }
        const ip = fl.nllLoss(dx, dt, { ...opts, inplace: true });
        expect(ip.grad).toBe(dx);
        expectSameBits(dx.toHost(), cpu.grad, 'in place');
      });
    }

    it('checks class ids before writing, and works as a MultiTaskLoss task', () => {
      const grad = DeviceBuffer.from(new Float32Array(6).fill(7));
      expect(() =>
        fl.nllLoss(DeviceBuffer.from(new Float32Array(6)), DeviceBuffer.from(Int32Array.of(0, 5)), { shape: [2, 3], out: { grad } }),
      ).toThrow(/target\[1\] = 5/);
      expect([...grad.toHost()]).toEqual([7, 7, 7, 7, 7, 7]);
      const r = rng(11);
      const batch = {
        a: { input: r.floats(40 * 12), target: Int32Array.from({ length: 40 }, (_, i) => i % 12), shape: [40, 12] },
        b: { input: r.floats(40 * 3), target: r.floats(40 * 3), shape: [40, 3] },
      };
      const tasks = {
        a: { loss: 'nllLoss', weight: Float32Array.from({ length: 12 }, (_, i) => 1 + i / 10) },
        b: { loss: 'mseLoss' },
      } as const;
      const cpu = new MultiTaskLoss({ tasks, weighting: { strategy: 'static', weights: [0.5, 2] } }).compute(batch);
      const gpu = new MultiTaskLoss({ tasks, weighting: { strategy: 'static', weights: [0.5, 2] }, backend: 'cuda' }).compute({
        ...batch,
        a: { ...batch.a, input: DeviceBuffer.from(batch.a.input) },
      });
      expectSameBits(gpu.deviceGrads.a.toHost(), cpu.grads.a, 'nll task');
      expectSameBits(gpu.grads.b, cpu.grads.b, 'mse task');
      expect(gpu.loss / cpu.loss).toBeCloseTo(1, 12);
    });
  });

  describe('elementwise losses on DeviceBuffers', () => {
    let seed = 7000;
    for (const spec of ELEMENTWISE_LOSSES)
      for (const reduction of ['mean', 'none'] as const) {
        const sd = seed++;
        it(`${spec.name} ${reduction}: device-resident equals host arrays and the CPU's bits`, async () => {
          const shape = [64, 129];
          const numel = 64 * 129;
          const { input, target } = problem(spec.name, sd, numel);
          const o = optionSets[spec.name][optionSets[spec.name].length - 1];
          const opts: Record<string, unknown> = { ...materialize(spec.name, o, shape, sd), shape, reduction, gradScale: 0.75 };
          opts.sampleWeight = rng(sd + 3)
            .floats(64)
            .map(Math.abs);
          if (reduction === 'none') opts.gradOutput = rng(sd + 1).floats(numel);
          const cpu = ewFn(spec.name)(input, target, { ...opts, backend: 'native' });
          const dev: Record<string, unknown> = { ...opts };
          for (const k of ['weight', 'posWeight', 'sampleWeight', 'gradOutput'])
            if (dev[k] instanceof Float32Array) dev[k] = DeviceBuffer.from(dev[k] as Float32Array);
          const dx = DeviceBuffer.from(input),
            dt = DeviceBuffer.from(target);
          for (const r of [
            ewFn(spec.name)(dx, dt, dev),
            await ewFnAsync(spec.name)(dx, dt, dev),
            ewFn(spec.name)(dx, target, { ...opts, backend: 'cuda' }),
          ]) {
            expect(r.grad).toBeInstanceOf(DeviceBuffer);
            expectSameBits(host(r.grad), cpu.grad as Float32Array, 'grad', { nanPayloads: false });
            if (reduction === 'none') expectSameBits(host(r.loss), cpu.loss as Float32Array, 'loss', { nanPayloads: false });
            else expect(Math.abs((r.loss as number) - (cpu.loss as number))).toBeLessThanOrEqual(1e-12 * Math.abs(cpu.loss as number));
          }
        });
      }

    it('binaryCrossEntropy checks device-resident probabilities on the device before writing', () => {
      const grad = DeviceBuffer.from(new Float32Array(5).fill(7));
      const x = DeviceBuffer.from(Float32Array.of(0.5, 0.2, 1, 0, 1.5));
      expect(() => fl.binaryCrossEntropy(x, new Float32Array(5), { shape: [5], out: { grad } })).toThrow(/input\[4\] = 1\.5/);
      expect([...grad.toHost()]).toEqual([7, 7, 7, 7, 7]);
      const nan = DeviceBuffer.from(Float32Array.of(0.5, NaN, 0.5, 0.5, 0.5));
      expect(() => fl.binaryCrossEntropy(nan, new Float32Array(5), { shape: [5] })).toThrow(/input\[1\] = -?nan/i);
    });
  });

  describe('MultiTaskLoss on DeviceBuffers', () => {
    const data = mtlBatch(rng(99), 2000);
    const tasks = MTL_TASKS;
    for (const strategy of ['static', 'gls', 'famo'] as const) {
      it(`${strategy}: gradients stay on the device and equal the host-array step bit for bit`, async () => {
        const weighting = strategy === 'static' ? { strategy, weights: [0.5, 2, 1, 3] } : { strategy };
        const hostR = new MultiTaskLoss({ tasks, weighting, backend: 'cuda' }).compute(data);
        const dev = Object.fromEntries(
          Object.entries(data).map(([k, v]) => [
            k,
            { ...v, input: DeviceBuffer.from(v.input), target: DeviceBuffer.from(v.target as Float32Array) },
          ]),
        );
        for (const r of [
          new MultiTaskLoss({ tasks, weighting, backend: 'cuda' }).compute(dev),
          await new MultiTaskLoss({ tasks, weighting, backend: 'cuda' }).computeAsync(dev),
        ]) {
          expect(Object.keys(r.grads)).toEqual([]);
          expect(r.skipped).toEqual(['masked']);
          expect(r.loss).toBe(hostR.loss);
          for (const t of Object.keys(data)) expectSameBits(r.deviceGrads[t].toHost(), hostR.grads[t], t);
        }
      });
    }
  });

  describe('GradAccumulator on CUDA', () => {
    it('sums on the device with the CPU bits, from host arrays and DeviceBuffers', () => {
      const r = rng(77);
      const steps = [0, 1, 2, 3].map(() => ({ w: r.floats(70001, 3), b: r.floats(129) }));
      const cpu = new fl.GradAccumulator();
      for (const s of steps) cpu.add(s);
      const gpu = new fl.GradAccumulator<DeviceBuffer<'float32'>>();
      steps.forEach((s, k) => gpu.add(k % 2 ? { w: DeviceBuffer.from(s.w), b: s.b } : { w: s.w, b: DeviceBuffer.from(s.b) }));
      expect(gpu.backend).toBe('cuda');
      expect(gpu.steps).toBe(4);
      for (const mean of [true, false]) {
        const want = cpu.read({ mean }),
          got = gpu.read({ mean });
        for (const k of ['w', 'b']) {
          expect(got[k]).toBeInstanceOf(DeviceBuffer);
          expectSameBits(got[k].toHost(), want[k], `${k} mean=${mean}`);
        }
      }
      const outW = new Float32Array(70001),
        outB = DeviceBuffer.alloc(129);
      const into = gpu.read({ out: { w: outW as never, b: outB } });
      expect(into.w as unknown).toBe(outW);
      expect(into.b).toBe(outB);
      expectSameBits(outW, cpu.read().w, 'host out');
      expect(() => gpu.read({ out: { w: DeviceBuffer.alloc(7) } })).toThrow(/70001 elements/);
      gpu.reset();
      expect(gpu.steps).toBe(0);
      gpu.add({ w: steps[0].w, b: steps[0].b });
      expectSameBits(gpu.read().w.toHost(), steps[0].w, 'after reset');
      expect(() => new fl.GradAccumulator().add({ w: DeviceBuffer.alloc(3) })).not.toThrow();
      const host = new fl.GradAccumulator({ backend: 'native' });
      expect(() => host.add({ w: DeviceBuffer.alloc(3) })).toThrow(/needs backend 'cuda'/);
      gpu.dispose();
      expect(gpu.steps).toBe(0);
    });
  });

  describe('optimizers on CUDA', () => {
    const configs = [
      ['sgd', { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 }],
      ['sgd', { lr: 0.05 }],
      ['adam', { lr: 3e-3, weightDecay: 0.1 }],
      ['adamw', { lr: 1e-2, betas: [0.8, 0.99] }],
    ] as const;
    for (const [type, options] of configs)
      it(`${type} ${JSON.stringify(options)}: DeviceBuffer parameters and moments, the CPU step's bits, state round trip`, async () => {
        const r = rng(type.length + Object.keys(options).length);
        const w0 = r.floats(70001, 2),
          b0 = r.floats(9);
        const grads = [0, 1, 2, 3].map(() => ({ w: r.floats(70001, 0.5), b: r.floats(9) }));
        const cpuP = { w: w0.slice(), b: b0.slice() };
        const cpu = fl.createOptimizer(cpuP, { type, ...options } as fl.OptimizerConfig);
        const devP = { w: DeviceBuffer.from(w0), b: DeviceBuffer.from(b0) };
        const gpu = fl.createOptimizer(devP, { type, ...options } as fl.OptimizerConfig);
        for (const [k, g] of grads.entries()) {
          cpu.step(g);
          const dg = k % 2 ? { w: DeviceBuffer.from(g.w), b: g.b } : { w: g.w, b: DeviceBuffer.from(g.b) };
          if (k === 2) await gpu.stepAsync(dg);
          else gpu.step(dg);
        }
        expectSameBits(devP.w.toHost(), cpuP.w, 'w');
        expectSameBits(devP.b.toHost(), cpuP.b, 'b');
        const state = gpu.state();
        expect(state).toEqual(cpu.state());
        // resume from the state on fresh device parameters: the next step matches the CPU's
        const again = fl.createOptimizer({ w: DeviceBuffer.from(cpuP.w), b: DeviceBuffer.from(cpuP.b) }, {
          type,
          ...options,
        } as fl.OptimizerConfig);
        again.loadState(state);
        again.step(grads[0]);
        cpu.step(grads[0]);
        expectSameBits(again.params.w.toHost(), cpuP.w, 'resumed w');
        gpu.dispose();
        again.dispose();
      });

    it('an optimizer whose moments do not fit on the GPU throws, and frees the ones it made', () => {
      const total = cuda.devices()[0].totalMemory;
      const elems = (fraction: number) => Math.floor((total * fraction) / 4);
      const big = DeviceBuffer.alloc(elems(0.4)); // Adam needs two more of these: the first fits (0.8), the second cannot (1.2)
      expect(() => new fl.Adam({ big })).toThrow(/out of memory/);
      // Had the first moment (0.4) been left to the GC, 0.4 + 0.4 + 0.5 would not fit now.
      const after = DeviceBuffer.alloc(elems(0.5));
      after.dispose();
      big.dispose();
    });

    it('refuses DeviceBuffers on other backends and checks before writing', () => {
      const w = DeviceBuffer.from(Float32Array.of(1, 2, 3));
      expect(() => new fl.SGD({ w }, { lr: 1, backend: 'native' })).toThrow(/need backend 'cuda'/);
      expect(() => new fl.SGD({ w: Float32Array.of(1, 2, 3) }, { lr: 1 }).step({ w: DeviceBuffer.alloc(3) })).toThrow(
        /needs backend 'cuda'/,
      );
      const opt = new fl.Adam({ w });
      expect(() => opt.step({ w: DeviceBuffer.alloc(2) })).toThrow(/3 elements/);
      expect(() => opt.step({ w })).toThrow(/overlaps/);
      expect([...w.toHost()]).toEqual([1, 2, 3]);
      expect(opt.stepCount).toBe(0);
    });
  });

  describe('a training loop that stays on the device', () => {
    it("README's loop: linear head → MultiTaskLoss → linearBackward → GradAccumulator → optimizer, against the CPU", async () => {
      const r = rng(2718);
      const n = 64,
        d = 48,
        c = 10;
      const w0 = r.floats(c * d, 0.2),
        b0 = r.floats(c, 0.1);
      const micro = [0, 1, 2].map(() => ({ x: r.floats(n * d), y: Int32Array.from({ length: n }, () => r.int(0, c)) }));
      const shape = { batch: n, inFeatures: d, outFeatures: c };
      const train = async (device: boolean) => {
        const w = device ? DeviceBuffer.from(w0) : w0.slice(),
          b = device ? DeviceBuffer.from(b0) : b0.slice();
        // SGD with momentum: linear in the gradients, so GEMM rounding (GPU tiles vs CPU blocks) stays at float32 noise
        const opt = fl.createOptimizer<fl.OptimParam>({ w, b }, { type: 'sgd', lr: 0.5, momentum: 0.9 });
        const acc = new fl.GradAccumulator<fl.AccumulatedGrad>({ backend: device ? 'cuda' : 'native' });
        const mtl = new MultiTaskLoss({
          tasks: { species: { loss: 'crossEntropy', labelSmoothing: 0.1 } },
          backend: device ? 'cuda' : 'native',
        });
        const losses: number[] = [];
        for (let step = 0; step < 3; step++) {
          for (const m of micro) {
            const x = device ? DeviceBuffer.from(m.x) : m.x;
            const { output } = fl.linearForward(x as Float32Array, w as Float32Array, b as Float32Array, shape);
            const res = mtl.compute({ species: { input: output, target: device ? DeviceBuffer.from(m.y) : m.y, shape: [n, c] } });
            losses.push(res.loss);
            const go = device ? res.deviceGrads.species : res.grads.species;
            if (device) expect(go).toBeInstanceOf(DeviceBuffer);
            const g = fl.linearBackward(x as Float32Array, go as Float32Array, w as Float32Array, {
              ...shape,
              compute: { gradInput: false },
            });
            acc.add({ w: g.gradWeight!, b: g.gradBias! });
          }
          const mean = acc.read();
          if (device) expect(mean.w).toBeInstanceOf(DeviceBuffer);
          if (step === 1) await opt.stepAsync(mean);
          else opt.step(mean);
          acc.reset();
        }
        if (device) expect(w).toBeInstanceOf(DeviceBuffer);
        return { w: host(w), b: host(b), losses };
      };
      const cpu = await train(false),
        gpu = await train(true);
      expect(gpu.losses[gpu.losses.length - 1]).toBeLessThan(gpu.losses[0]); // it learns
      expectClose(gpu.losses, cpu.losses, 1e-5, 0, 'losses');
      expectClose(gpu.w, cpu.w, 1e-5, 1e-6, 'w');
      expectClose(gpu.b, cpu.b, 1e-5, 1e-6, 'b');
    });
  });

  describe('row losses on CUDA', () => {
    type RowFn = (...a: unknown[]) => {
      loss: number | Float32Array | DeviceBuffer;
      grad: Float32Array | DeviceBuffer;
      grad2?: Float32Array | DeviceBuffer;
    };
    const fn = (name: string) => (fl as unknown as Record<string, RowFn>)[name];
    const fnAsync = (name: string) => (fl as unknown as Record<string, (...a: unknown[]) => Promise<ReturnType<RowFn>>>)[`${name}Async`];
    const names = ['multiMarginLoss', 'multilabelSoftMarginLoss', 'cosineEmbeddingLoss', 'softF1Loss', 'cosineDistance'] as const;
    let seed = 500;
    for (const name of names)
      for (const [N, C] of [
        [37, 10],
        [8, 1000],
        [1, 33],
      ] as const)
        for (const reduction of ['mean', 'sum', 'none'] as const) {
          const sd = seed++;
          it(`${name} [${N}, ${C}] ${reduction}: host arrays and DeviceBuffers against the CPU`, async () => {
            const r = rng(sd);
            const x = r.floats(N * C, 2),
              x2 = r.floats(N * C, 2);
            const target =
              name === 'multiMarginLoss'
                ? Int32Array.from({ length: N }, () => r.int(0, C))
                : name === 'cosineEmbeddingLoss'
                  ? Float32Array.from({ length: N }, (_, i) => (i % 3 === 0 ? -1 : 1))
                  : name === 'cosineDistance'
                    ? r.floats(N * C)
                    : Float32Array.from({ length: N * C }, () => (r.next() < 0.3 ? 1 : 0));
            const per = name === 'softF1Loss' ? C : N;
            const opts: Record<string, unknown> = {
              shape: [N, C],
              reduction,
              gradScale: 0.5,
              sampleWeight: Float32Array.from({ length: N }, () => 0.25 + r.next()),
            };
            if (name === 'multiMarginLoss')
              Object.assign(opts, { p: sd % 2 ? 2 : 1, margin: 0.7, weight: Float32Array.from({ length: C }, () => 0.5 + r.next()) });
            if (name === 'multilabelSoftMarginLoss') opts.weight = Float32Array.from({ length: C }, () => 0.5 + r.next());
            if (name === 'cosineEmbeddingLoss') opts.margin = 0.1;
            if (reduction === 'none') opts.gradOutput = r.floats(per);
            const call = (f: RowFn, a: unknown, t: unknown, o: object) =>
              name === 'cosineEmbeddingLoss' ? f(a, x === a ? x2 : DeviceBuffer.from(x2), t, o) : f(a, t, o);
            const cpu = call(fn(name), x, target, opts);
            const dev: Record<string, unknown> = { ...opts };
            for (const k of ['weight', 'sampleWeight', 'gradOutput'])
              if (dev[k] instanceof Float32Array) dev[k] = DeviceBuffer.from(dev[k] as Float32Array);
            const dx = DeviceBuffer.from(x),
              dt = DeviceBuffer.from(target as Float32Array);
            const results = [
              call(fn(name), x, target, { ...opts, backend: 'cuda' }),
              call(fn(name), dx, dt, dev),
              await (name === 'cosineEmbeddingLoss' ? fnAsync(name)(dx, DeviceBuffer.from(x2), dt, dev) : fnAsync(name)(dx, dt, dev)),
            ];
            for (const res of results) {
              expectClose(host(res.grad), cpu.grad as Float32Array, 2e-5, 2e-6, 'grad');
              if (cpu.grad2) expectClose(host(res.grad2), cpu.grad2 as Float32Array, 2e-5, 2e-6, 'grad2');
              if (reduction === 'none') expectClose(host(res.loss), cpu.loss as Float32Array, 2e-5, 2e-6, 'loss');
              else expectClose([res.loss as number], [cpu.loss as number], 1e-9, 0, 'loss');
            }
            expect(results[1].grad).toBeInstanceOf(DeviceBuffer);
          });
        }

    it('checks class ids on the device before writing, and runs in place', () => {
      const grad = DeviceBuffer.from(new Float32Array(6).fill(7));
      expect(() =>
        fl.multiMarginLoss(DeviceBuffer.from(new Float32Array(6)), DeviceBuffer.from(Int32Array.of(0, 3)), {
          shape: [2, 3],
          out: { grad },
        }),
      ).toThrow(/target\[1\] = 3/);
      expect([...grad.toHost()]).toEqual([7, 7, 7, 7, 7, 7]);
      const x = rng(3).floats(40 * 12);
      const t = Float32Array.from({ length: 40 * 12 }, (_, i) => (i % 5 === 0 ? 1 : 0));
      const cpu = fl.softF1Loss(x, t, { shape: [40, 12] });
      const dx = DeviceBuffer.from(x);
      const ip = fl.softF1Loss(dx, DeviceBuffer.from(t), { shape: [40, 12], inplace: true });
      expect(ip.grad).toBe(dx);
      expectClose(dx.toHost(), cpu.grad, 2e-5, 2e-6, 'in place');
      expect(Number.isNaN(fl.cosineDistance(DeviceBuffer.alloc(0), DeviceBuffer.alloc(0), { shape: [0, 4] }).loss)).toBe(true);
    });
  });

  describe('linear heads and gradient combination on CUDA', () => {
    // GEMMs sum in another blocking than the CPU: float32 rounding apart (tolerances relative to the largest output)
    const close = (a: Float32Array | DeviceBuffer, e: Float32Array, label: string) => expectClose(host(a), e, 1e-5, 2e-6, label);
    for (const [B, I, O] of [
      [300, 257, 129],
      [1, 7, 1],
      [64, 1000, 10],
      [33, 65, 0],
    ] as const) {
      it(`linearForward / linearBackward [${B}, ${I}→${O}]: host arrays and DeviceBuffers against the CPU`, async () => {
        const r = rng(B + I + O);
        const x = r.floats(B * I),
          w = r.floats(O * I),
          b = r.floats(O),
          go = r.floats(B * O);
        const shape = { batch: B, inFeatures: I, outFeatures: O };
        const cpuY = fl.linearForward(x, w, b, shape).output;
        const cpuG = fl.linearBackward(x, go, w, shape);
        close(fl.linearForward(x, w, b, { ...shape, backend: 'cuda' }).output, cpuY, 'y host');
        const dx = DeviceBuffer.from(x),
          dw = DeviceBuffer.from(w),
          db = DeviceBuffer.from(b),
          dgo = DeviceBuffer.from(go);
        const y = fl.linearForward(dx, dw, db, shape).output;
        expect(y).toBeInstanceOf(DeviceBuffer);
        close(y, cpuY, 'y device');
        close((await fl.linearForwardAsync(dx, w, null, shape)).output, fl.linearForward(x, w, null, shape).output, 'y async, no bias');
        const hostG = fl.linearBackward(x, go, w, { ...shape, backend: 'cuda' });
        const devG = fl.linearBackward(dx, dgo, dw, shape);
        const asyncG = await fl.linearBackwardAsync(dx, dgo, dw, shape);
        for (const g of [hostG, devG, asyncG]) {
          close(g.gradWeight!, cpuG.gradWeight!, 'gradWeight');
          close(g.gradBias!, cpuG.gradBias!, 'gradBias');
          close(g.gradInput!, cpuG.gradInput!, 'gradInput');
        }
        // accumulate: into DeviceBuffers and into host arrays (uploaded, added to, brought back)
        const acc = fl.linearBackward(x, go, w, shape);
        fl.linearBackward(x, go, w, { ...shape, out: acc, accumulate: true });
        for (const out of [{ gradWeight: devG.gradWeight!, gradBias: devG.gradBias!, gradInput: devG.gradInput! }, hostG]) {
          fl.linearBackward(dx, dgo, dw, { ...shape, out: out as never, accumulate: true });
          close(out.gradWeight as never, acc.gradWeight!, 'accumulated gradWeight');
          close(out.gradBias as never, acc.gradBias!, 'accumulated gradBias');
          close(out.gradInput as never, acc.gradInput!, 'accumulated gradInput');
        }
      });
    }

    it('gramMatrix and combineGradients: DeviceBuffers against the CPU (combination bits equal for the same coefficients)', async () => {
      const r = rng(77);
      const n = 100_003,
        T = 5;
      const g = Array.from({ length: T }, (_, t) => r.floats(n).map((v) => v + (t === 2 ? -0.3 : 0.1)));
      const dg = g.map((a) => DeviceBuffer.from(a));
      const cpuGram = fl.gramMatrix(g);
      for (const G of [fl.gramMatrix(dg), fl.gramMatrix(g, { backend: 'cuda' }), await fl.gramMatrixAsync(dg)])
        for (let k = 0; k < T * T; k++) expect(Math.abs(G[k] - cpuGram[k])).toBeLessThanOrEqual(1e-12 * Math.abs(cpuGram[k]) + 1e-9);
      for (const method of ['sum', 'mean'] as const) {
        const cpu = fl.combineGradients(g, { method });
        const gpu = fl.combineGradients(dg, { method });
        expect(gpu.grad).toBeInstanceOf(DeviceBuffer);
        expectSameBits(gpu.grad.toHost(), cpu.grad, method);
      }
      for (const method of ['pcgrad', 'mgda', 'cagrad', 'upgrad'] as const) {
        const cpu = fl.combineGradients(g, { method, seed: 3 });
        const gpu = await fl.combineGradientsAsync(dg, { method, seed: 3 });
        const gpuHost = fl.combineGradients(g, { method, seed: 3, backend: 'cuda' });
        for (const res of [gpu, gpuHost]) {
          expectClose(res.coefficients!, cpu.coefficients!, 1e-9, 1e-12, `${method} coefficients`);
          expectClose(host(res.grad), cpu.grad, 1e-6, 1e-7, method);
        }
      }
      const out = DeviceBuffer.alloc(n);
      expect(fl.combineGradients(dg, { method: 'sum', out }).grad).toBe(out);
      expect(() => fl.combineGradients(dg, { method: 'sum', backend: 'native' })).toThrow(/need backend 'cuda'/);
      expect(() => fl.combineGradients([dg[0], DeviceBuffer.alloc(7)], { method: 'sum' })).toThrow(RangeError);
      // graddrop: the CPU's draws and formula, so its bits
      expectSameBits(
        fl.combineGradients(dg, { method: 'graddrop', seed: 9 }).grad.toHost(),
        fl.combineGradients(g, { method: 'graddrop', seed: 9 }).grad,
        'graddrop',
      );
      // dbmtl: its EMA buffers live on the GPU, two steps
      const cpuState = {},
        gpuState = {};
      for (let step = 0; step < 2; step++) {
        const cpu = fl.combineGradients(g, { method: 'dbmtl', state: cpuState });
        const gpu = fl.combineGradients(dg, { method: 'dbmtl', state: gpuState });
        expectClose(gpu.coefficients!, cpu.coefficients!, 1e-9, 0, 'dbmtl coefficients');
        expectClose(gpu.grad.toHost(), cpu.grad, 1e-6, 1e-7, 'dbmtl');
      }
    });

    it('clipGradNorm and clipGradValue on DeviceBuffers', () => {
      const r = rng(31);
      for (const normType of [2, 1, Infinity, 3]) {
        const host1 = [r.floats(1000, 3), r.floats(77_777, 3)];
        const dev = host1.map((a) => DeviceBuffer.from(a));
        const cpuNorm = fl.clipGradNorm(host1, 5, normType);
        const gpuNorm = fl.clipGradNorm(dev, 5, normType);
        expect(Math.abs(gpuNorm - cpuNorm)).toBeLessThanOrEqual(1e-12 * cpuNorm);
        dev.forEach((d, i) => expectClose(d.toHost(), host1[i], 1e-6, 0, `clipGradNorm p=${normType}`));
      }
      const v = r.floats(5000, 4);
      const dv = DeviceBuffer.from(v);
      fl.clipGradValue(dv, 1.5);
      fl.clipGradValue(v, 1.5);
      expectSameBits(dv.toHost(), v, 'clipGradValue');
      expect(() => fl.clipGradNorm(dv, 1, 2, { backend: 'native' })).toThrow(/need backend 'cuda'/);
    });

    it('multiHeadBackward on DeviceBuffers against the CPU', async () => {
      const r = rng(41);
      const B = 200,
        I = 96;
      const x = r.floats(B * I);
      const spec = { a: 10, b: 3, c: 40 } as const;
      const hostHeads = Object.fromEntries(
        Object.entries(spec).map(([k, O]) => [k, { weight: r.floats(O * I), gradOut: r.floats(B * O), outFeatures: O }]),
      );
      const devHeads = Object.fromEntries(
        Object.entries(hostHeads).map(([k, h]) => [
          k,
          { ...h, weight: DeviceBuffer.from(h.weight), gradOut: DeviceBuffer.from(h.gradOut) },
        ]),
      );
      const opts = { batch: B, inFeatures: I, combine: { method: 'pcgrad' as const, seed: 1 } };
      const cpu = fl.multiHeadBackward(x, hostHeads, opts);
      for (const gpu of [
        fl.multiHeadBackward(DeviceBuffer.from(x), devHeads, opts),
        await fl.multiHeadBackwardAsync(DeviceBuffer.from(x), devHeads, opts),
      ]) {
        for (const k of Object.keys(spec)) {
          expectClose(gpu.heads[k].gradWeight.toHost(), cpu.heads[k].gradWeight, 1e-5, 2e-6, `${k} gradWeight`);
          expectClose(gpu.heads[k].gradBias!.toHost(), cpu.heads[k].gradBias!, 1e-5, 2e-6, `${k} gradBias`);
          expectClose(gpu.heads[k].gradInput.toHost(), cpu.heads[k].gradInput, 1e-5, 2e-6, `${k} gradInput`);
          expect(gpu.gradNorms[k] / cpu.gradNorms[k]).toBeCloseTo(1, 5);
        }
        expectClose(gpu.gram, cpu.gram, 1e-5, 1e-7, 'gram');
        expectClose(gpu.sharedGrad!.toHost(), cpu.sharedGrad!, 1e-4, 1e-5, 'sharedGrad');
      }
    });
  });

  describe('the event loop during a backend cuda async call', () => {
    it('keeps turning while the GPU works', async () => {
      const input = new Float32Array(16384 * 1000).fill(0.25);
      const target = Int32Array.from({ length: 16384 }, (_, i) => i % 1000);
      let ticks = 0;
      let done = false;
      const tick = () => {
        ticks++;
        if (!done) setImmediate(tick);
      };
      setImmediate(tick);
      await crossEntropyAsync(input, target, { shape: [16384, 1000], backend: 'cuda' });
      done = true;
      expect(ticks).toBeGreaterThan(1);
    }, 60_000);
  });
}
