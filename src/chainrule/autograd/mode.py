"""Grad mode: whether new operations are recorded for backward, per thread (as PyTorch)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .._config import GradMode

__all__ = ["enable_grad", "inference_mode", "is_grad_enabled", "no_grad", "set_grad_enabled"]


class _GradModeContext:
    """``with no_grad():``, ``@no_grad()`` and the bare ``@no_grad`` all work."""

    _value: bool

    def __new__(cls, fn: Callable | None = None) -> Any:
        self = super().__new__(cls)
        if fn is None:
            return self
        if not callable(fn):
            raise TypeError(f"{cls.__name__}() takes no arguments (as a decorator, it takes "
                            f"the function it decorates), got {fn!r}")
        return self(fn)

    def __enter__(self) -> None:
        # The previous value is kept on the object, as in PyTorch: write a fresh
        # `with cr.no_grad():` per block (a decorated function makes one per call), not
        # one context object entered by two threads at once.
        self._prev = GradMode.enabled
        GradMode.enabled = self._value

    def __exit__(self, *exc: Any) -> None:
        GradMode.enabled = self._prev

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):
    """Context manager (and decorator) in which operations record no graph.

    Use it for evaluation and for parameter updates::

        with cr.no_grad():
            p.sub_(lr * p.grad)
    """

    _value = False


class enable_grad(_GradModeContext):
    """Context manager (and decorator) that turns recording back on inside ``no_grad``."""

    _value = True


class inference_mode(_GradModeContext):
    """PyTorch's ``torch.inference_mode``: evaluation without a graph.

    ``with cr.inference_mode():``, ``@cr.inference_mode()`` and ``@cr.inference_mode``
    all work; tensors made inside need no grad and record nothing. In chainrule it is
    :class:`no_grad` (there is no separate inference tensor kind, so such tensors can
    be used in a graph later, unlike PyTorch's). ``inference_mode(False)`` leaves the
    grad mode as it is.
    """

    _value = False

    def __new__(cls, mode: Any = True) -> Any:
        if callable(mode):
            return super().__new__(cls, mode)
        self = super().__new__(cls)
        self._mode = bool(mode)
        return self

    def __enter__(self) -> None:
        self._prev = GradMode.enabled
        if getattr(self, "_mode", True):
            GradMode.enabled = False

    def __call__(self, fn: Callable) -> Callable:
        mode = getattr(self, "_mode", True)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with inference_mode(mode):
                return fn(*args, **kwargs)
        return wrapper


def is_grad_enabled() -> bool:
    """Whether operations are currently recorded for backward."""
    return GradMode.enabled


def set_grad_enabled(mode: bool) -> None:
    """Turn graph recording on or off for the calling thread (each thread has its own)."""
    GradMode.enabled = bool(mode)
