"""Pooling gates: max pooling and average pooling over ``(N, C, H, W)``.

Max pooling routes each window's upstream gradient to the one input that won the
window (the local gradient is 1 there and 0 elsewhere): *Deep Learning from Scratch*'s
``Pooling`` layer and cs231n's "max gate routes the gradient". **Ties** go to the first
maximum in the window, scanning its rows top to bottom and each row left to right, as
PyTorch's CPU kernel does; a window holding NaN outputs NaN and routes to its last NaN
(PyTorch's rule too). Where windows overlap, an input that wins several windows gets
the sum of their gradients.

Average pooling gives every input of a window ``1 / divisor`` of its gradient, the
divisor being the window's size (PyTorch's ``count_include_pad`` and
``divisor_override`` choose which size).

Both run as one block operation per kernel tap over strided views (``windows.py``);
under ``create_graph`` their backward is rebuilt from a ``Col2Im`` gate, so it is
differentiable again.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._tensor import Tensor
from ..autograd import Array, Gate, Grads, apply1
from ..errors import DtypeError, ShapeError
from . import windows as wn
from ._registry import export
from ._util import as_tensor
from .arithmetic import mul
from .conv import _col2im
from .shape import broadcast_to

Pads = tuple[int, int, int, int]


def pool_args(where: str, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
              ceil_mode: bool) -> tuple[tuple[int, int], tuple[int, int], Pads,
                                        tuple[int, int], bool]:
    """PyTorch's pooling arguments checked: kernel, stride (default: the kernel),
    pads (top, bottom, left, right), dilation, ceil mode."""
    k = wn.pair(where, "kernel_size", kernel_size, 1)
    s = k if stride is None or (isinstance(stride, (tuple, list)) and not stride) else \
        wn.pair(where, "stride", stride, 1)
    p = wn.pair(where, "padding", padding, 0)
    d = wn.pair(where, "dilation", dilation, 1)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{where}: padding {p} must be at most half the kernel size {k}")
    return k, s, (p[0], p[0], p[1], p[1]), d, bool(ceil_mode)


def _batched(where: str, x: Tensor) -> tuple[Tensor, bool]:
    if x.ndim == 3:
        return x.reshape(1, *x.shape), True
    if x.ndim != 4:
        raise ShapeError(f"{where}: expected (N, C, H, W) or (C, H, W), got shape {x.shape}")
    return x, False


def _channels_last_like(x: np.ndarray, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """Zeros of NCHW ``shape`` in the memory order of ``x`` (channels-last or not)."""
    if x.ndim == 4 and x.strides[1] < x.strides[3]:
        n, c, h, w = shape
        return wn.channels_first(np.zeros((n, h, w, c), dtype=dtype))
    return np.zeros(shape, dtype=dtype)


class _Pool(Gate):
    saves_inputs = False
    saves_output = False
    differentiable = ()

    def __init__(self, kernel: tuple[int, int], stride: tuple[int, int], pads: Pads,
                 dilation: tuple[int, int] = (1, 1), ceil_mode: bool = False) -> None:
        self.kernel, self.stride, self.pads = kernel, stride, pads
        self.dilation, self.ceil_mode = dilation, ceil_mode

    def _windows(self, x: Array, fill: float) -> tuple[np.ndarray, wn.Window]:
        where = type(self).symbol
        if np.ndim(x) != 4:
            raise ShapeError(f"{where}: expected (N, C, H, W), got shape {np.shape(x)}")
        x = np.asarray(x)
        if x.dtype.kind != "f":
            raise DtypeError(f"{where}: expected a floating-point input, got {x.dtype}; "
                             f"convert first, e.g. x.astype(np.float32)")
        self.win = win = wn.window(where, x.shape[2:], self.kernel, self.stride, self.pads,
                                   self.dilation, self.ceil_mode)
        self.x_shape, self.dtype = x.shape, x.dtype
        return wn.channels_first(wn.padded(x, win, fill)), win

    def _scatter(self, gy: np.ndarray, part: Any) -> np.ndarray:
        """The gradient on the input: tap ``(i, j)``'s share ``part(p, gy)`` of each
        window's gradient (an array, or a pair of factors to multiply), added onto the
        inputs it read (padding dropped)."""
        win = self.win
        n, c = self.x_shape[:2]
        pt, _, pl, _ = win.pads
        gxp = _channels_last_like(gy, (n, c, *win.padded), gy.dtype)
        for p, i, j in win.each_tap():
            rows, cols = win.tap(i, j)
            view = gxp[:, :, rows, cols]
            share = part(p, gy)
            if isinstance(share, tuple):          # (g, mask): multiplied into place
                if win.disjoint():
                    np.multiply(*share, out=view)
                else:
                    view += np.multiply(*share)
            elif win.disjoint():
                np.copyto(view, share)
            else:
                view += share
        return gxp[:, :, pt:pt + win.h, pl:pl + win.w]

    def _graph(self, gy: Tensor, share: Any) -> Tensor:
        """The same scatter from gates: col2im of each window's shares (``share`` is
        ``(N, OH, OW, C, kh, kw)``, ``(OH, OW)`` or a number)."""
        win = self.win
        if np.ndim(share) == 2:
            share = share[:, :, None, None, None]
        g6 = gy.transpose(0, 2, 3, 1).reshape(*gy.shape[:1], win.oh, win.ow, gy.shape[1], 1, 1)
        shares = broadcast_to(mul(g6, share), (*g6.shape[:4], win.kh, win.kw))
        return _col2im(shares, (win.h, win.w), self.kernel, self.stride, win.pads,
                       self.dilation)


class MaxPool2d(_Pool):
    """y = the maximum of each window.  Local gradient: 1 for the window's winner (the
    first maximum; see the module notes for ties and NaN), 0 for the others."""

    symbol = "max_pool2d"
    function_name = "max_pool2d"
    local_notation = ("route to max",)

    def forward(self, x: Array) -> Array:
        xp, win = self._windows(x, -np.inf)
        taps = [xp[:, :, r, c] for r, c in (win.tap(i, j) for _, i, j in win.each_tap())]
        # The winning tap of each window, kept as it is found: a tap wins only if it is
        # strictly greater than the best so far, so the first maximum keeps a tie.
        code = np.uint8 if len(taps) <= 256 else np.int32
        if len(taps) == 1:
            y = np.array(taps[0], order="K")
            arg = np.zeros_like(y, dtype=code)
        else:
            y = np.maximum(taps[0], taps[1])
            arg = np.greater(taps[1], taps[0]).astype(code)
        won = np.empty_like(arg, dtype=bool)
        step = np.empty_like(arg)
        for p, v in enumerate(taps[2:], 2):
            np.greater(v, y, out=won)
            np.subtract(code(p), arg, out=step)                  # arg += won * (p - arg)
            np.multiply(step, won, out=step)
            arg += step
            np.maximum(y, v, out=y)
        if np.isnan(y).any():                                 # PyTorch: the last NaN wins
            for p, v in enumerate(taps):
                np.copyto(arg, p, where=np.isnan(v))
        self.arg = arg
        return y

    def indices(self) -> np.ndarray:
        """Where each window's maximum is, as PyTorch's ``return_indices``: the flat
        index ``row * W + col`` into the (unpadded) input plane, int64."""
        win, arg = self.win, self.arg.astype(np.int64)
        pt, _, pl, _ = win.pads
        rows = (np.arange(win.oh) * win.sh)[:, None] + (arg // win.kw) * win.dh - pt
        cols = (np.arange(win.ow) * win.sw)[None, :] + (arg % win.kw) * win.dw - pl
        return rows * win.w + cols

    def backward(self, gy: Array) -> Grads:
        arg = self.arg
        if isinstance(gy, Tensor):
            hot = np.arange(self.win.taps).reshape(self.win.kh, self.win.kw)
            share = wn.channels_last(arg)[..., None, None] == hot
            return self._graph(gy, share.astype(gy.dtype))
        return self._scatter(np.asarray(gy), lambda p, g: (g, arg == p))


class AvgPool2d(_Pool):
    """y = the mean of each window.  Local gradient: ``1 / divisor`` for every input of
    the window (the divisor counts the padding or not, see ``avg_pool2d``)."""

    symbol = "avg_pool2d"
    function_name = "avg_pool2d"
    local_notation = ("÷ window",)
    linear = True

    def __init__(self, kernel: tuple[int, int], stride: tuple[int, int], pads: Pads,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__(kernel, stride, pads, (1, 1), ceil_mode)
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def _divisor(self) -> Any:
        if self.divisor_override is not None:
            return self.divisor_override
        win = self.win
        pt, pl = self.pads[0], self.pads[2]
        sizes = []
        for n, o, k, s, lo in ((win.h, win.oh, win.kh, win.sh, pt), (win.w, win.ow, win.kw,
                                                                     win.sw, pl)):
            start = np.arange(o) * s - lo
            end = np.minimum(start + k, n + lo)          # windows stop at the padding's end
            if not self.count_include_pad:
                start, end = np.maximum(start, 0), np.minimum(end, n)
            sizes.append(end - start)
        div = np.multiply.outer(*sizes)
        return div.flat[0] if (div == div.flat[0]).all() else div

    def forward(self, x: Array) -> Array:
        xp, win = self._windows(x, 0.0)
        taps = [xp[:, :, r, c] for r, c in (win.tap(i, j) for _, i, j in win.each_tap())]
        y = np.array(taps[0], order="K")
        for v in taps[1:]:
            y += v
        self.div = div = self._divisor()
        y /= np.asarray(div, dtype=y.dtype)
        return y

    def backward(self, gy: Array) -> Grads:
        scale = 1.0 / np.asarray(self.div, dtype=np.float64)
        if isinstance(gy, Tensor):
            share = np.asarray(scale, dtype=gy.dtype)
            return self._graph(gy, share)
        g = np.asarray(gy) * scale.astype(np.asarray(gy).dtype)
        return self._scatter(g, lambda p, g: g)


@export
def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """Max pooling, as ``torch.nn.functional.max_pool2d``: ``stride`` defaults to the
    kernel size, ``padding`` (at most half the kernel) pads with -inf, ``ceil_mode``
    keeps a last partial window. With ``return_indices=True`` also returns where each
    maximum is (flat ``row * W + col`` indices into each input plane, int64). Ties go
    to the first maximum in the window (row by row), as PyTorch."""
    x, single = _batched("max_pool2d", as_tensor(input))
    gate = MaxPool2d(*pool_args("max_pool2d", kernel_size, stride, padding, dilation,
                                ceil_mode))
    y = apply1(gate, x)
    if single:
        y = y.reshape(y.shape[1:])
    if not return_indices:
        return y
    idx = gate.indices()
    return y, Tensor(idx[0] if single else idx)


@export
def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Average pooling, as ``torch.nn.functional.avg_pool2d``: each window's mean,
    dividing by the kernel's area (``count_include_pad=True``, padding zeros counted),
    by the number of real inputs in the window (``False``), or by ``divisor_override``.
    With ``ceil_mode`` a last partial window divides by the part inside the padded
    input, as PyTorch."""
    x, single = _batched("avg_pool2d", as_tensor(input))
    k, s, pads, _, ceil = pool_args("avg_pool2d", kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and (isinstance(divisor_override, bool)
                                         or not isinstance(divisor_override, int)
                                         or divisor_override <= 0):
        raise ValueError(f"avg_pool2d: divisor_override must be a positive int, got "
                         f"{divisor_override!r}")
    y = apply1(AvgPool2d(k, s, pads, ceil, bool(count_include_pad), divisor_override), x)
    return y.reshape(y.shape[1:]) if single else y
