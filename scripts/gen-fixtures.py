#!/usr/bin/env python3
"""Writes test/fixtures/crossEntropy.json: golden losses and gradients from PyTorch's F.cross_entropy.

Run with Debian's python3-torch (`apt-get install -y python3-torch`; `npm run fixtures`). The output is
committed; tests read it and never need torch. Inputs are float32 and stored exactly; NaN/Infinity are
stored as strings. Expected values are PyTorch's float32 results (loss and input.grad after backward of
the loss, with grad_outputs for reduction 'none' when the case sets gradOutput).
"""
import json
import os

import torch
import torch.nn.functional as F

from fixtures_common import enc


def enc32(values):
    return enc(values, f32=True)

torch.manual_seed(20261122)
OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'crossEntropy.json')


def sample_weighted_ce(x, target, w, ignore_index, label_smoothing, reduction, sw):
    # fuseloss's sampleWeight: per-sample losses (reduction 'none') times sw[n], then PyTorch's reduction
    # with its own denominator (Σ w[y] over counted targets, or the number of positions).
    per = F.cross_entropy(x, target, weight=w, ignore_index=ignore_index, reduction='none', label_smoothing=label_smoothing)
    shape = [sw.shape[0]] + [1] * (per.dim() - 1)
    per = per * sw.reshape(shape)
    if reduction == 'none':
        return per
    if reduction == 'sum':
        return per.sum()
    if target.dtype == torch.long:
        mask = target != ignore_index
        denom = (w[target[mask]].sum() if w is not None else mask.sum())
    else:
        denom = per.numel()
    return per.sum() / denom


def case(name, x, target, weight=None, ignore_index=-100, label_smoothing=0.0, reduction='mean',
         grad_output=None, grad_scale=1.0, sample_weight=None):
    x = x.float().detach().clone().requires_grad_(True)
    w = None if weight is None else weight.float()
    if sample_weight is not None:
        loss = sample_weighted_ce(x, target, w, ignore_index, label_smoothing, reduction, sample_weight.float())
    else:
        loss = F.cross_entropy(x, target, weight=w, ignore_index=ignore_index, reduction=reduction,
                               label_smoothing=label_smoothing)
    if reduction == 'none':
        go = torch.ones_like(loss) if grad_output is None else grad_output.float().reshape(loss.shape)
        loss.backward(go)
    else:
        (loss * grad_scale).backward() if loss.requires_grad else None
    grad = x.grad if x.grad is not None else torch.zeros_like(x)
    c = {
        'name': name,
        'shape': list(x.shape),
        'input': enc32(x.detach().flatten().tolist()),
        'targetKind': 'index' if target.dtype == torch.long else 'prob',
        'target': target.flatten().tolist() if target.dtype == torch.long else enc32(target.flatten().tolist()),
        'options': {'reduction': reduction, 'ignoreIndex': ignore_index, 'labelSmoothing': label_smoothing},
        'loss': enc32(loss.detach().flatten().tolist()) if reduction == 'none' else enc32([loss.item()])[0],
        'grad': enc32(grad.flatten().tolist()),
    }
    if w is not None:
        c['options']['weight'] = enc32(w.tolist())
    if grad_output is not None:
        c['options']['gradOutput'] = enc32(grad_output.flatten().tolist())
    if grad_scale != 1.0:
        c['options']['gradScale'] = grad_scale
    if sample_weight is not None:
        c['options']['sampleWeight'] = enc32(sample_weight.float().tolist())
    return c


def ids(shape, C, ignore_frac=0.0, ignore_index=-100):
    t = torch.randint(0, C, shape)
    if ignore_frac:
        t[torch.rand(shape) < ignore_frac] = ignore_index
    return t


cases = []
# Class-id targets, rows: tails (C = 5, 37), a full-vector width (C = 16, 32), reductions, options.
for (N, C) in [(7, 5), (6, 16), (5, 37), (3, 64)]:
    for reduction in ['mean', 'sum', 'none']:
        for weighted in [False, True]:
            for ls in [0.0, 0.15]:
                x = torch.randn(N, C) * 3
                t = ids((N,), C, 0.25)
                w = torch.rand(C) + 0.25 if weighted else None
                cases.append(case(f'rows N={N} C={C} {reduction} w={weighted} ls={ls}', x, t, w, -100, ls, reduction))
# Probability targets
for (N, C) in [(4, 5), (3, 37)]:
    for reduction in ['mean', 'sum', 'none']:
        for weighted in [False, True]:
            for ls in [0.0, 0.2]:
                x = torch.randn(N, C) * 2
                p = torch.softmax(torch.randn(N, C) * 2, 1)
                w = torch.rand(C) + 0.5 if weighted else None
                cases.append(case(f'prob N={N} C={C} {reduction} w={weighted} ls={ls}', x, p, w, -100, ls, reduction))
# Spatial [N, C, H, W]: one full 16-lane tile plus a tail (S = 20), and S < 16
for (shape, C) in [((2, 4, 5), 6), ((3, 3), 19)]:
    N = 2
    for reduction in ['mean', 'none']:
        for weighted in [False, True]:
            for ls in [0.0, 0.1]:
                x = torch.randn(N, C, *shape[1:]) if len(shape) == 3 else torch.randn(N, C, *shape)
                sp = list(x.shape[2:])
                t = ids([N] + sp, C, 0.2)
                w = torch.rand(C) + 0.25 if weighted else None
                cases.append(case(f'spatial {list(x.shape)} {reduction} w={weighted} ls={ls}', x, t, w, -100, ls, reduction))
        x = torch.randn(N, C, *([4, 5] if len(shape) == 3 else [3, 3]))
        p = torch.softmax(torch.randn(x.shape), 1)
        cases.append(case(f'spatial prob {list(x.shape)} {reduction}', x, p, None, -100, 0.1, reduction))
# 1-D spatial [N, C, L]
x = torch.randn(3, 7, 33)
cases.append(case('spatial1d [3,7,33] sum w ls', x, ids((3, 33), 7, 0.1), torch.rand(7) + 0.1, -100, 0.05, 'sum'))
# Upstream gradients and scales
x = torch.randn(6, 9)
cases.append(case('gradOutput none', x, ids((6,), 9, 0.2), None, -100, 0.1, 'none', grad_output=torch.randn(6)))
cases.append(case('gradScale mean', x, ids((6,), 9), torch.rand(9) + 0.5, -100, 0.0, 'mean', grad_scale=0.25))
# Custom ignore index, including a valid class id as the ignore index
x = torch.randn(8, 6)
t = ids((8,), 6)
cases.append(case('ignoreIndex=2 (a valid class)', x, t, None, 2, 0.0, 'mean'))
cases.append(case('ignoreIndex=-1 smoothing', x, torch.where(t == 3, torch.tensor(-1), t), torch.rand(6) + 0.1, -1, 0.3, 'mean'))
# Edge cases PyTorch defines
x = torch.randn(4, 5)
cases.append(case('all ignored mean -> NaN', x, torch.full((4,), -100), None, -100, 0.0, 'mean'))
cases.append(case('all ignored mean smoothing -> NaN', x, torch.full((4,), -100), torch.rand(5), -100, 0.2, 'mean'))
cases.append(case('all ignored sum -> 0', x, torch.full((4,), -100), None, -100, 0.0, 'sum'))
cases.append(case('zero weights of counted targets -> NaN', x, torch.tensor([0, 0, 1, -100]), torch.tensor([0., 0., 1., 1., 1.]).index_fill(0, torch.tensor([1]), 0.), -100, 0.0, 'mean'))
cases.append(case('-inf logit, smoothing -> inf loss', torch.tensor([[0., float('-inf'), 1.], [2., 1., 0.]]), torch.tensor([0, 1]), None, -100, 0.1, 'none'))
cases.append(case('-inf logit, no smoothing', torch.tensor([[0., float('-inf'), 1.], [2., 1., 0.]]), torch.tensor([0, 1]), None, -100, 0.0, 'mean'))
cases.append(case('NaN logit propagates', torch.tensor([[0., float('nan'), 1.], [2., 1., 0.]]), torch.tensor([0, 1]), None, -100, 0.0, 'none'))
cases.append(case('huge logits', torch.tensor([[1e4, -1e4, 0.], [-3e4, 3e4, 5.]]), torch.tensor([1, 1]), None, -100, 0.1, 'mean'))
cases.append(case('C = 1', torch.randn(5, 1), torch.zeros(5, dtype=torch.long), None, -100, 0.0, 'mean'))
cases.append(case('one sample [C]', torch.randn(11), torch.tensor(4), torch.rand(11) + 0.5, -100, 0.1, 'mean'))
cases.append(case('one sample [C] none', torch.randn(11), torch.tensor(4), None, -100, 0.1, 'none'))
for reduction in ['mean', 'sum', 'none']:
    cases.append(case(f'empty batch {reduction}', torch.zeros(0, 5), torch.zeros(0, dtype=torch.long), None, -100, 0.0, reduction))
# Per-sample weights (fuseloss's sampleWeight): rows, probabilities, spatial
for reduction in ['mean', 'sum', 'none']:
    x = torch.randn(6, 7)
    cases.append(case(f'sampleWeight rows {reduction}', x, ids((6,), 7, 0.2), torch.rand(7) + 0.5, -100, 0.1, reduction,
                      sample_weight=torch.rand(6) * 2))
    cases.append(case(f'sampleWeight prob {reduction}', x, torch.softmax(torch.randn(6, 7), 1), None, -100, 0.0, reduction,
                      sample_weight=torch.rand(6) * 2))
    xs = torch.randn(3, 5, 4, 5)
    cases.append(case(f'sampleWeight spatial {reduction}', xs, ids((3, 4, 5), 5, 0.1), None, -100, 0.05, reduction,
                      sample_weight=torch.rand(3) * 2))
# Large enough to cross several 32 Ki-element chunks of the thread pool
x = torch.randn(160, 257) * 4
cases.append(case('multi-chunk [160,257] mean w ls', x, ids((160,), 257, 0.05), torch.rand(257) + 0.5, -100, 0.1, 'mean'))

with open(OUT, 'w') as f:
    json.dump({'generator': 'scripts/gen-fixtures.py', 'torch': torch.__version__, 'cases': cases}, f, separators=(',', ':'))
print(f'{len(cases)} cases -> {os.path.relpath(OUT)} ({os.path.getsize(OUT) // 1024} KiB)')
