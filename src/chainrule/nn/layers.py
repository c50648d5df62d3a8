"""Layers: thin modules that hold parameters and call gates.

All the calculus lives in :mod:`chainrule.ops`; a layer only keeps its parameters (and
buffers) and calls the gate, e.g. ``Linear.forward`` is ``cr.affine(x, W, b)``.

Parameters are float32 by default, like PyTorch's and like the images the datasets
yield; pass ``dtype=np.float64`` (or call ``model.double()``) for gradient checking.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import ops
from .._check import is_int
from .._tensor import Tensor
from ..errors import ShapeError
from . import functional as F
from . import init
from ._arguments import _float_dtype, _positive_int
from .module import Module, Parameter

__all__ = [
    "Affine", "BCEWithLogitsLoss", "BatchNorm1d", "Dropout", "Flatten", "HingeLoss",
    "Identity", "Linear", "MSELoss", "ReLU", "Sequential", "Sigmoid", "SoftmaxCrossEntropy",
    "SoftmaxWithLoss", "Tanh",
]


class Linear(Module):
    """Fully connected layer ``y = x . W + b`` (the seed notes' Affine layer).

    Parameters
    ----------
    in_features, out_features:
        Sizes of each input and output sample.
    bias:
        Learn an additive bias ``b`` (default True).
    dtype:
        Dtype of the parameters (default float32).

    Attributes
    ----------
    weight:
        ``(in_features, out_features)``, so that ``x . W`` maps ``(N, in)`` to
        ``(N, out)`` exactly as written in the notes (PyTorch stores the transpose).
    bias:
        ``(out_features,)``, or ``None``.

    Initialisation is PyTorch's default: ``kaiming_uniform_(W, a=sqrt(5))``, which is
    ``U(-1/sqrt(in), 1/sqrt(in))``, and the bias from the same interval. For deep ReLU
    networks ``init.kaiming_uniform_(W)`` (He, bound sqrt(6/in)) is a common alternative;
    for tanh/sigmoid networks ``init.xavier_uniform_(W)``.

    The forward pass is one fused Affine gate, whose backward is ``dX = dY . W^T``,
    ``dW = X^T . dY``, ``db = sum of dY over the batch``. To load PyTorch weights use
    ``cr.nn.load_torch_state_dict``, which transposes them.
    """

    #: Parameters stored as the transpose of PyTorch's (see ``nn.torch_weights``).
    _torch_transposed = ("weight",)

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        self.in_features = _positive_int("Linear", "in_features", in_features)
        self.out_features = _positive_int("Linear", "out_features", out_features)
        dt = _float_dtype("Linear", dtype)
        self.weight = Parameter(np.zeros((self.in_features, self.out_features), dtype=dt))
        if bias:
            self.bias = Parameter(np.zeros(self.out_features, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh initial values (PyTorch's default scheme, see the class notes)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Any) -> Tensor:
        """``x . W + b`` through the fused Affine gate; ``x`` is ``(..., in_features)``."""
        shape = np.shape(x.data if isinstance(x, Tensor) else x)
        if not shape or shape[-1] != self.in_features:
            raise ShapeError(f"Linear({self.in_features}, {self.out_features}): input of "
                             f"shape {shape} must have {self.in_features} features on its "
                             f"last axis; flatten images first (nn.Flatten())")
        return ops.affine(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


Affine = Linear


class Identity(Module):
    """Returns its input unchanged (a placeholder in a Sequential)."""

    def forward(self, x: Any) -> Any:
        return x


class ReLU(Module):
    """max(x, 0) elementwise (the ReLU gate: gradient 1 where x > 0, else 0)."""

    def forward(self, x: Any) -> Tensor:
        return ops.relu(x)


class Sigmoid(Module):
    """1 / (1 + exp(-x)) elementwise (the Sigmoid gate: gradient y(1 - y))."""

    def forward(self, x: Any) -> Tensor:
        return ops.sigmoid(x)


class Tanh(Module):
    """tanh(x) elementwise (the Tanh gate: gradient 1 - y**2)."""

    def forward(self, x: Any) -> Tensor:
        return ops.tanh(x)


class Dropout(Module):
    """Inverted dropout with drop probability ``p`` (see :func:`functional.dropout`).

    In training mode each element is zeroed with probability ``p`` and the survivors
    are scaled by ``1/(1-p)``; in eval mode (``model.eval()``) it is the identity.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = F._check_p("Dropout", p)

    def forward(self, x: Any) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class BatchNorm1d(Module):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)`` inputs, per channel.

    In training mode the batch's mean and variance normalise the input and update the
    running statistics (buffers ``running_mean``, ``running_var``,
    ``num_batches_tracked``, saved in ``state_dict``); in eval mode the running
    statistics are used. ``weight`` (gamma) and ``bias`` (beta) scale and shift the
    result. ``momentum=None`` uses a cumulative average instead of an exponential one.
    See :func:`functional.batch_norm`; everything is computed by gates.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        self.num_features = _positive_int("BatchNorm1d", "num_features", num_features)
        if not eps > 0:
            raise ValueError(f"BatchNorm1d: eps must be positive, got {eps!r}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm1d: momentum must be in [0, 1] or None, got "
                             f"{momentum!r}")
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dt = _float_dtype("BatchNorm1d", dtype)
        c = self.num_features
        if self.affine:
            self.weight = Parameter(np.ones(c, dtype=dt))
            self.bias = Parameter(np.zeros(c, dtype=dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(c, dtype=dt))
            self.register_buffer("running_var", np.ones(c, dtype=dt))
            self.register_buffer("num_batches_tracked", np.zeros((), dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            self.running_mean.data.fill(0)
            self.running_var.data.fill(1)
            self.num_batches_tracked.data.fill(0)
            for b in (self.running_mean, self.running_var, self.num_batches_tracked):
                b.mark_modified()

    #: The input ranks the layer takes and how its error message names them.
    _ranks: tuple[int, ...] = (2, 3)
    _layout = "(N, {c}) or (N, {c}, L)"

    def forward(self, x: Any) -> Tensor:
        shape = np.shape(x.data if isinstance(x, Tensor) else x)
        if len(shape) not in self._ranks or shape[1] != self.num_features:
            raise ShapeError(f"{type(self).__name__}({self.num_features}): expected input of "
                             f"shape {self._layout.format(c=self.num_features)}, got {shape}")
        use_batch = self.training or not self.track_running_stats
        momentum = 0.0
        if self.training and self.track_running_stats:
            nbt = self.num_batches_tracked
            nbt.data += 1
            nbt.mark_modified()
            momentum = (1.0 / float(nbt.data) if self.momentum is None
                        else float(self.momentum))
        update = self.training and self.track_running_stats
        return F.batch_norm(x,
                            self.running_mean if update or not use_batch else None,
                            self.running_var if update or not use_batch else None,
                            self.weight, self.bias, training=use_batch,
                            momentum=momentum, eps=self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class Flatten(Module):
    """Merge axes ``start_dim..end_dim`` into one (by default all but the batch axis)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = int(start_dim)
        self.end_dim = int(end_dim)

    def forward(self, x: Any) -> Tensor:
        return ops.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Sequential(Module):
    """Modules applied one after another: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    The children are named ``0``, ``1``, ... (or by the keys of an ``OrderedDict``
    passed as the only argument). Indexing gives a child (``model[0]``, ``model[-1]``) or,
    with a slice, a new Sequential sharing those children; ``len`` and iteration work.
    """

    def __init__(self, *layers: Any) -> None:
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (dict, OrderedDict)):
            items = list(layers[0].items())
        else:
            items = [(str(i), m) for i, m in enumerate(layers)]
        for name, m in items:
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: element {name!r} is a {type(m).__name__}, not "
                                f"an nn.Module; wrap functions in a Module")
            self.add_module(str(name), m)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end (named by its position)."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append: expected an nn.Module, got "
                            f"{type(module).__name__}")
        self.add_module(str(len(self._modules)), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __getitem__(self, idx: int | slice) -> Any:
        mods = list(self._modules.items())
        if isinstance(idx, slice):
            # Built without re-registering, so the children keep their names.
            sub = Sequential()
            for name, m in mods[idx]:
                sub._modules[name] = m
                sub.__dict__[name] = m
            return sub
        if not is_int(idx):
            raise TypeError(f"Sequential indices must be integers or slices, not "
                            f"{type(idx).__name__}")
        n = len(mods)
        if not -n <= idx < n:
            raise IndexError(f"Sequential index {idx} is out of range for {n} modules")
        return mods[idx][1]


# ---------------------------------------------------------------------- losses
class SoftmaxCrossEntropy(Module):
    """Softmax followed by cross-entropy, fused: the seed notes' Softmax-with-Loss layer.

    ``loss = criterion(logits, target)`` with class indices or one-hot targets; see
    :func:`functional.softmax_cross_entropy`.
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        F._check_reduction("SoftmaxCrossEntropy", reduction)
        self.reduction = reduction

    def forward(self, logits: Any, target: Any) -> Tensor:
        return F.softmax_cross_entropy(logits, target, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


SoftmaxWithLoss = SoftmaxCrossEntropy


class MSELoss(Module):
    """Mean squared error; see :func:`functional.mse_loss`."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        F._check_reduction("MSELoss", reduction)
        self.reduction = reduction

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class BCEWithLogitsLoss(Module):
    """Binary cross-entropy on logits; see :func:`functional.binary_cross_entropy_with_logits`."""

    def __init__(self, weight: Any = None, reduction: str = "mean",
                 pos_weight: Any = None) -> None:
        super().__init__()
        if isinstance(weight, str):
            raise TypeError(f"BCEWithLogitsLoss: the first setting is the weight (as in "
                            f"PyTorch); pass the reduction by name: reduction={weight!r}")
        F._check_reduction("BCEWithLogitsLoss", reduction)
        self.reduction = reduction
        self.weight = weight
        self.pos_weight = pos_weight

    def forward(self, logits: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits, target, self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class HingeLoss(Module):
    """Multiclass SVM loss (cs231n); see :func:`functional.hinge_loss`."""

    def __init__(self, margin: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        F._check_reduction("HingeLoss", reduction)
        self.margin = float(margin)
        self.reduction = reduction

    def forward(self, scores: Any, target: Any) -> Tensor:
        return F.hinge_loss(scores, target, margin=self.margin, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, reduction={self.reduction!r}"
