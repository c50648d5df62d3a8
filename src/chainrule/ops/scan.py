"""Scans and the reductions built on them: cumsum, cumprod, logcumsumexp, prod, cummax.

A scan keeps every partial result: ``cumsum(x)[j] = x[0] + ... + x[j]``. Its backward
runs the same scan the other way: element ``i`` feeds every output ``j >= i``, so its
gradient is the *reverse* cumulative sum of the upstream gradient.

Products need care at zeros, where the textbook ``d prod / d x_i = prod / x_i`` divides
by zero. ``cumprod`` and ``prod`` use the division only when no element along the axis
is zero, and otherwise the exact product of the *other* elements, so ``prod([0, 2, 3])``
has the gradient ``[6, 0, 0]`` (PyTorch gives the same).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._tensor import Tensor, plain, wrap
from ..autograd import Array, Gate, Grads, apply1
from ._registry import export
from ._util import as_tensor, axis_args, cast_for, no_out, norm_axes
from .contract import einsum
from .elementwise import where
from .layout import moveaxis
from .select import take_along_axis
from .shape import concatenate, getitem, reshape


def _rev_cumsum(g: Any, axis: int) -> Any:
    return np.flip(np.cumsum(np.flip(g, axis), axis), axis)


class _Scan(Gate):
    differentiable = ("x", "y")
    saves_output = True

    def __init__(self, axis: int) -> None:
        self.axis = axis


class Cumsum(_Scan):
    """y = cumulative sum along ``axis``.  Backward: the reverse cumulative sum."""

    linear = True
    symbol = "cumsum"
    local_notation = ("reverse Σ",)
    saves_inputs = False
    saves_output = False
    differentiable = ()

    def forward(self, x: Array) -> Array:
        return np.cumsum(x, axis=self.axis)

    def backward(self, gy: Array) -> Grads:
        return _rev_cumsum(gy, self.axis)


class Cumprod(_Scan):
    """y = cumulative product along ``axis``.  Backward: reverse-cumsum(g·y)/x where no
    element is zero, else the exact products of the other elements."""

    symbol = "cumprod"
    local_notation = ("Π others",)

    def forward(self, x: Array) -> Array:
        self.x = x
        self.y = np.cumprod(x, axis=self.axis)
        return self.y

    def backward(self, gy: Array) -> Grads:
        x, y, ax = self.x, self.y, self.axis
        if np.all(plain(x) != 0):
            return _rev_cumsum(gy * y, ax) / x
        # Exact at zeros: output j's derivative in x_i is the product of x_k, k <= j,
        # k != i; computed for one i at a time with x_i replaced by 1 (O(n²), only here).
        n = np.shape(x)[ax]
        parts = []
        for i in range(n):
            hot = np.zeros(n, dtype=bool)
            hot[i] = True
            hot = hot.reshape((n,) + (1,) * (np.ndim(x) - 1 - ax % np.ndim(x)))
            others = np.cumprod(np.where(hot, 1.0, x), axis=ax)
            tail = (slice(None),) * (ax % np.ndim(x)) + (slice(i, None),)
            parts.append(np.sum((gy * others)[tail], axis=ax, keepdims=True))
        return np.concatenate(parts, axis=ax)


class LogCumSumExp(_Scan):
    """y_j = log(sum_{k<=j} exp(x_k)), accumulated with ``logaddexp`` (no overflow, no
    underflow).  Backward: dy_j/dx_i = exp(x_i − y_j) for i <= j."""

    symbol = "logcumsumexp"
    local_notation = ("exp(x − y)",)

    def forward(self, x: Array) -> Array:
        self.x = x
        self.y = np.logaddexp.accumulate(x, axis=self.axis) if np.size(x) else np.array(x)
        return self.y

    def backward(self, gy: Array) -> Grads:
        x, y, ax = self.x, self.y, self.axis
        if isinstance(gy, Tensor):
            # Under create_graph: the masked matrix exp(x_i - y_j), i <= j, whose
            # exponent is made 0 (not huge) off the mask before exp, so that no branch
            # is infinite and second derivatives stay finite. O(n²) per slice.
            xs, ys, gs = (moveaxis(v, ax, -1) for v in (as_tensor(x), as_tensor(y), gy))
            n = xs.shape[-1]
            upper = np.triu(np.ones((n, n), dtype=bool))
            d = where(upper, xs[..., :, None] - ys[..., None, :], 0.0)
            return moveaxis(einsum("...ij,...j->...i", np.exp(d) * upper, gs), -1, ax)
        # sum_{j>=i} g_j exp(x_i - y_j), with g split by sign so that each part is a
        # logcumsumexp (stable); an empty part is -inf, and exp(-inf) = 0.
        out = np.zeros(np.shape(x), dtype=np.result_type(x))
        with np.errstate(divide="ignore", invalid="ignore"):
            for sign in (1.0, -1.0):
                part = gy * sign
                log_g = np.where(part > 0, np.log(np.where(part > 0, part, 1.0)), -np.inf)
                acc = np.flip(np.logaddexp.accumulate(np.flip(log_g - y, ax), axis=ax), ax)
                out += sign * np.exp(acc + x)
        return out


@export(method=True, numpy=(np.cumsum,))
def cumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, *,
           dim: Any = None) -> Tensor:
    """Cumulative sum along ``axis`` (``None``: of the flattened array), as ``np.cumsum``."""
    axis, _ = axis_args("cumsum", axis, False, dim)
    no_out("cumsum", out)
    x = as_tensor(cast_for("cumsum", a, dtype))
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    return apply1(Cumsum(norm_axes(axis, x.ndim)[0] if x.ndim else 0), x)


@export(method=True, numpy=(np.cumprod,))
def cumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, *,
            dim: Any = None) -> Tensor:
    """Cumulative product along ``axis`` (``None``: flattened), as ``np.cumprod``;
    exact gradients at zeros."""
    axis, _ = axis_args("cumprod", axis, False, dim)
    no_out("cumprod", out)
    x = as_tensor(cast_for("cumprod", a, dtype))
    if axis is None or x.ndim == 0:
        x, axis = reshape(x, (-1,)), 0
    return apply1(Cumprod(norm_axes(axis, x.ndim)[0]), x)


@export(method=True)
def logcumsumexp(x: Any, axis: Any = None, *, dim: Any = None) -> Tensor:
    """``log(cumsum(exp(x)))`` along ``axis``, stably (PyTorch's ``logcumsumexp``;
    ``axis=None``: the flattened array)."""
    axis, _ = axis_args("logcumsumexp", axis, False, dim)
    t = as_tensor(x)
    if axis is None or t.ndim == 0:
        t, axis = reshape(t, (-1,)), 0
    return apply1(LogCumSumExp(norm_axes(axis, t.ndim)[0]), t)


def _to_last(x: Tensor, axis: Any) -> tuple[Tensor, tuple[int, ...] | None]:
    """Move the reduced axes to the end and merge them into one."""
    axes = norm_axes(axis, x.ndim)
    if axes is None:
        return reshape(x, (-1,)), None
    if not axes:
        return reshape(x, (*x.shape, 1)), axes
    x = moveaxis(x, axes, tuple(range(x.ndim - len(axes), x.ndim)))
    return reshape(x, (*x.shape[:x.ndim - len(axes)], -1)), axes


@export(method=True, numpy=(np.prod,))
def prod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
         keepdims: bool = False, *, dim: Any = None, keepdim: bool | None = None) -> Tensor:
    """Product over ``axis``, as ``np.prod``; exact gradients at zeros (the product of
    the other elements)."""
    axis, keepdims = axis_args("prod", axis, keepdims, dim, keepdim)
    no_out("prod", out)
    x = as_tensor(cast_for("prod", a, dtype))
    flat, axes = _to_last(x, axis)
    if flat.shape[-1] == 0:
        y = wrap(np.ones(flat.shape[:-1], dtype=x.dtype))
    else:
        y = getitem(cumprod(flat, axis=-1), (Ellipsis, -1))
    if keepdims:
        kept = tuple(1 if (axes is None or i in axes) else n for i, n in enumerate(x.shape))
        y = reshape(y, kept)
    return y


@export(method=True)
def cummax(x: Any, axis: int = 0, *, dim: int | None = None) -> tuple[Tensor, Tensor]:
    """PyTorch's ``cummax``: running maxima along ``axis`` and where each was found
    (the latest of ties); the gradient goes to that element."""
    return _cumext(x, axis if dim is None else dim, np.maximum)


@export(method=True)
def cummin(x: Any, axis: int = 0, *, dim: int | None = None) -> tuple[Tensor, Tensor]:
    """PyTorch's ``cummin``: running minima and their indices (the latest of ties)."""
    return _cumext(x, axis if dim is None else dim, np.minimum)


def _cumext(x: Any, axis: int, op: np.ufunc) -> tuple[Tensor, Tensor]:
    t = as_tensor(x)
    if t.ndim == 0:
        return t, wrap(np.array(0))
    ax = norm_axes(axis, t.ndim)[0]
    run = op.accumulate(t.data, axis=ax)
    shape = [1] * t.ndim
    shape[ax] = t.shape[ax]
    pos = np.arange(t.shape[ax]).reshape(shape)
    idx = np.maximum.accumulate(np.where(t.data == run, pos, 0), axis=ax)
    return take_along_axis(t, idx, ax), wrap(idx)


@export(method=True, numpy=(np.diff,))
def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None) -> Tensor:
    """The ``n``-th discrete difference along ``axis``, as ``np.diff``."""
    x = as_tensor(a)
    ax = norm_axes(axis, x.ndim)[0]

    def edge(v: Any) -> Any:
        v = as_tensor(v)
        if v.ndim == 0:
            shape = list(x.shape)
            shape[ax] = 1
            v = v.broadcast_to(tuple(shape))
        return v
    if prepend is not None or append is not None:
        parts = [*([edge(prepend)] if prepend is not None else []), x,
                 *([edge(append)] if append is not None else [])]
        x = concatenate(parts, axis=ax)
    lead = (slice(None),) * ax
    for _ in range(n):
        x = x[(*lead, slice(1, None))] - x[(*lead, slice(None, -1))]
    return x


def _no_grad_reduction(fn: Any, a: Any, axis: Any, keepdims: bool) -> Tensor:
    return wrap(np.asarray(fn(plain(a), axis=axis, keepdims=keepdims)))


@export(method=True)
def any(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, *,
        dim: Any = None, keepdim: bool | None = None) -> Tensor:
    """Whether any element is true (a boolean tensor, no gradient)."""
    axis, keepdims = axis_args("any", axis, keepdims, dim, keepdim)
    return _no_grad_reduction(np.any, a, axis, keepdims)


@export(method=True)
def all(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, *,
        dim: Any = None, keepdim: bool | None = None) -> Tensor:
    """Whether every element is true (a boolean tensor, no gradient)."""
    axis, keepdims = axis_args("all", axis, keepdims, dim, keepdim)
    return _no_grad_reduction(np.all, a, axis, keepdims)

