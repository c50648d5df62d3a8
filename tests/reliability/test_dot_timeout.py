"""Issue 12, item 7: `chainrule explain --svg` gives Graphviz a time limit.

Before, `dot` ran without one: a hanging `dot` hung the command. Now it is stopped
after --dot-timeout (or $CHAINRULE_DOT_TIMEOUT, default 30 s) and the SVG is drawn
with chainrule's own layout, as when Graphviz is missing. A fake `dot` that sleeps is
put first on PATH.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.errors import GraphvizError, GraphvizTimeoutError


@pytest.fixture
def sleepy_dot(tmp_path, monkeypatch):
    """A `dot` that starts a child which sleeps 60 s (and records the child's pid)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    pidfile = tmp_path / "sleep.pid"
    script = bindir / "dot"
    script.write_text(f"#!/bin/sh\nsleep 60 &\necho $! > {pidfile}\nwait\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv("CHAINRULE_DOT_TIMEOUT", raising=False)
    return pidfile


def _gone(pid: int, within: float = 5.0) -> bool:
    """The process is no more (or a zombie waiting for its reaper)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def test_a_hanging_dot_is_stopped_and_the_svg_drawn_by_chainrule(sleepy_dot, tmp_path,
                                                                 capsys):
    out = tmp_path / "g.svg"
    t0 = time.monotonic()
    code = main(["explain", "a*b", "a=2", "b=3", "--svg", str(out), "--dot-timeout", "0.5"])
    elapsed = time.monotonic() - t0
    _, err = capsys.readouterr()
    assert code == 0
    assert elapsed < 10
    assert "note: Graphviz (dot) did not finish within 0.5 s (--dot-timeout, " \
           "$CHAINRULE_DOT_TIMEOUT), so" in err
    assert "drawn with chainrule's own layout" in err
    assert "<svg" in out.read_text(encoding="utf-8")
    if sleepy_dot.exists() and sleepy_dot.read_text().strip():
        assert _gone(int(sleepy_dot.read_text())), "dot's child was left running"


def test_the_timeout_comes_from_the_environment(sleepy_dot, tmp_path, capsys,
                                                 monkeypatch):
    monkeypatch.setenv("CHAINRULE_DOT_TIMEOUT", "0.3")
    out = tmp_path / "g.svg"
    assert main(["explain", "a*b", "a=2", "b=3", "--svg", str(out)]) == 0
    assert "did not finish within 0.3 s" in capsys.readouterr().err
    assert out.exists()


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "soon"])
def test_a_bad_timeout_is_refused(bad, capsys, monkeypatch):
    with pytest.raises(SystemExit) as e:
        main(["explain", "a*b", "a=2", "b=3", "--dot-timeout", bad])
    assert e.value.code == 2
    assert "expected a positive number of seconds" in capsys.readouterr().err
    monkeypatch.setenv("CHAINRULE_DOT_TIMEOUT", bad)
    assert main(["explain", "a*b", "a=2", "b=3"]) == 2
    assert "$CHAINRULE_DOT_TIMEOUT: expected a positive number" in capsys.readouterr().err


def test_viz_draw_raises_a_timeout_error_naming_the_limit(sleepy_dot, tmp_path):
    x = cr.tensor(2.0, requires_grad=True)
    t0 = time.monotonic()
    with pytest.raises(GraphvizTimeoutError, match=r"did not finish within 0\.4 s.*stopped"):
        cr.viz.draw(x * x, tmp_path / "g.svg", timeout=0.4)
    assert time.monotonic() - t0 < 10
    assert issubclass(GraphvizTimeoutError, GraphvizError)
    assert not (tmp_path / "g.svg").exists()
