"""The README's code is real: its Python blocks run, and its source excerpts match."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

import chainrule as cr

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_python_blocks_run_in_order_and_give_the_values_they_claim():
    env: dict = {"cr": cr}
    code = blocks("python")
    assert len(code) >= 5
    for block in code:
        exec(compile(block, "README.md", "exec"), env)
    # values stated in the README's comments
    assert (env["a"].grad.item(), env["b"].grad.item(), env["c"].grad.item()) == (7.0, 9.0, 2.0)
    assert env["mul"].backward(1.0) == (2.0, 100.0)
    t = float(np.tanh(0.5))
    assert abs(env["d2"].item() - (-2 * t * (1 - t * t))) < 1e-12
    assert env["loss"].item() < 0.5        # three epochs on the sample learn something


def test_source_excerpts_are_verbatim():
    source = (ROOT / "src/chainrule/ops/elementwise.py").read_text(encoding="utf-8")
    excerpts = blocks("py")
    assert excerpts
    for ex in excerpts:
        assert ex.strip() in source


def test_the_explain_table_shown_is_what_explain_prints():
    a = cr.tensor(-1.0, requires_grad=True, name="a")
    b = cr.tensor(3.0, requires_grad=True, name="b")
    c = cr.tensor(4.0, requires_grad=True, name="c")
    table = str(cr.explain((a + b) * (b + c)))
    shown = re.search(r"```\n(step .*?)```", README, re.S).group(1)
    for line in shown.strip().splitlines():
        assert line.rstrip() in table
