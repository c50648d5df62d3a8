"""Arithmetic gates: add, subtract, multiply, divide, negate, power.

These are the seed notes' first gates. The add gate passes the upstream gradient
through unchanged to both inputs; the multiply gate sends each input the upstream
gradient times *the other* input ("swaps" them). Broadcasting is undone by the engine
(and by ``backward`` when you drive a gate by hand), so these formulas ignore shapes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._tensor import Tensor
from ..autograd import Array, Gate, Grads, apply1, apply2
from ._registry import export
from ._util import as_tensor


class Add(Gate):
    """z = x + y.  Local gradients: dz/dx = 1, dz/dy = 1."""

    linear = True
    elementwise = True
    symbol = "+"
    infix = "+"
    saves_inputs = False
    differentiable = ()

    def forward(self, x: Array, y: Array) -> Array:
        return x + y

    def backward(self, gz: Array) -> Grads:
        return gz, gz


class Sub(Gate):
    """z = x - y.  Local gradients: 1 and -1."""

    linear = True
    elementwise = True
    symbol = "−"
    infix = "-"
    saves_inputs = False
    differentiable = ()

    def forward(self, x: Array, y: Array) -> Array:
        return x - y

    def backward(self, gz: Array) -> Grads:
        return gz, (-gz if self.needs[1] else None)


class Mul(Gate):
    """z = x * y.  Local gradients: dz/dx = y, dz/dy = x (the inputs swapped)."""

    elementwise = True
    symbol = "×"
    infix = "*"
    differentiable = ("x", "y")

    def forward(self, x: Array, y: Array) -> Array:
        self.x = x
        self.y = y
        return x * y

    def backward(self, gz: Array) -> Grads:
        needs = self.needs
        return (gz * self.y if needs[0] else None), (gz * self.x if needs[1] else None)


class Div(Gate):
    """z = x / y.  Local gradients: 1/y and -x/y**2."""

    elementwise = True
    symbol = "÷"
    infix = "/"
    differentiable = ("x", "y")

    def forward(self, x: Array, y: Array) -> Array:
        self.x = x
        self.y = y
        return x / y

    def backward(self, gz: Array) -> Grads:
        x, y = self.x, self.y
        needs = self.needs
        gx = gz / y if needs[0] else None
        gy = -(gz * x) / (y * y) if needs[1] else None
        return gx, gy


class Neg(Gate):
    """z = -x.  Local gradient: -1."""

    linear = True
    elementwise = True
    symbol = "−x"
    infix = "-"
    saves_inputs = False
    differentiable = ()

    def forward(self, x: Array) -> Array:
        return -x

    def backward(self, gz: Array) -> Grads:
        return -gz


class Pow(Gate):
    """z = x ** p.  Local gradients: p * x**(p-1) and, for a tensor exponent, z * log(x).

    For a constant exponent only the first is computed, so ``x ** 2`` of a negative
    ``x`` never touches ``log``. As in PyTorch, the gradient is 0 (not NaN) in the two
    places where the formulas give 0 * infinity: ``d/dx`` where ``p == 0`` (``x ** 0``
    is constant) and ``d/dp`` where ``x == 0`` and ``p >= 0`` (``0 ** p`` is constant
    for ``p > 0``).
    """

    elementwise = True
    symbol = "**"
    infix = "**"
    saves_output = True
    differentiable = ("x", "p", "z")

    def forward(self, x: Array, p: Array) -> Array:
        self.x = x
        self.p = p
        self.z = x ** p
        return self.z

    def backward(self, gz: Array) -> Grads:
        x, p = self.x, self.p
        needs = self.needs
        gx = gp = None
        if needs[0]:
            if isinstance(p, (int, float)) and p == 2:
                gx = gz * 2 * x
            elif isinstance(p, (int, float)):
                gx = np.zeros_like(gz) if p == 0 else gz * p * x ** (p - 1)
            else:
                zero_p = p == 0
                if np.any(zero_p):
                    # x ** (p - 1) is 1/x there: keep 0 * inf out of the product.
                    safe = np.where(zero_p, 1.0, x)
                    gx = gz * np.where(zero_p, 0.0, p * safe ** (p - 1))
                else:
                    gx = gz * p * x ** (p - 1)
        if needs[1]:
            zero_base = np.logical_and(x == 0, p >= 0)
            if np.any(zero_base):
                # log(0) would make 0 * -inf = NaN; make the unused branch harmless first.
                safe = np.where(zero_base, 1.0, x)
                gp = gz * np.where(zero_base, 0.0, self.z * np.log(safe))
            else:
                gp = gz * self.z * np.log(x)
        return gx, gp


# ------------------------------------------------------------------ functions
@export(operator="__add__", reflected="__radd__", numpy=(np.add,))
def add(x: Any, y: Any) -> Tensor:
    """Elementwise ``x + y`` with NumPy broadcasting."""
    return apply2(Add(), x, y)


@export(operator="__sub__", reflected="__rsub__", numpy=(np.subtract,))
def sub(x: Any, y: Any) -> Tensor:
    """Elementwise ``x - y``."""
    return apply2(Sub(), x, y)


@export(operator="__mul__", reflected="__rmul__", numpy=(np.multiply,))
def mul(x: Any, y: Any) -> Tensor:
    """Elementwise ``x * y``."""
    return apply2(Mul(), x, y)


@export(operator="__truediv__", reflected="__rtruediv__", numpy=(np.true_divide,))
def div(x: Any, y: Any) -> Tensor:
    """Elementwise ``x / y``."""
    return apply2(Div(), x, y)


@export(operator="__neg__", numpy=(np.negative,))
def neg(x: Any) -> Tensor:
    """Elementwise ``-x``."""
    return apply1(Neg(), as_tensor(x))


@export(operator="__pow__", reflected="__rpow__", numpy=(np.power,))
def pow(x: Any, p: Any) -> Tensor:
    """Elementwise ``x ** p``; ``p`` may be a number or a tensor."""
    return apply2(Pow(), x, p)


@export(numpy=(np.square,))
def square(x: Any) -> Tensor:
    """Elementwise ``x * x`` (one Mul gate)."""
    return mul(x, x)
