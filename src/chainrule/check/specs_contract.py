"""Specs of the contraction gate (``einsum``) and the products written with it, and of
the linear-algebra gates (``inv``, ``det``, ``solve``) on well-conditioned matrices."""

from __future__ import annotations

import numpy as np

from .. import ops
from .spec import C, GateSpec, InputMaker, Variant, normal
from .spec import spec as _S
from .spec import variant as _V


def conditioned(n: int, *batch: int) -> InputMaker:
    """An ``(n, n)`` matrix (or a batch of them) near the identity: far from singular."""
    return lambda rng: np.eye(n) * 2.0 + 0.4 * rng.standard_normal((*batch, n, n))


def _es(expr: str):  # noqa: ANN202 - a spec's function
    return lambda *xs: ops.einsum(expr, *xs)


SPECS: list[GateSpec] = [
    _S(ops.Einsum, _es("ij,jk->ik"), lambda a, b: (ops.Einsum("ij,jk->ik"), (a, b)),
       [C("matmul (2,3),(3,4)", normal(2, 3), normal(3, 4)),
        C("matmul (1,3),(3,1)", normal(1, 3), normal(3, 1))]),
    _S(ops.Inv, ops.inv, lambda a: (ops.Inv(), (a,)),
       [C("(3,3)", conditioned(3)), C("batched (2,2,2)", conditioned(2, 2))]),
    _S(ops.Det, ops.det, lambda a: (ops.Det(), (a,)),
       [C("(3,3)", conditioned(3)), C("batched (2,2,2)", conditioned(2, 2)),
        C("(1,1)", conditioned(1))]),
    _S(ops.Solve, ops.solve, lambda a, b: (ops.Solve(), (a, b)),
       [C("A (3,3), B (3,2)", conditioned(3), normal(3, 2)),
        C("A (3,3), b (3,) a vector", conditioned(3), normal(3)),
        C("A (2,3,3), B (3,1) broadcast", conditioned(3, 2), normal(3, 1))]),
]

VARIANTS: tuple[Variant, ...] = (
    _V(ops.Einsum, "diagonal ii->i", _es("ii->i"), normal(3, 3)),
    _V(ops.Einsum, "trace ii", _es("ii"), normal(3, 3)),
    _V(ops.Einsum, "repeat and sum iij->ji", _es("iij->ji"), normal(3, 3, 2)),
    _V(ops.Einsum, "sum away ij->i", _es("ij->i"), normal(2, 3)),
    _V(ops.Einsum, "implicit output ba", _es("ba"), normal(2, 3)),
    _V(ops.Einsum, "batched ellipsis with broadcasting", _es("...ij,...jk->...ik"),
       normal(5, 2, 3), normal(3, 4)),
    _V(ops.Einsum, "length-1 axis broadcast i,i->i", _es("i,i->i"), normal(1), normal(3)),
    _V(ops.Einsum, "three operands", _es("ij,jk,kl->il"), normal(2, 3), normal(3, 4),
       normal(4, 2)),
    _V(ops.Einsum, "interleaved form", lambda a, b: ops.einsum(a, [0, 1], b, [1, 2], [0, 2]),
       normal(2, 3), normal(3, 2)),
    _V(ops.Einsum, "dot N-D (2,3) with (2,3,4)", ops.dot, normal(2, 3), normal(2, 3, 4)),
    _V(ops.Einsum, "dot N-D (2,2,3) with (2,3,4)", ops.dot, normal(2, 2, 3), normal(2, 3, 4)),
    _V(ops.Einsum, "tensordot axes=([1,0],[0,1])",
       lambda a, b: ops.tensordot(a, b, ([1, 0], [0, 1])), normal(3, 4, 2), normal(4, 3)),
    _V(ops.Einsum, "inner", ops.inner, normal(2, 3), normal(4, 3)),
    _V(ops.Einsum, "outer", ops.outer, normal(3), normal(2, 2)),
    _V(ops.Einsum, "kron", ops.kron, normal(2, 3), normal(2, 2)),
    _V(ops.Einsum, "vdot", ops.vdot, normal(2, 3), normal(6)),
    _V(ops.Det, "np.linalg.det on a tensor", lambda a: np.linalg.det(a), conditioned(2)),
)
