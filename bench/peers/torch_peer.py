"""PyTorch CPU peer of `npm run bench` (bench/peers/torch.ts): times a loss's forward + backward on the
same data fuseloss times, read from raw float32/int32 files, for each thread count, and reports the loss
value so the bench can check that both computed the same thing. Input: the path of a JSON list of case
specs (one process for all cases: torch's import is paid once); output: a JSON list, one entry per case."""
import json
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def run_linear_ce(spec):
    """F.linear + F.cross_entropy + backward() (PyTorch 1.13 has no fused F.linear_cross_entropy): the
    unfused head a PyTorch user writes, with gradients for the features, the weight and the bias."""
    n, h = spec['shape']
    c = spec['classes']
    x_np = np.fromfile(spec['input'], dtype=np.float32).reshape(n, h)
    w_np = np.fromfile(spec['weight'], dtype=np.float32).reshape(c, h)
    b_np = np.fromfile(spec['bias'], dtype=np.float32)
    target = torch.from_numpy(np.fromfile(spec['target'], dtype=np.int32).astype(np.int64))
    out = {'timings': {}}
    for threads in spec['threads']:
        torch.set_num_threads(threads)
        x = torch.from_numpy(x_np.copy()).requires_grad_(True)
        w = torch.from_numpy(w_np.copy()).requires_grad_(True)
        b = torch.from_numpy(b_np.copy()).requires_grad_(True)

        def step():
            x.grad = w.grad = b.grad = None
            loss = F.cross_entropy(F.linear(x, w, b), target)
            loss.backward()
            return loss

        value = float(step())
        step()
        samples = []
        for _ in range(spec['samples']):
            t0 = time.perf_counter()
            step()
            samples.append((time.perf_counter() - t0) * 1000)
        samples.sort()
        out['timings'][str(threads)] = {'medianMs': samples[len(samples) // 2], 'minMs': samples[0], 'maxMs': samples[-1]}
        out['loss'] = value
    return out


def run_case(spec):
    if spec['loss'] == 'linearCrossEntropy':
        return run_linear_ce(spec)
    x_np = np.fromfile(spec['input'], dtype=np.float32).reshape(spec['shape'])
    t_np = np.fromfile(spec['target'], dtype=np.int32 if spec['targetKind'] == 'index' else np.float32)
    target = torch.from_numpy(t_np.astype(np.int64) if spec['targetKind'] == 'index' else t_np.reshape(spec['shape']))
    name = spec['loss']
    opts = spec.get('options', {})
    warmup = spec.get('warmupS', 0.1)
    min_sample = spec.get('minSampleS', 0.02)

    def loss_fn(x):
        if name == 'crossEntropy':
            return F.cross_entropy(x, target, label_smoothing=opts.get('labelSmoothing', 0.0))
        if name == 'mseLoss':
            return F.mse_loss(x, target)
        if name == 'huberLoss':
            return F.huber_loss(x, target, delta=opts.get('delta', 1.0))
        if name == 'binaryCrossEntropyWithLogits':
            return F.binary_cross_entropy_with_logits(x, target)
        raise SystemExit(f'unknown loss {name}')

    out = {'timings': {}}
    for threads in spec['threads']:
        torch.set_num_threads(threads)
        x = torch.from_numpy(x_np.copy()).requires_grad_(True)

        def step():
            x.grad = None
            loss = loss_fn(x)
            loss.backward()
            return loss

        value = float(step())
        # warm up ~100 ms, then samples of at least ~20 ms (8 ms with --quick) each
        end = time.perf_counter() + warmup
        reps = 1
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            for _ in range(reps):
                step()
            dt = time.perf_counter() - t0
            if dt < min_sample:
                reps = max(1, int(reps * min_sample / max(dt, 1e-6)) + 1)
        samples = []
        for _ in range(spec['samples']):
            t0 = time.perf_counter()
            for _ in range(reps):
                step()
            samples.append((time.perf_counter() - t0) / reps * 1000)
        samples.sort()
        out['timings'][str(threads)] = {'medianMs': samples[len(samples) // 2], 'minMs': samples[0], 'maxMs': samples[-1]}
        out['loss'] = value
    return out


print(json.dumps({'torch': torch.__version__, 'cases': [run_case(c) for c in json.load(open(sys.argv[1]))]}))
