"""``chainrule bench``, :mod:`chainrule.bench` and the mlp_step script: they run and
report what they promise, with the smallest settings (no time is asserted)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chainrule import bench
from chainrule.cli import main

ROOT = Path(__file__).resolve().parents[2]
FLOAT = r"[\d.]+"


def _chain_checks(out: str) -> None:
    assert "Chain of 10,000 gates: 5,000 x (y * 1.0001 + 0.0001)" in out
    assert f"dy/dx = {1.0001 ** 5000:.12g}" in out
    for name in ("chainrule", "numpy floor"):
        assert re.search(rf"^{name}\s+{FLOAT}\s+{FLOAT}\s+{FLOAT}\s+{FLOAT}$", out,
                         re.MULTILINE), name
    assert "PyTorch skipped (--no-torch)" in out
    assert re.search(rf"chainrule / NumPy floor per gate: {FLOAT} \(best\)", out)


def _mlp_checks(out: str, rounds: int, block: int) -> None:
    assert "MLP 784-256-256-10, batch 128, float32" in out
    assert "env: OPENBLAS_NUM_THREADS=1, OMP_NUM_THREADS=1, MKL_NUM_THREADS=1" in out
    assert re.search(r"chainrule nn\s+loss [\d.]+\s+\|dloss\| [\d.e+-]+\s+max \|dW\|", out)
    assert f"ms per step ({rounds} rounds x {block} steps, interleaved):" in out
    for name in ("chainrule gates", "chainrule nn", "numpy", "numpy tuned", "matmuls"):
        assert re.search(rf"^  {name}\s+{FLOAT}\s+{FLOAT}\s+{FLOAT}$", out, re.MULTILINE), name
    assert not re.search(r"^  pytorch\s", out, re.MULTILINE)
    assert re.search(rf"chainrule gates / numpy\s+{FLOAT}x \({FLOAT}x\)", out)
    assert re.search(rf"chainrule nn\s+/ matmuls\s+{FLOAT}x", out)
    assert "Peak memory allocated by NumPy during one step" in out
    assert "One real epoch" not in out and "Whole process" not in out


def test_cli_bench_chain(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "chain", "--quick", "--no-torch", "--rounds", "1"]) == 0
    out = capfd.readouterr().out
    _chain_checks(out)
    assert "1 runs each, interleaved" in out
    assert "==" not in out            # one benchmark: no section titles


def test_cli_bench_mlp(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "mlp", "--quick", "--no-torch", "--rounds", "1"]) == 0
    _mlp_checks(capfd.readouterr().out, rounds=1, block=5)


def test_cli_bench_all_in_process_when_already_single_threaded(
        monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    """With the environment already right, no child process is started."""
    for v in bench.THREAD_VARS:
        monkeypatch.setenv(v, "1")
    for v in bench.MACHINE_VARS:
        monkeypatch.delenv(v, raising=False)

    def no_child(*args: object, **kwargs: object) -> None:
        raise AssertionError("chainrule bench started a child process")

    monkeypatch.setattr(subprocess, "run", no_child)
    assert main(["bench", "--quick", "--no-torch", "--rounds", "1"]) == 0
    out = capfd.readouterr().out
    assert out.index("== chain:") < out.index("== mlp:")
    _chain_checks(out)
    _mlp_checks(out, rounds=1, block=5)


def test_cli_bench_rejects_bad_arguments(capfd: pytest.CaptureFixture[str]) -> None:
    for argv in (["bench", "--rounds", "0"], ["bench", "speed"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    err = capfd.readouterr().err
    assert "expected a positive integer, got 0" in err
    assert "invalid choice: 'speed'" in err


def test_single_threaded_env() -> None:
    env = bench.single_threaded_env({"PATH": "/bin", "OPENBLAS_CORETYPE": "Haswell",
                                     "OMP_NUM_THREADS": "4"})
    assert env == {"PATH": "/bin", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                   "MKL_NUM_THREADS": "1"}
    assert bench.single_threaded_env(env) is None
    kept = bench.single_threaded_env({**env, "OPENBLAS_L2_SIZE": "1M"},
                                     keep_machine_blas=True)
    assert kept is None
    assert bench.single_threaded_env({**env, "OPENBLAS_L2_SIZE": "1M"}) == env


def test_mlp_implementations_agree_and_mismatch_is_caught(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    params, x, t = bench.mlp_problem(8, 0)
    impls = bench.mlp_implementations(params, x, t, no_torch=True)
    assert [i.name for i in impls] == ["chainrule gates", "chainrule nn", "numpy",
                                       "numpy tuned", "matmuls"]
    losses = [i.step() for i in impls[:4]]
    np.testing.assert_allclose(losses, losses[2], rtol=1e-5)
    bench.check_mlp_agreement(params, x, t, no_torch=True)

    real = bench.mlp_chainrule_gates

    def off_by_a_bit(*args: np.ndarray) -> bench.Impl:
        impl = real(*args)
        step = impl.step

        def wrong_step() -> float:
            loss = step()
            impl.weights()[0][0, 0] += 1e-3
            return loss
        impl.step = wrong_step
        return impl

    monkeypatch.setattr(bench, "mlp_chainrule_gates", off_by_a_bit)
    with pytest.raises(bench.BenchmarkMismatchError,
                       match="chainrule gates disagrees with the NumPy reference"):
        bench.check_mlp_agreement(params, x, t, no_torch=True)


def test_run_functions_reject_bad_settings() -> None:
    with pytest.raises(ValueError, match="gates must be at least 2"):
        bench.run_chain(gates=1)
    with pytest.raises(ValueError, match="rounds must be at least 1"):
        bench.run_mlp(rounds=0)


def test_mlp_step_script_small_run() -> None:
    """The script re-executes itself single-threaded and prints its tables."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src")
    env["OPENBLAS_NUM_THREADS"] = "2"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "mlp_step.py"),
                           "--rounds", "1", "--block", "2", "--no-torch", "--no-epoch",
                           "--no-train"], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    _mlp_checks(out, rounds=1, block=2)
    assert "OPENBLAS_CORETYPE=(unset), OPENBLAS_L2_SIZE=(unset)" in out
    assert re.search(r"Peak RSS of this benchmark process \(no PyTorch\): \d+ MiB", out)


def test_child_pythonpath_finds_this_chainrule() -> None:
    path = bench.child_pythonpath({"PYTHONPATH": "/elsewhere"})
    assert path.split(os.pathsep) == [str(ROOT / "src"), "/elsewhere"]
    assert bench.child_pythonpath({}) == str(ROOT / "src")
