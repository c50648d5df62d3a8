"""Elementary functions: trigonometric, hyperbolic, logarithmic, erf, and their kin.

Each is a gate with one line of calculus: its NumPy function and its local derivative,
written with NumPy operations on the saved input ``x`` and output ``y``. Under
``create_graph`` those operations run on tensors (they are gates too), so second and
higher derivatives need nothing more. The table below *is* the calculus::

    tan      1 + y²              arcsin   1/√(1 − x²)        sinh    cosh x
    log1p    1/(1 + x)           expm1    y + 1              erf     2/√π · e^(−x²)

Piecewise-constant functions (``sign``, ``floor``, ``ceil``, ``round``, ``trunc``,
``rint``) are gates with a zero gradient, as NumPy users expect (and PyTorch gives),
rather than a constant that would stop ``backward``.

Binary functions (``arctan2``, ``hypot``, ``logaddexp``, ``logaddexp2``, ``copysign``,
``fmod``, ``remainder``/``%``) give each input its partial derivative, summed back over
broadcasting by the engine. ``floor_divide`` (``//``) is piecewise constant: a zero
gradient, where PyTorch refuses to differentiate it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .._tensor import Tensor, plain
from ..autograd import Array, Gate, Grads, apply1, apply2
from ._registry import export
from ._util import as_tensor
from .elementwise import where

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_ERF_SCALE = 2.0 / math.sqrt(math.pi)
_erf_scalar = np.frompyfunc(math.erf, 1, 1)


def _erf_array(x: Any) -> Any:
    """erf to full double precision (``math.erf`` per element: NumPy has no erf)."""
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.float64
    return np.asarray(_erf_scalar(x), dtype=dtype)


class _Unary(Gate):
    """y = fn(x); local gradient ``local(x, y)`` (set by :func:`_unary`)."""

    elementwise = True
    saves_output = True
    differentiable = ("x", "y")
    fn: Callable[[Any], Any]
    local: Callable[[Any, Any], Any]

    def forward(self, x: Array) -> Array:
        self.x = x
        self.y = type(self).fn(x)
        return self.y

    def backward(self, gy: Array) -> Grads:
        return gy * type(self).local(self.x, self.y)


class _Flat(Gate):
    """y = fn(x), piecewise constant: the gradient is zero (as NumPy users expect)."""

    elementwise = True
    saves_inputs = False
    differentiable = ()
    fn: Callable[[Any], Any]

    def forward(self, x: Array) -> Array:
        self.shape = np.shape(x)
        return type(self).fn(x)

    def backward(self, gy: Array) -> Grads:
        return np.zeros(self.shape, dtype=np.result_type(gy))


def _unary(name: str, fn: Callable, local: Callable | None, symbol: str,
           doc: str, ufunc: Any = None) -> type[Gate]:
    """Make the gate class ``name`` and export its function (``cr.<fn name>``)."""
    base = _Unary if local is not None else _Flat
    attrs: dict[str, Any] = {"__module__": __name__, "__doc__": doc, "symbol": symbol,
                             "fn": staticmethod(fn), "__qualname__": name}
    if local is not None:
        attrs["local"] = staticmethod(local)
    cls = type(name, (base,), attrs)
    fname = symbol

    def function(x: Any) -> Tensor:
        return apply1(cls(), as_tensor(x))
    function.__name__ = function.__qualname__ = fname
    function.__doc__ = f"Elementwise ``{fname}``: {doc}"
    export(function, method=True, numpy=(ufunc,) if ufunc is not None else ())
    return cls


Tan = _unary("Tan", np.tan, lambda x, y: 1 + y * y, "tan", "dy/dx = 1 + tan²x.", np.tan)
Arcsin = _unary("Arcsin", np.arcsin, lambda x, y: 1 / np.sqrt(1 - x * x), "arcsin",
                "dy/dx = 1/√(1 − x²).", np.arcsin)
Arccos = _unary("Arccos", np.arccos, lambda x, y: -1 / np.sqrt(1 - x * x), "arccos",
                "dy/dx = −1/√(1 − x²).", np.arccos)
Arctan = _unary("Arctan", np.arctan, lambda x, y: 1 / (1 + x * x), "arctan",
                "dy/dx = 1/(1 + x²).", np.arctan)
Sinh = _unary("Sinh", np.sinh, lambda x, y: np.cosh(x), "sinh", "dy/dx = cosh x.", np.sinh)
Cosh = _unary("Cosh", np.cosh, lambda x, y: np.sinh(x), "cosh", "dy/dx = sinh x.", np.cosh)
Arcsinh = _unary("Arcsinh", np.arcsinh, lambda x, y: 1 / np.sqrt(x * x + 1), "arcsinh",
                 "dy/dx = 1/√(x² + 1).", np.arcsinh)
Arccosh = _unary("Arccosh", np.arccosh, lambda x, y: 1 / np.sqrt(x * x - 1), "arccosh",
                 "dy/dx = 1/√(x² − 1) (x > 1).", np.arccosh)
Arctanh = _unary("Arctanh", np.arctanh, lambda x, y: 1 / (1 - x * x), "arctanh",
                 "dy/dx = 1/(1 − x²) (|x| < 1).", np.arctanh)
Log2 = _unary("Log2", np.log2, lambda x, y: 1 / (x * _LN2), "log2", "dy/dx = 1/(x ln 2).",
              np.log2)
Log10 = _unary("Log10", np.log10, lambda x, y: 1 / (x * _LN10), "log10",
               "dy/dx = 1/(x ln 10).", np.log10)
Log1p = _unary("Log1p", np.log1p, lambda x, y: 1 / (1 + x), "log1p",
               "log(1 + x), accurate for tiny x; dy/dx = 1/(1 + x).", np.log1p)
Exp2 = _unary("Exp2", np.exp2, lambda x, y: y * _LN2, "exp2", "2**x; dy/dx = 2**x ln 2.",
              np.exp2)
Expm1 = _unary("Expm1", np.expm1, lambda x, y: y + 1, "expm1",
               "e**x − 1, accurate for tiny x; dy/dx = e**x = y + 1.", np.expm1)
Erf = _unary("Erf", _erf_array, lambda x, y: _ERF_SCALE * np.exp(-(x * x)), "erf",
             "the error function; dy/dx = 2/√π · e^(−x²).")
Reciprocal = _unary("Reciprocal", np.reciprocal, lambda x, y: -(y * y), "reciprocal",
                    "1/x; dy/dx = −1/x².", np.reciprocal)
Rsqrt = _unary("Rsqrt", lambda x: 1 / np.sqrt(x), lambda x, y: -0.5 * y * y * y, "rsqrt",
               "1/√x; dy/dx = −½ x^(−3/2).")
Cbrt = _unary("Cbrt", np.cbrt, lambda x, y: 1 / (3 * y * y), "cbrt",
              "the real cube root; dy/dx = 1/(3 y²).", np.cbrt)
Sign = _unary("Sign", np.sign, None, "sign", "−1, 0 or 1; zero gradient.", np.sign)
Floor = _unary("Floor", np.floor, None, "floor", "zero gradient.", np.floor)
Ceil = _unary("Ceil", np.ceil, None, "ceil", "zero gradient.", np.ceil)
Trunc = _unary("Trunc", np.trunc, None, "trunc", "rounds toward 0; zero gradient.", np.trunc)
Rint = _unary("Rint", np.rint, None, "rint", "rounds half to even; zero gradient.", np.rint)


class Round(_Flat):
    """y = x rounded to ``decimals`` (half to even, as ``np.round``); zero gradient."""

    symbol = "round"

    def __init__(self, decimals: int = 0) -> None:
        self.decimals = int(decimals)

    def forward(self, x: Array) -> Array:
        self.shape = np.shape(x)
        return np.round(x, self.decimals)


@export(method=True, numpy=(np.round, np.around))
def round(a: Any, decimals: int = 0, out: Any = None) -> Tensor:
    """Round half to even to ``decimals`` places, as ``np.round``; zero gradient."""
    if out is not None:
        raise TypeError("round: out= is not supported; assign the result instead")
    return apply1(Round(decimals), as_tensor(a))


# ---------------------------------------------------------------------- binary
class _Binary(Gate):
    """z = fn(x, y); partial derivatives ``local(x, y, z)`` -> (dz/dx, dz/dy)."""

    elementwise = True
    saves_output = True
    differentiable = ("x", "y", "z")
    fn: Callable[[Any, Any], Any]
    local: Callable[[Any, Any, Any], tuple[Any, Any]]

    def forward(self, x: Array, y: Array) -> Array:
        self.x, self.y = x, y
        self.z = type(self).fn(x, y)
        return self.z

    def backward(self, gz: Array) -> Grads:
        dx, dy = type(self).local(self.x, self.y, self.z)
        nx, ny = self.needs
        return (gz * dx if nx else None), (gz * dy if ny else None)


def _binary(name: str, fn: Callable, local: Callable, fname: str, doc: str,
            ufunc: Any = None, operator: tuple[str, str] | None = None) -> type[Gate]:
    attrs = {"__module__": __name__, "__doc__": doc, "symbol": fname, "__qualname__": name,
             "fn": staticmethod(fn), "local": staticmethod(local)}
    cls = type(name, (_Binary,), attrs)

    def function(x: Any, y: Any) -> Tensor:
        return apply2(cls(), x, y)
    function.__name__ = function.__qualname__ = fname
    function.__doc__ = f"Elementwise ``{fname}`` (broadcasting): {doc}"
    export(function, method=True, numpy=(ufunc,) if ufunc is not None else (),
           operator=operator[0] if operator else (), reflected=operator[1] if operator else ())
    return cls


def _zero(v: Any) -> Any:
    return np.zeros(np.shape(v), dtype=np.result_type(v))


def _arctan2_local(y: Any, x: Any, z: Any) -> tuple[Any, Any]:
    r2 = x * x + y * y
    return x / r2, -y / r2


Arctan2 = _binary("Arctan2", np.arctan2, _arctan2_local, "arctan2",
                  "the angle of (x2, x1); d/dx1 = x2/r², d/dx2 = −x1/r².", np.arctan2)
Hypot = _binary("Hypot", np.hypot, lambda x, y, z: (x / z, y / z), "hypot",
                "√(x1² + x2²); d/dxi = xi/z.", np.hypot)
LogAddExp = _binary("LogAddExp", np.logaddexp,
                    lambda x, y, z: (np.exp(x - z), np.exp(y - z)), "logaddexp",
                    "log(eˣ¹ + eˣ²) without overflow; d/dxi = e^(xi − z).", np.logaddexp)
LogAddExp2 = _binary("LogAddExp2", np.logaddexp2,
                     lambda x, y, z: (np.exp2(x - z), np.exp2(y - z)), "logaddexp2",
                     "log2(2ˣ¹ + 2ˣ²) without overflow; d/dxi = 2^(xi − z).",
                     np.logaddexp2)
# The local derivatives below are piecewise constant (signs, truncated quotients): they
# are read from the plain arrays, constants of the derivative even under create_graph.
CopySign = _binary("CopySign", np.copysign,
                   lambda x, y, z: (np.sign(plain(x)) * np.sign(plain(z)),
                                    _zero(plain(y))), "copysign",
                   "|x1| with the sign of x2; d/dx1 = ±1 (0 at 0), d/dx2 = 0.", np.copysign)
Fmod = _binary("Fmod", np.fmod,
               lambda x, y, z: (np.ones(np.shape(x), dtype=np.result_type(plain(x))),
                                -np.trunc(plain(x) / plain(y))), "fmod",
               "x1 − x2·trunc(x1/x2) (C's remainder, sign of x1); d/dx1 = 1, "
               "d/dx2 = −trunc(x1/x2).", np.fmod)
Remainder = _binary("Remainder", np.remainder,
                    lambda x, y, z: (np.ones(np.shape(x), dtype=np.result_type(plain(x))),
                                     -np.floor(plain(x) / plain(y))), "remainder",
                    "x1 − x2·floor(x1/x2) (Python's %, sign of x2); d/dx1 = 1, "
                    "d/dx2 = −floor(x1/x2).", np.remainder, ("__mod__", "__rmod__"))
FloorDivide = _binary("FloorDivide", np.floor_divide,
                      lambda x, y, z: (_zero(plain(x)), _zero(plain(y))), "floor_divide",
                      "floor(x1/x2), piecewise constant: zero gradient.", np.floor_divide,
                      ("__floordiv__", "__rfloordiv__"))


@export(method=True)
def lerp(start: Any, end: Any, weight: Any) -> Tensor:
    """``start + weight * (end - start)`` (PyTorch's ``lerp``); all three differentiable."""
    start = as_tensor(start)
    return start + weight * (end - start)


@export(method=True, numpy=(np.nan_to_num,))
def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """Replace NaN and ±inf by numbers, as ``np.nan_to_num``; the replaced elements get
    a zero gradient (as in PyTorch), the others pass it unchanged."""
    t = as_tensor(x)
    fixed = np.nan_to_num(t.data, nan=nan, posinf=posinf, neginf=neginf)
    return where(np.isfinite(t.data), t, fixed)
