"""``chainrule gradcheck`` and the library table behind it (:mod:`chainrule.check.gates`).

The table's own correctness (every gate, every case) is test_gate_table.py's job; here
the command must report what it checked, and must fail, naming the culprit, when a
gate is wrong or has no spec: a checker that always says "ok" would be worthless.
"""

from __future__ import annotations

import re
from types import MappingProxyType

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import apply1
from chainrule.check import gates as gatespecs
from chainrule.check.gates import GATE_SPECS, C, GateSpec, check_gate, gate_specs, normal
from chainrule.cli import main
from chainrule.cli.gradcheck import check_two_layer_net


# ---------------------------------------------------------------------- broken gates
class Square(cr.Gate, register=False):
    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, gy):
        return gy * (2 * self.x)


class SquareWrongGradient(Square, register=False):
    """First derivative off by 10% (as if the 2 were a 2.2)."""

    def backward(self, gy):
        return gy * (2.2 * self.x)


class SquareConstantBackward(Square, register=False):
    """Right first derivative, computed outside the graph: second derivative is 0."""

    def backward(self, gy):
        x = self.x.data if isinstance(self.x, cr.Tensor) else self.x
        return gy * (2 * x)


def _spec(gate: type[cr.Gate]) -> GateSpec:
    return GateSpec(gate, lambda x: apply1(gate(), x), lambda x: (gate(), (x,)),
                    (C("(2,3)", normal(2, 3)), C("0-d", normal())))


def _use_specs(monkeypatch: pytest.MonkeyPatch, specs: dict[str, GateSpec]) -> None:
    monkeypatch.setattr(gatespecs, "GATE_SPECS", MappingProxyType(specs))


# ---------------------------------------------------------------------- library
def test_gate_specs_cover_every_gate_and_find_names_case_insensitively() -> None:
    assert set(GATE_SPECS) == set(cr.ops.gate_classes())
    assert gatespecs.missing_specs() == []
    for name, spec in GATE_SPECS.items():
        assert spec.gate is cr.ops.gate_classes()[name]
    assert [s.name for s in gate_specs(["relu", "MatMul", "ReLU"])] == ["ReLU", "MatMul"]
    with pytest.raises(KeyError, match=r"no gate named 'Nope'.*Add, Sub, Mul"):
        gate_specs(["Nope"])


def test_check_gate_measures_small_errors_on_a_correct_gate() -> None:
    results = check_gate(GATE_SPECS["Mul"])
    assert [r.label for r in results] == [c.label for c in GATE_SPECS["Mul"].cases]
    assert results[3].shapes == ((3, 1), (1, 4))
    for r in results:
        assert r.ok and r.first_order_ok and r.second_order_ok and not r.messages
        assert 0 <= r.max_abs_error < 1e-8
        assert r.max_rel_error is not None and r.max_rel_error < 1e-6
    # Variants are checked too, and second order can be left out.
    pows = check_gate(GATE_SPECS["Pow"], second_order=False)
    assert len(pows) == len(GATE_SPECS["Pow"].cases) + len(gatespecs.variants_of("Pow"))
    assert all(r.first_order_ok and r.second_order_ok is None for r in pows)


def test_check_gate_reports_a_wrong_gradient_with_gradchecks_message() -> None:
    (r, _) = check_gate(_spec(SquareWrongGradient))
    assert not r.ok and not r.first_order_ok
    # |2.2x - 2x| = 0.2|x|: the measured error is that, and relative error 0.2/2.2.
    assert r.max_rel_error == pytest.approx(0.2 / 2.2, rel=1e-6)
    assert any("first order: gradcheck failed for input 0" in m for m in r.messages)


def test_check_gate_reports_a_backward_that_leaves_the_graph() -> None:
    results = check_gate(_spec(SquareConstantBackward))
    assert all(r.first_order_ok for r in results)
    assert results[0].second_order_ok is False
    assert any(m.startswith("second order:") for m in results[0].messages)


def test_check_gate_rejects_a_function_that_records_another_gate() -> None:
    spec = GateSpec(cr.ops.Exp, cr.sin, lambda x: (cr.ops.Exp(), (x,)),
                    (C("(3,)", normal(3)),))
    (r,) = check_gate(spec)
    assert not r.ok
    assert r.messages == ["the function does not record Exp (it records Sin)"]


def test_check_gate_rejects_bad_tolerances() -> None:
    with pytest.raises(ValueError, match="atol must be a finite number > 0"):
        check_gate(GATE_SPECS["Add"], atol=-1.0)


def test_two_layer_net_check_agrees() -> None:
    checks = check_two_layer_net((6, 5, 3), samples=4, seed=1)
    assert [(c.name, c.shape) for c in checks] == [("W1", (6, 5)), ("b1", (5,)),
                                                   ("W2", (5, 3)), ("b2", (3,))]
    for c in checks:
        assert c.ok and 0 <= c.mean_abs <= c.max_abs < 1e-8


# ---------------------------------------------------------------------- command line
def _row(out: str, gate: str) -> list[str]:
    m = re.search(rf"^{gate}\s.*$", out, re.MULTILINE)
    assert m is not None, out
    return m.group(0).split()


def test_cli_gradcheck_all_gates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert "first and second order: float64, central differences (eps 1e-06)" in out
    assert "(atol 1e-05, rtol 0.001)" in out
    for name in cr.ops.gate_classes():
        assert re.search(rf"^{name}\s+\d+\s", out, re.MULTILINE), name
    n_cases = sum(len(s.cases) + len(gatespecs.variants_of(s.name))
                  for s in GATE_SPECS.values())
    assert (f"{len(GATE_SPECS)} gates, {n_cases} cases: {n_cases}/{n_cases} first order "
            f"ok, {n_cases}/{n_cases} second order ok") in out
    row = _row(out, "Mul")
    assert row[1] == "5" and row[2:4] == ["(2,3)&(2,3),", "()&(3,),"]
    assert row[-2:] == ["ok", "ok"]
    assert float(row[-4]) < 1e-8
    assert out.rstrip().endswith("all checks passed")


def test_cli_gradcheck_one_gate_verbose_first_order_only(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gradcheck", "--gate", "matmul", "--no-second-order", "-v",
                 "--seed", "3", "--atol", "1e-6"]) == 0
    out = capsys.readouterr().out
    assert "Gradient check of 1 gate, first order only" in out
    assert "(atol 1e-06, rtol 0.001); seed 3" in out
    rows = re.findall(r"^MatMul\s.*$", out, re.MULTILINE)
    assert len(rows) == len(GATE_SPECS["MatMul"].cases)
    assert "(2,1,2,3)@(4,3,2) batch broadcast" in rows[4]
    assert "(2,1,2,3)&(4,3,2)" in rows[4]
    assert all(r.split()[-3:] == ["ok", "-", "-"] for r in rows)
    assert "second order not checked" in out


def test_cli_gradcheck_fails_on_a_wrong_gate(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _use_specs(monkeypatch, {"SquareWrongGradient": _spec(SquareWrongGradient),
                             "SquareConstantBackward": _spec(SquareConstantBackward)})
    code = main(["gradcheck", "--gate", "SquareWrongGradient",
                 "--gate", "SquareConstantBackward"])
    out = capsys.readouterr().out
    assert code == 1
    # The wrong first derivative is consistently wrong: its own derivative checks out,
    # and forward mode, built on it, is as wrong. A backward that is right but not
    # differentiable fails second order, yet its forward-mode products are right.
    assert _row(out, "SquareWrongGradient")[-3:] == ["FAIL", "ok", "FAIL"]
    assert _row(out, "SquareConstantBackward")[-3:] == ["ok", "FAIL", "ok"]
    assert "2 gates, 4 cases: 2/4 first order ok, 2/4 second order ok" in out
    assert "FAILED (" in out
    assert "SquareWrongGradient [(2,3)]: first order: gradcheck failed for input 0" in out
    assert "SquareConstantBackward [(2,3)]: second order:" in out
    assert "all checks passed" not in out


def test_cli_gradcheck_fails_when_a_gate_has_no_spec(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _use_specs(monkeypatch, {k: v for k, v in GATE_SPECS.items() if k != "Sigmoid"})
    assert main(["gradcheck", "--no-second-order"]) == 1
    out = capsys.readouterr().out
    assert "Sigmoid: gate class has no spec in chainrule.check.gates" in out


def test_cli_gradcheck_unknown_gate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gradcheck", "--gate", "Nope"]) == 2
    assert "no gate named 'Nope'" in capsys.readouterr().err


@pytest.mark.parametrize("opt", ["--eps=0", "--atol=-1", "--rtol=nan", "--seed=-2"])
def test_cli_gradcheck_rejects_bad_numbers(opt: str, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    with pytest.raises(SystemExit) as info:
        main(["gradcheck", opt])
    assert info.value.code == 2
    assert "expected" in capsys.readouterr().err


def test_cli_gradcheck_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gradcheck", "--gate", "Add", "--model", "--model-sizes", "8", "6", "4",
                 "--model-samples", "2"]) == 0
    out = capsys.readouterr().out
    assert ("Two-layer net 8 -> Affine -> ReLU(6) -> Affine -> SoftmaxWithLoss "
            "(4 classes), float64,") in out
    assert f"numerical gradient: {2 * (8 * 6 + 6 + 6 * 4 + 4)} forward passes" in out
    for name, shape in (("W1", "(8,6)"), ("b1", "(6,)"), ("W2", "(6,4)"), ("b2", "(4,)")):
        row = _row(out, name)
        assert row[1] == shape and row[-1] == "ok"
        assert float(row[2]) < 1e-8
    assert "-> backprop agrees with numerical differentiation" in out


def test_cli_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in ("train", "evaluate", "explain", "gradcheck", "bench"):
        assert re.search(rf"^\s+{name}\s+\S", out, re.MULTILINE), name
    with pytest.raises(SystemExit):
        main(["gradcheck", "--help"])
    out = capsys.readouterr().out
    for opt in ("--gate", "--second-order", "--no-second-order", "--seed", "--eps",
                "--atol", "--rtol", "--model"):
        assert opt in out


def test_table_inputs_are_the_test_suites() -> None:
    """seed 0 reproduces the inputs test_gate_table.py checks (same seed formula)."""
    spec = GATE_SPECS["Div"]
    case = spec.cases[1]
    a = case.make(gatespecs.case_seed("Div", case.label))
    b = case.make(sum(map(ord, "Div" + case.label)))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
