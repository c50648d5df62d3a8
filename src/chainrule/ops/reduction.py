"""Reduction gates: sum, mean, var, max, min, logsumexp, and the softmax family.

A reduction combines many inputs into one output, so backward *spreads* the upstream
gradient back over them: ``sum`` copies it to every input, ``mean`` copies it divided by
the count, ``max`` routes it to the largest element (the cs231n "max gate routes"),
sharing it equally among ties.

``logsumexp``, ``softmax`` and ``log_softmax`` subtract the maximum before
exponentiating, so they stay finite for inputs of any magnitude (1e4 included) in both
float32 and float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._tensor import Tensor
from ..autograd import Array, Gate, Grads, apply1
from ._registry import export
from ._util import as_tensor, axis_args, cast_for, no_out, norm_axes, reduced_count, unreduce


class _Reduce(Gate):
    def __init__(self, axis: Any = None, keepdims: bool = False) -> None:
        self.axis = axis
        self.keepdims = keepdims

    def _axes(self, x: Any) -> tuple[int, ...] | None:
        self.shape = np.shape(x)
        self.axes = norm_axes(self.axis, len(self.shape))
        return self.axes


class Sum(_Reduce):
    """y = sum of x over ``axis``.  Local gradient: 1 for every input element."""

    linear = True
    symbol = "Σ"
    local_notation = ("1",)
    saves_inputs = False
    differentiable = ()

    def forward(self, x: Array) -> Array:
        return np.sum(x, axis=self._axes(x), keepdims=self.keepdims)

    def backward(self, gy: Array) -> Grads:
        return np.broadcast_to(unreduce(gy, self.axes, self.keepdims), self.shape)


class Mean(_Reduce):
    """y = mean of x over ``axis``.  Local gradient: 1/n for each of the n elements."""

    linear = True
    symbol = "mean"
    local_notation = ("1/n",)
    saves_inputs = False
    differentiable = ()

    def forward(self, x: Array) -> Array:
        axes = self._axes(x)
        self.n = reduced_count(self.shape, axes)
        return np.mean(x, axis=axes, keepdims=self.keepdims)

    def backward(self, gy: Array) -> Grads:
        g = unreduce(gy, self.axes, self.keepdims) / self.n
        return np.broadcast_to(g, self.shape)


class Var(_Reduce):
    """y = variance of x over ``axis`` (``ddof`` as in NumPy).  dy/dx = 2(x - mean)/(n - ddof)."""

    local_notation = ("2(x−μ)/(n−ddof)",)
    differentiable = ("x",)

    def __init__(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> None:
        super().__init__(axis, keepdims)
        self.ddof = ddof

    def forward(self, x: Array) -> Array:
        axes = self._axes(x)
        self.x = x
        self.n = reduced_count(self.shape, axes)
        return np.var(x, axis=axes, keepdims=self.keepdims, ddof=self.ddof)

    def backward(self, gy: Array) -> Grads:
        x = self.x
        centered = x - np.mean(x, axis=self.axes, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            # n <= ddof: inf or NaN, as NumPy's value and PyTorch's gradient are.
            scale = np.float64(2) / np.float64(self.n - self.ddof)
            return unreduce(gy, self.axes, self.keepdims) * centered * scale.astype(
                np.result_type(x))


class Max(_Reduce):
    """y = max of x over ``axis``.  The gradient goes to the maximum; ties share it."""

    symbol = "max"
    local_notation = ("→ argmax",)
    saves_output = True
    differentiable = ()

    def forward(self, x: Array) -> Array:
        axes = self._axes(x)
        self.x = x
        self.y = np.max(x, axis=axes, keepdims=self.keepdims)
        return self.y

    def backward(self, gy: Array) -> Grads:
        # Which elements were the extreme is a constant of the derivative (nothing is
        # declared differentiable), so these stay arrays under create_graph too.
        x = np.asarray(self.x)
        y = unreduce(np.asarray(self.y), self.axes, self.keepdims)
        hit = x == y
        share = hit / np.sum(hit, axis=self.axes, keepdims=True)
        return unreduce(gy, self.axes, self.keepdims) * share.astype(x.dtype)

    def jvp(self, tx: Array) -> Array:
        """Forward mode: the tangent at the extreme (ties share it, as in backward)."""
        x = np.asarray(self.x)
        hit = x == unreduce(np.asarray(self.y), self.axes, self.keepdims)
        share = (hit / np.sum(hit, axis=self.axes, keepdims=True)).astype(x.dtype)
        return np.sum(tx * share, axis=self.axes, keepdims=self.keepdims)


class Min(Max):
    """y = min of x over ``axis``.  The gradient goes to the minimum; ties share it."""

    symbol = "min"
    local_notation = ("→ argmin",)

    def forward(self, x: Array) -> Array:
        axes = self._axes(x)
        self.x = x
        self.y = np.min(x, axis=axes, keepdims=self.keepdims)
        return self.y


def _logsumexp_array(x: Any, axes: Any, keepdims: bool) -> Any:
    # The ufuncs' own reduce: what np.max/np.sum call, without their Python layers.
    m = np.maximum.reduce(x, axis=axes, keepdims=True)
    if not np.isfinite(m).all():   # all -inf (or inf/nan) along an axis: shift by 0 there
        m = np.where(np.isfinite(m), m, 0)
    s = np.log(np.add.reduce(np.exp(x - m), axis=axes, keepdims=True)) + m
    return s if keepdims else np.squeeze(s, axis=axes)


class LogSumExp(_Reduce):
    """y = log(sum(exp(x))) over ``axis``, stably.  Local gradient: softmax(x) = exp(x - y)."""

    symbol = "logsumexp"
    local_notation = ("softmax(x)",)
    saves_output = True
    differentiable = ("x", "y")

    def forward(self, x: Array) -> Array:
        axes = self._axes(x)
        self.x = x
        self.y = _logsumexp_array(x, axes, self.keepdims)
        return self.y

    def backward(self, gy: Array) -> Grads:
        y = unreduce(self.y, self.axes, self.keepdims)
        return unreduce(gy, self.axes, self.keepdims) * np.exp(self.x - y)

    def jvp(self, tx: Array) -> Array:
        """Forward mode: dy = sum(softmax(x) * dx) over the axes."""
        p = np.exp(self.x - unreduce(self.y, self.axes, self.keepdims))
        return np.sum(p * tx, axis=self.axes, keepdims=self.keepdims)


class Softmax(Gate):
    """y = exp(x) / sum(exp(x)) over ``axis``.  Backward: y * (g - sum(g * y))."""

    symbol = "softmax"
    local_notation = ("y⊙(g − Σg·y)",)
    saves_output = True
    saves_inputs = False
    differentiable = ("y",)

    def __init__(self, axis: int = -1) -> None:
        self.axis = axis

    def forward(self, x: Array) -> Array:
        e = np.exp(x - np.max(x, axis=self.axis, keepdims=True))
        self.y = e / np.sum(e, axis=self.axis, keepdims=True)
        return self.y

    def backward(self, gy: Array) -> Grads:
        y = self.y
        return y * (gy - np.sum(gy * y, axis=self.axis, keepdims=True))

    def jvp(self, tx: Array) -> Array:
        """Forward mode: dy = y * (dx - sum(y * dx))."""
        y = self.y
        return y * (tx - np.sum(y * tx, axis=self.axis, keepdims=True))


class LogSoftmax(Gate):
    """y = x - logsumexp(x) over ``axis``.  Backward: g - softmax(x) * sum(g)."""

    symbol = "log softmax"
    function_name = "log_softmax"
    local_notation = ("g − softmax·Σg",)
    saves_output = True
    saves_inputs = False
    differentiable = ("y",)

    def __init__(self, axis: int = -1) -> None:
        self.axis = axis

    def forward(self, x: Array) -> Array:
        self.y = x - _logsumexp_array(x, self.axis, True)
        return self.y

    def backward(self, gy: Array) -> Grads:
        return gy - np.exp(self.y) * np.sum(gy, axis=self.axis, keepdims=True)

    def jvp(self, tx: Array) -> Array:
        """Forward mode: dy = dx - sum(softmax(x) * dx)."""
        return tx - np.sum(np.exp(self.y) * tx, axis=self.axis, keepdims=True)


# ------------------------------------------------------------------ functions
# NumPy's signatures (positional order included: ``np.sum(x, 0, np.float32)``), with
# PyTorch's ``dim=``/``keepdim=`` accepted as aliases. ``dtype=`` converts the input
# first (NumPy accumulates in that dtype); ``out=`` is refused (it would drop the
# gradient).
@export(method=True, numpy=(np.sum,), expr=1)
def sum(x: Any, axis: Any = None, dtype: Any = None, out: Any = None,
        keepdims: bool = False, *, dim: Any = None, keepdim: bool | None = None) -> Tensor:
    """Sum over ``axis`` (all axes by default), as ``np.sum``."""
    axis, keepdims = axis_args("sum", axis, keepdims, dim, keepdim)
    no_out("sum", out)
    return apply1(Sum(axis, keepdims), as_tensor(cast_for("sum", x, dtype)))


@export(method=True, numpy=(np.mean,), expr=1)
def mean(x: Any, axis: Any = None, dtype: Any = None, out: Any = None,
         keepdims: bool = False, *, dim: Any = None, keepdim: bool | None = None) -> Tensor:
    """Arithmetic mean over ``axis``, as ``np.mean``."""
    axis, keepdims = axis_args("mean", axis, keepdims, dim, keepdim)
    no_out("mean", out)
    return apply1(Mean(axis, keepdims), as_tensor(cast_for("mean", x, dtype)))


def _ddof(name: str, ddof: Any, correction: Any) -> Any:
    if correction is not None:
        if ddof not in (0, None) and ddof != correction:
            raise TypeError(f"{name}: ddof={ddof!r} and correction={correction!r} disagree; "
                            f"give one of them")
        return correction
    return ddof


@export(method=True, numpy=(np.var,))
def var(x: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
        keepdims: bool = False, *, correction: Any = None, dim: Any = None,
        keepdim: bool | None = None) -> Tensor:
    """Variance over ``axis``, as ``np.var``: ``ddof=0`` (the population variance) by
    default, unlike PyTorch's ``var`` (``correction=1``); ``correction=`` is NumPy 2's
    alias of ``ddof``. Where the count is not above ``ddof`` the value and its gradient
    are inf or NaN, as in NumPy and PyTorch."""
    axis, keepdims = axis_args("var", axis, keepdims, dim, keepdim)
    no_out("var", out)
    return apply1(Var(axis, keepdims, _ddof("var", ddof, correction)),
                  as_tensor(cast_for("var", x, dtype)))


@export(method=True, numpy=(np.max, np.amax))
def max(x: Any, axis: Any = None, out: Any = None, keepdims: bool = False, *,
        dim: Any = None, keepdim: bool | None = None) -> Tensor:
    """Largest element over ``axis``; ties share the gradient equally.

    NumPy's meaning: ``x.max(1)`` is the values only (PyTorch returns values and
    indices; use ``cr.argmax`` for those)."""
    axis, keepdims = axis_args("max", axis, keepdims, dim, keepdim)
    no_out("max", out)
    return apply1(Max(axis, keepdims), as_tensor(x))


@export(method=True, numpy=(np.min, np.amin))
def min(x: Any, axis: Any = None, out: Any = None, keepdims: bool = False, *,
        dim: Any = None, keepdim: bool | None = None) -> Tensor:
    """Smallest element over ``axis``; ties share the gradient equally (values only,
    as in NumPy)."""
    axis, keepdims = axis_args("min", axis, keepdims, dim, keepdim)
    no_out("min", out)
    return apply1(Min(axis, keepdims), as_tensor(x))


@export(method=True)
def logsumexp(x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
              keepdim: bool | None = None) -> Tensor:
    """``log(sum(exp(x), axis))`` computed stably (finite for |x| up to 1e4 and beyond)."""
    axis, keepdims = axis_args("logsumexp", axis, keepdims, dim, keepdim)
    return apply1(LogSumExp(axis, keepdims), as_tensor(x))


@export(method=True)
def softmax(x: Any, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Softmax along ``axis`` (the last by default), computed stably."""
    axis, _ = axis_args("softmax", axis, False, dim)
    return apply1(Softmax(-1 if axis is None else axis), as_tensor(x))


@export(method=True)
def log_softmax(x: Any, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Logarithm of the softmax along ``axis``, computed stably."""
    axis, _ = axis_args("log_softmax", axis, False, dim)
    return apply1(LogSoftmax(-1 if axis is None else axis), as_tensor(x))


@export(method=True, numpy=(np.std,))
def std(x: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
        keepdims: bool = False, *, correction: Any = None, dim: Any = None,
        keepdim: bool | None = None) -> Tensor:
    """Standard deviation, ``sqrt(var)``, as ``np.std`` (``ddof=0`` by default, unlike
    PyTorch). Its gradient is NaN where the deviation is 0 (as PyTorch's)."""
    return np.sqrt(var(x, axis, dtype, out, ddof, keepdims, correction=correction, dim=dim,
                       keepdim=keepdim))
