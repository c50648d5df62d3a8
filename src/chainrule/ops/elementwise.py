"""Elementwise gates: exp, log, sqrt, abs, sin, cos, tanh, sigmoid, ReLU, max/min, where.

Each output element depends only on the element at the same place in the input, so
the local gradient is a plain elementwise product ("no need to think about vectors or
matrices", as the seed notes put it).

Conventions, documented because a learner will meet them:

* ``relu'(0) = 0``: the gradient passes only where ``x > 0``.
* ``abs'(0) = 0`` (``sign(0)``).
* ``maximum(x, y)`` / ``minimum``: where ``x == y`` each input gets half the gradient.
* ``clip(x, a_min, a_max)``: the gradient passes where ``a_min <= x <= a_max`` (bounds
  included, as in PyTorch's ``clamp``).
* ``sigmoid`` never overflows: it evaluates ``exp(-|x|)`` only.
* ``where(c, a, b)``: the unused branch receives a zero gradient, but zero times an
  infinite (or NaN) local gradient is NaN. The risky op is evaluated and
  differentiated on the unused side too, so ``where(x > 0, log(x), 0)`` gives a NaN
  gradient at ``x == 0`` (0 * 1/0), and ``where(x > 0, sqrt(x), 0)`` at every
  ``x <= 0``. The safe pattern is to make the unused branch harmless *before* the
  risky op: ``safe = where(x > 0, x, 1); where(x > 0, log(safe), 0)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._tensor import Tensor, plain
from ..autograd import Array, Gate, Grads, apply, apply1, apply2
from ._registry import export
from ._util import as_tensor, no_out


class Exp(Gate):
    """y = exp(x).  Local gradient: exp(x) = y."""

    elementwise = True
    symbol = "exp"
    saves_output = True
    saves_inputs = False
    differentiable = ("y",)

    def forward(self, x: Array) -> Array:
        self.y = np.exp(x)
        return self.y

    def backward(self, gy: Array) -> Grads:
        return gy * self.y


class Log(Gate):
    """y = log(x).  Local gradient: 1/x."""

    elementwise = True
    symbol = "log"
    differentiable = ("x",)

    def forward(self, x: Array) -> Array:
        self.x = x
        return np.log(x)

    def backward(self, gy: Array) -> Grads:
        return gy / self.x


class Sqrt(Gate):
    """y = sqrt(x).  Local gradient: 1 / (2 sqrt(x)) = 1 / (2y)."""

    elementwise = True
    symbol = "√"
    saves_output = True
    saves_inputs = False
    differentiable = ("y",)

    def forward(self, x: Array) -> Array:
        self.y = np.sqrt(x)
        return self.y

    def backward(self, gy: Array) -> Grads:
        return gy / (2 * self.y)


class Abs(Gate):
    """y = |x|.  Local gradient: sign(x) (0 at 0)."""

    elementwise = True
    symbol = "|x|"
    differentiable = ()

    def forward(self, x: Array) -> Array:
        self.x = x
        return np.abs(x)

    def backward(self, gy: Array) -> Grads:
        return gy * np.sign(self.x)


class Sin(Gate):
    """y = sin(x).  Local gradient: cos(x)."""

    elementwise = True
    symbol = "sin"
    differentiable = ("x",)

    def forward(self, x: Array) -> Array:
        self.x = x
        return np.sin(x)

    def backward(self, gy: Array) -> Grads:
        return gy * np.cos(self.x)


class Cos(Gate):
    """y = cos(x).  Local gradient: -sin(x)."""

    elementwise = True
    symbol = "cos"
    differentiable = ("x",)

    def forward(self, x: Array) -> Array:
        self.x = x
        return np.cos(x)

    def backward(self, gy: Array) -> Grads:
        return -(gy * np.sin(self.x))


class Tanh(Gate):
    """y = tanh(x).  Local gradient: 1 - y**2."""

    elementwise = True
    symbol = "tanh"
    saves_output = True
    saves_inputs = False
    differentiable = ("y",)

    def forward(self, x: Array) -> Array:
        self.y = np.tanh(x)
        return self.y

    def backward(self, gy: Array) -> Grads:
        y = self.y
        return gy * (1 - y * y)


def _sigmoid_array(x: Any) -> Any:
    # exp of a non-positive number only: no overflow for any finite input.
    e = np.exp(-np.abs(x))
    return np.where(np.asarray(x) >= 0, 1 / (1 + e), e / (1 + e))


class Sigmoid(Gate):
    """y = 1 / (1 + exp(-x)).  Local gradient: y (1 - y), as the seed notes derive."""

    elementwise = True
    symbol = "σ"
    saves_output = True
    saves_inputs = False
    differentiable = ("y",)

    def forward(self, x: Array) -> Array:
        self.y = _sigmoid_array(x)
        return self.y

    def backward(self, gy: Array) -> Grads:
        y = self.y
        return gy * y * (1 - y)


_ZEROS: dict[tuple, np.ndarray] = {}


def _zeros(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """Read-only zeros of that shape and dtype, shared (a handful of shapes kept)."""
    key = (shape, dtype)
    z = _ZEROS.get(key)
    if z is None:
        if len(_ZEROS) >= 8:
            _ZEROS.clear()
        z = np.zeros(shape, dtype)
        z.flags.writeable = False
        _ZEROS[key] = z
    return z


class ReLU(Gate):
    """y = max(x, 0).  Local gradient: 1 where x > 0, else 0 (so relu'(0) = 0)."""

    elementwise = True
    saves_inputs = False
    differentiable = ()

    def forward(self, x: Array) -> Array:
        self.mask = x > 0
        # maximum against a zero *array* takes NumPy's fast contiguous loop (a Python 0
        # takes a loop ~3x slower), and unlike x * mask it maps -inf to 0, not NaN. The
        # zeros are shared and read-only (one memset fewer per call).
        if type(x) is np.ndarray and x.dtype.kind == "f":
            return np.maximum(x, _zeros(x.shape, x.dtype), out=np.empty_like(x))
        zeros = np.zeros_like(x)
        return np.maximum(x, zeros, out=zeros)

    def backward(self, gy: Array) -> Grads:
        # dtype= picks the float loop directly instead of casting the bool mask first.
        return np.multiply(gy, self.mask, dtype=gy.dtype)


class Maximum(Gate):
    """z = max(x, y) elementwise.  The gradient goes to the larger input; ties share it."""

    elementwise = True
    symbol = "max"
    differentiable = ()

    def forward(self, x: Array, y: Array) -> Array:
        self.x = x
        self.y = y
        return np.maximum(x, y)

    def backward(self, gz: Array) -> Grads:
        x, y = np.asarray(self.x), np.asarray(self.y)
        wx = (x > y) + 0.5 * (x == y)
        return gz * wx.astype(gz.dtype), gz * (1 - wx).astype(gz.dtype)


class Minimum(Gate):
    """z = min(x, y) elementwise.  The gradient goes to the smaller input; ties share it."""

    elementwise = True
    symbol = "min"
    differentiable = ()

    def forward(self, x: Array, y: Array) -> Array:
        self.x = x
        self.y = y
        return np.minimum(x, y)

    def backward(self, gz: Array) -> Grads:
        x, y = np.asarray(self.x), np.asarray(self.y)
        wx = (x < y) + 0.5 * (x == y)
        return gz * wx.astype(gz.dtype), gz * (1 - wx).astype(gz.dtype)


class Where(Gate):
    """z = a where cond else b.  The gradient is routed to the branch that was chosen."""

    elementwise = True
    differentiable = ()

    def forward(self, cond: Array, a: Array, b: Array) -> Array:
        self.cond = np.asarray(cond, dtype=bool)
        return np.where(self.cond, a, b)

    def backward(self, gz: Array) -> Grads:
        c = self.cond
        needs = self.needs
        ga = np.where(c, gz, 0) if needs[1] else None
        gb = np.where(c, 0, gz) if needs[2] else None
        return None, ga, gb


class Clip(Gate):
    """y = x limited to [lo, hi].  The gradient passes where lo <= x <= hi."""

    elementwise = True
    differentiable = ()

    def __init__(self, lo: Any = None, hi: Any = None) -> None:
        if lo is None and hi is None:
            raise ValueError("clip: give at least one of lo and hi")
        self.lo = lo
        self.hi = hi

    def forward(self, x: Array) -> Array:
        self.x = x
        return np.clip(x, self.lo, self.hi)

    def backward(self, gy: Array) -> Grads:
        x = np.asarray(self.x)
        keep = np.ones(x.shape, dtype=bool)
        if self.lo is not None:
            keep &= x >= self.lo
        if self.hi is not None:
            keep &= x <= self.hi
        return gy * keep


class Cast(Gate):
    """y = x converted to another dtype.  The gradient is converted back."""

    elementwise = True
    function_name = "astype"
    saves_inputs = False
    differentiable = ()

    def __init__(self, dtype: Any) -> None:
        self.dtype = np.dtype(dtype)

    def forward(self, x: Array) -> Array:
        self.src = np.asarray(x).dtype
        return np.asarray(x).astype(self.dtype)

    def backward(self, gy: Array) -> Grads:
        return gy.astype(self.src)


# ------------------------------------------------------------------ functions
@export(method=True, numpy=(np.exp,), expr=1)
def exp(x: Any) -> Tensor:
    """Elementwise e**x."""
    return apply1(Exp(), as_tensor(x))


@export(method=True, numpy=(np.log,), expr=1)
def log(x: Any) -> Tensor:
    """Elementwise natural logarithm."""
    return apply1(Log(), as_tensor(x))


@export(method=True, numpy=(np.sqrt,), expr=1)
def sqrt(x: Any) -> Tensor:
    """Elementwise square root."""
    return apply1(Sqrt(), as_tensor(x))


@export(method=True, numpy=(np.sin,), expr=1)
def sin(x: Any) -> Tensor:
    """Elementwise sine."""
    return apply1(Sin(), as_tensor(x))


@export(method=True, numpy=(np.cos,), expr=1)
def cos(x: Any) -> Tensor:
    """Elementwise cosine."""
    return apply1(Cos(), as_tensor(x))


@export(method=True, numpy=(np.tanh,), expr=1)
def tanh(x: Any) -> Tensor:
    """Elementwise hyperbolic tangent."""
    return apply1(Tanh(), as_tensor(x))


@export(method=True, expr=1)
def sigmoid(x: Any) -> Tensor:
    """Elementwise logistic function 1/(1+e**-x), computed without overflow."""
    return apply1(Sigmoid(), as_tensor(x))


@export(method=True, expr=1)
def relu(x: Any) -> Tensor:
    """Elementwise max(x, 0); the gradient at exactly 0 is 0."""
    return apply1(ReLU(), as_tensor(x))


@export(method=True, operator="__abs__", numpy=(np.absolute,), expr=1)
def abs(x: Any) -> Tensor:
    """Elementwise absolute value (gradient 0 at 0)."""
    return apply1(Abs(), as_tensor(x))


@export(method=True, numpy=(np.maximum,), expr=2)
def maximum(x: Any, y: Any) -> Tensor:
    """Elementwise larger of ``x`` and ``y`` (ties share the gradient equally)."""
    return apply2(Maximum(), x, y)


@export(method=True, numpy=(np.minimum,), expr=2)
def minimum(x: Any, y: Any) -> Tensor:
    """Elementwise smaller of ``x`` and ``y`` (ties share the gradient equally)."""
    return apply2(Minimum(), x, y)


@export(numpy=(np.where,))
def where(cond: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``cond`` is true, else ``b`` (broadcast together).

    See the module notes for why ``where`` cannot hide an infinite gradient in the
    branch it does not choose, and the safe pattern.
    """
    if isinstance(cond, Tensor):
        cond = cond.data
    return apply(Where(), cond, a, b)


@export(method=("clip", "clamp"), numpy=(np.clip,))
def clip(x: Any, a_min: Any = None, a_max: Any = None, out: Any = None, *,
         min: Any = None, max: Any = None) -> Tensor:
    """Limit values to ``[a_min, a_max]`` (either may be None), as ``np.clip``.

    NumPy 2's ``min=``/``max=`` (and the method ``t.clip(min, max)``, PyTorch's
    ``clamp``) name the same bounds. The gradient passes where the input lies within
    the bounds, the bounds included; a bound that is a tensor requiring grad gets the
    gradient where it was chosen (PyTorch's ``clamp`` convention).
    """
    no_out("clip", out)
    lo = _one_of("clip", "a_min", a_min, "min", min)
    hi = _one_of("clip", "a_max", a_max, "max", max)
    if lo is None and hi is None:
        raise ValueError("clip: give at least one bound (a_min/min or a_max/max)")
    x = as_tensor(x)
    if any(isinstance(b, Tensor) and b.requires_grad for b in (lo, hi)):
        y = x
        if lo is not None:
            y = where(plain(x) < plain(lo), lo, y)
        if hi is not None:
            y = where(plain(x) > plain(hi), hi, y)
        return y
    return apply1(Clip(plain(lo), plain(hi)), x)


def _one_of(name: str, a: str, va: Any, b: str, vb: Any) -> Any:
    if va is not None and vb is not None:
        raise TypeError(f"{name}: {a}= and {b}= name the same bound; give one of them")
    return vb if va is None else va


@export(method=True)
def astype(x: Any, dtype: Any) -> Tensor:
    """Convert to ``dtype``; the gradient flows back converted to the original dtype."""
    x = as_tensor(x)
    dtype = np.dtype(dtype)
    if dtype == x.dtype:
        return x
    if dtype.kind not in "fc":
        # Integer and boolean results carry no gradient.
        return Tensor(x.data.astype(dtype))
    return apply1(Cast(dtype), x)
