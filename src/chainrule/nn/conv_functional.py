"""Convolutional-network functions built on the conv and pool gates (imported into
:mod:`chainrule.nn.functional` with PyTorch's names and arguments).

The gates themselves are ``conv2d``, ``max_pool2d``, ``avg_pool2d``, ``im2col`` and
``col2im`` in :mod:`chainrule.ops`; what is here composes them (1-D forms, the
adaptive pooling, PyTorch's ``unfold``/``fold``, nearest-neighbour upsampling), so
every gradient comes from gates that are gradient-checked.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops
from .._check import is_int, is_number
from .._tensor import Tensor, wrap
from ..errors import ShapeError

__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "fold",
           "interpolate", "max_pool1d", "unfold"]


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else wrap(np.asarray(x))


def _one(where: str, name: str, v: Any) -> int:
    if isinstance(v, (tuple, list)) and len(v) == 1:
        v = v[0]
    if not is_int(v):
        raise ValueError(f"{where}: {name} must be an int, got {v!r}")
    return int(v)


def _as_2d(where: str, x: Tensor) -> Tensor:
    if x.ndim not in (2, 3):
        raise ShapeError(f"{where}: expected (N, C, L) or (C, L), got shape {x.shape}")
    return x.reshape(*x.shape[:-1], 1, x.shape[-1])


def max_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max pooling over ``(N, C, L)``, as ``torch.nn.functional.max_pool1d`` (the 2-D
    gate on a height-1 image; ties go to the first maximum)."""
    where = "max_pool1d"
    x = _as_2d(where, _t(input))
    k = _one(where, "kernel_size", kernel_size)
    s = k if stride is None else _one(where, "stride", stride)
    out = ops.max_pool2d(x, (1, k), (1, s), (0, _one(where, "padding", padding)),
                         (1, _one(where, "dilation", dilation)), ceil_mode, return_indices)
    if return_indices:
        y, idx = out
        return y.reshape(*y.shape[:-2], y.shape[-1]), Tensor(idx.data[..., 0, :])
    return out.reshape(*out.shape[:-2], out.shape[-1])


def avg_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """Average pooling over ``(N, C, L)``, as ``torch.nn.functional.avg_pool1d``."""
    where = "avg_pool1d"
    x = _as_2d(where, _t(input))
    k = _one(where, "kernel_size", kernel_size)
    s = k if stride is None else _one(where, "stride", stride)
    y = ops.avg_pool2d(x, (1, k), (1, s), (0, _one(where, "padding", padding)), ceil_mode,
                       count_include_pad)
    return y.reshape(*y.shape[:-2], y.shape[-1])


def _adaptive_matrix(n_in: int, n_out: int, dtype: Any) -> np.ndarray:
    """Row ``i`` averages inputs ``floor(i*n_in/n_out)`` .. ``ceil((i+1)*n_in/n_out)``."""
    a = np.zeros((n_out, n_in), dtype=dtype)
    for i in range(n_out):
        lo, hi = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
        a[i, lo:hi] = 1.0 / (hi - lo)
    return a


def _sizes(where: str, output_size: Any, have: tuple[int, ...]) -> tuple[int, ...]:
    vals = (output_size,) * len(have) if is_int(output_size) or output_size is None \
        else tuple(output_size)
    if len(vals) != len(have):
        raise ValueError(f"{where}: output_size must be an int or {len(have)} ints, got "
                         f"{output_size!r}")
    out = []
    for v, h in zip(vals, have):
        if v is None:
            v = h
        if not is_int(v) or v < 1:
            raise ValueError(f"{where}: output sizes must be positive ints (or None to keep "
                             f"the input's), got {output_size!r}")
        out.append(int(v))
    return tuple(out)


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Tensor:
    """Average pooling to a fixed output size ``(OH, OW)`` whatever the input's size, as
    ``torch.nn.functional.adaptive_avg_pool2d``: output row ``i`` averages input rows
    ``floor(i*H/OH)`` to ``ceil((i+1)*H/OH)`` (windows may overlap by one). Computed as
    ``A_h . x . A_w^T`` with two averaging matrices (two MatMul gates)."""
    where = "adaptive_avg_pool2d"
    x = _t(input)
    if x.ndim not in (3, 4):
        raise ShapeError(f"{where}: expected (N, C, H, W) or (C, H, W), got shape {x.shape}")
    oh, ow = _sizes(where, output_size, x.shape[-2:])
    dt = x.dtype if np.dtype(x.dtype).kind == "f" else np.float64
    if (oh, ow) == (1, 1):
        return ops.mean(x, axis=(-2, -1), keepdims=True)
    ah = _adaptive_matrix(x.shape[-2], oh, dt)
    aw = _adaptive_matrix(x.shape[-1], ow, dt)
    return ops.matmul(ops.matmul(ah, x), aw.T)


def adaptive_avg_pool1d(input: Any, output_size: Any) -> Tensor:
    """Average pooling of ``(N, C, L)`` to length ``output_size``, as PyTorch."""
    where = "adaptive_avg_pool1d"
    x = _t(input)
    if x.ndim not in (2, 3):
        raise ShapeError(f"{where}: expected (N, C, L) or (C, L), got shape {x.shape}")
    (n,) = _sizes(where, output_size, x.shape[-1:])
    dt = x.dtype if np.dtype(x.dtype).kind == "f" else np.float64
    return ops.matmul(x, _adaptive_matrix(x.shape[-1], n, dt).T)


def _pairs(where: str, **kw: Any) -> dict[str, tuple[int, int]]:
    out = {}
    for name, v in kw.items():
        vals = (v, v) if is_int(v) else tuple(v) if isinstance(v, (tuple, list)) else ()
        if len(vals) != 2 or not all(is_int(e) for e in vals):
            raise ValueError(f"{where}: {name} must be an int or a pair of ints, got {v!r}")
        out[name] = (int(vals[0]), int(vals[1]))
    return out


def unfold(input: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
           stride: Any = 1) -> Tensor:
    """PyTorch's ``unfold``: ``(N, C, H, W)`` -> ``(N, C*kh*kw, L)``, each column one
    window (channel-major, as ``torch.nn.functional.unfold``); the Im2Col gate."""
    where = "unfold"
    x = _t(input)
    if x.ndim != 4:
        raise ShapeError(f"{where}: expected (N, C, H, W), got shape {x.shape}")
    a = _pairs(where, kernel_size=kernel_size, dilation=dilation, padding=padding,
               stride=stride)
    (ph, pw) = a["padding"]
    cols = ops.apply(ops.Im2Col(a["kernel_size"], a["stride"], (ph, ph, pw, pw),
                                a["dilation"]), x)
    n, oh, ow, c, kh, kw = cols.shape
    return cols.reshape(n, oh * ow, c * kh * kw).transpose(0, 2, 1)


def fold(input: Any, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
         stride: Any = 1) -> Tensor:
    """PyTorch's ``fold``, the adjoint of :func:`unfold`: ``(N, C*kh*kw, L)`` columns
    added back onto ``(N, C, H, W)`` (overlaps summed); the Col2Im gate."""
    where = "fold"
    x = _t(input)
    a = _pairs(where, output_size=output_size, kernel_size=kernel_size, dilation=dilation,
               padding=padding, stride=stride)
    (kh, kw), (ph, pw) = a["kernel_size"], a["padding"]
    if x.ndim != 3 or x.shape[1] % (kh * kw):
        raise ShapeError(f"{where}: expected (N, C*{kh}*{kw}, L), got shape {x.shape}")
    win = ops.windows.window(where, a["output_size"], (kh, kw), a["stride"],
                             (ph, ph, pw, pw), a["dilation"])
    if x.shape[2] != win.oh * win.ow:
        raise ShapeError(f"{where}: {x.shape[2]} columns do not fit an output of size "
                         f"{a['output_size']}: its windows number {win.oh}x{win.ow} = "
                         f"{win.oh * win.ow}")
    n, c = x.shape[0], x.shape[1] // (kh * kw)
    cols = x.transpose(0, 2, 1).reshape(n, win.oh, win.ow, c, kh, kw)
    return ops.apply(ops.Col2Im(a["output_size"], (kh, kw), a["stride"], (ph, ph, pw, pw),
                                a["dilation"]), cols)


def _nearest_index(n_in: int, n_out: int, scale: float | None, exact: bool) -> np.ndarray:
    """PyTorch's source index of each output position (computed in float32, as its
    CPU kernel does, so that the same pixels are picked)."""
    s = np.float32(1.0 / scale if scale is not None else n_in / n_out)
    dst = np.arange(n_out, dtype=np.float32)
    if exact:
        src = np.floor((dst + np.float32(0.5)) * s)
    elif n_out == 2 * n_in:
        src = np.arange(n_out) // 2
    else:
        src = np.floor(dst * s)
    return np.minimum(src.astype(np.int64), n_in - 1)


def interpolate(input: Any, size: Any = None, scale_factor: Any = None,
                mode: str = "nearest", align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None) -> Tensor:
    """Resize ``(N, C, L)`` or ``(N, C, H, W)`` by nearest-neighbour sampling, as
    ``torch.nn.functional.interpolate`` with ``mode="nearest"`` (source index
    ``floor(i * in/out)``) or ``"nearest-exact"`` (``floor((i + 0.5) * in/out)``).
    Give ``size`` or ``scale_factor``. The gradient adds each output's gradient to the
    input it was copied from (indexing gates). Other modes raise."""
    where = "interpolate"
    x = _t(input)
    if mode not in ("nearest", "nearest-exact"):
        raise ValueError(f"{where}: mode {mode!r} is not supported; chainrule has "
                         f"'nearest' and 'nearest-exact'")
    if align_corners is not None:
        raise ValueError(f"{where}: align_corners only applies to the linear modes, not "
                         f"{mode!r}; leave it None")
    if x.ndim not in (3, 4):
        raise ShapeError(f"{where}: expected (N, C, L) or (N, C, H, W), got shape {x.shape}")
    dims = x.ndim - 2
    have = x.shape[2:]
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{where}: give exactly one of size and scale_factor")
    if size is not None:
        out = _sizes(where, size, have)
        scales: tuple[float | None, ...] = (None,) * dims
    else:
        sf = (scale_factor,) * dims if is_number(scale_factor) else tuple(scale_factor)
        if len(sf) != dims or not all(is_number(v) and v > 0 for v in sf):
            raise ValueError(f"{where}: scale_factor must be a positive number or {dims} of "
                             f"them, got {scale_factor!r}")
        out = tuple(math.floor(h * float(v)) for h, v in zip(have, sf))
        if min(out) < 1:
            raise ShapeError(f"{where}: scale_factor {scale_factor!r} makes the size {have} "
                             f"empty ({out})")
        scales = (None,) * dims if recompute_scale_factor else tuple(float(v) for v in sf)
    y = x
    for axis, (n_in, n_out, sc) in enumerate(zip(have, out, scales), start=2):
        if n_in != n_out:
            y = ops.take(y, _nearest_index(n_in, n_out, sc, mode == "nearest-exact"),
                         axis=axis)
    return y
