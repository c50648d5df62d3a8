"""Full garbage collections are deferred while a large graph is alive, and restored.

See ``chainrule/_graphgc.py``: the scoped adjustment that keeps a chain's per-gate cost
flat to a million gates with the collector enabled.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import numpy as np
import pytest

import chainrule as cr
from chainrule._graphgc import GraphGC


@pytest.fixture(autouse=True)
def small_threshold() -> Iterator[None]:
    """Defer above 500 live gates (the default is 20,000), and put everything back."""
    before = gc.get_threshold()
    cr.defer_full_collections(above=500)
    yield
    cr.defer_full_collections()
    gc.set_threshold(*before)


def chain(n: int) -> tuple[cr.Tensor, cr.Tensor]:
    x = cr.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(n // 2):
        y = y * 1.0001 + 0.0001
    return x, y


def test_a_large_graph_defers_full_collections_and_freeing_it_restores_them() -> None:
    t0, t1, t2 = gc.get_threshold()
    base = GraphGC.live
    x, y = chain(400)                         # 400 gates: below the bound
    assert GraphGC.live == base + 400
    assert gc.get_threshold() == (t0, t1, t2)
    x, y = chain(1000)                        # the old chain is freed, a larger one made
    assert gc.get_threshold() == (t0, t1, t2 * 100)
    y.backward()                  # releasing the saved inputs frees the gates behind them
    assert gc.get_threshold() == (t0, t1, t2)
    assert GraphGC.live == base + 1           # y's own gate, until y goes
    del y
    assert GraphGC.live == base
    assert x.grad.item() == pytest.approx(1.0001 ** 500)


def test_a_dropped_graph_restores_them_without_backward() -> None:
    t = gc.get_threshold()
    _, y = chain(2000)
    assert gc.get_threshold()[2] == t[2] * 100
    del y
    assert gc.get_threshold() == t


def test_a_threshold_the_program_set_meanwhile_is_kept() -> None:
    _, y = chain(1000)
    gc.set_threshold(1000, 20, 30)           # the program's own choice, while deferred
    del y
    assert gc.get_threshold() == (1000, 20, 30)


def test_nothing_changes_when_the_collector_is_off_or_deferral_is_disabled() -> None:
    t = gc.get_threshold()
    gc.disable()
    try:
        _, y = chain(1000)
        assert gc.get_threshold() == t
        del y
    finally:
        gc.enable()
    cr.defer_full_collections(False)
    _, y = chain(1000)
    assert gc.get_threshold() == t
    del y


def test_disabling_while_deferred_restores_at_once() -> None:
    t = gc.get_threshold()
    _, y = chain(1000)
    assert gc.get_threshold() != t
    cr.defer_full_collections(False)
    assert gc.get_threshold() == t
    del y
    assert gc.get_threshold() == t


def test_gates_made_by_hand_never_make_the_count_negative() -> None:
    for _ in range(50):
        cr.ops.Mul().forward(2.0, 3.0)
    assert GraphGC.live >= 0


def test_cycles_are_still_collected_while_a_large_graph_is_alive() -> None:
    _, y = chain(1000)

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a
    ref = weakref.ref(a)
    del a, b
    gc.collect(1)                             # a middle-generation collection frees it
    assert ref() is None
    del y


def test_the_results_are_those_of_the_collector_left_alone() -> None:
    x, y = chain(3000)
    y.backward()
    cr.defer_full_collections(False)
    x2, y2 = chain(3000)
    y2.backward()
    np.testing.assert_array_equal(x.grad.numpy(), x2.grad.numpy())


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="above=0 and factor=100 must both be at least 1"):
        cr.defer_full_collections(above=0)
