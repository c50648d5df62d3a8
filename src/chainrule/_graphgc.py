"""Full garbage collections deferred while a large graph is alive (scoped, restored).

Why: Python's cyclic collector runs a *full* collection (every tracked object in the
process) whenever the long-lived objects have grown by a quarter. A recorded graph
holds about three tracked objects per gate (the gate, its output tensor, its inputs
tuple), so while a chain of a million gates is being built the collector walks the
growing graph again and again: measured on Python 3.11, full collections alone cost
3-5 us per gate at 100k-1M gates, more than recording the gate itself. A graph holds
no reference cycles of its own (a gate keeps only a weak reference to its output), so
these walks never free anything of it.

What: while more than ``above`` recorded gates are alive, the third collector
threshold (how many middle-generation collections may pass between full ones) is
multiplied by ``factor``. Young and middle collections run as before, so short-lived
cycles are still freed at once; a full collection still happens, ``factor`` times less
often. When the live gates drop below half of ``above`` (the graph was freed by
``backward()`` or dropped), the thresholds are restored exactly, unless the program
changed them meanwhile (then its own setting stays). Nothing changes when the
collector is disabled or its first threshold is 0; ``gc.collect()`` works as always.

Live gates are counted when the engine records a gate and when a gate object is
freed (``Gate.__del__``). A gate made by hand (``Mul().forward(...)``), or the twin a
``create_graph`` backward makes of a gate, is freed without having been counted, so
the count can only err low, which means "do not defer"; it is clamped at zero. The
count relies on the GIL (an ``int`` attribute update is not interrupted by another
thread in CPython's default build).
"""

from __future__ import annotations

import gc

__all__ = ["GraphGC", "GraphGCState", "defer_full_collections"]

_NEVER = 1 << 62


class GraphGCState:
    """The counter and the deferral state (one instance, :data:`GraphGC`; instance
    attributes in slots, because setting a class attribute is slow in CPython: it
    invalidates the type's attribute cache, once per gate here)."""

    __slots__ = ("above", "enabled", "factor", "high", "live", "low", "saved")

    def __init__(self) -> None:
        self.live = 0             # recorded gates alive (an estimate that errs low)
        self.above = 20_000       # defer when live exceeds this
        self.factor = 100         # ... by multiplying the third threshold by this
        self.enabled = True
        self.high = self.above    # the recorder calls grown() above it (_NEVER if deferred)
        self.low = 0              # Gate.__del__ calls shrunk() below it (above // 2 if so)
        self.saved: tuple[tuple[int, int, int], tuple[int, int, int]] | None = None

    def grown(self) -> None:
        """Called by the recorder when ``live`` passed ``high``: defer."""
        self.high = _NEVER
        self.low = self.above // 2
        t0, t1, t2 = gc.get_threshold()
        if gc.isenabled() and t0 > 0 and t2 > 0:
            ours = (t0, t1, t2 * self.factor)
            gc.set_threshold(*ours)
            self.saved = ((t0, t1, t2), ours)

    def shrunk(self) -> None:
        """Called by ``Gate.__del__`` when ``live`` fell below ``low``: restore (and
        clamp the count at zero)."""
        if self.live < 0:
            self.live = 0
        self.high = self.above if self.enabled else _NEVER
        self.low = 0
        saved, self.saved = self.saved, None
        if saved is not None and gc.get_threshold() == saved[1]:
            gc.set_threshold(*saved[0])


#: The process's one counter (the recorder and ``Gate.__del__`` update it).
GraphGC = GraphGCState()


def defer_full_collections(enabled: bool = True, *, above: int = 20_000,
                           factor: int = 100) -> None:
    """Turn the deferral of full garbage collections during large graphs on or off.

    On by default (see the module's documentation for why and what exactly changes).
    ``above``: how many recorded gates must be alive before full collections are
    deferred (they are restored below half of it); ``factor``: how much rarer full
    collections become meanwhile. Any call restores the collector's thresholds at once
    if they are deferred; deferral starts again when the next gate is recorded, if the
    graph is still large and ``enabled``.

    Raises:
        ValueError: if ``above`` or ``factor`` is below 1.
    """
    if int(above) < 1 or int(factor) < 1:
        raise ValueError(f"defer_full_collections: above={above} and factor={factor} "
                         f"must both be at least 1")
    GraphGC.above, GraphGC.factor, GraphGC.enabled = int(above), int(factor), bool(enabled)
    GraphGC.shrunk()
