"""cr.viz.to_html and cr.viz.to_svg: the self-contained step-through page, checked
without a browser (tests/browser drives it in Chromium)."""

from __future__ import annotations

import json
import re
from itertools import pairwise

import numpy as np
import pytest

import chainrule as cr
from chainrule.viz import explain, to_html, to_svg
from chainrule.viz.layout import _pav, layout
from chainrule.viz.page import PageTooLargeError

from .viz_helpers import abc, in_scope, leaf


def page_data(page):
    m = re.search(r'<script type="application/json" id="cr-data">(.*?)</script>', page, re.S)
    assert m, "the page embeds its data as JSON"
    return json.loads(m.group(1))


def test_page_is_self_contained(tmp_path):
    f, _ = abc()
    page = to_html(f, tmp_path / "abc.html")
    assert (tmp_path / "abc.html").read_text(encoding="utf-8") == page
    assert page.startswith("<!DOCTYPE html>")
    # nothing is loaded from anywhere: no external scripts, styles, fonts or images
    assert not re.search(r"<(script|img|iframe)[^>]*\ssrc=", page)
    assert "<link" not in page and "@import" not in page and "url(http" not in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page
    assert "{{" not in page                               # every placeholder filled
    assert page.count("<svg") >= 5                        # the graph and the icons
    for testid in ("step-first", "step-prev", "step-next", "step-last", "step-slider",
                   "step-counter", "step-detail", "gradients"):
        assert f'data-testid="{testid}"' in page


def test_steps_forward_then_backward_with_the_numbers():
    f, _ = abc()
    data = page_data(to_html(f))
    steps = data["steps"]
    assert len(steps) == 1 + 3 + 1 + 3 + 1                # inputs, 3 gates, seed, 3, done
    assert [s["phase"] for s in steps] == ["forward"] * 4 + ["backward"] * 4 + ["done"]
    assert steps[0]["items"] == ["a = -1.0", "b = 3.0", "c = 4.0"]
    assert steps[1]["formula"] == "a + b" and steps[1]["calc"] == "-1.0 + 3.0 = 2.0"
    assert steps[3]["formula"] == "f = (a + b) * (b + c)"
    assert steps[3]["calc"] == "2.0 * 7.0 = 14.0"
    assert steps[4]["formula"] == "df/df = 1.0"
    mul = steps[5]
    assert mul["title"] == "Mul gate: upstream × local = downstream"
    # the numbers practice mode asks for ride along (localNum, downNum)
    assert mul["chain"] == [{"name": "a + b", "up": "1.0", "local": "7.0", "down": "7.0",
                             "localNum": 7.0, "downNum": 7.0},
                            {"name": "b + c", "up": "1.0", "local": "2.0", "down": "2.0",
                             "localNum": 2.0, "downNum": 2.0}]
    last_add = steps[7]
    assert last_add["notes"] == ["b is used 2 times, so its gradients add up: "
                                 "7.0 + 2.0 = 9.0"]
    assert steps[8]["items"] == ["df/da = 7.0", "df/db = 9.0", "df/dc = 2.0"]
    leaves = {lf["name"]: (lf["text"], lf["step"]) for lf in data["leaves"]}
    # c's gradient is final after the first add (step 6), a's and b's after step 7
    assert leaves == {"a": ("7.0", 7), "b": ("9.0", 7), "c": ("2.0", 6)}


def test_page_gradients_are_what_backward_computes():
    x = leaf(2.0, "x")
    s = 1 / (1 + cr.exp(-x))                              # the seeds' decomposed sigmoid
    data = page_data(to_html(s))
    s.backward()
    (lf,) = data["leaves"]
    assert lf["text"] == repr(x.grad.item())
    y = 1 / (1 + np.exp(-2.0))
    assert x.grad.item() == pytest.approx(y * (1 - y), abs=1e-15)


def test_edges_know_when_they_appear():
    f, _ = abc()
    data = page_data(to_html(f))
    edges = data["edges"]
    assert len(edges) == 7
    assert sorted(e["fwd"] for e in edges) == [0, 0, 0, 0, 1, 2, 3]
    seed = [e for e in edges if e["to"] is None]
    assert seed == [{"fwd": 3, "bwd": 4, "from": 2, "to": None}]
    # the gradient reaches an edge at the backward step of the gate it flows into
    assert sorted(e["bwd"] for e in edges) == [4, 5, 5, 6, 6, 7, 7]


def test_korean_page():
    f, _ = abc()
    page = to_html(f, lang="ko")
    assert '<html lang="ko">' in page
    for label in ("역전파 단계별 보기", "처음", "이전", "다음", "끝", "계산 그래프", "기울기"):
        assert label in page
    data = page_data(page)
    assert data["labels"]["step"] == "{n}단계 중 {i}단계"
    assert data["steps"][5]["title"] == "Mul 게이트: 상류 × 국소 = 하류"
    assert data["steps"][0]["title"] == "입력값"


def test_script_breaking_names_are_escaped():
    evil = leaf(1.0, "</script><script>alert(1)</script>")
    page = to_html(evil * 2, title="<b>x</b>")
    assert "<script>alert(1)" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page
    data = page_data(page)                               # and it still parses back
    assert data["leaves"][0]["name"] == "</script><script>alert(1)</script>"


def test_explanation_and_limits(tmp_path):
    f, _ = abc()
    ex = explain(f, lang="ko")
    page = ex.to_html(tmp_path / "p.html")
    assert '<html lang="ko">' in page
    x = leaf(1.0, "x")
    y = x
    for _ in range(30):
        y = y * 1.5
    with pytest.raises(PageTooLargeError, match="30 gates, more than max_gates=10"):
        to_html(y, max_gates=10)


def test_to_svg_standalone(tmp_path):
    f, _ = abc()
    svg = to_svg(f, tmp_path / "g.svg", grads=True)
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert "<style>" in svg
    assert (tmp_path / "g.svg").read_text(encoding="utf-8") == svg
    grads = re.findall(r'<text class="grad[^"]*" id="cr-eg\d+"[^>]*>([^<]*)</text>', svg)
    assert sorted(grads) == sorted(["7.0", "7.0", "2.0", "2.0", "7.0", "2.0", "1.0"])
    totals = re.findall(r'id="cr-vg\d+"[^>]*>([^<]*)</text>', svg)
    assert sorted(totals) == ["2.0", "7.0", "9.0"]
    assert "cr-eg" not in to_svg(f)                      # no backward yet: values only


def test_layout_is_left_to_right_and_leaves_no_overlap():
    f, _ = abc()
    g = explain(f).graph
    lay = layout(g)
    nodes = lay.nodes
    # every edge goes left to right
    for e in lay.edges:
        assert nodes[e.src].x < nodes[e.dst].x
    # nodes of one column do not overlap
    cols = {}
    for n in nodes.values():
        if n.kind != "dummy":
            cols.setdefault(n.layer, []).append(n)
    for col in cols.values():
        col.sort(key=lambda n: n.y)
        for a, b in pairwise(col):
            assert b.y - b.h / 2 >= a.y + a.h / 2 + 10


def test_pav_projection():
    assert _pav([0.0, 0.0, 0.0], [10.0, 10.0]) == pytest.approx([-10.0, 0.0, 10.0])
    assert _pav([0.0, 50.0], [10.0]) == [0.0, 50.0]


def test_layout_of_a_deep_chain_has_no_recursion():
    x = leaf(0.5, "x")
    y = x
    for _ in range(1500):
        y = cr.tanh(y)
    page = to_html(y)
    assert len(page_data(page)["steps"]) == 1 + 1500 + 1 + 1500 + 1


def test_mlp_clusters_in_svg():
    x = cr.tensor(np.ones((2, 3)), name="x")
    w = leaf(np.full((3, 2), 0.5), "fc1.weight")
    h = cr.affine(x, w)
    in_scope(h, "fc1")
    svg = to_svg(explain(cr.relu(h).sum()))
    assert re.search(r'<g class="cluster"><rect [^>]*/><text [^>]*>fc1</text></g>', svg)
