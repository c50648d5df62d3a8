"""SyncBatchNorm under mpiexec -n N (run by test_syncbn.py): each rank normalises its
slice of one fixed batch; rank r saves its output, input gradient, parameter
gradients (summed over the ranks) and running statistics to OUT/syncbn-rank{r}.npz."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import chainrule as cr
import chainrule.distributed as dist

out = Path(sys.argv[1])
dist.init(timeout=60)
r, n = dist.rank(), dist.world_size()
rng = np.random.default_rng(3)
x = rng.standard_normal((6, 3, 4, 5)) * 2 + 1
g = rng.standard_normal(x.shape)
bn = dist.SyncBatchNorm(3, dtype=np.float64)
bn.weight.data[...] = [0.5, 1.5, -1.0]
bn.bias.data[...] = [0.1, -0.2, 0.3]
part = slice(r * 6 // n, (r + 1) * 6 // n)
for _ in range(2):                                   # two steps: running stats move twice
    X = cr.tensor(x[part], requires_grad=True)
    bn.zero_grad()
    y = bn(X)
    (y * g[part]).sum().backward()
dist.allreduce_gradients(bn.parameters(), average=False)
bn.eval()
cr.save({"y": y.data, "dx": X.grad, "dw": bn.weight.grad, "db": bn.bias.grad,
         "rm": bn.running_mean.data, "rv": bn.running_var.data,
         "eval": bn(x[part]).data}, out / f"syncbn-rank{r}.npz")
