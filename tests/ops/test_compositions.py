"""The ops written as compositions of gates (layout, selection, scans, contractions):
same values as NumPy, gradients checked first and second order against central
differences, on several shapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr

Fn = Callable[..., Any]


def _n(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.standard_normal(shape)


def _distinct(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    def make(rng: np.random.Generator) -> np.ndarray:
        n = int(np.prod(shape))
        return ((rng.permutation(n) - n // 2) * 0.3 + 0.05).reshape(shape)
    return make


# (label, function called with the module `np` or `cr`, input makers)
CASES: list[tuple[str, Callable[[Any, list], Any], list]] = [
    ("flip axis 1", lambda m, a: m.flip(a[0], 1), [_n(3, 4, 2)]),
    ("flip all", lambda m, a: m.flip(a[0]), [_n(3, 4)]),
    ("fliplr", lambda m, a: m.fliplr(a[0]), [_n(3, 4)]),
    ("flipud", lambda m, a: m.flipud(a[0]), [_n(3, 4)]),
    ("rot90", lambda m, a: m.rot90(a[0]), [_n(3, 4)]),
    ("rot90 k=3 axes (1,2)", lambda m, a: m.rot90(a[0], 3, (1, 2)), [_n(2, 3, 4)]),
    ("rot90 k=-2", lambda m, a: m.rot90(a[0], -2), [_n(3, 4)]),
    ("roll axis", lambda m, a: m.roll(a[0], 2, 1), [_n(3, 4)]),
    ("roll flat", lambda m, a: m.roll(a[0], 5), [_n(3, 4)]),
    ("roll two axes", lambda m, a: m.roll(a[0], (1, -1), (0, 2)), [_n(3, 4, 2)]),
    ("repeat axis", lambda m, a: m.repeat(a[0], 2, 1), [_n(2, 3)]),
    ("repeat counts", lambda m, a: m.repeat(a[0], [1, 0, 2, 3]), [_n(4)]),
    ("repeat flat", lambda m, a: m.repeat(a[0], 2), [_n(2, 2)]),
    ("tile", lambda m, a: m.tile(a[0], (2, 1, 3)), [_n(2, 3)]),
    ("tile int", lambda m, a: m.tile(a[0], 2), [_n(3)]),
    ("moveaxis", lambda m, a: m.moveaxis(a[0], [0, 1], [2, 0]), [_n(2, 3, 4)]),
    ("ravel", lambda m, a: m.ravel(a[0]), [_n(2, 3)]),
    ("atleast_2d", lambda m, a: m.atleast_2d(a[0]), [_n(3)]),
    ("atleast_3d of 2-D", lambda m, a: m.atleast_3d(a[0]), [_n(2, 3)]),
    ("atleast_3d of 1-D", lambda m, a: m.atleast_3d(a[0]), [_n(3)]),
    ("vstack", lambda m, a: m.vstack([a[0], a[1]]), [_n(3), _n(2, 3)]),
    ("hstack", lambda m, a: m.hstack([a[0], a[1]]), [_n(2, 3), _n(2, 1)]),
    ("hstack 1-D", lambda m, a: m.hstack([a[0], a[1]]), [_n(3), _n(2)]),
    ("dstack", lambda m, a: m.dstack([a[0], a[1]]), [_n(2, 3), _n(2, 3)]),
    ("split", lambda m, a: m.split(a[0], 2, axis=0)[1], [_n(4, 3)]),
    ("split at indices", lambda m, a: m.split(a[0], [1, 3], axis=1)[1], [_n(2, 5)]),
    ("array_split", lambda m, a: m.array_split(a[0], 3, axis=1)[2], [_n(2, 5)]),
    ("tril", lambda m, a: m.tril(a[0]), [_n(3, 4)]),
    ("triu k=-1 batched", lambda m, a: m.triu(a[0], -1), [_n(2, 3, 3)]),
    ("diagonal offset 1", lambda m, a: m.diagonal(a[0], 1), [_n(3, 4)]),
    ("diagonal of axes (0,2)", lambda m, a: m.diagonal(a[0], -1, 0, 2), [_n(3, 2, 4)]),
    ("diag of a vector", lambda m, a: m.diag(a[0], -1), [_n(3)]),
    ("diag of a matrix", lambda m, a: m.diag(a[0], 1), [_n(3, 4)]),
    ("trace", lambda m, a: m.trace(a[0]), [_n(3, 4)]),
    ("trace of axes (0,2)", lambda m, a: m.trace(a[0], 0, 0, 2), [_n(3, 2, 3)]),
    ("pad constant", lambda m, a: m.pad(a[0], ((1, 2), (0, 3))), [_n(2, 3)]),
    ("pad constant values", lambda m, a: m.pad(a[0], ((1, 2), (2, 1)),
                                               constant_values=((1, 2), (3, 4))), [_n(2, 3)]),
    ("pad reflect", lambda m, a: m.pad(a[0], ((1, 2), (3, 2)), mode="reflect"), [_n(3, 4)]),
    ("pad edge", lambda m, a: m.pad(a[0], 1, mode="edge"), [_n(2, 3, 2)]),
    ("pad wrap", lambda m, a: m.pad(a[0], ((5, 1), (0, 2)), mode="wrap"), [_n(3, 4)]),
    ("pad symmetric", lambda m, a: m.pad(a[0], 2, mode="symmetric"), [_n(3, 3)]),
    ("sort axis 0", lambda m, a: m.sort(a[0], axis=0), [_distinct(3, 4)]),
    ("sort flat", lambda m, a: m.sort(a[0], axis=None), [_distinct(3, 4)]),
    ("partition", lambda m, a: m.sort(m.partition(a[0], 1, axis=1), axis=1),
     [_distinct(3, 4)]),
    ("take flat", lambda m, a: m.take(a[0], [0, 5, 5, 11]), [_n(3, 4)]),
    ("take axis", lambda m, a: m.take(a[0], [1, 1, 0], axis=1), [_n(3, 4)]),
    ("take wrap", lambda m, a: m.take(a[0], [-1, 7], mode="wrap"), [_n(5)]),
    ("take_along_axis", lambda m, a: m.take_along_axis(a[0], np.array([[0], [2], [1]]), 1),
     [_n(3, 4)]),
    ("take_along_axis broadcast", lambda m, a: m.take_along_axis(
        a[0], np.array([[[0, 1]]]), 2), [_n(2, 3, 4)]),
    ("compress", lambda m, a: m.compress([True, False, True], a[0], axis=0), [_n(3, 4)]),
    ("cumsum", lambda m, a: m.cumsum(a[0], axis=1), [_n(3, 4)]),
    ("cumprod", lambda m, a: m.cumprod(a[0], axis=0), [_n(3, 4)]),
    ("prod", lambda m, a: m.prod(a[0], axis=1), [_n(3, 4)]),
    ("prod keepdims", lambda m, a: m.prod(a[0], axis=(0, 2), keepdims=True), [_n(2, 3, 2)]),
    ("diff", lambda m, a: m.diff(a[0]), [_n(3, 5)]),
    ("diff n=2 axis 0 with prepend", lambda m, a: m.diff(a[0], 2, axis=0, prepend=0.5),
     [_n(4, 3)]),
    ("std", lambda m, a: m.std(a[0], axis=1), [_n(3, 4)]),
    ("std ddof=1", lambda m, a: m.std(a[0], ddof=1), [_n(3, 4)]),
    ("dot N-D", lambda m, a: m.dot(a[0], a[1]), [_n(2, 3), _n(2, 3, 4)]),
    ("tensordot", lambda m, a: m.tensordot(a[0], a[1], 1), [_n(2, 3), _n(3, 2)]),
    ("kron", lambda m, a: m.kron(a[0], a[1]), [_n(2, 2), _n(3)]),
    ("nan_to_num of finite", lambda m, a: m.nan_to_num(a[0]), [_n(3)]),
    ("average weighted", lambda m, a: m.average(a[0], axis=1, weights=[1, 2, 3, 4]),
     [_n(3, 4)]),
    ("median", lambda m, a: m.median(a[0]), [_distinct(3, 4)]),
    ("median even count, keepdims", lambda m, a: m.median(a[0], axis=1, keepdims=True),
     [_distinct(3, 4)]),
    ("quantile", lambda m, a: m.quantile(a[0], [0.1, 0.7], axis=1), [_distinct(3, 4)]),
    ("ptp", lambda m, a: m.ptp(a[0], axis=0), [_distinct(3, 4)]),
    ("nanmean of finite", lambda m, a: m.nanmean(a[0], axis=1), [_n(3, 4)]),
    ("fmax", lambda m, a: m.fmax(a[0], a[1] + 0.1), [_distinct(3, 1), _distinct(4)]),
    ("sinc", lambda m, a: m.sinc(a[0]), [_n(5)]),
    ("deg2rad", lambda m, a: m.deg2rad(a[0]), [_n(3)]),
    ("column_stack", lambda m, a: m.column_stack([a[0], a[1]]), [_n(3), _n(3, 2)]),
    ("rollaxis", lambda m, a: m.rollaxis(a[0], 2), [_n(2, 3, 4)]),
    ("append", lambda m, a: m.append(a[0], a[1]), [_n(2, 2), _n(3)]),
    ("cross", lambda m, a: m.cross(a[0], a[1]), [_n(4, 3), _n(3)]),
]


@pytest.mark.parametrize(("label", "fn", "makers"), CASES, ids=[c[0] for c in CASES])
def test_values_match_numpy_and_gradients_check(label: str, fn: Fn, makers: list) -> None:
    rng = np.random.default_rng(sum(map(ord, label)))
    arrays = [m(rng) for m in makers]
    want = fn(np, arrays)
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    got = fn(cr, xs)
    assert got.shape == np.shape(want)
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-12, atol=1e-12)
    # NumPy's own function on tensors dispatches to the same composition.
    if hasattr(np, label.split()[0]) and label.split()[0] not in ("std",):
        np.testing.assert_allclose(fn(np, xs).detach().numpy(), want, rtol=1e-12, atol=1e-12)
    assert cr.gradcheck(lambda *ts: fn(cr, list(ts)), xs)
    assert cr.gradgradcheck(lambda *ts: fn(cr, list(ts)) ** 2, xs)


def test_topk_and_cummax_return_values_and_indices() -> None:
    x = cr.tensor([[1.0, 5.0, 3.0, 5.0], [0.0, -1.0, 2.0, 2.0]], requires_grad=True)
    v, i = cr.topk(x, 2)
    np.testing.assert_array_equal(v.detach().numpy(), [[5.0, 5.0], [2.0, 2.0]])
    np.testing.assert_array_equal(i.detach().numpy(), [[1, 3], [2, 3]])
    v.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0, 1], [0, 0, 1, 1]])
    m, j = cr.cummax(cr.tensor([1.0, 3.0, 2.0, 3.0]), 0)
    np.testing.assert_array_equal(m.detach().numpy(), [1, 3, 3, 3])
    np.testing.assert_array_equal(j.detach().numpy(), [0, 1, 1, 3])   # the latest of ties


def test_prod_gradient_at_zeros_is_the_product_of_the_others() -> None:
    x = cr.tensor([0.0, 2.0, 3.0], requires_grad=True)
    cr.prod(x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 0.0, 0.0])
    y = cr.tensor([0.0, 2.0, 0.0], requires_grad=True)
    cr.prod(y).backward()
    np.testing.assert_array_equal(y.grad.numpy(), [0.0, 0.0, 0.0])


def test_put_along_axis_returns_a_new_tensor_and_refuses_in_place() -> None:
    a = np.arange(12.0).reshape(3, 4)
    x = cr.tensor(a, requires_grad=True)
    idx = np.array([[1], [1], [0]])
    y = cr.put_along_axis(x, idx, cr.tensor(np.full((3, 1), 5.0)), 1)
    want = a.copy()
    np.put_along_axis(want, idx, 5.0, 1)
    np.testing.assert_array_equal(y.detach().numpy(), want)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), (want != 5.0).astype(float))
    with pytest.raises(TypeError, match="in place"):
        np.put_along_axis(x, idx, 5.0, 1)
    v = cr.tensor(np.ones((3, 2)), requires_grad=True)
    assert cr.gradcheck(lambda t, u: cr.put_along_axis(t, np.array([[1, 1], [1, 2], [0, 0]]),
                                                       u, 1), [x, v])


def test_pytorch_names() -> None:
    x = cr.tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    assert x.permute(2, 0, 1).shape == (4, 2, 3)
    assert x.unsqueeze(1).shape == (2, 1, 3, 4)
    assert x.view(-1, 4).shape == (6, 4)
    assert x[0, 0].expand(3, -1).shape == (3, 4)
    with pytest.raises(cr.ShapeError, match="new leading one"):
        x[0, 0].expand(-1, 4)        # -1 on a new axis: PyTorch refuses too
    with pytest.raises(cr.ShapeError, match="at least one size per axis"):
        x.expand(4)
    assert x.float().dtype == np.float32 and x.double().dtype == np.float64
    assert x.long().dtype == np.int64 and not x.long().requires_grad
    assert cr.cat([x, x], dim=1).shape == (2, 6, 4)
    c = x.clone()
    assert c.requires_grad and c.creator is not None
    np.testing.assert_array_equal(c.detach().numpy(), x.detach().numpy())
    assert x.argmax(dim=1).shape == (2, 4)


ELEMENTARY = ["tan", "arcsin", "arctan", "sinh", "cosh", "arcsinh", "arctanh", "log2",
              "log10", "log1p", "exp2", "expm1", "erf", "reciprocal", "rsqrt", "cbrt",
              "sign", "floor", "round"]


@pytest.mark.parametrize(("label", "fn", "makers"), CASES, ids=[c[0] for c in CASES])
def test_float32_stays_float32(label: str, fn: Fn, makers: list) -> None:
    rng = np.random.default_rng(1)
    arrays = [m(rng).astype(np.float32) for m in makers]
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    y = fn(cr, xs)
    # float32 in, float32 out, unless NumPy itself promotes (a float64 prepend).
    assert y.dtype == np.asarray(fn(np, arrays)).dtype, f"{label}: {y.dtype}"
    grads = cr.grad(y.sum(), xs)
    assert all(g.dtype == np.float32 for g in grads)


@pytest.mark.parametrize("name", ELEMENTARY)
def test_elementary_float32_stays_float32(name: str) -> None:
    x = cr.tensor(np.array([0.2, 0.5, 0.7], dtype=np.float32), requires_grad=True)
    y = getattr(cr, name)(x)
    g, = cr.grad(y.sum(), [x])
    assert y.dtype == np.float32 and g.dtype == np.float32


def test_cross_and_gather() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    x, y = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    np.testing.assert_allclose(np.cross(x, y).detach().numpy(), np.cross(a, b), rtol=1e-12)
    assert cr.gradgradcheck(cr.cross, [x, y])
    idx = np.array([[0, 0], [2, 1]])
    g = cr.gather(x, 1, idx)
    np.testing.assert_array_equal(g.detach().numpy(), np.take_along_axis(a[:2], idx, 1))
    assert cr.gradcheck(lambda t: cr.gather(t, 1, idx), [x])


def test_nan_aware_reductions_skip_nans() -> None:
    x = cr.tensor([1.0, np.nan, 3.0], requires_grad=True)
    np.testing.assert_equal(cr.nansum(x).item(), 4.0)
    y = cr.nanmean(x)
    assert y.item() == 2.0
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.5, 0.0, 0.5])
    z = cr.fmax(cr.tensor([np.nan, 1.0]), cr.tensor([2.0, np.nan]))
    np.testing.assert_array_equal(z.detach().numpy(), [2.0, 1.0])
