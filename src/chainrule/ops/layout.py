"""Rearranging elements: flips, rolls, tiles, pads, splits, triangles and diagonals.

None of these needs a gate of its own: each is indexing (``GetItem``, whose backward
scatters and adds), reshaping, transposing, joining or masking, so each is exactly
differentiable to any order. NumPy's names and arguments throughout; PyTorch's
``permute``, ``unsqueeze``, ``view``, ``expand``, ``cat``, ``clone`` are here too where
NumPy has no such name (``transpose(0, 1)`` keeps NumPy's meaning: see
``docs/from-pytorch.md``).
"""

from __future__ import annotations

import builtins
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._check import check_device, is_device
from .._tensor import Tensor, plain
from ..errors import ShapeError
from ._registry import export
from ._util import as_tensor, one_axis
from .elementwise import astype, where
from .reduction import sum as _sum
from .shape import (
    broadcast_to,
    concatenate,
    expand_dims,
    getitem,
    reshape,
    scatter_add,
    transpose,
)


def _axes_of(axis: Any, ndim: int, name: str) -> list[int]:
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    return [one_axis(a, ndim, name) for a in axes]


@export(method=True, numpy=(np.flip,))
def flip(m: Any, axis: Any = None) -> Tensor:
    """Reverse the order of elements along ``axis`` (all axes by default)."""
    x = as_tensor(m)
    axes = range(x.ndim) if axis is None else _axes_of(axis, x.ndim, "flip")
    index = [slice(None)] * x.ndim
    for a in axes:
        index[a] = slice(None, None, -1)
    return getitem(x, tuple(index)) if x.ndim else x


@export(numpy=(np.fliplr,))
def fliplr(m: Any) -> Tensor:
    """Reverse the columns (axis 1), as ``np.fliplr``."""
    return flip(m, 1)


@export(numpy=(np.flipud,))
def flipud(m: Any) -> Tensor:
    """Reverse the rows (axis 0), as ``np.flipud``."""
    return flip(m, 0)


@export(numpy=(np.rot90,))
def rot90(m: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Tensor:
    """Rotate by 90° ``k`` times in the plane of ``axes``, as ``np.rot90``."""
    x = as_tensor(m)
    a, b = _axes_of(axes, x.ndim, "rot90")
    if a == b:
        raise ValueError("rot90: the two axes must differ")
    k %= 4
    if k == 0:
        return x
    if k == 2:
        return flip(flip(x, a), b)
    perm = list(range(x.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(flip(x, b), perm) if k == 1 else flip(transpose(x, perm), b)


@export(method=True, numpy=(np.roll,))
def roll(a: Any, shift: Any, axis: Any = None) -> Tensor:
    """Shift elements cyclically, as ``np.roll`` (``axis=None``: the flattened array)."""
    x = as_tensor(a)
    if axis is None:
        return reshape(roll(reshape(x, (-1,)), shift, 0), x.shape)
    shifts = np.broadcast_to(shift, np.shape(axis)) if np.ndim(axis) else [shift]
    axes = _axes_of(axis, x.ndim, "roll")
    if len(np.atleast_1d(shift)) != len(axes):
        raise ValueError(f"roll: {len(np.atleast_1d(shift))} shifts for {len(axes)} axes")
    index: list[Any] = [slice(None)] * x.ndim
    for s, ax in zip(np.atleast_1d(shifts), axes):
        n = x.shape[ax]
        index[ax] = (np.arange(n) - int(s)) % n if n else slice(None)
        x = getitem(x, tuple(index))
        index[ax] = slice(None)
    return x


@export(method=True, numpy=(np.repeat,))
def repeat(a: Any, repeats: Any, axis: Any = None) -> Tensor:
    """Repeat each element (NumPy's ``repeat``, not PyTorch's tiling ``repeat``: that is
    ``cr.tile``); ``axis=None`` works on the flattened array."""
    x = as_tensor(a)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    axis = one_axis(axis, max(x.ndim, 1), "repeat")
    if x.ndim == 0:
        x = reshape(x, (1,))
    idx = np.repeat(np.arange(x.shape[axis]), plain(repeats))
    return getitem(x, (slice(None),) * axis + (idx,))


@export(numpy=(np.tile,))
def tile(A: Any, reps: Any) -> Tensor:
    """Repeat the whole array ``reps`` times along each axis, as ``np.tile``."""
    x = as_tensor(A)
    reps = (int(reps),) if np.ndim(reps) == 0 else tuple(int(r) for r in reps)
    nd = builtins.max(x.ndim, len(reps))
    x = reshape(x, (1,) * (nd - x.ndim) + x.shape)
    reps = (1,) * (nd - len(reps)) + reps
    index = tuple(np.tile(np.arange(n), r) if r != 1 else slice(None)
                  for n, r in zip(x.shape, reps))
    for ax, ix in enumerate(index):
        if not isinstance(ix, slice):
            x = getitem(x, (slice(None),) * ax + (ix,))
    return x


@export(numpy=(np.moveaxis,))
def moveaxis(a: Any, source: Any, destination: Any) -> Tensor:
    """Move axes to new positions, the others keeping their order, as ``np.moveaxis``."""
    x = as_tensor(a)
    src = _axes_of(source, x.ndim, "moveaxis")
    dst = _axes_of(destination, x.ndim, "moveaxis")
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination need the same number of axes")
    order = [i for i in range(x.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


@export(method=True)
def permute(x: Any, *dims: Any) -> Tensor:
    """PyTorch's ``permute``: ``t.permute(2, 0, 1)`` is ``np.transpose(t, (2, 0, 1))``."""
    if len(dims) == 1 and not isinstance(dims[0], (int, np.integer)):
        dims = tuple(dims[0])
    return transpose(x, dims)


@export(method=True)
def unsqueeze(x: Any, dim: int) -> Tensor:
    """PyTorch's ``unsqueeze``: insert an axis of length 1 (``np.expand_dims``)."""
    return expand_dims(x, dim)


@export(method=True)
def view(x: Any, *shape: Any) -> Tensor:
    """PyTorch's ``view``: a reshape (``t.view(2, -1)``). chainrule's tensors never share
    memory through it: the result is a new tensor in the graph."""
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = tuple(shape[0])
    return reshape(x, shape)


@export(method=True)
def expand(x: Any, *sizes: Any) -> Tensor:
    """PyTorch's ``expand``: broadcast to ``sizes``, ``-1`` keeping an axis's length."""
    t = as_tensor(x)
    if len(sizes) == 1 and not isinstance(sizes[0], (int, np.integer)):
        sizes = tuple(sizes[0])
    lead = len(sizes) - t.ndim
    if lead < 0 or any(s == -1 for s in sizes[:lead]):
        raise ShapeError(f"expand: sizes {tuple(sizes)} for a tensor of shape {t.shape}: "
                         f"give at least one size per axis, and -1 (keep) only for an "
                         f"existing axis, not a new leading one")
    shape = tuple(t.shape[i - lead] if s == -1 else int(s) for i, s in enumerate(sizes))
    return broadcast_to(t, shape)


@export(method=True)
def clone(x: Any) -> Tensor:
    """A copy that stays in the graph (PyTorch's ``clone``; ``x.detach()`` leaves it)."""
    t = as_tensor(x)
    return t + 0.0 if t.dtype.kind in "fc" else Tensor(t.data.copy())


@export(name="float", public=False, method=True)
def _float(x: Tensor) -> Tensor:
    """``t.float()``: float32, as PyTorch's (the gradient flows back in the old dtype)."""
    return astype(x, np.float32)


@export(name="double", public=False, method=True)
def _double(x: Tensor) -> Tensor:
    """``t.double()``: float64."""
    return astype(x, np.float64)


@export(name="to", public=False, method=True)
def _to(x: Tensor, *args: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """``t.to(dtype)``, ``t.to("cpu")``, ``t.to("cpu", dtype)``, as PyTorch's: a device
    other than the CPU is refused (NumPy computes on the CPU); a dtype is ``astype``."""
    for a in args:
        if is_device(a):
            device = a
        elif dtype is None:
            dtype = a
        else:
            raise TypeError(f"Tensor.to: expected a device and/or a dtype, got {args!r}")
    if device is not None:
        check_device(device, "Tensor.to")
    return x if dtype is None else astype(x, dtype)


@export(name="long", public=False, method=True)
def _long(x: Tensor) -> Tensor:
    """``t.long()``: int64 (no gradient)."""
    return astype(x, np.int64)


@export
def cat(tensors: Sequence[Any], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """PyTorch's name for ``concatenate``."""
    return concatenate(tensors, axis=dim if axis is None else axis)


@export(method=True, numpy=(np.ravel,))
def ravel(a: Any, order: str = "C") -> Tensor:
    """The elements as a 1-D tensor (C order), as ``np.ravel``."""
    if order not in ("C", "K", "A"):
        raise ValueError(f"ravel: only C order is supported, got order={order!r}")
    return reshape(a, (-1,))


def _atleast(n: int, arys: tuple) -> Any:
    out = []
    for a in arys:
        x = as_tensor(a)
        if x.ndim < n:
            if n == 3 and x.ndim == 1:
                shape = (1, *x.shape, 1)
            elif n == 3 and x.ndim == 2:
                shape = (*x.shape, 1)
            else:
                shape = (1,) * (n - x.ndim) + x.shape
            x = reshape(x, shape)
        out.append(x)
    return out[0] if len(out) == 1 else out


@export(numpy=(np.atleast_1d,))
def atleast_1d(*arys: Any) -> Any:
    """Views with at least one axis, as ``np.atleast_1d``."""
    return _atleast(1, arys)


@export(numpy=(np.atleast_2d,))
def atleast_2d(*arys: Any) -> Any:
    """At least two axes (a vector becomes a row), as ``np.atleast_2d``."""
    return _atleast(2, arys)


@export(numpy=(np.atleast_3d,))
def atleast_3d(*arys: Any) -> Any:
    """At least three axes ((N,) -> (1, N, 1), (M, N) -> (M, N, 1)), as ``np.atleast_3d``."""
    return _atleast(3, arys)


@export(numpy=(np.vstack,))
def vstack(tup: Sequence[Any]) -> Tensor:
    """Stack along the first axis (vectors as rows), as ``np.vstack``."""
    return concatenate([atleast_2d(t) for t in tup], axis=0)


@export(numpy=(np.hstack,))
def hstack(tup: Sequence[Any]) -> Tensor:
    """Stack along the second axis (the first, for vectors), as ``np.hstack``."""
    ts = [atleast_1d(t) for t in tup]
    return concatenate(ts, axis=0 if ts and ts[0].ndim == 1 else 1)


@export(numpy=(np.dstack,))
def dstack(tup: Sequence[Any]) -> Tensor:
    """Stack along the third axis, as ``np.dstack``."""
    return concatenate([atleast_3d(t) for t in tup], axis=2)


@export(numpy=(np.split,))
def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """Split into equal sections or at indices, as ``np.split`` (equal sections must
    divide the axis; ``array_split`` allows a remainder)."""
    x = as_tensor(ary)
    if np.ndim(indices_or_sections) == 0 and x.shape[one_axis(axis, x.ndim, "split")] % int(
            indices_or_sections):
        raise ValueError(f"split: {x.shape[axis]} does not divide into "
                         f"{indices_or_sections} equal sections; use array_split")
    return array_split(x, indices_or_sections, axis)


@export(numpy=(np.array_split,))
def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """Split into sections that may differ by one, or at indices, as ``np.array_split``."""
    x = as_tensor(ary)
    axis = one_axis(axis, x.ndim, "array_split")
    n = x.shape[axis]
    if np.ndim(indices_or_sections) == 0:
        k = int(indices_or_sections)
        if k <= 0:
            raise ValueError("array_split: number of sections must be larger than 0")
        each, extra = divmod(n, k)
        sizes = [each + 1] * extra + [each] * (k - extra)
        bounds = np.concatenate([[0], np.cumsum(sizes)])
    else:
        bounds = np.concatenate([[0], np.asarray(indices_or_sections, dtype=int), [n]])
    lead = (slice(None),) * axis
    return [getitem(x, (*lead, slice(int(a), builtins.max(int(a), int(b)))))
            for a, b in itertools.pairwise(bounds)]


def _tri_mask(shape: tuple[int, ...], k: int, lower: bool) -> np.ndarray:
    n, m = shape[-2:]
    keep = np.tri(n, m, k, dtype=bool)
    return keep if lower else ~np.tri(n, m, k - 1, dtype=bool)


@export(numpy=(np.tril,))
def tril(m: Any, k: int = 0) -> Tensor:
    """The lower triangle (elements above the ``k``-th diagonal zeroed), as ``np.tril``."""
    x = as_tensor(m)
    if x.ndim < 2:
        raise ShapeError(f"tril: needs at least 2 axes, got shape {x.shape}")
    return where(_tri_mask(x.shape, k, True), x, 0.0)


@export(numpy=(np.triu,))
def triu(m: Any, k: int = 0) -> Tensor:
    """The upper triangle (elements below the ``k``-th diagonal zeroed), as ``np.triu``."""
    x = as_tensor(m)
    if x.ndim < 2:
        raise ShapeError(f"triu: needs at least 2 axes, got shape {x.shape}")
    return where(_tri_mask(x.shape, k, False), x, 0.0)


@export(method=True, numpy=(np.diagonal,))
def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """The ``offset`` diagonal of the plane ``(axis1, axis2)``, as a new last axis
    (``np.diagonal``)."""
    x = as_tensor(a)
    if x.ndim < 2:
        raise ShapeError(f"diagonal: needs at least 2 axes, got shape {x.shape}")
    x = moveaxis(x, (axis1, axis2), (-2, -1))
    n, m = x.shape[-2:]
    rows = np.arange(builtins.max(0, -offset), n)
    cols = rows + offset
    ok = (cols >= 0) & (cols < m)
    return getitem(x, (Ellipsis, rows[ok], cols[ok]))


@export(numpy=(np.diag,))
def diag(v: Any, k: int = 0) -> Tensor:
    """``np.diag``: the ``k``-th diagonal of a matrix, or a matrix with a vector on it."""
    x = as_tensor(v)
    if x.ndim == 2:
        return diagonal(x, k)
    if x.ndim != 1:
        raise ShapeError(f"diag: input must be 1-D or 2-D, got shape {x.shape}")
    n = x.shape[0] + builtins.abs(k)
    i = np.arange(x.shape[0])
    index = (i, i + k) if k >= 0 else (i - k, i)
    return scatter_add(x, (n, n), index)


@export(method=True, numpy=(np.trace,))
def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None,
          out: Any = None) -> Tensor:
    """Sum of the ``offset`` diagonal, as ``np.trace``."""
    return _sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype, out=out)


_PAD_MODES = {"reflect": "reflect", "edge": "edge", "replicate": "edge", "wrap": "wrap",
              "circular": "wrap", "symmetric": "symmetric"}


@export(numpy=(np.pad,))
def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Tensor:
    """Pad as ``np.pad``: modes ``constant`` (``constant_values``), ``edge``,
    ``reflect``, ``symmetric``, ``wrap`` (PyTorch's names ``replicate`` and
    ``circular`` too). The gradient of a padded copy goes back to its source element."""
    x = as_tensor(array)
    width = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.ndim, 2))
    if (width < 0).any():
        raise ValueError(f"pad: widths must be >= 0, got {pad_width!r}")
    if mode == "constant":
        value = kwargs.pop("constant_values", 0)
        if kwargs:
            raise TypeError(f"pad: unexpected arguments {sorted(kwargs)} for mode 'constant'")
        shape = tuple(int(n + a + b) for n, (a, b) in zip(x.shape, width))
        inner = tuple(slice(int(a), int(a + n)) for n, (a, _) in zip(x.shape, width))
        out = scatter_add(x, shape, inner)
        values = np.broadcast_to(np.asarray(plain(value), dtype=x.dtype), (x.ndim, 2))
        if np.any(values != 0):
            fill = np.zeros(shape, dtype=x.dtype)
            for ax in range(x.ndim):   # numpy fills axis by axis, later axes on top
                lead = (slice(None),) * ax
                fill[(*lead, slice(0, int(width[ax, 0])))] = values[ax, 0]
                fill[(*lead, slice(shape[ax] - int(width[ax, 1]), shape[ax]))] = values[ax, 1]
            mask = np.ones(shape, dtype=bool)
            mask[inner] = False
            out = where(mask, fill, out)
        return out
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode {mode!r} is not supported; use one of constant, "
                         f"{', '.join(_PAD_MODES)}")
    if kwargs:
        raise TypeError(f"pad: unexpected arguments {sorted(kwargs)} for mode {mode!r}")
    for ax, (a, b) in enumerate(width):
        if a or b:
            idx = np.pad(np.arange(x.shape[ax]), (int(a), int(b)), mode=_PAD_MODES[mode])
            x = getitem(x, (slice(None),) * ax + (idx,))
    return x
