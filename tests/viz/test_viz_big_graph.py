"""A graph of 100,000 gates: explain's table and the DOT text come out without
recursion (the recursion limit is lowered to prove it)."""

from __future__ import annotations

import sys

import pytest

import chainrule as cr
from chainrule.viz import explain, to_dot

N = 100_000


@pytest.fixture
def low_recursion_limit():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


@pytest.mark.slow
def test_100k_gate_chain_table_and_dot(low_recursion_limit):
    x = cr.tensor(0.5, requires_grad=True, name="x")
    y = x
    for i in range(N):
        y = y * 1.0000001 if i % 2 else y + 0.001
    ex = explain(y)
    assert len(ex.rows) == N
    assert [r.step for r in ex.rows[:3]] == [1, 2, 3]
    assert ex.rows[-1].input_names[0] == "x"
    text = str(ex)
    assert text.count("\n") > 2 * N
    assert text.splitlines()[-1].startswith("  df/dx = ")
    dot = to_dot(ex)
    assert dot.count(" -> ") == 2 * N + 1              # every input edge and the output
    assert f"g{N - 1} [label=<×>" in dot
    y.backward()
    assert ex.gradients["x"] == x.grad.item()
