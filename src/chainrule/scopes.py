"""Named scopes: which module call recorded which gates, as intervals of the clock.

Every gate takes a tick from the one clock (``chainrule._config.clock``) when it is
recorded, so the gates made during a call are exactly those whose ``seq`` lies inside
that call's interval of ticks. ``chainrule.nn.Module.__call__`` logs one interval per
call (:func:`record_scope`); drawings ask :func:`scope_resolver` which module a gate
belongs to, to cluster a layer's gates. Logging costs one append per module call and
nothing per gate, and the log survives backward's release of the gates' saved values.
"""

from __future__ import annotations

import bisect
import collections
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["SCOPE_LOG_SIZE", "record_scope", "scope_resolver"]

#: The log keeps the newest this many calls.
SCOPE_LOG_SIZE = 100_000
#: Calls of named scopes as (first tick, last tick, name, thread ident), in the order
#: they ended (``deque.append`` is atomic, so threads may log at once).
_scope_log: collections.deque = collections.deque(maxlen=SCOPE_LOG_SIZE)
_get_ident = threading.get_ident


def record_scope(first_tick: int, last_tick: int, name: str) -> None:
    """Say that the gates recorded between two clock ticks belong to scope ``name``.

    Nested calls give nested intervals (the innermost wins); two calls' intervals in
    one thread are either nested or disjoint, because a call ends before its caller
    does. Calls in two threads share the clock, so their intervals may overlap
    anyhow: each interval is logged with its thread, and nesting is worked out per
    thread.
    """
    _scope_log.append((first_tick, last_tick, name, _get_ident()))


def _nesting(log: list) -> Callable[[int], tuple[int, str] | None]:
    """For one thread's intervals: tick -> (width, name) of the innermost one, or None."""
    log.sort(key=lambda iv: (iv[0], -iv[1]))
    starts = [iv[0] for iv in log]
    parent = [-1] * len(log)
    open_: list[int] = []
    for i, (first, _last, _name, _thread) in enumerate(log):
        while open_ and log[open_[-1]][1] < first:
            open_.pop()
        parent[i] = open_[-1] if open_ else -1
        open_.append(i)

    def innermost(seq: int) -> tuple[int, str] | None:
        j = bisect.bisect_right(starts, seq) - 1
        while j >= 0 and log[j][1] < seq:
            j = parent[j]
        return (log[j][1] - log[j][0], log[j][2]) if j >= 0 else None

    return innermost


def scope_resolver() -> Callable[[Any], str | None]:
    """A function mapping a gate to the innermost scope it was recorded in (or None).

    Build it once and use it for every gate of a graph: it snapshots the log. Sorted by
    first tick, each interval's *parent* (the nearest interval that contains it) is
    found with one stack sweep; a gate's scope is then the last interval starting at or
    before its tick, or the first of that interval's ancestors that still contains it.

    With modules called from several threads at once, intervals of two threads may
    overlap, so each thread's intervals are nested separately. A gate does not know
    its thread (that would cost every gate), so the resolver looks first among the
    intervals of the thread that builds it (a thread drawing the graph it recorded
    gets exact scopes), then takes the narrowest interval of another thread. So a
    graph recorded in one thread, while another thread was inside a module call, and
    drawn from a third thread may show a gate in the other thread's module (drawings
    only; gradients are never affected).
    """
    by_thread: dict[int, list] = {}
    for iv in list(_scope_log):
        by_thread.setdefault(iv[3], []).append(iv)
    own = _nesting(by_thread.pop(_get_ident(), []))
    others = [_nesting(log) for log in by_thread.values()]

    def scope_of(gate: Any) -> str | None:
        seq = getattr(gate, "seq", None)
        if seq is None:
            return None
        hit = own(seq)
        if hit is None:
            hits = [h for h in (f(seq) for f in others) if h is not None]
            hit = min(hits) if hits else None
        return hit[1] if hit is not None else None

    return scope_of
