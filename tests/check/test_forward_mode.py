"""Forward mode for every gate: each entry of the gradient-check table, pushed forward.

For every case and variant of the table (``chainrule.check.gates``), in float64:

* the tangent ``J v`` that forward mode gives (the gate's ``jvp`` rule, its linearity,
  its diagonal Jacobian, or its backward, whichever applies) satisfies the transpose
  identity ``uᵀ (J v) = (uᵀ J) v`` with the gradient of reverse mode, to rounding;
* it matches a central directional difference (``cr.gradcheck(modes=("fwd",))``);
* for gates with second derivatives, ``cr.hvp`` (reverse over forward) equals the
  reverse-over-reverse product ``∇ₓ (∇ₓ s · v)`` of ``s = Σ w ⊙ f(x)``, to rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import chainrule as cr
from chainrule import func
from chainrule.check.gates import GATE_SPECS, GATE_VARIANTS, Case, case_seed

CASES: list[tuple[str, str, Callable, Case, dict, bool]] = []
for _name, _spec in GATE_SPECS.items():
    for _case in _spec.cases:
        CASES.append((_name, _case.label, _spec.fn, _case, dict(_spec.tol), _spec.second_order))
for _v in GATE_VARIANTS:
    _spec = GATE_SPECS[_v.gate_name]
    CASES.append((_v.gate_name, _v.label, _v.fn, Case(_v.label, _v.makers), {},
                  _spec.second_order))
IDS = [f"{n}-{label}" for n, label, *_ in CASES]


def _inputs(name: str, case: Case) -> list[np.ndarray]:
    return case.make(case_seed(name, case.label))


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    return float(np.max(np.abs(a - b), initial=0.0)) / max(scale, 1e-300)


@pytest.mark.parametrize(("name", "label", "fn", "case", "tol", "second"), CASES, ids=IDS)
def test_transpose_identity(name: str, label: str, fn: Callable, case: Case, tol: dict,
                            second: bool) -> None:
    arrays = _inputs(name, case)
    rng = np.random.default_rng(7)
    vs = [rng.standard_normal(a.shape) for a in arrays]
    out, jv = func.jvp(fn, tuple(arrays), tuple(vs))
    u = rng.standard_normal(out.shape)
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    gs = cr.grad(fn(*xs), xs, grad_outputs=u, allow_unused=True)
    lhs = float(np.sum(u * jv.data))
    rhs = sum(float(np.sum(g.data * v)) for g, v in zip(gs, vs) if g is not None)
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs), abs(rhs)), (lhs, rhs)


@pytest.mark.parametrize(("name", "label", "fn", "case", "tol", "second"), CASES, ids=IDS)
def test_against_directional_difference(name: str, label: str, fn: Callable, case: Case,
                                        tol: dict, second: bool) -> None:
    xs = [cr.tensor(a, requires_grad=True) for a in _inputs(name, case)]
    assert cr.gradcheck(fn, xs, modes=("fwd",), **tol)


@pytest.mark.parametrize(("name", "label", "fn", "case", "tol", "second"),
                         [c for c in CASES if c[5]], ids=[i for i, c in zip(IDS, CASES) if c[5]])
def test_hvp_equals_reverse_over_reverse(name: str, label: str, fn: Callable, case: Case,
                                         tol: dict, second: bool) -> None:
    arrays = _inputs(name, case)
    rng = np.random.default_rng(11)
    w = rng.standard_normal(fn(*[cr.tensor(a) for a in arrays]).shape)
    vs = [rng.standard_normal(a.shape) for a in arrays]

    def s(*ts: cr.Tensor) -> cr.Tensor:
        return cr.sum(fn(*ts) * w)

    _, hv = cr.hvp(s, tuple(arrays), tuple(vs))
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    gs = cr.grad(s(*xs), xs, create_graph=True, allow_unused=True)
    dot = sum(cr.sum(g * v) for g, v in zip(gs, vs) if g is not None and g.requires_grad)
    if isinstance(dot, int):             # s is linear: its Hessian is zero
        expected = [np.zeros_like(a) for a in arrays]
    else:
        rr = cr.grad(dot, xs, allow_unused=True)
        expected = [np.zeros_like(a) if r is None else r.data for r, a in zip(rr, arrays)]
    for h, e in zip(hv, expected):
        assert h.shape == e.shape
        assert _rel(h.data, e) <= 1e-9, (name, label)
