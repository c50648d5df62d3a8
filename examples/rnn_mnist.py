#!/usr/bin/env python
"""An LSTM reads each MNIST digit row by row and names it.

Each 28x28 image of the MNIST sample shipped with chainrule (4,000 training and 1,000
test digits) is a sequence of 28 steps of 28 pixels. An LSTM with 128 hidden units
reads the rows top to bottom and a Linear layer classifies the last hidden state
(``chainrule.nn.models.RowLSTMClassifier``). Backpropagation through time is the chain
rule run back through the 28 unrolled steps: nothing but ordinary gates.

Training is Adam with gradient-norm clipping (``nn.utils.clip_grad_norm_``, the usual
guard for recurrent nets) and a one-cycle learning-rate schedule. The script prints
train loss and test accuracy after every epoch and the final test accuracy.

Run from the repository root::

    python examples/rnn_mnist.py               # 12 epochs, about 30 s on one core
    python examples/rnn_mnist.py --epochs 2    # a quick look
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

try:
    import chainrule as cr
except ImportError:  # running from a source checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    import chainrule as cr

import chainrule.nn.functional as F
from chainrule import nn
from chainrule.data import DataLoader, MNISTSample
from chainrule.nn.models import RowLSTMClassifier


def accuracy(model: nn.Module, data: MNISTSample, batch_size: int = 500) -> float:
    """Fraction of ``data`` the model classifies correctly (eval mode, no graph)."""
    model.eval()
    correct = 0
    with cr.inference_mode():
        for x, y in DataLoader(data, batch_size=batch_size):
            correct += int((model(x).numpy().argmax(1) == y.numpy()).sum())
    model.train()
    return correct / len(data)


def main(argv: list[str] | None = None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=4e-3, help="peak learning rate")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    cr.manual_seed(args.seed)
    train, test = MNISTSample("train"), MNISTSample("test")
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    model = RowLSTMClassifier(28, 28, hidden_size=args.hidden)
    n_params = sum(p.size for p in model.parameters())
    print(f"LSTM over rows: 28 steps x 28 pixels -> {args.hidden} hidden -> 10 classes; "
          f"{n_params:,} parameters")
    print(f"train on {len(train):,} digits, test on {len(test):,}")
    opt = cr.optim.Adam(model.parameters(), lr=args.lr)
    sched = cr.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                             steps_per_epoch=len(loader))
    start = time.perf_counter()
    acc = 0.0
    print(" epoch   loss   test acc   time")
    for epoch in range(1, args.epochs + 1):
        total, seen = 0.0, 0
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            opt.step()
            sched.step()
            total += loss.item() * len(y)
            seen += len(y)
        acc = accuracy(model, test)
        print(f"{epoch:6d} {total / seen:6.3f}   {100 * acc:6.2f}%  "
              f"{time.perf_counter() - start:5.1f}s")
    print(f"test accuracy: {100 * acc:.2f}% ({args.epochs} epochs, "
          f"{time.perf_counter() - start:.1f}s)")
    return acc


if __name__ == "__main__":
    main()
