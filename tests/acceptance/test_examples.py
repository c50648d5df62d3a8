"""The runnable seed examples in examples/: each runs as a script and prints the
numbers of its seed note.

Every script is run in a fresh interpreter, exactly as a reader would run it, and its
output is searched for the key values (the forward value and gradient of the edges
the note talks about). A script that finds a disagreement with the closed form exits
with an error, which fails the test too.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run(script: str) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONIOENCODING"] = "utf-8"
    proc = subprocess.run([sys.executable, str(EXAMPLES / script)], capture_output=True,
                          text=True, encoding="utf-8", env=env, timeout=60, check=False)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    assert "DISAGREE" not in proc.stdout
    return proc.stdout


def row(out: str, edge: str) -> list[str]:
    """The cells of the edge-table row that starts with ``edge``."""
    for line in out.splitlines():
        if "─" in line:  # a diagram line, not a table row
            continue
        cells = re.split(r"\s{3,}", line.strip())
        if len(cells) == 3 and cells[0] == edge:
            return cells
    raise AssertionError(f"no row for edge {edge!r} in:\n{out}")


def test_shopping() -> None:
    out = run("shopping.py")
    assert row(out, "total") == ["total", "220", "1"]
    assert row(out, "apple price") == ["apple price", "100", "2.2"]
    assert row(out, "apple count") == ["apple count", "2", "110"]
    assert row(out, "tax") == ["tax", "1.1", "200"]
    assert "200 * 1.1 = 220.00000000000003" in out
    assert "d total / d apple price: chainrule 2.2   closed form 2.2   agree" in out
    # Apples and oranges.
    assert row(out, "orange price") == ["orange price", "150", "3.3"]
    assert row(out, "orange count") == ["orange count", "3", "165"]
    assert "715" in out and "650" in out
    # The two diagrams: values, then gradients in the same places.
    assert re.search(r"apple price\s+100 ─┐", out)
    assert re.search(r"apple price\s+2\.2 ─┐", out)
    assert "├─[×]── 220 ── total" in out


def test_chain_rule_abc() -> None:
    out = run("chain_rule_abc.py")
    assert row(out, "a") == ["a", "-1", "7"]
    assert row(out, "b (total)") == ["b (total)", "3", "9"]
    assert row(out, "c") == ["c", "4", "2"]
    assert row(out, "x = a + b") == ["x = a + b", "2", "7"]
    assert row(out, "y = b + c") == ["y = b + c", "7", "2"]
    for name, value in (("df/da", 7), ("df/db", 9), ("df/dc", 2)):
        assert f"{name}: chainrule {value}   closed form {value}   agree" in out
    assert "├─[×]── f 14" in out


def test_chain_rule_st() -> None:
    out = run("chain_rule_st.py")
    # s = 0.5, t = 1.2: x = 0.5 - sin 1.2, y = e^0.5 + cos 1.2.
    assert row(out, "x = s - sin t")[1:] == ["-0.432039", "-0.864078"]
    assert row(out, "y = e^s + cos t")[1:] == ["2.01108", "-4.02216"]
    assert "dz/ds: chainrule -7.4955   closed form -7.4955   agree" in out
    assert "dz/dt: chainrule 4.06191   closed form 4.06191   agree" in out
    # The vector version: dz/ds = (t + 1)/n, dz/dt = (s - 1)/n with n = 4.
    assert "dz/ds: chainrule [0.5   , 1.    , 0.125 , 0.3125]" in out
    assert "dz/dt: chainrule [-0.125, -0.5  ,  0.25 ,  0.125]" in out
    assert "(2, 3) . dg/dh (3, 4) . dh/di (4, 5) = (2, 5); df/di from backprop: (2, 5)" in out


def test_vector_chain_rule() -> None:
    out = run("vector_chain_rule.py")
    assert "dx/ds = diag(t): shape (3, 3)" in out and "dz/dx = 1/n: shape (1, 3)" in out
    assert "dz/ds: shape (1, 3)  [1.6667, 2.    , 2.3333]" in out
    assert "dz/dt: shape (1, 3)  [0.    , 0.3333, 0.6667]" in out
    assert out.count("agree") == 6
    # The same composition in process, exactly: (t + 1)/n and (s - 1)/n.
    s, t = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])
    (dx_ds, _), (dy_ds, _) = cr.jacobian(lambda a, b: (a * b, a - b), s, t)
    dz_dx, dz_dy = cr.jacobian(lambda x, y: cr.sum(x + y) / 3, s * t, s - t)
    dz_ds = (dz_dx.detach().numpy()[None] @ dx_ds.detach().numpy()
             + dz_dy.detach().numpy()[None] @ dy_ds.detach().numpy())
    assert dz_ds.shape == (1, 3)
    np.testing.assert_allclose(dz_ds[0], [5 / 3, 2.0, 7 / 3], rtol=1e-15)


def test_sigmoid_gates() -> None:
    out = run("sigmoid_gates.py")
    assert row(out, "y = 1/c")[1:] == ["0.731059", "1"]
    assert row(out, "c = b + 1")[1:] == ["1.36788", "-0.534447"]  # -y^2
    assert row(out, "x")[1:] == ["1", "0.196612"]                 # y (1 - y)
    assert "dy/dx through the four gates = y (1 - y): chainrule 0.196612" in out
    assert re.search(r"1\s+──\[× -1\]──\s+-1\s+──\[exp\]──\s+0\.367879\s+──\[\+1\]──\s+"
                     r"1\.36788\s+──\[1/x\]── 0\.731059", out)
    # cs231n, to two decimals: f = 0.73; dw0 = -0.20, dx0 = 0.39, dw1 = -0.39,
    # dx1 = -0.59, dw2 = 0.20.
    cs = out[out.index("3. cs231n"):]
    expected = {"f = 1/c": ("0.73", "1.00"), "w0": ("2.00", "-0.20"),
                "x0": ("-1.00", "0.39"), "w1": ("-3.00", "-0.39"),
                "x1": ("-2.00", "-0.59"), "w2": ("-3.00", "0.20"),
                "dot = s + w2": ("1.00", "0.20")}
    for edge, (fwd, grad) in expected.items():
        assert re.search(rf"^\s+{re.escape(edge)}\s+{re.escape(fwd)}\s+{re.escape(grad)}$",
                         cs, re.MULTILINE), f"{edge}: expected {fwd} / {grad} in\n{cs}"
    assert "(1 - sigma) sigma = (1 - 0.73) 0.73 = 0.20" in out


def test_affine_shapes() -> None:
    out = run("affine_shapes.py")
    assert re.search(r"dL/dX = dL/dY \. W\^T\s+\(2,\)", out)
    assert re.search(r"dL/dW = X\^T \. dL/dY\s+\(2, 3\)", out)
    assert re.search(r"Y = X\.W \+ B\s+\(3,\)\s+\[2\.1, 5\.2, 8\.3\]", out)
    assert re.search(r"X\s+\(4, 3\)", out) and re.search(r"dL/dB\s+\(2,\)", out)
    assert "dL/dB = sum over the batch of dL/dY:" in out
    assert out.count("agree") >= 8


SEED_SCRIPTS = ["shopping.py", "chain_rule_abc.py", "chain_rule_st.py", "sigmoid_gates.py",
                "affine_shapes.py", "vector_chain_rule.py"]


@pytest.mark.parametrize("script", SEED_SCRIPTS)
def test_seed_example_has_a_docstring_and_runs_standalone(script: str) -> None:
    """Each script explains itself (module docstring naming its seed note) and runs
    from any working directory."""
    text = (EXAMPLES / script).read_text(encoding="utf-8")
    assert text.startswith('"""') and "seed note" in text.split('"""')[1]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src")
    proc = subprocess.run([sys.executable, str(EXAMPLES / script)], capture_output=True,
                          text=True, encoding="utf-8", env=env, timeout=60, check=False,
                          cwd=str(Path(__file__).resolve().parent))
    assert proc.returncode == 0, proc.stderr
