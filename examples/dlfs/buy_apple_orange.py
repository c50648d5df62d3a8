"""Deep Learning from Scratch, chapter 5 (section 5.4): apples and oranges, on chainrule.

Two apples at 100 and three oranges at 150, tax 1.1, through multiply and add layers.
The book's figures: price 715.0000000000001, dApple 2.2, dApple_num 110.00000000000001,
dOrange 3.3000000000000003, dOrange_num 165.0, dTax 650.

Run: ``python examples/dlfs/buy_apple_orange.py``
"""

from __future__ import annotations

from chainrule.scratch import AddLayer, MulLayer

apple = 100
apple_num = 2
orange = 150
orange_num = 3
tax = 1.1

# layers
mul_apple_layer = MulLayer()
mul_orange_layer = MulLayer()
add_apple_orange_layer = AddLayer()
mul_tax_layer = MulLayer()

# forward
apple_price = mul_apple_layer.forward(apple, apple_num)
orange_price = mul_orange_layer.forward(orange, orange_num)
all_price = add_apple_orange_layer.forward(apple_price, orange_price)
price = mul_tax_layer.forward(all_price, tax)

# backward
dprice = 1
dall_price, dtax = mul_tax_layer.backward(dprice)
dapple_price, dorange_price = add_apple_orange_layer.backward(dall_price)
dorange, dorange_num = mul_orange_layer.backward(dorange_price)
dapple, dapple_num = mul_apple_layer.backward(dapple_price)

print("price:", price)
print("dApple:", dapple)
print("dApple_num:", dapple_num)
print("dOrange:", dorange)
print("dOrange_num:", dorange_num)
print("dTax:", dtax)
