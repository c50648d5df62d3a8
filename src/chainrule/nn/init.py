"""Weight initialisation, in place, from the library's random generator.

Every function overwrites a tensor's values (under ``no_grad``, bumping its version so
that a graph that saved the old values notices), draws from
:func:`chainrule.random.get_rng` (so ``cr.manual_seed`` makes it reproducible) and
returns the tensor. Samples are drawn in float64 and then cast, so a float32 and a
float64 model initialised after the same seed start from the same values (up to
rounding).

Fan-in and fan-out follow each layer's weight layout:

* a 2-D weight is ``(in_features, out_features)``, as in ``Y = X . W`` (the layout of
  ``nn.Linear`` and of the seed notes' Affine layer): fan-in is ``shape[0]``;
* a weight with more axes is ``(out_channels, in_channels, *kernel)`` (convolutions):
  fan-in is ``in_channels * prod(kernel)``, fan-out ``out_channels * prod(kernel)``.

The scales are those of Glorot & Bengio (2010), "Xavier", and He et al. (2015),
"Kaiming"/"He", with PyTorch's argument names and defaults.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._check import is_number
from .._tensor import Tensor
from ..autograd import no_grad
from ..errors import ShapeError
from ..random import get_rng

__all__ = [
    "calculate_fan_in_and_fan_out", "calculate_gain", "constant_", "he_normal_",
    "he_uniform_", "kaiming_normal_", "kaiming_uniform_", "normal_", "ones_", "uniform_",
    "xavier_normal_", "xavier_uniform_", "zeros_",
]


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended scale factor for weights feeding ``nonlinearity``.

    ``linear``/``identity``/``sigmoid``/``conv*``: 1; ``tanh``: 5/3; ``relu``: sqrt(2);
    ``leaky_relu`` with negative slope ``param`` (default 0.01): sqrt(2 / (1 + param**2));
    ``selu``: 3/4.
    """
    linear = {"linear", "identity", "sigmoid", "conv1d", "conv2d", "conv3d",
              "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"}
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if not is_number(slope):
            raise ValueError(f"calculate_gain: negative slope {slope!r} is not a number")
        return math.sqrt(2.0 / (1.0 + slope ** 2))
    if nonlinearity == "selu":
        return 0.75
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; use one of "
                     f"linear, sigmoid, tanh, relu, leaky_relu, selu, conv2d")


def calculate_fan_in_and_fan_out(tensor: Any) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight (see the module notes for the layouts)."""
    shape = np.shape(tensor.data if isinstance(tensor, Tensor) else tensor)
    if len(shape) < 2:
        raise ShapeError(f"init: fan-in and fan-out need a weight with at least 2 "
                         f"dimensions, got shape {shape}; initialise biases with uniform_, "
                         f"normal_ or zeros_")
    if len(shape) == 2:
        return int(shape[0]), int(shape[1])
    receptive = int(np.prod(shape[2:], dtype=np.int64))
    return int(shape[1]) * receptive, int(shape[0]) * receptive


def _fan(tensor: Any, mode: str) -> int:
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    if mode == "fan_in":
        fan = fan_in
    elif mode == "fan_out":
        fan = fan_out
    else:
        raise ValueError(f"init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    if fan == 0:
        raise ShapeError(f"init: {mode} is 0 for a weight of shape {np.shape(tensor)}")
    return fan


def _write(tensor: Any, values: np.ndarray) -> Any:
    if isinstance(tensor, Tensor):
        if tensor.data.dtype.kind not in "fc":
            raise TypeError(f"init: cannot fill a tensor of dtype {tensor.data.dtype} with "
                            f"random floats")
        with no_grad():
            tensor.copy_(values)
        return tensor
    if isinstance(tensor, np.ndarray):
        np.copyto(tensor, values, casting="same_kind")
        return tensor
    raise TypeError(f"init: expected a Tensor (or ndarray) to fill in place, got "
                    f"{type(tensor).__name__}")


def _shape(tensor: Any) -> tuple[int, ...]:
    return tuple(np.shape(tensor.data if isinstance(tensor, Tensor) else tensor))


def uniform_(tensor: Any, a: float = 0.0, b: float = 1.0) -> Any:
    """Fill with samples from the uniform distribution U(a, b)."""
    if not a <= b:
        raise ValueError(f"uniform_: need a <= b, got a={a}, b={b}")
    return _write(tensor, get_rng().uniform(a, b, _shape(tensor)))


def normal_(tensor: Any, mean: float = 0.0, std: float = 1.0) -> Any:
    """Fill with samples from the normal distribution N(mean, std**2)."""
    if std < 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    return _write(tensor, get_rng().normal(mean, std, _shape(tensor)))


def constant_(tensor: Any, val: float) -> Any:
    """Fill with the value ``val``."""
    return _write(tensor, np.full(_shape(tensor), val, dtype=np.float64))


def zeros_(tensor: Any) -> Any:
    """Fill with zeros."""
    return constant_(tensor, 0.0)


def ones_(tensor: Any) -> Any:
    """Fill with ones."""
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: Any, gain: float = 1.0) -> Any:
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)).

    Keeps the variance of activations and gradients roughly constant through layers
    with symmetric activations (tanh, sigmoid, linear).
    """
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a)


def xavier_normal_(tensor: Any, gain: float = 1.0) -> Any:
    """Glorot normal: N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return normal_(tensor, 0.0, std)


def kaiming_uniform_(tensor: Any, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Any:
    """He uniform: U(-bound, bound) with bound = gain * sqrt(3 / fan).

    ``gain = calculate_gain(nonlinearity, a)``; with the defaults (a leaky ReLU of slope
    0, i.e. a ReLU) that is sqrt(2), so bound = sqrt(6 / fan_in). ``mode="fan_out"``
    preserves the gradients' variance in backward instead of the activations'.
    """
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Any, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Any:
    """He normal: N(0, std**2) with std = gain / sqrt(fan) (sqrt(2 / fan_in) for ReLU)."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std)


he_uniform_ = kaiming_uniform_
he_normal_ = kaiming_normal_
