"""Matrix gates: matmul, the fused Affine layer, inv, det, solve; vector and matrix norms.

For ``Y = X . W`` the seed notes give ``dX = dY . W^T`` and ``dW = X^T . dY``: each
gradient has the shape of its variable, which is how you can check the formula. The
Affine gate ``Y = X . W + B`` adds ``dB = dY`` summed over the batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._tensor import Tensor
from ..autograd import Array, Gate, Grads, apply, apply1, apply2
from ..errors import ShapeError
from ._registry import export
from ._util import as_tensor


def _mT(a: Any) -> Any:
    return a.T if a.ndim == 2 else np.swapaxes(a, -1, -2)


def _mm(a: Any, b: Any) -> Any:
    """``a @ b`` (2-D or more); an outer product (contracted length 1, a batch of one
    sample's weight gradient) is a broadcast multiply: the same numbers, and several
    times faster than a GEMM with k = 1 (374 vs 59 us for 784x256 float32 here)."""
    return np.multiply(a, b) if a.shape[-1] == 1 else np.matmul(a, b)


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
            gy = _mm(np.expand_dims(x, -1), g) if need_y else None
        elif y.ndim == 1:                        # (..., n, k) @ (k,) -> (..., n)
            g = np.expand_dims(gz, -1)
            gx = _mm(g, np.expand_dims(y, -2)) if need_x else None
            gy = np.squeeze(np.matmul(_mT(x), g), -1) if need_y else None
        else:
            gx = _mm(gz, _mT(y)) if need_x else None
            gy = _mm(_mT(x), gz) if need_y else None
        return gx, gy

    def jvp(self, tx: Array | None, ty: Array | None) -> Array | None:
        """Forward mode: the product rule, dZ = dX @ Y + X @ dY (bilinear)."""
        a = None if tx is None else np.matmul(tx, self.y)
        b = None if ty is None else np.matmul(self.x, ty)
        return b if a is None else a if b is None else a + b


class Affine(Gate):
    """Y = X . W + B, fused (the seeds' Affine layer, for any batch size).

    ``X`` is ``(..., n_in)`` (a single sample ``(n_in,)`` or a batch ``(N, n_in)``),
    ``W`` is ``(n_in, n_out)``, ``B`` is ``(n_out,)`` or ``None``. Backward:
    ``dX = dY . W^T``, ``dW = X^T . dY``, ``dB = dY`` summed over the batch.
    """

    local_notation = ("· Wᵀ", "Xᵀ ·", "Σ batch")
    differentiable = ("x", "w")

    def forward(self, x: Array, w: Array, b: Array | None = None) -> Array:
        xs, ws = np.shape(x), np.shape(w)
        if len(ws) != 2 or xs[-1:] != ws[:1]:
            raise ShapeError(f"Affine: X of shape {xs} cannot be multiplied by W of "
                             f"shape {ws}; X's last axis must equal W's first")
        if b is not None and np.shape(b) not in ((ws[1],), ()):
            raise ShapeError(f"Affine: B of shape {np.shape(b)} does not match W of shape "
                             f"{ws}; B must have shape ({ws[1]},)")
        self.x = x
        self.w = w
        y = np.matmul(x, w)
        if b is not None:
            if isinstance(y, np.ndarray) and (getattr(b, "dtype", None) == y.dtype
                                              or y.dtype == np.result_type(y, b)):
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
                gw = _mm(x.reshape(-1, n_in).T, g2)
            if len(needs) > 2 and needs[2]:
                gb = np.sum(g2, axis=0)
        return gx, gw, gb

    def jvp(self, tx: Array | None, tw: Array | None, tb: Array | None = None
            ) -> Array | None:
        """Forward mode: dY = dX . W + X . dW + dB (one fused affine takes dB)."""
        if tx is not None:
            y = affine(tx, self.w, tb)
            return y if tw is None else y + np.matmul(self.x, tw)
        return tb if tw is None else affine(self.x, tw, tb)


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


# ---------------------------------------------------------------------- inverses
class Inv(Gate):
    """Y = X⁻¹ (batched over leading axes).  Backward: dX = −Yᵀ · dY · Yᵀ."""

    symbol = "inv"
    local_notation = ("−Yᵀ·g·Yᵀ",)
    saves_output = True
    saves_inputs = False
    differentiable = ("y",)

    def forward(self, x: Array) -> Array:
        self.y = np.linalg.inv(x)
        return self.y

    def backward(self, gy: Array) -> Grads:
        yt = np.swapaxes(self.y, -1, -2)
        return -np.matmul(np.matmul(yt, gy), yt)


def _cofactor(a: np.ndarray) -> np.ndarray:
    """det(A)·A⁻ᵀ, also for singular A (from the SVD: U · adj(S) · Vᵀ · det(U Vᵀ))."""
    u, s, vh = np.linalg.svd(a)
    n = s.shape[-1]
    others = np.stack([np.prod(np.delete(s, i, axis=-1), axis=-1) for i in range(n)], -1)
    sign = np.linalg.det(u) * np.linalg.det(vh)
    return sign[..., None, None] * np.matmul(u * others[..., None, :], vh)


class Det(Gate):
    """y = det(X).  Backward: dX = dy · det(X) · X⁻ᵀ (the cofactor matrix, which stays
    right for a singular X)."""

    symbol = "det"
    local_notation = ("det·X⁻ᵀ",)
    saves_output = True
    differentiable = ("x", "y")

    def forward(self, x: Array) -> Array:
        self.x = x
        self.y = np.linalg.det(x)
        return self.y

    def backward(self, gy: Array) -> Grads:
        x, y = self.x, self.y
        g = np.expand_dims(gy, (-2, -1))
        if isinstance(x, Tensor) or np.all(np.asarray(y) != 0):
            return g * np.expand_dims(y, (-2, -1)) * np.swapaxes(np.linalg.inv(x), -1, -2)
        return g * _cofactor(np.asarray(x))


class Solve(Gate):
    """X = A⁻¹ B (``np.linalg.solve``; B a vector when it is 1-D, as in NumPy 2).
    Backward: dB = A⁻ᵀ dX, dA = −dB · Xᵀ."""

    symbol = "solve"
    local_notation = ("−dB·Xᵀ", "A⁻ᵀ·")
    saves_output = True
    differentiable = ("a", "x")

    def forward(self, a: Array, b: Array) -> Array:
        self.a = a
        self.vec = np.ndim(b) == 1
        self.x = np.linalg.solve(a, b)
        return self.x

    def backward(self, gx: Array) -> Grads:
        x = self.x
        if self.vec:
            gx, x = np.expand_dims(gx, -1), np.expand_dims(x, -1)
        gb = np.linalg.solve(np.swapaxes(self.a, -1, -2), gx)
        ga = -np.matmul(gb, np.swapaxes(x, -1, -2)) if self.needs[0] else None
        if self.vec:
            gb = np.squeeze(gb, -1)
        return ga, (gb if self.needs[1] else None)


def _square(name: str, a: Tensor) -> None:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ShapeError(f"{name}: needs square matrices (..., M, M), got shape {a.shape}")


@export(numpy=(np.linalg.inv,))
def inv(a: Any) -> Tensor:
    """The matrix inverse, batched over leading axes, as ``np.linalg.inv``."""
    a = as_tensor(a)
    _square("inv", a)
    return apply1(Inv(), a)


@export(numpy=(np.linalg.det,))
def det(a: Any) -> Tensor:
    """The determinant, batched, as ``np.linalg.det``."""
    a = as_tensor(a)
    _square("det", a)
    return apply1(Det(), a)


@export(numpy=(np.linalg.solve,))
def solve(a: Any, b: Any) -> Tensor:
    """Solve ``a @ x = b`` for ``x``, as ``np.linalg.solve`` (NumPy 2: ``b`` is a vector
    only when it is 1-D)."""
    a = as_tensor(a)
    _square("solve", a)
    return apply2(Solve(), a, b)


# ---------------------------------------------------------------------- norms
def _safe_root(s: Tensor, p: float) -> Tensor:
    """``s ** (1/p)`` with a zero (not NaN) gradient where ``s == 0``."""
    pos = s.data > 0
    root = np.sqrt(np.where(pos, s, 1.0)) if p == 2 else np.where(pos, s, 1.0) ** (1.0 / p)
    return np.where(pos, root, 0.0)


@export
def vector_norm(x: Any, ord: Any = 2, axis: Any = None, keepdims: bool = False) -> Tensor:
    """The vector ``ord``-norm over ``axis`` (all elements by default): 2 (Euclidean),
    1, inf, -inf, 0 (count of non-zeros, no gradient) or any p > 0. The gradient at a
    zero vector is 0 (the subgradient PyTorch picks), never NaN."""
    x = as_tensor(x)
    ax = tuple(range(x.ndim)) if axis is None else axis
    if ord == 2 or ord is None:
        return _safe_root(np.sum(x * x, axis=ax, keepdims=keepdims), 2)
    a = np.abs(x)
    if ord == np.inf:
        return np.max(a, axis=ax, keepdims=keepdims)
    if ord == -np.inf:
        return np.min(a, axis=ax, keepdims=keepdims)
    if ord == 0:
        return Tensor(np.sum(x.data != 0, axis=ax, keepdims=keepdims).astype(x.dtype))
    if ord == 1:
        return np.sum(a, axis=ax, keepdims=keepdims)
    if not ord > 0:
        raise ValueError(f"vector_norm: ord must be > 0, inf, -inf or 0, got {ord!r}")
    return _safe_root(np.sum(a ** float(ord), axis=ax, keepdims=keepdims), float(ord))


@export(numpy=(np.linalg.norm,))
def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tensor:
    """``np.linalg.norm``: vector norms over one axis, matrix norms ('fro', 1, -1, inf,
    -inf) over two, the 2-norm of all elements by default. The spectral (2, -2) and
    nuclear norms need singular values and are refused with a clear error."""
    x = as_tensor(x)
    if axis is None:
        if ord is None:
            return vector_norm(x.reshape(-1), 2, 0, False).reshape(
                (1,) * x.ndim if keepdims else ())
        if x.ndim not in (1, 2):
            raise ValueError(f"norm: ord={ord!r} without axis needs a 1-D or 2-D input, got "
                             f"shape {x.shape}")
        axis = tuple(range(x.ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if len(axes) == 1:
        if isinstance(ord, str):
            raise ValueError(f"norm: ord={ord!r} is a matrix norm; give two axes")
        return vector_norm(x, 2 if ord is None else ord, axes[0], keepdims)
    if len(axes) != 2:
        raise ValueError(f"norm: axis must name one or two axes, got {axis!r}")
    r, c = (a % x.ndim for a in axes)
    if ord in (None, "fro"):
        return vector_norm(x, 2, (r, c), keepdims)
    if ord in (1, -1, np.inf, -np.inf):
        s_ax, m_ax = (r, c) if ord in (1, -1) else (c, r)
        sums = np.sum(np.abs(x), axis=s_ax, keepdims=True)
        pick = np.max if ord in (1, np.inf) else np.min
        out = pick(sums, axis=m_ax, keepdims=True)
        return out if keepdims else np.squeeze(out, axis=(r, c))
    raise ValueError(f"norm: matrix ord={ord!r} is not supported (2, -2 and 'nuc' need "
                     f"singular values); use 'fro', 1, -1, inf or -inf")
