"""How to gradient-check every gate of :mod:`chainrule.ops`: one spec per gate class.

Each :class:`GateSpec` says

* which gate class it covers (``gate``; its ``name`` is the class name),
* how to build that gate with its public function (``fn``, called with Tensors),
* how to drive it by hand the way the seed notes do (``hand``: returns the gate object
  and the arguments of ``gate.forward``),
* a few input cases (:class:`Case`: a label and one input generator per argument),
  broadcasting ones included wherever the gate broadcasts,
* tolerance overrides for ``gradcheck`` (``tol``) and whether second derivatives
  (``gradgradcheck``) apply (``second_order``).

:data:`GATE_VARIANTS` adds engine-level cases for gates with options or other kinds of
input (``axis=None``, keepdims, constant exponents, advanced indexing...).

The specs live in one module per kind of gate (``specs_basic.py``, ...; listed in
:data:`SPEC_MODULES`), written with the vocabulary of ``spec.py``. Inputs are chosen in
each gate's smooth region, so that a finite-difference step never crosses a kink.

The same table drives ``tests/check/test_gate_table.py`` and ``chainrule gradcheck``;
:func:`check_gate` runs one spec's checks and reports the errors it measured::

    from chainrule.check.gates import GATE_SPECS, check_gate
    for result in check_gate(GATE_SPECS["Mul"]):
        print(result.label, result.max_abs_error, result.ok)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from .._tensor import Tensor, tensor
from ..autograd import Gate, registered_gates
from ..autograd import grad as _grad
from ..errors import GradcheckError
from . import specs_basic, specs_contract, specs_conv, specs_elementary, specs_scan
from .numerical import gradcheck, gradgradcheck, numerical_grad
from .spec import (
    BOOL_MASK,
    DEFAULT_ATOL,
    DEFAULT_EPS,
    DEFAULT_RTOL,
    INDEX_REPEAT,
    WHERE_COND,
    Arrays,
    C,
    Case,
    GateSpec,
    InputMaker,
    Variant,
    away0,
    binary_cases,
    normal,
    positive,
    spread,
    unary_cases,
)

#: The spec modules, one per kind of gate; a new kind adds its module here.
SPEC_MODULES = (specs_basic, specs_contract, specs_conv, specs_elementary, specs_scan)

_SPECS: list[GateSpec] = [s for m in SPEC_MODULES for s in m.SPECS]
#: One spec per gate class of :mod:`chainrule.ops`, by class name, in table order.
GATE_SPECS: Mapping[str, GateSpec] = MappingProxyType({s.name: s for s in _SPECS})
if len(GATE_SPECS) != len(_SPECS):  # pragma: no cover - guards edits of the table
    raise RuntimeError("chainrule.check.gates: two specs cover the same gate")
#: Extra engine-level cases for gates with options or other kinds of input.
GATE_VARIANTS: tuple[Variant, ...] = tuple(v for m in SPEC_MODULES for v in m.VARIANTS)


def case_seed(name: str, label: str) -> int:
    """The seed of a case's inputs: fixed per (gate, label), so every run and every
    caller draws the same numbers."""
    return sum(map(ord, name + label))


def missing_specs() -> list[str]:
    """Registered gate classes without a spec: the library's, and any gate class
    defined since (a user's, a test's) unless it was made with ``register=False``.
    Library gates are named by class name, others by ``module.QualName``."""
    covered = {s.gate for s in GATE_SPECS.values()}
    return sorted(c.__name__ if c.__module__.startswith("chainrule.") else
                  f"{c.__module__}.{c.__qualname__}"
                  for c in registered_gates() if c not in covered)


def gate_specs(names: Iterable[str] | None = None) -> list[GateSpec]:
    """The specs of the named gates (all of them when ``names`` is None), in table order.

    Names match the gate class names case-insensitively (``relu`` finds ``ReLU``); an
    unknown name raises ``KeyError`` listing the valid ones.
    """
    if names is None:
        return list(GATE_SPECS.values())
    by_lower = {k.lower(): k for k in GATE_SPECS}
    wanted: list[str] = []
    for n in names:
        key = by_lower.get(str(n).lower())
        if key is None:
            raise KeyError(f"no gate named {n!r} in chainrule.ops; the gates are: "
                           f"{', '.join(GATE_SPECS)}")
        if key not in wanted:
            wanted.append(key)
    return [s for s in GATE_SPECS.values() if s.name in wanted]


def variants_of(name: str) -> list[Variant]:
    """The extra cases filed under gate ``name`` (exact class name)."""
    return [v for v in GATE_VARIANTS if v.gate_name == name]


# ---------------------------------------------------------------------- checking
@dataclass
class CaseResult:
    """What checking one case measured.

    ``max_abs_error`` is the largest ``|backprop - numerical|`` over every element of
    every input's gradient; for an output with more than one element both sides are
    vector-Jacobian products with the same fixed random vector (what ``cr.gradcheck``
    compares). ``max_rel_error`` is the largest ``|backprop - numerical| /
    max(|backprop|, |numerical|)`` over the elements where that maximum is at least
    ``atol`` (None when there is none: tiny gradients are judged by ``atol`` alone).
    ``first_order_ok`` is ``cr.gradcheck``'s verdict, ``second_order_ok`` that of
    ``cr.gradgradcheck`` (None when not checked). ``messages`` explains each failure.
    """

    gate: str
    label: str
    shapes: tuple[tuple[int, ...], ...]
    max_abs_error: float = float("nan")
    max_rel_error: float | None = None
    first_order_ok: bool = False
    second_order_ok: bool | None = None
    #: Forward mode (``cr.jvp``) against a directional difference; None when not checked.
    forward_mode_ok: bool | None = None
    messages: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every check that ran passed."""
        return (self.first_order_ok and self.second_order_ok is not False
                and self.forward_mode_ok is not False)


def _gates_in_graph(out: Tensor) -> set[type]:
    """Classes of every gate that contributed to ``out`` (iterative walk)."""
    seen: set[int] = set()
    kinds: set[type] = set()
    stack = [out.creator]
    while stack:
        g = stack.pop()
        if g is None or id(g) in seen:
            continue
        seen.add(id(g))
        kinds.add(type(g))
        stack.extend(t.creator for t in g.inputs if isinstance(t, Tensor))
    return kinds


def _error(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"


def check_case(gate: type[Gate], label: str, fn: Callable[..., Tensor], arrays: Arrays, *,
               direct: bool = True, eps: float = DEFAULT_EPS, atol: float = DEFAULT_ATOL,
               rtol: float = DEFAULT_RTOL, second_order: bool = True) -> CaseResult:
    """Gradient-check ``fn`` (which must record ``gate``) on float64 copies of ``arrays``.

    Checks, in order: that ``fn`` records ``gate`` (as its last gate when ``direct``,
    anywhere in the graph otherwise), that its output is finite, first derivatives
    against central differences (``cr.gradcheck``) and, when ``second_order``, second
    derivatives (``cr.gradgradcheck``) and forward mode (``cr.jvp``, against a
    directional difference). Errors raised by the gate are reported in the
    result, not raised.
    """
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    res = CaseResult(gate.__name__, label, tuple(a.shape for a in arrays))
    xs = [tensor(a, requires_grad=True) for a in arrays]
    try:
        out = fn(*xs)
    except Exception as e:
        res.messages.append(f"forward failed: {_error(e)}")
        return res
    if not isinstance(out, Tensor) or out.creator is None:
        res.messages.append("the function recorded no gate")
        return res
    recorded = {type(out.creator)} if direct else _gates_in_graph(out)
    if gate not in recorded:
        res.messages.append(f"the function does not record {gate.__name__} (it records "
                            f"{', '.join(sorted(k.__name__ for k in recorded))})")
        return res
    if not np.all(np.isfinite(out.data)):
        res.messages.append("the output is not finite")
        return res

    # The errors, measured the way cr.gradcheck measures them (same projection, seed 0).
    v = None if out.size == 1 else np.random.default_rng(0).standard_normal(out.shape)
    try:
        analytic = _grad(out, xs, grad_outputs=v, allow_unused=True)

        def scalar(*ts: Tensor) -> float:
            y = np.asarray(fn(*ts).data, dtype=np.float64)
            return float(np.sum(y * v)) if v is not None else float(y.reshape(()))

        numeric = numerical_grad(scalar, *[tensor(a) for a in arrays], eps=eps)
    except Exception as e:
        res.messages.append(f"first order: {_error(e)}")
        return res
    abs_err = 0.0
    rel_err: float | None = None
    for a, n, x in zip(analytic, numeric, arrays):
        ana = np.zeros_like(x) if a is None else np.asarray(a.data, dtype=np.float64)
        if ana.shape != n.shape:
            continue  # gradcheck below reports the wrong shape
        err = np.abs(ana - n)
        if err.size:
            abs_err = max(abs_err, float(np.max(err)))
            scale = np.maximum(np.abs(ana), np.abs(n))
            big = scale >= atol
            if big.any():
                r = float(np.max(err[big] / scale[big]))
                rel_err = r if rel_err is None else max(rel_err, r)
    res.max_abs_error = abs_err
    res.max_rel_error = rel_err
    tol = {"eps": eps, "atol": atol, "rtol": rtol}

    def attempt(what: str, check: Callable[[], bool]) -> bool:
        """Run one check; a failure (or an error the gate raised) is a message."""
        try:
            return check()
        except GradcheckError as e:
            res.messages.append(f"{what}: {e}")
        except Exception as e:
            res.messages.append(f"{what}: {_error(e)}")
        return False

    res.first_order_ok = attempt("first order", lambda: gradcheck(fn, xs, **tol))
    if second_order:
        res.second_order_ok = attempt("second order", lambda: gradgradcheck(fn, xs, **tol))
        # Forward mode falls back on the gate's backward being differentiable.
        res.forward_mode_ok = attempt("forward mode",
                                      lambda: gradcheck(fn, xs, modes=("fwd",), **tol))
    return res


def check_gate(spec: GateSpec, *, seed: int = 0, eps: float | None = None,
               atol: float | None = None, rtol: float | None = None,
               second_order: bool = True, variants: bool = True) -> list[CaseResult]:
    """Check every case of ``spec`` (and its :data:`GATE_VARIANTS` when ``variants``).

    Each case's inputs are drawn with seed ``case_seed(name, label) + seed`` (``seed=0``
    gives the inputs the test suite uses). A tolerance left as None comes from the
    spec's ``tol``, else ``cr.gradcheck``'s default. Second derivatives are checked
    when ``second_order`` and the spec allows it.
    """
    tol = {"eps": DEFAULT_EPS, "atol": DEFAULT_ATOL, "rtol": DEFAULT_RTOL, **spec.tol}
    for key, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if value is not None:
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"check_gate: {key} must be a finite number > 0, got "
                                 f"{value!r}")
            tol[key] = value
    second = second_order and spec.second_order
    name = spec.name
    results = []
    for case in spec.cases:
        arrays = case.make(case_seed(name, case.label) + seed)
        results.append(check_case(spec.gate, case.label, spec.fn, arrays, direct=True,
                                  second_order=second, **tol))
    if variants:
        for var in variants_of(name):
            arrays = Case(var.label, var.makers).make(case_seed(name, var.label) + seed)
            results.append(check_case(spec.gate, var.label, var.fn, arrays, direct=False,
                                      second_order=second, **tol))
    return results


__all__ = [
    "BOOL_MASK", "DEFAULT_ATOL", "DEFAULT_EPS", "DEFAULT_RTOL", "GATE_SPECS",
    "GATE_VARIANTS", "INDEX_REPEAT", "WHERE_COND", "C", "Case", "CaseResult", "GateSpec",
    "InputMaker", "Variant", "away0", "binary_cases", "case_seed", "check_case",
    "check_gate", "gate_specs", "missing_specs", "normal", "positive", "spread",
    "unary_cases", "variants_of",
]
