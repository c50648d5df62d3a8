"""The layers of *Deep Learning from Scratch* (chapter 5), on chainrule's gates.

The book builds backprop from layers with two methods: ``forward(...)`` returns the
output, ``backward(dout)`` returns the gradient of each input and keeps the gradients of
the parameters (``dW``, ``db``). These classes follow that protocol exactly, so the
book's programs run unchanged::

    from chainrule.scratch import MulLayer
    mul_apple = MulLayer()
    apple_price = mul_apple.forward(100, 2)     # 200
    dapple, dapple_num = mul_apple.backward(1)  # 2, 100

    for layer in reversed(layers):              # the book's backward loop
        dout = layer.backward(dout)

Each layer drives one of the engine's own gates by hand (``ops.Mul``, ``ops.ReLU``,
``ops.Affine``, ``ops.SoftmaxCrossEntropy``...): there is no second copy of the
calculus, and the gate table's checks cover these layers too. The parameters are the
caller's arrays (``Affine(W, b)`` keeps ``W`` and ``b`` themselves, not copies), so the
book's ``numerical_gradient`` idiom, which nudges ``params["W1"]`` in place, works with
:func:`chainrule.numerical_grad`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import ops

__all__ = ["AddLayer", "Affine", "Convolution", "MulLayer", "Pooling", "Relu", "Sigmoid",
           "SoftmaxWithLoss"]


def _number(v: Any) -> Any:
    """Python numbers back for Python-number inputs (the book prints 220, not 220.0)."""
    return v.item() if isinstance(v, np.generic) else v


class _TwoInputLayer:
    """A layer of two inputs driving the gate class ``gate`` by hand."""

    gate: Any = None

    def __init__(self) -> None:
        self._gate = self.gate()

    def forward(self, x: Any, y: Any) -> Any:
        """The gate's output; the inputs are kept for backward."""
        self._gate = self.gate()
        return _number(self._gate.forward(x, y))

    def backward(self, dout: Any) -> tuple[Any, Any]:
        """The gradients of ``x`` and ``y``."""
        dx, dy = self._gate.backward(dout)
        return _number(dx), _number(dy)


class MulLayer(_TwoInputLayer):
    """``out = x * y``; ``backward(dout)`` returns ``(dout * y, dout * x)``."""

    gate = ops.Mul


class AddLayer(_TwoInputLayer):
    """``out = x + y``; ``backward(dout)`` returns ``(dout, dout)`` (summed back where an
    input was broadcast)."""

    gate = ops.Add


class Relu:
    """``out = max(x, 0)``; ``backward(dout)`` passes ``dout`` where ``x > 0``."""

    def __init__(self) -> None:
        self._gate = ops.ReLU()

    def forward(self, x: Any) -> Any:
        """ReLU of ``x``."""
        self._gate = ops.ReLU()
        x = np.asarray(x)
        return self._gate.forward(x if x.dtype.kind == "f" else x.astype(np.float64))

    def backward(self, dout: Any) -> Any:
        """``dout`` where the input was positive, 0 elsewhere (relu'(0) = 0)."""
        return self._gate.backward(np.asarray(dout))


class Sigmoid:
    """``out = 1 / (1 + exp(-x))``; ``backward(dout)`` is ``dout * out * (1 - out)``."""

    def __init__(self) -> None:
        self._gate = ops.Sigmoid()
        self.out: Any = None

    def forward(self, x: Any) -> Any:
        """The sigmoid, computed without overflow; kept as ``self.out``."""
        self._gate = ops.Sigmoid()
        self.out = self._gate.forward(x)
        return self.out

    def backward(self, dout: Any) -> Any:
        """``dout * y * (1 - y)`` with ``y`` the forward output."""
        return self._gate.backward(dout)


class Affine:
    """``out = x · W + b`` for a batch ``x`` (any shape: flattened to ``(N, -1)``, as in
    the book); ``backward(dout)`` returns ``dx`` (in ``x``'s shape) and stores
    ``self.dW`` and ``self.db``. ``W`` and ``b`` are the caller's arrays."""

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        self.W = W
        self.b = b
        self.dW: np.ndarray | None = None
        self.db: np.ndarray | None = None
        self.x: np.ndarray | None = None
        self._shape: tuple[int, ...] = ()
        self._gate = ops.Affine()

    def forward(self, x: Any) -> np.ndarray:
        """``x · W + b``."""
        x = np.asarray(x)
        self._shape = x.shape
        self.x = x.reshape(x.shape[0], -1) if x.ndim > 1 else x
        self._gate = ops.Affine()
        return self._gate.forward(self.x, self.W, self.b)

    def backward(self, dout: Any) -> np.ndarray:
        """``dx = dout · Wᵀ``; keeps ``dW = xᵀ · dout`` and ``db = Σ dout``."""
        dx, self.dW, self.db = self._gate.backward(np.asarray(dout))
        return dx.reshape(self._shape)


class SoftmaxWithLoss:
    """Softmax then cross-entropy (the book's last layer), fused and stable.

    ``forward(x, t)`` takes scores ``(N, C)`` and labels (class indices, or one-hot
    rows) and returns the mean loss; ``backward(dout=1)`` returns ``dx = (y - t) / N``
    times ``dout``. ``self.y`` holds the softmax, ``self.t`` the labels, ``self.loss``
    the loss.
    """

    def __init__(self) -> None:
        self.loss: Any = None
        self.y: np.ndarray | None = None
        self.t: np.ndarray | None = None
        self._gate = ops.SoftmaxCrossEntropy()

    def forward(self, x: Any, t: Any) -> Any:
        """The mean cross-entropy of ``softmax(x)`` against ``t``."""
        x = np.asarray(x)
        t = np.asarray(t)
        self.t = t
        self._gate = ops.SoftmaxCrossEntropy()
        self.loss = self._gate.forward(x, t)
        self.y = np.exp(self._gate.logp)
        return self.loss

    def backward(self, dout: Any = 1) -> np.ndarray:
        """``(softmax(x) - t) / N``, times ``dout``."""
        grads = self._gate.backward(float(dout))
        return grads[0] if isinstance(grads, tuple) else grads


class Convolution:
    """The book's convolution layer (chapter 7): ``W`` is ``(FN, C, FH, FW)``, ``b``
    ``(FN,)``; ``forward(x)`` maps ``(N, C, H, W)`` to ``(N, FN, OH, OW)``;
    ``backward(dout)`` returns ``dx`` and stores ``self.dW`` and ``self.db``. It drives
    the engine's Conv2d gate by hand, which is the book's im2col, one matrix product
    and col2im (``chainrule.ops.im2col``/``col2im`` are the book's functions, for a
    line-by-line version). ``W`` and ``b`` are the caller's arrays."""

    def __init__(self, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0) -> None:
        self.W = W
        self.b = b
        self.stride = stride
        self.pad = pad
        self.x: np.ndarray | None = None
        self.dW: np.ndarray | None = None
        self.db: np.ndarray | None = None
        self._gate = self._new_gate()

    def _new_gate(self) -> Any:
        return ops.Conv2d((self.stride, self.stride), (self.pad,) * 4)

    def forward(self, x: Any) -> np.ndarray:
        """The convolution of ``x`` with every filter, plus its bias."""
        self.x = np.asarray(x, dtype=np.result_type(np.asarray(x).dtype, np.float32))
        self._gate = self._new_gate()
        return self._gate.forward(self.x, np.asarray(self.W), np.asarray(self.b))

    def backward(self, dout: Any) -> np.ndarray:
        """``dx = col2im(dout · W_colᵀ)``; keeps ``dW = colᵀ · dout`` and ``db = Σ dout``."""
        dx, self.dW, self.db = self._gate.backward(np.asarray(dout))
        return dx


class Pooling:
    """The book's max-pooling layer: the maximum of each ``pool_h x pool_w`` window,
    moved by ``stride`` (the book's default 1); ``backward(dout)`` sends each window's
    gradient to its maximum (the first one on a tie, as the book's ``argmax``). As in
    the book, ``pad`` pads with zeros. Drives the engine's MaxPool2d gate by hand."""

    def __init__(self, pool_h: int, pool_w: int, stride: int = 1, pad: int = 0) -> None:
        self.pool_h = pool_h
        self.pool_w = pool_w
        self.stride = stride
        self.pad = pad
        self.x: np.ndarray | None = None
        self._gate = self._new_gate()

    def _new_gate(self) -> Any:
        return ops.MaxPool2d((self.pool_h, self.pool_w), (self.stride, self.stride),
                             (0, 0, 0, 0))

    def forward(self, x: Any) -> np.ndarray:
        """The maximum of each window."""
        self.x = np.asarray(x, dtype=np.result_type(np.asarray(x).dtype, np.float32))
        p = self.pad
        xp = np.pad(self.x, ((0, 0), (0, 0), (p, p), (p, p))) if p else self.x
        self._gate = self._new_gate()
        return self._gate.forward(xp)

    def backward(self, dout: Any) -> np.ndarray:
        """``dout`` routed to each window's maximum, 0 elsewhere."""
        dx = self._gate.backward(np.asarray(dout))
        p = self.pad
        return dx[:, :, p:dx.shape[2] - p, p:dx.shape[3] - p] if p else dx

