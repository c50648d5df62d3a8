"""A gate class defined here, not in chainrule.ops, is shown from its own attributes.

explain, to_dot and to_html know no table of gate names: the symbol, the infix or
function name, elementwise (numbers in the local column) and local_notation (the seed
notes' notation where the local Jacobian is not diagonal) all come from the class; the
local-gradient rule of a gate viz/i18n.py does not know is its docstring's first line.
"""

from __future__ import annotations

import html
import re

import numpy as np

import chainrule as cr
from chainrule.viz import explain, to_dot, to_html

from .test_viz_html import page_data
from .viz_helpers import leaf


class Triple(cr.Gate, register=False):
    """y = 3x, element by element: the local gradient is 3 everywhere.

    (Only the first line is the rule.)
    """

    elementwise = True
    symbol = "3·"
    function_name = "triple"
    saves_inputs = False

    def forward(self, x):
        return 3.0 * x

    def backward(self, gy):
        return 3.0 * gy


class Outer(cr.Gate, register=False):
    """Z = u vᵀ: dZ flows back as dZ · v and uᵀ · dZ."""

    symbol = "⊗"
    infix = "⊗"
    local_notation = ("· v", "uᵀ ·")

    def forward(self, u, v):
        self.u, self.v = u, v
        return np.outer(u, v)

    def backward(self, gz):
        return gz @ self.v, self.u @ gz


def graph():
    u, v = leaf([1.0, 2.0], "u"), leaf([3.0, -1.0, 0.5], "v")
    z = cr.apply(Outer(), cr.apply(Triple(), u), v)
    return z.sum(), (u, v)


def test_the_table_shows_the_gates_own_attributes():
    f, (u, v) = graph()
    ex = explain(f)
    rows = {r.gate: r for r in ex.rows}
    assert set(rows) >= {"Triple", "Outer"}
    outer, triple = rows["Outer"], rows["Triple"]
    # function_name names the unary gate's output, infix the binary one's
    assert triple.output == "triple(u)"
    assert outer.output == "triple(u) ⊗ v"
    assert outer.input_names == ("triple(u)", "v")
    # elementwise: the local gradient of every element, as numbers
    assert np.array_equal(triple.local[0], [3.0, 3.0])
    # not elementwise, arrays: no numbers; the table prints the gate's local_notation
    assert outer.local == (None, None)
    assert triple.rule == "y = 3x, element by element: the local gradient is 3 everywhere."
    assert outer.rule == "Z = u vᵀ: dZ flows back as dZ · v and uᵀ · dZ."
    ko = {r.gate: r for r in explain(f, lang="ko").rows}
    assert ko["Outer"].rule == outer.rule             # no Korean wording: the docstring
    assert ko["Sum"].rule != rows["Sum"].rule         # a known gate's rule is translated
    text = ex.table()
    lines = text.splitlines()
    outer_lines = [ln for ln in lines if "· v" in ln or "uᵀ ·" in ln]
    assert len(outer_lines) == 2 and "Outer" in outer_lines[0]
    triple_line = next(ln for ln in lines if "Triple" in ln)
    assert "×  [3, 3]" in triple_line
    full = ex.table(full=True)
    assert "local: · v   (Z = u vᵀ" in full and "local: uᵀ ·   (Z = u vᵀ" in full
    notebook = ex._repr_html_()
    assert html.escape("· v") in notebook and html.escape("uᵀ ·") in notebook
    # and the gradients are backward's
    f.backward()
    assert np.array_equal(ex.gradients["u"], u.grad.data)
    assert np.array_equal(ex.gradients["v"], v.grad.data)


def test_the_dot_text_draws_the_gates_symbols():
    f, _ = graph()
    dot = to_dot(explain(f))
    triple = re.search(r'g(\d+) \[label=<3·>, shape=circle.*tooltip="Triple"', dot)
    outer = re.search(r'g(\d+) \[label=<⊗>, shape=circle.*tooltip="Outer"', dot)
    assert triple and outer
    # u -> triple -> outer <- v, outer -> sum
    assert f"g{triple.group(1)} -> g{outer.group(1)} " in dot


def test_the_page_shows_the_gates_own_attributes():
    f, _ = graph()
    page = to_html(f)
    data = page_data(page)
    fwd = {s["title"]: s for s in data["steps"] if s["phase"] == "forward" and s["gate"]
           is not None}
    assert fwd["Triple gate computes triple(u)"]["formula"] == "triple(u)"
    # inputs by shape, a small output by its values (arrays up to PAGE_ARRAY elements)
    assert fwd["Triple gate computes triple(u)"]["calc"] == "triple((2,)) → [3, 6]"
    assert fwd["Outer gate computes triple(u) ⊗ v"]["calc"] == \
        "(2,) ⊗ (3,) → [[9, -3, 1.5],\n [18, -6, 3]]"
    bwd = {s["title"]: s for s in data["steps"] if s["phase"] == "backward"}
    outer = bwd["Outer gate: upstream × local = downstream"]
    assert [c["local"] for c in outer["chain"]] == ["· v", "uᵀ ·"]
    assert outer["rule"] == "Z = u vᵀ: dZ flows back as dZ · v and uᵀ · dZ."
    triple = bwd["Triple gate: upstream × local = downstream"]
    assert triple["chain"][0]["local"] == "[3, 3]"
    assert triple["rule"].startswith("y = 3x, element by element")
    # the drawing in the page: the symbols, with the class name as the tooltip
    assert ">3·</text><title>Triple</title>" in page
    assert ">⊗</text><title>Outer</title>" in page
