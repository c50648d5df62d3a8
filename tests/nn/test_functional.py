"""nn.functional: loss values worked out by hand, stability, gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F


def rand(*shape, seed=0, requires_grad=True, scale=1.0):
    return cr.tensor(np.random.default_rng(seed).standard_normal(shape) * scale,
                     requires_grad=requires_grad)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# ---------------------------------------------------------------------- wrappers
def test_thin_wrappers_call_the_gates():
    x = rand(3, 4)
    w, b = rand(4, 2, seed=1), rand(2, seed=2)
    np.testing.assert_allclose(F.linear(x, w, b).data, x.data @ w.data + b.data)
    assert F.affine is F.linear
    assert type(F.linear(x, w).creator).__name__ == "Affine"
    np.testing.assert_allclose(F.relu(x).data, np.maximum(x.data, 0))
    np.testing.assert_allclose(F.sigmoid(x).data, sigmoid(x.data))
    np.testing.assert_allclose(F.tanh(x).data, np.tanh(x.data))
    e = np.exp(x.data - x.data.max(axis=1, keepdims=True))
    np.testing.assert_allclose(F.softmax(x).data, e / e.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(F.log_softmax(x, axis=0).data,
                               x.data - np.log(np.exp(x.data).sum(axis=0, keepdims=True)))


# ---------------------------------------------------------------------- cross-entropy
def test_cross_entropy_by_hand():
    # Equal logits over 2 classes: loss log 2 for either target.
    assert F.softmax_cross_entropy(cr.tensor([[0.0, 0.0]]), [1]).item() == \
        pytest.approx(math.log(2))
    # logits (ln 1, ln 3): p = (1/4, 3/4)
    logits = cr.tensor([[0.0, math.log(3)], [0.0, math.log(3)]], requires_grad=True)
    loss = F.cross_entropy(logits, np.array([1, 0]))
    assert loss.item() == pytest.approx((-math.log(0.75) - math.log(0.25)) / 2)
    loss.backward()
    # (softmax - onehot) / N
    np.testing.assert_allclose(logits.grad.data, [[0.25 / 2, -0.25 / 2], [-0.75 / 2, 0.75 / 2]])


def test_cross_entropy_indices_and_one_hot_agree():
    x = rand(5, 4)
    t = np.array([3, 0, 1, 1, 2])
    onehot = np.eye(4)[t]
    assert F.cross_entropy(x, t).item() == pytest.approx(F.cross_entropy(x, onehot).item())
    assert F.cross_entropy(x, cr.tensor(t)).item() == pytest.approx(
        F.cross_entropy(x, t).item())
    per = F.cross_entropy(x, t, reduction="none")
    assert per.shape == (5,)
    assert F.cross_entropy(x, t, reduction="sum").item() == pytest.approx(per.data.sum())
    assert cr.gradcheck(lambda x: F.cross_entropy(x, t), [x])
    assert cr.gradcheck(lambda x: F.cross_entropy(x, onehot, reduction="none"), [x])


def test_cross_entropy_errors():
    with pytest.raises(ValueError, match="out of range for 3 classes"):
        F.cross_entropy(rand(2, 3), [0, 3])
    with pytest.raises(cr.ShapeError):
        F.cross_entropy(rand(2, 3), [0, 1, 2])
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(rand(2, 3), [0, 1], reduction="avg")


def test_cross_entropy_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((6, 5)) * 4
    t = np.array([0, 4, 2, 2, 1, 3])
    ours = cr.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    a = F.cross_entropy(ours, t)
    b = torch.nn.functional.cross_entropy(theirs, torch.tensor(t))
    assert a.item() == pytest.approx(b.item(), rel=1e-12)
    a.backward()
    b.backward()
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-10, atol=1e-15)


# ---------------------------------------------------------------------- MSE
def test_mse_by_hand_and_gradient():
    y = cr.tensor([1.0, 2.0, 4.0], requires_grad=True)
    loss = F.mse_loss(y, [1.0, 0.0, 1.0])
    assert loss.item() == pytest.approx((0 + 4 + 9) / 3)
    loss.backward()
    np.testing.assert_allclose(y.grad.data, [0, 2 * 2 / 3, 2 * 3 / 3])
    assert F.mse_loss(y, [1.0, 0.0, 1.0], reduction="sum").item() == 13
    np.testing.assert_array_equal(F.mse_loss(y, [1.0, 0.0, 1.0], reduction="none").data,
                                  [0, 4, 9])
    t = rand(4, 3, seed=5, requires_grad=True)
    assert cr.gradcheck(lambda a, b: F.mse_loss(a, b), [rand(4, 3), t])


def test_mse_refuses_silent_broadcasting():
    with pytest.raises(cr.ShapeError, match=r"input of shape \(4, 1\) and target of shape "
                                            r"\(4,\) differ"):
        F.mse_loss(rand(4, 1), np.zeros(4))


# ---------------------------------------------------------------------- BCE with logits
def test_bce_with_logits_matches_the_definition():
    x = rand(3, 4, scale=3)
    t = np.random.default_rng(1).random((3, 4))
    p = sigmoid(x.data)
    expect = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    losses = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    np.testing.assert_allclose(losses.data, expect, rtol=1e-12)
    loss = F.binary_cross_entropy_with_logits(x, t)
    assert loss.item() == pytest.approx(expect.mean(), rel=1e-12)
    loss.backward()
    np.testing.assert_allclose(x.grad.data, (p - t) / 12, rtol=1e-10)
    assert cr.gradcheck(lambda a: F.binary_cross_entropy_with_logits(a, t), [x])
    tt = cr.tensor(t, requires_grad=True)
    assert cr.gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="sum"),
                        [x, tt])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_with_logits_is_stable_at_1e4(dtype):
    x = cr.tensor(np.array([1e4, 1e4, -1e4, -1e4], dtype), requires_grad=True)
    t = np.array([1.0, 0.0, 1.0, 0.0], dtype)
    losses = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    assert losses.dtype == dtype
    np.testing.assert_array_equal(losses.data, [0.0, 1e4, 1e4, 0.0])
    losses.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, -1.0, 0.0])  # sigmoid(x) - t
    assert cr.gradcheck(lambda a: F.binary_cross_entropy_with_logits(a, t[:2].astype(float)),
                        [cr.tensor([1e4, -1e4], requires_grad=True)])


def test_bce_with_logits_gradient_is_exact_at_zero():
    # relu'(0) = abs'(0) = 0 would give -t; the tie rule of Maximum gives sigmoid(0) - t.
    x = cr.tensor([0.0, 0.0, 0.0], requires_grad=True)
    t = np.array([0.0, 1.0, 0.25])
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="sum")
    assert loss.item() == pytest.approx(3 * math.log(2))
    loss.backward()
    np.testing.assert_allclose(x.grad.data, [0.5, -0.5, 0.25])
    assert cr.gradcheck(lambda a: F.binary_cross_entropy_with_logits(a, t), [x])


def test_bce_with_logits_matches_torch_and_checks_shapes():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal(7) * 20
    t = (np.random.default_rng(3).random(7) > 0.5).astype(float)
    a = F.binary_cross_entropy_with_logits(x, t).item()
    b = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(x),
                                                             torch.tensor(t)).item()
    assert a == pytest.approx(b, rel=1e-12)
    assert F.binary_cross_entropy_with_logits(x, t.astype(int)).item() == pytest.approx(a)
    with pytest.raises(cr.ShapeError, match=r"\(3, 1\) and target of shape \(3,\) differ"):
        F.binary_cross_entropy_with_logits(np.zeros((3, 1)), np.zeros(3))


# ---------------------------------------------------------------------- hinge loss
def svm_loss_naive(scores: np.ndarray, y: np.ndarray, margin: float = 1.0):
    """cs231n's loop version: the loss and dL/dscores."""
    n, c = scores.shape
    loss = 0.0
    ds = np.zeros_like(scores)
    for i in range(n):
        for j in range(c):
            if j == y[i]:
                continue
            m = scores[i, j] - scores[i, y[i]] + margin
            if m > 0:
                loss += m
                ds[i, j] += 1
                ds[i, y[i]] -= 1
    return loss / n, ds / n


def test_hinge_loss_by_hand():
    # cs231n's example: scores of the cat image (3.2, 5.1, -1.7), correct class cat (0):
    # max(0, 5.1 - 3.2 + 1) + max(0, -1.7 - 3.2 + 1) = 2.9 + 0
    s = cr.tensor([[3.2, 5.1, -1.7]], requires_grad=True)
    loss = F.hinge_loss(s, [0])
    assert loss.item() == pytest.approx(2.9)
    loss.backward()
    np.testing.assert_allclose(s.grad.data, [[-1.0, 1.0, 0.0]])
    # car (1.3, 4.9, 2.0) with correct class car: 0; frog (2.2, 2.5, -3.1), frog: 12.9
    batch = cr.tensor([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
    assert F.hinge_loss(batch, [0, 1, 2]).item() == pytest.approx((2.9 + 0 + 12.9) / 3)
    np.testing.assert_allclose(F.hinge_loss(batch, [0, 1, 2], reduction="none").data,
                               [2.9, 0.0, 12.9])


def test_hinge_loss_matches_the_naive_loop_and_gradcheck():
    scores = rand(8, 5, scale=2)
    y = np.array([0, 4, 1, 1, 3, 2, 0, 4])
    loss = F.hinge_loss(scores, y)
    expect, ds = svm_loss_naive(scores.data, y)
    assert loss.item() == pytest.approx(expect)
    loss.backward()
    np.testing.assert_allclose(scores.grad.data, ds)
    assert cr.gradcheck(lambda s: F.hinge_loss(s, y), [rand(8, 5, seed=1, scale=2)])
    assert cr.gradcheck(lambda s: F.hinge_loss(s, y, margin=0.3, reduction="none"),
                        [rand(8, 5, seed=2)])
    np.testing.assert_allclose(F.hinge_loss(scores, np.eye(5)[y]).item(), expect)


def test_hinge_loss_errors():
    with pytest.raises(cr.ShapeError, match=r"shape \(N, C\)"):
        F.hinge_loss(rand(3), [0])
    with pytest.raises(ValueError, match="out of range for 3 classes"):
        F.hinge_loss(rand(2, 3), [0, -1])
    with pytest.raises(ValueError, match="one-hot"):
        F.hinge_loss(rand(2, 3), np.full((2, 3), 0.5))
    with pytest.raises(cr.ShapeError, match=r"expected shape \(2,\)"):
        F.hinge_loss(rand(2, 3), [0, 1, 2])
