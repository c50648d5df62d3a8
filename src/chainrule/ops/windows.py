"""Sliding windows over ``(N, C, H, W)`` arrays: the geometry shared by the
convolution and pooling gates, and the NumPy idioms that make them fast.

A window is ``kernel`` elements high and wide, moved by ``stride``, its taps
``dilation`` apart, over the input padded by ``pads = (top, bottom, left, right)``.
For each kernel tap ``(i, j)`` the inputs it sees across all output positions are one
strided view of the padded input (:meth:`Window.tap`), so an im2col is ``kh * kw``
block copies and a col2im ``kh * kw`` block adds, never a Python loop over positions.

Activations are kept NCHW to the user (PyTorch's order) but the gates work on the
*channels-last* memory order underneath: an ``(N, C, H, W)`` tensor whose memory is
``(N, H, W, C)`` is a free transpose of it, each tap's copy moves runs of ``C``
contiguous values, and the GEMM's output ``(N*OH*OW, C_out)`` *is* channels-last, so
a convolution's output costs no transposing copy (NumPy's ufuncs keep the layout).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._check import is_int
from ..errors import ShapeError


def pair(where: str, name: str, v: Any, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints (PyTorch's ``_pair``), each at least ``minimum``."""
    vals = (v, v) if is_int(v) else tuple(v) if isinstance(v, (tuple, list)) else None
    if vals is None or len(vals) != 2 or not all(is_int(e) for e in vals):
        raise ValueError(f"{where}: {name} must be an int or a pair of ints, got {v!r}")
    if min(vals) < minimum:
        raise ValueError(f"{where}: {name} must be at least {minimum}, got {v!r}")
    return int(vals[0]), int(vals[1])


@dataclass(frozen=True)
class Window:
    """Where the windows of one gate fall on an input of spatial size ``(h, w)``."""

    h: int
    w: int
    kh: int
    kw: int
    sh: int
    sw: int
    dh: int
    dw: int
    pads: tuple[int, int, int, int]
    oh: int
    ow: int

    @property
    def padded(self) -> tuple[int, int]:
        """The padded input's spatial size."""
        pt, pb, pl, pr = self.pads
        return self.h + pt + pb, self.w + pl + pr

    @property
    def taps(self) -> int:
        return self.kh * self.kw

    def tap(self, i: int, j: int) -> tuple[slice, slice]:
        """Rows and columns of the padded input that tap ``(i, j)`` reads."""
        r0, c0 = i * self.dh, j * self.dw
        return (slice(r0, r0 + self.sh * (self.oh - 1) + 1, self.sh),
                slice(c0, c0 + self.sw * (self.ow - 1) + 1, self.sw))

    def each_tap(self) -> Iterator[tuple[int, int, int]]:
        """``(p, i, j)`` for every tap, row by row (``p = i * kw + j``)."""
        for i in range(self.kh):
            for j in range(self.kw):
                yield i * self.kw + j, i, j

    def disjoint(self) -> bool:
        """Whether no input element is seen by two windows (stride >= the kernel's extent)."""
        return (self.sh >= self.dh * (self.kh - 1) + 1
                and self.sw >= self.dw * (self.kw - 1) + 1)

    def inner(self) -> tuple[slice, slice]:
        """The padded input's rows and columns that hold the input itself."""
        pt, _, pl, _ = self.pads
        return slice(pt, pt + self.h), slice(pl, pl + self.w)


def window(where: str, hw: tuple[int, int], kernel: tuple[int, int],
           stride: tuple[int, int], pads: tuple[int, int, int, int],
           dilation: tuple[int, int] = (1, 1), ceil_mode: bool = False) -> Window:
    """The geometry of windows over an input of spatial size ``hw``.

    ``ceil_mode`` (pooling) counts a last, partial window as PyTorch does: it is kept
    when it starts inside the input or its left padding, and the missing part is
    padded on the bottom/right.
    """
    h, w = hw
    pt, pb, pl, pr = pads
    out = []
    for size, k, s, d, lo, hi in ((h, kernel[0], stride[0], dilation[0], pt, pb),
                                  (w, kernel[1], stride[1], dilation[1], pl, pr)):
        span = size + lo + hi - d * (k - 1) - 1
        if span < 0:
            raise ShapeError(f"{where}: the input's spatial size {hw} (padded by {pads}) is "
                             f"smaller than the kernel {kernel} with dilation {dilation}; use "
                             f"a smaller kernel, more padding, or a larger input")
        n = (span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (n - 1) * s >= size + lo:
            n -= 1
        out.append(n)
    oh, ow = out
    if ceil_mode:                      # pad the bottom/right for the partial windows
        pb = max(pb, (oh - 1) * stride[0] + dilation[0] * (kernel[0] - 1) + 1 - h - pt)
        pr = max(pr, (ow - 1) * stride[1] + dilation[1] * (kernel[1] - 1) + 1 - w - pl)
    return Window(h, w, kernel[0], kernel[1], stride[0], stride[1], dilation[0], dilation[1],
                  (pt, pb, pl, pr), oh, ow)


def channels_last(x: np.ndarray) -> np.ndarray:
    """``(N, C, H, W)`` -> ``(N, H, W, C)`` view (contiguous when ``x`` is channels-last)."""
    return x.transpose(0, 2, 3, 1)


def channels_first(x: np.ndarray) -> np.ndarray:
    """``(N, H, W, C)`` -> ``(N, C, H, W)`` view: the layout users see."""
    return x.transpose(0, 3, 1, 2)


def padded(x: np.ndarray, win: Window, fill: float = 0.0) -> np.ndarray:
    """``x`` ``(N, C, H, W)`` as a channels-last ``(N, Hp, Wp, C)`` array, padded with
    ``fill`` (a view of ``x`` when there is no padding)."""
    xl = channels_last(x)
    if not any(win.pads):
        return xl
    n, c = x.shape[:2]
    out = np.full((n, *win.padded, c), fill, dtype=x.dtype)
    rows, cols = win.inner()
    out[:, rows, cols, :] = xl
    return out


def cols_buffer(n: int, c: int, win: Window, dtype: Any,
                extra: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A ``(N*OH*OW, kh*kw*C + extra)`` GEMM operand and its ``(N, OH, OW, kh, kw, C)``
    view, which :func:`fill_cols` fills (the ``extra`` columns are left to the caller).

    With one or two channels the operand is the transpose of a row-major
    ``(kh*kw*C + extra, N*OH*OW)`` array, so that each tap's copy is one contiguous
    run rather than a stride-``K`` scatter (measured 2x faster for a first layer; the
    GEMM takes the transposed operand as it is)."""
    k = win.taps * c
    m = n * win.oh * win.ow
    s = np.dtype(dtype).itemsize
    if c <= 2:
        buf = np.empty((k + extra, m), dtype=dtype)
        pos, ch = s, m * s
        operand = buf.T
    else:
        buf = np.empty((m, k + extra), dtype=dtype)
        pos, ch = (k + extra) * s, s
        operand = buf
    view = np.lib.stride_tricks.as_strided(
        buf, (n, win.oh, win.ow, win.kh, win.kw, c),
        (win.oh * win.ow * pos, win.ow * pos, pos, win.kw * c * ch, c * ch, ch), writeable=True)
    return operand, view


def fill_cols(xp: np.ndarray, win: Window, cols: np.ndarray) -> None:
    """im2col: ``cols[:, :, :, i, j, :]`` = what tap ``(i, j)`` sees in the padded
    channels-last input ``xp`` (one block copy per tap)."""
    for _, i, j in win.each_tap():
        rows, columns = win.tap(i, j)
        cols[:, :, :, i, j, :] = xp[:, rows, columns, :]


def add_taps(parts: Any, win: Window, n: int, c: int, dtype: Any) -> np.ndarray:
    """col2im: the channels-last padded ``(N, Hp, Wp, C)`` sum of each tap's part
    (``parts(p, i, j)`` gives tap ``(i, j)``'s ``(N, OH, OW, C)`` block), overlaps added."""
    out = np.zeros((n, *win.padded, c), dtype=dtype)
    for p, i, j in win.each_tap():
        rows, columns = win.tap(i, j)
        out[:, rows, columns, :] += parts(p, i, j)
    return out


def crop(xp: np.ndarray, win: Window) -> np.ndarray:
    """The input's own region of a channels-last padded array, as ``(N, C, H, W)``."""
    rows, cols = win.inner()
    return channels_first(xp[:, rows, cols, :])
