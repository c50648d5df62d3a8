"""The HVP benchmark (``benchmarks/hvp.py``): the hand-written R-op is H v, the agreement
check catches a wrong product, and the script runs small and prints what it promises
(no time is asserted)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from .bench_checks import BENCHMARKS, ROOT, load_harness

FLOAT = r"\d+\.\d+"
harness, _ = load_harness()          # puts benchmarks/ on sys.path, as the script has it
_spec = importlib.util.spec_from_file_location("hvp_benchmark", BENCHMARKS / "hvp.py")
assert _spec is not None and _spec.loader is not None
hvp = sys.modules.setdefault("hvp_benchmark", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(hvp)   # registered first: its dataclass looks its module up


def test_rop_is_the_hessian_times_v() -> None:
    """Central differences of chainrule's gradient along v give the R-op's H v."""
    import chainrule as cr

    params, v, x, t = hvp.hvp_problem(8, 3)
    loss_fn = hvp.chainrule_loss_fn(x, t)

    def gradient(eps: float) -> list[np.ndarray]:
        ps = [cr.tensor(p + eps * d, requires_grad=True) for p, d in zip(params, v)]
        return [g.data for g in cr.grad(loss_fn(*ps), ps)]

    loss, hv = hvp.rop_hvp(params, v, x, hvp.numpy_onehot(t, 10))
    assert loss == pytest.approx(float(loss_fn(*params).data), rel=1e-12)
    eps = 1e-6
    fd = [(a - b) / (2 * eps) for a, b in zip(gradient(eps), gradient(-eps))]
    for got, want in zip(hv, fd):
        assert np.linalg.norm(got - want) <= 1e-6 * np.linalg.norm(want)


def test_agreement_check_catches_a_wrong_product() -> None:
    params, v, x, t = hvp.hvp_problem(4, 0)
    _, ref = hvp.rop_hvp(params, v, x, hvp.numpy_onehot(t, 10))
    good = hvp.chainrule_impls(params, v, x, t)
    lines = hvp.check_agreement(good, ref)
    assert len(lines) == 1 + len(good)
    off = hvp.HVPImpl("off", lambda: [r * (1 + 1e-6) for r in ref])
    with pytest.raises(harness.BenchmarkMismatchError, match="off: H v differs"):
        hvp.check_agreement([off], ref)


def test_hvp_benchmark_small_run() -> None:
    with_torch = importlib.util.find_spec("torch") is not None
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src")
    args = ["--rounds", "2", "--block", "1", "--warmup", "0", "--batch", "8", "--profile",
            "--profile-calls", "2", *([] if with_torch else ["--no-torch"])]
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "hvp.py"), *args],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "MLP 784-256-256-10" in out and "float64, batch 8" in out
    assert "env: OPENBLAS_NUM_THREADS=1, OMP_NUM_THREADS=1, MKL_NUM_THREADS=1" in out
    assert re.search(r"^BLAS: \S", out, re.MULTILINE)
    names = ["chainrule cr.hvp", "chainrule double-bwd", "chainrule grad(g, v)", "numpy R-op"]
    if with_torch:
        names += ["pytorch func.jvp(grad)", "pytorch double-bwd", "pytorch grad(g, v)",
                  "pytorch functional.hvp"]
        assert re.search(r"PyTorch \S+ \(1 thread\)", out)
    for name in names:    # agreed to < 1e-8, then timed: median [min-max]
        m = re.search(rf"^  {re.escape(name)}\s+(\d\.\de[+-]\d+)$", out, re.MULTILINE)
        assert m and float(m.group(1)) < 1e-8, name
        assert re.search(rf"^  {re.escape(name)}\s+{FLOAT} \[{FLOAT}-{FLOAT}\]$", out,
                         re.MULTILINE), name
    for floor in (r"matmuls R-op \(18\)", r"matmuls cr.hvp \(18\)"):
        assert re.search(rf"^  {floor}\s+{FLOAT} \[{FLOAT}-{FLOAT}\]\s+{FLOAT} M multiply-adds$",
                         out, re.MULTILINE), floor
    assert re.search(rf"chainrule / R-op\s+{FLOAT}x\s+\(chainrule [^;]+; target <= 1.3x: "
                     r"(met|NOT met)\)", out)
    assert re.search(rf"R-op / matmuls\s+{FLOAT}x", out)
    assert bool(re.search(rf"chainrule / PyTorch\s+{FLOAT}x", out)) == with_torch
    assert "Minor page faults per HVP: chainrule cr.hvp" in out
    assert "Where chainrule's time goes (asked (--profile))" in out
    assert re.search(r"matrix products \d+\.\d+ \(\d+ per HVP, \d+\.\d M multiply-adds\)", out)
    assert re.search(r"^\s+\d+\.\dx\s+\d+\.\d+\s+autograd/engine\.py:\d+ ", out, re.MULTILINE)
    last = out.strip().splitlines()[-1].split("\t")   # the line `chainrule bench` collects
    assert last[:3] == [harness.SUMMARY_MARK, last[1], "ms/HVP"] and len(last) == 8, last
    assert last[1].startswith("HVP of MLP 784-256-256-10 B8 loss, float64 (chainrule ")
    assert (last[4] != "-") == with_torch and last[7] == "R-op matmuls"


def test_hvp_benchmark_rejects_bad_arguments() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src")
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "hvp.py"), "--rounds", "0",
                           "--no-torch"], capture_output=True, text=True, env=env,
                          timeout=60, check=False)
    assert proc.returncode == 1
    assert "--rounds must be at least 1" in proc.stderr
