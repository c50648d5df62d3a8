"""A weight gradient of one sample is an outer product: taken as a broadcast multiply.

``MatMul`` and ``Affine`` backward skip the GEMM when the contracted length is 1 (a
batch of one): the numbers must be those of the matrix product, exactly, for every
layout that reaches that path, and the gradients must still check first and second
order.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import sum_to_array


@pytest.mark.parametrize("xs, ys", [((1, 5), (5, 3)), ((4, 1), (1, 3)), ((2, 1, 5), (5, 3)),
                                    ((3, 4, 1), (1, 6)), ((5,), (5, 3)), ((4, 5), (5,)),
                                    ((1, 4, 1), (3, 1, 2))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_gradients_equal_the_matrix_products(xs, ys, dtype) -> None:
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal(xs).astype(dtype), requires_grad=True)
    y = cr.tensor(rng.standard_normal(ys).astype(dtype), requires_grad=True)
    z = x @ y
    g = rng.standard_normal(z.shape).astype(dtype)
    z.backward(g)
    xd, yd = x.detach().numpy(), y.detach().numpy()
    # The reference: the matrix products, with 1-D operands made 2-D as matmul does
    # and broadcast batch axes summed back as the engine does.
    x2 = xd[None, :] if xd.ndim == 1 else xd
    y2 = yd[:, None] if yd.ndim == 1 else yd
    g2 = np.expand_dims(g, -2) if xd.ndim == 1 else g
    g2 = np.expand_dims(g2, -1) if yd.ndim == 1 else g2
    gx = sum_to_array(np.matmul(g2, np.swapaxes(y2, -1, -2)), x2.shape).reshape(xd.shape)
    gy = sum_to_array(np.matmul(np.swapaxes(x2, -1, -2), g2), y2.shape).reshape(yd.shape)
    np.testing.assert_array_equal(x.grad.numpy(), gx.astype(dtype))
    np.testing.assert_array_equal(y.grad.numpy(), gy.astype(dtype))


@pytest.mark.parametrize("shape", [(1, 7), (7,), (3, 1, 7)])
def test_affine_weight_gradient_of_one_sample_is_the_outer_product(shape) -> None:
    rng = np.random.default_rng(1)
    x = cr.tensor(rng.standard_normal(shape), requires_grad=True)
    w = cr.tensor(rng.standard_normal((7, 4)), requires_grad=True)
    b = cr.tensor(rng.standard_normal(4), requires_grad=True)
    y = cr.affine(x, w, b)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    x2, g2 = x.detach().numpy().reshape(-1, 7), g.reshape(-1, 4)
    np.testing.assert_array_equal(w.grad.numpy(), x2.T @ g2)
    np.testing.assert_array_equal(b.grad.numpy(), g2.sum(0))


@pytest.mark.parametrize("fn", [lambda x, w: x @ w, lambda x, w: cr.affine(x, w)])
def test_one_sample_gradients_check_first_and_second_order(fn) -> None:
    rng = np.random.default_rng(2)
    x = cr.tensor(rng.standard_normal((1, 4)), requires_grad=True)
    w = cr.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    assert cr.gradcheck(lambda a, b: (fn(a, b) ** 2).sum(), (x, w))
    assert cr.gradgradcheck(lambda a, b: (fn(a, b) ** 2).sum(), (x, w))
