"""What ``chainrule train`` builds: an MLP from layer sizes or a LeNet-style CNN from
channel counts, and an optimizer by name."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .. import nn, optim
from ..serialization import CheckpointError

__all__ = ["ACTIVATIONS", "DEFAULT_LR", "MODELS", "OPTIMIZERS", "build_cnn", "build_mlp",
           "build_row_lstm", "make_optimizer", "model_from_config"]

#: The model families :func:`model_from_config` rebuilds.
MODELS = ("mlp", "cnn", "lstm")

#: Activations :func:`build_mlp` knows.
ACTIVATIONS = ("relu", "sigmoid", "tanh")
#: Optimizers :func:`make_optimizer` knows, with the learning rate each defaults to.
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.01,
              "rmsprop": 1e-3, "adam": 1e-3, "adamw": 1e-3}
OPTIMIZERS = tuple(DEFAULT_LR)


def build_mlp(sizes: Sequence[int], activation: str = "relu", dtype: Any = np.float32,
              dropout: float = 0.0) -> Any:
    """A multilayer perceptron ``Linear, act, Linear, act, ..., Linear`` as a Sequential.

    ``sizes`` lists the layer widths from input to output (``[784, 256, 256, 10]``).
    Weights are initialised for the activation, as the seed notes recommend: He
    (``init.kaiming_uniform_``) for ReLU, Xavier (``init.xavier_uniform_``) for sigmoid
    and tanh; biases start at zero. Draws come from the global generator, so call
    ``cr.manual_seed`` first for a reproducible model. ``dropout > 0`` adds a Dropout
    after every hidden activation.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise ValueError(f"build_mlp: sizes must be at least two positive widths (input, "
                         f"..., output), got {sizes}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"build_mlp: unknown activation {activation!r}; choose one of "
                         f"{', '.join(ACTIVATIONS)}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"build_mlp: dropout must be in [0, 1), got {dropout}")
    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[activation]
    layers: list[Any] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        lin = nn.Linear(n_in, n_out, dtype=dtype)
        if activation == "relu":
            nn.init.kaiming_uniform_(lin.weight, nonlinearity="relu")
        else:
            nn.init.xavier_uniform_(lin.weight, gain=nn.init.calculate_gain(activation))
        nn.init.zeros_(lin.bias)
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(act())
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def build_cnn(image_shape: Sequence[int], channels: Sequence[int], sizes: Sequence[int],
              kernel_size: int = 3, activation: str = "relu", dtype: Any = np.float32,
              dropout: float = 0.0) -> Any:
    """A LeNet-style network for images given as rows of pixels: one block per entry of
    ``channels`` (a ``kernel_size`` convolution, "same" padding, the activation, 2x2
    max pooling), then the MLP of ``sizes`` (its first width is the flattened blocks'
    output, ``channels[-1] * (H / 2^blocks) * (W / 2^blocks)``).

    ``image_shape`` is ``(C, H, W)``; the first layer is ``nn.Unflatten`` so that the
    model takes the same ``(N, C*H*W)`` rows as the MLP. Convolutions get He
    initialisation for ReLU (Xavier otherwise) and zero biases, as :func:`build_mlp`.
    """
    c, h, w = (int(v) for v in image_shape)
    channels = [int(v) for v in channels]
    if not channels or any(v < 1 for v in channels):
        raise ValueError(f"build_cnn: channels must be positive counts, got {channels}")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"build_cnn: kernel_size must be a positive odd number (for "
                         f"'same' padding), got {kernel_size}")
    if h >> len(channels) < 1 or w >> len(channels) < 1:
        raise ValueError(f"build_cnn: {len(channels)} pooling blocks halve a {h}x{w} image "
                         f"to nothing; use fewer channel entries")
    flat = channels[-1] * (h >> len(channels)) * (w >> len(channels))
    if int(sizes[0]) != flat:
        raise ValueError(f"build_cnn: the linear part must start at {flat} features (the "
                         f"blocks' output), got sizes {list(sizes)}")
    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[activation]
    layers: list[Any] = [nn.Unflatten(1, (c, h, w))]
    for c_in, c_out in itertools.pairwise([c, *channels]):
        conv = nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, dtype=dtype)
        if activation == "relu":
            nn.init.kaiming_uniform_(conv.weight, nonlinearity="relu")
        else:
            nn.init.xavier_uniform_(conv.weight, gain=nn.init.calculate_gain(activation))
        nn.init.zeros_(conv.bias)
        layers += [conv, act(), nn.MaxPool2d(2)]
    layers.append(nn.Flatten())
    layers += list(build_mlp(sizes, activation, dtype, dropout))
    return nn.Sequential(*layers)


def model_from_config(config: Mapping[str, Any], where: str = "checkpoint") -> Any:
    """Rebuild the model that ``chainrule train`` describes in a checkpoint's ``config``
    (``sizes``, ``activation``, ``dtype``, ``dropout``; for ``model: cnn`` also
    ``image_shape``, ``channels``, ``kernel_size``), with fresh weights.

    Raises :class:`~chainrule.serialization.CheckpointError` if the description is
    missing or malformed (e.g. a checkpoint written by your own training script, whose
    model only your script can rebuild).
    """
    try:
        sizes = [int(v) for v in config["sizes"]]
        activation = str(config["activation"])
        dtype = np.dtype(str(config["dtype"]))
        dropout = float(config.get("dropout", 0.0))
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(
            f"{where}: its config does not describe an MLP ({type(e).__name__}: {e}); "
            f"only checkpoints written by `chainrule train` can be rebuilt from the file "
            f"alone: build the model yourself and use model.load_state_dict("
            f"cr.load(path)['model'])") from e
    kind = str(config.get("model", "mlp"))
    if kind == "lstm":
        return _lstm_from_config(config, sizes, dtype, where)
    if kind not in MODELS:
        raise CheckpointError(f"{where}: unknown model {kind!r} in its config; chainrule "
                              f"train builds {', '.join(MODELS)}")
    try:
        if kind == "cnn":
            return build_cnn(config["image_shape"], config["channels"], sizes,
                             int(config.get("kernel_size", 3)), activation, dtype, dropout)
        return build_mlp(sizes, activation, dtype, dropout)
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"{where}: its config describes an invalid {kind.upper()}: "
                              f"{type(e).__name__}: {e}") from e


def build_row_lstm(image_shape: Sequence[int], sizes: Sequence[int],
                   dtype: Any = np.float32) -> Any:
    """An LSTM that reads each image row by row (``nn.models.RowLSTMClassifier``):
    ``sizes`` is ``[row width, hidden, ..., classes]``, one LSTM layer per hidden
    entry, all of one size."""
    from ..nn.models import RowLSTMClassifier

    _, rows, cols = (int(v) for v in image_shape)
    hidden = [int(v) for v in sizes[1:-1]]
    if int(sizes[0]) != cols or not hidden or len(set(hidden)) != 1:
        raise ValueError(f"build_row_lstm: sizes must be [{cols}, H, ..., H, classes] (the "
                         f"row width, one equal hidden size per LSTM layer, the classes), "
                         f"got {list(sizes)}")
    return RowLSTMClassifier(rows, cols, hidden_size=hidden[0], num_classes=int(sizes[-1]),
                             num_layers=len(hidden), dtype=dtype)


def _lstm_from_config(config: Mapping[str, Any], sizes: list[int], dtype: Any,
                      where: str) -> Any:
    try:
        return build_row_lstm(config["image_shape"], sizes, dtype)
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"{where}: its config describes an invalid LSTM: "
                              f"{type(e).__name__}: {e}") from e


def make_optimizer(name: str, params: Iterable[Any], lr: float | None = None,
                   weight_decay: float | None = None, momentum: float = 0.9) -> Any:
    """An optimizer by name: ``sgd``, ``momentum`` (SGD with momentum), ``nesterov``,
    ``adagrad``, ``rmsprop``, ``adam`` or ``adamw``.

    ``lr=None`` takes :data:`DEFAULT_LR`; ``weight_decay=None`` takes the optimizer's
    own default (0.01 for AdamW, 0 for the others), and an explicit value, 0 included,
    is used as given.
    """
    key = name.lower()
    if key not in DEFAULT_LR:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    lr = DEFAULT_LR[key] if lr is None else float(lr)
    wd: dict[str, float] = {} if weight_decay is None else {"weight_decay": weight_decay}
    if key == "sgd":
        return optim.SGD(params, lr=lr, **wd)
    if key in ("momentum", "nesterov"):
        return optim.SGD(params, lr=lr, momentum=momentum, nesterov=key == "nesterov", **wd)
    if key == "adagrad":
        return optim.Adagrad(params, lr=lr, **wd)
    if key == "rmsprop":
        return optim.RMSprop(params, lr=lr, **wd)
    if key == "adam":
        return optim.Adam(params, lr=lr, **wd)
    return optim.AdamW(params, lr=lr, **wd)
