"""Switches of the engine: whether operations record a graph (per thread), the clock,
the in-place log and the registry of post-accumulate hooks.

Kept in a module of its own, importing only the standard library, so that both the
tensor layer and the engine can read it without importing each other.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, ClassVar


class _GradMode(threading.local):
    """Whether new operations are recorded for backward (``no_grad`` turns this off).

    Per thread, as in PyTorch: every thread starts with recording on (the class
    attribute), and ``no_grad()`` in one thread does not turn it off in another.
    """

    enabled: bool = True


GradMode = _GradMode()


#: One clock for the whole process. Every recorded gate takes a tick when it is
#: created (``gate.seq``), and every in-place modification stamps the memory it changes
#: with a tick (``InplaceLog``). So "the memory under a saved tensor was stamped after
#: ``gate.seq``" means "modified after that gate saved it", and sorting gates by their
#: tick gives a topological order of any graph.
clock = itertools.count(1)


class InplaceLog:
    """When memory was last modified in place through the tensor API.

    ``stamps`` maps ``id`` of the ndarray that *owns* some memory (the root of a chain
    of views) to ``(weakref to it, tick)``. Tensors that are views of one another (from
    ``reshape``, ``transpose``, basic indexing, ``detach``) share that owner, so an
    in-place change through any of them is seen by a gate that saved any other.
    ``last`` is the newest tick in the log: backward skips every check of a gate made
    after it (the common case costs one comparison).
    """

    stamps: ClassVar[dict] = {}
    last: int = 0
    #: Held while a stamp is written, so two threads' stamps never move ``last`` back.
    lock: ClassVar = threading.Lock()


#: Leaves with hooks to call once their ``.grad`` is final for a backward pass
#: (``Tensor.register_post_accumulate_grad_hook``, in ``grad_hooks``), by ``id`` (a
#: tensor's ``==`` is elementwise, so it cannot be a weak dictionary's key); empty, the
#: engine pays nothing.
POST_HOOKS: dict[int, tuple[Any, list]] = {}


def post_hooks(t: Any) -> list:
    """The post-accumulate hooks of leaf ``t`` (the list itself; empty: none)."""
    entry = POST_HOOKS.get(id(t))
    return entry[1] if entry is not None and entry[0]() is t else []
