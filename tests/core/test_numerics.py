"""Numerical behaviour at the edges: huge inputs, kinks, ties, and the ``where`` trap.

* sigmoid, softmax, log_softmax and logsumexp stay finite (values *and* gradients) for
  inputs of magnitude 1e4 in float32 and float64, and are correct there;
* the conventions at kinks are the documented ones (relu'(0) = 0, abs'(0) = 0, clip
  passes the gradient at its bounds);
* ties share the gradient equally, for the max/min reductions (with axis and keepdims)
  and for elementwise maximum/minimum;
* ``where`` cannot hide an infinite local gradient in the branch it does not take
  (NaN), exactly as ops/elementwise.py documents, and the documented safe pattern
  gives finite gradients.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

DTYPES = [np.float32, np.float64]
BIG = 1e4


def leaf(values, dtype=np.float64) -> cr.Tensor:
    return cr.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def _approx(dtype) -> dict:
    return {"rel": 2e-3, "abs": 2e-3} if dtype == np.float32 else {"rel": 1e-12, "abs": 1e-12}


def _tol(dtype) -> dict:
    # A float32 number near 1e4 is only known to about 1e-3 (its spacing is ~0.001).
    return {"rtol": 2e-3, "atol": 2e-3} if dtype == np.float32 else {"rtol": 1e-12,
                                                                      "atol": 1e-12}


# ---------------------------------------------------------------------- large inputs
@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_of_huge_inputs(dtype) -> None:
    x = leaf([-BIG, -50.0, 0.0, 50.0, BIG], dtype)
    # No overflow, division by zero or NaN hidden inside either (underflow to 0 is fine).
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        y = cr.sigmoid(x)
        y.sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype
    assert np.all(np.isfinite(y.detach().numpy())) and np.all(np.isfinite(x.grad.numpy()))
    np.testing.assert_allclose(y.detach().numpy(), [0.0, np.exp(-50.0), 0.5, 1.0, 1.0], rtol=1e-6,
                               atol=0)
    np.testing.assert_allclose(x.grad.numpy(), [0.0, np.exp(-50.0), 0.25, 0.0, 0.0],
                               rtol=1e-6, atol=1e-30)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_of_huge_inputs(dtype) -> None:
    x = leaf([BIG, BIG], dtype)
    y = cr.logsumexp(x)
    y.backward()
    assert y.dtype == dtype
    assert y.item() == pytest.approx(BIG + np.log(2), **_approx(dtype))
    np.testing.assert_allclose(x.grad.numpy(), [0.5, 0.5], **_tol(dtype))
    if dtype == np.float64:
        assert y.item() == BIG + np.log(2)

    x = leaf([[-BIG, -BIG, -BIG], [BIG, 0.0, -BIG]], dtype)
    y = cr.logsumexp(x, axis=1)
    (y * cr.tensor(np.array([1.0, 2.0], dtype=dtype))).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), [-BIG + np.log(3), BIG], **_tol(dtype))
    np.testing.assert_allclose(x.grad.numpy(), [[1 / 3] * 3, [2.0, 0.0, 0.0]], **_tol(dtype))
    assert np.all(np.isfinite(x.grad.numpy()))


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_of_huge_inputs(dtype) -> None:
    x = leaf([[BIG, 0.0, -BIG, BIG], [-BIG, -BIG, -BIG, -BIG]], dtype)
    y = cr.softmax(x)
    w = cr.tensor(np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 0.0, 0.0, 0.0]], dtype=dtype))
    (y * w).sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype
    np.testing.assert_allclose(y.detach().numpy(), [[0.5, 0, 0, 0.5], [0.25] * 4], **_tol(dtype))
    # d/dx (w . softmax(x)) = p * (w - w . p)
    np.testing.assert_allclose(x.grad.numpy(), [[-0.75, 0, 0, 0.75],
                                                [0.1875, -0.0625, -0.0625, -0.0625]],
                               **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_of_huge_inputs(dtype) -> None:
    x = leaf([BIG, -BIG, 0.0, BIG], dtype)
    y = cr.log_softmax(x)
    (y * cr.tensor(np.array([1.0, 2.0, 3.0, 4.0], dtype=dtype))).sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype
    assert np.all(np.isfinite(y.detach().numpy())) and np.all(np.isfinite(x.grad.numpy()))
    l2 = np.log(2)
    np.testing.assert_allclose(y.detach().numpy(), [-l2, -2 * BIG - l2, -BIG - l2, -l2],
                               **_tol(dtype))
    # g - softmax * sum(g) with softmax = [.5, 0, 0, .5] and sum(g) = 10.
    np.testing.assert_allclose(x.grad.numpy(), [-4.0, 2.0, 3.0, -1.0], **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy_of_huge_logits(dtype) -> None:
    x = leaf([[BIG, 0.0, -BIG], [BIG, 0.0, -BIG]], dtype)
    loss = cr.softmax_cross_entropy(x, np.array([0, 2]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(x.grad.numpy()))
    assert loss.item() == pytest.approx(BIG, **_approx(dtype))  # (0 + 2e4) / 2
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0, 0], [0.5, 0, -0.5]], **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_of_minus_infinity(dtype) -> None:
    x = leaf([-np.inf, -np.inf], dtype)
    with np.errstate(divide="ignore"):  # log(0), as in NumPy
        y = cr.logsumexp(x)
    assert y.item() == -np.inf
    x = leaf([-np.inf, 0.0], dtype)
    y = cr.logsumexp(x)
    y.backward()
    assert y.item() == 0.0
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0])


def test_exp_overflow_is_numpy_behaviour() -> None:
    """Plain exp overflows to inf as in NumPy (the stable ops exist for this reason)."""
    with np.errstate(over="ignore"):
        assert cr.exp(cr.tensor(BIG)).item() == np.inf


# ---------------------------------------------------------------------- kinks
def test_relu_gradient_at_zero_is_zero() -> None:
    x = leaf([-1.0, 0.0, 2.0])
    cr.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0])


def test_relu_of_minus_zero_and_tiny_values() -> None:
    x = leaf([-0.0, 1e-300, -1e-300])
    cr.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 0.0])


def test_abs_gradient_at_zero_is_zero() -> None:
    x = leaf([-2.0, 0.0, 3.0])
    cr.abs(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-1.0, 0.0, 1.0])


def test_clip_passes_the_gradient_at_its_bounds() -> None:
    x = leaf([-2.0, -1.0, 0.0, 1.0, 2.0])
    cr.clip(x, -1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 1.0, 1.0, 0.0])


def test_sqrt_gradient_at_zero_is_infinite() -> None:
    x = leaf([0.0, 4.0])
    with np.errstate(divide="ignore"):
        cr.sqrt(x).sum().backward()
    assert x.grad.numpy()[0] == np.inf
    assert x.grad.numpy()[1] == 0.25


# ---------------------------------------------------------------------- ties
def test_max_reduction_ties_share_the_gradient() -> None:
    x = leaf([1.0, 3.0, 3.0, 2.0])
    cr.max(x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.5, 0.5, 0.0])


def test_min_reduction_ties_share_the_gradient() -> None:
    x = leaf([1.0, 3.0, 1.0, 1.0])
    cr.min(x).backward()
    np.testing.assert_allclose(x.grad.numpy(), [1 / 3, 0.0, 1 / 3, 1 / 3], rtol=1e-15)


@pytest.mark.parametrize("keepdims", [False, True])
def test_max_with_axis_ties_share_per_slice(keepdims: bool) -> None:
    x = leaf([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [5.0, 0.0, 4.0]])
    y = cr.max(x, axis=1, keepdims=keepdims)
    assert y.shape == ((3, 1) if keepdims else (3,))
    up = np.array([1.0, 6.0, 2.0]).reshape(y.shape)
    y.backward(up)
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [2, 2, 2], [2, 0, 0]],
                               rtol=1e-15)


@pytest.mark.parametrize("keepdims", [False, True])
def test_min_with_axis_0_ties_share_per_column(keepdims: bool) -> None:
    x = leaf([[1.0, 3.0], [1.0, 0.0], [4.0, 0.0], [1.0, 5.0]])
    y = cr.min(x, axis=0, keepdims=keepdims)
    np.testing.assert_array_equal(y.detach().numpy().reshape(-1), [1.0, 0.0])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1 / 3, 0], [1 / 3, 0.5], [0, 0.5],
                                                [1 / 3, 0]], rtol=1e-15)


def test_max_over_several_axes_with_ties() -> None:
    x = leaf(np.array([[[1.0, 7.0], [7.0, 0.0]], [[2.0, 2.0], [1.0, 2.0]]]))
    y = cr.max(x, axis=(1, 2), keepdims=True)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[[0, 0.5], [0.5, 0]],
                                                [[1 / 3, 1 / 3], [0, 1 / 3]]], rtol=1e-15)


@pytest.mark.parametrize(("op", "x", "y", "gx", "gy"), [
    (cr.maximum, [1.0, 2.0, 3.0], [1.0, 5.0, 0.0], [0.5, 0.0, 1.0], [0.5, 1.0, 0.0]),
    (cr.minimum, [1.0, 2.0, 3.0], [1.0, 5.0, 0.0], [0.5, 1.0, 0.0], [0.5, 0.0, 1.0]),
])
def test_maximum_minimum_ties_give_half_to_each(op, x, y, gx, gy) -> None:
    tx, ty = leaf(x), leaf(y)
    op(tx, ty).sum().backward()
    np.testing.assert_array_equal(tx.grad.numpy(), gx)
    np.testing.assert_array_equal(ty.grad.numpy(), gy)


def test_maximum_tie_with_a_broadcast_scalar() -> None:
    x = leaf([0.0, 1.0, -1.0, 0.0])
    z = leaf(0.0)
    cr.maximum(x, z).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.5, 1.0, 0.0, 0.5])
    assert z.grad.item() == 2.0  # 0.5 + 0 + 1 + 0.5


def test_maximum_of_x_with_itself_gives_the_full_gradient() -> None:
    x = leaf([1.0, -2.0])
    cr.maximum(x, x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


# ---------------------------------------------------------------------- where
def test_where_log_pitfall_gives_nan_gradient_as_documented() -> None:
    x = leaf([-1.0, 0.0, 2.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        y = cr.where(x > 0, cr.log(x), 0.0)
        y.sum().backward()
    np.testing.assert_array_equal(y.detach().numpy(), [0.0, 0.0, np.log(2.0)])  # value is fine
    g = x.grad.numpy()
    assert np.isnan(g[1])  # 0 * (1/0): the documented NaN
    assert g[0] == 0.0 and g[2] == 0.5


def test_where_sqrt_pitfall_gives_nan_at_every_unused_non_positive() -> None:
    x = leaf([-1.0, 0.0, 4.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        cr.where(x > 0, cr.sqrt(x), 0.0).sum().backward()
    g = x.grad.numpy()
    assert np.isnan(g[0]) and np.isnan(g[1]) and g[2] == 0.25


def test_where_safe_pattern_gives_finite_gradients() -> None:
    x = leaf([-1.0, 0.0, 2.0])
    pos = x > 0
    with np.errstate(all="raise"):  # nothing risky is even evaluated
        safe = cr.where(pos, x, 1.0)
        y = cr.where(pos, cr.log(safe), 0.0)
        y.sum().backward()
    np.testing.assert_array_equal(y.detach().numpy(), [0.0, 0.0, np.log(2.0)])
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.5])


def test_where_routes_the_gradient_to_the_chosen_branch() -> None:
    a, b = leaf([1.0, 2.0, 3.0]), leaf([10.0, 20.0, 30.0])
    cr.where(np.array([True, False, True]), a, b).backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 0.0, 3.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.0, 2.0, 0.0])


# ---------------------------------------------------------------------- float32
@pytest.mark.parametrize("f", [cr.sigmoid, cr.tanh, cr.exp, cr.softmax, cr.log_softmax,
                               cr.logsumexp, cr.relu])
def test_float32_gradient_matches_float64(f) -> None:
    v = np.array([-2.0, -0.5, 0.3, 1.7])
    x32, x64 = leaf(v, np.float32), leaf(v)
    f(x32).sum().backward()
    f(x64).sum().backward()
    assert x32.grad.dtype == np.float32
    np.testing.assert_allclose(x32.grad.numpy(), x64.grad.numpy(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------- pow at zero
def test_pow_with_tensor_exponent_at_zero_base_has_zero_exponent_gradient() -> None:
    """d/dp 0**p is 0 for p >= 0 (PyTorch's convention), not 0 * log(0) = NaN."""
    x = leaf([0.0, 0.0, 2.0])
    p = leaf([2.0, 0.0, 0.5])
    with np.errstate(all="raise"):  # and nothing risky is evaluated on the way
        cr.pow(x, p).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0, 0.5 * 2.0 ** -0.5], rtol=1e-15)
    np.testing.assert_allclose(p.grad.numpy(), [0.0, 0.0, np.sqrt(2.0) * np.log(2.0)],
                               rtol=1e-15)


@pytest.mark.parametrize("exponent", [0.0, 0])
def test_pow_zero_exponent_has_zero_gradient_at_zero(exponent) -> None:
    x = leaf([0.0, 1.5])
    with np.errstate(all="raise"):
        (x ** exponent).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])
    y = leaf([0.0, 1.5])
    with np.errstate(all="raise"):
        (y ** cr.tensor(0.0)).sum().backward()  # a tensor exponent takes another path
    np.testing.assert_array_equal(y.grad.numpy(), [0.0, 0.0])


def test_pow_tensor_exponent_second_order_with_zero_base() -> None:
    x = cr.tensor([0.0, 1.5])
    p = leaf([2.5, 1.7])
    assert cr.gradcheck(lambda b, e: cr.pow(b, e), [x, p])
    assert cr.gradgradcheck(lambda b, e: cr.pow(b, e), [x, p])
