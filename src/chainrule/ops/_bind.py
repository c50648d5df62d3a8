"""Give the Tensor its operators, its methods and NumPy dispatch (run once, from above).

``chainrule._tensor`` is the data type only: it cannot import the gates, which import
it. So this module, run when :mod:`chainrule.ops` is imported, attaches what every
``@export`` declared (``ops/_registry.py``): Tensor methods and operators, and the
entries of the NumPy dispatch tables that ``Tensor.__array_ufunc__`` and
``__array_function__`` consult. It is the one declared upward act of the package, the
equivalent of DeZero's ``setup_variable``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._tensor import FUNCTIONS, UFUNCS, Tensor, plain, wrap
from ._registry import Export, exports, on_export

__all__ = ["bind", "bind_all"]


def _reflect(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    def reflected(self: Tensor, other: Any) -> Any:
        return fn(other, self)
    reflected.__name__ = name
    reflected.__qualname__ = f"Tensor.{name}"
    reflected.__doc__ = f"The operands swapped: ``{fn.__name__}(other, self)``."
    return reflected


def _compare(op: np.ufunc) -> Callable[[Tensor, Any], Tensor]:
    def method(self: Tensor, other: Any) -> Tensor:
        return wrap(np.asarray(op(self.data, plain(other))))
    method.__name__ = op.__name__
    method.__doc__ = f"Elementwise ``np.{op.__name__}``; a comparison carries no gradient."
    return method


def bind(entry: Export) -> None:
    """Attach one declaration to the Tensor and the NumPy dispatch tables."""
    for m in entry.methods:
        setattr(Tensor, m, entry.fn)
    for m in entry.operators:
        setattr(Tensor, m, entry.fn)
    for m in entry.reflected:
        setattr(Tensor, m, _reflect(entry.fn, m))
    for f in entry.numpy:
        (UFUNCS if isinstance(f, np.ufunc) else FUNCTIONS)[f] = entry.fn


def bind_all() -> None:
    """Bind every declaration made so far, and every later one as it is made."""
    for entry in exports():
        bind(entry)
    on_export(bind)
    # Comparisons and unary plus: no gate, no gradient.
    for dunder, op in (("__lt__", np.less), ("__le__", np.less_equal),
                       ("__gt__", np.greater), ("__ge__", np.greater_equal),
                       ("__eq__", np.equal), ("__ne__", np.not_equal)):
        setattr(Tensor, dunder, _compare(op))
    Tensor.__pos__ = lambda self: self
    Tensor.__hash__ = object.__hash__
    UFUNCS[np.positive] = lambda x: x
