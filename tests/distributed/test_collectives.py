"""chainrule.distributed.collectives in a world of one: values as a plain run, errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn


def test_allreduce_gradients_world_of_one(world: object) -> None:
    a = cr.tensor(np.zeros((2, 2), dtype=np.float32), requires_grad=True)
    b = cr.tensor(np.zeros(3), requires_grad=True)
    frozen = cr.tensor(np.zeros(1))
    g = np.array([[1.0, 2.0], [3.0, 4.0]])               # float64 for a float32 param
    a.grad = cr.tensor(g)
    dist.allreduce_gradients([a, b, frozen])
    assert a.grad.data.dtype == np.float32 and b.grad is None and frozen.grad is None
    np.testing.assert_array_equal(a.grad.data, g)
    # the result never aliases the gradient it came from, nor the communication buffer
    before = a.grad.data
    dist.allreduce_gradients([a])
    assert not np.shares_memory(before, a.grad.data)
    np.testing.assert_array_equal(before, g)
    a.grad = cr.tensor(np.ones(3))
    with pytest.raises(cr.ShapeError, match=r"has shape \(3,\) but the parameter has shape"):
        dist.allreduce_gradients([a])
    a.grad = cr.tensor(np.ones((2, 2), dtype=np.complex128))
    with pytest.raises(cr.DtypeError, match="complex128, which cannot be cast to the "
                                            "parameter's float32"):
        dist.allreduce_gradients([a])
    with pytest.raises(TypeError, match="expected a module or an iterable of tensors"):
        dist.allreduce_gradients({"a": a})
    with pytest.raises(TypeError, match="item 1 is a str"):
        dist.allreduce_gradients([a, "b"])


def test_broadcast_and_check_world_of_one(world: object) -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    before = model.state_dict()
    dist.broadcast_parameters(model)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    dist.check_synchronized(model)
    dist.check_synchronized(list(model.parameters()))
