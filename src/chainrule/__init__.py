"""chainrule: backpropagation you can run, see, check and scale.

A define-by-run automatic differentiation engine on NumPy. Every operation is a *gate*
that computes a local result forward and, backward, multiplies the upstream gradient
by its local gradient: the chain rule, one gate at a time.

    >>> import chainrule as cr
    >>> a, b, c = (cr.tensor(v, requires_grad=True) for v in (-1.0, 3.0, 4.0))
    >>> f = (a + b) * (b + c)
    >>> f.backward()
    >>> a.grad.item(), b.grad.item(), c.grad.item()
    (7.0, 9.0, 2.0)
"""

from __future__ import annotations

from . import ops
from .autograd import (
    Gate,
    backward,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from .errors import (
    BackwardError,
    ChainruleError,
    DtypeError,
    GradcheckError,
    GraphFreedError,
    InplaceModificationError,
    ShapeError,
)
from .gradcheck import gradcheck, gradgradcheck, numerical_grad
from .ops import (
    abs,
    add,
    affine,
    astype,
    broadcast_to,
    clip,
    concatenate,
    cos,
    div,
    exp,
    expand_dims,
    flatten,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    neg,
    pow,
    relu,
    reshape,
    sigmoid,
    sin,
    softmax,
    softmax_cross_entropy,
    sqrt,
    squeeze,
    stack,
    sub,
    sum,
    sum_to,
    swapaxes,
    tanh,
    transpose,
    var,
    where,
)
from .tensor import (
    Tensor,
    arange,
    from_numpy,
    full,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)

__version__ = "0.1.0"

__all__ = [
    "BackwardError", "ChainruleError", "DtypeError", "Gate", "GradcheckError",
    "GraphFreedError", "InplaceModificationError", "ShapeError", "Tensor", "abs", "add",
    "affine", "arange", "astype", "backward", "broadcast_to", "clip", "concatenate", "cos",
    "div", "enable_grad", "exp", "expand_dims", "flatten", "from_numpy", "full", "grad",
    "gradcheck", "gradgradcheck", "is_grad_enabled", "log", "log_softmax", "logsumexp",
    "matmul", "max", "maximum", "mean", "min", "minimum", "mul", "neg", "no_grad",
    "numerical_grad", "ones", "ones_like", "ops", "pow", "rand", "randn", "relu",
    "reshape", "set_grad_enabled", "sigmoid", "sin", "softmax", "softmax_cross_entropy",
    "sqrt", "squeeze", "stack", "sub", "sum", "sum_to", "swapaxes", "tanh", "tensor",
    "transpose", "var", "where", "zeros", "zeros_like",
]
