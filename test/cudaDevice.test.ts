// DeviceBuffer: GPU memory passed wherever a Float32Array (or Int32Array of class ids) goes, with backend
// 'cuda'. On a GPU machine: round trips, every loss family on device-resident data against the same call
// on host arrays (the same kernels, so the same bits), mixed host/device arguments, outputs that stay on
// the device, checks that read device data (class ids, BCE's probabilities) before anything is written,
// lifetime (dispose, pending async calls), out-of-memory errors. Without a GPU: a clear error.
import { describe, expect, it } from 'vitest';
import * as fl from '../src/index';
import { crossEntropy, crossEntropyAsync, cuda, CudaUnavailableError, DeviceBuffer, MultiTaskLoss } from '../src/index';
import { ELEMENTWISE_LOSSES } from '../src/ops';
import { materialize, optionSets, problem } from './elementwiseProblems';
import { expectSameBits, mtlBatch, MTL_TASKS, rng } from './helpers';

type AnyLoss = (input: unknown, target: unknown, options?: object) => { loss: number | Float32Array | DeviceBuffer; grad: Float32Array | DeviceBuffer };
const ewFn = (name: string) => (fl as unknown as Record<string, AnyLoss>)[name];
const ewFnAsync = (name: string) => (fl as unknown as Record<string, (...a: Parameters<AnyLoss>) => Promise<ReturnType<AnyLoss>>>)[`${name}Async`];
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
      for (const b of [df, di, z]) b.dispose();
    });

    it('checks its arguments and its lifetime', () => {
      expect(() => DeviceBuffer.alloc(-1)).toThrow(RangeError);
      expect(() => DeviceBuffer.alloc(1.5)).toThrow(RangeError);
      expect(() => DeviceBuffer.alloc(4, 'float64' as never)).toThrow(TypeError);
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

    it('refuses backends other than cuda, and losses without a CUDA build', () => {
      const x = DeviceBuffer.alloc(8);
      expect(() => crossEntropy(x, new Int32Array(2), { shape: [2, 4], backend: 'native' })).toThrow(/need backend 'cuda'/);
      expect(() => fl.mseLoss(x, new Float32Array(8), { shape: [8], backend: 'reference' })).toThrow(/need backend 'cuda'/);
      expect(() => fl.nllLoss(x as never, new Int32Array(2), { shape: [2, 4] })).toThrow(/no CUDA build/);
      expect(() => fl.multiMarginLoss(x as never, new Int32Array(2), { shape: [2, 4] })).toThrow(/no CUDA build/);
      expect(() => fl.linearForward(x as never, new Float32Array(4), null, { batch: 2, inFeatures: 4, outFeatures: 1 })).toThrow(TypeError);
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
        const target = c.kind === 'index'
          ? Int32Array.from({ length: n * s }, () => (r.next() < 0.1 ? -100 : r.int(0, C)))
          : Float32Array.from({ length: n * C * s }, () => r.next() / C);
        const weight = c.weighted ? Float32Array.from({ length: C }, () => 0.5 + r.next()) : undefined;
        const sampleWeight = Float32Array.from({ length: n }, () => r.next());
        const gradOutput = c.reduction === 'none' ? r.floats(n * s) : undefined;
        const base = { shape: c.shape, reduction: c.reduction, labelSmoothing: c.ls, gradScale: 0.5 } as const;
        const ref = crossEntropy(input, target, { ...base, weight, sampleWeight, gradOutput, backend: 'cuda' });
        const dx = DeviceBuffer.from(input), dt = DeviceBuffer.from(target as Float32Array);
        const dw = weight && DeviceBuffer.from(weight), dsw = DeviceBuffer.from(sampleWeight), dgo = gradOutput && DeviceBuffer.from(gradOutput);
        const all = crossEntropy(dx, dt, { ...base, weight: dw, sampleWeight: dsw, gradOutput: dgo });
        const mixed = crossEntropy(dx, target, { ...base, weight, sampleWeight, gradOutput, backend: 'cuda' });
        const asyncR = await crossEntropyAsync(dx, dt, { ...base, weight: dw, sampleWeight: dsw, gradOutput: dgo });
        for (const [label, res] of [['device', all], ['mixed', mixed], ['async', asyncR]] as const) {
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
        const pre = crossEntropy(DeviceBuffer.from(input), dt, { ...base, weight: dw, sampleWeight: dsw, gradOutput: dgo, out: { grad: out } });
        expect(pre.grad).toBe(out);
        expectSameBits(out.toHost(), ref.grad, 'out.grad');
      });
    }

    it('checks class ids and class weights on the device before writing anything', () => {
      const x = DeviceBuffer.from(rng(5).floats(6));
      const grad = DeviceBuffer.from(new Float32Array(6).fill(7));
      expect(() => crossEntropy(x, DeviceBuffer.from(Int32Array.of(0, 3)), { shape: [2, 3], out: { grad } })).toThrow(/target\[1\] = 3/);
      expect(() => crossEntropy(x, DeviceBuffer.from(Int32Array.of(0, 1, 2)), { shape: [2, 3], out: { grad } })).toThrow(/2 class ids/);
      expect(() => crossEntropy(x, Int32Array.of(0, 1), { shape: [2, 3], weight: DeviceBuffer.from(new Float32Array(4)), out: { grad } })).toThrow(/weight/);
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
          opts.sampleWeight = rng(sd + 3).floats(64).map(Math.abs);
          if (reduction === 'none') opts.gradOutput = rng(sd + 1).floats(numel);
          const cpu = ewFn(spec.name)(input, target, { ...opts, backend: 'native' });
          const dev: Record<string, unknown> = { ...opts };
          for (const k of ['weight', 'posWeight', 'sampleWeight', 'gradOutput'])
            if (dev[k] instanceof Float32Array) dev[k] = DeviceBuffer.from(dev[k] as Float32Array);
          const dx = DeviceBuffer.from(input), dt = DeviceBuffer.from(target);
          for (const r of [ewFn(spec.name)(dx, dt, dev), await ewFnAsync(spec.name)(dx, dt, dev), ewFn(spec.name)(dx, target, { ...opts, backend: 'cuda' })]) {
            expect(r.grad).toBeInstanceOf(DeviceBuffer);
            expectSameBits(host(r.grad), cpu.grad as Float32Array, 'grad', { nanPayloads: false });
            if (reduction === 'none') expectSameBits(host(r.loss), cpu.loss as Float32Array, 'loss', { nanPayloads: false });
            else expect(Math.abs((r.loss as number) - (cpu.loss as number))).toBeLessThanOrEqual(1e-12 * Math.abs(cpu.loss as number));
          }
        });
      }

    it("binaryCrossEntropy checks device-resident probabilities on the device before writing", () => {
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
        const dev = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, { ...v, input: DeviceBuffer.from(v.input), target: DeviceBuffer.from(v.target as Float32Array) }]));
        for (const r of [new MultiTaskLoss({ tasks, weighting, backend: 'cuda' }).compute(dev), await new MultiTaskLoss({ tasks, weighting, backend: 'cuda' }).computeAsync(dev)]) {
          expect(Object.keys(r.grads)).toEqual([]);
          expect(r.skipped).toEqual(['masked']);
          expect(r.loss).toBe(hostR.loss);
          for (const t of Object.keys(data)) expectSameBits(r.deviceGrads[t].toHost(), hostR.grads[t], t);
        }
      });
    }
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
