"""Activation functions with PyTorch's names and defaults, each a composition of gates.

Every function here is written with gates of :mod:`chainrule.ops` (``where``,
``expm1``, ``logaddexp``, ``erf``, ...), so its derivatives, to any order, come from
those gates. Two rules keep them exact and finite:

* kinks follow PyTorch: ``leaky_relu'(0)`` is the negative slope, ``elu'(0) = alpha``,
  ``hardtanh`` (and ``relu6``, ``hardsigmoid``) pass the gradient strictly inside
  their bounds;
* a branch that ``where`` does not choose is made harmless *before* its risky op
  (``expm1`` of the negative part only), so a large input never gives ``0 * inf``.

The modules (``nn.GELU()``, ``nn.LeakyReLU(0.2)``...) are in :mod:`chainrule.nn.layers`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops
from .._tensor import Tensor
from ..errors import ShapeError

__all__ = [
    "celu", "elu", "gelu", "hardsigmoid", "hardswish", "hardtanh", "leaky_relu", "logsigmoid",
    "mish", "normalize", "relu6", "selu", "silu", "softmin", "softplus", "softsign",
]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


def _negative_part(x: Tensor) -> Tensor:
    """min(x, 0) with gradient 1 wherever x <= 0 (so elu'(0) = alpha, as in PyTorch)."""
    return ops.where(x.data > 0, 0.0, x)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """``x`` where ``x > 0``, else ``negative_slope * x``."""
    x = _t(x)
    return ops.where(x.data > 0, x, x * negative_slope)


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``."""
    x = _t(x)
    return ops.where(x.data > 0, x, alpha * ops.expm1(_negative_part(x)))


def selu(x: Any) -> Tensor:
    """``scale * elu(x, alpha)`` with the self-normalising constants of Klambauer et al."""
    return _SELU_SCALE * elu(x, _SELU_ALPHA)


def celu(x: Any, alpha: float = 1.0) -> Tensor:
    """``x`` where ``x > 0``, else ``alpha * (exp(x / alpha) - 1)``."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")
    x = _t(x)
    return ops.where(x.data > 0, x, alpha * ops.expm1(_negative_part(x) / alpha))


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """``x * Φ(x)`` with Φ the standard normal CDF (``erf``); ``approximate="tanh"`` is
    the tanh formula of Hendrycks & Gimpel."""
    x = _t(x)
    if approximate == "none":
        return 0.5 * x * (1.0 + ops.erf(x * (1.0 / math.sqrt(2.0))))
    if approximate == "tanh":
        inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1.0 + ops.tanh(inner))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(x: Any) -> Tensor:
    """``x * sigmoid(x)`` (also called swish)."""
    x = _t(x)
    return x * ops.sigmoid(x)


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta x)) / beta``, computed without overflow; linear (``x``) where
    ``beta x > threshold``, as PyTorch."""
    x = _t(x)
    soft = ops.logaddexp(0.0, x * beta) / beta if beta != 1 else ops.logaddexp(0.0, x)
    return ops.where(x.data * beta > threshold, x, soft)


def mish(x: Any) -> Tensor:
    """``x * tanh(softplus(x))``."""
    x = _t(x)
    return x * ops.tanh(softplus(x))


def softsign(x: Any) -> Tensor:
    """``x / (1 + |x|)``."""
    x = _t(x)
    return x / (1.0 + ops.abs(x))


def hardtanh(x: Any, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """``x`` clipped to ``[min_val, max_val]``; the gradient passes strictly inside."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} is above max_val {max_val}")
    x = _t(x)
    inside = (x.data > min_val) & (x.data < max_val)
    return ops.where(inside, x, np.clip(x.data, min_val, max_val))


def relu6(x: Any) -> Tensor:
    """``min(max(x, 0), 6)``: ``hardtanh(x, 0, 6)``."""
    return hardtanh(x, 0.0, 6.0)


def hardsigmoid(x: Any) -> Tensor:
    """0 below -3, 1 above 3, ``x/6 + 1/2`` between."""
    return hardtanh(x, -3.0, 3.0) / 6.0 + 0.5


def hardswish(x: Any) -> Tensor:
    """``x * hardsigmoid(x)`` (MobileNetV3)."""
    x = _t(x)
    return x * hardsigmoid(x)


def logsigmoid(x: Any) -> Tensor:
    """``log(sigmoid(x)) = -softplus(-x)``, finite for any input."""
    return -ops.logaddexp(0.0, -_t(x))


def softmin(x: Any, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """``softmax(-x)`` along ``dim`` (the last by default)."""
    return ops.softmax(-_t(x), axis=axis, dim=dim)


def normalize(x: Any, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``x / max(‖x‖_p, eps)`` along ``dim``, as PyTorch's ``F.normalize``; a zero
    vector stays zero with a finite gradient."""
    x = _t(x)
    if x.ndim == 0:
        raise ShapeError("normalize: needs at least one axis")
    from ..ops.linalg import vector_norm
    n = vector_norm(x, ord=p, axis=dim, keepdims=True)
    return x / ops.clip(n, eps, None)
