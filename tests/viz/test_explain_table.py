"""cr.explain: the backward table of the seed notes' worked examples, and its contract."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import BackwardError, GraphFreedError
from chainrule.viz import Explanation, explain, format_value
from chainrule.viz.i18n import LanguageError

from . import viz_helpers as graphs
from .viz_helpers import in_scope, leaf


@pytest.fixture
def shopping():
    """Deep Learning from Scratch ch. 5: 2 apples at 100, tax 1.1."""
    apple, count, tax = leaf(100.0, "apple"), leaf(2.0, "count"), leaf(1.1, "tax")
    return apple * count * tax, (apple, count, tax)


@pytest.fixture
def abc():
    """Seed 001: f = (a+b)(b+c) at a=-1, b=3, c=4."""
    return graphs.abc()


def test_shopping_rows_are_the_seed_notes(shopping):
    price, _ = shopping
    ex = explain(price)
    assert isinstance(ex, Explanation)
    assert [r.step for r in ex.rows] == [1, 2]
    first, second = ex.rows
    # the tax gate is visited first: upstream 1, local (tax, price) swapped
    assert first.gate == "Mul" and first.output == "f"
    assert first.input_names == ("apple * count", "tax")
    assert first.inputs == (200.0, 1.1)
    assert first.upstream == 1.0
    assert first.local == (1.1, 200.0)
    assert first.downstream == (1.1, 200.0)
    assert first.value == 100.0 * 2.0 * 1.1          # 220.00000000000003, as computed
    # then the apple gate: upstream 1.1, d/d apple = 2.2, d/d count = 110
    assert second.input_names == ("apple", "count")
    assert second.inputs == (100.0, 2.0)
    assert second.upstream == 1.1
    assert second.local == (2.0, 100.0)
    assert second.downstream == (2.2, 1.1 * 100.0)
    assert second.downstream[1] == pytest.approx(110.0)
    assert ex.gradients == {"apple": 2.2, "count": 1.1 * 100.0, "tax": 200.0}
    assert all(r.fanout == () for r in ex.rows)


def test_shopping_table_text_prints_values_short_and_exactly_with_full(shopping):
    price, _ = shopping
    exact = explain(price).table(full=True).splitlines()
    assert "  df/dcount = 110.00000000000001" in exact
    assert any(ln.split()[:5] == ["1", "Mul", "f", "=", "220.00000000000003"] for ln in exact)
    text = str(explain(price))
    lines = text.splitlines()
    assert lines[0].startswith("Backward pass of f: 2 gate(s)")
    header = next(ln for ln in lines if ln.startswith("step"))
    for col in ("gate", "output", "input", "value", "upstream", "local", "downstream"):
        assert col in header
    row1 = next(ln for ln in lines if ln.strip().startswith("1  Mul"))
    # the output's forward value shows (f = 220), 6 significant digits by default
    assert row1.split() == ["1", "Mul", "f", "=", "220.0", "apple", "*", "count", "200.0",
                            "1.0", "×", "1.1", "=", "1.1"]
    row2 = next(ln for ln in lines if ln.strip().startswith("2  Mul"))
    assert row2.split()[-5:] == ["1.1", "×", "2.0", "=", "2.2"]
    count_line = next(ln for ln in lines if ln.split()[:1] == ["count"])
    assert count_line.split() == ["count", "2.0", "1.1", "×", "100.0", "=", "110.0"]
    assert "  df/dapple = 2.2" in lines
    assert "  df/dcount = 110.0" in lines
    assert "  df/dtax = 200.0" in lines


def test_abc_rows_and_fan_out(abc):
    f, _ = abc
    ex = explain(f)
    assert [(r.gate, r.output) for r in ex.rows] == [("Mul", "f"), ("Add", "b + c"),
                                                     ("Add", "a + b")]
    mul, add_bc, add_ab = ex.rows
    assert mul.inputs == (2.0, 7.0) and mul.upstream == 1.0
    assert mul.local == (7.0, 2.0) and mul.downstream == (7.0, 2.0)
    assert add_bc.input_names == ("b", "c") and add_bc.upstream == 2.0
    assert add_bc.local == (1.0, 1.0) and add_bc.downstream == (2.0, 2.0)
    assert add_ab.input_names == ("a", "b") and add_ab.upstream == 7.0
    assert add_ab.downstream == (7.0, 7.0)
    # b fans out: its gradients 7 (through a+b) and 2 (through b+c) add up to 9,
    # complete after the last row that sends b a gradient
    assert mul.fanout == () and add_bc.fanout == ()
    (fan,) = add_ab.fanout
    assert (fan.name, fan.parts, fan.total) == ("b", (7.0, 2.0), 9.0)
    assert ex.gradients == {"a": 7.0, "b": 9.0, "c": 2.0}
    text = str(ex)
    assert "fan-out: b is used 2 times, its gradients add up: 7.0 + 2.0 = 9.0" in text
    for line in ("  df/da = 7.0", "  df/db = 9.0", "  df/dc = 2.0"):
        assert line in text.splitlines()


def test_gradients_equal_backward_and_grad_is_untouched(abc):
    f, leaves = abc
    ex = explain(f)
    assert all(t.grad is None for t in leaves)          # explain touched no .grad
    f.backward()                                         # and the graph is still there
    assert {t.name: t.grad.item() for t in leaves} == ex.gradients


def test_after_backward_with_retain_graph(abc):
    f, leaves = abc
    f.backward(retain_graph=True)
    ex = explain(f)
    assert ex.gradients == {t.name: t.grad.item() for t in leaves}
    assert leaves[1].grad.item() == 9.0                  # not accumulated twice


def test_freed_graph_says_what_to_do(abc):
    f, _ = abc
    f.backward()
    with pytest.raises(GraphFreedError, match=r"before y\.backward\(\).*retain_graph=True"):
        explain(f)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(TypeError, match="expected a chainrule Tensor"):
        explain(3.0)
    with pytest.raises(BackwardError, match="does not require grad"):
        explain(cr.tensor(2.0) * 3)
    with pytest.raises(LanguageError, match="'fr' is not supported"):
        explain(leaf(1.0, "x") * 2, lang="fr")
    v = leaf([1.0, 2.0], "v")
    with pytest.raises(BackwardError, match="pass grad="):
        explain(v * 2)


def test_vector_output_with_grad_argument():
    v = leaf([1.0, 2.0, 3.0], "v")
    ex = explain(v * v, grad=np.array([1.0, 0.5, 0.0]))
    np.testing.assert_array_equal(ex.gradients["v"], [2.0, 2.0, 0.0])
    (row,) = ex.rows
    (fan,) = row.fanout                                   # v is used twice by one gate
    assert fan.name == "v"
    np.testing.assert_array_equal(fan.parts[0], [1.0, 1.0, 0.0])


def test_korean_headings(abc):
    f, _ = abc
    text = explain(f, lang="ko").table()
    assert text.startswith("f의 역전파: 게이트 3개")
    header = next(ln for ln in text.splitlines() if ln.startswith("단계"))
    for col in ("게이트", "출력", "입력", "값", "상류 기울기", "국소 기울기", "하류 기울기"):
        assert col in header
    assert "기울기 (역전파가 계산한 값):" in text
    assert "분기: b는 2곳에 쓰여 기울기를 더함: 7.0 + 2.0 = 9.0" in text
    # the same explanation renders in English on request
    assert explain(f, lang="ko").table(lang="en").startswith("Backward pass of f")


def test_korean_names_align_in_the_table():
    apple, count = leaf(100.0, "사과"), leaf(2.0, "개수")
    text = explain(apple * count, lang="ko").table()
    lines = text.splitlines()
    header = next(ln for ln in lines if ln.startswith("단계"))
    row = next(ln for ln in lines if ln.strip().startswith("1"))
    from chainrule._text import display_width
    # the "value" column starts at the same display column in the header and the row
    assert display_width(header[:header.index("값")]) == \
        display_width(row[:row.index("100.0")])


def test_constant_inputs_and_unnamed_leaves():
    x = cr.tensor(3.0, requires_grad=True)              # unnamed: labelled x1
    y = x ** 2 + 1
    ex = explain(y)
    add, pow_ = ex.rows
    assert pow_.gate == "Pow" and pow_.input_names == ("x1", "2")
    assert pow_.local == (6.0, None) and pow_.downstream == (6.0, None)
    assert add.input_names == ("x1 ** 2", "1") and add.downstream[1] is None
    assert ex.gradients == {"x1": 6.0}
    assert "— (constant: no gradient)" in str(ex)


def test_labels_use_tensor_names_and_stay_unique():
    a1, a2 = leaf(1.0, "a"), leaf(2.0, "a")
    h = a1 * a2
    h.name = "h"
    f = h + a1
    ex = explain(f)
    assert set(ex.gradients) == {"a", "a#2"}
    assert ex.gradients == {"a": 3.0, "a#2": 1.0}
    assert ex.rows[0].input_names == ("h", "a")


def test_hooks_are_not_run_by_explain():
    x = leaf(2.0, "x")
    h = x * 3
    h.retain_grad()
    seen = []
    x.register_hook(lambda g: seen.append(g))
    explain(h * h)
    assert seen == [] and h.grad is None


def test_leaf_output_and_repr():
    x = leaf(5.0, "x")
    ex = explain(x)
    assert ex.rows == [] and ex.gradients == {"x": 1.0}
    assert "x is an input itself" in str(ex)
    ex2 = explain(x * 2)
    assert repr(ex2) == str(ex2)          # the REPL shows the table, not a one-liner
    assert repr(ex2).startswith("Backward pass of f: 1 gate(s)")


def test_arrays_summary_and_full():
    cr_w = cr.tensor(np.arange(12.0).reshape(3, 4) / 10, requires_grad=True, name="W")
    x = cr.tensor([1.0, -2.0, 0.5], requires_grad=True, name="x")
    loss = cr.sigmoid(x @ cr_w).sum()
    ex = explain(loss)
    assert [r.gate for r in ex.rows] == ["Sum", "Sigmoid", "MatMul"]
    matmul = ex.rows[2]
    assert matmul.local == (None, None)                 # not a number: see the rule
    assert "Yᵀ" in matmul.rule
    assert matmul.downstream[1].shape == (3, 4)
    sig = ex.rows[1]
    y = 1 / (1 + np.exp(-(x.data @ cr_w.data)))
    np.testing.assert_allclose(sig.local[0], y * (1 - y))  # elementwise local gradient
    text = str(ex)
    assert "(3, 4) mean=" in text and "· Yᵀ" in text and "Xᵀ ·" in text
    full = ex.table(full=True)
    assert "step 3: MatMul" in full
    for v in cr_w.data.ravel():
        assert repr(float(v)) in full
    loss.backward()
    np.testing.assert_array_equal(ex.gradients["W"], cr_w.grad.data)
    np.testing.assert_array_equal(ex.gradients["x"], x.grad.data)


def test_format_value():
    assert format_value(0.1 + 0.2) == "0.3"                   # 6 significant digits
    assert format_value(0.1 + 0.2, full=True) == "0.30000000000000004"
    assert format_value(1 / 3) == "0.333333"
    assert format_value(np.float32(0.1)) == "0.1"
    assert format_value(np.array(2.5)) == "2.5"
    assert format_value(np.array([1.0, 2.5])) == "[1, 2.5]"
    assert format_value(np.zeros((10, 10))) == "(10, 10) mean=0 min=0 max=0"
    assert format_value(np.zeros((10, 10)), short=True) == "(10, 10)"
    assert format_value(1 / 3, short=True) == "0.333333"
    assert format_value(220.00000000000003, short=True) == "220.0"
    assert format_value(None) == "—"


def test_rows_as_dict_and_html(abc):
    f, _ = abc
    ex = explain(f)
    d = ex.rows[2].as_dict()
    assert d["gate"] == "Add" and d["downstream"] == (7.0, 7.0)
    assert d["fanout"] == [{"name": "b", "parts": (7.0, 2.0), "total": 9.0}]
    html = ex._repr_html_()
    assert html.startswith('<div class="chainrule-explain">')
    assert "df/db = <span style='color:#c62828'>9.0</span>" in html


def test_module_scope_is_reported():
    x = leaf(2.0, "x")
    y = x * 3.0
    in_scope(y, "layer1")
    (row,) = explain(y).rows
    assert row.scope == "layer1"
    assert "Mul (layer1)" in str(explain(y))
