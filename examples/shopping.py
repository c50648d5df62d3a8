"""The shopping example of seed note 004 (Deep Learning from Scratch, chapter 5).

Buy 2 apples at 100 each; a 10% consumption tax makes the bill 220. Backpropagation
answers "how much does the bill change per unit change of each input?": 2.2 per unit
of apple price, 110 per apple, 200 per unit of tax rate.

The graph is computed twice: first by hand with multiply gates (the book's MulLayer:
``forward`` keeps its inputs, ``backward`` returns the upstream gradient times the
*other* input), then with tensors and ``backward()``. The book's second example adds
3 oranges at 150 (an add gate joins the two subtotals): 715 in total.

Run: ``python examples/shopping.py``
"""

from __future__ import annotations

import _seedprint as sp

import chainrule as cr
from chainrule import ops


def diagram(apple: float, count: float, tax: float, price: float, total: float,
            end: str) -> str:
    """The two multiply gates of the shopping graph, with a number on every edge."""
    f = sp.fmt
    line1 = f"    apple price {f(apple):>5} ─┐"
    c1 = len(line1) - 1
    line2 = " " * c1 + f"├─[×]── {f(price)} ─┐"
    c2 = len(line2) - 1
    line3 = f"    apple count {f(count):>5} ─┘"
    line3 += " " * (c2 - len(line3)) + f"├─[×]── {f(total)} ── {end}"
    line4 = f"    tax         {f(tax):>5} "
    line4 += "─" * (c2 - len(line4)) + "┘"
    return "\n".join([line1, line2, line3, line4]) + "\n"


def apples_by_hand() -> None:
    print("1. By hand, with multiply gates (the MulLayer of the book)")
    print()
    mul_apple = ops.Mul()
    mul_tax = ops.Mul()
    apple, count, tax = 100.0, 2.0, 1.1

    price = mul_apple.forward(apple, count)        # 200
    total = mul_tax.forward(price, tax)            # 220 (220.00000000000003 in floats)

    d_total = 1.0
    d_price, d_tax = mul_tax.backward(d_total)     # (1.1, 200)
    d_apple, d_count = mul_apple.backward(d_price)  # (2.2, 110)

    print("  Forward (values on the edges):")
    print(diagram(apple, count, tax, price, total, "total"))
    print("  Backward (gradients d total / d edge, in the same places):")
    print(diagram(d_apple, d_count, d_tax, d_price, d_total, "total (its own gradient is 1)"))
    print("  Backward, right to left: each multiply gate sends back the upstream")
    print("  gradient times its other input.")
    print()
    sp.edge_table([
        ("total", total, d_total),
        ("price (apple x count)", price, d_price),
        ("tax", tax, d_tax),
        ("apple price", apple, d_apple),
        ("apple count", count, d_count),
    ], "gradient d total / d edge")
    print("  The same numbers as Python's floats compute them:")
    print(f"    total = 200 * 1.1 = {total!r}")
    print(f"    d total / d apple count = 100 * 1.1 = {d_count!r}")
    print()


def apples_with_tensors() -> None:
    print("2. The same graph with tensors and backward()")
    print()
    apple = cr.tensor(100.0, requires_grad=True, name="apple price")
    count = cr.tensor(2.0, requires_grad=True, name="apple count")
    tax = cr.tensor(1.1, requires_grad=True, name="tax")
    total = apple * count * tax
    total.backward()
    print(f"  total = {sp.fmt(total)}")
    sp.check("d total / d apple price", apple.grad, 2.2)
    sp.check("d total / d apple count", count.grad, 110.0)
    sp.check("d total / d tax", tax.grad, 200.0)
    print()


def apples_and_oranges() -> None:
    print("3. Apples and oranges: an add gate joins the two subtotals")
    print()
    mul_apple, mul_orange, add, mul_tax = ops.Mul(), ops.Mul(), ops.Add(), ops.Mul()
    apple, n_apple, orange, n_orange, tax = 100.0, 2.0, 150.0, 3.0, 1.1

    apple_price = mul_apple.forward(apple, n_apple)          # 200
    orange_price = mul_orange.forward(orange, n_orange)      # 450
    subtotal = add.forward(apple_price, orange_price)        # 650
    total = mul_tax.forward(subtotal, tax)                   # 715

    d_subtotal, d_tax = mul_tax.backward(1.0)                # 1.1, 650
    d_apple_price, d_orange_price = add.backward(d_subtotal)  # the add gate passes 1.1 on
    d_orange, d_n_orange = mul_orange.backward(d_orange_price)  # 3.3, 165
    d_apple, d_n_apple = mul_apple.backward(d_apple_price)   # 2.2, 110

    sp.edge_table([
        ("total", total, 1.0),
        ("subtotal", subtotal, d_subtotal),
        ("tax", tax, d_tax),
        ("apples' price", apple_price, d_apple_price),
        ("oranges' price", orange_price, d_orange_price),
        ("apple price", apple, d_apple),
        ("apple count", n_apple, d_n_apple),
        ("orange price", orange, d_orange),
        ("orange count", n_orange, d_n_orange),
    ], "gradient d total / d edge")


def main() -> None:
    sp.title("Buying apples: 2 apples at 100 each, 10% tax",
             "seed note 004, Deep Learning from Scratch ch. 5")
    apples_by_hand()
    apples_with_tensors()
    apples_and_oranges()


if __name__ == "__main__":
    main()
