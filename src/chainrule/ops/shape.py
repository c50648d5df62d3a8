"""Shape gates: reshape, transpose, broadcast, expand/squeeze, concatenate, stack, indexing.

These move values around without changing them, so backward moves the gradient back
the same way: reshape it back, transpose it back, sum it over broadcast axes, split it
into the concatenated pieces, scatter it into the indexed positions.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._tensor import Tensor, unwrap_index
from ..autograd import Array, Gate, Grads, apply, apply1, sum_to_array
from ..errors import ShapeError
from ._registry import export
from ._util import as_tensor


class Reshape(Gate):
    """y = x viewed with another shape.  Backward reshapes the gradient back."""

    linear = True
    local_notation = ("reshape back",)
    saves_inputs = False
    differentiable = ()

    def __init__(self, shape: Any) -> None:
        self.shape = shape

    def forward(self, x: Array) -> Array:
        self.in_shape = np.shape(x)
        return np.reshape(x, self.shape)

    def backward(self, gy: Array) -> Grads:
        return gy.reshape(self.in_shape)


class Transpose(Gate):
    """y = x with its axes permuted.  Backward applies the inverse permutation."""

    linear = True
    local_notation = ("transpose back",)
    saves_inputs = False
    differentiable = ()

    def __init__(self, axes: Any = None) -> None:
        self.axes = None if axes is None else tuple(axes)

    def forward(self, x: Array) -> Array:
        self.ndim = np.ndim(x)
        return np.transpose(x, self.axes)

    def backward(self, gy: Array) -> Grads:
        if self.axes is None:
            return gy.transpose()
        return gy.transpose(tuple(np.argsort([a % self.ndim for a in self.axes])))


class BroadcastTo(Gate):
    """y = x broadcast to ``shape``.  Backward: the gradient summed back to x's shape."""

    linear = True
    function_name = "broadcast_to"
    local_notation = ("sum back",)
    saves_inputs = False
    differentiable = ()

    def __init__(self, shape: Any) -> None:
        self.shape = tuple(shape)

    def forward(self, x: Array) -> Array:
        return np.broadcast_to(x, self.shape)

    def backward(self, gy: Array) -> Grads:
        # Returned in the broadcast shape: summing it back to the input's shape is done
        # in one place for every gate (the engine, or backward called by hand).
        return gy


class SumTo(Gate):
    """y = x summed over broadcast axes down to ``shape``.  Backward broadcasts back."""

    linear = True
    function_name = "sum_to"
    local_notation = ("broadcast back",)
    saves_inputs = False
    differentiable = ()

    def __init__(self, shape: Any) -> None:
        self.shape = tuple(shape)

    def forward(self, x: Array) -> Array:
        self.in_shape = np.shape(x)
        return sum_to_array(x, self.shape)

    def backward(self, gy: Array) -> Grads:
        return np.broadcast_to(gy, self.in_shape)


class ExpandDims(Gate):
    """y = x with new axes of length 1 at ``axis``.  Backward removes them."""

    linear = True
    function_name = "expand_dims"
    local_notation = ("squeeze back",)
    saves_inputs = False
    differentiable = ()

    def __init__(self, axis: Any) -> None:
        self.axis = axis

    def forward(self, x: Array) -> Array:
        self.in_shape = np.shape(x)
        return np.expand_dims(x, self.axis)

    def backward(self, gy: Array) -> Grads:
        return gy.reshape(self.in_shape)


class Squeeze(Gate):
    """y = x without axes of length 1 (those in ``axis``, or all).  Backward restores them."""

    linear = True
    local_notation = ("expand back",)
    saves_inputs = False
    differentiable = ()

    def __init__(self, axis: Any = None) -> None:
        self.axis = axis

    def forward(self, x: Array) -> Array:
        self.in_shape = np.shape(x)
        return np.squeeze(x, self.axis)

    def backward(self, gy: Array) -> Grads:
        return gy.reshape(self.in_shape)


def _along(axis: int, ndim: int, item: Any) -> tuple:
    return (slice(None),) * (axis % ndim) + (item,)


class Concatenate(Gate):
    """y = inputs joined along ``axis``.  Backward splits the gradient into the pieces."""

    linear = True
    local_notation = ("split",)
    saves_inputs = False
    differentiable = ()

    def __init__(self, axis: int = 0) -> None:
        self.axis = axis

    def forward(self, *xs: Array) -> Array:
        self.sizes = [np.shape(x)[self.axis] for x in xs]
        return np.concatenate(xs, axis=self.axis)

    def backward(self, gy: Array) -> Grads:
        out = []
        start = 0
        for n in self.sizes:
            out.append(gy[_along(self.axis, gy.ndim, slice(start, start + n))])
            start += n
        return tuple(out)


class Stack(Gate):
    """y = inputs stacked along a new ``axis``.  Backward takes each slice back out."""

    linear = True
    local_notation = ("unstack",)
    saves_inputs = False
    differentiable = ()

    def __init__(self, axis: int = 0) -> None:
        self.axis = axis

    def forward(self, *xs: Array) -> Array:
        self.n = len(xs)
        return np.stack(xs, axis=self.axis)

    def backward(self, gy: Array) -> Grads:
        return tuple(gy[_along(self.axis, gy.ndim, i)] for i in range(self.n))


def _is_basic(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer))
               for i in items)


def _normalize_index(index: Any) -> Any:
    index = unwrap_index(index)
    items = index if isinstance(index, tuple) else (index,)
    fixed = []
    for i in items:
        if isinstance(i, list):
            i = np.asarray(i)
        if isinstance(i, np.ndarray) and i.dtype == bool:
            fixed.extend(np.nonzero(i))
        else:
            fixed.append(i)
    return tuple(fixed) if isinstance(index, tuple) or len(fixed) != 1 else fixed[0]


def _scatter_array(g: Any, shape: tuple, index: Any) -> np.ndarray:
    out = np.zeros(shape, dtype=np.result_type(g))
    if _is_basic(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


class GetItem(Gate):
    """y = x[index] (basic or advanced).  Backward scatters the gradient back, adding
    it up where an index repeats."""

    linear = True
    symbol = "[ ]"
    local_notation = ("scatter",)
    saves_inputs = False
    differentiable = ()

    def __init__(self, index: Any) -> None:
        self.index = index

    def forward(self, x: Array) -> Array:
        self.in_shape = np.shape(x)
        return np.asarray(x)[self.index]

    def backward(self, gy: Array) -> Grads:
        return scatter_add(gy, self.in_shape, self.index)


class ScatterAdd(Gate):
    """y = zeros(shape) with x added at ``index`` (the backward of indexing).

    Backward gathers: the gradient of each scattered element is ``g[index]``.
    """

    linear = True
    function_name = "scatter_add"
    local_notation = ("gather",)
    saves_inputs = False
    differentiable = ()

    def __init__(self, shape: Any, index: Any) -> None:
        self.shape = tuple(shape)
        self.index = index

    def forward(self, x: Array) -> Array:
        return _scatter_array(x, self.shape, self.index)

    def backward(self, gy: Array) -> Grads:
        return gy[self.index]


# ------------------------------------------------------------------ functions
@export(numpy=(np.reshape,))
def reshape(x: Any, shape: Any) -> Tensor:
    """Same values, new shape (one dimension may be -1), as ``np.reshape``."""
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    return apply1(Reshape(tuple(shape)), as_tensor(x))


@export(numpy=(np.transpose,))
def transpose(x: Any, axes: Any = None) -> Tensor:
    """Permute the axes (reverse them by default), as ``np.transpose``."""
    return apply1(Transpose(axes), as_tensor(x))


@export(method=True, numpy=(np.swapaxes,))
def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    """Exchange two axes, as ``np.swapaxes``."""
    x = as_tensor(x)
    axes = list(range(x.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return apply1(Transpose(axes), x)


@export(method=True, numpy=(np.broadcast_to,))
def broadcast_to(x: Any, shape: Any) -> Tensor:
    """Broadcast to ``shape`` as ``np.broadcast_to``; the gradient is summed back."""
    return apply1(BroadcastTo(shape), as_tensor(x))


@export(method=True)
def sum_to(x: Any, shape: Any) -> Tensor:
    """Sum over the axes that broadcasting from ``shape`` would have added or stretched."""
    x = as_tensor(x)
    if tuple(x.shape) == tuple(shape):
        return x
    return apply1(SumTo(shape), x)


@export(method=True, numpy=(np.expand_dims,))
def expand_dims(x: Any, axis: Any) -> Tensor:
    """Insert axes of length 1 at ``axis`` (an int or a tuple)."""
    return apply1(ExpandDims(axis), as_tensor(x))


@export(method=True, numpy=(np.squeeze,))
def squeeze(x: Any, axis: Any = None) -> Tensor:
    """Remove axes of length 1 (only ``axis`` if given)."""
    return apply1(Squeeze(axis), as_tensor(x))


@export(method=True)
def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge the axes ``start_dim..end_dim`` into one (all axes by default -> 1-D)."""
    x = as_tensor(x)
    shape = x.shape
    nd = len(shape)
    if nd == 0:
        return reshape(x, (1,))
    s, e = start_dim % nd, end_dim % nd
    if s > e:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                         f"for a tensor of shape {shape}")
    merged = int(np.prod(shape[s:e + 1], dtype=np.int64))
    return reshape(x, (*shape[:s], merged, *shape[e + 1:]))


@export(numpy=(np.concatenate,))
def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis, as ``np.concatenate``."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("concatenate: need at least one tensor")
    return apply(Concatenate(axis), *tensors)


@export(numpy=(np.stack,))
def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors of equal shape along a new axis, as ``np.stack``."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: need at least one tensor")
    shapes = {np.shape(t.data if isinstance(t, Tensor) else t) for t in tensors}
    if len(shapes) > 1:
        raise ShapeError(f"Stack: all inputs must have the same shape, got "
                         f"{', '.join(builtins.map(str, sorted(shapes)))}")
    return apply(Stack(axis), *tensors)


@export(operator="__getitem__")
def getitem(x: Any, index: Any) -> Tensor:
    """``x[index]`` with basic or advanced indexing; repeated indices add gradients."""
    x = as_tensor(x)
    index = _normalize_index(index)
    try:
        return apply1(GetItem(index), x)
    except IndexError as e:
        raise IndexError(f"GetItem: index {index!r} does not fit a tensor of shape "
                         f"{x.shape}: {e}") from e


@export
def scatter_add(g: Any, shape: Any, index: Any) -> Any:
    """Zeros of ``shape`` with ``g`` added at ``index``; differentiable for tensors."""
    if isinstance(g, Tensor):
        return apply1(ScatterAdd(shape, index), g)
    return _scatter_array(g, tuple(shape), index)


@export(name="reshape", public=False, method=True)
def _reshape_method(self: Tensor, *shape: Any) -> Tensor:
    """``t.reshape(2, 3)`` or ``t.reshape((2, 3))``, as ``ndarray.reshape``."""
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = tuple(shape[0])
    return reshape(self, shape)


@export(name="transpose", public=False, method=True)
def _transpose_method(self: Tensor, *axes: Any) -> Tensor:
    """``t.transpose()``, ``t.transpose(1, 0, 2)`` or ``t.transpose((1, 0, 2))``, as
    ``ndarray.transpose``."""
    if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
        axes = tuple(axes[0]) if axes[0] is not None else ()
    return transpose(self, axes if axes else None)
