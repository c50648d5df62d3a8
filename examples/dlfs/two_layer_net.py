"""The book's TwoLayerNet (Deep Learning from Scratch, section 5.7.2), on chainrule's
layers: Affine -> Relu -> Affine -> SoftmaxWithLoss, with ``numerical_gradient`` (the
book's in-place idiom, through ``cr.numerical_grad``) and ``gradient`` (backprop).

Imported by ``gradient_check.py`` and ``train_neuralnet.py``.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

import chainrule as cr
from chainrule.scratch import Affine, Relu, SoftmaxWithLoss


class TwoLayerNet:
    def __init__(self, input_size: int, hidden_size: int, output_size: int,
                 weight_init_std: float = 0.01, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.params = {
            "W1": weight_init_std * rng.standard_normal((input_size, hidden_size)),
            "b1": np.zeros(hidden_size),
            "W2": weight_init_std * rng.standard_normal((hidden_size, output_size)),
            "b2": np.zeros(output_size),
        }
        self.layers = OrderedDict()
        self.layers["Affine1"] = Affine(self.params["W1"], self.params["b1"])
        self.layers["Relu1"] = Relu()
        self.layers["Affine2"] = Affine(self.params["W2"], self.params["b2"])
        self.lastLayer = SoftmaxWithLoss()

    def predict(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        return self.lastLayer.forward(self.predict(x), t)

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        y = np.argmax(self.predict(x), axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return float(np.sum(y == t)) / float(x.shape[0])

    def numerical_gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        # The book's idiom: the lambda ignores W; numerical_grad nudges the parameter
        # array itself in place (and restores it).
        loss_W = lambda W: self.loss(x, t)  # noqa: E731 - the book's own line
        return {key: cr.numerical_grad(loss_W, self.params[key], eps=1e-4)[0]
                for key in ("W1", "b1", "W2", "b2")}

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        self.loss(x, t)
        dout = self.lastLayer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        return {"W1": self.layers["Affine1"].dW, "b1": self.layers["Affine1"].db,
                "W2": self.layers["Affine2"].dW, "b2": self.layers["Affine2"].db}
