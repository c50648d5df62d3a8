"""Issue 12, item 3: ``+= -= *= /= **=`` are in-place updates.

Before, the Tensor had no in-place operators, so ``with cr.no_grad(): p -= lr * p.grad``
rebound the name ``p`` to a new tensor and the parameter was never updated.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.errors import InplaceModificationError


def _grad_of_square(p):
    (p * p).sum().backward()
    return p.grad


def test_p_minus_equals_lr_times_grad_under_no_grad_updates_p_in_place():
    p = cr.tensor([1.0, -2.0], requires_grad=True)
    _grad_of_square(p)
    same, buffer, version = p, p.data, p.version
    with cr.no_grad():
        p -= 0.25 * p.grad
    assert p is same and p.data is buffer
    assert p.version > version
    assert p.data.tolist() == [0.5, -1.0]
    assert p.requires_grad and p.is_leaf


def test_a_module_parameter_is_updated_by_the_operator():
    layer = nn.Linear(3, 2)
    w = layer.weight
    before = w.data.copy()
    (layer(cr.ones(4, 3)) ** 2).sum().backward()
    with cr.no_grad():
        for p in layer.parameters():
            p -= 0.1 * p.grad
    assert layer.weight is w
    np.testing.assert_allclose(w.data, before - 0.1 * w.grad.data)


@pytest.mark.parametrize("update, expect", [
    (lambda t: t.__iadd__(2.0), [3.0, 4.0]),
    (lambda t: t.__isub__(cr.tensor([1.0, 1.0])), [0.0, 1.0]),
    (lambda t: t.__imul__(np.array([3.0, 0.5])), [3.0, 1.0]),
    (lambda t: t.__itruediv__(2.0), [0.5, 1.0]),
    (lambda t: t.__ipow__(2), [1.0, 4.0]),
])
def test_every_operator_writes_into_the_same_memory_and_bumps_the_version(update, expect):
    t = cr.tensor([1.0, 2.0])
    buffer, version = t.data, t.version
    assert update(t) is t
    assert t.data is buffer and t.version > version
    assert t.data.tolist() == expect


def test_a_change_through_the_operator_is_caught_by_backward():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    a = cr.tensor([3.0, 4.0])
    y = (x * a).sum()             # Mul saved a
    a *= 2.0
    with pytest.raises(InplaceModificationError):
        y.backward()


def test_on_a_leaf_that_requires_grad_outside_no_grad_it_is_refused():
    p = cr.tensor([1.0, 2.0], requires_grad=True)
    for op in ("__iadd__", "__isub__", "__imul__", "__itruediv__", "__ipow__"):
        with pytest.raises(RuntimeError, match=r"in-place modification of a leaf tensor "
                                               r"that requires grad.*cr\.no_grad"):
            getattr(p, op)(1.0)
    assert p.data.tolist() == [1.0, 2.0] and p.version == 0


def test_in_a_recorded_graph_the_result_is_recorded_out_of_place():
    # chainrule cannot record an in-place change in a graph (add_ refuses too): the
    # operator records `h + 1` as a new tensor, and Python rebinds the name.
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    old = h
    h += 1.0
    h *= x
    assert h is not old and old.data.tolist() == [3.0, 6.0]
    h.sum().backward()
    np.testing.assert_allclose(x.grad.data, 6 * x.data + 1)   # d/dx (3x+1)x
    acc = cr.zeros(2)                # no grad of its own, a grad operand: recorded too
    acc += x
    assert acc.creator is not None


def test_an_integer_tensor_refuses_a_float_result_as_numpy_same_kind_does():
    i = cr.tensor([1, 2])
    with pytest.raises(cr.DtypeError, match=r"\+=: .*int64 tensor.*same_kind"):
        i += 0.5
    with pytest.raises(cr.DtypeError, match=r"/=: .*same_kind"):
        i /= 2
    assert i.data.tolist() == [1, 2] and i.dtype == np.int64
    i += 3
    assert i.data.tolist() == [4, 5]
    f32 = cr.tensor([1.0], dtype=np.float32)
    f32 += np.float64(0.5)            # same kind: allowed, stays float32
    assert f32.dtype == np.float32 and f32.item() == 1.5


def test_a_broadcast_that_would_change_the_left_shape_is_refused():
    t = cr.tensor([1.0, 2.0])
    with pytest.raises(cr.ShapeError, match=r"keeps the shape \(2,\).*\(3, 2\)"):
        t += np.ones((3, 2))
    assert t.shape == (2,) and t.data.tolist() == [1.0, 2.0]
    m = cr.ones(3, 2)
    m += cr.tensor([1.0, 2.0])        # broadcasting the right operand is fine
    assert m.data.tolist() == [[2.0, 3.0]] * 3


def test_add_and_mul_methods_give_the_same_clear_errors():
    i = cr.tensor([1, 2])
    with pytest.raises(cr.DtypeError, match="add_: "):
        i.add_(0.5)
    with pytest.raises(cr.ShapeError, match="mul_: "):
        cr.ones(2).mul_(np.ones((2, 2)))
