"""Deep Learning from Scratch, section 5.7.3: gradient check, on chainrule.

Backprop's gradients of the TwoLayerNet against numerical differentiation on three
training images (the embedded MNIST sample), printing the mean absolute difference per
parameter, as the book does. The book's figures are of the order 1e-10 to 1e-13
(``W1:2.2e-13 b1:8.2e-13 W2:6.5e-13 b2:1.8e-10`` in the English edition); a correct
backward gives differences of that order, a wrong one differences near the gradients
themselves (1e-3 and up).

Run: ``python examples/dlfs/gradient_check.py``
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from two_layer_net import TwoLayerNet

from chainrule.data import MNISTSample

train = MNISTSample("train", dtype=np.float64)
x_batch = train.x[:3]
t_batch = np.eye(10)[train.y[:3]]          # one-hot labels, as the book loads them

network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10)
grad_numerical = network.numerical_gradient(x_batch, t_batch)
grad_backprop = network.gradient(x_batch, t_batch)

worst = 0.0
for key in grad_numerical:
    diff = np.average(np.abs(grad_backprop[key] - grad_numerical[key]))
    worst = max(worst, diff)
    print(key + ":" + str(diff))
print("backprop agrees with numerical differentiation" if worst < 1e-7 else
      "MISMATCH: backprop and numerical differentiation disagree")
sys.exit(0 if worst < 1e-7 else 1)
