"""Convolution gates: im2col and col2im (a linear map and its adjoint), and conv2d.

*Deep Learning from Scratch* (chapter 7) computes a convolution as one matrix product:
**im2col** lays every window of the input out as a row, ``col`` of shape
``(N*OH*OW, C*kh*kw)``, and the filters as the columns of ``W_col``; then
``Y = col . W_col + b`` is the Affine layer of chapter 5, and backward is the Affine
layer's backward: ``dW_col = col^T . dY``, ``db = Σ dY``, ``dcol = dY . W_col^T``,
followed by **col2im**, which adds each row of ``dcol`` back onto the input positions
its window came from. col2im is im2col's adjoint (transpose), so each is the other's
backward.

``Conv2d`` fuses those steps into one gate for speed (see ``windows.py`` for the memory
layout); ``Im2Col`` and ``Col2Im`` are gates of their own, so a learner can build the
book's convolution from them and watch each step, and so that the convolution's
gradient is itself differentiable (``create_graph=True`` rebuilds it from ``Im2Col``,
``Col2Im`` and ``Einsum``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._check import is_int
from .._tensor import Tensor
from ..autograd import Array, Gate, Grads, apply, apply1
from ..errors import DtypeError, ShapeError
from . import windows as wn
from ._registry import export
from ._util import as_tensor
from .contract import einsum
from .layout import pad
from .reduction import sum as _sum

Pads = tuple[int, int, int, int]


# ---------------------------------------------------------------------- arguments
def conv_pads(where: str, padding: Any, kernel: tuple[int, int],
              dilation: tuple[int, int], stride: tuple[int, int]) -> Pads:
    """PyTorch's ``padding``: an int, a pair, ``"valid"`` (none) or ``"same"`` (the
    output as large as the input; stride 1 only; an odd total puts the extra row and
    column at the bottom/right, as PyTorch does)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise ValueError(f"{where}: padding must be an int, a pair of ints, 'same' or "
                             f"'valid', got {padding!r}")
        if stride != (1, 1):
            raise ValueError(f"{where}: padding='same' is not supported for strided "
                             f"convolutions (stride {stride}); give the padding as numbers")
        pads: list[int] = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            pads += [total // 2, total - total // 2]
        return (pads[0], pads[1], pads[2], pads[3])
    ph, pw = wn.pair(where, "padding", padding, 0)
    return (ph, ph, pw, pw)


def _floating(where: str, *arrays: Any) -> np.dtype:
    for a in arrays:
        if a is not None and np.asarray(a).dtype.kind != "f":
            raise DtypeError(f"{where}: expected floating-point arrays, got "
                             f"{np.asarray(a).dtype}; convert first, e.g. "
                             f"x.astype(np.float32)")
    return np.result_type(*[a for a in arrays if a is not None])


def _check_input(where: str, x: Any) -> tuple[int, ...]:
    shape = np.shape(x)
    if len(shape) != 4:
        raise ShapeError(f"{where}: expected a batch of images (N, C, H, W), got shape "
                         f"{shape}; add a batch axis with x[None] for one image")
    return shape


# ---------------------------------------------------------------------- im2col / col2im
class Im2Col(Gate):
    """cols = im2col(x): every window of ``x`` ``(N, C, H, W)`` as
    ``(N, OH, OW, C, kh, kw)``.  Linear; backward: col2im (its adjoint) of the gradient."""

    linear = True
    symbol = "im2col"
    local_notation = ("col2im",)
    saves_inputs = False
    saves_output = False
    differentiable = ()

    def __init__(self, kernel: tuple[int, int], stride: tuple[int, int] = (1, 1),
                 pads: Pads = (0, 0, 0, 0), dilation: tuple[int, int] = (1, 1)) -> None:
        self.kernel, self.stride, self.pads, self.dilation = kernel, stride, pads, dilation

    def forward(self, x: Array) -> Array:
        n, c, h, w = _check_input("im2col", x)
        x = np.asarray(x)
        self.win = win = wn.window("im2col", (h, w), self.kernel, self.stride, self.pads,
                                   self.dilation)
        self.x_shape = (n, c, h, w)
        _, cols = wn.cols_buffer(n, c, win, x.dtype)
        wn.fill_cols(wn.padded(x, win), win, cols)
        return cols.transpose(0, 1, 2, 5, 3, 4)

    def backward(self, gcols: Array) -> Grads:
        return _col2im(gcols, self.x_shape[2:], self.kernel, self.stride, self.pads, self.dilation)


class Col2Im(Gate):
    """x = col2im(cols): each window's values ``(N, OH, OW, C, kh, kw)`` added back onto
    an ``(N, C, H, W)`` input (overlaps summed).  Linear; backward: im2col."""

    linear = True
    symbol = "col2im"
    local_notation = ("im2col",)
    saves_inputs = False
    saves_output = False
    differentiable = ()

    def __init__(self, size: tuple[int, int], kernel: tuple[int, int],
                 stride: tuple[int, int] = (1, 1), pads: Pads = (0, 0, 0, 0),
                 dilation: tuple[int, int] = (1, 1)) -> None:
        self.size, self.kernel, self.stride = size, kernel, stride
        self.pads, self.dilation = pads, dilation

    def forward(self, cols: Array) -> Array:
        cols = np.asarray(cols)
        win = wn.window("col2im", self.size, self.kernel, self.stride, self.pads,
                        self.dilation)
        want = (win.oh, win.ow, win.kh, win.kw)
        if cols.ndim != 6 or (cols.shape[1], cols.shape[2], *cols.shape[4:]) != want:
            raise ShapeError(f"col2im: expected columns of shape (N, {win.oh}, {win.ow}, C, "
                             f"{win.kh}, {win.kw}) for an output of size {self.size}, got "
                             f"{cols.shape}")
        n, c = cols.shape[0], cols.shape[3]
        xp = wn.add_taps(lambda p, i, j: cols[:, :, :, :, i, j], win, n, c, cols.dtype)
        return wn.crop(xp, win)

    def backward(self, gx: Array) -> Grads:
        return _im2col(gx, self.kernel, self.stride, self.pads, self.dilation)


def _im2col(x: Any, kernel: tuple[int, int], stride: tuple[int, int], pads: Pads,
            dilation: tuple[int, int]) -> Any:
    gate = Im2Col(kernel, stride, pads, dilation)
    return apply1(gate, x) if isinstance(x, Tensor) else gate._forward(x)


def _col2im(cols: Any, size: tuple[int, int], kernel: tuple[int, int],
            stride: tuple[int, int], pads: Pads, dilation: tuple[int, int]) -> Any:
    gate = Col2Im(size, kernel, stride, pads, dilation)
    return apply1(gate, cols) if isinstance(cols, Tensor) else gate._forward(cols)


@export
def im2col(input_data: Any, filter_h: int, filter_w: int, stride: int = 1,
           pad: int = 0) -> Tensor:
    """The book's ``im2col``: ``(N, C, H, W)`` -> ``(N*OH*OW, C*filter_h*filter_w)``.

    Row ``(n, oy, ox)`` holds the window whose top-left corner is at ``(oy*stride - pad,
    ox*stride - pad)``, its values ordered by channel, then filter row, then column
    (*Deep Learning from Scratch*, chapter 7), so ``im2col(x, ...) @ W.reshape(FN, -1).T``
    is the convolution. Differentiable; its backward is :func:`col2im`.
    """
    k = wn.pair("im2col", "filter size", (filter_h, filter_w), 1)
    s = wn.pair("im2col", "stride", stride, 1)
    p = wn.pair("im2col", "pad", pad, 0)
    cols = _im2col(as_tensor(input_data), k, s, (p[0], p[0], p[1], p[1]), (1, 1))
    n, oh, ow, c = cols.shape[:4]
    return cols.reshape(n * oh * ow, c * k[0] * k[1])


@export
def col2im(col: Any, input_shape: tuple[int, ...], filter_h: int, filter_w: int,
           stride: int = 1, pad: int = 0) -> Tensor:
    """The book's ``col2im``: rows of :func:`im2col`'s layout added back onto an input
    of shape ``input_shape`` ``(N, C, H, W)`` (overlapping windows sum). The adjoint of
    :func:`im2col`, not its inverse: ``col2im(im2col(x))`` counts each element once per
    window that covers it."""
    if len(tuple(input_shape)) != 4:
        raise ShapeError(f"col2im: input_shape must be (N, C, H, W), got {input_shape!r}")
    n, c, h, w = (int(v) for v in input_shape)
    k = wn.pair("col2im", "filter size", (filter_h, filter_w), 1)
    s = wn.pair("col2im", "stride", stride, 1)
    p = wn.pair("col2im", "pad", pad, 0)
    pads = (p[0], p[0], p[1], p[1])
    win = wn.window("col2im", (h, w), k, s, pads)
    col = as_tensor(col)
    if col.shape != (n * win.oh * win.ow, c * k[0] * k[1]):
        raise ShapeError(f"col2im: col of shape {col.shape} does not fit input_shape "
                         f"{tuple(input_shape)} with a {k} filter, stride {s}, pad {p}; "
                         f"expected ({n * win.oh * win.ow}, {c * k[0] * k[1]})")
    return _col2im(col.reshape(n, win.oh, win.ow, c, *k), (h, w), k, s, pads, (1, 1))


# ---------------------------------------------------------------------- conv2d
class Conv2d(Gate):
    """y = conv2d(x, W) + b: ``x`` ``(N, C, H, W)``, ``W`` ``(C_out, C/groups, kh, kw)``
    (PyTorch's layout), ``b`` ``(C_out,)`` or None; cross-correlation, as every library.

    Forward is im2col, one GEMM (the bias rides in it as a column of ones), per group.
    Local gradients (the Affine layer's, on the columns): ``dW = col^T . dY``,
    ``db = Σ dY`` (the ones column's row of that product), ``dx = col2im(dY . W^T)``,
    done as one small GEMM per kernel tap and ``kh*kw`` block adds.
    """

    symbol = "conv2d"
    local_notation = ("col2im(· Wᵀ)", "colᵀ ·", "Σ N,H,W")
    differentiable = ("x", "w")

    def __init__(self, stride: tuple[int, int] = (1, 1), pads: Pads = (0, 0, 0, 0),
                 dilation: tuple[int, int] = (1, 1), groups: int = 1) -> None:
        self.stride, self.pads, self.dilation, self.groups = stride, pads, dilation, groups

    def forward(self, x: Array, w: Array, b: Array | None = None) -> Array:
        where = "conv2d"
        n, c, h, wd = _check_input(where, x)
        g = self.groups
        if np.ndim(w) != 4 or np.shape(w)[0] % g or np.shape(w)[1] * g != c:
            raise ShapeError(f"{where}: weight of shape {np.shape(w)} does not fit input of "
                             f"shape {np.shape(x)} with groups={g}; expected (C_out, "
                             f"{c // g if c % g == 0 else 'C/groups'}, kh, kw) with C_out "
                             f"divisible by {g} (PyTorch's layout)")
        o, cg, kh, kw = np.shape(w)
        if b is not None and np.shape(b) != (o,):
            raise ShapeError(f"{where}: bias of shape {np.shape(b)} does not fit {o} output "
                             f"channels; expected ({o},)")
        dtype = _floating(where, x, w, b)
        x, w = np.asarray(x), np.asarray(w)
        self.x, self.w, self.has_bias = x, w, b is not None
        self.win = win = wn.window(where, (h, wd), (kh, kw), self.stride, self.pads,
                                   self.dilation)
        og = o // g
        self.bufs: list[np.ndarray] = []
        outs = []
        for k in range(g):
            xs = x if g == 1 else x[:, k * cg:(k + 1) * cg]
            buf, cols = wn.cols_buffer(n, cg, win, dtype, extra=int(b is not None))
            wn.fill_cols(wn.padded(xs, win), win, cols)
            wk = w[k * og:(k + 1) * og].transpose(2, 3, 1, 0).reshape(-1, og)
            if b is not None:
                buf[:, -1] = 1
                wk = np.concatenate([wk, np.asarray(b)[None, k * og:(k + 1) * og]])
            self.bufs.append(buf)
            outs.append(np.matmul(buf, wk.astype(dtype, copy=False)))
        y = outs[0] if g == 1 else np.concatenate(outs, axis=1)
        return wn.channels_first(y.reshape(n, win.oh, win.ow, o))

    def backward(self, gy: Array) -> Grads:
        if isinstance(gy, Tensor):
            return self._graph_backward(gy)
        x, w, win, g = self.x, self.w, self.win, self.groups
        need_x, need_w = self.needs[0], self.needs[1]
        need_b = self.has_bias and self.needs[2]
        n = x.shape[0]
        o, cg, kh, kw = w.shape
        og, kk = o // g, kh * kw
        g2 = wn.channels_last(gy).reshape(-1, o)
        gws, gbs, gxs = [], [], []
        for k in range(g):
            gk = g2 if g == 1 else g2[:, k * og:(k + 1) * og]
            if need_w or need_b:
                full = self.bufs[k].T @ gk
                if need_w:
                    gws.append(full[:kk * cg].reshape(kh, kw, cg, og).transpose(3, 2, 0, 1))
                if need_b:
                    gbs.append(full[-1])
            if need_x:
                wp = w[k * og:(k + 1) * og].transpose(2, 3, 0, 1).reshape(kk, og, cg)
                wp = wp.astype(gk.dtype, copy=False)
                # one small GEMM per tap into one reused (M, C/g) block, then its add
                part = np.empty((gk.shape[0], cg), dtype=gk.dtype)

                def tap(p: int, i: int, j: int, gk: np.ndarray = gk, wp: np.ndarray = wp,
                        part: np.ndarray = part) -> np.ndarray:
                    np.matmul(gk, wp[p], out=part)
                    return part.reshape(n, win.oh, win.ow, cg)

                xp = wn.add_taps(tap, win, n, cg, gk.dtype)
                gxs.append(wn.crop(xp, win))
        gx = (gxs[0] if g == 1 else np.concatenate(gxs, axis=1)) if need_x else None
        gw = np.ascontiguousarray(gws[0] if g == 1 else np.concatenate(gws)) if need_w else None
        gb = (gbs[0] if g == 1 else np.concatenate(gbs)) if need_b else None
        return (gx, gw, gb) if self.has_bias else (gx, gw)

    def jvp(self, tx: Array | None, tw: Array | None, tb: Array | None = None
            ) -> Array | None:
        """Forward mode: conv2d is bilinear in (x, W) plus the bias, so
        dY = conv2d(dX, W) + conv2d(X, dW) + dB, by two gates with these settings."""
        def conv(x: Any, w: Any, b: Any) -> Tensor:
            gate = Conv2d(self.stride, self.pads, self.dilation, self.groups)
            return apply(gate, x, w) if b is None else apply(gate, x, w, b)

        y = None if tx is None else conv(tx, self.w, tb)
        if tw is not None:
            d = conv(self.x, tw, tb if tx is None else None)
            y = d if y is None else y + d
        if y is None and tb is not None:
            y = np.reshape(tb, (-1, 1, 1))
        return y

    def _graph_backward(self, gy: Tensor) -> Grads:
        """The same gradients from Im2Col, Col2Im and Einsum gates, so that they are
        differentiable again (``create_graph=True``)."""
        x, w, win, g = self.x, self.w, self.win, self.groups
        n, c = np.shape(x)[:2]
        o, cg, kh, kw = np.shape(w)
        og = o // g
        kernel, dil = (kh, kw), (win.dh, win.dw)
        need_x, need_w = self.needs[0], self.needs[1]
        gy5 = gy.reshape(n, g, og, win.oh, win.ow)
        w5 = w.reshape(g, og, cg, kh, kw) if isinstance(w, Tensor) else \
            np.reshape(w, (g, og, cg, kh, kw))
        gx = gw = None
        if need_x:
            gcols = einsum("ngoyx,gocij->nyxgcij", gy5, w5, optimize=True)
            gx = _col2im(gcols.reshape(n, win.oh, win.ow, c, kh, kw), (win.h, win.w),
                         kernel, self.stride, self.pads, dil)
        if need_w:
            cols = _im2col(x if isinstance(x, Tensor) else np.asarray(x), kernel,
                           self.stride, self.pads, dil)
            cols7 = (cols if isinstance(cols, Tensor) else as_tensor(cols)).reshape(
                n, win.oh, win.ow, g, cg, kh, kw)
            gw = einsum("ngoyx,nyxgcij->gocij", gy5, cols7, optimize=True).reshape(
                o, cg, kh, kw)
        if not self.has_bias:
            return gx, gw
        gb = _sum(gy, axis=(0, 2, 3)) if self.needs[2] else None
        return gx, gw, gb


def _conv_args(where: str, w_shape: tuple[int, ...], stride: Any, padding: Any,
               dilation: Any, groups: Any) -> tuple[tuple[int, int], Pads, tuple[int, int], int]:
    s = wn.pair(where, "stride", stride, 1)
    d = wn.pair(where, "dilation", dilation, 1)
    if not is_int(groups) or groups < 1:
        raise ValueError(f"{where}: groups must be a positive integer, got {groups!r}")
    if len(w_shape) != 4:
        raise ShapeError(f"{where}: weight must be 4-D (C_out, C_in/groups, kh, kw), got "
                         f"shape {w_shape}")
    return s, conv_pads(where, padding, w_shape[2:], d, s), d, int(groups)


@export
def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation) of ``input`` ``(N, C, H, W)`` (or one image
    ``(C, H, W)``) with ``weight`` ``(C_out, C/groups, kh, kw)``, as
    ``torch.nn.functional.conv2d``: ``stride``, ``padding`` (int, pair, ``"same"``,
    ``"valid"``), ``dilation`` and ``groups``. Output ``(N, C_out, OH, OW)`` with
    ``OH = (H + 2*pad - dilation*(kh-1) - 1) // stride + 1``. One fused gate
    (:class:`Conv2d`)."""
    x, w = as_tensor(input), as_tensor(weight)
    s, pads, d, g = _conv_args("conv2d", w.shape, stride, padding, dilation, groups)
    single = x.ndim == 3
    if single:
        x = x.reshape(1, *x.shape)
    gate = Conv2d(s, pads, d, g)
    y = apply(gate, x, w) if bias is None else apply(gate, x, w, as_tensor(bias))
    return y.reshape(y.shape[1:]) if single else y


@export
def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D convolution of ``input`` ``(N, C, L)`` (or ``(C, L)``) with ``weight``
    ``(C_out, C/groups, k)``, as ``torch.nn.functional.conv1d``: a 2-D convolution of
    height 1 (the same gate)."""
    x, w = as_tensor(input), as_tensor(weight)
    if w.ndim != 3:
        raise ShapeError(f"conv1d: weight must be 3-D (C_out, C_in/groups, k), got shape "
                         f"{w.shape}")
    if x.ndim not in (2, 3):
        raise ShapeError(f"conv1d: expected input (N, C, L) or (C, L), got shape {x.shape}")
    pad = padding if isinstance(padding, str) else (0, *_single("conv1d", "padding", padding))
    y = conv2d(x.reshape(*x.shape[:-1], 1, x.shape[-1]), w.reshape(*w.shape[:2], 1, w.shape[2]),
               bias, (1, *_single("conv1d", "stride", stride)), pad,
               (1, *_single("conv1d", "dilation", dilation)), groups)
    return y.reshape(*y.shape[:-2], y.shape[-1])


def _single(where: str, name: str, v: Any) -> tuple[int]:
    if isinstance(v, (tuple, list)) and len(v) == 1:
        v = v[0]
    if not is_int(v):
        raise ValueError(f"{where}: {name} must be an int, got {v!r}")
    return (int(v),)


@export
def conv_transpose2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """Transposed convolution, as ``torch.nn.functional.conv_transpose2d``: the gradient
    of :func:`conv2d` with respect to its input, used as a layer that upsamples.
    ``weight`` is ``(C_in, C_out/groups, kh, kw)``; the output is ``(N, C_out, OH, OW)``
    with ``OH = (H - 1)*stride - 2*padding + dilation*(kh - 1) + output_padding + 1``.
    Built from an Einsum (each input pixel times the filters) and a Col2Im gate (the
    products added onto the output)."""
    where = "conv_transpose2d"
    x, w = as_tensor(input), as_tensor(weight)
    single = x.ndim == 3
    if single:
        x = x.reshape(1, *x.shape)
    _check_input(where, x)
    if w.ndim != 4:
        raise ShapeError(f"{where}: weight must be 4-D (C_in, C_out/groups, kh, kw), got "
                         f"shape {w.shape}")
    if isinstance(padding, str):
        raise ValueError(f"{where}: padding must be an int or a pair of ints, got "
                         f"{padding!r}")
    s, pads, d, g = _conv_args(where, w.shape, stride, padding, dilation, groups)
    op = wn.pair(where, "output_padding", output_padding, 0)
    if op[0] >= max(s[0], d[0]) or op[1] >= max(s[1], d[1]):
        raise ValueError(f"{where}: output_padding {op} must be smaller than the stride "
                         f"{s} or the dilation {d}")
    n, c, h, wd = x.shape
    ci, og, kh, kw = w.shape
    if ci != c or c % g:
        raise ShapeError(f"{where}: weight of shape {w.shape} does not fit input of shape "
                         f"{x.shape} with groups={g}; expected ({c}, C_out/groups, kh, kw)")
    _floating(where, x.data, w.data)
    size = tuple((i - 1) * st - 2 * p + dl * (k - 1) + e + 1 for i, st, p, dl, k, e in
                 zip((h, wd), s, pads[::2], d, (kh, kw), op))
    if min(size) < 1:
        raise ShapeError(f"{where}: the output size {size} would be empty; use less padding")
    cols = einsum("ngcyx,gcokl->nyxgokl", x.reshape(n, g, c // g, h, wd),
                  w.reshape(g, c // g, og, kh, kw), optimize=True)
    cols = cols.reshape(n, h, wd, g * og, kh, kw)
    # The taps cover L = (H-1)*stride + dilation*(k-1) + 1 rows; the output is rows
    # [pad, L - pad + output_padding) of them, zero beyond L (rows no input reaches).
    extra = (max(op[0] - pads[0], 0), max(op[1] - pads[2], 0))
    cut = (pads[0], max(pads[1] - op[0], 0), pads[2], max(pads[3] - op[1], 0))
    y = _col2im(cols, (size[0] - extra[0], size[1] - extra[1]), (kh, kw), s, cut, d)
    if extra != (0, 0):
        y = pad(y, ((0, 0), (0, 0), (0, extra[0]), (0, extra[1])))
    if bias is not None:
        y = y + as_tensor(bias).reshape(-1, 1, 1)
    return y.reshape(y.shape[1:]) if single else y
