"""Small helpers shared by the gate modules (argument normalisation, wrapping)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._tensor import Tensor, wrap


def as_tensor(x: Any) -> Tensor:
    """``x`` itself if it is a Tensor, else a constant tensor holding it."""
    if isinstance(x, Tensor):
        return x
    return wrap(np.asarray(x))


def norm_axes(axis: Any, ndim: int) -> tuple[int, ...] | None:
    """Axis argument as a sorted tuple of non-negative ints (``None`` stays ``None``)."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < max(ndim, 1):
            raise np.exceptions.AxisError(a, ndim)
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(out))


def unreduce(g: Any, axes: tuple[int, ...] | None, keepdims: bool) -> Any:
    """Put back the axes a reduction removed, so ``g`` broadcasts against its input."""
    if keepdims or axes is None:
        return g
    return np.expand_dims(g, axes)


def reduced_count(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> int:
    """How many elements a reduction over ``axes`` combines into each result."""
    if axes is None:
        return int(np.prod(shape, dtype=np.int64))
    n = 1
    for a in axes:
        n *= shape[a]
    return n
