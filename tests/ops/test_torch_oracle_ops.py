"""The new ops against PyTorch in float64: values, first and second derivatives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from tests.torch_compare import compare_with_torch

torch = pytest.importorskip("torch")

UNARY: list[tuple[str, Any, tuple[float, float]]] = [
    ("tan", torch.tan, (-1, 1)), ("arcsin", torch.asin, (-.9, .9)),
    ("arccos", torch.acos, (-.9, .9)), ("arctan", torch.atan, (-3, 3)),
    ("sinh", torch.sinh, (-2, 2)), ("cosh", torch.cosh, (-2, 2)),
    ("arcsinh", torch.asinh, (-3, 3)), ("arccosh", torch.acosh, (1.2, 3)),
    ("arctanh", torch.atanh, (-.9, .9)), ("log2", torch.log2, (.3, 3)),
    ("log10", torch.log10, (.3, 3)), ("log1p", torch.log1p, (-.5, 3)),
    ("exp2", torch.exp2, (-2, 2)), ("expm1", torch.expm1, (-2, 2)),
    ("erf", torch.erf, (-2, 2)), ("reciprocal", torch.reciprocal, (.3, 3)),
    ("rsqrt", torch.rsqrt, (.3, 3)), ("sign", torch.sign, (-2, 2)),
    ("floor", torch.floor, (-2, 2)), ("ceil", torch.ceil, (-2, 2)),
    ("trunc", torch.trunc, (-2, 2)), ("round", torch.round, (-2, 2)),
]
BINARY: list[tuple[str, Any]] = [
    ("arctan2", torch.atan2), ("hypot", torch.hypot), ("logaddexp", torch.logaddexp),
    ("logaddexp2", torch.logaddexp2), ("copysign", torch.copysign), ("fmod", torch.fmod),
    ("remainder", torch.remainder),
]


_compare = compare_with_torch


@pytest.mark.parametrize(("name", "theirs", "domain"), UNARY, ids=[u[0] for u in UNARY])
def test_unary_against_torch(name: str, theirs: Any, domain: tuple[float, float]) -> None:
    a = np.random.default_rng(1).uniform(*domain, (3, 4))
    _compare(getattr(cr, name), theirs, [a])
    if hasattr(np, name):   # NumPy's ufunc on a tensor runs the same gate
        np.testing.assert_array_equal(getattr(np, name)(cr.tensor(a)).detach().numpy(),
                                      getattr(cr, name)(cr.tensor(a)).detach().numpy())


@pytest.mark.parametrize(("name", "theirs"), BINARY, ids=[b[0] for b in BINARY])
def test_binary_against_torch(name: str, theirs: Any) -> None:
    rng = np.random.default_rng(2)
    a = rng.uniform(0.3, 3, (3, 1)) * rng.choice([-1, 1], (3, 1))
    b = rng.uniform(0.3, 2, (4,)) * rng.choice([-1, 1], (4,))
    _compare(getattr(cr, name), theirs, [a, b])


def _z(rng: np.random.Generator) -> np.ndarray:
    a = rng.standard_normal((3, 4))
    a[1, 2] = a[2, 0] = a[2, 3] = 0.0
    return a


def _g34(rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((3, 4))


def _g23(rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((2, 3))


def _well_conditioned(rng: np.random.Generator) -> np.ndarray:
    return 2.0 * np.eye(3) + 0.4 * rng.standard_normal((3, 3))


SCANS: list[tuple[str, Callable, Callable, Callable]] = [
    ("cumsum", lambda x: cr.cumsum(x, 1), lambda t: torch.cumsum(t, 1), _g34),
    ("cumprod", lambda x: cr.cumprod(x, 0), lambda t: torch.cumprod(t, 0), _g34),
    ("cumprod zeros", lambda x: cr.cumprod(x, 1), lambda t: torch.cumprod(t, 1), _z),
    ("prod zeros", lambda x: cr.prod(x, 1), lambda t: torch.prod(t, 1), _z),
    ("logcumsumexp wide", lambda x: cr.logcumsumexp(x, 1), lambda t: torch.logcumsumexp(t, 1),
     lambda r: 30 * r.standard_normal((3, 4))),
    ("cummax", lambda x: cr.cummax(x, 1)[0], lambda t: torch.cummax(t, 1)[0], _g34),
    ("cummin", lambda x: cr.cummin(x, 0)[0], lambda t: torch.cummin(t, 0)[0], _g34),
    ("diff", lambda x: cr.diff(x, 2, axis=1), lambda t: torch.diff(t, 2, dim=1), _g34),
    ("std", lambda x: cr.std(x, 1, ddof=1), lambda t: torch.std(t, 1), _g34),
    ("sort", lambda x: cr.sort(x, axis=1), lambda t: torch.sort(t, 1)[0], _g34),
    ("topk", lambda x: cr.topk(x, 2)[0], lambda t: torch.topk(t, 2)[0], _g34),
    ("einsum", lambda x: cr.einsum("ij,kj->ik", x, x),
     lambda t: torch.einsum("ij,kj->ik", t, t), _g34),
    ("kron", lambda x: cr.kron(x, x), lambda t: torch.kron(t, t), _g23),
    ("inv", cr.inv, torch.linalg.inv, _well_conditioned),
    ("det", cr.det, torch.linalg.det, _well_conditioned),
    ("solve", lambda a: cr.solve(a, a[:, :2] * 3.0),
     lambda a: torch.linalg.solve(a, a[:, :2] * 3.0), _well_conditioned),
    ("norm fro", cr.norm, torch.linalg.norm, _g34),
    ("norm ord=1 axis 1", lambda x: cr.norm(x, 1, 1), lambda t: torch.linalg.norm(t, 1, 1),
     _g34),
    ("cross", lambda x: cr.cross(x, x[::-1]), lambda t: torch.linalg.cross(t, t.flip(0)),
     lambda r: r.standard_normal((4, 3))),
    ("flip", lambda x: cr.flip(x, 1), lambda t: torch.flip(t, (1,)), _g34),
    ("tril", lambda x: cr.tril(x, -1), lambda t: torch.tril(t, -1), _g34),
    ("diagonal", lambda x: cr.diagonal(x, 1), lambda t: torch.diagonal(t, 1), _g34),
    ("trace", cr.trace, torch.trace, _g34),
    ("tile", lambda x: cr.tile(x, (2, 1)), lambda t: torch.tile(t, (2, 1)), _g34),
    ("repeat", lambda x: cr.repeat(x, 2, 1), lambda t: torch.repeat_interleave(t, 2, 1), _g34),
    ("take_along_axis", lambda x: cr.take_along_axis(x, np.array([[0, 3]] * 3), 1),
     lambda t: torch.take_along_dim(t, torch.tensor([[0, 3]] * 3), 1), _g34),
    ("pad reflect", lambda x: cr.pad(x, ((0, 0), (2, 1)), mode="reflect"),
     lambda t: torch.nn.functional.pad(t[None], (2, 1), mode="reflect")[0], _g34),
    ("pad circular", lambda x: cr.pad(x, ((0, 0), (2, 1)), mode="circular"),
     lambda t: torch.nn.functional.pad(t[None], (2, 1), mode="circular")[0], _g34),
    ("roll", lambda x: cr.roll(x, (1, 2), (0, 1)), lambda t: torch.roll(t, (1, 2), (0, 1)), _g34),
]


@pytest.mark.parametrize(("label", "ours", "theirs", "make"), SCANS, ids=[s[0] for s in SCANS])
def test_scans_and_compositions_against_torch(label: str, ours: Callable, theirs: Callable,
                                              make: Callable) -> None:
    _compare(ours, theirs, [make(np.random.default_rng(3))])


def test_logaddexp_of_huge_inputs_is_finite_to_second_order() -> None:
    """First order as PyTorch; PyTorch's second derivative is NaN here, ours finite."""
    x = np.random.default_rng(0).standard_normal((3, 4))
    _compare(lambda a: cr.logaddexp(a * 500, -a * 500),
             lambda t: torch.logaddexp(t * 500, -t * 500), [x], second=False)
    a = cr.tensor(x, requires_grad=True)
    g, = cr.grad(cr.logaddexp(a * 500, -a * 500).sum(), [a], create_graph=True)
    gg, = cr.grad(g.sum(), [a])
    assert np.isfinite(gg.detach().numpy()).all()
