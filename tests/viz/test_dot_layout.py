"""The page's layout from Graphviz's dot when it is installed, chainrule's own otherwise:
same nodes and edges, every node inside the drawing, and a clean fallback."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import GraphvizError
from chainrule.viz.dot_layout import dot_layout
from chainrule.viz.graph import graph_of
from chainrule.viz.layout import layout


def _f() -> cr.Tensor:
    a, b, c = (cr.tensor(v, requires_grad=True, name=n) for v, n in
               ((-1.0, "a"), (3.0, "b"), (4.0, "c")))
    return (a + b) * (b + c)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_dot_places_every_node_and_edge_inside_the_drawing() -> None:
    g, _ = graph_of(_f(), True, "test")
    own = layout(g, show_grads=True)
    keys = {k for k, n in own.nodes.items() if n.kind != "dummy"}
    placed = dot_layout(g, layout(g, show_grads=True), True)
    assert placed is not None and set(placed.nodes) == keys
    for n in placed.nodes.values():
        assert n.w / 2 <= n.x <= placed.width - n.w / 2
        assert n.h / 2 <= n.y <= placed.height - n.h / 2
    for e in placed.edges:
        assert len(e.points) >= 2 and e.label_at is not None
        (x0, _), (x1, _) = e.points[0], e.points[-1]
        assert x0 < x1                           # left to right, as the seeds draw it
    # the inputs are left of the gates, the output right of them
    xs = {n.label: n.x for n in placed.nodes.values()}   # the two "+" share a column
    assert xs["a"] < xs["+"] < xs["×"] < xs["f"]


def test_without_dot_the_page_falls_back_or_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    page = cr.viz.to_html(_f())                     # auto: chainrule's own layout
    assert "<svg" in page
    with pytest.raises(GraphvizError, match=r"engine='dot'.*install graphviz"):
        cr.viz.to_html(_f(), engine="dot")
    with pytest.raises(ValueError, match="engine must be"):
        cr.viz.to_html(_f(), engine="neato")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_a_slow_dot_is_given_up_on(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    fake = tmp_path / "dot"
    fake.write_text("#!/bin/sh\nsleep 30\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.setenv("CHAINRULE_DOT_TIMEOUT", "0.5")
    g, _ = graph_of(_f(), True, "test")
    assert dot_layout(g, layout(g, show_grads=True), True) is None
    x = cr.tensor(np.ones(2), requires_grad=True, name="x")
    assert "<svg" in cr.viz.to_html((x * x).sum())   # auto falls back within the bound
