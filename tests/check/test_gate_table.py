"""Every gate, gradient-checked: one table entry per class in ``cr.ops.gate_classes()``.

The table lives in the library, in :mod:`chainrule.check.gates` (``chainrule gradcheck``
runs the same specs). Each entry says how to build the gate with its public function
(``fn``), how to drive it by hand (``hand``: the gate object and the arguments of
``forward``), and a few input cases, broadcasting ones included wherever the gate
broadcasts. For every entry and case the suite checks

* that ``fn`` really records that gate (so the table cannot silently test another op),
* first derivatives against central differences (``cr.gradcheck``, float64),
* second derivatives through ``create_graph`` (``cr.gradgradcheck``),
* the by-hand API of the seed notes: ``gate.forward(...)`` then ``gate.backward(up)``
  returns one gradient per input, in that input's shape, equal to what the engine
  computes for the same upstream gradient.

A new gate without an entry fails ``test_table_covers_every_gate``.

Inputs are chosen in each gate's smooth region: positive for log/sqrt/pow, away from
0 for abs/relu, away from the bounds for clip, and well-separated distinct values for
max/min/maximum/minimum so that a finite-difference step never crosses a tie (ties
and kinks have their own tests in test_numerics.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import chainrule as cr
from chainrule import ops
from chainrule.check.gates import GATE_SPECS, GATE_VARIANTS, Case, GateSpec, case_seed

Arrays = list[np.ndarray]
Entry = GateSpec

TABLE: dict[str, Entry] = dict(GATE_SPECS)

# Extra engine-level cases for gates with options or alternate input kinds; each is
# (gate name, label, function of the differentiable tensors, makers).
VARIANTS: list[tuple[str, str, Callable[..., cr.Tensor], list[Callable]]] = [
    (v.gate_name, v.label, v.fn, list(v.makers)) for v in GATE_VARIANTS]

TABLE_CASES = [(name, case) for name, entry in TABLE.items() for case in entry.cases]
IDS = [f"{name}-{case.label}" for name, case in TABLE_CASES]


def _tensors(arrays: Arrays) -> list[cr.Tensor]:
    return [cr.tensor(a, requires_grad=True) for a in arrays]


_seed = case_seed


# ---------------------------------------------------------------------- coverage
def test_table_covers_every_gate() -> None:
    gates = set(cr.ops.gate_classes())
    missing = sorted(gates - set(TABLE))
    extra = sorted(set(TABLE) - gates)
    assert not missing, f"gates without an entry in the gradient-check table: {missing}"
    assert not extra, f"table entries for gates that do not exist: {extra}"
    assert {name for name, *_ in VARIANTS} <= gates


@pytest.mark.parametrize(("name", "case"), TABLE_CASES, ids=IDS)
def test_function_records_its_gate(name: str, case: Case) -> None:
    xs = _tensors(case.make(_seed(name, case.label)))
    out = TABLE[name].fn(*xs)
    assert type(out.creator) is cr.ops.gate_classes()[name]


# ---------------------------------------------------------------------- first order
@pytest.mark.parametrize(("name", "case"), TABLE_CASES, ids=IDS)
def test_gradcheck(name: str, case: Case) -> None:
    xs = _tensors(case.make(_seed(name, case.label)))
    out = TABLE[name].fn(*xs)
    assert np.all(np.isfinite(out.data))
    assert cr.gradcheck(TABLE[name].fn, xs, **TABLE[name].tol)


VARIANT_IDS = [f"{n}-{label}" for n, label, _, _ in VARIANTS]


@pytest.mark.parametrize(("name", "label", "fn", "makers"), VARIANTS, ids=VARIANT_IDS)
def test_gradcheck_variants(name: str, label: str, fn: Callable, makers: list) -> None:
    xs = _tensors(Case(label, makers).make(_seed(name, label)))
    out = fn(*xs)
    # The variant really goes through the gate it is filed under.
    seen = set()
    stack = [out.creator]
    while stack:
        g = stack.pop()
        if g is None or g in seen:
            continue
        seen.add(g)
        stack.extend(t.creator for t in g.inputs if isinstance(t, cr.Tensor))
    assert name in {type(g).__name__ for g in seen}
    assert cr.gradcheck(fn, xs)


# ---------------------------------------------------------------------- second order
@pytest.mark.parametrize(("name", "case"), TABLE_CASES, ids=IDS)
def test_gradgradcheck(name: str, case: Case) -> None:
    xs = _tensors(case.make(_seed(name, case.label)))
    assert cr.gradgradcheck(TABLE[name].fn, xs, **TABLE[name].tol)


@pytest.mark.parametrize(("name", "label", "fn", "makers"), VARIANTS, ids=VARIANT_IDS)
def test_gradgradcheck_variants(name: str, label: str, fn: Callable, makers: list) -> None:
    xs = _tensors(Case(label, makers).make(_seed(name, label)))
    assert cr.gradgradcheck(fn, xs)


# ---------------------------------------------------------------------- by hand
def _engine_grads(entry: Entry, arrays: Arrays, upstream: np.ndarray) -> list[np.ndarray]:
    xs = _tensors(arrays)
    out = entry.fn(*xs)
    gs = cr.grad(out, xs, grad_outputs=upstream, allow_unused=True)
    return [np.zeros_like(a) if g is None else g.detach().numpy() for g, a in zip(gs, arrays)]


@pytest.mark.parametrize(("name", "case"), TABLE_CASES, ids=IDS)
def test_by_hand_forward_backward(name: str, case: Case) -> None:
    entry = TABLE[name]
    arrays = case.make(_seed(name, case.label))
    copies = [a.copy() for a in arrays]
    gate, args = entry.hand(*copies)
    assert isinstance(gate, cr.ops.gate_classes()[name])
    # Where each differentiable array sits among forward's arguments (the others, such
    # as where's condition, are constants).
    positions = [next(j for j, a in enumerate(args) if a is c) for c in copies]
    y = gate.forward(*args)
    with cr.no_grad():
        expected = entry.fn(*[cr.tensor(a) for a in arrays])
    np.testing.assert_allclose(np.asarray(y, dtype=np.float64),
                               expected.detach().numpy().astype(np.float64), rtol=1e-12, atol=1e-12)
    upstream = np.random.default_rng(7).standard_normal(np.shape(y))
    grads = gate.backward(upstream)
    if not isinstance(grads, tuple):
        grads = (grads,)
    # By hand, backward returns one gradient per floating-point input (integer labels
    # and boolean masks get none), a lone one bare.
    floats = [j for j, a in enumerate(args) if np.asarray(a).dtype.kind in "fc"]
    assert len(grads) == len(floats), "backward must return one gradient per float input"
    want = _engine_grads(entry, arrays, upstream)
    for k, j in enumerate(positions):
        g = grads[floats.index(j)]
        assert g is not None
        assert np.shape(g) == np.shape(args[j]), (
            f"{name}.backward: gradient {j} has shape {np.shape(g)}, input has "
            f"{np.shape(args[j])}")
        np.testing.assert_allclose(np.asarray(g, dtype=np.float64), want[k],
                                   rtol=1e-10, atol=1e-12)


def test_by_hand_on_python_numbers() -> None:
    """Python numbers in, Python floats out (the seed notes' style)."""
    mul = ops.Mul()
    assert mul.forward(100.0, 2.0) == 200.0
    d_apple, d_num = mul.backward(1.0)
    assert (d_apple, d_num) == (2.0, 100.0)
    assert type(d_apple) is float and type(d_num) is float
    add = ops.Add()
    assert add.forward(1.0, 2.0) == 3.0
    assert add.backward(5.0) == (5.0, 5.0)
    sig = ops.Sigmoid()
    y = sig.forward(0.0)
    assert y == 0.5 and type(y) is float
    assert sig.backward(1.0) == 0.25


def test_by_hand_backward_before_forward_is_a_clear_error() -> None:
    with pytest.raises(cr.BackwardError, match="call forward first"):
        ops.Mul().backward(1.0)


def test_by_hand_broadcast_gradients_are_summed_to_input_shape() -> None:
    add = ops.Add()
    add.forward(np.ones((2, 3)), np.ones(3))
    gx, gy = add.backward(np.ones((2, 3)))
    assert gx.shape == (2, 3)
    np.testing.assert_array_equal(gy, [2.0, 2.0, 2.0])
