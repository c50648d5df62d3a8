"""Higher-order derivatives: differentiate the gradient again (``create_graph=True``).

Every backward formula is written once in NumPy; with ``create_graph=True`` it runs on
tensors and records a graph of its own. These tests check the result against closed
forms: repeated derivatives of scalar functions, Hessians, and Newton's method (which
needs second derivatives to converge quadratically).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import chainrule as cr


def derivatives(f: Callable[[cr.Tensor], cr.Tensor], x0: float, n: int) -> list[float]:
    """[f(x0), f'(x0), ..., f^(n)(x0)] by differentiating n times."""
    x = cr.tensor(x0, requires_grad=True)
    y = f(x)
    out = [y.item()]
    for k in range(n):
        (y,) = cr.grad(y, x, create_graph=k < n - 1)
        out.append(y.item())
    return out


def hessian(f: Callable[[cr.Tensor], cr.Tensor], x0: np.ndarray) -> np.ndarray:
    """The Hessian of a scalar f at x0, one row per element of the gradient."""
    x = cr.tensor(np.asarray(x0, dtype=np.float64), requires_grad=True)
    (g,) = cr.grad(f(x), x, create_graph=True)
    g = g.reshape(-1)
    rows = []
    for i in range(g.shape[0]):
        (row,) = cr.grad(g[i], x, retain_graph=True, allow_unused=True)
        rows.append(np.zeros(x.size) if row is None else row.detach().numpy().reshape(-1))
    return np.array(rows)


@pytest.mark.parametrize("x0", [-1.3, -0.2, 0.0, 0.4, 1.7])
def test_first_four_derivatives_of_tanh(x0: float) -> None:
    t = np.tanh(x0)
    d1 = 1 - t ** 2
    expected = [t, d1, -2 * t * d1, (6 * t ** 2 - 2) * d1, (16 * t - 24 * t ** 3) * d1]
    got = derivatives(cr.tanh, x0, 4)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x0", [-2.0, -0.7, 0.0, 0.3, 1.0, 2.5])
def test_first_four_derivatives_of_quartic(x0: float) -> None:
    got = derivatives(lambda x: x ** 4 - 2 * x ** 2, x0, 4)
    expected = [x0 ** 4 - 2 * x0 ** 2, 4 * x0 ** 3 - 4 * x0, 12 * x0 ** 2 - 4, 24 * x0, 24.0]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_fifth_derivative_of_quartic_is_zero() -> None:
    x = cr.tensor(1.5, requires_grad=True)
    y = x ** 4 - 2 * x ** 2
    for _ in range(4):
        (y,) = cr.grad(y, x, create_graph=True)
    assert y.item() == pytest.approx(24.0, abs=1e-12)
    # The constant 24 may come out with no graph at all (nothing left depends on x);
    # if it does carry one, differentiating it gives zero.
    if y.requires_grad:
        (d5,) = cr.grad(y, x, allow_unused=True)
        assert d5 is None or d5.item() == 0.0


@pytest.mark.parametrize("x0", [-2.0, 0.0, 0.5])
def test_derivatives_of_sigmoid(x0: float) -> None:
    s = 1 / (1 + np.exp(-x0))
    expected = [s, s * (1 - s), s * (1 - s) * (1 - 2 * s),
                s * (1 - s) * (1 - 6 * s + 6 * s ** 2)]
    np.testing.assert_allclose(derivatives(cr.sigmoid, x0, 3), expected, rtol=1e-12,
                               atol=1e-14)


@pytest.mark.parametrize(("f", "closed"), [
    (cr.exp, lambda x: [np.exp(x)] * 4),
    (cr.sin, lambda x: [np.sin(x), np.cos(x), -np.sin(x), -np.cos(x)]),
    (cr.cos, lambda x: [np.cos(x), -np.sin(x), -np.cos(x), np.sin(x)]),
    (cr.log, lambda x: [np.log(x), 1 / x, -1 / x ** 2, 2 / x ** 3]),
    (cr.sqrt, lambda x: [np.sqrt(x), 0.5 * x ** -0.5, -0.25 * x ** -1.5, 0.375 * x ** -2.5]),
    (lambda x: 1 / x, lambda x: [1 / x, -1 / x ** 2, 2 / x ** 3, -6 / x ** 4]),
    (lambda x: 2.0 ** x, lambda x: [2 ** x * np.log(2) ** k for k in range(4)]),
])
def test_third_derivatives_of_elementary_functions(f, closed) -> None:
    x0 = 0.7
    np.testing.assert_allclose(derivatives(f, x0, 3), closed(x0), rtol=1e-12, atol=1e-14)


def test_mixed_partials_are_symmetric_and_correct() -> None:
    x = cr.tensor(0.3, requires_grad=True)
    y = cr.tensor(-1.1, requires_grad=True)
    f = x ** 2 * y + cr.sin(x) * cr.exp(y)
    gx, gy = cr.grad(f, [x, y], create_graph=True)
    (gxy,) = cr.grad(gx, y, retain_graph=True)
    (gyx,) = cr.grad(gy, x)
    expected = 2 * 0.3 + np.cos(0.3) * np.exp(-1.1)
    assert gxy.item() == pytest.approx(expected, rel=1e-14)
    assert gyx.item() == pytest.approx(expected, rel=1e-14)


def test_hessian_of_quadratic_plus_exp() -> None:
    a = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, -0.3], [0.0, -0.3, 3.0]])
    v0 = np.array([0.2, -0.4, 0.1])

    def f(v: cr.Tensor) -> cr.Tensor:
        return 0.5 * (v @ cr.tensor(a) @ v) + cr.exp(v).sum()

    np.testing.assert_allclose(hessian(f, v0), a + np.diag(np.exp(v0)), rtol=1e-12)


def test_hessian_of_logsumexp_is_diag_p_minus_ppT() -> None:
    z0 = np.array([0.5, -1.0, 2.0, 0.0])
    p = np.exp(z0 - np.log(np.exp(z0).sum()))
    np.testing.assert_allclose(hessian(cr.logsumexp, z0), np.diag(p) - np.outer(p, p),
                               atol=1e-14)


def test_hessian_of_softmax_cross_entropy_wrt_logits() -> None:
    z0 = np.array([[0.5, -1.0, 2.0], [0.1, 0.2, -0.3]])
    t = np.array([2, 0])
    h = hessian(lambda z: cr.softmax_cross_entropy(z, t), z0)
    expected = np.zeros((6, 6))
    for n in range(2):
        p = np.exp(z0[n]) / np.exp(z0[n]).sum()
        expected[3 * n:3 * n + 3, 3 * n:3 * n + 3] = (np.diag(p) - np.outer(p, p)) / 2
    np.testing.assert_allclose(h, expected, atol=1e-14)


def test_hessian_of_matrix_function() -> None:
    """f(W) = sum(tanh(x @ W)): d2f/dW_ij dW_kl = x_i x_k tanh''(h_j) [j == l]."""
    x = np.array([0.3, -0.7])
    w0 = np.array([[0.1, -0.4, 0.5], [0.2, 0.3, -0.6]])
    h = hessian(lambda w: cr.tanh(cr.tensor(x) @ w).sum(), w0)
    t = np.tanh(x @ w0)
    d2 = -2 * t * (1 - t ** 2)
    expected = np.zeros((6, 6))
    for i in range(2):
        for j in range(3):
            for k in range(2):
                expected[i * 3 + j, k * 3 + j] = x[i] * x[k] * d2[j]
    np.testing.assert_allclose(h, expected, atol=1e-14)


def test_newton_1d_converges_in_a_handful_of_steps() -> None:
    """Minimise x^4 - 2x^2 (minimisers +-1) from x = 2 with x <- x - f'(x)/f''(x)."""
    x = 2.0
    steps = 0
    while steps < 20:
        steps += 1
        xt = cr.tensor(x, requires_grad=True)
        (g,) = cr.grad(xt ** 4 - 2 * xt ** 2, xt, create_graph=True)
        (h,) = cr.grad(g, xt)
        x = x - g.item() / h.item()
        if abs(x - 1.0) < 1e-15:
            break
    assert x == pytest.approx(1.0, abs=1e-15)
    assert steps <= 7


def test_newton_2d_on_rosenbrock() -> None:
    """Newton's method on Rosenbrock's function from the classic start (-1.2, 1)."""

    def rosenbrock(v: cr.Tensor) -> cr.Tensor:
        return (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2

    v = np.array([-1.2, 1.0])
    steps = 0
    while steps < 12:
        steps += 1
        vt = cr.tensor(v, requires_grad=True)
        (g,) = cr.grad(rosenbrock(vt), vt, create_graph=True)
        hess = np.stack([cr.grad(g[i], vt,
                retain_graph=True)[0].detach().numpy() for i in range(2)])
        x0, x1 = v
        expected = np.array([[2 - 400 * (x1 - x0 ** 2) + 800 * x0 ** 2, -400 * x0],
                             [-400 * x0, 200.0]])
        np.testing.assert_allclose(hess, expected, rtol=1e-12)
        v = v - np.linalg.solve(hess, g.detach().numpy())
        if np.max(np.abs(v - 1.0)) < 1e-14:
            break
    np.testing.assert_allclose(v, [1.0, 1.0], atol=1e-14)
    assert steps <= 7  # the textbook count for pure Newton from (-1.2, 1) is 6


def test_hessian_vector_product_without_forming_the_hessian() -> None:
    """Pearlmutter's trick: d/dx <grad f(x), u> = H u."""
    a = np.array([[3.0, 1.0], [1.0, 2.0]])
    x = cr.tensor([0.4, -0.2], requires_grad=True)
    u = np.array([1.0, -2.0])
    f = 0.5 * (x @ cr.tensor(a) @ x) + cr.sin(x).sum()
    (g,) = cr.grad(f, x, create_graph=True)
    (hu,) = cr.grad((g * cr.tensor(u)).sum(), x)
    expected = (a - np.diag(np.sin([0.4, -0.2]))) @ u
    np.testing.assert_allclose(hu.detach().numpy(), expected, rtol=1e-13)


def test_gradient_penalty_style_double_backward_into_dot_grad() -> None:
    """Differentiate a function of the gradient (as in WGAN-GP) with backward()."""
    w = cr.tensor([0.5, -1.5], requires_grad=True)
    x = cr.tensor([2.0, 3.0], requires_grad=True)
    y = cr.tanh((w * x).sum())
    (gx,) = cr.grad(y, x, create_graph=True)
    penalty = (gx * gx).sum()
    penalty.backward()
    # gx = (1 - t^2) w; penalty = (1 - t^2)^2 |w|^2, with t = tanh(w.x).
    s = float(np.dot([0.5, -1.5], [2.0, 3.0]))
    t = np.tanh(s)
    d = 1 - t ** 2
    w0 = np.array([0.5, -1.5])
    x0 = np.array([2.0, 3.0])
    dd_ds = -2 * t * d
    expected_w = 2 * d * w0 * d + (w0 @ w0) * 2 * d * dd_ds * x0
    expected_x = (w0 @ w0) * 2 * d * dd_ds * w0
    np.testing.assert_allclose(w.grad.numpy(), expected_w, rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), expected_x, rtol=1e-12)
