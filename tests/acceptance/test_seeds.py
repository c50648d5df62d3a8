"""The worked examples of the seed notes, reproduced exactly (/work/shared/seeds).

Each test names the note it comes from. Where the note computes by hand with layer
objects (MulLayer, AddLayer...), the test drives chainrule's gates by hand the same
way; where it draws a graph, the test builds it with tensors and calls backward().
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import ops


def leaf(v) -> cr.Tensor:
    return cr.tensor(v, requires_grad=True)


# ---------------------------------------------------------------------- seed 004
def test_shopping_by_hand_with_mul_gates() -> None:
    """2 apples at 100 with 10% tax: the book's MulLayer code, line for line."""
    apple, apple_num, tax = 100, 2, 1.1
    mul_apple_layer = ops.Mul()
    mul_tax_layer = ops.Mul()

    apple_price = mul_apple_layer.forward(apple, apple_num)
    price = mul_tax_layer.forward(apple_price, tax)
    assert apple_price == 200
    assert price == pytest.approx(220)
    assert price == 220.00000000000003  # exactly what Python's 200 * 1.1 gives

    dprice = 1
    dapple_price, dtax = mul_tax_layer.backward(dprice)
    dapple, dapple_num = mul_apple_layer.backward(dapple_price)
    assert dapple == 2.2
    assert dapple_num == pytest.approx(110)
    assert dapple_num == 100 * 1.1  # 110.00000000000001
    assert dtax == 200
    assert dapple_price == 1.1


def test_shopping_with_tensors() -> None:
    apple, num, tax = leaf(100.0), leaf(2.0), leaf(1.1)
    price = apple * num * tax
    assert price.item() == pytest.approx(220)
    assert price.item() == 220.00000000000003
    price.backward()
    assert apple.grad.item() == pytest.approx(2.2)
    assert num.grad.item() == pytest.approx(110)
    assert tax.grad.item() == 200


def test_shopping_apples_and_oranges_with_add_gate() -> None:
    """The book's second figure: + 3 oranges at 150, joined by an AddLayer: 715."""
    mul_apple, mul_orange, add, mul_tax = ops.Mul(), ops.Mul(), ops.Add(), ops.Mul()
    apple_price = mul_apple.forward(100.0, 2.0)
    orange_price = mul_orange.forward(150.0, 3.0)
    all_price = add.forward(apple_price, orange_price)
    price = mul_tax.forward(all_price, 1.1)
    assert price == pytest.approx(715)

    dall_price, dtax = mul_tax.backward(1.0)
    dapple_price, dorange_price = add.backward(dall_price)
    dorange, dorange_num = mul_orange.backward(dorange_price)
    dapple, dapple_num = mul_apple.backward(dapple_price)
    assert (dapple, dorange, dtax) == (pytest.approx(2.2), pytest.approx(3.3), 650)
    assert (dapple_num, dorange_num) == (pytest.approx(110), pytest.approx(165))


def test_chain_rule_on_square_of_sum() -> None:
    """z = (x + y)^2 = t^2 with t = x + y: dz/dx = 2t * 1 = 2(x + y)."""
    x, y = leaf(1.5), leaf(-4.0)
    t = x + y
    t.retain_grad()
    z = t ** 2
    z.backward()
    assert t.grad.item() == 2 * (1.5 - 4.0)
    assert x.grad.item() == 2 * (1.5 - 4.0)
    assert y.grad.item() == 2 * (1.5 - 4.0)


# ---------------------------------------------------------------------- seed 001
def test_f_equals_a_plus_b_times_b_plus_c() -> None:
    a, b, c = leaf(-1.0), leaf(3.0), leaf(4.0)
    x = a + b
    y = b + c
    x.retain_grad()
    y.retain_grad()
    f = x * y
    f.backward()
    assert f.item() == 14.0
    assert x.grad.item() == 7.0  # df/dx = y
    assert y.grad.item() == 2.0  # df/dy = x
    assert a.grad.item() == 7.0
    assert b.grad.item() == 9.0
    assert c.grad.item() == 2.0


def test_f_equals_a_plus_b_times_b_plus_c_by_hand() -> None:
    add_x, add_y, mul = ops.Add(), ops.Add(), ops.Mul()
    x = add_x.forward(-1.0, 3.0)
    y = add_y.forward(3.0, 4.0)
    assert mul.forward(x, y) == 14.0
    dx, dy = mul.backward(1.0)
    da, db1 = add_x.backward(dx)
    db2, dc = add_y.backward(dy)
    assert (da, db1 + db2, dc) == (7.0, 9.0, 2.0)


def test_sigmoid_derivative_is_y_times_one_minus_y() -> None:
    xs = np.linspace(-6, 6, 13)
    x = leaf(xs)
    y = cr.sigmoid(x)
    y.sum().backward()
    yv = 1 / (1 + np.exp(-xs))
    np.testing.assert_allclose(y.detach().numpy(), yv, rtol=1e-15)
    np.testing.assert_allclose(x.grad.numpy(), yv * (1 - yv), rtol=1e-14)


def test_relu_passes_gradient_only_where_x_is_positive() -> None:
    relu = ops.ReLU()
    out = relu.forward(np.array([-2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(out, [0.0, 0.0, 3.0])
    np.testing.assert_array_equal(relu.backward(np.array([5.0, 5.0, 5.0])), [0.0, 0.0, 5.0])


def test_affine_single_sample_shapes() -> None:
    """X (2,), W (2, 3) -> Y (3,); dX = dY W^T is (2,), dW = X^T dY is (2, 3)."""
    rng = np.random.default_rng(1)
    xv, wv, bv = rng.standard_normal(2), rng.standard_normal((2, 3)), rng.standard_normal(3)
    dy = rng.standard_normal(3)

    affine = ops.Affine()
    y = affine.forward(xv, wv, bv)
    assert y.shape == (3,)
    dx, dw, db = affine.backward(dy)
    assert dx.shape == (2,) and dw.shape == (2, 3) and db.shape == (3,)
    np.testing.assert_allclose(dx, dy @ wv.T, rtol=1e-15)
    np.testing.assert_allclose(dw, np.outer(xv, dy), rtol=1e-15)
    np.testing.assert_array_equal(db, dy)

    # The same through the engine, with the plain matmul of the note (Y = X . W).
    x, w = leaf(xv), leaf(wv)
    (x @ w).backward(dy)
    assert x.grad.shape == (2,) and w.grad.shape == (2, 3)
    np.testing.assert_allclose(x.grad.numpy(), dy @ wv.T, rtol=1e-15)
    np.testing.assert_allclose(w.grad.numpy(), np.outer(xv, dy), rtol=1e-15)


@pytest.mark.parametrize("n", [1, 2, 5])
def test_affine_batch_bias_gradient_is_summed_over_the_batch(n: int) -> None:
    """X (N, 3), W (3, 2), B (2,): dB = dY summed over the N rows."""
    rng = np.random.default_rng(n)
    xv, wv, bv = rng.standard_normal((n, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    dy = rng.standard_normal((n, 2))
    x, w, b = leaf(xv), leaf(wv), leaf(bv)
    y = cr.affine(x, w, b)
    assert y.shape == (n, 2)
    y.backward(dy)
    assert (x.grad.shape, w.grad.shape, b.grad.shape) == ((n, 3), (3, 2), (2,))
    np.testing.assert_allclose(x.grad.numpy(), dy @ wv.T, rtol=1e-14)
    np.testing.assert_allclose(w.grad.numpy(), xv.T @ dy, rtol=1e-14)
    np.testing.assert_allclose(b.grad.numpy(), dy.sum(axis=0), rtol=1e-14)
    # By hand, the gate returns the same.
    gate = ops.Affine()
    gate.forward(xv, wv, bv)
    _, _, db = gate.backward(dy)
    np.testing.assert_allclose(db, dy.sum(axis=0), rtol=1e-14)


# ---------------------------------------------------------------------- seed 000
def test_sigmoid_through_exp_add_and_reciprocal_gates_by_hand() -> None:
    """The decomposed sigmoid: x -> (x -1) -> exp -> (+1) -> (1/x)."""
    x = 0.7
    neg, exp, add, inv = ops.Mul(), ops.Exp(), ops.Add(), ops.Div()
    a = neg.forward(x, -1.0)
    b = exp.forward(a)
    c = add.forward(b, 1.0)
    y = inv.forward(1.0, c)
    assert y == pytest.approx(1 / (1 + np.exp(-x)), rel=1e-15)

    _, dc = inv.backward(1.0)
    assert dc == pytest.approx(-y ** 2, rel=1e-15)  # d(1/x) = -y^2, the note's rule
    db, _ = add.backward(dc)
    assert db == dc  # the add node passes the gradient through
    da = exp.backward(db)
    assert da == pytest.approx(db * np.exp(-x), rel=1e-15)
    dx, _ = neg.backward(da)
    assert dx == pytest.approx(y * (1 - y), rel=1e-14)

    fused = ops.Sigmoid()
    assert fused.forward(x) == pytest.approx(y, rel=1e-15)
    assert fused.backward(1.0) == pytest.approx(dx, rel=1e-14)


@pytest.mark.parametrize("reciprocal", ["div", "pow"])
def test_sigmoid_decomposed_graph_equals_fused_gate(reciprocal: str) -> None:
    xs = np.array([-5.0, -1.0, 0.0, 0.3, 2.0, 8.0])
    x1 = leaf(xs)
    c = cr.exp(-x1) + 1.0
    y1 = 1.0 / c if reciprocal == "div" else c ** -1
    y1.sum().backward()
    x2 = leaf(xs)
    y2 = cr.sigmoid(x2)
    y2.sum().backward()
    np.testing.assert_allclose(y1.detach().numpy(), y2.detach().numpy(), rtol=1e-15)
    # 1 - y loses a few digits where y is close to 1 (x = 8), hence rtol 1e-12.
    np.testing.assert_allclose(x1.grad.numpy(), y2.detach().numpy() * (1 - y2.detach().numpy()),
            rtol=1e-12)
    np.testing.assert_allclose(x1.grad.numpy(), x2.grad.numpy(), rtol=1e-12)


def test_common_variable_sums_its_gradients() -> None:
    """A value used by several nodes (the note's "common variable") gets the sum."""
    x = leaf(2.0)
    w1, w2, w3 = cr.tensor(3.0), cr.tensor(-1.0), cr.tensor(0.5)
    y = x * w1 + x * w2 + x * w3
    y.backward()
    assert x.grad.item() == 2.5


def test_gradient_check_on_a_two_layer_net() -> None:
    """The notes' final step: backprop of a two-layer net agrees with numerical
    differentiation."""
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((4, 5)))
    t = np.array([0, 2, 1, 2])
    params = [leaf(rng.standard_normal((5, 6)) * 0.5), leaf(np.zeros(6) + 0.1),
              leaf(rng.standard_normal((6, 3)) * 0.5), leaf(np.zeros(3))]

    def loss(w1, b1, w2, b2):
        h = cr.relu(cr.affine(x, w1, b1))
        return cr.softmax_cross_entropy(cr.affine(h, w2, b2), t)

    assert cr.gradcheck(loss, params)


# ---------------------------------------------------------------------- seed 002
def test_cs231n_sigmoid_example() -> None:
    w0, x0, w1, x1, w2 = (leaf(v) for v in (2.0, -1.0, -3.0, -2.0, -3.0))
    dot = w0 * x0 + w1 * x1 + w2
    dot.retain_grad()
    f = 1.0 / (1.0 + cr.exp(-dot))
    f.backward()
    assert round(f.item(), 2) == 0.73
    assert round(dot.grad.item(), 2) == 0.2
    sigma = f.item()
    assert (1 - sigma) * sigma == pytest.approx(dot.grad.item(), rel=1e-14)
    grads = {name: round(t.grad.item(), 2)
             for name, t in zip(["w0", "x0", "w1", "x1", "w2"], [w0, x0, w1, x1, w2])}
    assert grads == {"w0": -0.2, "x0": 0.39, "w1": -0.39, "x1": -0.59, "w2": 0.2}


def test_cs231n_sigmoid_gate_in_one_step() -> None:
    """Replace the four-gate tail with one sigmoid gate: same 0.2."""
    w0, x0, w1, x1, w2 = (leaf(v) for v in (2.0, -1.0, -3.0, -2.0, -3.0))
    f = cr.sigmoid(w0 * x0 + w1 * x1 + w2)
    f.backward()
    assert round(w2.grad.item(), 2) == 0.2
    assert w0.grad.item() == pytest.approx(-1 * w2.grad.item(), rel=1e-15)
    assert x1.grad.item() == pytest.approx(-3 * w2.grad.item(), rel=1e-15)


def test_cs231n_gate_patterns() -> None:
    """add distributes, max routes, mul swaps."""
    x, y = leaf(3.0), leaf(-4.0)
    (x + y).backward(cr.tensor(2.0))
    assert (x.grad.item(), y.grad.item()) == (2.0, 2.0)
    x, y = leaf(3.0), leaf(-4.0)
    cr.maximum(x, y).backward(cr.tensor(2.0))
    assert (x.grad.item(), y.grad.item()) == (2.0, 0.0)
    x, y = leaf(3.0), leaf(-4.0)
    (x * y).backward(cr.tensor(2.0))
    assert (x.grad.item(), y.grad.item()) == (-8.0, 6.0)


def test_cs231n_vectorized_gradient_has_the_variable_shape() -> None:
    """f(x, W) = ||W x||^2: grad_W = 2 q x^T, grad_x = 2 W^T q, with q = W x."""
    wv = np.array([[0.1, 0.5], [-0.3, 0.8]])
    xv = np.array([0.2, 0.4])
    w, x = leaf(wv), leaf(xv)
    q = w @ x
    f = (q * q).sum()
    f.backward()
    qv = wv @ xv
    assert f.item() == pytest.approx(0.116, rel=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), 2 * np.outer(qv, xv), rtol=1e-14)
    np.testing.assert_allclose(x.grad.numpy(), 2 * wv.T @ qv, rtol=1e-14)
    assert w.grad.shape == w.shape and x.grad.shape == x.shape


def test_cs231n_multiply_gate_object() -> None:
    """The lecture's gate object: forward(x, y) saves what backward(dz) needs."""
    gate = ops.Mul()
    z = gate.forward(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    np.testing.assert_array_equal(z, [3.0, 8.0])
    dx, dy = gate.backward(np.array([1.0, -1.0]))
    np.testing.assert_array_equal(dx, [3.0, -4.0])
    np.testing.assert_array_equal(dy, [1.0, -2.0])


# ---------------------------------------------------------------------- seed 003
@pytest.mark.parametrize(("s0", "t0"), [(0.5, 1.2), (-1.0, 0.3), (2.0, -2.5)])
def test_z_equals_x_squared_minus_y_squared(s0: float, t0: float) -> None:
    s, t = leaf(s0), leaf(t0)
    x = s - cr.sin(t)
    y = cr.exp(s) + cr.cos(t)
    z = x ** 2 - y ** 2
    z.backward()
    xv = s0 - np.sin(t0)
    yv = np.exp(s0) + np.cos(t0)
    assert z.item() == pytest.approx(xv ** 2 - yv ** 2, rel=1e-15)
    assert s.grad.item() == pytest.approx(2 * xv - 2 * yv * np.exp(s0), rel=1e-14)
    assert t.grad.item() == pytest.approx(-2 * xv * np.cos(t0) + 2 * yv * np.sin(t0),
                                          rel=1e-14)


def test_vector_chain_rule_with_hadamard_product_and_mean() -> None:
    """x = s ⊙ t, y = s - t, z = (1/n) Σ (x_i + y_i) (our reading of the note's "mean
    of x, y"): dz/ds = (t + 1)/n and dz/dt = (s - 1)/n, shaped like s and t."""
    sv = np.array([0.5, -1.0, 2.0, 1.5, 0.0])
    tv = np.array([1.0, 3.0, -0.5, 0.25, 2.0])
    n = sv.size
    s, t = leaf(sv), leaf(tv)
    z = cr.mean(s * t + (s - t))
    z.backward()
    assert z.item() == pytest.approx(np.mean(sv * tv + sv - tv), rel=1e-15)
    np.testing.assert_allclose(s.grad.numpy(), (tv + 1) / n, rtol=1e-15)
    np.testing.assert_allclose(t.grad.numpy(), (sv - 1) / n, rtol=1e-15)
    assert s.grad.shape == (n,) and t.grad.shape == (n,)


def test_vector_version_of_x_squared_minus_y_squared() -> None:
    """The scalar example lifted to vectors with the Hadamard product:
    z = mean(x ⊙ x - y ⊙ y), x = s ⊙ t, y = s - t."""
    sv = np.array([0.5, -1.0, 2.0])
    tv = np.array([1.0, 3.0, -0.5])
    s, t = leaf(sv), leaf(tv)
    x = s * t
    y = s - t
    z = cr.mean(x * x - y * y)
    z.backward()
    xv, yv, n = sv * tv, sv - tv, sv.size
    np.testing.assert_allclose(s.grad.numpy(), (2 * xv * tv - 2 * yv) / n, rtol=1e-14)
    np.testing.assert_allclose(t.grad.numpy(), (2 * xv * sv + 2 * yv) / n, rtol=1e-14)


def test_jacobian_shapes_compose() -> None:
    """(m, n) . (n, o) . (o, p) -> (m, p): the Jacobian of a composition, row by row
    from backprop, equals the product of the three Jacobians."""
    m, n, o, p = 2, 3, 4, 5
    rng = np.random.default_rng(3)
    a, b, c = (rng.standard_normal(s) for s in ((m, n), (n, o), (o, p)))
    i0 = rng.standard_normal(p)
    i = leaf(i0)
    h = cr.tanh(cr.tensor(c) @ i)
    g = cr.sigmoid(cr.tensor(b) @ h)
    f = cr.tensor(a) @ g
    rows = [cr.grad(f, i, grad_outputs=np.eye(m)[k], retain_graph=True)[0].detach().numpy()
            for k in range(m)]
    jac = np.array(rows)
    assert jac.shape == (m, p)
    hv = np.tanh(c @ i0)
    gv = 1 / (1 + np.exp(-(b @ hv)))
    expected = a @ np.diag(gv * (1 - gv)) @ b @ np.diag(1 - hv ** 2) @ c
    np.testing.assert_allclose(jac, expected, rtol=1e-13, atol=1e-15)
