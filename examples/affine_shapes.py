"""The Affine layer Y = X . W + B and the shapes of its gradients (seed note 001).

The note's rule of thumb: a gradient always has the shape of its variable, and that
is enough to remember the formulas

    dL/dX = dL/dY . W^T      dL/dW = X^T . dL/dY      dL/dB = dL/dY

For one sample X (2,), W (2, 3): Y and dL/dY are (3,), dL/dX is (2,), dL/dW is (2, 3).
For a batch X (N, 3), W (3, 2), B (2,): B was broadcast over the N rows, so dL/dB is
dL/dY summed over the batch.

Run: ``python examples/affine_shapes.py``
"""

from __future__ import annotations

import _seedprint as sp
import numpy as np

import chainrule as cr
from chainrule import ops


def shape_table(rows: list[tuple[str, tuple[int, ...], str]]) -> None:
    width = max(len(r[0]) for r in rows)
    for name, shape, note in rows:
        print(f"    {name.ljust(width)}   {str(shape).ljust(8)}   {note}".rstrip())
    print()


def single_sample() -> None:
    print("1. One sample, by hand with the Affine gate: X (2,), W (2, 3), B (3,)")
    print()
    x = np.array([1.0, 0.5])
    w = np.array([[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]])
    b = np.array([0.1, 0.2, 0.3])
    affine = ops.Affine()
    y = affine.forward(x, w, b)
    dy = np.array([1.0, -1.0, 0.5])              # some upstream gradient dL/dY
    dx, dw, db = affine.backward(dy)
    shape_table([
        ("X", x.shape, f"{sp.fmt(x)}"),
        ("W", w.shape, ""),
        ("Y = X.W + B", y.shape, f"{sp.fmt(y)}"),
        ("dL/dY", dy.shape, f"{sp.fmt(dy)} (given)"),
        ("dL/dX = dL/dY . W^T", dx.shape, f"{sp.fmt(dx)}"),
        ("dL/dW = X^T . dL/dY", dw.shape, "the outer product of X and dL/dY"),
        ("dL/dB = dL/dY", db.shape, f"{sp.fmt(db)}"),
    ])
    sp.check("dL/dX", dx, dy @ w.T)
    sp.check("dL/dW", dw, np.outer(x, dy))
    sp.check("dL/dB", db, dy)
    print()


def batch() -> None:
    n = 4
    print(f"2. A batch with tensors: X ({n}, 3), W (3, 2), B (2,)")
    print()
    rng = np.random.default_rng(0)
    xv, wv, bv = rng.standard_normal((n, 3)), rng.standard_normal((3, 2)), \
        rng.standard_normal(2)
    x = cr.tensor(xv, requires_grad=True)
    w = cr.tensor(wv, requires_grad=True)
    b = cr.tensor(bv, requires_grad=True)
    y = cr.affine(x, w, b)
    dy = rng.standard_normal((n, 2))
    y.backward(dy)
    shape_table([
        ("X", x.shape, "N samples, 3 features each"),
        ("W", w.shape, ""),
        ("B", b.shape, "one bias per output, broadcast over the N rows"),
        ("Y = X.W + B", y.shape, ""),
        ("dL/dX = dL/dY . W^T", x.grad.shape, ""),
        ("dL/dW = X^T . dL/dY", w.grad.shape, "summed over the batch by the product"),
        ("dL/dB", b.grad.shape, f"dL/dY summed over the batch: {sp.fmt(b.grad)}"),
    ])
    sp.check("dL/dX", x.grad, dy @ wv.T)
    sp.check("dL/dW", w.grad, xv.T @ dy)
    sp.check("dL/dB = sum over the batch of dL/dY", b.grad, dy.sum(axis=0))
    print()

    print("3. The same with separate matmul and add gates: the engine sums the")
    print("   broadcast bias gradient back to B's shape by itself")
    print()
    x2 = cr.tensor(xv, requires_grad=True)
    w2 = cr.tensor(wv, requires_grad=True)
    b2 = cr.tensor(bv, requires_grad=True)
    (x2 @ w2 + b2).backward(dy)
    sp.check("dL/dB (matmul + add)", b2.grad, b.grad)
    sp.check("dL/dW (matmul + add)", w2.grad, w.grad)


def main() -> None:
    sp.title("Affine layer shapes: Y = X . W + B", "seed note 001")
    single_sample()
    batch()


if __name__ == "__main__":
    main()
