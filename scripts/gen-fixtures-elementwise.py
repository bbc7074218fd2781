#!/usr/bin/env python3
"""Writes test/fixtures/elementwise.json: golden losses and input gradients of the elementwise losses.

Ground truth is float64: PyTorch evaluates each loss in double precision on the (float32) inputs stored
in the fixture. Run with Debian's python3-torch (`npm run fixtures`); tests read the committed file.
The PyTorch calls are scripts/torch_losses.py's (shared with the CUDA peer, scripts/gpu/torch-cuda-peer.py).
"""
import json
import os

import torch
import torch.nn.functional as F

import torch_losses
from fixtures_common import enc


def enc32_(values):
    return enc(values, f32=True)

torch.manual_seed(7)
OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'elementwise.json')


def f32(t):
    return t.float()


def apply(name, x, t, o, reduction):
    loss = torch_losses.elementwise(name, x, t, o, reduction)
    if loss is not None:
        return loss
    if name == 'hingeLoss':  # tf.losses.hingeLoss (no PyTorch function): labels 0/1 as -1/+1, relu(1 - y*x)
        return reduce(F.relu(1 - (2 * t - 1) * x), reduction)
    if name == 'logLoss':  # tf.losses.logLoss: -t*log(x + eps) - (1 - t)*log(1 - x + eps)
        eps = o.get('epsilon', 1e-7)
        return reduce(-t * torch.log(x + eps) - (1 - t) * torch.log(1 - x + eps), reduction)
    raise ValueError(name)


def reduce(loss, reduction):
    return loss.mean() if reduction == 'mean' else loss.sum() if reduction == 'sum' else loss


def case(name, x, t, reduction, options=None, label=''):
    options = dict(options or {})
    x32, t32 = f32(x), f32(t)
    xd = x32.double().clone().requires_grad_(True)
    od = {k: (v.double() if torch.is_tensor(v) else v) for k, v in options.items()}
    loss = apply(name, xd, t32.double(), od, reduction)
    (loss.sum() if reduction == 'none' else loss).backward()
    c = {
        'name': f'{name} {label} {list(x.shape)} {reduction}'.replace('  ', ' '),
        'loss_fn': name,
        'shape': list(x.shape),
        'input': enc32_(x32.flatten().tolist()),
        'target': enc32_(t32.flatten().tolist()),
        'options': {k: (enc32_(f32(v).flatten().tolist()) if torch.is_tensor(v) else v) for k, v in options.items()},
        'reduction': reduction,
        'loss': enc(loss.detach().flatten().tolist()) if reduction == 'none' else enc([loss.item()])[0],
        'grad': enc(xd.grad.flatten().tolist()),
    }
    return c


cases = []
shapes = [(6, 5), (3, 4, 7), (10,)]
for shape in shapes:
    for reduction in ['mean', 'sum', 'none']:
        x = torch.randn(shape) * 2
        t = torch.randn(shape)
        cases.append(case('mseLoss', x, t, reduction))
        cases.append(case('l1Loss', x, t, reduction))
        cases.append(case('smoothL1Loss', x, t, reduction, {'beta': 0.5}, 'beta=0.5'))
        cases.append(case('smoothL1Loss', x, t, reduction, {'beta': 0.0}, 'beta=0'))
        cases.append(case('huberLoss', x, t, reduction, {'delta': 0.8}, 'delta=0.8'))
        p = torch.rand(shape)
        tp = torch.rand(shape)
        C = shape[-1]
        cases.append(case('binaryCrossEntropy', p, tp, reduction))
        cases.append(case('binaryCrossEntropy', p, tp, reduction, {'weight': torch.rand(C) + 0.5}, 'class weight'))
        tb = (torch.rand(shape) < 0.4).float()
        cases.append(case('binaryCrossEntropyWithLogits', x, tb, reduction))
        cases.append(case('binaryCrossEntropyWithLogits', x, tp, reduction,
                          {'weight': torch.rand(shape) + 0.5, 'posWeight': torch.rand(C) * 3}, 'weight+posWeight'))
        tpm = torch.where(torch.rand(shape) < 0.5, torch.tensor(1.0), torch.tensor(-1.0))
        cases.append(case('hingeEmbeddingLoss', x, tpm, reduction, {'margin': 0.7}, 'margin=0.7'))
        lp = F.log_softmax(torch.randn(shape), -1)
        q = F.softmax(torch.randn(shape), -1)
        cases.append(case('klDiv', lp, q, reduction))
        cases.append(case('klDiv', lp, torch.log(q), reduction, {'logTarget': True}, 'logTarget'))
        counts = torch.poisson(torch.rand(shape) * 4)
        cases.append(case('poissonNllLoss', x, counts, reduction))
        cases.append(case('poissonNllLoss', torch.rand(shape) * 3, counts, reduction, {'logInput': False, 'full': True}, 'rate full'))
        cases.append(case('sigmoidFocalLoss', x, tb, reduction))
        cases.append(case('sigmoidFocalLoss', x, tp, reduction, {'alpha': -1.0, 'gamma': 0.5}, 'no alpha gamma=0.5'))
    cases.append(case('klDiv', F.log_softmax(torch.randn(shape), -1), F.softmax(torch.randn(shape), -1), 'batchmean'))

# Extreme inputs: |logits| up to 1e4, probabilities exactly 0 and 1
big = torch.tensor([[-1e4, -50., -1., 0., 1., 50., 1e4, 3.]])
bits = torch.tensor([[0., 1., 1., 0., 1., 0., 1., 0.5]])
for reduction in ['mean', 'none']:
    cases.append(case('binaryCrossEntropyWithLogits', big, bits, reduction, {}, 'extreme'))
    cases.append(case('sigmoidFocalLoss', big, bits, reduction, {}, 'extreme'))
    cases.append(case('binaryCrossEntropy', torch.tensor([[0., 1., 0., 1., 0.5, 1e-7]]), torch.tensor([[0., 1., 1., 0., 1., 0.]]), reduction, {}, 'extreme'))
    cases.append(case('mseLoss', big, bits, reduction, {}, 'extreme'))
    cases.append(case('huberLoss', big, bits, reduction, {'delta': 2.0}, 'extreme'))
    cases.append(case('klDiv', torch.tensor([[-1e4, -3., 0.]]), torch.tensor([[0., 0.5, 0.5]]), reduction, {}, 'extreme'))
    cases.append(case('poissonNllLoss', torch.tensor([[-50., -1., 0., 1., 30.]]), torch.tensor([[0., 1., 2., 0., 5.]]), reduction, {}, 'extreme'))
for reduction in ['mean', 'sum', 'none']:
    cases.append(case('mseLoss', torch.zeros(0, 4), torch.zeros(0, 4), reduction, {}, 'empty'))
# The two TensorFlow.js losses (formulas above; tfjs's own values are checked in test/tfjs.test.ts)
for shape in shapes:
    for reduction in ['mean', 'sum', 'none']:
        x = torch.randn(shape) * 2
        tb = (torch.rand(shape) < 0.5).float()
        cases.append(case('hingeLoss', x, tb, reduction))
        p = torch.rand(shape)
        tp = torch.where(torch.rand(shape) < 0.3, torch.rand(shape), tb)
        cases.append(case('logLoss', p, tp, reduction))
        cases.append(case('logLoss', p, tp, reduction, {'epsilon': 1e-3}, 'epsilon=1e-3'))
cases.append(case('logLoss', torch.tensor([[0., 1., 0.5, 1e-9]]), torch.tensor([[0., 1., 1., 1.]]), 'none', {}, 'extreme'))
cases.append(case('hingeLoss', torch.tensor([[1., -1., 0., 1e4, -1e4]]), torch.tensor([[1., 0., 1., 0., 0.]]), 'none', {}, 'kinks'))
# A size that crosses two 32 Ki-element chunks
x = torch.randn(34, 1000) * 3
cases.append(case('binaryCrossEntropyWithLogits', x, (torch.rand(34, 1000) < 0.3).float(), 'mean', {'posWeight': torch.rand(1000) + 0.5}, 'multi-chunk'))
# softMarginLoss (added after the others, so their random draws are unchanged)
for shape in shapes:
    for reduction in ['mean', 'sum', 'none']:
        x = torch.randn(shape) * 2
        tpm = torch.where(torch.rand(shape) < 0.5, torch.tensor(1.0), torch.tensor(-1.0))
        cases.append(case('softMarginLoss', x, tpm, reduction))
# −t·x up to 80 (PyTorch's log(1 + exp(−t·x)) overflows beyond ~88 in float32 and ~709 in float64, where
# fuseloss's stable softplus stays finite: documented in docs/losses.md) and down to −1e4 (a zero loss; between,
# PyTorch's 1 + exp(−t·x) rounds tiny losses, so those are left to the random cases).
cases.append(case('softMarginLoss', torch.tensor([[-80., 5., 0., -5., 1e4]]), torch.tensor([[1., -1., 1., 1., 1.]]), 'none', {}, 'extreme'))

with open(OUT, 'w') as f:
    json.dump({'generator': 'scripts/gen-fixtures-elementwise.py', 'torch': torch.__version__, 'dtype': 'float64', 'cases': cases},
              f, separators=(',', ':'))
print(f'{len(cases)} cases -> {os.path.relpath(OUT)} ({os.path.getsize(OUT) // 1024} KiB)')
