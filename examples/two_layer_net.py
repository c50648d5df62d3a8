#!/usr/bin/env python
"""The seed notes' two-layer network: built from layers, gradient-checked, trained.

This is the final program of *Deep Learning from Scratch*, chapter 5, which the seed
notes walk through: a network of four layers,

    x -> Affine1 -> ReLU -> Affine2 -> SoftmaxWithLoss -> L

with ``predict``, ``loss``, ``accuracy``, ``gradient`` (backpropagation) and
``numerical_gradient`` (central differences), written with chainrule's layers. It

1. checks backprop against numerical differentiation on 3 training images, in float64,
   printing the mean absolute difference per parameter (the book's ``gradient_check``);
2. times both ways of computing the *full* gradient on those 3 images, and reports how
   many times faster backprop is;
3. trains the network by minibatch SGD (the four steps: minibatch, gradient, update,
   repeat) on the 4,000 training digits of the MNIST sample shipped with chainrule,
   printing train and test accuracy after every epoch.

Run from the repository root::

    python examples/two_layer_net.py              # about 5 seconds
    python examples/two_layer_net.py --quick      # a smaller run, under a second

``CHAINRULE_EXAMPLE_QUICK=1`` in the environment has the same effect as ``--quick``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

try:
    import chainrule as cr
except ImportError:  # running from a source checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    import chainrule as cr

from chainrule import nn
from chainrule.data import DataLoader, MNISTSample
from chainrule.random import manual_seed


class TwoLayerNet(nn.Module):
    """Affine -> ReLU -> Affine -> SoftmaxWithLoss, as in the book.

    Weights start as ``weight_init_std * N(0, 1)`` and biases at zero, the book's
    initialisation. ``params`` maps the book's names (``W1``, ``b1``, ``W2``, ``b2``) to
    the parameters, in the book's order.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int,
                 weight_init_std: float = 0.01, dtype: Any = np.float64) -> None:
        super().__init__()
        self.affine1 = nn.Affine(input_size, hidden_size, dtype=dtype)
        self.relu1 = nn.ReLU()
        self.affine2 = nn.Affine(hidden_size, output_size, dtype=dtype)
        self.last_layer = nn.SoftmaxWithLoss()
        for layer in (self.affine1, self.affine2):
            nn.init.normal_(layer.weight, 0.0, weight_init_std)
            nn.init.zeros_(layer.bias)
        self.params = {"W1": self.affine1.weight, "b1": self.affine1.bias,
                       "W2": self.affine2.weight, "b2": self.affine2.bias}

    def predict(self, x: Any) -> cr.Tensor:
        """Class scores (logits) for a batch of flattened images."""
        return self.affine2(self.relu1(self.affine1(x)))

    forward = predict

    def loss(self, x: Any, t: Any) -> cr.Tensor:
        """Mean cross-entropy of the softmax of the scores against labels ``t``."""
        return self.last_layer(self.predict(x), t)

    def accuracy(self, x: Any, t: Any) -> float:
        """Share of the images whose highest score is the true class."""
        with cr.no_grad():
            y = self.predict(x).detach().numpy()
        return float(np.mean(np.argmax(y, axis=1) == np.asarray(t)))

    def gradient(self, x: Any, t: Any) -> dict[str, np.ndarray]:
        """dL/dparameter for every parameter, by backpropagation (one backward pass)."""
        self.zero_grad()
        self.loss(x, t).backward()
        return {k: p.grad.numpy() for k, p in self.params.items()}

    def numerical_gradient(self, x: Any, t: Any) -> dict[str, np.ndarray]:
        """dL/dparameter for every parameter, by central differences.

        ``cr.numerical_grad`` nudges each of the parameters' elements by +-eps in turn
        and evaluates the loss twice per element: one forward pass per evaluation and
        no backward pass at all, which is why it is so slow.
        """
        names = list(self.params)
        originals = [p.data for p in self.params.values()]

        def loss_of(*arrays: np.ndarray) -> float:
            for p, a in zip(self.params.values(), arrays):
                p.data = a           # numerical_grad perturbs these arrays in place
            return self.loss(x, t).item()

        try:
            grads = cr.numerical_grad(loss_of, *originals, eps=1e-4)
        finally:
            for p, a in zip(self.params.values(), originals):
                p.data = a
        return dict(zip(names, grads))

    def num_parameters(self) -> int:
        """How many numbers the network learns."""
        return sum(p.size for p in self.params.values())


def gradient_check(net: TwoLayerNet, x: np.ndarray, t: np.ndarray
                   ) -> tuple[dict[str, float], float, float]:
    """Compare backprop with numerical differentiation; returns the mean absolute
    difference per parameter and the time (s) each method took for the full gradient."""
    t0 = time.perf_counter()
    grad_numerical = net.numerical_gradient(x, t)
    t_numerical = time.perf_counter() - t0
    grad_backprop = net.gradient(x, t)
    runs = []
    for _ in range(50):   # backprop is fast: take the median of many timings
        t0 = time.perf_counter()
        net.gradient(x, t)
        runs.append(time.perf_counter() - t0)
    diffs = {k: float(np.mean(np.abs(grad_backprop[k] - grad_numerical[k])))
             for k in grad_numerical}
    return diffs, statistics.median(runs), t_numerical


def numerical_cost_estimate(net: TwoLayerNet, x: np.ndarray, t: np.ndarray,
                            evaluations: int = 400) -> float:
    """Seconds numerical differentiation would need for the full gradient on batch
    ``x``: ``evaluations`` loss evaluations are timed and scaled to the two per
    parameter that central differences need (an extrapolation, not a measurement)."""
    with cr.no_grad():
        net.loss(x, t)
        t0 = time.perf_counter()
        for _ in range(evaluations):
            net.loss(x, t).item()
        per_eval = (time.perf_counter() - t0) / evaluations
    return per_eval * 2 * net.num_parameters()


def train(net: TwoLayerNet, epochs: int, batch_size: int, lr: float, seed: int) -> None:
    """Minibatch SGD, printing train and test accuracy after every epoch."""
    train_set = MNISTSample("train", dtype=np.float64)
    test_set = MNISTSample("test", dtype=np.float64)
    loader = DataLoader(train_set, batch_size, shuffle=True, seed=seed)
    print(f"\nTraining on the MNIST sample: {len(train_set):,} train / {len(test_set):,} "
          f"test images, batch {batch_size}, plain SGD lr {lr}, {len(loader)} steps per "
          f"epoch")
    print("epoch  train acc  test acc   time")
    t_start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        for x_batch, t_batch in loader:
            # 1. minibatch  2. gradient (backprop)  3. update  (4. repeat)
            grads = net.gradient(x_batch, t_batch)
            with cr.no_grad():
                for key, p in net.params.items():
                    p.data -= lr * grads[key]
        train_acc = net.accuracy(train_set.x, train_set.y)
        test_acc = net.accuracy(test_set.x, test_set.y)
        print(f"{epoch:5d}  {100 * train_acc:8.2f}%  {100 * test_acc:7.2f}%  "
              f"{time.perf_counter() - t0:5.2f}s")
    print(f"trained {epochs} epochs in {time.perf_counter() - t_start:.1f} s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="smaller network and fewer epochs (what the tests run)")
    p.add_argument("--epochs", type=int, default=None,
                   help="training epochs (default 17, as many passes over the data as the "
                        "book's 10,000 steps of 100 images over MNIST's 60,000; quick: 3)")
    p.add_argument("--hidden", type=int, default=None, help="hidden units (default 50, "
                                                             "quick: 10)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    quick = args.quick or os.environ.get("CHAINRULE_EXAMPLE_QUICK", "") not in ("", "0")
    hidden = args.hidden or (10 if quick else 50)
    epochs = args.epochs if args.epochs is not None else (3 if quick else 17)

    manual_seed(args.seed)
    net = TwoLayerNet(784, hidden, 10)
    print(f"TwoLayerNet: 784 -> Affine -> ReLU({hidden}) -> Affine -> SoftmaxWithLoss; "
          f"{net.num_parameters():,} parameters, float64")

    # ---------------------------------------------------------------- gradient check
    data = MNISTSample("train", dtype=np.float64)
    x_batch, t_batch = data.x[:3], data.y[:3]
    diffs, t_backprop, t_numerical = gradient_check(net, x_batch, t_batch)
    print("\nGradient check on 3 training images (mean |backprop - numerical|):")
    for key, d in diffs.items():
        print(f"  {key}: {d:.3e}")
    worst = max(diffs.values())
    verdict = "backprop agrees with numerical differentiation" if worst < 1e-7 else \
        "MISMATCH: backprop and numerical differentiation disagree"
    print(f"  -> {verdict}")

    # ---------------------------------------------------------------- speed
    n = net.num_parameters()
    print(f"\nThe full gradient ({n:,} numbers) on those 3 images, both measured:")
    print(f"  backprop (1 forward + 1 backward pass): {1e3 * t_backprop:9.3f} ms")
    print(f"  numerical ({2 * n:,} forward passes):   {1e3 * t_numerical:9.1f} ms")
    print(f"  -> backprop is {t_numerical / t_backprop:,.0f} times faster")
    x100, t100 = data.x[:100], data.y[:100]
    net.gradient(x100, t100)
    runs = []
    for _ in range(20):
        t0 = time.perf_counter()
        net.gradient(x100, t100)
        runs.append(time.perf_counter() - t0)
    bp100 = statistics.median(runs)
    est100 = numerical_cost_estimate(net, x100, t100, evaluations=100 if quick else 400)
    print(f"For a training batch of 100 images: backprop {1e3 * bp100:.3f} ms (measured); "
          f"numerical about {est100:.1f} s (extrapolated from timed forward passes), "
          f"about {est100 / bp100:,.0f} times slower")

    # ---------------------------------------------------------------- training
    train(net, epochs, batch_size=100, lr=0.1, seed=args.seed)
    return 0 if worst < 1e-7 else 1


if __name__ == "__main__":
    sys.exit(main())
