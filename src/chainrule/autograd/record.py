"""Recording: run a gate forward on arrays and link the result into the graph.

:func:`apply` is the one recorder; :func:`apply1` and :func:`apply2` are its fast paths
for one- and two-input gates (the unrolled argument handling is measured to be worth
8-15% per gate on long chains of small ops); all three end in the same tail,
:func:`_output`.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._check import complex_grad_error
from .._config import GradMode, clock
from .._graphgc import GraphGC
from .._tensor import Tensor, plain
from ..errors import ShapeError

__all__ = ["apply", "apply1", "apply2"]

_new = object.__new__
_TT, _TF, _FT = (True, True), (True, False), (False, True)
_ndarray = np.ndarray
_asarray = np.asarray


def _shape_error(gate: Any, args: Sequence[Any], err: Exception) -> ShapeError:
    shapes = ", ".join(str(np.shape(plain(a))) for a in args)
    return ShapeError(f"{type(gate).__name__}: inputs of shapes {shapes} do not fit together "
                      f"({err}); check the shapes, or reshape/transpose one input")


def _as_output_array(gate: Any, y: Any) -> np.ndarray:
    """Turn a NumPy scalar result (from 0-d inputs) into a 0-d array.

    The gate may have saved the scalar for backward; it is re-pointed at the array so
    that the saved value stays identical to the output tensor's data.
    """
    arr = _asarray(y)
    saved = getattr(gate, "__dict__", None)
    if saved:
        for k, v in saved.items():
            if v is y:
                saved[k] = arr
    return arr


def _output(gate: Any, y: Any, inputs: tuple, needs: tuple | None) -> Tensor:
    """The tail of every recorder: wrap ``y`` and, if ``needs``, link it to ``gate``."""
    if type(y) is not _ndarray:
        y = _as_output_array(gate, y)
    out = _new(Tensor)
    out.data = y
    out.grad = None
    out.name = None
    out._hooks = None
    if needs is not None and GradMode.enabled:
        if y.dtype.kind == "c":       # a complex constant, or astype(complex)
            raise complex_grad_error(f"{type(gate).__name__} of a tensor that requires "
                                     f"grad", y.dtype)
        gate.inputs = inputs
        gate.needs = needs
        gate.seq = next(clock)
        GraphGC.live += 1             # see _graphgc: full collections deferred if large
        if GraphGC.live > GraphGC.high:
            GraphGC.grown()
        if gate.saves_output:
            gate.out = weakref.ref(out)
        out.requires_grad = True
        out.creator = gate
    else:
        out.requires_grad = False
        out.creator = None
    return out


def apply(gate: Any, *args: Any) -> Tensor:
    """Run ``gate.forward`` on the arrays inside ``args`` and record it in the graph.

    Arguments that are not tensors (Python numbers, ndarrays) are constants: they reach
    ``forward`` as they are and get no gradient. The result is a new tensor; if any input
    requires grad (and grad mode is on), the gate is linked into the graph.
    """
    arrays = []
    req = False
    for a in args:
        if isinstance(a, Tensor):
            arrays.append(a.data)
            if a.requires_grad:
                req = True
        else:
            arrays.append(a)
    try:
        y = gate._forward(*arrays)
    except ShapeError:
        raise
    except ValueError as e:
        raise _shape_error(gate, args, e) from e
    needs = tuple([isinstance(a, Tensor) and a.requires_grad for a in args]) if req else None
    return _output(gate, y, args, needs)


def apply1(gate: Any, x: Tensor) -> Tensor:
    """:func:`apply` for a gate with one tensor input (the hot path of unary ops)."""
    try:
        y = gate._forward(x.data)
    except ShapeError:
        raise
    except ValueError as e:
        raise _shape_error(gate, (x,), e) from e
    return _output(gate, y, (x,), (True,) if x.requires_grad else None)


def apply2(gate: Any, a: Any, b: Any) -> Tensor:
    """:func:`apply` for a gate with two inputs (the hot path of arithmetic)."""
    if isinstance(a, Tensor):
        ad = a.data
        ra = a.requires_grad
    else:
        ad = a
        ra = False
    if isinstance(b, Tensor):
        bd = b.data
        rb = b.requires_grad
    else:
        bd = b
        rb = False
    try:
        y = gate._forward(ad, bd)
    except ShapeError:
        raise
    except ValueError as e:
        raise _shape_error(gate, (a, b), e) from e
    # Shared constant tuples: no allocation per gate (``needs`` holds plain bools).
    return _output(gate, y, (a, b), ((_TT if rb else _TF) if ra else (_FT if rb else None)))
