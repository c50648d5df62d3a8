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

This module is the face of the package: it re-exports. The functions that run gates
(``cr.exp``, ``cr.matmul``...) come from the ops' own ``@export`` declarations, so a new
op appears here without an edit to this file.
"""

from __future__ import annotations

from . import (
    data,
    func,
    grad_hooks,
    linalg,
    nn,
    ops,
    optim,
    scratch,
    viz,
)
from ._graphgc import defer_full_collections
from ._malloc import retain_freed_memory
from ._tensor import (
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
from ._version import __version__
from .autograd import (
    Gate,
    apply,
    backward,
    enable_grad,
    grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from .check import gradcheck, gradgradcheck, numerical_grad
from .errors import (
    BackwardError,
    ChainruleError,
    CheckpointError,
    DtypeError,
    GradcheckError,
    GraphFreedError,
    InplaceModificationError,
    ShapeError,
)
from .func import hessian, hvp, jacobian, jvp, vhp, vjp, vmap
from .random import manual_seed
from .serialization import load, save
from .threads import get_num_threads, set_num_threads
from .viz import explain

_OPS = {e.name: e.fn for e in ops.exports() if e.public}
globals().update(_OPS)

__all__ = sorted([
    "BackwardError", "ChainruleError", "CheckpointError", "DtypeError", "Gate",
    "GradcheckError", "GraphFreedError", "InplaceModificationError", "ShapeError", "Tensor",
    "apply", "arange", "backward", "data", "defer_full_collections", "enable_grad", "explain",
    "from_numpy", "full",
    "func", "get_num_threads", "hessian", "inference_mode", "set_num_threads", "hvp",
    "jacobian", "jvp", "vhp", "vjp", "vmap",
    "grad", "gradcheck", "gradgradcheck", "is_grad_enabled", "linalg", "load", "manual_seed",
    "nn",
    "no_grad", "numerical_grad", "ones", "ones_like", "ops", "optim", "rand", "randn",
    "retain_freed_memory", "save", "scratch", "set_grad_enabled", "tensor", "viz", "zeros",
    "zeros_like", *_OPS,
])


def _listen(entry: ops.Export) -> None:
    """An op exported after import (a user's own) joins the namespace too."""
    if entry.public:
        globals()[entry.name] = entry.fn
        if entry.name not in __all__:
            __all__.append(entry.name)


ops.on_export(_listen)
