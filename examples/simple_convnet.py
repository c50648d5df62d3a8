"""Deep Learning from Scratch, chapter 7: the SimpleConvNet, on chainrule's layers.

conv (30 filters 5x5) - ReLU - max-pool 2x2 - Affine (100) - ReLU - Affine (10) -
softmax-with-loss, written with ``chainrule.scratch``'s layers in the book's protocol
(``forward``, ``backward(dout)`` returning ``dx``, ``dW``/``db`` kept on the layer).

First the book's gradient check (section 7.5's ``gradient_check.py``): a small network
(one 1x10x10 image, 10 filters 3x3, hidden 10) whose backprop gradients are compared
with :func:`chainrule.numerical_grad`, which nudges each parameter array in place as
the book's ``numerical_gradient`` does. Then the book's training: minibatches of 100
and Adam (learning rate 0.001), on the embedded 5,000-digit MNIST sample (4,000 train,
1,000 test), printing the test accuracy each epoch. The book reaches 98.8% on the full
MNIST after 20 epochs; on the sample, see the figures in the README's CNN section.

Run: ``python examples/simple_convnet.py [epochs]``
"""

from __future__ import annotations

import sys
from collections import OrderedDict

import numpy as np

import chainrule as cr
from chainrule.data import MNISTSample
from chainrule.scratch import Affine, Convolution, Pooling, Relu, SoftmaxWithLoss


class SimpleConvNet:
    """The book's network; ``params`` holds W1, b1 (conv), W2, b2, W3, b3 (affine)."""

    def __init__(self, input_dim: tuple[int, int, int] = (1, 28, 28), filter_num: int = 30,
                 filter_size: int = 5, pad: int = 0, stride: int = 1, hidden_size: int = 100,
                 output_size: int = 10, weight_init_std: float = 0.01, seed: int = 0,
                 dtype: type = np.float64) -> None:
        rng = np.random.default_rng(seed)
        c, h, _ = input_dim
        conv_out = (h - filter_size + 2 * pad) // stride + 1
        pool_out = filter_num * (conv_out // 2) ** 2
        self.params = {
            "W1": weight_init_std * rng.standard_normal((filter_num, c, filter_size,
                                                         filter_size)),
            "b1": np.zeros(filter_num),
            "W2": weight_init_std * rng.standard_normal((pool_out, hidden_size)),
            "b2": np.zeros(hidden_size),
            "W3": weight_init_std * rng.standard_normal((hidden_size, output_size)),
            "b3": np.zeros(output_size),
        }
        self.params = {k: v.astype(dtype) for k, v in self.params.items()}
        p = self.params
        self.layers: OrderedDict[str, object] = OrderedDict()
        self.layers["Conv1"] = Convolution(p["W1"], p["b1"], stride, pad)
        self.layers["Relu1"] = Relu()
        self.layers["Pool1"] = Pooling(pool_h=2, pool_w=2, stride=2)
        self.layers["Affine1"] = Affine(p["W2"], p["b2"])
        self.layers["Relu2"] = Relu()
        self.layers["Affine2"] = Affine(p["W3"], p["b3"])
        self.last_layer = SoftmaxWithLoss()

    def predict(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        return self.last_layer.forward(self.predict(x), t)

    def accuracy(self, x: np.ndarray, t: np.ndarray, batch_size: int = 500) -> float:
        hits = 0
        for i in range(0, len(x), batch_size):
            hits += int((self.predict(x[i:i + batch_size]).argmax(1) == t[i:i + batch_size])
                        .sum())
        return hits / len(x)

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        for layer in reversed(self.layers.values()):
            dout = layer.backward(dout)
        conv, a1, a2 = self.layers["Conv1"], self.layers["Affine1"], self.layers["Affine2"]
        return {"W1": conv.dW, "b1": conv.db, "W2": a1.dW, "b2": a1.db,
                "W3": a2.dW, "b3": a2.db}


def gradient_check() -> None:
    """Section 7.5: backprop against numerical differentiation on a small network."""
    net = SimpleConvNet(input_dim=(1, 10, 10), filter_num=10, filter_size=3,
                        hidden_size=10, output_size=10, weight_init_std=0.01)
    rng = np.random.default_rng(1)
    x = rng.random((1, 1, 10, 10))
    t = np.array([1])
    grad = net.gradient(x, t)
    worst = 0.0
    for key in ("W1", "b1", "W2", "b2", "W3", "b3"):
        num = cr.numerical_grad(lambda _: net.loss(x, t), net.params[key])
        diff = float(np.abs(grad[key] - num).mean())
        worst = max(worst, float(np.abs(grad[key] - num).max()))
        print(f"{key}: {diff:.3e}")
    print(f"worst absolute difference {worst:.3e}: backprop agrees with numerical "
          f"differentiation" if worst < 1e-7 else f"MISMATCH {worst:.3e}")


class Adam:
    """The book's optimiser for this network (section 6.1.6), updating in place."""

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        self.lr, self.beta1, self.beta2, self.t = lr, beta1, beta2, 0
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def update(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        step = self.lr * np.sqrt(1 - self.beta2 ** self.t) / (1 - self.beta1 ** self.t)
        for key, g in grads.items():
            m = self.m.setdefault(key, np.zeros_like(g))
            v = self.v.setdefault(key, np.zeros_like(g))
            m += (1 - self.beta1) * (g - m)
            v += (1 - self.beta2) * (g * g - v)
            params[key] -= step * m / (np.sqrt(v) + 1e-7)   # in place: the layers see it


def train(epochs: int) -> float:
    train_set, test_set = MNISTSample("train"), MNISTSample("test")
    x_train, t_train = train_set.x.reshape(-1, 1, 28, 28), train_set.y
    x_test, t_test = test_set.x.reshape(-1, 1, 28, 28), test_set.y
    net = SimpleConvNet(dtype=np.float32)     # float32, as the images are
    p = net.params
    rng = np.random.default_rng(0)
    batch = 100
    adam = Adam(lr=0.001)
    acc = 0.0
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x_train))
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            adam.update(p, net.gradient(x_train[idx], t_train[idx]))
        acc = net.accuracy(x_test, t_test)
        print(f"epoch {epoch}: test accuracy {acc:.4f}")
    return acc


if __name__ == "__main__":
    gradient_check()
    train(int(sys.argv[1]) if len(sys.argv) > 1 else 4)
