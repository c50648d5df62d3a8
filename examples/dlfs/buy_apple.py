"""Deep Learning from Scratch, chapter 5 (section 5.4): buying apples, on chainrule.

Two apples at 100 each, tax 1.1: the price and its gradients by a forward and a
backward pass through two multiply layers, as the book computes them (and as the seed
notes' shopping example does). The book's figures: price 220.00000000000003,
dApple 2.2, dApple_num 110.00000000000001, dTax 200.

Run: ``python examples/dlfs/buy_apple.py``
"""

from __future__ import annotations

from chainrule.scratch import MulLayer

apple = 100
apple_num = 2
tax = 1.1

mul_apple_layer = MulLayer()
mul_tax_layer = MulLayer()

# forward
apple_price = mul_apple_layer.forward(apple, apple_num)
price = mul_tax_layer.forward(apple_price, tax)

# backward
dprice = 1
dapple_price, dtax = mul_tax_layer.backward(dprice)
dapple, dapple_num = mul_apple_layer.backward(dapple_price)

print("price:", price)
print("dApple:", dapple)
print("dApple_num:", dapple_num)
print("dTax:", dtax)
