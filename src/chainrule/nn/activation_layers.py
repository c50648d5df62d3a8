"""Modules for the activations and losses of :mod:`chainrule.nn.functional`, with
PyTorch's names, arguments and defaults (``nn.GELU()``, ``nn.CrossEntropyLoss(
label_smoothing=0.1)``...). Each holds its settings and calls its function; the
calculus is in the gates those functions use.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .._tensor import Tensor
from . import functional as F
from .module import Module

__all__ = [
    "CELU",
    "ELU",
    "GELU",
    "SELU",
    "BCELoss",
    "CrossEntropyLoss",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "LeakyReLU",
    "LogSigmoid",
    "LogSoftmax",
    "Mish",
    "NLLLoss",
    "ReLU6",
    "SiLU",
    "SmoothL1Loss",
    "Softmax",
    "Softmin",
    "Softplus",
    "Softsign",
]


class _Fn(Module):
    """Calls ``fn(x, **settings)``; ``settings`` are shown by ``repr``."""

    fn: Any = None
    names: tuple[str, ...] = ()
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        defaults = dict(type(self).defaults)
        if len(args) > len(self.names):
            raise TypeError(f"{type(self).__name__} takes at most {len(self.names)} "
                            f"settings ({', '.join(self.names)}), got {len(args)}")
        for name, v in zip(self.names, args):
            defaults[name] = v
        for name, v in kwargs.items():
            if name not in defaults:
                raise TypeError(f"{type(self).__name__}: unexpected setting {name!r}; it "
                                f"takes {', '.join(self.names) or 'none'}")
            defaults[name] = v
        self.__dict__["settings"] = defaults

    def forward(self, *xs: Any) -> Tensor:
        return type(self).fn(*xs, **self.settings)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.settings.items()
                         if not isinstance(v, (np.ndarray, Tensor)))


def _module(name: str, fn: Any, doc: str, **defaults: Any) -> type[Module]:
    attrs = {"fn": staticmethod(fn), "names": tuple(defaults), "defaults": defaults,
             "__doc__": doc, "__module__": __name__, "__qualname__": name}
    return type(name, (_Fn,), attrs)


LeakyReLU = _module("LeakyReLU", F.leaky_relu, "x, or negative_slope·x for x <= 0.",
                    negative_slope=0.01)
ELU = _module("ELU", F.elu, "x, or alpha·(eˣ − 1) for x <= 0.", alpha=1.0)
SELU = _module("SELU", F.selu, "Self-normalising ELU.")
CELU = _module("CELU", F.celu, "x, or alpha·(e^(x/alpha) − 1) for x <= 0.", alpha=1.0)
GELU = _module("GELU", F.gelu, "x·Φ(x) (approximate='tanh' for the tanh formula).",
               approximate="none")
SiLU = _module("SiLU", F.silu, "x·sigmoid(x).")
Mish = _module("Mish", F.mish, "x·tanh(softplus(x)).")
Softplus = _module("Softplus", F.softplus, "log(1 + e^(beta x))/beta, stably.", beta=1.0,
                   threshold=20.0)
Softsign = _module("Softsign", F.softsign, "x / (1 + |x|).")
ReLU6 = _module("ReLU6", F.relu6, "min(max(x, 0), 6).")
Hardtanh = _module("Hardtanh", F.hardtanh, "x clipped to [min_val, max_val].", min_val=-1.0,
                   max_val=1.0)
Hardsigmoid = _module("Hardsigmoid", F.hardsigmoid, "Piecewise-linear sigmoid.")
Hardswish = _module("Hardswish", F.hardswish, "x·hardsigmoid(x).")
LogSigmoid = _module("LogSigmoid", F.logsigmoid, "log(sigmoid(x)), finite everywhere.")
Softmax = _module("Softmax", F.softmax, "Softmax along dim (the last if None).", dim=None)
LogSoftmax = _module("LogSoftmax", F.log_softmax, "log(softmax(x)) along dim.", dim=None)
Softmin = _module("Softmin", F.softmin, "softmax(−x) along dim.", dim=None)

CrossEntropyLoss = _module("CrossEntropyLoss", F.cross_entropy,
                           "Cross-entropy of softmax(input); see F.cross_entropy.",
                           weight=None, ignore_index=-100, reduction="mean",
                           label_smoothing=0.0)
NLLLoss = _module("NLLLoss", F.nll_loss, "Negative log-likelihood; see F.nll_loss.",
                  weight=None, ignore_index=-100, reduction="mean")
BCELoss = _module("BCELoss", F.binary_cross_entropy,
                  "Binary cross-entropy on probabilities.", weight=None, reduction="mean")
L1Loss = _module("L1Loss", F.l1_loss, "Mean absolute error.", reduction="mean")
SmoothL1Loss = _module("SmoothL1Loss", F.smooth_l1_loss, "Smooth L1 (quadratic below beta).",
                       reduction="mean", beta=1.0)
HuberLoss = _module("HuberLoss", F.huber_loss, "Huber loss (quadratic up to delta).",
                    reduction="mean", delta=1.0)
KLDivLoss = _module("KLDivLoss", F.kl_div, "KL divergence of log-probabilities.",
                    reduction="mean", log_target=False)
