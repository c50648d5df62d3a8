"""Neural-network functions on tensors (imported as ``F``), each built from gates.

Nothing here defines a derivative: every function either calls a (fused) gate of
:mod:`chainrule.ops` or composes several, so its gradient comes from those gates and is
gradient-checked with them.

Losses take ``reduction`` = ``"mean"`` (default), ``"sum"`` or ``"none"``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops
from .._check import is_number
from .._tensor import Tensor, wrap
from ..errors import DtypeError, ShapeError
from ..random import get_rng
from .activations import (
    celu,
    elu,
    gelu,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    logsigmoid,
    mish,
    normalize,
    relu6,
    selu,
    silu,
    softmin,
    softplus,
    softsign,
)
from .conv_functional import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    fold,
    interpolate,
    max_pool1d,
    unfold,
)
from .losses import (
    _reduce,
    _reduction,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    nll_loss,
    smooth_l1_loss,
)
from .normalization import group_norm, layer_norm
from .sparse import embedding

conv1d = ops.conv1d
conv2d = ops.conv2d
conv_transpose2d = ops.conv_transpose2d
max_pool2d = ops.max_pool2d
avg_pool2d = ops.avg_pool2d

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "affine",
    "avg_pool1d",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "celu",
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "cross_entropy",
    "dropout",
    "dropout1d",
    "dropout2d",
    "elu",
    "embedding",
    "fold",
    "gelu",
    "group_norm",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "hinge_loss",
    "huber_loss",
    "interpolate",
    "kl_div",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "logsigmoid",
    "max_pool1d",
    "max_pool2d",
    "mish",
    "mse_loss",
    "nll_loss",
    "normalize",
    "one_hot",
    "relu",
    "relu6",
    "scaled_dot_product_attention",
    "selu",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softmax_cross_entropy",
    "softmin",
    "softplus",
    "softsign",
    "tanh",
    "unfold",
]

def _tensor(x: Any) -> Tensor:
    if isinstance(x, Tensor):
        return x
    return wrap(np.asarray(x))


def _check_reduction(where: str, reduction: str) -> None:
    _reduction(where, reduction)


# ---------------------------------------------------------------------- layers
def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """``x . weight + bias`` through the fused Affine gate.

    ``weight`` has shape ``(in_features, out_features)`` (the seed notes' ``Y = X.W + B``);
    ``bias`` ``(out_features,)`` or ``None``.
    """
    return ops.affine(x, weight, bias)


affine = linear


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """Class indices to one-hot rows, as PyTorch's ``F.one_hot`` (integer result)."""
    return ops.one_hot(tensor, num_classes, dtype=np.int64)


def relu(x: Any) -> Tensor:
    """max(x, 0), elementwise."""
    return ops.relu(x)


def sigmoid(x: Any) -> Tensor:
    """1 / (1 + exp(-x)), elementwise, without overflow."""
    return ops.sigmoid(x)


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent, elementwise."""
    return ops.tanh(x)


def softmax(x: Any, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """Softmax along ``dim`` (PyTorch's name; ``axis=`` too; the last by default)."""
    return ops.softmax(x, axis=axis, dim=dim)


def log_softmax(x: Any, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """log(softmax(x)) along ``dim`` (or ``axis=``), computed stably."""
    return ops.log_softmax(x, axis=axis, dim=dim)


def _check_p(where: str, p: Any) -> float:
    if not is_number(p) \
            or not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"{where}: the drop probability p must be a number in [0, 1], "
                         f"got {p!r}")
    return float(p)


def dropout(x: Any, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each element with probability ``p``, scale the rest by 1/(1-p).

    The scaling keeps the expected value unchanged, so nothing needs rescaling at test
    time: with ``training=False`` (or ``p=0``) this is the identity. The mask comes from
    the library generator (``cr.manual_seed``) and multiplies ``x`` through the Mul
    gate, so the gradient is the same mask times the upstream gradient.
    """
    p = _check_p("dropout", p)
    x = _tensor(x)
    if not training or p == 0.0:
        return x
    dt = x.data.dtype
    if p == 1.0:
        return ops.mul(x, np.zeros(x.shape, dtype=dt if dt.kind in "fc" else np.float64))
    u = get_rng().random(x.shape, dtype=np.float32 if dt == np.float32 else np.float64)
    mask = np.greater_equal(u, p).astype(dt if dt.kind in "fc" else np.float64)
    mask *= 1.0 / (1.0 - p)
    return ops.mul(x, mask)


def _channel_dropout(where: str, x: Any, p: float, training: bool, ndim: int) -> Tensor:
    p = _check_p(where, p)
    x = _tensor(x)
    if x.ndim not in (ndim, ndim + 1):
        raise ShapeError(f"{where}: expected a batch (N, C, {'L' if ndim == 2 else 'H, W'}) "
                         f"or one sample, got shape {x.shape}")
    if not training or p == 0.0:
        return x
    dt = x.data.dtype if x.data.dtype.kind == "f" else np.float64
    lead = x.shape[:x.ndim - ndim + 1]                    # (N, C) or (C,)
    keep = get_rng().random(lead) >= p if p < 1.0 else np.zeros(lead, dtype=bool)
    mask = keep.astype(dt) * (1.0 / (1.0 - p) if p < 1.0 else 0.0)
    return ops.mul(x, mask.reshape(*lead, *(1,) * (ndim - 1)))


def dropout2d(input: Any, p: float = 0.5, training: bool = True) -> Tensor:
    """Channel dropout for ``(N, C, H, W)`` (or ``(C, H, W)``): zero each whole channel
    with probability ``p`` and scale the others by 1/(1-p), as
    ``torch.nn.functional.dropout2d`` (neighbouring pixels are correlated, so dropping
    single pixels would hardly regularise). The identity when ``training=False``."""
    return _channel_dropout("dropout2d", input, p, training, 3)


def dropout1d(input: Any, p: float = 0.5, training: bool = True) -> Tensor:
    """Channel dropout for ``(N, C, L)`` (or ``(C, L)``), as PyTorch's ``dropout1d``."""
    return _channel_dropout("dropout1d", input, p, training, 2)


def _channel_layout(x: Tensor, where: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if x.ndim == 2:
        return (0,), (x.shape[1],)
    if x.ndim in (3, 4, 5):
        return (0, *range(2, x.ndim)), (x.shape[1], *(1,) * (x.ndim - 2))
    raise ShapeError(f"{where}: expected input of shape (N, C), (N, C, L), (N, C, H, W) or "
                     f"(N, C, D, H, W), got {x.shape}")


def _as_param_shape(v: Any, shape: tuple[int, ...], what: str, where: str) -> Any:
    if v is None:
        return None
    n = shape[0]
    if np.shape(v.data if isinstance(v, Tensor) else v) != (n,):
        raise ShapeError(f"{where}: {what} must have shape ({n},) for {n} channels, got "
                         f"{np.shape(v.data if isinstance(v, Tensor) else v)}")
    if len(shape) == 1:
        return v
    if isinstance(v, Tensor):
        return ops.reshape(v, shape)
    return np.reshape(v, shape)


def batch_norm(x: Any, running_mean: Any = None, running_var: Any = None,
               weight: Any = None, bias: Any = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation over the batch (and length) axes, per channel.

    ``x`` is ``(N, C)``, ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)``. In
    training, each channel is normalised with
    the batch's mean and (biased) variance, ``x_hat = (x - mean) / sqrt(var + eps)``, and
    ``running_mean``/``running_var`` (if given; Tensors or ndarrays of shape ``(C,)``)
    are updated in place: ``r = (1 - momentum) * r + momentum * batch_stat``, with the
    unbiased variance as PyTorch does. Otherwise the running statistics are used.
    Finally ``y = x_hat * weight + bias`` (each optional). Built from the mean, var,
    sub, add, sqrt, div and mul gates, so the gradient includes the path through the
    batch statistics.
    """
    where = "batch_norm"
    x = _tensor(x)
    axes, shape = _channel_layout(x, where)
    c = x.shape[1]
    if training:
        n = x.size // c if c else 0
        if n <= 1:
            raise ShapeError(f"{where}: training needs more than one value per channel to "
                             f"compute a variance, got input of shape {x.shape}; use a "
                             f"larger batch or eval mode")
        mean = ops.mean(x, axis=axes, keepdims=True)
        var = ops.var(x, axis=axes, keepdims=True)
        xhat = ops.div(ops.sub(x, mean), ops.sqrt(ops.add(var, eps)))
        if running_mean is not None or running_var is not None:
            factor = float(momentum)
            for r, stat, scale in ((running_mean, mean, 1.0),
                                   (running_var, var, n / (n - 1))):
                if r is None:
                    continue
                arr = r.data if isinstance(r, Tensor) else r
                if not isinstance(arr, np.ndarray) or arr.shape != (c,):
                    raise ShapeError(f"{where}: running statistics must be arrays of shape "
                                     f"({c},), got {np.shape(arr)}")
                arr *= 1.0 - factor
                arr += (factor * scale) * stat.data.reshape(c)
                if isinstance(r, Tensor):
                    r.mark_modified()
    else:
        if running_mean is None or running_var is None:
            raise ValueError(f"{where}: evaluation mode (training=False) needs running_mean "
                             f"and running_var; pass them, or training=True")
        rm = np.asarray(running_mean.data if isinstance(running_mean, Tensor) else running_mean)
        rv = np.asarray(running_var.data if isinstance(running_var, Tensor) else running_var)
        if rm.shape != (c,) or rv.shape != (c,):
            raise ShapeError(f"{where}: running statistics must have shape ({c},), got "
                             f"{rm.shape} and {rv.shape}")
        dt = x.data.dtype if x.data.dtype.kind == "f" else np.float64
        scale = (1.0 / np.sqrt(rv.astype(np.float64) + eps)).astype(dt).reshape(shape)
        xhat = ops.mul(ops.sub(x, rm.astype(dt).reshape(shape)), scale)
    w = _as_param_shape(weight, shape, "weight", where)
    b = _as_param_shape(bias, shape, "bias", where)
    y = xhat if w is None else ops.mul(xhat, w)
    return y if b is None else ops.add(y, b)


# ---------------------------------------------------------------------- losses
def softmax_cross_entropy(logits: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Cross-entropy of ``softmax(logits)`` against ``target``, through one fused gate.

    ``logits`` is ``(N, C)`` (or ``(C,)``). ``target`` holds class indices (integers,
    shape ``(N,)``) or probabilities per sample (floats of the logits' shape, one-hot
    labels included). Backward is the seed notes' ``(softmax(x) - t) / N``.
    """
    _check_reduction("softmax_cross_entropy", reduction)
    if not isinstance(target, Tensor):
        target = np.asarray(target)
    return ops.softmax_cross_entropy(logits, target, reduction=reduction)



def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error ``mean((input - target)**2)`` (or its sum, or per element).

    ``input`` and ``target`` must have the same shape: broadcasting ``(N, 1)`` against
    ``(N,)`` silently gives an ``(N, N)`` result, so it is an error here.
    """
    _check_reduction("mse_loss", reduction)
    x = _tensor(input)
    t = target if isinstance(target, Tensor) else np.asarray(target)
    if x.shape != np.shape(t.data if isinstance(t, Tensor) else t):
        raise ShapeError(f"mse_loss: input of shape {x.shape} and target of shape "
                         f"{np.shape(t.data if isinstance(t, Tensor) else t)} differ; "
                         f"reshape one so that they match")
    d = ops.sub(x, t)
    return _reduce(ops.mul(d, d), reduction)


def _class_indices(target: Any, scores_shape: tuple[int, ...], where: str) -> np.ndarray:
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    n, c = scores_shape
    if t.dtype.kind in "iu":
        if t.shape != (n,):
            raise ShapeError(f"{where}: class indices of shape {t.shape} do not match "
                             f"scores of shape {scores_shape}; expected shape ({n},)")
    elif t.dtype.kind == "f":
        if t.shape != (n, c):
            raise ShapeError(f"{where}: a one-hot target of shape {t.shape} does not match "
                             f"scores of shape {scores_shape}")
        if not (np.isin(t, (0.0, 1.0)).all() and (t.sum(axis=1) == 1).all()):
            raise ValueError(f"{where}: a float target must be one-hot (one 1 per row, "
                             f"zeros elsewhere); pass class indices otherwise")
        t = np.argmax(t, axis=1)
    else:
        raise DtypeError(f"{where}: target must be class indices (int) or one-hot rows "
                         f"(float), got dtype {t.dtype}")
    if t.size and (t.min() < 0 or t.max() >= c):
        bad = t[(t < 0) | (t >= c)][0]
        raise ValueError(f"{where}: class index {bad} is out of range for {c} classes "
                         f"(valid: 0..{c - 1})")
    return t.astype(np.intp, copy=False)


def hinge_loss(scores: Any, target: Any, margin: float = 1.0,
               reduction: str = "mean") -> Tensor:
    """Multiclass SVM (hinge) loss, as in cs231n.

    For sample ``i`` with correct class ``y_i`` and scores ``s``:
    ``L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + margin)``, averaged over the batch by
    default. ``scores`` is ``(N, C)``; ``target`` holds class indices ``(N,)`` (or
    one-hot rows). Composed from gates: indexing picks ``s_{y_i}`` (its gradient is
    scattered back, the "max routes, copy distributes" patterns of the notes), Maximum
    clips at 0 (a margin of exactly 0 gets half the gradient, the average of the two
    one-sided slopes), and a constant mask drops the ``j = y_i`` terms.
    """
    where = "hinge_loss"
    _check_reduction(where, reduction)
    s = _tensor(scores)
    if s.ndim != 2:
        raise ShapeError(f"{where}: scores must have shape (N, C), got {s.shape}")
    n, c = s.shape
    y = _class_indices(target, s.shape, where)
    rows = np.arange(n)
    correct = ops.expand_dims(s[rows, y], 1)
    dt = s.data.dtype if s.data.dtype.kind == "f" else np.float64
    others = np.ones((n, c), dtype=dt)
    others[rows, y] = 0
    margins = ops.maximum(ops.add(ops.sub(s, correct), margin), 0.0)
    losses = ops.sum(ops.mul(margins, others), axis=1)
    return _reduce(losses, reduction)


# ---------------------------------------------------------------------- attention
def scaled_dot_product_attention(query: Any, key: Any, value: Any, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None) -> Tensor:
    """``softmax(q k^T * scale + mask) v`` over the last two axes, as PyTorch's.

    Shapes: query ``(..., L, E)``, key ``(..., S, E)``, value ``(..., S, Ev)``; result
    ``(..., L, Ev)``. ``attn_mask`` broadcasts to ``(..., L, S)``: boolean (True = may
    attend) or float (added to the scores). ``is_causal`` masks keys after each query
    (a lower-triangular mask; not together with ``attn_mask``). ``scale`` defaults to
    ``1/sqrt(E)``. ``dropout_p`` drops attention weights (always, as PyTorch's
    function does: pass ``dropout_p=0`` in evaluation).
    """
    q, k, v = _tensor(query), _tensor(key), _tensor(value)
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1), got "
                         f"{dropout_p!r}")
    where = "scaled_dot_product_attention"
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2 or q.shape[-1] != k.shape[-1] \
            or k.shape[-2] != v.shape[-2]:
        raise ShapeError(f"{where}: expected query (..., L, E), key (..., S, E), value "
                         f"(..., S, Ev); got {q.shape}, {k.shape}, {v.shape}")
    L, S = q.shape[-2], k.shape[-2]
    s = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    scores = ops.matmul(q, k.swapaxes(-1, -2)) * s
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{where}: give attn_mask or is_causal=True, not both")
        attn_mask = np.tril(np.ones((L, S), dtype=bool))
    if attn_mask is not None:
        m = attn_mask if isinstance(attn_mask, Tensor) and attn_mask.requires_grad \
            else np.asarray(attn_mask.data if isinstance(attn_mask, Tensor) else attn_mask)
        shape = np.shape(m.data if isinstance(m, Tensor) else m)
        try:
            np.broadcast_shapes(shape, scores.shape)
        except ValueError:
            raise ShapeError(f"{where}: attn_mask of shape {shape} does not broadcast to "
                             f"the scores' shape {scores.shape} (..., L, S)") from None
        if isinstance(m, np.ndarray) and m.dtype == bool:
            scores = ops.where(m, scores, -np.inf)
        elif isinstance(m, np.ndarray) and m.dtype.kind not in "fc":
            raise DtypeError(f"{where}: attn_mask must be boolean or floating-point, got "
                             f"{m.dtype}")
        else:
            scores = scores + m
    attn = ops.softmax(scores, axis=-1)
    if dropout_p:
        attn = dropout(attn, dropout_p, True)
    return ops.matmul(attn, v)
