"""See backprop: the seed notes' worked examples as tables, drawings and a step-through page.

Run it from the repository root::

    PYTHONPATH=src python examples/explain_demo.py            # English
    PYTHONPATH=src python examples/explain_demo.py --lang ko  # Korean

It prints ``cr.explain``'s backward table for three examples of the seed notes and
writes, for each, a step-through page (open it in a browser: buttons, arrow keys and a
slider step through the forward and backward passes), the Graphviz DOT text and,
when Graphviz's ``dot`` is installed, an SVG drawing.

1. The shopping example (Deep Learning from Scratch, ch. 5): 2 apples at 100 each with
   a 1.1 tax cost 220; d price / d apple = 2.2, d price / d count = 110,
   d price / d tax = 200.
2. f = (a + b)(b + c) at a = -1, b = 3, c = 4: df/da = 7, df/db = 9 (b fans out:
   7 + 2), df/dc = 2.
3. The sigmoid decomposed into its gates: -x, exp, +1, 1/x; its gradient is y(1 - y).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule.viz import GraphvizError, explain


def examples() -> list[tuple[str, cr.Tensor, list[cr.Tensor]]]:
    """The three computations (name, output, inputs), each ready for backward."""
    apple = cr.tensor(100.0, requires_grad=True, name="apple")
    count = cr.tensor(2.0, requires_grad=True, name="count")
    tax = cr.tensor(1.1, requires_grad=True, name="tax")
    price = apple * count * tax

    a = cr.tensor(-1.0, requires_grad=True, name="a")
    b = cr.tensor(3.0, requires_grad=True, name="b")
    c = cr.tensor(4.0, requires_grad=True, name="c")
    f = (a + b) * (b + c)

    x = cr.tensor(2.0, requires_grad=True, name="x")
    y = 1 / (1 + cr.exp(-x))
    return [("shopping", price, [apple, count, tax]), ("abc", f, [a, b, c]),
            ("sigmoid", y, [x])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", default="runs/explain_demo", help="output directory")
    parser.add_argument("--lang", choices=("en", "ko"), default="en")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    have_dot = shutil.which("dot") is not None
    for name, y, inputs in examples():
        ex = explain(y, lang=args.lang)       # its own backward pass; the graph stays
        print(f"=== {name} ===")
        print(ex)
        print()
        ex.to_html(out / f"{name}.html")
        (out / f"{name}.dot").write_text(ex.to_dot(title=name), encoding="utf-8")
        if have_dot:
            try:
                ex.draw(out / f"{name}.svg", title=name)
            except GraphvizError as e:
                print(f"(no SVG: {e})")
        # the gradients explain shows are the ones backward computes
        y.backward()
        for t in inputs:
            assert np.array_equal(ex.gradients[t.name], t.grad.data), t.name
    print(f"wrote the pages and drawings to {out}/ "
          f"({'with' if have_dot else 'without'} Graphviz SVGs)")


if __name__ == "__main__":
    main()
