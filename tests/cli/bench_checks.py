"""Helpers for the benchmark tests: the harness modules of ``benchmarks/`` and what the
benchmark scripts must print."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"
FLOAT = r"[\d.]+"


def load_harness() -> tuple[ModuleType, ModuleType]:
    """``benchmarks/harness.py`` and ``benchmarks/mlp_harness.py``, imported as the
    scripts import them (their folder on ``sys.path``)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module("harness"), importlib.import_module("mlp_harness")


def chain_checks(out: str) -> None:
    assert "Chain of 10,000 gates: 5,000 x (y * 1.0001 + 0.0001)" in out
    assert f"dy/dx = {1.0001 ** 5000:.12g}" in out
    for name in ("chainrule", "numpy floor"):
        assert re.search(rf"^{name}\s+{FLOAT}\s+{FLOAT}\s+{FLOAT}\s+{FLOAT}$", out,
                         re.MULTILINE), name
    assert "PyTorch skipped (--no-torch)" in out
    assert re.search(rf"chainrule / NumPy floor per gate: {FLOAT} \(best\)", out)


def mlp_checks(out: str, rounds: int, block: int) -> None:
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
