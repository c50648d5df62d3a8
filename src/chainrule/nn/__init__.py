"""Neural-network building blocks: modules, layers, losses, initialisation.

    import chainrule as cr
    from chainrule import nn
    import chainrule.nn.functional as F

    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    loss = F.cross_entropy(model(x), y)
    loss.backward()

Layers are thin: they hold :class:`Parameter` tensors and call gates from
:mod:`chainrule.ops`; every derivative lives in those gates.
"""

from __future__ import annotations

from . import functional, init
from .layers import (
    Affine,
    BatchNorm1d,
    BCEWithLogitsLoss,
    Dropout,
    Flatten,
    HingeLoss,
    Identity,
    Linear,
    MSELoss,
    ReLU,
    Sequential,
    Sigmoid,
    SoftmaxCrossEntropy,
    SoftmaxWithLoss,
    Tanh,
)
from .module import Module, Parameter, current_scope

__all__ = [
    "Affine", "BCEWithLogitsLoss", "BatchNorm1d", "Dropout", "Flatten", "HingeLoss",
    "Identity", "Linear", "MSELoss", "Module", "Parameter", "ReLU", "Sequential", "Sigmoid",
    "SoftmaxCrossEntropy", "SoftmaxWithLoss", "Tanh", "current_scope", "functional", "init",
]
