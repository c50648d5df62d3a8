"""GradientBuckets in a world of one: bucket sizes in backward order, the result of
allreduce_gradients, gradient accumulation with no_sync, and the error without it."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn


def _model() -> nn.Module:
    cr.manual_seed(1)
    m = nn.Sequential(nn.Linear(6, 10), nn.ReLU(), nn.Linear(10, 4))
    m.double()
    return m


def test_buckets_follow_backward_order_and_size(world: object) -> None:
    m = _model()
    b = dist.GradientBuckets(m.parameters(), bucket_mb=100 * 8 / 2**20)   # 100 doubles
    names = [[tuple(p.shape) for p in bk.params] for bk in b.buckets]
    assert names == [[(4,), (10, 4), (10,)], [(6, 10)]]      # 54 doubles, then 60
    b.remove()
    with pytest.raises(ValueError, match="bucket_mb must be positive"):
        dist.GradientBuckets(m.parameters(), bucket_mb=0)


def test_same_gradients_as_allreduce_gradients_and_accumulation(world: object) -> None:
    m = _model()
    opt = dist.DistributedOptimizer(cr.optim.SGD(m.parameters(), lr=0.1), overlap=True,
                                    bucket_mb=1e-4)
    x, y = np.random.default_rng(0).standard_normal((5, 6)), np.array([0, 1, 2, 3, 0])
    with opt.no_sync():
        nn.functional.cross_entropy(m(x), y).backward()
    nn.functional.cross_entropy(m(x), y).backward()
    expected = [2 * g for g in cr.grad(nn.functional.cross_entropy(m(x), y),
                                       list(m.parameters()))]
    opt.synchronize()
    for p, e in zip(m.parameters(), expected):
        np.testing.assert_allclose(p.grad.data, e.data, atol=1e-14)
    nn.functional.cross_entropy(m(x), y).backward()
    with pytest.raises(dist.DistributedError, match="no_sync"):
        nn.functional.cross_entropy(m(x), y).backward()
