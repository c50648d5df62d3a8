"""Printing helpers shared by the seed-note examples (not part of the library).

The examples show a computational graph the way the seed notes draw it: the forward
value on each edge, and under it the gradient that flows back along that edge. These
helpers only format numbers and tables; all the calculus is done by chainrule.

Run the examples from the repository root, e.g. ``python examples/shopping.py``. If
chainrule is not installed (``pip install -e .``), the repository's ``src`` folder is
put on the import path so that the examples work from a fresh checkout.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

try:
    import chainrule  # noqa: F401
except ImportError:  # a fresh checkout: use the sources next to this folder
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import numpy as np


def fmt(v: Any, digits: int = 6) -> str:
    """A number as a person would write it: 220, 2.2, 0.7311 (arrays in brackets)."""
    if hasattr(v, "numpy"):
        v = v.detach().numpy()
    arr = np.asarray(v)
    if arr.ndim == 0:
        return f"{float(arr):.{digits}g}"
    return np.array2string(arr, precision=4, suppress_small=True, separator=", ",
                           max_line_width=72)


def title(text: str, source: str) -> None:
    """A heading with the seed note it comes from."""
    print(text)
    print("=" * len(text))
    print(f"(from {source})")
    print()


def edge_table(rows: Sequence[tuple[str, Any, Any]], grad_label: str) -> None:
    """One line per edge: its name, the forward value on it and the gradient under it."""
    head = ("edge", "forward value", grad_label)
    cells = [head] + [(name, fmt(fwd), fmt(grad)) for name, fwd, grad in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(3)]
    for k, c in enumerate(cells):
        print("  " + "   ".join(s.ljust(w) for s, w in zip(c, widths)).rstrip())
        if k == 0:
            print("  " + "   ".join("-" * w for w in widths))
    print()


def check(label: str, got: Any, expected: Any, rtol: float = 1e-12) -> None:
    """Print a computed value next to the seed note's closed form, and whether they agree."""
    # Values are read, not differentiated: .detach().numpy() is the explicit detach.
    got = got.detach().numpy() if hasattr(got, "numpy") else got
    expected = expected.detach().numpy() if hasattr(expected, "numpy") else expected
    ok = np.allclose(np.asarray(got, dtype=float), np.asarray(expected, dtype=float),
                     rtol=rtol, atol=1e-12)
    verdict = "agree" if ok else "DISAGREE"
    if np.ndim(got) > 1:
        diff = np.max(np.abs(np.asarray(got, dtype=float) - np.asarray(expected, dtype=float)))
        print(f"  {label}: shape {np.shape(got)}, largest difference {diff:.1e}   {verdict}")
    else:
        print(f"  {label}: chainrule {fmt(got)}   closed form {fmt(expected)}   {verdict}")
    if not ok:
        raise SystemExit(f"{label}: chainrule gives {got}, the closed form {expected}")
