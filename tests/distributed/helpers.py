"""Small datasets, models and a training loop shared by the one-process tests."""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import ArrayDataset


def dataset(n: int = 23, d: int = 3) -> ArrayDataset:
    rng = np.random.default_rng(5)
    return ArrayDataset(rng.standard_normal((n, d)), np.arange(n, dtype=np.int64))


def labels4(n: int = 23) -> ArrayDataset:
    ds = dataset(n)
    return ArrayDataset(ds.x, ds.y % 4)


def model(seed: int = 0) -> nn.Module:
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8, dtype=np.float64), nn.ReLU(),
                         nn.Linear(8, 4, dtype=np.float64))


def train(model: nn.Module, opt: optim.Optimizer, loader: object, sync: object = None
          ) -> None:
    loss_fn = nn.SoftmaxCrossEntropy()
    for _ in range(2):
        for x, y in loader:
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            if sync is not None:
                sync()
            opt.step()
