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
        if ndim == 0:
            # A 0-d array has one element and no axis; like NumPy's ufunc reductions
            # on scalars and PyTorch (dim in [-1, 0]), axis 0 or -1 reduces over nothing.
            if a not in (0, -1):
                raise np.exceptions.AxisError(a, ndim)
            continue
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(a, ndim)
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"duplicate value in 'axis': {axis!r}")
    return tuple(sorted(out))


def one_axis(axis: Any, ndim: int, name: str) -> int:
    """One axis argument as a non-negative int, or NumPy's ``AxisError`` naming ``name``."""
    a = int(axis)
    if not -ndim <= a < ndim:
        raise np.exceptions.AxisError(a, ndim, name)
    return a % ndim


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


def axis_args(name: str, axis: Any, keepdims: Any, dim: Any = None,
              keepdim: Any = None) -> tuple[Any, bool]:
    """Resolve PyTorch's ``dim``/``keepdim`` as aliases of NumPy's ``axis``/``keepdims``.

    The aliases are unambiguous, so both spellings work; giving both of a pair is an
    error rather than a guess.
    """
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{name}: give axis= (NumPy) or dim= (PyTorch), not both")
        axis = dim
    if keepdim is not None:
        if keepdims not in (None, False) and bool(keepdims) != bool(keepdim):
            raise TypeError(f"{name}: keepdims={keepdims!r} and keepdim={keepdim!r} "
                            f"disagree; give one of them")
        keepdims = keepdim
    return axis, bool(keepdims)


def no_out(name: str, out: Any) -> None:
    """Refuse NumPy's ``out=``: a gate returns a new tensor, it cannot write into one."""
    if out is not None:
        raise TypeError(f"{name}: out= is not supported (a gate makes a new tensor, so "
                        f"writing into `out` would drop the gradient); assign the result "
                        f"instead: y = {name}(...)")


def cast_for(name: str, x: Any, dtype: Any) -> Any:
    """``x`` converted to ``dtype`` first, as NumPy's ``dtype=`` of a reduction does."""
    if dtype is None:
        return x
    from .elementwise import astype  # elementwise imports this module
    return astype(x, dtype)
