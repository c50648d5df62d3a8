"""Where an op says how users reach it: one ``@export`` next to its function.

A gate class is registered by being defined (``Gate.__init_subclass__``). Its *function*
(``exp``, ``sum``, ``reshape``...), which builds the gate from user arguments, declares
here how it is reached::

    @export(method=True, numpy=(np.exp,), expr=1)
    def exp(x): ...

That one declaration feeds ``cr.exp`` and ``cr.__all__``, the Tensor method
``t.exp()``, NumPy dispatch (``np.exp(t)`` runs the gate), and the whitelist of
``chainrule explain "EXPR"`` (``expr`` is the number of arguments an expression may
pass). ``ops/_bind.py`` applies the declarations; a function exported after that (a
user's own op, defined in a test module or a notebook) is bound at once, and every
listener (``chainrule/__init__.py`` adds it to the ``cr`` namespace) hears of it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["Export", "export", "exports", "on_export"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclasses.dataclass(frozen=True)
class Export:
    """How one function is reached (see :func:`export`)."""

    name: str
    fn: Callable[..., Any]
    #: Expose as ``cr.<name>`` and ``ops.<name>`` (False: only the bindings below).
    public: bool = True
    #: Tensor methods bound to ``fn`` (``t.exp()``).
    methods: tuple[str, ...] = ()
    #: Tensor operators bound to ``fn`` (``"__add__"``) and to its reflection
    #: (``"__radd__"``: ``2 + t`` calls ``fn(2, t)``).
    operators: tuple[str, ...] = ()
    reflected: tuple[str, ...] = ()
    #: NumPy ufuncs or functions whose call on a Tensor is routed to ``fn``.
    numpy: tuple[Any, ...] = ()
    #: Arguments an expression of ``chainrule explain`` may pass (0: not allowed there).
    expr: int = 0


_EXPORTS: dict[str, Export] = {}
_LISTENERS: list[Callable[[Export], None]] = []


def _names(value: bool | str | Sequence[str], default: str) -> tuple[str, ...]:
    if value is True:
        return (default,)
    if not value:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def export(fn: F | None = None, *, name: str | None = None, public: bool = True,
           method: bool | str | Sequence[str] = False, operator: str | Sequence[str] = (),
           reflected: str | Sequence[str] = (), numpy: Sequence[Any] = (),
           expr: int = 0) -> Any:
    """Declare how users reach a function; use as ``@export`` or ``@export(...)``.

    ``name`` defaults to the function's name. ``method=True`` makes it a Tensor method
    of that name (a string or tuple names the methods). ``operator``/``reflected`` name
    the Tensor's operator methods. ``numpy`` lists NumPy ufuncs/functions dispatched
    to it. ``expr`` is its number of arguments in ``chainrule explain`` expressions.
    """
    def register(f: F) -> F:
        key = name or f.__name__
        entry = Export(key, f, public, _names(method, key), _names(operator, ""),
                       _names(reflected, ""), tuple(numpy), int(expr))
        _EXPORTS[key if public else f"{f.__module__}.{f.__qualname__}"] = entry
        for listener in list(_LISTENERS):
            listener(entry)
        return f

    return register if fn is None else register(fn)


def exports() -> list[Export]:
    """Every declaration so far, in the order they were made."""
    return list(_EXPORTS.values())


def on_export(listener: Callable[[Export], None]) -> None:
    """Call ``listener(entry)`` for every declaration made from now on."""
    _LISTENERS.append(listener)
