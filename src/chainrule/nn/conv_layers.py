"""Layers of convolutional networks: convolutions, pooling, 2-D batch norm, channel
dropout and upsampling, with PyTorch's names, arguments, weight layouts and defaults.

Each layer keeps its parameters and calls a gate (``conv2d``, ``max_pool2d``...) or a
function of :mod:`chainrule.nn.functional`; the derivatives live in the gates.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops
from .._check import is_int
from .._tensor import Tensor
from ..errors import ShapeError
from . import functional as F
from . import init
from ._arguments import _float_dtype, _positive_int
from .functional import _check_p
from .layers import BatchNorm1d
from .module import Module, Parameter

__all__ = [
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AvgPool1d", "AvgPool2d", "BatchNorm2d",
    "Conv1d", "Conv2d", "ConvTranspose2d", "Dropout1d", "Dropout2d", "MaxPool1d", "MaxPool2d",
    "Unflatten", "Upsample",
]


def _tuple(where: str, name: str, v: Any, n: int, minimum: int) -> tuple[int, ...]:
    vals = (v,) * n if is_int(v) else tuple(v) if isinstance(v, (tuple, list)) else ()
    if len(vals) != n or not all(is_int(e) and e >= minimum for e in vals):
        raise ValueError(f"{where}: {name} must be an int or {n} ints, each at least "
                         f"{minimum}, got {v!r}")
    return tuple(int(e) for e in vals)


class _ConvNd(Module):
    """What every convolution layer shares: channels, geometry, parameters, init."""

    _dims = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any,
                 stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", dtype: Any = np.float32,
                 output_padding: Any = 0) -> None:
        super().__init__()
        where = type(self).__name__
        n = self._dims
        self.in_channels = _positive_int(where, "in_channels", in_channels)
        self.out_channels = _positive_int(where, "out_channels", out_channels)
        self.groups = _positive_int(where, "groups", groups)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"{where}: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must both be divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise ValueError(f"{where}: padding_mode {padding_mode!r} is not supported; "
                             f"chainrule pads with zeros (pad the input with cr.pad first "
                             f"for 'reflect', 'replicate' or 'circular')")
        self.kernel_size = _tuple(where, "kernel_size", kernel_size, n, 1)
        self.stride = _tuple(where, "stride", stride, n, 1)
        self.dilation = _tuple(where, "dilation", dilation, n, 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid") or self._transposed:
                allowed = "ints" if self._transposed else "ints, 'same' or 'valid'"
                raise ValueError(f"{where}: padding must be {allowed}, got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{where}: padding='same' is not supported for strided "
                                 f"convolutions (stride {self.stride})")
            self.padding: Any = padding
        else:
            self.padding = _tuple(where, "padding", padding, n, 0)
        self.output_padding = _tuple(where, "output_padding", output_padding, n, 0)
        dt = _float_dtype(where, dtype)
        if self._transposed:
            shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        else:
            shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self.weight = Parameter(np.zeros(shape, dtype=dt))
        if bias:
            self.bias = Parameter(np.zeros(self.out_channels, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: ``kaiming_uniform_(W, a=sqrt(5))``, i.e.
        ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, and the bias from the same interval
        (``fan_in`` = input channels per group times the kernel's area)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * int(np.prod(self.kernel_size))
            bound = 1.0 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def _check(self, x: Any) -> Any:
        shape = np.shape(x.data if isinstance(x, Tensor) else x)
        n = self._dims
        if len(shape) not in (n + 1, n + 2) or shape[-n - 1] != self.in_channels:
            axes = "L" if n == 1 else "H, W"
            raise ShapeError(f"{type(self).__name__}({self.in_channels}, {self.out_channels}): "
                             f"expected input (N, {self.in_channels}, {axes}) or "
                             f"({self.in_channels}, {axes}), got shape {shape}")
        return x

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding not in ((0,) * self._dims, "valid"):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._dims:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + ("" if self.bias is not None else ", bias=False")


class Conv2d(_ConvNd):
    """2-D convolution over ``(N, C_in, H, W)``, as ``torch.nn.Conv2d``: ``weight`` is
    ``(C_out, C_in/groups, kh, kw)``, ``bias`` ``(C_out,)``; one fused Conv2d gate
    (im2col, a GEMM; backward ``dW = col^T . dY``, ``dx = col2im(dY . W^T)``)."""

    def forward(self, x: Any) -> Tensor:
        return ops.conv2d(self._check(x), self.weight, self.bias, self.stride, self.padding,
                          self.dilation, self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over ``(N, C_in, L)``, as ``torch.nn.Conv1d`` (weight
    ``(C_out, C_in/groups, k)``)."""

    _dims = 1

    def forward(self, x: Any) -> Tensor:
        pad = self.padding if isinstance(self.padding, str) else self.padding[0]
        return ops.conv1d(self._check(x), self.weight, self.bias, self.stride[0], pad,
                          self.dilation[0], self.groups)


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution, as ``torch.nn.ConvTranspose2d``: ``weight`` is
    ``(C_in, C_out/groups, kh, kw)``; the output grows to
    ``(H - 1)*stride - 2*padding + dilation*(kh - 1) + output_padding + 1``."""

    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any,
                 stride: Any = 1, padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                 bias: bool = True, dilation: Any = 1, padding_mode: str = "zeros",
                 dtype: Any = np.float32) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, dtype, output_padding)

    def reset_parameters(self) -> None:
        """PyTorch's default (its fan-in is computed from ``weight.shape[1]``, i.e.
        ``C_out/groups`` times the kernel's area, for the transposed layout too)."""
        super().reset_parameters()

    def forward(self, x: Any) -> Tensor:
        return ops.conv_transpose2d(self._check(x), self.weight, self.bias, self.stride,
                                    self.padding, self.output_padding, self.groups,
                                    self.dilation)


class MaxPool2d(Module):
    """Max pooling, as ``torch.nn.MaxPool2d`` (``stride`` defaults to the kernel size;
    ties go to the first maximum of the window)."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 dilation: Any = 1, return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.return_indices, self.ceil_mode = dilation, return_indices, ceil_mode
        self._check_args()

    def _check_args(self) -> None:
        ops.pool.pool_args(type(self).__name__, self.kernel_size, self.stride, self.padding,
                           self.dilation, self.ceil_mode)

    def forward(self, x: Any) -> Any:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, "
                f"padding={self.padding}, dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(MaxPool2d):
    """Max pooling over ``(N, C, L)``, as ``torch.nn.MaxPool1d``."""

    def _check_args(self) -> None:
        k = self.kernel_size
        ops.pool.pool_args("MaxPool1d", (1, k), (1, k if self.stride is None else self.stride),
                           (0, self.padding), (1, self.dilation), self.ceil_mode)

    def forward(self, x: Any) -> Any:
        return F.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)


class AvgPool2d(Module):
    """Average pooling, as ``torch.nn.AvgPool2d`` (``count_include_pad``,
    ``divisor_override``)."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override
        ops.pool.pool_args("AvgPool2d", kernel_size, stride, padding, 1, ceil_mode)

    def forward(self, x: Any) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, "
                f"padding={self.padding}")


class AvgPool1d(Module):
    """Average pooling over ``(N, C, L)``, as ``torch.nn.AvgPool1d``."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        ops.pool.pool_args("AvgPool1d", (1, kernel_size), (1, kernel_size if stride is None
                                                            else stride), (0, padding), 1,
                           ceil_mode)

    def forward(self, x: Any) -> Tensor:
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size, as ``torch.nn.AdaptiveAvgPool2d``
    (``AdaptiveAvgPool2d(1)`` is global average pooling)."""

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Any) -> Tensor:
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    """Average pooling of ``(N, C, L)`` to a fixed length, as PyTorch."""

    def forward(self, x: Any) -> Tensor:
        return F.adaptive_avg_pool1d(x, self.output_size)


class BatchNorm2d(BatchNorm1d):
    """Batch normalisation of ``(N, C, H, W)`` per channel (statistics over N, H and W),
    as ``torch.nn.BatchNorm2d``; otherwise :class:`BatchNorm1d`."""

    _ranks = (4,)
    _layout = "(N, {c}, H, W)"


class Dropout2d(Module):
    """Zero whole channels of ``(N, C, H, W)`` with probability ``p`` in training, as
    ``torch.nn.Dropout2d`` (see ``F.dropout2d``)."""

    _fn = staticmethod(F.dropout2d)

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = _check_p(type(self).__name__, p)

    def forward(self, x: Any) -> Tensor:
        return type(self)._fn(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout1d(Dropout2d):
    """Zero whole channels of ``(N, C, L)``, as ``torch.nn.Dropout1d``."""

    _fn = staticmethod(F.dropout1d)


class Upsample(Module):
    """Nearest-neighbour upsampling, as ``torch.nn.Upsample`` (modes ``"nearest"`` and
    ``"nearest-exact"``; see ``F.interpolate``)."""

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        if mode not in ("nearest", "nearest-exact"):
            raise ValueError(f"Upsample: mode {mode!r} is not supported; chainrule has "
                             f"'nearest' and 'nearest-exact'")
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor")
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, x: Any) -> Tensor:
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                             self.recompute_scale_factor)

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else \
            f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"


class Unflatten(Module):
    """Split axis ``dim`` into ``unflattened_size``, as ``torch.nn.Unflatten``: e.g.
    ``Unflatten(1, (1, 28, 28))`` turns rows of 784 pixels into ``(N, 1, 28, 28)``
    images for a convolution."""

    def __init__(self, dim: int, unflattened_size: Any) -> None:
        super().__init__()
        self.dim = int(dim)
        self.unflattened_size = tuple(int(v) for v in unflattened_size)

    def forward(self, x: Any) -> Tensor:
        shape = np.shape(x.data if isinstance(x, Tensor) else x)
        d = self.dim % len(shape) if shape else 0
        want = int(np.prod(self.unflattened_size))
        if not shape or (shape[d] != want and -1 not in self.unflattened_size):
            raise ShapeError(f"Unflatten({self.dim}, {self.unflattened_size}): axis "
                             f"{self.dim} of an input of shape {shape} must have {want} "
                             f"elements")
        return ops.reshape(x, (*shape[:d], *self.unflattened_size, *shape[d + 1:]))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
