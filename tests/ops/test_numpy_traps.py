"""Regression tests for the NumPy calls that gave a wrong answer or dropped a gradient."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import ops

RNG = np.random.default_rng(3)


def leaf(*shape: int) -> cr.Tensor:
    return cr.tensor(RNG.standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize(("sa", "sb"), [((2, 3), (2, 3, 4)), ((2, 2, 3), (2, 3, 4)),
                                        ((2, 3), (3,)), ((4, 2, 3), (3,)), ((3,), (3, 2)),
                                        ((2, 3), (3, 4)), ((3,), (3,))])
def test_dot_follows_numpy_for_every_rank(sa: tuple, sb: tuple) -> None:
    a, b = leaf(*sa), leaf(*sb)
    want = np.dot(a.detach().numpy(), b.detach().numpy())
    for got in (np.dot(a, b), cr.dot(a, b), a.dot(b)):
        assert got.shape == want.shape
        np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-12)
    assert cr.gradcheck(cr.dot, [a, b])


def test_dot_with_a_number_and_misaligned_shapes() -> None:
    x = leaf(2, 3)
    np.testing.assert_allclose(np.dot(1.5, x).detach().numpy(), 1.5 * x.detach().numpy())
    with pytest.raises(cr.ShapeError, match=r"dot: shapes \(2, 3\) and \(2,\) not aligned"):
        cr.dot(x, cr.ones(2))


def test_clip_takes_numpy_keyword_names() -> None:
    x = cr.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    for y in (np.clip(x, a_min=-1, a_max=1), np.clip(x, min=-1, max=1), x.clip(-1, 1),
              x.clip(min=-1, max=1), cr.clip(x, -1, 1), x.clamp(min=-1, max=1)):
        np.testing.assert_array_equal(y.detach().numpy(), [-1.0, 0.5, 1.0])
    y = np.clip(x, a_min=0.0, a_max=None)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 1.0])
    with pytest.raises(TypeError, match="same bound"):
        cr.clip(x, a_min=0, min=0)
    with pytest.raises(ValueError, match="at least one bound"):
        cr.clip(x)


def test_clip_with_tensor_bounds_gives_the_bounds_their_gradient() -> None:
    x = cr.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    lo = cr.tensor([-1.0, -1.0, -1.0], requires_grad=True)
    cr.clip(x, lo, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(lo.grad.numpy(), [1.0, 0.0, 0.0])


def test_dtype_on_sum_and_mean_as_numpy() -> None:
    x = leaf(2, 3)
    for y in (np.sum(x, dtype=np.float32), x.sum(dtype=np.float32), cr.sum(x, 0, np.float32),
              np.mean(x, dtype=np.float32), x.mean(axis=1, dtype=np.float32)):
        assert y.dtype == np.float32
    y = np.sum(x, axis=1, dtype=np.float32)
    np.testing.assert_allclose(y.detach().numpy(), np.sum(x.detach().numpy(), axis=1,
            dtype=np.float32))
    y.sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3)))
    with pytest.raises(TypeError, match="out= is not supported"):
        np.sum(x, out=np.zeros(()))


def test_torch_names_dim_and_keepdim_are_aliases() -> None:
    x = leaf(2, 3)
    np.testing.assert_allclose(x.sum(dim=1, keepdim=True).detach().numpy(),
                               x.detach().numpy().sum(axis=1, keepdims=True))
    np.testing.assert_allclose(cr.softmax(x, dim=0).detach().numpy(), cr.softmax(x,
            axis=0).detach().numpy())
    with pytest.raises(TypeError, match="not both"):
        x.sum(axis=0, dim=1)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize(("shape", "axis", "ddof"), [((1,), None, 1), ((2,), None, 2),
                                                     ((3, 0), 1, 0), ((2, 1), 1, 1)])
def test_var_at_or_below_ddof_gives_nan_not_an_exception(shape: tuple, axis: int | None,
                                                         ddof: int) -> None:
    x = cr.tensor(RNG.standard_normal(shape), requires_grad=True)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        want = np.var(x.detach().numpy(), axis=axis, ddof=ddof)
        y = cr.var(x, axis=axis, ddof=ddof)
    np.testing.assert_array_equal(y.detach().numpy(), want)
    y.sum().backward()
    assert x.grad.shape == shape
    assert not np.isfinite(x.grad.numpy()).any()


@pytest.mark.parametrize("axis", [0, -1, (0,), ()])
def test_reductions_of_a_0d_tensor_accept_axis_0_and_minus_1(axis: object) -> None:
    x = cr.tensor(2.5, requires_grad=True)
    for fn in (cr.sum, cr.logsumexp, cr.mean, cr.max):
        y = fn(x, axis=axis)
        assert y.shape == () and y.item() == pytest.approx(2.5)
    cr.sum(x, axis=axis).backward()
    assert x.grad.item() == 1.0
    with pytest.raises((np.exceptions.AxisError, cr.ShapeError), match="axis 1 is out of"):
        cr.sum(x, axis=1)


def test_nothing_silently_detaches_a_tensor_that_requires_grad() -> None:
    x, y = leaf(3), leaf(3)
    for call in (lambda: np.asarray(x), lambda: np.array([x, y]), lambda: np.mean([x, y]),
                 lambda: np.unique(x)):
        with pytest.raises(TypeError, match="gradient"):
            call()
    target = np.zeros(3)
    with pytest.raises(TypeError, match="requires grad"):
        target[:] = x
    # The explicit ways out still work.
    np.testing.assert_array_equal(np.asarray(x.detach()), x.detach().numpy())
    with cr.no_grad():
        assert np.asarray(x).shape == (3,)
    assert np.asarray(cr.tensor([1.0, 2.0])).shape == (2,)


def test_np_sort_is_differentiable() -> None:
    x = cr.tensor([3.0, 1.0, 2.0], requires_grad=True)
    s = np.sort(x)
    np.testing.assert_array_equal(s.detach().numpy(), [1.0, 2.0, 3.0])
    (s * cr.tensor([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [100.0, 1.0, 10.0])


def test_by_hand_loss_with_integer_labels_returns_only_dx() -> None:
    x = np.array([[0.3, 2.9, 4.0], [0.1, 0.2, 0.7]])
    t = np.array([2, 1])
    gate = ops.SoftmaxCrossEntropy()
    loss = gate.forward(x, t)
    dx = gate.backward(1.0)
    assert isinstance(dx, np.ndarray) and dx.shape == x.shape
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(loss, -np.mean(np.log(p[[0, 1], t])), rtol=1e-12)
    np.testing.assert_allclose(dx, (p - np.eye(3)[t]) / 2, rtol=1e-12)


def test_by_hand_lists_are_arrays_not_sequences() -> None:
    add = ops.Add()
    np.testing.assert_array_equal(add.forward([1, 2], [3, 4]), [4, 6])
    da, db = add.backward(np.array([1.0, 1.0]))
    np.testing.assert_array_equal(da, [1.0, 1.0])
    np.testing.assert_array_equal(db, [1.0, 1.0])


def test_format_and_bare_no_grad() -> None:
    loss = cr.tensor(1.23456, requires_grad=True)
    assert f"{loss:.3f}" == "1.235" and f"{loss}" == str(loss)
    with pytest.raises(TypeError, match="one-element"):
        f"{cr.ones(2):.2f}"

    @cr.no_grad
    def bare() -> bool:
        return (loss * 2).requires_grad

    @cr.no_grad()
    def called() -> bool:
        return (loss * 2).requires_grad

    assert bare() is False and called() is False
    assert (loss * 2).requires_grad


def test_linalg_namespace_and_numpy_dispatch() -> None:
    a = cr.tensor(np.array([[2.0, 1.0], [0.5, 3.0]]), requires_grad=True)
    np.testing.assert_allclose(cr.linalg.inv(a).detach().numpy(), np.linalg.inv(a.detach().numpy()))
    assert np.linalg.det(a).requires_grad and np.linalg.norm(a).requires_grad
    np.testing.assert_allclose(np.linalg.solve(a, cr.ones(2)).detach().numpy(),
                               np.linalg.solve(a.detach().numpy(), np.ones(2)))
    with pytest.raises(ValueError, match="singular values"):
        cr.linalg.norm(a, 2)
