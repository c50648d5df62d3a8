"""Statistics and NaN-aware reductions, written with gates: average, nansum, nanmean,
ptp, median, quantile; and the small NumPy helpers that are other gates in disguise
(fabs, degrees/radians, fmax/fmin, sinc, float_power, column_stack, rollaxis, append).

Conventions: ``median`` and ``quantile`` (linear interpolation, NumPy's default) give
the gradient to the one or two order statistics they interpolate, in proportion to
their weights; ``fmax``/``fmin`` ignore a NaN on either side (NumPy's rule), and ties
share the gradient as ``maximum`` does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._tensor import Tensor, plain, wrap
from ._registry import export
from ._util import as_tensor, axis_args, no_out
from .elementwise import abs as _abs
from .elementwise import maximum, minimum, sin, where
from .layout import atleast_1d, moveaxis
from .reduction import max as _max
from .reduction import mean as _mean
from .reduction import min as _min
from .reduction import sum as _sum
from .select import sort
from .shape import concatenate, reshape


@export(method=True, numpy=(np.average,))
def average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False, *,
            keepdims: bool = False) -> Any:
    """Weighted mean, as ``np.average`` (``weights`` along ``axis`` or of ``a``'s shape;
    ``returned=True`` also gives the sum of the weights)."""
    x = as_tensor(a)
    if weights is None:
        out = _mean(x, axis=axis, keepdims=keepdims)
        n = x.size / max(out.size, 1)
        return (out, wrap(np.full(out.shape, n, dtype=x.dtype))) if returned else out
    w = weights if isinstance(weights, Tensor) else np.asarray(weights)
    if np.ndim(plain(w)) == 1 and x.ndim > 1 and axis is not None:
        shape = [1] * x.ndim
        shape[int(axis) % x.ndim] = -1
        w = w.reshape(shape)
    total = _sum(x * w, axis=axis, keepdims=keepdims)
    scale = _sum(np.broadcast_to(plain(w), x.shape) if not isinstance(w, Tensor)
                 else w * np.ones(x.shape, dtype=x.dtype), axis=axis, keepdims=keepdims)
    if np.any(plain(scale) == 0):
        raise ZeroDivisionError("average: the weights sum to zero, so the average is "
                                "undefined")
    out = total / scale
    return (out, scale) if returned else out


@export(numpy=(np.nansum,))
def nansum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
           keepdims: bool = False) -> Tensor:
    """Sum treating NaN as 0 (a NaN element gets a zero gradient), as ``np.nansum``."""
    no_out("nansum", out)
    x = as_tensor(a)
    return _sum(where(np.isnan(x.data), 0.0, x), axis=axis, dtype=dtype, keepdims=keepdims)


@export(numpy=(np.nanmean,))
def nanmean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
            keepdims: bool = False) -> Tensor:
    """Mean of the non-NaN elements, as ``np.nanmean`` (NaN where all are NaN)."""
    no_out("nanmean", out)
    x = as_tensor(a)
    keep = ~np.isnan(x.data)
    count = np.sum(keep, axis=axis, keepdims=keepdims).astype(x.dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        return nansum(x, axis=axis, dtype=dtype, keepdims=keepdims) / count


@export(method=True, numpy=(np.ptp,))
def ptp(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Tensor:
    """Range ``max - min`` along ``axis``, as ``np.ptp``."""
    no_out("ptp", out)
    return _max(a, axis=axis, keepdims=keepdims) - _min(a, axis=axis, keepdims=keepdims)


@export(numpy=(np.quantile,))
def quantile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
             method: str = "linear", keepdims: bool = False, *, dim: Any = None,
             keepdim: bool | None = None) -> Tensor:
    """The ``q``-th quantile(s) with NumPy's default linear interpolation between order
    statistics; the gradient goes to the two elements interpolated, by their weights."""
    axis, keepdims = axis_args("quantile", axis, keepdims, dim, keepdim)
    no_out("quantile", out)
    if method != "linear":
        raise ValueError(f"quantile: only method='linear' (NumPy's default) is supported, "
                         f"got {method!r}")
    x = as_tensor(a)
    qs = np.asarray(q, dtype=np.float64)
    if np.any((qs < 0) | (qs > 1)):
        raise ValueError(f"quantile: q must lie in [0, 1], got {q!r}")
    if axis is None:
        flat, ax, shape_keep = reshape(x, (-1,)), 0, (1,) * x.ndim
    else:
        ax = int(axis) % max(x.ndim, 1)
        flat, shape_keep = x, None
    s = moveaxis(sort(flat, axis=ax), ax, -1)
    n = s.shape[-1]
    pos = qs * (n - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    # NumPy's promotion: a Python float q keeps float32, an array of q is float64.
    frac = (pos - lo).astype(np.result_type(x.dtype, q if isinstance(q, float) else qs))
    v = s[..., lo] * (1 - frac) + s[..., hi] * frac        # (..., *q.shape)
    v = moveaxis(v, tuple(range(v.ndim - qs.ndim, v.ndim)), tuple(range(qs.ndim)))
    if keepdims:
        rest = v.shape[qs.ndim:]
        kept = shape_keep if shape_keep is not None else \
            (*rest[:ax], 1, *rest[ax:])
        v = reshape(v, qs.shape + tuple(kept))
    return v


@export(method=True, numpy=(np.median,))
def median(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
           keepdims: bool = False) -> Tensor:
    """Median, as ``np.median`` (the mean of the two middle elements for an even count:
    each gets half the gradient). PyTorch's ``median`` returns the lower one instead."""
    return quantile(a, 0.5, axis=axis, out=out, keepdims=keepdims)


@export(numpy=(np.fabs,))
def fabs(x: Any) -> Tensor:
    """Absolute value (``np.fabs``), the ``abs`` gate."""
    return _abs(x)


@export(numpy=(np.deg2rad, np.radians))
def deg2rad(x: Any) -> Tensor:
    """Degrees to radians."""
    return as_tensor(x) * (math.pi / 180.0)


@export(numpy=(np.rad2deg, np.degrees))
def rad2deg(x: Any) -> Tensor:
    """Radians to degrees."""
    return as_tensor(x) * (180.0 / math.pi)


@export(numpy=(np.fmax,))
def fmax(x: Any, y: Any) -> Tensor:
    """Elementwise maximum that ignores a NaN on either side, as ``np.fmax``."""
    xa, ya = np.asarray(plain(x)), np.asarray(plain(y))
    return where(np.isnan(xa), y, where(np.isnan(ya), x, maximum(x, y)))


@export(numpy=(np.fmin,))
def fmin(x: Any, y: Any) -> Tensor:
    """Elementwise minimum that ignores a NaN on either side, as ``np.fmin``."""
    xa, ya = np.asarray(plain(x)), np.asarray(plain(y))
    return where(np.isnan(xa), y, where(np.isnan(ya), x, minimum(x, y)))


@export(numpy=(np.sinc,))
def sinc(x: Any) -> Tensor:
    """``sin(πx)/(πx)``, 1 at 0 (with derivative 0 there), as ``np.sinc``."""
    x = as_tensor(x)
    zero = x.data == 0
    px = where(zero, 1.0, x) * math.pi
    return where(zero, 1.0, sin(px) / px)


@export(numpy=(np.float_power,))
def float_power(x: Any, y: Any) -> Tensor:
    """``x ** y`` computed in float64, as ``np.float_power``."""
    from .elementwise import astype
    return astype(as_tensor(x), np.float64) ** y


@export(numpy=(np.column_stack,))
def column_stack(tup: Sequence[Any]) -> Tensor:
    """Stack 1-D arrays as columns (2-D arrays as they are), as ``np.column_stack``."""
    cols = [as_tensor(t) for t in tup]
    cols = [reshape(c, (-1, 1)) if c.ndim < 2 else c for c in cols]
    return concatenate(cols, axis=1)


@export(numpy=(np.rollaxis,))
def rollaxis(a: Any, axis: int, start: int = 0) -> Tensor:
    """Roll ``axis`` back to position ``start``, as ``np.rollaxis`` (prefer moveaxis)."""
    x = as_tensor(a)
    n = x.ndim
    axis %= n
    start = start + n if start < 0 else start
    if start > axis:
        start -= 1
    return moveaxis(x, axis, start)


@export(numpy=(np.append,))
def append(arr: Any, values: Any, axis: Any = None) -> Tensor:
    """``arr`` and ``values`` joined (flattened when ``axis`` is None), as ``np.append``."""
    if axis is None:
        return concatenate([reshape(atleast_1d(arr), (-1,)),
                            reshape(atleast_1d(values), (-1,))])
    return concatenate([arr, values], axis=axis)


@export(numpy=(np.real, np.conj, np.conjugate))
def real(x: Any) -> Tensor:
    """For real tensors ``np.real``/``np.conj`` are the identity (complex tensors are
    not supported)."""
    t = as_tensor(x)
    if t.dtype.kind == "c":
        raise TypeError("real/conj: complex tensors are not supported by chainrule")
    return t
