"""``cr.explain(y, jacobians=True)``: every gate's local Jacobian, its shape and
structure, and the check that upstream (1, m) · local (m, n) = downstream (1, n)."""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule.viz.jacobian import MAX_ENTRIES, structure


def _note_003() -> cr.Tensor:
    s = cr.tensor([1.0, 2.0, 3.0], requires_grad=True, name="s")
    t = cr.tensor([4.0, 5.0, 6.0], requires_grad=True, name="t")
    return cr.sum(s * t + (s - t)) / 3


def test_rows_carry_each_gate_s_local_jacobian() -> None:
    ex = cr.explain(_note_003(), jacobians=True)
    by_gate = {r.gate: r for r in ex.rows}
    mul = by_gate["Mul"].jacobians
    np.testing.assert_array_equal(mul[0].matrix, np.diag([4.0, 5.0, 6.0]))   # d(s*t)/ds
    np.testing.assert_array_equal(mul[1].matrix, np.diag([1.0, 2.0, 3.0]))   # d(s*t)/dt
    assert mul[0].structure == "diagonal" and mul[0].shape == (3, 3)
    summ = by_gate["Sum"].jacobians[0]
    assert summ.shape == (1, 3) and summ.structure == "sum"
    assert by_gate["Div"].jacobians[1] is None        # the constant 3
    text = ex.table()
    assert "Local Jacobians" in text
    assert "step 5 Mul: d(s * t)/ds has shape (3, 3), diagonal (elementwise); upstream " \
           "(1, 3) · (3, 3) = downstream (1, 3) (agrees with backward)" in text
    assert "DIFFERS" not in text


def test_dense_and_selection_structures_and_korean() -> None:
    w = cr.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True, name="W")
    x = cr.tensor(np.array([[1.0, 2.0, 3.0]]), name="x")
    y = cr.sum(cr.transpose(x @ w))
    ex = cr.explain(y, jacobians=True, lang="ko")
    rows = {r.gate: r for r in ex.rows}
    mm = rows["MatMul"].jacobians[1]
    assert mm.shape == (2, 6) and mm.structure == "dense"
    np.testing.assert_array_equal(mm.matrix, [[1, 0, 2, 0, 3, 0], [0, 1, 0, 2, 0, 3]])
    assert rows["Transpose"].jacobians[0].structure in ("selection", "diagonal")
    text = str(ex)
    assert "국소 야코비 행렬" in text and "밀집 행렬" in text and "역전파와 일치" in text


def test_structure_names() -> None:
    assert structure(np.eye(3) * 2) == "diagonal"
    assert structure(np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])) == "selection"
    assert structure(np.full((1, 4), 0.25)) == "sum"
    assert structure(np.array([[1.0, 2.0]])) == "row"
    assert structure(np.array([[1.0, 2.0], [3.0, 4.0]])) == "dense"


def test_large_jacobians_are_described_not_computed() -> None:
    n = int(np.sqrt(MAX_ENTRIES)) + 1
    x = cr.tensor(np.ones(n), requires_grad=True, name="x")
    ex = cr.explain(cr.sum(cr.exp(x)), jacobians=True)
    exp_row = next(r for r in ex.rows if r.gate == "Exp")
    assert exp_row.jacobians[0].matrix is None
    assert exp_row.jacobians[0].shape == (n, n)
    assert "too large to compute here" in ex.table()


def test_without_the_option_nothing_changes() -> None:
    ex = cr.explain(_note_003())
    assert all(r.jacobians == () for r in ex.rows)
    assert "Local Jacobians" not in ex.table()


def test_korean_particles_follow_the_word() -> None:
    from chainrule.viz.i18n import has_final_consonant, particle, text
    assert [particle(w, "은(는)") for w in ("b", "n", "x1", "W2", "가중치", "입력")] == \
        ["는", "은", "은", "는", "는", "은"]
    assert particle("b", "이(가)") == "가" and particle("m", "을(를)") == "을"
    assert not has_final_consonant("") and has_final_consonant("L")
    assert text("fanout", "ko", name="b", n=2, sum="9") == \
        "분기: b는 2곳에 쓰여 기울기를 더함: 9"
    a = cr.tensor(1.0, requires_grad=True, name="a")
    b = cr.tensor(2.0, requires_grad=True, name="b")
    table = cr.explain((a + b) * b, lang="ko").table()
    assert "b는 2곳에 쓰여" in table and "은(는)" not in table


def test_korean_gate_names_are_the_korean_dlfs_s() -> None:
    a = cr.tensor(-1.0, requires_grad=True, name="a")
    b = cr.tensor(3.0, requires_grad=True, name="b")
    c = cr.tensor(4.0, requires_grad=True, name="c")
    ko = cr.explain((a + b) * (b + c), lang="ko").table()
    assert "곱셈 노드 Mul" in ko and "덧셈 노드 Add" in ko
    assert "곱셈 노드" not in cr.explain((a + b) * (b + c)).table()
