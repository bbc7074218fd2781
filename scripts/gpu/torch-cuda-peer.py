#!/usr/bin/env python3
"""PyTorch's own CUDA losses as the peer of fuseloss's CUDA backend (run on the GPU machine).

Writes OUT/manifest.json and OUT/data.bin (OUT defaults to build/torch-cuda): seeded inputs, and the loss
and input gradient(s) that PyTorch computes for them on the GPU in float32 (F.cross_entropy, F.nll_loss,
the elementwise losses of scripts/torch_losses.py, F.multi_margin_loss, F.multilabel_soft_margin_loss,
F.cosine_embedding_loss), at realistic sizes and on edge inputs (logits of ±1e4,
-inf logits, probabilities of exactly 0 and 1, every class id ignored). test/cuda.test.ts reads them on a
GPU machine and runs the same cases through fuseloss's CUDA kernels (host arrays and DeviceBuffers).

Options are stored under fuseloss's names; `torch_loss` maps them to PyTorch's. The losses with no
PyTorch function (softF1Loss, cosineDistance, tfjs's hingeLoss and logLoss) and fuseloss's extensions
(sampleWeight, gradScale) have no peer here; the CPU-vs-GPU tests cover them.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import torch_losses  # noqa: E402  (scripts/torch_losses.py: the elementwise losses, shared with the fixture generator)

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..', 'build', 'torch-cuda')
dev = torch.device('cuda')
gen = torch.Generator().manual_seed(2026)
blob = bytearray()


def put(t):
    """Stores a tensor (float32 or int32) in data.bin; returns its reference."""
    t = t.detach().contiguous().cpu()
    t = t.int() if t.dtype in (torch.int64, torch.int32) else t.float()
    ref = {'offset': len(blob), 'length': t.numel(), 'dtype': 'i32' if t.dtype == torch.int32 else 'f32'}
    blob.extend(t.numpy().tobytes())
    return ref


def num(v):
    v = float(v)
    return 'NaN' if v != v else ('Infinity' if v == float('inf') else '-Infinity' if v == float('-inf') else v)


def randn(*shape, scale=1.0):
    return torch.randn(*shape, generator=gen) * scale


def rand(*shape):
    return torch.rand(*shape, generator=gen)


def ids(n, c, ignore_frac=0.0, ignore=-100):
    t = torch.randint(0, c, n if isinstance(n, tuple) else (n,), generator=gen)
    if ignore_frac:
        t[rand(*t.shape) < ignore_frac] = ignore
    return t


def torch_loss(fn, xs, t, o, r):
    """PyTorch's loss for fuseloss's `fn` with fuseloss's option names `o` (tensors on the GPU)."""
    x = xs[0]
    w = o.get('weight')
    if fn == 'crossEntropy':
        return F.cross_entropy(x, t, weight=w, ignore_index=o.get('ignoreIndex', -100), label_smoothing=o.get('labelSmoothing', 0.0), reduction=r)
    if fn == 'nllLoss':
        return F.nll_loss(x, t, weight=w, ignore_index=o.get('ignoreIndex', -100), reduction=r)
    loss = torch_losses.elementwise(fn, x, t, o, r)
    if loss is not None:
        return loss
    if fn == 'multiMarginLoss':
        return F.multi_margin_loss(x, t, p=o.get('p', 1), margin=o.get('margin', 1.0), weight=w, reduction=r)
    if fn == 'multilabelSoftMarginLoss':
        return F.multilabel_soft_margin_loss(x, t, weight=w, reduction=r)
    if fn == 'cosineEmbeddingLoss':
        return F.cosine_embedding_loss(x, xs[1], t, margin=o.get('margin', 0.0), reduction=r)
    raise ValueError(fn)


cases = []


def case(fn, label, inputs, target, options=None, reduction='mean'):
    options = dict(options or {})
    inputs = [i.float() for i in inputs]
    target = target if target.dtype == torch.int64 else target.float()
    xs = [i.to(dev).requires_grad_(True) for i in inputs]
    o = {k: (v.float().to(dev) if torch.is_tensor(v) else v) for k, v in options.items()}
    loss = torch_loss(fn, xs, target.to(dev), o, reduction)
    go = None
    if reduction == 'none':
        go = randn(*loss.shape)
        loss.backward(go.to(dev))
    else:
        loss.backward()
    torch.cuda.synchronize()
    c = {
        'name': f'{fn} {label} {list(inputs[0].shape)} {reduction}'.replace('  ', ' '),
        'fn': fn,
        'shape': list(inputs[0].shape),
        'input': put(inputs[0]),
        'target': put(target),
        'options': {k: (put(v) if torch.is_tensor(v) else v) for k, v in options.items()},
        'reduction': reduction,
        'loss': put(loss) if reduction == 'none' else num(loss.item()),
        'grad': put(xs[0].grad if xs[0].grad is not None else torch.zeros_like(xs[0])),
    }
    if len(inputs) > 1:
        c['input2'], c['grad2'] = put(inputs[1]), put(xs[1].grad)
    if go is not None:
        c['gradOutput'] = put(go)
    cases.append(c)


# ---- cross-entropy: the warp kernel (32 <= C <= 1024), the block kernel (C = 32000), small C, spatial, probabilities
case('crossEntropy', 'w ignore ls', [randn(4096, 1000, scale=3)], ids(4096, 1000, 0.1), {'weight': rand(1000) + 0.5, 'labelSmoothing': 0.1})
case('crossEntropy', 'vocab ls', [randn(512, 32000, scale=2)], ids(512, 32000), {'labelSmoothing': 0.1})
case('crossEntropy', 'vocab', [randn(256, 32000, scale=4)], ids(256, 32000, 0.05), {}, 'sum')
case('crossEntropy', '', [randn(2048, 50)], ids(2048, 50), {}, 'sum')
case('crossEntropy', 'C=7', [randn(1000, 7, scale=2)], ids(1000, 7, 0.2), {'weight': rand(7) + 0.2, 'labelSmoothing': 0.05}, 'none')
case('crossEntropy', 'spatial ignore=3', [randn(8, 5, 32, 32)], ids((8, 32, 32), 5), {'ignoreIndex': 3, 'labelSmoothing': 0.1})
case('crossEntropy', 'spatial', [randn(4, 19, 7, 9)], ids((4, 7, 9), 19, 0.1), {'weight': rand(19) + 0.1}, 'none')
case('crossEntropy', 'prob', [randn(256, 100, scale=2)], torch.softmax(randn(256, 100, scale=2), 1), {'weight': rand(100) + 0.5, 'labelSmoothing': 0.2})
case('crossEntropy', 'prob', [randn(64, 3000)], torch.softmax(randn(64, 3000), 1), {}, 'none')
case('crossEntropy', 'huge logits', [torch.tensor([[1e4, -1e4, 0.] + [0.] * 37, [-3e4, 3e4, 5.] + [1.] * 37])], torch.tensor([1, 1]), {'labelSmoothing': 0.1})
case('crossEntropy', '-inf logit', [torch.tensor([[0., float('-inf'), 1.] * 12, [2., 1., 0.] * 12])], torch.tensor([0, 1]), {})
case('crossEntropy', 'all ignored', [randn(16, 40)], torch.full((16,), -100), {}, 'mean')
case('crossEntropy', 'all ignored', [randn(16, 40)], torch.full((16,), -100), {}, 'sum')
# ---- nll
logp = torch.log_softmax(randn(1000, 100, scale=2), 1)
case('nllLoss', 'w ignore', [logp], ids(1000, 100, 0.1), {'weight': rand(100) + 0.5})
case('nllLoss', 'spatial', [torch.log_softmax(randn(16, 10, 50), 1)], ids((16, 50), 10, 0.1), {}, 'none')
# ---- elementwise, 1M elements ([1024, 1024]) and odd sizes
N, C = 1024, 1024
x, t = randn(N, C, scale=2), randn(N, C)
for r in ['mean', 'sum', 'none']:
    case('mseLoss', '', [x], t, {}, r)
    case('l1Loss', '', [x], t, {}, r)
    case('huberLoss', 'delta=2', [x], t, {'delta': 2.0}, r)
case('smoothL1Loss', 'beta=0.5', [x], t, {'beta': 0.5})
case('smoothL1Loss', 'beta=0', [randn(333, 7)], randn(333, 7), {'beta': 0.0}, 'none')
p, tp, tb = rand(N, C), rand(N, C), (rand(N, C) < 0.3).float()
p[0, :4] = torch.tensor([0., 1., 0., 1.])
tp[0, :4] = torch.tensor([0., 1., 1., 0.])
case('binaryCrossEntropy', 'with 0 and 1', [p], tp)
case('binaryCrossEntropy', 'class weight', [p], tp, {'weight': rand(C) + 0.5}, 'none')
case('binaryCrossEntropyWithLogits', '', [x], tb, {}, 'sum')
case('binaryCrossEntropyWithLogits', 'weight posWeight', [x], tp, {'weight': rand(C) + 0.5, 'posWeight': rand(C) * 3})
case('binaryCrossEntropyWithLogits', 'posWeight', [randn(77, 13, scale=3)], (rand(77, 13) < 0.5).float(), {'posWeight': rand(13) + 0.5}, 'none')
case('binaryCrossEntropyWithLogits', 'extreme', [torch.tensor([[-1e4, -50., -1., 0., 1., 50., 1e4, 3.]])], torch.tensor([[0., 1., 1., 0., 1., 0., 1., 0.5]]), {}, 'none')
case('hingeEmbeddingLoss', 'margin=0.7', [x], torch.where(rand(N, C) < 0.5, 1.0, -1.0), {'margin': 0.7})
case('klDiv', 'batchmean', [torch.log_softmax(randn(N, C), 1)], torch.softmax(randn(N, C), 1), {}, 'batchmean')
case('klDiv', 'logTarget', [torch.log_softmax(randn(300, 17), 1)], torch.log_softmax(randn(300, 17), 1), {'logTarget': True}, 'none')
counts = torch.poisson(rand(N, C) * 4, generator=gen)
case('poissonNllLoss', '', [x], counts)
case('poissonNllLoss', 'rate full', [rand(N, C) * 3], counts, {'logInput': False, 'full': True}, 'sum')
case('sigmoidFocalLoss', '', [x], tb)
case('sigmoidFocalLoss', 'alpha<0 gamma=0.5', [randn(99, 31, scale=2)], rand(99, 31), {'alpha': -1.0, 'gamma': 0.5}, 'none')
# ---- row losses
case('multiMarginLoss', 'p=1', [randn(2048, 1000)], ids(2048, 1000), {'margin': 0.7, 'weight': rand(1000) + 0.5})
case('multiMarginLoss', 'p=2', [randn(300, 37)], ids(300, 37), {'p': 2}, 'none')
case('multilabelSoftMarginLoss', 'weight', [randn(1000, 300, scale=2)], (rand(1000, 300) < 0.2).float(), {'weight': rand(300) + 0.5})
case('multilabelSoftMarginLoss', '', [randn(33, 9)], (rand(33, 9) < 0.5).float(), {}, 'none')
case('cosineEmbeddingLoss', 'margin=0.2', [randn(1000, 768), randn(1000, 768)], torch.where(rand(1000) < 0.5, 1.0, -1.0), {'margin': 0.2})
case('cosineEmbeddingLoss', '', [randn(64, 5), randn(64, 5)], torch.where(rand(64) < 0.5, 1.0, -1.0), {}, 'none')

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, 'data.bin'), 'wb') as f:
    f.write(blob)
with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
    json.dump({'generator': 'scripts/gpu/torch-cuda-peer.py', 'torch': torch.__version__, 'device': torch.cuda.get_device_name(0),
               'cases': cases}, f)
print(f'{len(cases)} cases by torch {torch.__version__} on {torch.cuda.get_device_name(0)} -> {OUT} ({len(blob) >> 20} MiB)')
