"""Specs of the scans (``ops/scan.py``): cumsum, cumprod (with and without zeros) and
logcumsumexp, along different axes; the reductions built on them as variants."""

from __future__ import annotations

import numpy as np

from .. import ops
from .spec import C, GateSpec, Variant, normal, spread
from .spec import spec as _S
from .spec import variant as _V


def _with_zeros(rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal((3, 4))
    x[1, 2] = x[2, 0] = x[2, 3] = 0.0
    return x


SPECS: list[GateSpec] = [
    _S(ops.Cumsum, lambda x: ops.cumsum(x, axis=1), lambda x: (ops.Cumsum(1), (x,)),
       [C("(2,3)", normal(2, 3)), C("(2,3,2)", normal(2, 3, 2))]),
    _S(ops.Cumprod, lambda x: ops.cumprod(x, axis=1), lambda x: (ops.Cumprod(1), (x,)),
       [C("(2,3)", normal(2, 3)), C("(3,4) with zeros", _with_zeros)]),
    _S(ops.LogCumSumExp, lambda x: ops.logcumsumexp(x, axis=0),
       lambda x: (ops.LogCumSumExp(0), (x,)),
       [C("(4,)", normal(4)), C("(3,2)", normal(3, 2)),
        C("(4,) spread wide", lambda rng: np.array([-30.0, 5.0, -2.0, 40.0]))]),
]

VARIANTS: tuple[Variant, ...] = (
    _V(ops.Cumsum, "axis=None flattens", lambda x: ops.cumsum(x), normal(2, 3)),
    _V(ops.Cumprod, "prod over an axis with a zero", lambda x: ops.prod(x, axis=1),
       _with_zeros),
    _V(ops.Cumprod, "prod over all, keepdims", lambda x: ops.prod(x, keepdims=True),
       normal(2, 3)),
    _V(ops.Cumprod, "prod over axes (0, 2)", lambda x: ops.prod(x, axis=(0, 2)),
       normal(2, 3, 2)),
    _V(ops.Cumsum, "cummax values", lambda x: ops.cumsum(ops.cummax(x, 1)[0], 1),
       spread(3, 4)),
)
