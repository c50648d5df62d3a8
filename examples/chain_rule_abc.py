"""f = (a + b)(b + c) at a = -1, b = 3, c = 4: the chain-rule example of seed note 001.

With x = a + b and y = b + c, f = x y. The multiply gate sends df/dx = y = 7 and
df/dy = x = 2 back; each add gate passes its gradient through unchanged. ``b`` feeds
both add gates (a "common variable"), so its gradient is the sum of the two:
df/da = 7, df/db = 7 + 2 = 9, df/dc = 2.

Run: ``python examples/chain_rule_abc.py``
"""

from __future__ import annotations

import _seedprint as sp

import chainrule as cr
from chainrule import ops


def diagram(a: float, b: float, c: float, x: float, y: float, f: float) -> str:
    """The graph with one number per edge: inputs, the two sums, and f."""
    n = sp.fmt
    top = f"    a {n(a):>4} ─┐"
    col = len(top) - 1                       # where the input edges meet
    upper = " " * col + f"├─[+]── x {n(x):>3} ─┐"
    col2 = len(upper) - 1                    # where x and y meet
    middle = f"    b {n(b):>4} ─┤"
    middle += " " * (col2 - len(middle)) + f"├─[×]── f {n(f)}"
    lower = " " * col + f"├─[+]── y {n(y):>3} ─┘"
    bottom = f"    c {n(c):>4} ─┘"
    return "\n".join([top, upper, middle, lower, bottom, ""])


def main() -> None:
    sp.title("f = (a + b)(b + c) at a = -1, b = 3, c = 4",
             "seed note 001, the chain-rule example")

    print("1. By hand, gate by gate")
    print()
    add_x, add_y, mul = ops.Add(), ops.Add(), ops.Mul()
    a, b, c = -1.0, 3.0, 4.0
    x = add_x.forward(a, b)           # 2
    y = add_y.forward(b, c)           # 7
    f = mul.forward(x, y)             # 14

    df_dx, df_dy = mul.backward(1.0)  # 7, 2: the multiply gate swaps its inputs
    da, db_from_x = add_x.backward(df_dx)
    db_from_y, dc = add_y.backward(df_dy)
    db = db_from_x + db_from_y        # b is used twice: its gradients add up

    print("  Forward (values on the edges):")
    print(diagram(a, b, c, x, y, f))
    print("  Backward (df/d edge in the same places; b's two edges carry 7 and 2):")
    print(diagram(da, db, dc, df_dx, df_dy, 1.0))
    sp.edge_table([
        ("f", f, 1.0),
        ("x = a + b", x, df_dx),
        ("y = b + c", y, df_dy),
        ("a", a, da),
        ("b (into x)", b, db_from_x),
        ("b (into y)", b, db_from_y),
        ("b (total)", b, db),
        ("c", c, dc),
    ], "gradient df / d edge")

    print("2. With tensors and backward()")
    print()
    ta, tb, tc = (cr.tensor(v, requires_grad=True) for v in (a, b, c))
    tf = (ta + tb) * (tb + tc)
    tf.backward()
    print(f"  f = {sp.fmt(tf)}")
    sp.check("df/da", ta.grad, 7.0)
    sp.check("df/db", tb.grad, 9.0)
    sp.check("df/dc", tc.grad, 2.0)


if __name__ == "__main__":
    main()
