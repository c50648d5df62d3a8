"""Overlapped, bucketed gradient allreduce under mpiexec (run by test_overlap.py): the
same training with DistributedOptimizer(overlap=False) and (overlap=True, tiny buckets,
one parameter left unused on rank 1 for a step, gradient accumulation with no_sync);
rank r saves both sets of weights to OUT/overlap-rank{r}.npz."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn

out = Path(sys.argv[1])
dist.init(timeout=60)
r = dist.rank()
result = {}
for overlap in (False, True):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 8), nn.Tanh(),
                          nn.Linear(8, 3))
    model.double()
    extra = nn.Linear(5, 3, dtype=np.float64)          # used on some steps only
    params = [*model.parameters(), *extra.parameters()]
    dist.broadcast_parameters(params)
    opt = dist.DistributedOptimizer(cr.optim.SGD(params, lr=0.1, momentum=0.9),
                                    overlap=overlap, bucket_mb=0.0005)
    rng = np.random.default_rng(10 + r)
    for step in range(6):
        opt.zero_grad()
        x, y = rng.standard_normal((7, 5)), rng.integers(0, 3, 7)
        logits = model(x)
        if not (step == 2 and r == 1):                 # rank 1 skips `extra` once
            logits = logits + extra(x)
        if step == 4:                                  # two passes, one step
            with opt.no_sync():
                nn.functional.cross_entropy(model(x[:3]), y[:3]).backward()
        nn.functional.cross_entropy(logits, y).backward()
        opt.step()
    result[f"overlap={overlap}"] = np.concatenate([p.data.ravel() for p in params])
cr.save(result, out / f"overlap-rank{r}.npz")
