"""The gates: every differentiable operation of chainrule, one class each.

Each gate holds its ``forward`` and its local gradient (``backward``) side by side, and
can be driven by hand on plain numbers and arrays, exactly as the seed notes do::

    >>> from chainrule import ops
    >>> mul = ops.Mul()
    >>> mul.forward(100.0, 2.0)
    200.0
    >>> mul.backward(1.0)
    (2.0, 100.0)

The lowercase functions (``add``, ``exp``, ``matmul``...) run a gate on tensors and
record it in the graph; they are also exported as ``chainrule.add`` etc.
"""

from __future__ import annotations

from ..autograd import Gate
from .arithmetic import Add, Div, Mul, Neg, Pow, Sub, add, div, mul, neg, pow, sub
from .elementwise import (
    Abs,
    Cast,
    Clip,
    Cos,
    Exp,
    Log,
    Maximum,
    Minimum,
    ReLU,
    Sigmoid,
    Sin,
    Sqrt,
    Tanh,
    Where,
    abs,
    astype,
    clip,
    cos,
    exp,
    log,
    maximum,
    minimum,
    relu,
    sigmoid,
    sin,
    sqrt,
    tanh,
    where,
)
from .linalg import Affine, MatMul, affine, matmul
from .losses import SoftmaxCrossEntropy, softmax_cross_entropy
from .reduction import (
    LogSoftmax,
    LogSumExp,
    Max,
    Mean,
    Min,
    Softmax,
    Sum,
    Var,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    softmax,
    sum,
    var,
)
from .shape import (
    BroadcastTo,
    Concatenate,
    ExpandDims,
    GetItem,
    Reshape,
    ScatterAdd,
    Squeeze,
    Stack,
    SumTo,
    Transpose,
    broadcast_to,
    concatenate,
    expand_dims,
    flatten,
    getitem,
    reshape,
    scatter_add,
    squeeze,
    stack,
    sum_to,
    swapaxes,
    transpose,
)


def gate_classes() -> dict[str, type[Gate]]:
    """Every gate class defined in ``chainrule.ops``, by name (used by the test table)."""
    return {name: obj for name, obj in globals().items()
            if isinstance(obj, type) and issubclass(obj, Gate) and obj is not Gate
            and not name.startswith("_")}


__all__ = sorted(
    [name for name in dir() if not name.startswith("_")
     and name not in {"annotations", "arithmetic", "elementwise", "linalg", "losses",
                      "reduction", "shape"}]
)
