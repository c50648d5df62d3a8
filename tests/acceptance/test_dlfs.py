"""Deep Learning from Scratch's chapter 5 programs (examples/dlfs/) run on chainrule's
layers and print the book's figures; the layers follow the book's protocol."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.scratch import AddLayer, Affine, MulLayer, Relu, Sigmoid, SoftmaxWithLoss

ROOT = Path(__file__).resolve().parents[2]
DLFS = ROOT / "examples" / "dlfs"


def run(script: str, *args: str, folder: Path = DLFS) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, str(folder / script), *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False, cwd=ROOT)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_buy_apple_prints_the_book_s_figures() -> None:
    assert run("buy_apple.py").splitlines() == [
        "price: 220.00000000000003", "dApple: 2.2", "dApple_num: 110.00000000000001",
        "dTax: 200"]


def test_buy_apple_orange_prints_the_book_s_figures() -> None:
    assert run("buy_apple_orange.py").splitlines() == [
        "price: 715.0000000000001", "dApple: 2.2", "dApple_num: 110.00000000000001",
        "dOrange: 3.3000000000000003", "dOrange_num: 165.0", "dTax: 650"]


def test_gradient_check_agrees_to_the_book_s_order() -> None:
    out = run("gradient_check.py")
    diffs = {line.split(":")[0]: float(line.split(":")[1]) for line in out.splitlines()
             if line[:2] in ("W1", "b1", "W2", "b2")}
    assert set(diffs) == {"W1", "b1", "W2", "b2"}
    assert all(0 < d < 1e-8 for d in diffs.values()), diffs
    assert "backprop agrees" in out


def test_train_neuralnet_learns() -> None:
    out = run("train_neuralnet.py", "400").splitlines()
    accs = [tuple(map(float, line.split())) for line in out if line[:1] == "0"]
    assert len(accs) == 10                       # one line per epoch of 40 iterations
    assert accs[0][0] < accs[-1][0]
    final = out[-1]
    train_acc = float(final.split("train ")[1].split(",")[0])
    test_acc = float(final.split("test ")[1].split(",")[0])
    assert train_acc > 0.9 and test_acc > 0.85


def test_layers_follow_the_book_s_protocol() -> None:
    mul = MulLayer()
    assert mul.forward(100, 2) == 200 and mul.backward(1) == (2, 100)
    add = AddLayer()
    assert add.forward(1.0, 2.0) == 3.0 and add.backward(1.5) == (1.5, 1.5)
    x = np.array([[1.0, -0.5], [-2.0, 3.0]])
    relu = Relu()
    np.testing.assert_array_equal(relu.forward(x), [[1.0, 0.0], [0.0, 3.0]])
    np.testing.assert_array_equal(relu.backward(np.ones((2, 2))), [[1.0, 0.0], [0.0, 1.0]])
    sig = Sigmoid()
    y = sig.forward(x)
    np.testing.assert_allclose(sig.backward(np.ones((2, 2))), y * (1 - y))
    W, b = np.arange(6.0).reshape(2, 3), np.ones(3)
    aff = Affine(W, b)
    assert aff.W is W and aff.b is b             # the caller's arrays, not copies
    out = aff.forward(x)
    np.testing.assert_allclose(out, x @ W + b)
    dout = np.ones((2, 3))
    dx = aff.backward(dout)
    np.testing.assert_allclose(dx, dout @ W.T)
    np.testing.assert_allclose(aff.dW, x.T @ dout)
    np.testing.assert_allclose(aff.db, dout.sum(0))
    img = np.ones((2, 1, 1, 2))                  # any shape, flattened as in the book
    aff4 = Affine(W, b)
    aff4.forward(img)
    assert aff4.backward(dout).shape == img.shape


@pytest.mark.parametrize("labels", ["indices", "one-hot"])
def test_softmax_with_loss_backward_returns_dx(labels: str) -> None:
    x = np.array([[0.3, 2.9, 4.0], [0.1, 0.2, 0.7]])
    t = np.array([2, 1]) if labels == "indices" else np.eye(3)[[2, 1]]
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, t)
    dx = layer.backward()
    p = np.exp(x) / np.exp(x).sum(1, keepdims=True)
    np.testing.assert_allclose(layer.y, p, rtol=1e-12)
    np.testing.assert_allclose(loss, -np.mean(np.log(p[[0, 1], [2, 1]])), rtol=1e-12)
    np.testing.assert_allclose(dx, (p - np.eye(3)[[2, 1]]) / 2, rtol=1e-12)
    np.testing.assert_allclose(layer.backward(2.0), dx * 2, rtol=1e-12)


def test_numerical_grad_of_a_scratch_net_matches_backprop() -> None:
    sys.path.insert(0, str(DLFS))
    try:
        from two_layer_net import TwoLayerNet
    finally:
        sys.path.remove(str(DLFS))
    rng = np.random.default_rng(0)
    net = TwoLayerNet(4, 5, 3, weight_init_std=0.5)
    x, t = rng.standard_normal((2, 4)), np.array([0, 2])
    num = net.numerical_gradient(x, t)
    bp = net.gradient(x, t)
    for k in num:
        np.testing.assert_allclose(bp[k], num[k], rtol=1e-5, atol=1e-8)
    assert cr.scratch.Affine is Affine


def test_simple_convnet_gradient_check_and_training() -> None:
    out = run("simple_convnet.py", "1", folder=ROOT / "examples").splitlines()
    diffs = {line.split(":")[0]: float(line.split(":")[1]) for line in out
             if line[:2] in ("W1", "b1", "W2", "b2", "W3", "b3")}
    assert set(diffs) == {"W1", "b1", "W2", "b2", "W3", "b3"}
    assert all(0 < d < 1e-8 for d in diffs.values()), diffs
    assert any("backprop agrees with numerical differentiation" in line for line in out)
    acc = float(out[-1].split("test accuracy ")[1])
    assert out[-1].startswith("epoch 1:") and acc > 0.6


def test_convolution_and_pooling_follow_the_book() -> None:
    from chainrule.scratch import Convolution, Pooling

    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 7, 7))
    W, b = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    conv = Convolution(W, b, stride=2, pad=1)
    assert conv.W is W and conv.b is b
    out = conv.forward(x)
    # the book's forward: im2col, one product with the filters as columns, plus b
    col = cr.im2col(x, 3, 3, stride=2, pad=1).data
    ref = (col @ W.reshape(4, -1).T + b).reshape(2, 4, 4, 4).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(out, ref, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    dx = conv.backward(dout)
    d2 = dout.transpose(0, 2, 3, 1).reshape(-1, 4)
    np.testing.assert_allclose(conv.db, d2.sum(0), atol=1e-12)
    np.testing.assert_allclose(conv.dW, (col.T @ d2).T.reshape(4, 3, 3, 3), atol=1e-12)
    np.testing.assert_allclose(dx, cr.col2im(d2 @ W.reshape(4, -1), x.shape, 3, 3, 2, 1).data,
                               atol=1e-12)
    pool = Pooling(2, 2, stride=2)
    y = pool.forward(np.array([[[[1.0, 3, 2, 2], [3, 0, 1, 2], [0, 0, 5, 4], [0, 0, 4, 5]]]]))
    np.testing.assert_array_equal(y, [[[[3.0, 2], [0, 5]]]])
    # ties go to the first maximum (the book's argmax): 3 at (0, 1), 2 at (0, 2), 0 at (2, 0)
    np.testing.assert_array_equal(pool.backward(np.ones((1, 1, 2, 2))),
                                  [[[[0.0, 1, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]]])
