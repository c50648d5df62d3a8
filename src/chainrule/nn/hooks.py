"""Module hooks: forward pre-hooks, forward hooks and full backward hooks.

PyTorch's signatures and handles::

    h = model.fc1.register_forward_hook(lambda m, inputs, output: print(output.shape))
    ...
    h.remove()

* ``register_forward_pre_hook(hook)``: ``hook(module, args)`` runs before ``forward``;
  returning a value (a tuple, or one value) replaces the positional arguments. With
  ``with_kwargs=True`` it is ``hook(module, args, kwargs)`` and may return a pair
  ``(args, kwargs)``.
* ``register_forward_hook(hook)``: ``hook(module, args, output)`` runs after; returning
  a value replaces the output (``hook(module, args, kwargs, output)`` with
  ``with_kwargs=True``).
* ``prepend=True`` runs a hook before those already registered.
* ``register_full_backward_hook(hook)``: ``hook(module, grad_input, grad_output)`` runs
  during backward, once the gradients of the module's positional inputs (one entry per
  positional argument, ``None`` where it is not a tensor that requires grad) have been
  computed; ``grad_output`` holds the gradients of the module's output tensors. For a
  module with one input that requires grad, returning a one-element tuple replaces
  that input's gradient. The hook sees the gradient flowing through *this* call only:
  each input is passed to ``forward`` through an identity reshape (one extra gate in
  drawings) whose gradient is exactly this module's contribution.

Each ``register_*`` returns a :class:`RemovableHandle`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from .. import ops
from .._config import GradMode
from .._tensor import Tensor

__all__ = ["RemovableHandle"]

_ids = itertools.count()


class RemovableHandle:
    """Returned by the ``register_*_hook`` methods; ``remove()`` unregisters the hook.

    Also a context manager: ``with m.register_forward_hook(f): ...`` removes it on exit.
    """

    __slots__ = ("_registry", "id")

    def __init__(self, registry: dict[int, Callable]) -> None:
        self._registry = registry
        self.id = next(_ids)

    def remove(self) -> None:
        """Unregister the hook (doing it twice is harmless)."""
        self._registry.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def add_hook(registry: dict[int, Any], hook: Callable, where: str, prepend: bool = False,
             with_kwargs: bool = False) -> RemovableHandle:
    """Store ``hook`` in ``registry`` (first if ``prepend``) and return its handle."""
    if not callable(hook):
        raise TypeError(f"{where}: the hook must be callable, got a {type(hook).__name__}")
    handle = RemovableHandle(registry)
    entry = (hook, bool(with_kwargs))
    if prepend:
        rest = dict(registry)
        registry.clear()
        registry[handle.id] = entry
        registry.update(rest)
    else:
        registry[handle.id] = entry
    return handle


def _tensors_of(out: Any) -> list[Tensor]:
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _tensors_of(o)]
    return []


class _BackwardCall:
    """The gradients of one module call, gathered for its full backward hooks."""

    def __init__(self, module: Any, hooks: list[Callable], nargs: int) -> None:
        self.module = module
        self.hooks = hooks
        self.grad_input: list[Any] = [None] * nargs
        self.waiting_inputs = 0
        self.grad_output: list[Any] = []
        self.waiting_outputs = 0
        self.fired = False

    def wrap_inputs(self, args: tuple) -> tuple:
        new = list(args)
        for i, a in enumerate(args):
            if isinstance(a, Tensor) and a.requires_grad:
                w = ops.reshape(a, a.shape)
                w.register_hook(self._input_hook(i))
                new[i] = w
                self.waiting_inputs += 1
        return tuple(new)

    def watch_outputs(self, out: Any) -> None:
        ts = [t for t in _tensors_of(out) if t.requires_grad]
        self.grad_output = [None] * len(ts)
        for j, t in enumerate(ts):
            t.register_hook(self._output_hook(j))
        self.waiting_outputs = len(ts)

    def _output_hook(self, j: int) -> Callable:
        def hook(g: Tensor) -> None:
            self.grad_output[j] = g
            self.waiting_outputs -= 1
            if self.waiting_inputs == 0 and self.waiting_outputs == 0:
                self._fire(single=None)
        return hook

    def _input_hook(self, i: int) -> Callable:
        def hook(g: Tensor) -> Any:
            self.grad_input[i] = g
            self.waiting_inputs -= 1
            if self.waiting_inputs == 0:
                return self._fire(single=i if sum(
                    x is not None for x in self.grad_input) == 1 else None)
            return None
        return hook

    def _fire(self, single: int | None) -> Any:
        if self.fired:
            return None
        self.fired = True
        gin, gout = tuple(self.grad_input), tuple(self.grad_output)
        replaced = None
        for hook in self.hooks:
            r = hook(self.module, gin if replaced is None else replaced, gout)
            if r is None:
                continue
            name = type(self.module).__name__
            if single is None:
                raise RuntimeError(
                    f"full backward hook on {name}: replacing grad_input is supported for "
                    f"a module called with exactly one input that requires grad; this "
                    f"call had {sum(x is not None for x in gin)}. Use a tensor hook "
                    f"(t.register_hook) on the input you want to change instead")
            r = tuple(r) if isinstance(r, (tuple, list)) else (r,)
            if len(r) != len(gin):
                raise ValueError(f"full backward hook on {name} returned {len(r)} "
                                 f"gradients; the module has {len(gin)} positional inputs")
            replaced = r
        return None if replaced is None else replaced[single]


def call_with_hooks(module: Any, args: tuple, kwargs: dict,
                    run: Callable[[tuple, dict], Any]) -> Any:
    """Run ``module``'s call ``run(args, kwargs)`` with its registered hooks around it."""
    d = module.__dict__
    for hook, with_kwargs in list(d.get("_forward_pre_hooks", {}).values()):
        if with_kwargs:
            r = hook(module, args, kwargs)
            if r is not None:
                if not (isinstance(r, tuple) and len(r) == 2 and isinstance(r[1], dict)):
                    raise TypeError(f"forward pre-hook {getattr(hook, '__name__', hook)!r} "
                                    f"(with_kwargs=True) must return None or a pair "
                                    f"(args, kwargs), got {type(r).__name__}")
                args, kwargs = (r[0] if isinstance(r[0], tuple) else (r[0],)), r[1]
        else:
            r = hook(module, args)
            if r is not None:
                args = r if isinstance(r, tuple) else (r,)
    bw = [h for h, _ in d.get("_backward_hooks", {}).values()]
    call = None
    if bw and GradMode.enabled:
        call = _BackwardCall(module, bw, len(args))
        args = call.wrap_inputs(args)
    out = run(args, kwargs)
    for hook, with_kwargs in list(d.get("_forward_hooks", {}).values()):
        r = hook(module, args, kwargs, out) if with_kwargs else hook(module, args, out)
        if r is not None:
            out = r
    if call is not None:
        call.watch_outputs(out)
    return out
