"""`chainrule explain "EXPR" name=value ...` through chainrule.cli.main."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from chainrule.cli import main

HAS_DOT = shutil.which("dot") is not None


def run(capsys, *argv):
    code = main(["explain", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_abc_prints_table_and_gradients(capsys):
    code, out, err = run(capsys, "(a+b)*(b+c)", "a=-1", "b=3", "c=4")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "f = (a+b)*(b+c)"
    assert lines[1] == "at a = -1.0, b = 3.0, c = 4.0"
    assert "Backward pass of f: 3 gate(s), in the order backward visits them" in out
    assert "fan-out: b is used 2 times, its gradients add up: 7.0 + 2.0 = 9.0" in out
    grads = [ln.strip() for ln in lines if ln.strip().startswith("df/d")]
    assert grads == ["df/da = 7.0", "df/db = 9.0", "df/dc = 2.0"]


def test_shopping_in_korean(capsys):
    code, out, _ = run(capsys, "apple*count*tax", "apple=100", "count=2", "tax=1.1",
                       "--lang", "ko")
    assert code == 0
    assert "값: apple = 100.0, count = 2.0, tax = 1.1" in out
    assert "f의 역전파: 게이트 2개" in out and "상류 기울기" in out
    assert "df/dapple = 2.2" in out
    assert "df/dcount = 110.0" in out
    assert "df/dtax = 200.0" in out


def test_vectors_full_and_unused_names(capsys):
    code, out, _ = run(capsys, "sum(relu(x)*w)", "x=[1,-2,3]", "w=[0.5,0.5,0.5]", "z=1",
                       "--full")
    assert code == 0
    assert "df/dx = [0.5, 0.0, 0.5]" in out
    assert "df/dw = [1.0, 0.0, 3.0]" in out
    assert "note: z is not used by the expression, so its gradient is 0" in out


@pytest.mark.parametrize("argv, message", [
    (["a.b", "a=1"], "attribute access is not allowed"),
    (["__import__('os').system('true')"], "attribute access is not allowed"),
    (["open(a)", "a=1"], "calls to open() are not allowed"),
    (["a + d", "a=1"], "unknown name 'd'"),
    (["a + 1", "a=x"], "cannot read the value of a"),
    (["a + 1", "a"], "expected name=value"),
    (["2 + 3"], "uses none of the names"),
    (["x * 2", "x=[1,2]"], "has shape (2,)"),
])
def test_refusals_exit_2_with_a_message(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("chainrule explain: ") and message in err


def test_refusal_shows_the_caret(capsys):
    _, _, err = run(capsys, "a + b.c", "a=1", "b=2")
    lines = err.splitlines()
    assert lines[1] == "    a + b.c" and lines[2] == "        ^^^"


def test_html_and_dot_files(capsys, tmp_path):
    page, dot = tmp_path / "p.html", tmp_path / "g.dot"
    code, out, _ = run(capsys, "(a+b)*(b+c)", "a=-1", "b=3", "c=4", "--html", str(page),
                       "--dot", str(dot))
    assert code == 0
    assert f"wrote {page}" in out and f"wrote {dot}" in out
    html = page.read_text(encoding="utf-8")
    assert "f = (a+b)*(b+c)" in html
    data = json.loads(re.search(r'id="cr-data">(.*?)</script>', html, re.S).group(1))
    assert [lf["text"] for lf in data["leaves"]] == ["7.0", "9.0", "2.0"]
    assert "9.0" in dot.read_text(encoding="utf-8")


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
def test_svg_file(capsys, tmp_path):
    svg = tmp_path / "g.svg"
    code, out, _ = run(capsys, "x*x", "x=3", "--svg", str(svg))
    assert code == 0 and "<svg" in svg.read_text(encoding="utf-8")
    assert "df/dx = 6.0" in out


def test_svg_without_graphviz_uses_chainrule_s_own_layout(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    code, out, err = run(capsys, "x*x", "x=3", "--svg", str(tmp_path / "g.svg"))
    assert code == 0
    assert "df/dx = 6.0" in out                           # the table is printed
    assert "Graphviz (dot) is not installed" in err
    assert "<svg" in (tmp_path / "g.svg").read_text(encoding="utf-8")


def test_help_lists_explain(capsys):
    with pytest.raises(SystemExit) as info:
        main(["explain", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "--html FILE" in out and "--svg FILE" in out and "--lang {en,ko}" in out
