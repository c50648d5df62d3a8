"""A user's own gate: subclassing, what backward may read under create_graph, and how
one definition reaches every place a gate shows up (cr.*, Tensor, NumPy, explain)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import _tensor, ops
from chainrule.autograd import Gate, apply1, registered_gates, unregister_gate
from chainrule.check.gates import missing_specs
from chainrule.ops import _registry


# ---------------------------------------------------------------------- subclassing
class LoudExp(ops.Exp, register=False):
    calls = 0

    def forward(self, x):
        LoudExp.calls += 1
        return super().forward(x)

    def backward(self, gy):
        return super().backward(gy)


def test_super_forward_in_a_subclass_reaches_the_parent_in_the_engine_and_by_hand():
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    y = apply1(LoudExp(), x)
    y.sum().backward()
    np.testing.assert_allclose(y.data, np.exp([0.0, 1.0]))
    np.testing.assert_allclose(x.grad.data, np.exp([0.0, 1.0]))
    gate = LoudExp()
    assert gate.forward(1.0) == pytest.approx(np.e)
    assert gate.backward(2.0) == pytest.approx(2 * np.e)
    assert LoudExp.calls == 2


def test_by_hand_wrappers_keep_the_gates_own_names():
    assert ops.Sigmoid.forward.__qualname__ == "Sigmoid.forward"
    assert ops.Sigmoid.backward.__qualname__ == "Sigmoid.backward"
    assert LoudExp.forward.__qualname__.endswith("LoudExp.forward")
    assert "y (1 - y)" in (ops.Sigmoid.__doc__ or "")


def test_register_false_keeps_a_throwaway_gate_out_of_the_registry():
    assert LoudExp not in registered_gates()
    assert ops.Exp in registered_gates()


# ---------------------------------------------------------------------- saved values
class SquareSavingACopy(Gate, register=False):
    """y = x**2 whose forward saves a *copy* of x: to first order nothing is wrong."""

    def forward(self, x):
        self.x = np.array(x, dtype=np.float64)
        return x * x

    def backward(self, gy):
        return 2 * gy * self.x


class SquareDeclaringTheCopy(SquareSavingACopy, register=False):
    differentiable = ("x",)


class SquareSavingTheInput(Gate, register=False):
    differentiable = ("x",)

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, gy):
        return 2 * gy * self.x


def _second_derivative(gate_cls, at=3.0):
    x = cr.tensor(at, requires_grad=True)
    y = apply1(gate_cls(), x) + x * x          # d2y/dx2 = 2 + 2 = 4
    (g,) = cr.grad(y, x, create_graph=True)
    (h,) = cr.grad(g, x)
    return g.item(), h.item()


def test_a_saved_input_declared_differentiable_gives_the_right_second_derivative():
    assert _second_derivative(SquareSavingTheInput) == (12.0, 4.0)


@pytest.mark.parametrize("gate_cls", [SquareSavingACopy, SquareDeclaringTheCopy])
def test_a_saved_copy_is_refused_under_create_graph_instead_of_a_wrong_answer(gate_cls):
    # Matched by identity, the copy would be taken for a constant: d2y/dx2 = 2, not 4.
    x = cr.tensor(3.0, requires_grad=True)
    y = apply1(gate_cls(), x) + x * x
    (g,) = cr.grad(y, x)                       # first order is right either way
    assert g.item() == 12.0
    y = apply1(gate_cls(), x) + x * x
    with pytest.raises(cr.BackwardError, match=r"SquareSaving|SquareDeclaring") as e:
        cr.grad(y, x, create_graph=True)
    assert "'x'" in str(e.value) and "differentiable" in str(e.value)


def test_undeclared_saved_values_are_constants_by_declaration():
    class SquareWithConstantSlope(Gate, register=False):
        """Declares nothing differentiable: its saved copy is a constant by choice."""

        differentiable = ()

        def forward(self, x):
            self.slope = 2 * np.array(x, dtype=np.float64)
            return x * x

        def backward(self, gy):
            return gy * self.slope

    assert _second_derivative(SquareWithConstantSlope) == (12.0, 2.0)


def test_differentiable_must_be_a_tuple_of_names():
    with pytest.raises(TypeError, match="tuple of attribute names"):
        class Bad(Gate, register=False):
            differentiable = "x"


# ---------------------------------------------------------------------- one definition
@pytest.fixture
def cbrt_registered(monkeypatch):
    """Undo everything defining and exporting a gate does (for this test only)."""
    monkeypatch.setattr(_registry, "_EXPORTS", dict(_registry._EXPORTS))
    monkeypatch.setattr(cr, "__all__", list(cr.__all__))
    monkeypatch.setattr(ops, "__all__", list(ops.__all__))
    for obj in (cr, ops, _tensor.Tensor):
        monkeypatch.setattr(obj, "cbrt", None, raising=False)
    monkeypatch.setitem(_tensor.UFUNCS, np.cbrt, None)
    made: list[type] = []
    yield made
    for cls in made:
        unregister_gate(cls)


def test_a_gate_defined_in_a_test_module_shows_up_everywhere(cbrt_registered):
    class Cbrt(Gate):
        """y = x ** (1/3).  Local gradient: 1 / (3 y**2)."""

        elementwise = True
        symbol = "∛"
        function_name = "cbrt"
        saves_output = True
        saves_inputs = False
        differentiable = ("y",)

        def forward(self, x):
            self.y = np.cbrt(x)
            return self.y

        def backward(self, gy):
            return gy / (3 * self.y * self.y)

    cbrt_registered.append(Cbrt)

    @ops.export(method=True, numpy=(np.cbrt,), expr=1)
    def cbrt(x):
        """Elementwise cube root."""
        return apply1(Cbrt(), x if isinstance(x, cr.Tensor) else cr.tensor(x))

    x = cr.tensor(8.0, requires_grad=True, name="x")
    assert cr.cbrt is cbrt and "cbrt" in cr.__all__
    assert ops.cbrt is cbrt and "cbrt" in ops.__all__
    for y in (cr.cbrt(x), x.cbrt(), np.cbrt(x)):
        assert isinstance(y.creator, Cbrt) and y.item() == 2.0
    y = np.cbrt(x)
    ex = cr.explain(y)
    assert "Cbrt" in str(ex) and ex.gradients["x"] == pytest.approx(1 / 12)
    assert "∛" in cr.viz.to_dot(y)
    (g,) = cr.grad(y, x)
    assert g.item() == pytest.approx(1 / 12)
    from chainrule.cli.expr import FUNCTIONS, evaluate, parse_bindings
    assert FUNCTIONS["cbrt"] == (cbrt, 1)
    z, _ = evaluate("cbrt(a) * 2", parse_bindings(["a=27"]))
    assert z.item() == pytest.approx(6.0) and isinstance(z.creator.inputs[0].creator, Cbrt)
    assert any(name.endswith("Cbrt") for name in missing_specs())   # no spec: the suite fails
    unregister_gate(Cbrt)
    assert not any(name.endswith("Cbrt") for name in missing_specs())
