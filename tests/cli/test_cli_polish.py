"""The command line's rough edges: one-line errors, a closed pipe, SVG without Graphviz."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chainrule.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_shape_errors_in_explain_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "a*b", "a=[1,2]", "b=[1,2,3]"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chainrule explain: Mul: inputs of shapes (2,), (3,) do not fit")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_svg_falls_back_to_chainrule_s_own_drawing(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))          # no Graphviz `dot` on the PATH
    out = tmp_path / "graph.svg"
    assert main(["explain", "(a+b)*(b+c)", "a=-1", "b=3", "c=4", "--svg", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<svg") or text.startswith("<?xml")
    assert "chainrule's own layout" in capsys.readouterr().err


def test_output_to_a_closed_pipe_exits_quietly() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(f'"{sys.executable}" -m chainrule gradcheck -v | head -n 1',
                          shell=True, capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    assert proc.stdout.startswith("Gradient check of")
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_train_download_failure_is_shown_not_replaced_by_the_sample(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from chainrule.data import datasets

    def offline(url: str, *args: object, **kwargs: object) -> None:
        raise OSError(f"network unreachable: {url}")

    monkeypatch.setattr(datasets, "_fetch", offline)
    code = main(["train", "--dataset", "mnist", "--download", "--epochs", "1",
                 "--no-plots"])
    err = capsys.readouterr().err
    assert code != 0
    assert "Download failed" in err and "network unreachable" in err


def test_train_without_matplotlib_skips_the_plots_and_says_so(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)       # import fails
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--hidden", "8", "--quiet", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "no plots: matplotlib missing" in captured.out
    assert "pip install 'chainrule[plot]'" in captured.err
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.npz", "config.json",
                                                      "metrics.csv"]
