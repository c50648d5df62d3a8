"""The sigmoid, gate by gate and fused (seed notes 000, 001 and 002).

Seed 000 decomposes y = 1 / (1 + exp(-x)) into four nodes: multiply by -1, exp, add 1,
and 1/x, whose local gradient is -1/x^2 = -y^2. Backpropagating through all four gives
y (1 - y), the local gradient of the fused sigmoid gate (seed 001's derivation).

Seed 002 (cs231n lecture 4) runs the same idea on f = sigmoid(w0 x0 + w1 x1 + w2) at
w0 = 2, x0 = -1, w1 = -3, x1 = -2, w2 = -3: f = 0.73, and the sigmoid gate's local
gradient (1 - sigma) sigma = 0.2 equals what the long chain of small gates gives.

Run: ``python examples/sigmoid_gates.py``
"""

from __future__ import annotations

import _seedprint as sp
import numpy as np

import chainrule as cr
from chainrule import ops


def chain_diagram(names: list[str], gates: list[str], values: list[float],
                  grads: list[float]) -> str:
    """A straight chain of gates: names and values on the edges, gradients below."""
    cells = [(n, sp.fmt(v), sp.fmt(g)) for n, v, g in zip(names, values, grads)]
    widths = [max(len(c) for c in cell) for cell in cells]
    top, mid, bottom = [], [], []
    for k, ((n, v, g), w) in enumerate(zip(cells, widths)):
        link = f" ──{gates[k]}── " if k < len(gates) else ""
        top.append(n.center(w) + " " * len(link))
        mid.append(v.center(w) + link)
        bottom.append(g.center(w) + " " * len(link))
    return "\n".join("    " + "".join(row).rstrip() for row in (top, mid, bottom)) + "\n"


def decomposed_by_hand(x: float) -> None:
    print(f"1. y = 1 / (1 + exp(-x)) as four gates, by hand, at x = {x}")
    print()
    neg, exp, add, inv = ops.Mul(), ops.Exp(), ops.Add(), ops.Div()
    a = neg.forward(x, -1.0)       # -x
    b = exp.forward(a)             # exp(-x)
    c = add.forward(b, 1.0)        # 1 + exp(-x)
    y = inv.forward(1.0, c)        # 1 / (1 + exp(-x))

    _, dc = inv.backward(1.0)      # the 1/x node: local gradient -1/c^2 = -y^2
    db, _ = add.backward(dc)       # the +1 node passes the gradient on
    da = exp.backward(db)          # the exp node multiplies by exp(a) = b
    dx, _ = neg.backward(da)       # the x(-1) node multiplies by -1

    print("  The chain, with the forward value on each edge and the gradient dy/d(edge)")
    print("  under it:")
    print()
    print(chain_diagram(["x", "a", "b", "c", "y"], ["[× -1]", "[exp]", "[+1]", "[1/x]"],
                        [x, a, b, c, y], [dx, da, db, dc, 1.0]))
    sp.edge_table([
        ("y = 1/c", y, 1.0),
        ("c = b + 1", c, dc),
        ("b = exp(a)", b, db),
        ("a = -x", a, da),
        ("x", x, dx),
    ], "gradient dy / d edge")
    sp.check("local gradient of 1/x is -y^2", dc, -y ** 2)
    sp.check("dy/dx through the four gates = y (1 - y)", dx, y * (1 - y))
    print()


def decomposed_vs_fused() -> None:
    xs = np.array([-3.0, -0.5, 0.0, 0.8, 4.0])
    print(f"2. The same with tensors at x = {sp.fmt(xs)}: decomposed vs the fused gate")
    print()
    x1 = cr.tensor(xs, requires_grad=True)
    y1 = 1.0 / (cr.exp(x1 * -1.0) + 1.0)      # Mul, Exp, Add, Div gates
    y1.sum().backward()
    x2 = cr.tensor(xs, requires_grad=True)
    y2 = cr.sigmoid(x2)                        # one Sigmoid gate: y (1 - y)
    y2.sum().backward()
    sp.edge_table([
        ("y, decomposed (4 gates)", y1, x1.grad),
        ("y, fused Sigmoid gate", y2, x2.grad),
    ], "dy/dx")
    sp.check("values agree", y1, y2)
    y2v = y2.detach().numpy()
    sp.check("gradients agree (= y (1 - y))", x1.grad, y2v * (1 - y2v))
    print()


def cs231n_example() -> None:
    print("3. cs231n: f = 1 / (1 + exp(-(w0 x0 + w1 x1 + w2)))")
    print("   at w0 = 2, x0 = -1, w1 = -3, x1 = -2, w2 = -3")
    print()
    w0, x0, w1, x1, w2 = (cr.tensor(v, requires_grad=True)
                          for v in (2.0, -1.0, -3.0, -2.0, -3.0))
    p0, p1 = w0 * x0, w1 * x1
    s = p0 + p1
    dot = s + w2
    a = dot * -1.0
    b = cr.exp(a)
    c = b + 1.0
    f = 1.0 / c
    for t in (p0, p1, s, dot, a, b, c):
        t.retain_grad()
    f.backward()

    rows = [("f = 1/c", f, 1.0), ("c = b + 1", c, c.grad), ("b = exp(a)", b, b.grad),
            ("a = -dot", a, a.grad), ("dot = s + w2", dot, dot.grad),
            ("s = w0 x0 + w1 x1", s, s.grad), ("w0 x0", p0, p0.grad),
            ("w1 x1", p1, p1.grad), ("w0", w0, w0.grad), ("x0", x0, x0.grad),
            ("w1", w1, w1.grad), ("x1", x1, x1.grad), ("w2", w2, w2.grad)]
    print("  The lecture's figure, to two decimals:")
    print()
    width = max(len(r[0]) for r in rows)
    print(f"    {'edge'.ljust(width)}   forward   gradient")
    for name, fwd, grad in rows:
        print(f"    {name.ljust(width)}   {float(fwd):7.2f}   "
              f"{float(grad):8.2f}")
    print()
    sig = f.item()
    print(f"  The sigmoid gate in one step: (1 - sigma) sigma = (1 - {sig:.2f}) {sig:.2f} "
          f"= {(1 - sig) * sig:.2f}")
    sp.check("(1 - sigma) sigma = gradient at dot through four gates", (1 - sig) * sig,
             dot.grad)
    fused_dot = cr.tensor(1.0, requires_grad=True)
    cr.sigmoid(fused_dot).backward()
    sp.check("fused Sigmoid gate at dot = 1", fused_dot.grad, dot.grad)


def main() -> None:
    sp.title("The sigmoid: four small gates or one fused gate",
             "seed notes 000, 001 and 002 (cs231n lecture 4)")
    decomposed_by_hand(1.0)
    decomposed_vs_fused()
    cs231n_example()


if __name__ == "__main__":
    main()
