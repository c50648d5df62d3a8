"""``LayerNorm`` and ``GroupNorm`` (and ``F.layer_norm``, ``F.group_norm``), as PyTorch's.

Both are compositions of gates (mean, subtract, square, mean, ``rsqrt``, multiply),
so their gradients, to any order, come from those gates; the variance is the biased
one (divided by the count), as PyTorch normalises.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import ops
from .._check import is_int
from .._tensor import Tensor, wrap
from ..errors import ShapeError
from ._arguments import _float_dtype
from .module import Module, Parameter

__all__ = ["GroupNorm", "LayerNorm", "group_norm", "layer_norm"]


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else wrap(np.asarray(x))


def _normalize(x: Tensor, axes: tuple[int, ...], eps: float) -> Tensor:
    mean = ops.mean(x, axis=axes, keepdims=True)
    xc = x - mean
    var = ops.mean(xc * xc, axis=axes, keepdims=True)
    return xc * ops.rsqrt(var + eps)


def _shape_tuple(where: str, normalized_shape: int | Sequence[int]) -> tuple[int, ...]:
    shape = (normalized_shape,) if is_int(normalized_shape) else tuple(normalized_shape)
    if not shape or not all(is_int(s) and s > 0 for s in shape):
        raise ValueError(f"{where}: normalized_shape must be a positive int or a tuple of "
                         f"them, got {normalized_shape!r}")
    return tuple(int(s) for s in shape)


def layer_norm(input: Any, normalized_shape: int | Sequence[int], weight: Any = None,
               bias: Any = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the last ``len(normalized_shape)`` axes, then ``* weight + bias``.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, with the (biased) mean and
    variance of each sample over those axes; ``weight``/``bias`` have shape
    ``normalized_shape`` (or are ``None``).
    """
    x = _tensor(input)
    shape = _shape_tuple("layer_norm", normalized_shape)
    k = len(shape)
    if x.shape[x.ndim - k:] != shape or x.ndim < k:
        raise ShapeError(f"layer_norm: normalized_shape {shape} must be the last axes of "
                         f"the input, whose shape is {x.shape}")
    y = _normalize(x, tuple(range(x.ndim - k, x.ndim)), float(eps))
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def group_norm(input: Any, num_groups: int, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:
    """Split the channels of ``(N, C, *)`` into ``num_groups`` groups and normalise each
    group of each sample (over its channels and positions); then ``* weight + bias``
    per channel (shape ``(C,)``)."""
    x = _tensor(input)
    if x.ndim < 2:
        raise ShapeError(f"group_norm: input must be (N, C, ...), got shape {x.shape}")
    n, c = x.shape[0], x.shape[1]
    if not is_int(num_groups) or num_groups <= 0 or c % num_groups:
        raise ValueError(f"group_norm: {c} channels cannot be split into num_groups="
                         f"{num_groups!r} equal groups")
    g = x.reshape((n, int(num_groups), -1))
    y = _normalize(g, (2,), float(eps)).reshape(x.shape)
    per_channel = (1, c) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * _tensor(weight).reshape(per_channel)
    if bias is not None:
        y = y + _tensor(bias).reshape(per_channel)
    return y


class LayerNorm(Module):
    """Layer normalisation (Ba et al.) over the last axes, as ``torch.nn.LayerNorm``.

    ``LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True)``;
    ``weight`` starts at ones and ``bias`` at zeros, both of shape ``normalized_shape``.
    The same in training and eval (no running statistics).
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        self.normalized_shape = _shape_tuple("LayerNorm", normalized_shape)
        if not eps > 0:
            raise ValueError(f"LayerNorm: eps must be positive, got {eps!r}")
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        dt = _float_dtype("LayerNorm", dtype)
        if self.elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dt))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Any) -> Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class GroupNorm(Module):
    """Group normalisation (Wu & He), as ``torch.nn.GroupNorm``.

    ``GroupNorm(num_groups, num_channels, eps=1e-5, affine=True)`` on ``(N, C, *)``
    inputs; ``weight`` (ones) and ``bias`` (zeros) are per channel.
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, dtype: Any = np.float32) -> None:
        super().__init__()
        if not (is_int(num_groups) and is_int(num_channels) and num_groups > 0
                and num_channels > 0 and num_channels % num_groups == 0):
            raise ValueError(f"GroupNorm: num_channels={num_channels!r} must be a positive "
                             f"multiple of num_groups={num_groups!r}")
        if not eps > 0:
            raise ValueError(f"GroupNorm: eps must be positive, got {eps!r}")
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        self.eps = float(eps)
        self.affine = bool(affine)
        dt = _float_dtype("GroupNorm", dtype)
        if self.affine:
            self.weight = Parameter(np.ones(self.num_channels, dt))
            self.bias = Parameter(np.zeros(self.num_channels, dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Any) -> Tensor:
        x = _tensor(x)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ShapeError(f"GroupNorm({self.num_groups}, {self.num_channels}): expected "
                             f"input (N, {self.num_channels}, ...), got {x.shape}")
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}")
