"""Switches of the engine: whether operations record a graph (per thread), the clock.

Kept in a module of its own, importing only the standard library, so that both the
tensor layer and the engine can read it without importing each other.
"""

from __future__ import annotations

import itertools
import threading
from typing import ClassVar


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
