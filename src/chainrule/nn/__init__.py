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

from . import functional, init, utils
from .activation_layers import (
    CELU,
    ELU,
    GELU,
    SELU,
    BCELoss,
    CrossEntropyLoss,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    NLLLoss,
    ReLU6,
    SiLU,
    SmoothL1Loss,
    Softmax,
    Softmin,
    Softplus,
    Softsign,
)
from .attention import MultiheadAttention
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList
from .conv_layers import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AvgPool1d,
    AvgPool2d,
    BatchNorm2d,
    Conv1d,
    Conv2d,
    ConvTranspose2d,
    Dropout1d,
    Dropout2d,
    MaxPool1d,
    MaxPool2d,
    Unflatten,
    Upsample,
)
from .hooks import RemovableHandle
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
from .normalization import GroupNorm, LayerNorm
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .sparse import Embedding
from .torch_weights import load_torch_state_dict, torch_state_dict

__all__ = [
    "CELU",
    "ELU",
    "GELU",
    "GRU",
    "LSTM",
    "RNN",
    "SELU",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "Affine",
    "AvgPool1d",
    "AvgPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "ConvTranspose2d",
    "CrossEntropyLoss",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Embedding",
    "Flatten",
    "GRUCell",
    "GroupNorm",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "HingeLoss",
    "HuberLoss",
    "Identity",
    "KLDivLoss",
    "L1Loss",
    "LSTMCell",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSigmoid",
    "LogSoftmax",
    "MSELoss",
    "MaxPool1d",
    "MaxPool2d",
    "Mish",
    "Module",
    "ModuleDict",
    "ModuleList",
    "MultiheadAttention",
    "NLLLoss",
    "Parameter",
    "ParameterDict",
    "ParameterList",
    "RNNCell",
    "ReLU",
    "ReLU6",
    "RemovableHandle",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "SmoothL1Loss",
    "Softmax",
    "SoftmaxCrossEntropy",
    "SoftmaxWithLoss",
    "Softmin",
    "Softplus",
    "Softsign",
    "Tanh",
    "Unflatten",
    "Upsample",
    "current_scope",
    "functional",
    "init",
    "load_torch_state_dict",
    "torch_state_dict",
    "utils",
]
