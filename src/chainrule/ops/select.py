"""Sorting and selection, written as indexing (the ``GetItem`` gate).

Every function here picks elements of its input: it computes *which* with NumPy (an
argsort, an index array: constants of the derivative) and then gathers them with
``x[index]``, whose backward scatters the gradient back (adding where an element is
picked twice). So each is exactly differentiable, to any order, with no gate of its own.

Conventions: ``sort`` is stable (ties keep their order, so the gradient of equal
values goes to them in input order); ``argmax``/``argmin``/``argsort`` return integer
tensors that carry no gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._tensor import Tensor, plain, wrap
from ..errors import ShapeError
from ._registry import export
from ._util import as_tensor, axis_args, one_axis
from .shape import broadcast_to, getitem, reshape, scatter_add


def _axis(axis: Any, ndim: int, name: str) -> int:
    """A 0-d input has the one axis its flattened form has (0 or -1)."""
    return one_axis(axis, max(ndim, 1), name)


def _along_index(indices: np.ndarray, axis: int) -> tuple:
    """The fancy index that ``take_along_axis(x, indices, axis)`` is."""
    nd = indices.ndim
    grids = np.ogrid[tuple(slice(n) for n in indices.shape)]
    return tuple(indices if i == axis else grids[i] for i in range(nd))


@export(numpy=(np.take_along_axis,))
def take_along_axis(arr: Any, indices: Any, axis: Any = -1) -> Tensor:
    """``np.take_along_axis``: pick one element per position along ``axis``
    (``axis=None`` works on the flattened array)."""
    x = as_tensor(arr)
    idx = np.asarray(plain(indices))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"take_along_axis: indices must be integers, got dtype {idx.dtype}")
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    if idx.ndim != x.ndim:
        raise ShapeError(f"take_along_axis: indices of shape {idx.shape} must have as many "
                         f"axes as the array of shape {x.shape}")
    axis = _axis(axis, x.ndim, "take_along_axis")
    shape = np.broadcast_shapes(tuple(n if i != axis else 1 for i, n in enumerate(x.shape)),
                                tuple(n if i != axis else 1 for i, n in enumerate(idx.shape)))
    idx = np.broadcast_to(idx, shape[:axis] + idx.shape[axis:axis + 1] + shape[axis + 1:])
    if x.shape != tuple(x.shape[axis] if i == axis else n for i, n in enumerate(shape)):
        x = broadcast_to(x, tuple(x.shape[axis] if i == axis else n
                                  for i, n in enumerate(shape)))
    return getitem(x, _along_index(idx % max(x.shape[axis], 1), axis))


@export(method=True, numpy=(np.take,))
def take(a: Any, indices: Any, axis: Any = None, out: Any = None, mode: str = "raise") -> Tensor:
    """``np.take``: elements (``axis=None``: of the flattened array) or slices along
    ``axis``; ``mode`` "raise", "wrap" or "clip" as NumPy."""
    if out is not None:
        raise TypeError("take: out= is not supported; assign the result instead")
    x = as_tensor(a)
    idx = np.asarray(plain(indices))
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    axis = _axis(axis, x.ndim, "take")
    n = x.shape[axis]
    if mode == "wrap":
        idx = idx % n
    elif mode == "clip":
        idx = np.clip(idx, 0, n - 1)
    elif mode != "raise":
        raise ValueError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    elif idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"take: index {int(idx.max() if idx.max() >= n else idx.min())} is "
                         f"out of bounds for axis {axis} with size {n}")
    return getitem(x, (slice(None),) * axis + (idx,))


@export(method=True, numpy=(np.sort,))
def sort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *,
         stable: bool | None = None, descending: bool = False) -> Tensor:
    """``np.sort``, differentiable: the gradient of each sorted value goes back to the
    element it came from. Always stable; ``descending=True`` (PyTorch's) reverses it,
    keeping equal values in input order. ``axis=None`` sorts the flattened array.

    NumPy's method ``ndarray.sort()`` sorts in place; ``t.sort()`` here returns a new
    tensor (an in-place sort would cut the graph).
    """
    if order is not None:
        raise TypeError("sort: order= is for structured arrays, which tensors are not")
    x = as_tensor(a)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    if x.ndim == 0:
        return x
    data = -x.data if descending else x.data
    idx = np.argsort(data, axis=axis, kind="stable")
    return take_along_axis(x, idx, axis)


@export(method=True)
def topk(x: Any, k: int, dim: int = -1, largest: bool = True,
         sorted: bool = True) -> tuple[Tensor, Tensor]:
    """PyTorch's ``topk``: the ``k`` largest (``largest=False``: smallest) values along
    ``dim`` and their indices, as a pair. The values carry the gradient."""
    t = as_tensor(x)
    axis = _axis(dim, t.ndim, "topk")
    n = t.shape[axis] if t.ndim else 1
    if not 0 <= k <= n:
        raise ValueError(f"topk: k={k} is out of range for a dimension of size {n}")
    if t.ndim == 0:
        return t, wrap(np.array(0))
    data = -t.data if largest else t.data
    idx = np.take(np.argsort(data, axis=axis, kind="stable"), np.arange(k), axis=axis)
    return take_along_axis(t, idx, axis), wrap(idx)


@export(method=True, numpy=(np.partition,))
def partition(a: Any, kth: Any, axis: int = -1, kind: str = "introselect",
              order: Any = None) -> Tensor:
    """``np.partition``, differentiable (the element order NumPy's partition gives)."""
    if order is not None:
        raise TypeError("partition: order= is for structured arrays, which tensors are not")
    x = as_tensor(a)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    idx = np.argpartition(x.data, kth, axis=axis)
    return take_along_axis(x, idx, axis)


def _index_result(fn: Any, x: Any, axis: Any, keepdims: bool) -> Tensor:
    return wrap(np.asarray(fn(plain(x), axis=axis, keepdims=keepdims)))


@export(method=True)
def argmax(a: Any, axis: Any = None, out: Any = None, *, keepdims: bool = False,
           dim: Any = None, keepdim: bool | None = None) -> Tensor:
    """Index of the largest element (first of ties), as ``np.argmax``, as an integer
    tensor (no gradient). ``np.argmax(t)`` itself gives NumPy's ndarray."""
    axis, keepdims = axis_args("argmax", axis, keepdims, dim, keepdim)
    return _index_result(np.argmax, a, axis, keepdims)


@export(method=True)
def argmin(a: Any, axis: Any = None, out: Any = None, *, keepdims: bool = False,
           dim: Any = None, keepdim: bool | None = None) -> Tensor:
    """Index of the smallest element (first of ties), as ``np.argmin``; no gradient."""
    axis, keepdims = axis_args("argmin", axis, keepdims, dim, keepdim)
    return _index_result(np.argmin, a, axis, keepdims)


@export(method=True)
def argsort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *,
            stable: bool | None = None) -> Tensor:
    """The indices that sort ``a``, as ``np.argsort``; no gradient."""
    return wrap(np.argsort(plain(a), axis=axis, kind=kind, stable=stable))


@export(method=True, numpy=(np.compress,))
def compress(condition: Any, a: Any, axis: Any = None, out: Any = None) -> Tensor:
    """``np.compress``: the slices along ``axis`` where ``condition`` is true."""
    x = as_tensor(a)
    cond = np.asarray(plain(condition), dtype=bool).ravel()
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    axis = _axis(axis, x.ndim, "compress")
    return getitem(x, (slice(None),) * axis + (np.nonzero(cond)[0],))


@export(numpy=(np.put_along_axis,), public=False)
def _put_along_axis_refused(arr: Any, indices: Any, values: Any, axis: Any) -> None:
    raise TypeError("np.put_along_axis writes in place, which would cut the graph; use "
                    "cr.put_along_axis(arr, indices, values, axis), which returns a new "
                    "tensor")


@export
def put_along_axis(arr: Any, indices: Any, values: Any, axis: int,
                   reduce: str = "replace") -> Tensor:
    """A new tensor: ``arr`` with ``values`` written (``reduce="add"``: added, as
    PyTorch's ``scatter_add``) at ``indices`` along ``axis``. Both ``arr`` and
    ``values`` get gradients; with "replace", an overwritten element of ``arr`` gets none
    (and, where an index repeats, the last value written wins, as in NumPy)."""
    x = as_tensor(arr)
    idx = np.asarray(plain(indices))
    axis = _axis(axis, x.ndim, "put_along_axis")
    idx = idx % x.shape[axis]
    v = as_tensor(values)
    full = np.broadcast_to(idx, np.broadcast_shapes(idx.shape, v.shape))
    index = _along_index(full, axis)
    v = broadcast_to(v, full.shape)
    if reduce == "add":
        return x + scatter_add(v, x.shape, index)
    if reduce != "replace":
        raise ValueError(f"put_along_axis: reduce must be 'replace' or 'add', got {reduce!r}")
    # Keep only the last write to each element, as NumPy's assignment does.
    coords = [c.ravel() for c in np.broadcast_arrays(*index)]
    flat = np.ravel_multi_index(coords, x.shape)
    _, first = np.unique(flat[::-1], return_index=True)
    keep = np.sort(flat.size - 1 - first)
    mask = np.zeros(x.size, dtype=bool)
    mask[flat[keep]] = True
    mask = mask.reshape(x.shape)
    coords = tuple(c[keep] for c in coords)
    return x * ~mask + scatter_add(reshape(v, (-1,))[keep], x.shape, coords)


@export(method=True)
def gather(x: Any, dim: int, index: Any) -> Tensor:
    """PyTorch's ``gather``: ``out[i][j] = x[i][index[i][j]]`` along ``dim`` (``index``
    has as many axes as ``x`` and no larger extent elsewhere); the gradient is
    scattered back, adding where an index repeats."""
    t = as_tensor(x)
    idx = np.asarray(plain(index))
    if idx.ndim != t.ndim:
        raise ShapeError(f"gather: index of shape {idx.shape} needs as many axes as the "
                         f"input of shape {t.shape}")
    ax = _axis(dim, t.ndim, "gather")
    if any(i > n for k, (i, n) in enumerate(zip(idx.shape, t.shape)) if k != ax):
        raise ShapeError(f"gather: index of shape {idx.shape} is larger than the input of "
                         f"shape {t.shape} outside dim {dim}")
    lead = tuple(slice(0, n) if k != ax else slice(None) for k, n in enumerate(idx.shape))
    return take_along_axis(getitem(t, lead), idx, ax)


@export
def one_hot(labels: Any, num_classes: int = -1, dtype: Any = np.float64) -> Tensor:
    """Class indices to one-hot rows: shape ``labels.shape + (num_classes,)``
    (``-1``: one more than the largest label, as PyTorch's ``one_hot``)."""
    t = np.asarray(plain(labels))
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {t.dtype}")
    n = int(t.max()) + 1 if num_classes == -1 else int(num_classes)
    if t.size and (t.min() < 0 or t.max() >= n):
        raise ValueError(f"one_hot: labels must lie in 0..{n - 1}, got {t.min()}..{t.max()}")
    return wrap(np.eye(n, dtype=dtype)[t])

