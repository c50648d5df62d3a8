"""Each gate's local Jacobian, for ``cr.explain(y, jacobians=True)``.

Seed note 003's shape calculation, made concrete: a gate with an output of m elements
and an input of n elements has a local Jacobian of shape (m, n); backprop multiplies
the upstream gradient, a row (1, m), by it and sends the row (1, n) downstream. This
module computes that matrix for every gate of a graph (``cr.jacobian`` on a copy of the
gate, at the values the forward pass saw), names its structure and checks the product
against the downstream gradient backward actually sent.

Structures: ``diagonal`` (elementwise gates: output i depends on input i only),
``selection`` (each output copies one input element: reshape, transpose, indexing,
broadcasting), ``sum`` (every entry the same: a sum, a mean), ``row`` (a reduction to
one number), ``dense`` (matmul, softmax...). Jacobians with more than
:data:`MAX_ENTRIES` entries are described by their shape only.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np

from .._tensor import Tensor
from ..autograd import apply
from ..func import jacobian

__all__ = ["MAX_ENTRIES", "LocalJacobian", "jacobian_lines", "local_jacobians", "structure"]

#: Jacobians with at most this many entries are printed in the table.
SHOW_ENTRIES = 36

#: Largest Jacobian (output elements x input elements) that is computed.
MAX_ENTRIES = 40_000


@dataclasses.dataclass(frozen=True)
class LocalJacobian:
    """The local Jacobian of one input of one gate.

    ``shape`` is (output elements, input elements); ``matrix`` the matrix itself (None
    when it has more than :data:`MAX_ENTRIES` entries); ``structure`` one of the names in
    the module notes (``"not computed"`` for a too-large one).
    """

    shape: tuple[int, int]
    structure: str
    matrix: np.ndarray | None


def structure(j: np.ndarray) -> str:
    """Name the structure of a local Jacobian (see the module notes)."""
    m, n = j.shape
    nz = j != 0
    if m == n and m > 1 and not (nz & ~np.eye(m, dtype=bool)).any():
        return "diagonal"
    if m == 1:
        return "sum" if n > 1 and np.all(j == j.flat[0]) else "row"
    if np.isin(j, (0.0, 1.0)).all() and (nz.sum(axis=1) == 1).all():
        return "selection"
    if np.all(j == j.flat[0]):
        return "sum"
    return "dense"


def local_jacobians(gate: Any) -> tuple[LocalJacobian | None, ...]:
    """For each input of ``gate`` (a live gate with its inputs), its local Jacobian, or
    None for an input that needs no gradient."""
    ins = list(gate.inputs)
    needs = tuple(gate.needs) if gate.needs is not None else (False,) * len(ins)
    arrays = [t.data if isinstance(t, Tensor) else t for t in ins]
    out_size = _out_size(gate, arrays)
    result: list[LocalJacobian | None] = []
    for k, need in enumerate(needs):
        if not need:
            result.append(None)
            continue
        n = int(np.size(arrays[k]))
        if out_size * n > MAX_ENTRIES:
            result.append(LocalJacobian((out_size, n), "not computed", None))
            continue

        def f(x: Tensor, k: int = k) -> Tensor:
            args = list(arrays)
            args[k] = x
            return apply(copy.copy(gate), *args)

        j = jacobian(f, np.array(arrays[k]), mode="rev").detach().numpy().reshape(out_size, n)
        result.append(LocalJacobian((out_size, n), structure(j), j))
    return tuple(result)


def _out_size(gate: Any, arrays: list[Any]) -> int:
    out = gate.out() if callable(getattr(gate, "out", None)) else None
    if out is not None:
        return int(out.data.size)
    return int(np.size(copy.copy(gate)._forward(*arrays)))


def _shape(shape: tuple[int, int]) -> str:
    return f"({shape[0]}, {shape[1]})"


def _wrap(label: str) -> str:
    return f"({label})" if " " in label else label


def jacobian_lines(rows: Any, lang: str, full: bool = False) -> list[str]:
    """The table section of ``explain(..., jacobians=True)``: one line per gate input."""
    from . import i18n
    t = i18n.text
    out = [t("jac.title", lang)]
    for r in rows:
        for k, jac in enumerate(r.jacobians):
            if jac is None or r.downstream[k] is None:
                continue
            m, n = jac.shape
            check = ""
            if jac.matrix is not None:
                up = np.asarray(r.upstream, dtype=np.float64).reshape(1, m)
                down = np.asarray(r.downstream[k], dtype=np.float64).reshape(1, n)
                ok = np.allclose(up @ jac.matrix, down, rtol=1e-6, atol=1e-9)
                check = t("jac.agrees" if ok else "jac.differs", lang)
            out.append("  " + t("jac.line", lang, step=r.step, gate=r.gate,
                                out=_wrap(r.output), inp=_wrap(r.input_names[k]),
                                shape=_shape(jac.shape),
                                structure=t("jac." + jac.structure, lang),
                                up=_shape((1, m)), down=_shape((1, n)), check=check))
            if jac.matrix is not None and (full or jac.matrix.size <= SHOW_ENTRIES):
                text = np.array2string(jac.matrix + 0.0, precision=4, suppress_small=True,
                                       separator=", ", max_line_width=100,
                                       threshold=jac.matrix.size + 1)
                out.extend("      " + ln for ln in text.split("\n"))
    return out
