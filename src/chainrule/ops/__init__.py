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
record it in the graph. Each declares with ``@export`` (``_registry.py``) how users
reach it; this package's namespace, ``chainrule``'s, the Tensor's methods and NumPy
dispatch all come from those declarations (``_bind.py`` attaches them).

To add a gate: write its class and its function in the module of its kind
(arithmetic, elementwise, reduction, shape, linalg, contract, losses), give the function an
``@export``, and give the gate a spec in ``chainrule.check.gates`` (the suite fails for
a gate without one).
"""

from __future__ import annotations

from ..autograd import Gate, apply, gate_classes
from . import (
    arithmetic,
    contract,
    conv,
    elementary,
    elementwise,
    layout,
    linalg,
    losses,
    pool,
    reduction,
    scan,
    select,
    shape,
    statistics,
)
from ._bind import bind_all
from ._registry import Export, export, exports, on_export

bind_all()

_MODULES = (arithmetic, contract, conv, elementary, elementwise, layout, linalg, losses, pool,
            reduction, scan, select, shape, statistics)
_GATES = {name: cls for name, cls in gate_classes().items()
          if any(cls.__module__ == m.__name__ for m in _MODULES)}
_FUNCTIONS = {e.name: e.fn for e in exports() if e.public}
globals().update(_GATES)
globals().update(_FUNCTIONS)
__all__ = sorted([*_GATES, *_FUNCTIONS, "Export", "Gate", "apply", "export", "exports",
                  "gate_classes", "on_export"])


def _listen(entry: Export) -> None:
    if entry.public:
        globals()[entry.name] = entry.fn
        if entry.name not in __all__:
            __all__.append(entry.name)


on_export(_listen)
