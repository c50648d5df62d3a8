"""The engine: gates, grad mode, recording, and the backward pass.

It knows no particular operation. A *gate* (a subclass of :class:`Gate`) computes a
local result in ``forward`` and, in ``backward``, multiplies the upstream gradient by
its local gradient; :func:`apply` records it; :func:`backward` and :func:`grad` walk the
recorded graph in reverse. The pieces:

* ``mode.py``: ``no_grad``, ``enable_grad``, ``is_grad_enabled``, ``set_grad_enabled``;
* ``gate.py``: the :class:`Gate` base class, its registry and by-hand wrappers,
  ``sum_to_array`` (broadcasting undone in one place);
* ``record.py``: ``apply`` (and its fast paths ``apply1``/``apply2``);
* ``engine.py``: plan, run, finish; ``backward``, ``grad``, and the traced pass of
  ``cr.explain``.
"""

from __future__ import annotations

from .engine import backward, collect_gates, grad, root_gradient, tensor_twin, traced_gradients
from .gate import (
    Array,
    Gate,
    Grads,
    gate_classes,
    registered_gates,
    sum_to_array,
    unregister_gate,
)
from .mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .record import apply, apply1, apply2

__all__ = [
    "Array", "Gate", "Grads", "apply", "apply1", "apply2", "backward", "collect_gates",
    "enable_grad", "gate_classes", "grad", "inference_mode", "is_grad_enabled", "no_grad",
    "registered_gates",
    "root_gradient", "set_grad_enabled", "sum_to_array", "tensor_twin", "traced_gradients",
    "unregister_gate",
]
