"""``Tensor.register_post_accumulate_grad_hook``: a hook run once a leaf's ``.grad`` is
final for a backward pass (PyTorch's hook of the same name).

The engine (``autograd/engine.py``) finds the hooks in ``_config.POST_HOOKS``, by ``id``
(a tensor's ``==`` is elementwise, so it cannot be a weak dictionary's key), and calls
them right after backward has passed the last gate that feeds the leaf, so that, for
instance, data-parallel training can start a bucket's allreduce while the rest of
backward runs. This module gives the tensor the method; it is imported with chainrule.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from ._config import POST_HOOKS, post_hooks
from ._tensor import Tensor

__all__ = ["PostAccumulateHandle", "register_post_accumulate_grad_hook"]


class PostAccumulateHandle:
    """Returned by ``register_post_accumulate_grad_hook``; ``remove()`` unregisters."""

    def __init__(self, t: Tensor, fn: Callable) -> None:
        self._ref, self._fn = weakref.ref(t), fn

    def remove(self) -> None:
        """Unregister the hook (a second call does nothing)."""
        t = self._ref()
        hooks = post_hooks(t) if t is not None else []
        if self._fn in hooks:
            hooks.remove(self._fn)
            if not hooks:
                del POST_HOOKS[id(t)]


def register_post_accumulate_grad_hook(self: Tensor, fn: Callable[[Tensor], None]) -> Any:
    """Call ``fn(tensor)`` after this leaf's ``.grad`` has received a backward pass's
    gradient: as soon as backward has passed the last gate that feeds the leaf, before
    the rest of backward runs. Not called by ``cr.grad`` or ``cr.explain`` (they leave
    ``.grad`` alone). Returns a handle with ``remove()``."""
    if self.creator is not None or not self.requires_grad:
        why = "was made by a gate" if self.creator is not None else "does not require grad"
        raise ValueError(f"register_post_accumulate_grad_hook: only a leaf that requires "
                         f"grad accumulates a .grad (this tensor {why})")
    key = id(self)
    if not post_hooks(self):
        POST_HOOKS[key] = (weakref.ref(self, lambda _, d=POST_HOOKS: d.pop(key, None)), [])
    POST_HOOKS[key][1].append(fn)
    return PostAccumulateHandle(self, fn)


Tensor.register_post_accumulate_grad_hook = register_post_accumulate_grad_hook
