"""Process-wide switches of the engine: whether operations record a graph.

Kept in a module of its own, with no imports, so that both the tensor layer and the
engine can read it without importing each other.
"""

from __future__ import annotations

import itertools


class GradMode:
    """Whether new operations are recorded for backward (``no_grad`` turns this off)."""

    enabled: bool = True


#: One clock for the whole process. Every recorded gate takes a tick when it is
#: created, and every in-place modification of a tensor stamps the tensor with a tick.
#: So "tensor.version > gate.seq" means "modified after that gate saved it", and
#: sorting gates by their tick gives a topological order of any graph.
clock = itertools.count(1)
