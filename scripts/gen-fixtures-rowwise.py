#!/usr/bin/env python3
"""Writes test/fixtures/rowwise.json: golden values of nll_loss, multi_margin_loss,
multilabel_soft_margin_loss, cosine_embedding_loss and fuseloss's softF1Loss (no PyTorch peer: its
definition is written out below), in float64 on the stored float32 inputs. Run with Debian's
python3-torch (`npm run fixtures`); tests read the committed file.
"""
import json
import os

import torch
import torch.nn.functional as F

from fixtures_common import enc

torch.manual_seed(11)
OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'rowwise.json')


def soft_f1(x, t, eps, reduction, sw=None):
    p = torch.sigmoid(x)
    w = torch.ones(x.shape[0], 1, dtype=x.dtype) if sw is None else sw.reshape(-1, 1)
    a = (w * p * t).sum(0)
    b = (w * (p + t)).sum(0) + eps
    loss = 1 - 2 * a / b
    return loss.mean() if reduction == 'mean' else loss.sum() if reduction == 'sum' else loss


def reduce_weighted(per, sw, reduction, denom):
    per = per * sw
    if reduction == 'none':
        return per
    return per.sum() if reduction == 'sum' else per.sum() / denom


def case(fn, label, inputs, target, options, reduction, sw=None):
    ins = [i.float().double().clone().requires_grad_(True) for i in inputs]
    o = {k: (v.double() if torch.is_tensor(v) else v) for k, v in options.items()}
    swd = None if sw is None else sw.float().double()
    if fn == 'nllLoss':
        if swd is None:
            loss = F.nll_loss(ins[0], target, weight=o.get('weight'), ignore_index=o.get('ignoreIndex', -100), reduction=reduction)
        else:
            per = F.nll_loss(ins[0], target, weight=o.get('weight'), ignore_index=o.get('ignoreIndex', -100), reduction='none')
            mask = target != o.get('ignoreIndex', -100)
            denom = o['weight'][target[mask]].sum() if 'weight' in o else mask.sum()
            loss = reduce_weighted(per, swd.reshape([-1] + [1] * (per.dim() - 1)), reduction, denom)
    elif fn == 'multiMarginLoss':
        kw = dict(p=o.get('p', 1), margin=o.get('margin', 1.0), weight=o.get('weight'))
        if swd is None:
            loss = F.multi_margin_loss(ins[0], target, reduction=reduction, **kw)
        else:
            loss = reduce_weighted(F.multi_margin_loss(ins[0], target, reduction='none', **kw), swd, reduction, ins[0].shape[0])
    elif fn == 'multilabelSoftMarginLoss':
        t = target.float().double()
        if swd is None:
            loss = F.multilabel_soft_margin_loss(ins[0], t, weight=o.get('weight'), reduction=reduction)
        else:
            per = F.multilabel_soft_margin_loss(ins[0], t, weight=o.get('weight'), reduction='none')
            loss = reduce_weighted(per, swd, reduction, ins[0].shape[0])
    elif fn == 'cosineEmbeddingLoss':
        t = target.float().double()
        if swd is None:
            loss = F.cosine_embedding_loss(ins[0], ins[1], t, margin=o.get('margin', 0.0), reduction=reduction)
        else:
            per = F.cosine_embedding_loss(ins[0], ins[1], t, margin=o.get('margin', 0.0), reduction='none')
            loss = reduce_weighted(per, swd, reduction, ins[0].shape[0])
    elif fn == 'softF1Loss':
        loss = soft_f1(ins[0], target.float().double(), o.get('eps', 1e-8), reduction, swd)
    elif fn == 'cosineDistance':  # tf.losses.cosineDistance along the last dim (no PyTorch function)
        per = 1 - (target.float().double() * ins[0]).sum(-1)
        loss = reduce_weighted(per, swd if swd is not None else torch.ones_like(per), reduction, ins[0].shape[0])
    (loss.sum() if reduction == 'none' else loss).backward()
    c = {
        'name': f'{fn} {label} {list(inputs[0].shape)} {reduction}',
        'loss_fn': fn,
        'shape': list(inputs[0].shape),
        'inputs': [enc(i.float().flatten().tolist(), True) for i in inputs],
        'targetKind': 'index' if target.dtype == torch.long else 'float',
        'target': target.flatten().tolist() if target.dtype == torch.long else enc(target.float().flatten().tolist(), True),
        'options': {k: (enc(v.float().flatten().tolist(), True) if torch.is_tensor(v) else v) for k, v in options.items()},
        'reduction': reduction,
        'loss': enc(loss.detach().flatten().tolist()) if reduction == 'none' else enc([loss.item()])[0],
        'grads': [enc(i.grad.flatten().tolist()) for i in ins],
    }
    if sw is not None:
        c['options']['sampleWeight'] = enc(sw.float().tolist(), True)
    return c


cases = []
for reduction in ['mean', 'sum', 'none']:
    for (N, C) in [(7, 5), (4, 23)]:
        x = torch.randn(N, C) * 2
        ids = torch.randint(0, C, (N,))
        w = torch.rand(C) + 0.5
        sw = torch.rand(N) * 2
        lp = F.log_softmax(x, 1)
        ign = ids.clone(); ign[0] = -100
        cases.append(case('nllLoss', '', [lp], ign, {}, reduction))
        cases.append(case('nllLoss', 'weight sampleWeight', [lp], ign, {'weight': w}, reduction, sw))
        for p in [1, 2]:
            cases.append(case('multiMarginLoss', f'p={p}', [x], ids, {'p': p, 'margin': 0.8}, reduction))
            cases.append(case('multiMarginLoss', f'p={p} weight sampleWeight', [x], ids, {'p': p, 'weight': w}, reduction, sw))
        tb = (torch.rand(N, C) < 0.4).float()
        cases.append(case('multilabelSoftMarginLoss', '', [x], tb, {}, reduction))
        cases.append(case('multilabelSoftMarginLoss', 'weight sampleWeight', [x], tb, {'weight': w}, reduction, sw))
        x2 = torch.randn(N, C)
        tc = torch.where(torch.rand(N) < 0.5, torch.tensor(1.0), torch.tensor(-1.0))
        cases.append(case('cosineEmbeddingLoss', '', [x, x2], tc, {}, reduction))
        cases.append(case('cosineEmbeddingLoss', 'margin sampleWeight', [x, x2], tc, {'margin': -0.2}, reduction, sw))
        cases.append(case('softF1Loss', '', [x], tb, {}, reduction))
        cases.append(case('softF1Loss', 'eps sampleWeight soft targets', [x], torch.rand(N, C), {'eps': 1e-3}, reduction, sw))
    # nll on spatial log-probabilities
    lp = F.log_softmax(torch.randn(2, 4, 3, 5), 1)
    cases.append(case('nllLoss', 'spatial', [lp], torch.randint(0, 4, (2, 3, 5)), {'weight': torch.rand(4) + 0.5}, reduction))
# one sample [C]
cases.append(case('multiMarginLoss', 'one sample', [torch.randn(9)], torch.tensor(3), {'p': 2}, 'mean'))
# tfjs's cosine distance (appended: the cases above keep their random draws)
for reduction in ['mean', 'sum', 'none']:
    for (N, C) in [(7, 5), (4, 23)]:
        x = torch.randn(N, C)
        t = F.normalize(torch.randn(N, C), dim=1)
        cases.append(case('cosineDistance', '', [x], t, {}, reduction))
        cases.append(case('cosineDistance', 'sampleWeight', [x], t, {}, reduction, torch.rand(N) * 2))

with open(OUT, 'w') as f:
    json.dump({'generator': 'scripts/gen-fixtures-rowwise.py', 'torch': torch.__version__, 'dtype': 'float64', 'cases': cases},
              f, separators=(',', ':'))
print(f'{len(cases)} cases -> {os.path.relpath(OUT)} ({os.path.getsize(OUT) // 1024} KiB)')
