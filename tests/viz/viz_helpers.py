"""Graphs and helpers shared by the tests of explain and viz."""

from __future__ import annotations

import chainrule as cr
from chainrule.scopes import record_scope


def leaf(v: object, name: str) -> cr.Tensor:
    """A named leaf that requires grad."""
    return cr.tensor(v, requires_grad=True, name=name)


def abc() -> tuple[cr.Tensor, tuple[cr.Tensor, cr.Tensor, cr.Tensor]]:
    """Seed 001: f = (a+b)(b+c) at a=-1, b=3, c=4, and the leaves (a, b, c)."""
    a, b, c = leaf(-1.0, "a"), leaf(3.0, "b"), leaf(4.0, "c")
    return (a + b) * (b + c), (a, b, c)


def in_scope(t: cr.Tensor, name: str) -> None:
    """Log the gate that made ``t`` as recorded inside a module call named ``name``."""
    record_scope(t.creator.seq, t.creator.seq, name)
