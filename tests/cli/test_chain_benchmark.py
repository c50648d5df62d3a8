"""The chain benchmark script runs and reports what it promises (no time is asserted)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src")
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "chain.py"), *args],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def test_chain_benchmark_small_run() -> None:
    proc = _run("--gates", "201", "--repeats", "2", "--no-torch")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Chain of 200 gates: 100 x (y * 1.0001 + 0.0001)" in out  # 201 rounds down
    assert f"dy/dx = {1.0001 ** 100:.12g}" in out
    for name in ("chainrule", "numpy floor"):
        assert re.search(rf"^{name}\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+$", out, re.MULTILINE)
    assert "PyTorch skipped (--no-torch)" in out
    assert re.search(r"chainrule / NumPy floor per gate: [\d.]+ \(best\)", out)


def test_chain_benchmark_rejects_bad_arguments() -> None:
    proc = _run("--gates", "1")
    assert proc.returncode != 0
    assert "--gates must be at least 2" in proc.stderr


def test_chain_scaling_small_run() -> None:
    pytest.importorskip("torch")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "chain_scaling.py"),
                           "--sizes", "200", "2000", "--budget", "0.2",
                           "--memory-gates", "4000"],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "torch 2." in out and "collector enabled" in out
    for n in ("200", "2,000"):
        assert re.search(rf"^\s+{n}\s+(\d+\.\d+\s+){{4}}\s*\d+\.\d\d$", out, re.MULTILINE), out
    assert re.search(r"flatness: chainrule at 2,000 / at 200 gates: \d+\.\d\d", out)
    assert re.search(r"chainrule\s+tracemalloc\s+\d+, resident set growth -?\d+", out)
    assert re.search(r"pytorch\s+tracemalloc \(C\+\+: not seen\), resident set growth -?\d+",
                     out)


def test_step_phases_small_run() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "step_phases.py"),
                           "--batch", "4", "--steps", "20", "--warmup", "5"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "MLP 784-256-256-10, batch 4, float32; 20 steps after 5" in out
    phases = re.findall(r"^  (\S.*?)\s+(\d+\.\d)$", out, re.MULTILINE)
    assert [p for p, _ in phases] == ["forward (3 Linear, 2 ReLU)", "loss", "backward",
                                      "SGD step (6 parameters)", "whole step"]
    parts = [float(v) for _, v in phases]
    assert all(v > 0 for v in parts)
