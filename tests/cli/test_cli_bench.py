"""``chainrule bench``: a launcher of the benchmark scripts of a source checkout. From a
checkout it runs them and they report what they promise (no time is asserted); from an
installed package it says where the benchmarks are."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from chainrule.cli import bench as bench_cli
from chainrule.cli import main

from .bench_checks import BENCHMARKS, ROOT, chain_checks, mlp_checks


def test_cli_bench_chain(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "chain", "--quick", "--no-torch", "--rounds", "1"]) == 0
    out = capfd.readouterr().out
    chain_checks(out)
    assert "1 runs each, interleaved" in out
    assert "==" not in out            # one benchmark: no section titles


def test_cli_bench_mlp(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "mlp", "--quick", "--no-torch", "--rounds", "1"]) == 0
    mlp_checks(capfd.readouterr().out, rounds=1, block=5)


def cnn_checks(out: str) -> None:
    """What the CNN benchmark promises: agreement first, then both allocator settings
    with their step times, ratios, the per-gate profile and the peak memory."""
    assert "agreement after one step:" in out and "numpy: loss" in out
    assert out.index("===== malloc: default") < out.index("===== malloc: retain")
    assert "cr.retain_freed_memory(): True" in out
    for line in ("chainrule nn / numpy:", "chainrule nn / gemms:", "Conv2d.forward",
                 "MaxPool2d.backward", "peak NumPy memory of one step, chainrule nn"):
        assert out.count(line) == 2, line


def test_cli_bench_cnn(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "cnn", "--quick", "--no-torch", "--rounds", "1"]) == 0
    cnn_checks(capfd.readouterr().out)


def test_cli_bench_all_runs_every_script_with_this_python(
        monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    real_run = subprocess.run
    calls: list[tuple[list[str], float]] = []

    def recording_run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess:
        calls.append((list(cmd), kwargs["timeout"]))
        return real_run(cmd, **kwargs)

    monkeypatch.setattr(subprocess, "run", recording_run)
    assert main(["bench", "--quick", "--no-torch", "--rounds", "1"]) == 0
    out = capfd.readouterr().out
    assert out.index("== chain:") < out.index("== mlp:") < out.index("== cnn:") \
        < out.index("== hvp:")
    chain_checks(out)
    mlp_checks(out, rounds=1, block=5)
    cnn_checks(out)
    assert calls == [
        ([sys.executable, str(BENCHMARKS / "chain.py"), "--gates", "10000", "--repeats", "1",
          "--no-torch"], bench_cli.TIMEOUT),
        ([sys.executable, str(BENCHMARKS / "mlp_step.py"), "--rounds", "1", "--block", "5",
          "--warmup", "5", "--no-epoch", "--no-train", "--no-torch"], bench_cli.TIMEOUT),
        ([sys.executable, str(BENCHMARKS / "mlp_step.py"), "--rounds", "1", "--block", "5",
          "--warmup", "5", "--no-epoch", "--no-train", "--batch", "1", "--no-torch"],
         bench_cli.TIMEOUT),
        ([sys.executable, str(BENCHMARKS / "cnn_step.py"), "--rounds", "1", "--block", "3",
          "--warmup", "3", "--no-torch"], bench_cli.TIMEOUT),
        ([sys.executable, str(BENCHMARKS / "hvp.py"), "--rounds", "1", "--block", "3",
          "--warmup", "2", "--no-profile", "--no-torch"], bench_cli.TIMEOUT)]
    # ... and ends with one summary table of every script's figures
    table = out[out.index("Summary (BLAS openblas"):].splitlines()
    assert table[2].startswith("| work | unit | chainrule | PyTorch | NumPy | floor |")
    works = [row.split(" | ")[0].lstrip("| ") for row in table[4:] if row.startswith("|")]
    assert works[:5] == ["chain of 10,000 gates", "MLP 784-256-256-10 B128, nn + SGD",
                         "MLP 784-256-256-10 B1, nn + SGD",
                         "LeNet-style CNN B64, nn + SGD, malloc defaults",
                         "LeNet-style CNN B64, nn + SGD, malloc retained"]
    # the HVP row names chainrule's fastest idiom of the run, whichever it was
    assert len(works) == 6
    assert works[5].startswith("HVP of MLP 784-256-256-10 B128 loss, float64 (chainrule ")
    for row in table[4:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[3] == "-" and cells[6] == "-"          # --no-torch: no PyTorch column
        assert float(cells[2]) > 0 and float(cells[8]) > 0
    assert "summary\t" not in out                          # the raw lines are not echoed


def test_cli_bench_default_settings_map_to_the_scripts() -> None:
    plain = argparse.Namespace(quick=False, rounds=None, no_torch=False, machine_blas=True,
                               threads=1)
    assert bench_cli.script_argv("chain", plain) == ["chain.py", "--gates", "10000",
                                                     "--repeats", "5"]
    assert bench_cli.script_argv("mlp", plain) == [
        "mlp_step.py", "--rounds", "30", "--block", "10", "--warmup", "20", "--no-epoch",
        "--no-train", "--machine-blas"]
    two = argparse.Namespace(quick=True, rounds=None, no_torch=False, machine_blas=False,
                             threads=2)
    assert bench_cli.script_argv("chain", two)[-2:] == ["--repeats", "3"]   # no BLAS in it
    for name in ("mlp", "cnn", "hvp"):
        assert bench_cli.script_argv(name, two)[-2:] == ["--threads", "2"]


def test_cli_bench_rejects_bad_arguments(capfd: pytest.CaptureFixture[str]) -> None:
    for argv in (["bench", "--rounds", "0"], ["bench", "speed"], ["bench", "--timeout", "0"],
                 ["bench", "--threads", "0"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    err = capfd.readouterr().err
    assert "expected a positive integer, got 0" in err
    assert "invalid choice: 'speed'" in err
    assert "expected a finite number > 0, got 0" in err


def test_cli_bench_stops_a_script_at_the_timeout(
        monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    def too_slow(cmd: list[str], **kwargs: object) -> None:
        raise subprocess.TimeoutExpired(cmd, kwargs["timeout"])

    monkeypatch.setattr(subprocess, "run", too_slow)
    assert main(["bench", "chain", "--timeout", "2.5"]) == 1
    assert "chainrule bench chain: stopped after 2.5 s (--timeout)" in capfd.readouterr().err


def test_cli_bench_outside_a_source_checkout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    assert bench_cli.benchmarks_dir(ROOT / "src" / "chainrule") == BENCHMARKS
    installed = tmp_path / "site-packages" / "chainrule"
    installed.mkdir(parents=True)
    assert bench_cli.benchmarks_dir(installed) is None
    monkeypatch.setattr(bench_cli, "PACKAGE_DIR", installed)
    assert main(["bench", "chain"]) == 1
    out, err = capfd.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert "the benchmarks live in the source repository" in err
    assert "python benchmarks/chain.py" in err
