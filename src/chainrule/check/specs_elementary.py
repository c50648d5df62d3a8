"""Specs of the elementary functions (``ops/elementary.py``): each gate on inputs inside
its domain and away from its jumps, unary on 0-d, 1-D and 3-D inputs, binary with
broadcasting."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import ops
from .spec import C, GateSpec, InputMaker, Variant, binary_cases, normal, unary_cases
from .spec import spec as _S
from .spec import variant as _V


def uniform(lo: float, hi: float) -> Callable[..., InputMaker]:
    """Values drawn from [lo, hi)."""
    return lambda *shape: (lambda rng: rng.uniform(lo, hi, shape))


def off_grid(*shape: int) -> InputMaker:
    """Values 0.15 + 0.5 k away from integers and halves (no rounding jump in reach)."""
    return lambda rng: rng.integers(-6, 6, shape) * 0.5 + 0.15 + rng.uniform(0, 0.1, shape)


def signed(lo: float, hi: float) -> Callable[..., InputMaker]:
    """|v| in [lo, hi) with a random sign."""
    def make(*shape: int) -> InputMaker:
        return lambda rng: rng.choice([-1.0, 1.0], shape) * rng.uniform(lo, hi, shape)
    return make


_UNARY: list[tuple[str, Callable[..., InputMaker]]] = [
    ("Tan", uniform(-1.2, 1.2)), ("Arcsin", uniform(-0.9, 0.9)), ("Arccos", uniform(-0.9, 0.9)),
    ("Arctan", normal), ("Sinh", normal), ("Cosh", normal), ("Arcsinh", normal),
    ("Arccosh", uniform(1.2, 3.0)), ("Arctanh", uniform(-0.9, 0.9)),
    ("Log2", uniform(0.3, 3.0)), ("Log10", uniform(0.3, 3.0)), ("Log1p", uniform(-0.6, 3.0)),
    ("Exp2", normal), ("Expm1", normal), ("Erf", normal), ("Reciprocal", signed(0.3, 2.0)),
    ("Rsqrt", uniform(0.3, 3.0)), ("Cbrt", signed(0.3, 2.0)),
    ("Sign", signed(0.3, 2.0)), ("Floor", off_grid), ("Ceil", off_grid), ("Trunc", off_grid),
    ("Rint", off_grid),
]
_BINARY: list[tuple[str, Callable[..., InputMaker], Callable[..., InputMaker]]] = [
    ("Arctan2", signed(0.3, 2.0), signed(0.3, 2.0)), ("Hypot", normal, normal),
    ("LogAddExp", normal, normal), ("LogAddExp2", normal, normal),
    ("CopySign", signed(0.3, 2.0), signed(0.3, 2.0)),
    # a/b kept off the integers, where fmod/remainder jump.
    ("Fmod", uniform(2.1, 2.9), uniform(1.0, 1.05)),
    ("Remainder", signed(2.1, 2.9), uniform(1.0, 1.05)),
    ("FloorDivide", uniform(2.1, 2.9), uniform(1.0, 1.05)),
]


def _unary_spec(name: str, make: Callable[..., InputMaker]) -> GateSpec:
    gate = getattr(ops, name)
    fn = getattr(ops, gate.symbol)
    return _S(gate, fn, lambda x, g=gate: (g(), (x,)), unary_cases(make))


def _binary_spec(name: str, mx: Callable[..., InputMaker],
                 my: Callable[..., InputMaker]) -> GateSpec:
    gate = getattr(ops, name)
    fn = getattr(ops, gate.symbol)
    return _S(gate, fn, lambda x, y, g=gate: (g(), (x, y)), binary_cases(mx, my))


SPECS: list[GateSpec] = [
    *(_unary_spec(n, m) for n, m in _UNARY),
    _S(ops.Round, lambda x: ops.round(x, 1), lambda x: (ops.Round(1), (x,)),
       [C("(5,) off the tenths", lambda rng: np.array([-1.23, -0.42, 0.13, 0.61, 2.07]))]),
    *(_binary_spec(n, mx, my) for n, mx, my in _BINARY),
]

VARIANTS: tuple[Variant, ...] = (
    _V(ops.Remainder, "the % operator, number % tensor", lambda y: 7.0 % y,
       uniform(2.1, 2.2)(3)),
    _V(ops.FloorDivide, "the // operator", lambda x: x // 2.0, off_grid(4)),
    _V(ops.Round, "decimals=0 through np.round", lambda x: np.round(x), off_grid(2, 3)),
    _V(ops.LogAddExp, "large inputs stay finite",
       lambda x: ops.logaddexp(x, 0.0), lambda rng: np.array([-800.0, 0.3, 800.0])),
)
