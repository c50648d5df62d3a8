"""The benchmark harness (``benchmarks/harness.py``, ``benchmarks/mlp_harness.py``) and
the mlp_step script: they compute what they promise, with the smallest settings (no
time is asserted)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from .bench_checks import BENCHMARKS, ROOT, load_harness, mlp_checks

harness, mlp_harness = load_harness()


def test_single_threaded_env() -> None:
    env = harness.single_threaded_env({"PATH": "/bin", "OPENBLAS_CORETYPE": "Haswell",
                                       "OMP_NUM_THREADS": "4"})
    assert env == {"PATH": "/bin", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                   "MKL_NUM_THREADS": "1"}
    assert harness.single_threaded_env(env) is None
    kept = harness.single_threaded_env({**env, "OPENBLAS_L2_SIZE": "1M"},
                                       keep_machine_blas=True)
    assert kept is None
    assert harness.single_threaded_env({**env, "OPENBLAS_L2_SIZE": "1M"}) == env


def test_mlp_implementations_agree_and_mismatch_is_caught(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    params, x, t = mlp_harness.mlp_problem(8, 0)
    impls = mlp_harness.mlp_implementations(params, x, t, no_torch=True)
    assert [i.name for i in impls] == ["chainrule gates", "chainrule nn", "numpy",
                                       "numpy tuned", "matmuls"]
    losses = [i.step() for i in impls[:4]]
    np.testing.assert_allclose(losses, losses[2], rtol=1e-5)
    mlp_harness.check_mlp_agreement(params, x, t, no_torch=True)

    real = mlp_harness.mlp_chainrule_gates

    def off_by_a_bit(*args: np.ndarray) -> mlp_harness.Impl:
        impl = real(*args)
        step = impl.step

        def wrong_step() -> float:
            loss = step()
            impl.weights()[0][0, 0] += 1e-3
            return loss
        impl.step = wrong_step
        return impl

    monkeypatch.setattr(mlp_harness, "mlp_chainrule_gates", off_by_a_bit)
    with pytest.raises(harness.BenchmarkMismatchError,
                       match="chainrule gates disagrees with the NumPy reference"):
        mlp_harness.check_mlp_agreement(params, x, t, no_torch=True)


def test_harness_errors_are_chainrules() -> None:
    from chainrule.errors import BenchmarkError, BenchmarkMismatchError
    assert harness.BenchmarkError is BenchmarkError
    assert mlp_harness.BenchmarkMismatchError is BenchmarkMismatchError


def test_run_functions_reject_bad_settings() -> None:
    with pytest.raises(ValueError, match="gates must be at least 2"):
        harness.run_chain(gates=1)
    with pytest.raises(ValueError, match="rounds must be at least 1"):
        mlp_harness.run_mlp(rounds=0)


def test_mlp_step_script_small_run() -> None:
    """The script re-executes itself single-threaded and prints its tables."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src")
    env["OPENBLAS_NUM_THREADS"] = "2"
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "mlp_step.py"),
                           "--rounds", "1", "--block", "2", "--no-torch", "--no-epoch",
                           "--no-train"], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    mlp_checks(out, rounds=1, block=2)
    assert "OPENBLAS_CORETYPE=(unset), OPENBLAS_L2_SIZE=(unset)" in out
    assert re.search(r"Peak RSS of this benchmark process \(no PyTorch\): \d+ MiB", out)


def test_child_pythonpath_finds_this_chainrule() -> None:
    path = harness.child_pythonpath({"PYTHONPATH": "/elsewhere"})
    assert path.split(os.pathsep) == [str(ROOT / "src"), "/elsewhere"]
    assert harness.child_pythonpath({}) == str(ROOT / "src")
