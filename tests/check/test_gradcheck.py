"""The gradient checker itself: it must accept right gradients and catch wrong ones.

A checker that always says "fine" would make the whole gate table worthless, so
these tests feed it deliberately broken gates (defined here, as a user would define a
custom gate) and check that the failure says which input, which element, both
values and the tolerance.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import apply, apply1


# ---------------------------------------------------------------------- numerical_grad
def test_numerical_grad_of_a_polynomial() -> None:
    (g,) = cr.numerical_grad(lambda x: x ** 3 - 2 * x, np.array(2.0))
    assert g.shape == ()
    assert g == pytest.approx(10.0, abs=1e-7)


def test_numerical_grad_of_several_array_inputs() -> None:
    x = np.array([[0.5, -1.0], [2.0, 0.3]])
    w = np.array([1.5, -0.7])

    def f(x: np.ndarray, w: np.ndarray) -> float:
        return float(np.sum(np.sin(x) @ w))

    gx, gw = cr.numerical_grad(f, x, w)
    assert gx.shape == x.shape and gw.shape == w.shape
    np.testing.assert_allclose(gx, np.cos(x) * w, atol=1e-8)
    np.testing.assert_allclose(gw, np.sin(x).sum(axis=0), atol=1e-8)


def test_numerical_grad_on_tensors_and_python_numbers() -> None:
    (gx,) = cr.numerical_grad(lambda t: cr.exp(t).sum(), cr.tensor([0.0, 1.0]))
    np.testing.assert_allclose(gx, np.exp([0.0, 1.0]), rtol=1e-8)
    ga, gb = cr.numerical_grad(lambda a, b: a * b + a, 3.0, 4.0)
    assert ga == pytest.approx(5.0) and gb == pytest.approx(3.0)


def test_numerical_grad_leaves_the_inputs_unchanged() -> None:
    x = np.array([1.0, 2.0])
    cr.numerical_grad(lambda v: float(np.sum(v ** 2)), x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_numerical_grad_needs_a_scalar_function() -> None:
    with pytest.raises(ValueError, match=r"single number.*\(2,\)"):
        cr.numerical_grad(lambda v: v * 2, np.array([1.0, 2.0]))


def test_numerical_grad_eps_matters_for_curvature() -> None:
    # Central differences are exact for quadratics and have O(eps^2) error beyond.
    (g,) = cr.numerical_grad(lambda x: x ** 2, np.array(3.0), eps=0.5)
    assert g == pytest.approx(6.0, abs=1e-12)
    (g,) = cr.numerical_grad(lambda x: x ** 3, np.array(1.0), eps=0.1)
    assert g == pytest.approx(3.0 + 0.1 ** 2, abs=1e-12)


# ---------------------------------------------------------------------- passing checks
@pytest.mark.parametrize("fn", [
    lambda x, w: cr.tanh(x @ w).sum(),
    lambda x, w: cr.sigmoid(x @ w),                   # non-scalar output: projected
    lambda x, w: cr.softmax_cross_entropy(x @ w, np.array([0, 1])),
])
def test_gradcheck_passes_on_correct_gates(fn) -> None:
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    w = cr.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    assert cr.gradcheck(fn, [x, w]) is True
    assert cr.gradgradcheck(fn, [x, w]) is True


def test_gradcheck_skips_inputs_that_do_not_require_grad() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    c = cr.tensor([3.0, 4.0])
    assert cr.gradcheck(lambda a, b: (a * b).sum(), [x, c])


def test_gradcheck_single_tensor_input() -> None:
    assert cr.gradcheck(lambda t: cr.exp(t).sum(), cr.tensor([0.1, 0.2], requires_grad=True))


def test_gradcheck_without_inputs_requiring_grad_is_an_error() -> None:
    with pytest.raises(ValueError, match="requires_grad=True"):
        cr.gradcheck(lambda a: a.sum(), [cr.tensor([1.0])])


def test_gradcheck_function_must_return_a_tensor() -> None:
    with pytest.raises(TypeError, match="Tensor"):
        cr.gradcheck(lambda a: 1.0, [cr.tensor([1.0], requires_grad=True)])


def test_gradcheck_warns_about_float32() -> None:
    x = cr.tensor(np.array([0.5, 1.0], dtype=np.float32), requires_grad=True)
    with pytest.warns(UserWarning, match="float32.*float64"):
        cr.gradcheck(lambda t: (t * t).sum(), [x], atol=1e-2, rtol=1e-2)


def test_gradcheck_catches_detached_computation() -> None:
    """f uses the input's values without recording: backprop says 0, numerics do not."""
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(cr.GradcheckError, match=r"backprop gives .*0\.0"):
        cr.gradcheck(lambda t: (t.detach() * t.detach()).sum() + 0 * t.sum(), [x])
    with pytest.raises(cr.GradcheckError):
        cr.gradcheck(lambda t: t.detach().sum(), [x])  # no graph at all


# ---------------------------------------------------------------------- buggy gates
class Square(cr.Gate, register=False):
    """y = x**2, correct."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, gy):
        return gy * 2 * self.x


class SquareOneWrongElement(cr.Gate, register=False):
    """y = x**2 whose backward is off by 0.5 at element [1, 2] only."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, gy):
        g = np.array(gy * 2 * self.x, dtype=np.float64)
        g[1, 2] += 0.5
        return g


class MulWrongSecondInput(cr.Gate, register=False):
    """z = x * y whose gradient for y forgets the upstream gradient."""

    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, gz):
        return gz * self.y, self.x * 1.0


class SquareWithConstantBackward(cr.Gate, register=False):
    """y = x**2 whose first derivative is right but computed outside the graph
    (np.asarray drops the tensor), so its second derivative comes out as 0."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, gy):
        x = self.x.data if isinstance(self.x, cr.Tensor) else self.x
        return gy * (2 * x)


def square(x: cr.Tensor, gate: type[cr.Gate] = Square) -> cr.Tensor:
    return apply1(gate(), x)


def wrong_square_sum(t: cr.Tensor) -> cr.Tensor:
    return square(t, SquareOneWrongElement).sum()


def test_a_custom_correct_gate_passes_both_checks() -> None:
    x = cr.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    assert cr.gradcheck(lambda t: square(t).sum(), [x])
    assert cr.gradgradcheck(lambda t: square(t), [x])


def test_gradcheck_names_the_input_the_worst_element_both_values_and_the_tolerance() -> None:
    x = cr.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True, name="x")
    with pytest.raises(cr.GradcheckError) as info:
        cr.gradcheck(wrong_square_sum, [x])
    msg = str(info.value)
    assert "input 0 ('x') of shape (2, 3)" in msg
    assert "at element [1, 2]" in msg
    # Both values: backprop says 2 * 1 + 0.5, numerical differentiation says 2.
    m = re.search(r"backprop gives (?:np\.float64\()?([-\d.e]+)\)? but numerical "
                  r"differentiation gives (?:np\.float64\()?([-\d.e]+)", msg)
    assert m is not None, msg
    assert float(m.group(1)) == pytest.approx(2.5)
    assert float(m.group(2)) == pytest.approx(2.0, abs=1e-6)
    assert "atol=1e-05" in msg and "rtol=0.001" in msg
    assert "1 of 6 elements fail" in msg


def test_gradcheck_names_the_second_input_when_only_it_is_wrong() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = cr.tensor([3.0, -1.0], requires_grad=True, name="w")
    with pytest.raises(cr.GradcheckError, match=r"input 1 \('w'\) of shape \(2,\)"):
        cr.gradcheck(lambda a, b: apply(MulWrongSecondInput(), a, b) * 3.0, [x, y])


def test_gradcheck_raise_exception_false_returns_false() -> None:
    x = cr.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    assert cr.gradcheck(wrong_square_sum, [x], raise_exception=False) is False
    assert cr.gradcheck(lambda t: square(t).sum(), [x], raise_exception=False) is True


def test_gradcheck_tolerance_can_be_loosened() -> None:
    x = cr.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    assert cr.gradcheck(wrong_square_sum, [x], atol=1.0)


def test_gradgradcheck_catches_a_backward_that_leaves_the_graph() -> None:
    x = cr.tensor([0.5, -1.0, 2.0], requires_grad=True)
    # First order is right...
    assert cr.gradcheck(lambda t: square(t, SquareWithConstantBackward).sum(), [x])
    # ...second order is not: d/dx of the (unrecorded) 2x is reported as 0, not 2.
    with pytest.raises(cr.GradcheckError, match="input 0"):
        cr.gradgradcheck(lambda t: square(t, SquareWithConstantBackward).sum(), [x])
    assert cr.gradgradcheck(lambda t: square(t, SquareWithConstantBackward).sum(), [x],
                            raise_exception=False) is False


def test_gradgradcheck_checks_the_upstream_gradient_path_too() -> None:
    """A backward that unwraps the upstream gradient (dropping its graph) is right to
    first order and in its input derivative, but wrong as a function of the upstream
    gradient; gradgradcheck differentiates with respect to that too, and says so."""

    class SquareUnwrappingUpstream(cr.Gate, register=False):
        def forward(self, x):
            self.x = x
            return x * x

        def backward(self, gy):
            return (gy.data if isinstance(gy, cr.Tensor) else gy) * 2 * self.x

    x = cr.tensor([0.5, -1.0], requires_grad=True)

    def f(t: cr.Tensor) -> cr.Tensor:
        return apply1(SquareUnwrappingUpstream(), t) * 2.0

    assert cr.gradcheck(f, [x])
    with pytest.raises(cr.GradcheckError, match=r"input 1 \('grad_output'\)"):
        cr.gradgradcheck(f, [x])


def test_gradcheck_error_is_a_chainrule_error() -> None:
    assert issubclass(cr.GradcheckError, cr.ChainruleError)


def test_numerical_grad_supports_the_in_place_idiom_of_dlfs() -> None:
    """DLFS: f ignores its argument and reads the parameter, which is nudged in place."""
    params = {"W": np.array([1.0, 2.0])}

    def loss(_w: object) -> float:
        return float(np.sum(params["W"] ** 2))

    (g,) = cr.numerical_grad(loss, params["W"])
    np.testing.assert_allclose(g, [2.0, 4.0], rtol=1e-8)
    np.testing.assert_array_equal(params["W"], [1.0, 2.0])      # restored exactly
    w = cr.tensor([1.0, 3.0])
    (g,) = cr.numerical_grad(lambda _t: float((w * w).sum()), w)
    np.testing.assert_allclose(g, [2.0, 6.0], rtol=1e-8)


def test_numerical_grad_restores_the_array_when_f_raises() -> None:
    w = np.array([1.0, 2.0])
    calls = []

    def f(a: np.ndarray) -> float:
        calls.append(a.copy())
        if len(calls) == 2:
            raise RuntimeError("boom")
        return float(a.sum())

    with pytest.raises(RuntimeError, match="boom"):
        cr.numerical_grad(f, w)
    np.testing.assert_array_equal(w, [1.0, 2.0])


def test_numerical_grad_of_float32_warns_and_uses_a_float64_copy() -> None:
    x = np.array([0.5, 1.0], dtype=np.float32)
    with pytest.warns(UserWarning, match="float64 copy"):
        (g,) = cr.numerical_grad(lambda a: float(np.sum(a * a)), x)
    np.testing.assert_allclose(g, [1.0, 2.0], rtol=1e-6)


def test_numerical_grad_of_a_read_only_array_warns() -> None:
    x = np.array([1.0, 2.0])
    x.flags.writeable = False
    with pytest.warns(UserWarning, match="read-only"):
        (g,) = cr.numerical_grad(lambda a: float(np.sum(a * a)), x)
    np.testing.assert_allclose(g, [2.0, 4.0], rtol=1e-8)
