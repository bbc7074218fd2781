#!/usr/bin/env python3
"""Writes test/fixtures/linearCrossEntropy.json: golden values of a linear head + cross-entropy, and of
crossEntropy's extras (z-loss, soft-cap, lse, accuracy) on plain logits (`crossEntropyExtras`).

PyTorch 1.13 has no F.linear_cross_entropy (2.x) and no z-loss or soft-cap option, so the generator
writes them out in float64 autograd:
    z      = F.linear(x, W, b)
    z'     = cap * tanh(z / cap)                  (softcap; else z' = z)
    ce     = F.cross_entropy(z', target, weight, ignore_index, label_smoothing, reduction='none')
    lse    = logsumexp(z', dim=1)
    zl     = s * lse**2 on counted rows (class ids: target != ignore_index; probabilities: every row)
    row    = (ce + zl) * sampleWeight
    'mean' = sum(ce * sw) / (sum of w[y] over counted rows, or N for probabilities) + sum(zl * sw) / count
    'sum'  = sum(row);  'none' = row (backward with grad_outputs = gradOutput)
The z-loss rule (not class-weighted, 'mean' over the counted rows) is Liger-Kernel's. Gradients are
autograd's (times gradScale). Inputs are float32, stored exactly; expected values are float64.
Run with Debian's python3-torch (`npm run fixtures`); the output is committed.
"""
import json
import os

import torch
import torch.nn.functional as F

from fixtures_common import enc

torch.manual_seed(20261208)
OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'linearCrossEntropy.json')


def f32(t):
    return t.float().double()  # values representable in float32, computed in float64


def targets(n, c, probs, ignore):
    """Class probabilities [N, C] (every row counted), or class ids [N] with `ignore` rows set to -100."""
    if probs:
        return f32(torch.softmax(torch.randn(n, c) * 2, dim=1)), torch.ones(n, dtype=torch.bool)
    target = torch.randint(0, c, (n,))
    if ignore:
        target[torch.randperm(n)[:ignore]] = -100
    return target, target != -100


def case(name, n, h, c, bias=True, probs=False, weight=False, ignore=0, smoothing=0.0, reduction='mean', z=0.0,
         cap=0.0, sample_weight=False, grad_output=False, grad_scale=1.0, chunk=None, scale=1.0):
    x = f32(torch.randn(n, h) * scale).requires_grad_(True)
    W = f32(torch.randn(c, h) * 0.3).requires_grad_(True)
    b = f32(torch.randn(c) * 0.5).requires_grad_(True) if bias else None
    target, counted = targets(n, c, probs, ignore)
    w = f32(torch.rand(c) + 0.25) if weight else None
    sw = f32(torch.rand(n) + 0.5) if sample_weight else None
    go = f32(torch.randn(n)) if grad_output else None
    zz = F.linear(x, W, b)
    if cap > 0:
        zz = cap * torch.tanh(zz / cap)
    ce = F.cross_entropy(zz, target, weight=w, ignore_index=-100, label_smoothing=smoothing, reduction='none')
    lse = torch.logsumexp(zz, dim=1)
    zl = torch.where(counted, z * lse * lse, torch.zeros_like(lse))
    swv = sw if sw is not None else torch.ones(n, dtype=torch.float64)
    if reduction == 'mean':
        denom = (w[target[counted]].sum() if w is not None else counted.sum().double()) if not probs else torch.tensor(float(n), dtype=torch.float64)
        count = counted.sum().double()
        zloss = (zl * swv).sum() / count if z != 0 else torch.tensor(0.0, dtype=torch.float64)
        loss = (ce * swv).sum() / denom + zloss
    elif reduction == 'sum':
        zloss = (zl * swv).sum()
        loss = ((ce + zl) * swv).sum()
    else:
        zloss = (zl * swv).sum()
        loss = (ce + zl) * swv
    if reduction == 'none':
        loss.backward((go if go is not None else torch.ones(n, dtype=torch.float64)) * grad_scale)
    else:
        (loss * grad_scale).backward()
    acc = float('nan')
    if not probs and counted.any():
        acc = float((zz.argmax(dim=1)[counted] == target[counted]).double().mean())
    elif not probs:
        acc = float('nan')
    opts = {'reduction': reduction, 'labelSmoothing': smoothing, 'lseSquareScale': z, 'gradScale': grad_scale}
    if cap > 0:
        opts['softcap'] = cap
    if chunk:
        opts['chunkSize'] = chunk
    if w is not None:
        opts['weight'] = enc(w.tolist(), f32=True)
    if sw is not None:
        opts['sampleWeight'] = enc(sw.tolist(), f32=True)
    if go is not None:
        opts['gradOutput'] = enc(go.tolist(), f32=True)
    out = {
        'name': name, 'n': n, 'h': h, 'c': c,
        'input': enc(x.detach().flatten().tolist(), f32=True),
        'linearWeight': enc(W.detach().flatten().tolist(), f32=True),
        'targetKind': 'prob' if probs else 'index',
        'target': enc(target.flatten().tolist(), f32=True) if probs else target.tolist(),
        'options': opts,
        'loss': enc(loss.detach().flatten().tolist()) if reduction == 'none' else enc([float(loss)])[0],
        'zLoss': enc([float(zloss)])[0],
        'lse': enc(lse.detach().tolist()),
        'accuracy': enc([acc])[0],
        'gradInput': enc(x.grad.flatten().tolist()),
        'gradLinearWeight': enc(W.grad.flatten().tolist()),
    }
    if b is not None:
        out['linearBias'] = enc(b.detach().tolist(), f32=True)
        out['gradLinearBias'] = enc(b.grad.tolist())
    return out


cases = []
for reduction in ['mean', 'sum', 'none']:
    for bias in [True, False]:
        cases.append(case(f'plain {reduction} bias={bias}', 13, 11, 37, bias=bias, reduction=reduction))
        cases.append(case(f'probabilities {reduction} bias={bias}', 9, 8, 21, bias=bias, probs=True, reduction=reduction))
    cases.append(case(f'weights, ignore, smoothing {reduction}', 24, 10, 19, weight=True, ignore=5, smoothing=0.15, reduction=reduction))
    cases.append(case(f'z-loss {reduction}', 20, 12, 33, ignore=3, z=1e-2, reduction=reduction))
    cases.append(case(f'softcap {reduction}', 18, 9, 40, cap=3.0, reduction=reduction, scale=3.0))
    cases.append(case(f'everything {reduction}', 41, 16, 53, weight=True, ignore=6, smoothing=0.1, z=5e-3, cap=5.0,
                      sample_weight=True, grad_output=(reduction == 'none'), grad_scale=0.5, chunk=16, reduction=reduction, scale=2.0))
    cases.append(case(f'probabilities, weights, smoothing, z-loss, softcap {reduction}', 17, 7, 24, probs=True, weight=True,
                      smoothing=0.2, z=1e-2, cap=4.0, sample_weight=True, reduction=reduction))
cases.append(case('C = 1', 7, 5, 1))
cases.append(case('C = 1, z-loss', 7, 5, 1, z=0.1))
cases.append(case('N below one chunk (chunk 64)', 5, 6, 17, chunk=64))
cases.append(case('N over several chunks (chunk 3)', 29, 6, 17, chunk=3, ignore=4, z=1e-3))
cases.append(case('C a multiple of 16 plus 1', 16, 8, 33))
cases.append(case('wide C (two vocabulary tiles of the CE kernel)', 6, 8, 300, smoothing=0.05))
cases.append(case('all rows ignored, mean', 6, 4, 9, ignore=6))
cases.append(case('all rows ignored, sum', 6, 4, 9, ignore=6, reduction='sum'))
cases.append(case('large logits', 8, 6, 25, scale=30.0))



def ce_case(name, n, c, probs=False, ignore=0, smoothing=0.0, reduction='mean', z=0.0, cap=0.0, weight=False, scale=3.0):
    """crossEntropy's extras on plain logits [N, C]: the same formulas, the gradient on the logits."""
    x = f32(torch.randn(n, c) * scale).requires_grad_(True)
    target, counted = targets(n, c, probs, ignore)
    w = f32(torch.rand(c) + 0.25) if weight else None
    zz = cap * torch.tanh(x / cap) if cap > 0 else x
    ce = F.cross_entropy(zz, target, weight=w, ignore_index=-100, label_smoothing=smoothing, reduction='none')
    lse = torch.logsumexp(zz, dim=1)
    zl = torch.where(counted, z * lse * lse, torch.zeros_like(lse))
    if reduction == 'mean':
        denom = (w[target[counted]].sum() if w is not None else counted.sum().double()) if not probs else torch.tensor(float(n), dtype=torch.float64)
        zloss = zl.sum() / counted.sum().double() if z != 0 else torch.tensor(0.0, dtype=torch.float64)
        loss = ce.sum() / denom + zloss
    elif reduction == 'sum':
        zloss = zl.sum()
        loss = (ce + zl).sum()
    else:
        zloss = zl.sum()
        loss = ce + zl
    loss.backward(torch.ones(n, dtype=torch.float64) if reduction == 'none' else None)
    acc = float((zz.argmax(dim=1)[counted] == target[counted]).double().mean()) if not probs and counted.any() else float('nan')
    opts = {'reduction': reduction, 'labelSmoothing': smoothing, 'lseSquareScale': z}
    if cap > 0:
        opts['softcap'] = cap
    if w is not None:
        opts['weight'] = enc(w.tolist(), f32=True)
    return {
        'name': name, 'n': n, 'c': c, 'input': enc(x.detach().flatten().tolist(), f32=True),
        'targetKind': 'prob' if probs else 'index',
        'target': enc(target.flatten().tolist(), f32=True) if probs else target.tolist(), 'options': opts,
        'loss': enc(loss.detach().flatten().tolist()) if reduction == 'none' else enc([float(loss)])[0],
        'zLoss': enc([float(zloss)])[0], 'lse': enc(lse.detach().tolist()), 'accuracy': enc([acc])[0],
        'grad': enc(x.grad.flatten().tolist()),
    }


ce_cases = []
for reduction in ['mean', 'sum', 'none']:
    ce_cases.append(ce_case(f'z-loss {reduction}', 19, 37, ignore=4, z=1e-2, reduction=reduction))
    ce_cases.append(ce_case(f'softcap {reduction}', 15, 29, cap=2.5, reduction=reduction))
    ce_cases.append(ce_case(f'weights, smoothing, z-loss, softcap {reduction}', 21, 45, ignore=3, weight=True, smoothing=0.1, z=5e-3, cap=4.0, reduction=reduction))
    ce_cases.append(ce_case(f'probabilities, z-loss, softcap {reduction}', 11, 17, probs=True, z=1e-2, cap=3.0, reduction=reduction))
ce_cases.append(ce_case('all rows ignored, z-loss', 5, 7, ignore=5, z=0.1))
ce_cases.append(ce_case('C = 1, z-loss', 6, 1, z=0.1))

with open(OUT, 'w') as f:
    json.dump({'torch': torch.__version__, 'cases': cases, 'crossEntropyExtras': ce_cases}, f, separators=(',', ':'))
print(f'wrote {len(cases)} cases to {OUT}')
