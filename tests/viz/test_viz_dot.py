"""cr.viz.to_dot and cr.viz.draw: the graph as the seed notes draw it."""

from __future__ import annotations

import html
import re
import shutil

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import BackwardError, GraphFreedError
from chainrule.viz import GraphvizError, GraphvizNotFoundError, draw, explain, to_dot

from .viz_helpers import abc, in_scope, leaf

HAS_DOT = shutil.which("dot") is not None


def edges(dot):
    """{(src, dst): [label lines]} from our DOT text."""
    out = {}
    for m in re.finditer(r"^\s*(\w+) -> (\w+) \[label=<(.*)>\];$", dot, re.M):
        out.setdefault((m.group(1), m.group(2)), []).append(
            re.findall(r"<FONT COLOR=\"(#\w+)\">([^<]*)</FONT>", m.group(3)))
    return out


def test_every_gate_and_value_before_backward():
    f, _ = abc()
    dot = to_dot(f)
    assert dot.startswith("digraph chainrule {") and dot.rstrip().endswith("}")
    # gates as nodes with their symbols, in forward order; inputs by name; the output
    assert re.search(r'g0 \[label=<\+>.*tooltip="Add"', dot)
    assert re.search(r'g1 \[label=<\+>.*tooltip="Add"', dot)
    assert re.search(r'g2 \[label=<×>.*tooltip="Mul"', dot)
    for name in "abc":
        assert re.search(rf"v\d+ \[label=<<B>{name}</B>>, shape=box", dot)
    assert re.search(r"v\d+ \[label=<<B>f</B>>", dot)
    e = edges(dot)
    assert len(e) == 7
    labels = sorted(txt for lines in e.values() for line in lines for _, txt in line)
    assert labels == sorted(["-1.0", "3.0", "3.0", "4.0", "2.0", "7.0", "14.0"])
    assert "#d62728" not in dot                       # no gradients before backward


def test_gradients_in_red_after_backward_with_retain_graph():
    f, _ = abc()
    f.backward(retain_graph=True)
    dot = to_dot(f)
    e = edges(dot)
    got = {}
    for (src, dst), lines in e.items():
        for line in lines:
            (vc, value), (gc, grad) = line
            assert vc == "#1f2937" and gc == "#d62728"
            got.setdefault((src, dst), []).append((value, grad))
    # value above, gradient beneath: a -> (a+b) carries -1 and 7, b fans out (7 and 2)
    assert ("-1.0", "7.0") in [p for k, v in got.items() for p in v if k[1] == "g0"]
    into_g0 = sorted(p for k, v in got.items() if k[1] == "g0" for p in v)
    into_g1 = sorted(p for k, v in got.items() if k[1] == "g1" for p in v)
    into_g2 = sorted(p for k, v in got.items() if k[1] == "g2" for p in v)
    assert into_g0 == [("-1.0", "7.0"), ("3.0", "7.0")]
    assert into_g1 == [("3.0", "2.0"), ("4.0", "2.0")]
    assert into_g2 == [("2.0", "7.0"), ("7.0", "2.0")]
    out_edge = [v for k, v in got.items() if k[0] == "g2"]
    assert out_edge == [[("14.0", "1.0")]]
    # each input's node shows its total gradient (b: 7 + 2 = 9)
    assert re.search(r'<B>b</B><BR/><FONT COLOR="#d62728" POINT-SIZE="10">9.0</FONT>', dot)


def test_grads_switch_and_explanations():
    f, _ = abc()
    assert "#d62728" in to_dot(f, grads=True)          # forced, without backward
    assert f.creator.inputs is not None                # graph kept
    ex = explain(f)
    assert "#d62728" in to_dot(ex)                     # an explanation has gradients
    assert "#d62728" not in to_dot(ex, grads=False)
    f.backward()                                        # graph released...
    with pytest.raises(GraphFreedError, match="retain_graph=True"):
        to_dot(f)
    assert "9.0" in ex.to_dot()                         # ...the snapshot still draws
    with pytest.raises(BackwardError):
        to_dot(cr.tensor(1.0) + 1, grads=True)
    with pytest.raises(ValueError, match="rankdir"):
        to_dot(ex, rankdir="XX")


def test_shopping_dot_has_the_seed_values():
    apple, count, tax = leaf(100.0, "apple"), leaf(2.0, "count"), leaf(1.1, "tax")
    dot = to_dot(explain(apple * count * tax), title="shopping")
    assert 'labelloc=t; label=<<B>shopping</B>>' in dot
    for s in ("100.0", "2.0", "1.1", "200.0", "2.2", "110.0", "220.0"):
        assert f">{s}</FONT>" in dot


def test_layer_clusters_nest_by_dotted_scope():
    x = cr.tensor(np.ones((2, 3)), name="x")
    w0 = leaf(np.full((3, 4), 0.1), "layers.0.weight")
    w2 = leaf(np.full((4, 1), 0.2), "layers.2.weight")
    h = x @ w0
    in_scope(h, "layers.0")
    r = cr.relu(h)
    in_scope(r, "layers.1")
    o = r @ w2
    in_scope(o, "layers.2")
    loss = o.sum()                                      # no scope: stays top level
    dot = to_dot(loss)
    lines = dot.splitlines()
    opens = [ln.strip() for ln in lines if "subgraph cluster_" in ln]
    assert len(opens) == 4                              # layers > layers.0/.1/.2
    labels = re.findall(r"label=<([\w.]+)>; style=\"rounded,dashed\"", dot)
    assert labels == ["layers", "layers.0", "layers.1", "layers.2"]
    # the parameter of a layer sits inside that layer's cluster, the sum outside all
    depth = 0
    where = {}
    for ln in lines:
        if "subgraph cluster_" in ln:
            depth += 1
        elif ln.strip() == "}" and depth:
            depth -= 1
        m = re.match(r"\s*(\w+) \[label=<(?:<B>)?([^<>]*)", ln)
        if m:
            where[m.group(2)] = depth
    assert where["layers.0.weight"] == 2 and where["layers.2.weight"] == 2
    assert where["Σ"] == 0
    assert dot.count("{") == dot.count("}")


def test_names_are_escaped():
    x = leaf(1.0, 'x<&>"')
    dot = to_dot(x * 2)
    assert "<B>x&lt;&amp;&gt;&quot;</B>" in dot


def test_draw_dot_text_needs_no_graphviz(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    f, _ = abc()
    p = draw(f, tmp_path / "g.dot")
    assert p.read_text(encoding="utf-8") == to_dot(f)


def test_missing_dot_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    f, _ = abc()
    with pytest.raises(GraphvizNotFoundError) as info:
        draw(f, tmp_path / "g.svg")
    msg = str(info.value)
    assert "apt-get install graphviz" in msg and "brew install graphviz" in msg
    assert "cr.viz.to_html" in msg
    assert isinstance(info.value, FileNotFoundError)
    assert not (tmp_path / "g.svg").exists()


def test_unknown_format(tmp_path):
    f, _ = abc()
    with pytest.raises(ValueError, match=r"\.svg, \.png, \.pdf"):
        draw(f, tmp_path / "g.jpg")


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
def test_draw_svg_png_pdf(tmp_path):
    f, _ = abc()
    f.backward(retain_graph=True)
    svg = html.unescape(draw(f, tmp_path / "g.svg").read_text(encoding="utf-8"))
    assert "<svg" in svg
    for text in ("-1.0", "7.0", "9.0", "2.0", "14.0"):
        assert f">{text}</text>" in svg
    assert draw(f, tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert draw(f, tmp_path / "g.pdf").read_bytes()[:5] == b"%PDF-"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.pdf", "g.png", "g.svg"]


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
def test_dot_failure_is_reported(tmp_path, monkeypatch):
    fake = tmp_path / "bin"
    fake.mkdir()
    script = fake / "dot"
    script.write_text("#!/bin/sh\necho 'syntax error in line 1' >&2\nexit 3\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake))
    f, _ = abc()
    with pytest.raises(GraphvizError, match=r"exit code 3.*syntax error in line 1"):
        draw(f, tmp_path / "g.svg")
    assert not (tmp_path / "g.svg").exists()
