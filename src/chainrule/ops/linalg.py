"""Matrix gates: matmul and the fused Affine layer.

For ``Y = X . W`` the seed notes give ``dX = dY . W^T`` and ``dW = X^T . dY``: each
gradient has the shape of its variable, which is how you can check the formula. The
Affine gate ``Y = X . W + B`` adds ``dB = dY`` summed over the batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._tensor import Tensor
from ..autograd import Array, Gate, Grads, apply, apply2
from ..errors import ShapeError
from ._registry import export


def _mT(a: Any) -> Any:
    return a.T if a.ndim == 2 else np.swapaxes(a, -1, -2)


class MatMul(Gate):
    """Z = X @ Y (NumPy ``matmul`` rules, 1-D and batched included).

    Local gradients: dX = dZ @ Y^T, dY = X^T @ dZ (batch axes summed by the engine).
    """

    symbol = "@"
    infix = "@"
    local_notation = ("· Yᵀ", "Xᵀ ·")
    differentiable = ("x", "y")

    def forward(self, x: Array, y: Array) -> Array:
        self.x = x
        self.y = y
        return np.matmul(x, y)

    def backward(self, gz: Array) -> Grads:
        x, y = self.x, self.y
        need_x, need_y = self.needs
        gx = gy = None
        if x.ndim == 1 and y.ndim == 1:          # dot product -> scalar
            gx = gz * y if need_x else None
            gy = gz * x if need_y else None
        elif x.ndim == 1:                        # (k,) @ (..., k, m) -> (..., m)
            g = np.expand_dims(gz, -2)
            gx = np.matmul(g, _mT(y)) if need_x else None
            gy = np.matmul(np.expand_dims(x, -1), g) if need_y else None
        elif y.ndim == 1:                        # (..., n, k) @ (k,) -> (..., n)
            g = np.expand_dims(gz, -1)
            gx = np.matmul(g, np.expand_dims(y, -2)) if need_x else None
            gy = np.squeeze(np.matmul(_mT(x), g), -1) if need_y else None
        else:
            gx = np.matmul(gz, _mT(y)) if need_x else None
            gy = np.matmul(_mT(x), gz) if need_y else None
        return gx, gy


class Affine(Gate):
    """Y = X . W + B, fused (the seeds' Affine layer, for any batch size).

    ``X`` is ``(..., n_in)`` (a single sample ``(n_in,)`` or a batch ``(N, n_in)``),
    ``W`` is ``(n_in, n_out)``, ``B`` is ``(n_out,)`` or ``None``. Backward:
    ``dX = dY . W^T``, ``dW = X^T . dY``, ``dB = dY`` summed over the batch.
    """

    local_notation = ("· Wᵀ", "Xᵀ ·", "Σ batch")
    differentiable = ("x", "w")

    def forward(self, x: Array, w: Array, b: Array | None = None) -> Array:
        if np.ndim(w) != 2 or np.shape(x)[-1:] != np.shape(w)[:1]:
            raise ShapeError(f"Affine: X of shape {np.shape(x)} cannot be multiplied by W of "
                             f"shape {np.shape(w)}; X's last axis must equal W's first")
        if b is not None and np.shape(b) not in ((np.shape(w)[1],), ()):
            raise ShapeError(f"Affine: B of shape {np.shape(b)} does not match W of shape "
                             f"{np.shape(w)}; B must have shape ({np.shape(w)[1]},)")
        self.x = x
        self.w = w
        y = np.matmul(x, w)
        if b is not None:
            if isinstance(y, np.ndarray) and y.dtype == np.result_type(y, b):
                y += b      # y is fresh from matmul: add the bias in place
            else:
                y = y + b
        return y

    def backward(self, gy: Array) -> Grads:
        x, w = self.x, self.w
        needs = self.needs
        gx = np.matmul(gy, w.T) if needs[0] else None
        gw = gb = None
        n_in, n_out = w.shape
        if x.ndim == 1:
            if needs[1]:
                gw = np.expand_dims(x, -1) * np.expand_dims(gy, 0)
            gb = gy if len(needs) > 2 and needs[2] else None
        else:
            g2 = gy.reshape(-1, n_out)
            if needs[1]:
                gw = np.matmul(x.reshape(-1, n_in).T, g2)
            if len(needs) > 2 and needs[2]:
                gb = np.sum(g2, axis=0)
        return gx, gw, gb


@export(method="matmul", operator="__matmul__", reflected="__rmatmul__",
        numpy=(np.matmul,))
def matmul(x: Any, y: Any) -> Tensor:
    """Matrix product with NumPy's ``matmul`` rules (the ``@`` operator)."""
    return apply2(MatMul(), x, y)


@export
def affine(x: Any, w: Any, b: Any = None) -> Tensor:
    """``x @ w + b`` as one fused gate (what ``nn.Linear`` uses)."""
    if b is None:
        return apply2(Affine(), x, w)
    return apply(Affine(), x, w, b)
