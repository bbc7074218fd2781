#!/usr/bin/env python3
"""Writes test/fixtures/optim.json: torch.optim's SGD, Adam and AdamW (1.13, single-tensor, float32 on the
CPU) over six steps on seeded parameters and gradients, the parameters after every step stored as exact
float32 values. Run with Debian's python3-torch (`npm run fixtures`); tests read the committed file.
"""
import json
import os

import torch

from fixtures_common import enc

torch.manual_seed(21)
OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'optim.json')
STEPS = 6
N = 53

CONFIGS = [
    ('sgd', dict(lr=0.1)),
    ('sgd', dict(lr=0.05, momentum=0.9)),
    ('sgd', dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ('sgd', dict(lr=0.02, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ('sgd', dict(lr=0.1, momentum=0.5, maximize=True)),
    ('adam', dict(lr=1e-2)),
    ('adam', dict(lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)),
    ('adam', dict(lr=1e-2, betas=(0.6, 0.9), maximize=True)),
    ('adamw', dict(lr=1e-2)),
    ('adamw', dict(lr=5e-3, betas=(0.85, 0.95), weight_decay=0.2)),
]

cases = []
for kind, opts in CONFIGS:
    p0 = (torch.randn(N) * 2).float()
    grads = [(torch.randn(N) * 0.5).float() for _ in range(STEPS)]
    grads[2][::7] = 0.0  # some zero gradients
    p = p0.clone().requires_grad_(True)
    cls = {'sgd': torch.optim.SGD, 'adam': torch.optim.Adam, 'adamw': torch.optim.AdamW}[kind]
    opt = cls([p], foreach=False, **opts)
    after = []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        after.append(enc(p.detach()))
    o = dict(opts)
    if 'betas' in o:
        o['betas'] = list(o['betas'])
    cases.append({'kind': kind, 'options': o, 'param': enc(p0), 'grads': [enc(g) for g in grads], 'after': after})

with open(OUT, 'w') as f:
    json.dump({'torch': torch.__version__, 'cases': cases}, f)
print(f'wrote {OUT}: {len(cases)} cases')
