#!/usr/bin/env python
"""A typical PyTorch MLP training script, translated to chainrule with the fewest changes.

Every changed line carries a ``# was:`` comment with the PyTorch original;
``docs/from-pytorch.md`` ("Translating a training script") lists the changes and why.
It trains a 784-128-10 MLP on the MNIST sample shipped with chainrule (4,000 training
digits, split 90/10 into train and validation with ``random_split``; 1,000 test
digits), with SGD + momentum, a step schedule, gradient clipping, a checkpoint, and
then loads the checkpoint into a fresh model and prints its test accuracy.

Run from the repository root::

    python examples/from_pytorch.py             # 5 epochs, a few seconds
    python examples/from_pytorch.py --epochs 1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

try:
    import chainrule as cr  # was: import torch
except ImportError:  # running from a source checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    import chainrule as cr

import chainrule.nn.functional as F  # was: import torch.nn.functional as F
from chainrule import nn, optim  # was: from torch import nn, optim
from chainrule.data import (  # was: from torch.utils.data import (
    DataLoader,
    MNISTSample,  # was: from torchvision.datasets import MNIST
    TensorDataset,
    random_split,
)

device = "cpu"  # was: torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.dropout = nn.Dropout(0.2)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        x = x.reshape(x.shape[0], -1)            # was: x = torch.flatten(x, 1)
        x = self.dropout(F.relu(self.fc1(x)))
        return self.fc2(x)


def evaluate(model: nn.Module, loader: DataLoader) -> tuple[float, float]:
    model.eval()
    total_loss, correct, n = 0.0, 0, 0
    with cr.no_grad():                           # was: with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            out = model(x)
            total_loss += F.cross_entropy(out, y, reduction="sum").item()
            correct += (out.argmax(1) == y).sum().item()
            n += len(y)
    return total_loss / n, correct / n


def main(argv: list[str] | None = None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--lr", type=float, default=0.1)
    args = p.parse_args(argv)

    cr.manual_seed(0)                            # was: torch.manual_seed(0)
    train_full = MNISTSample("train")            # was: MNIST(root, train=True, transform=...)
    test_set = MNISTSample("test")
    # Building a TensorDataset from arrays, as one does from torch tensors:
    train_full = TensorDataset(train_full.x, train_full.y)
    train_set, val_set = random_split(train_full, [0.9, 0.1], generator=0)
    # was: generator=torch.Generator().manual_seed(0)
    train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
    val_loader = DataLoader(val_set, batch_size=500)
    test_loader = DataLoader(test_set, batch_size=500)

    model = Net().to(device)
    print(model)
    opt = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    for epoch in range(1, args.epochs + 1):
        model.train()
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=5.0)
            opt.step()
        sched.step()
        val_loss, val_acc = evaluate(model, val_loader)
        print(f"epoch {epoch}: train loss {loss.item():.4f}  val loss {val_loss:.4f}  "
              f"val acc {100 * val_acc:.1f}%  lr {sched.get_last_lr()[0]:.4f}")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mlp.npz"             # was: "mlp.pt"
        cr.save(model.state_dict(), path)        # was: torch.save(model.state_dict(), path)
        fresh = Net()
        fresh.load_state_dict(cr.load(path))     # was: torch.load(path)
    _, test_acc = evaluate(fresh, test_loader)
    print(f"test accuracy: {100 * test_acc:.2f}%")
    return test_acc


if __name__ == "__main__":
    main()
