"""Optimizers and learning-rate schedules.

    opt = cr.optim.Adam(model.parameters(), lr=1e-3)
    for x, y in loader:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

Every optimizer follows PyTorch's update rule and defaults, updates the parameters in
place (bumping their version) and has ``state_dict``/``load_state_dict`` made of plain
dicts, lists, numbers and ndarrays, which ``cr.save``/``cr.load`` store.
"""

from __future__ import annotations

from . import lr_scheduler
from .adaptive import Adagrad, Adam, AdamW, RMSprop
from .lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    OneCycleLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)
from .optimizer import Optimizer
from .sgd import SGD

__all__ = [
    "SGD", "Adagrad", "Adam", "AdamW", "CosineAnnealingLR", "ExponentialLR", "LRScheduler",
    "LambdaLR", "LinearLR", "MultiStepLR", "OneCycleLR", "Optimizer", "RMSprop",
    "ReduceLROnPlateau", "SequentialLR", "StepLR", "lr_scheduler",
]
