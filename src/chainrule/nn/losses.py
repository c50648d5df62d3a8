"""Loss functions with PyTorch's names, arguments and reductions, built from gates.

``cross_entropy`` takes class indices or class probabilities, inputs ``(C,)``,
``(N, C)`` or ``(N, C, d1, ...)``, class ``weight``, ``ignore_index`` and
``label_smoothing``; the common case (indices or probabilities, ``(N, C)``, nothing
else) runs the fused Softmax-with-Loss gate of the seed notes. Reductions are
``"mean"``, ``"sum"`` and ``"none"`` (``kl_div`` adds ``"batchmean"``); with class
weights, ``"mean"`` divides by the total weight of the targets, as PyTorch does.

Element-wise losses require ``input`` and ``target`` of the same shape: broadcasting
``(N, 1)`` against ``(N,)`` would silently give ``(N, N)``, so it is an error here.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .. import ops
from .._tensor import Tensor, plain
from ..errors import ShapeError

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
    "huber_loss", "kl_div", "l1_loss", "nll_loss", "smooth_l1_loss",
]

_REDUCTIONS = ("mean", "sum", "none")


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


def _reduction(where: str, reduction: Any, allowed: tuple[str, ...] = _REDUCTIONS) -> str:
    if reduction not in allowed:
        raise ValueError(f"{where}: reduction must be one of {allowed}, got {reduction!r}")
    return reduction


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return ops.mean(losses)
    if reduction == "sum":
        return ops.sum(losses)
    return losses


def _same_shape(where: str, x: Tensor, t: Any) -> Any:
    t = t if isinstance(t, Tensor) else np.asarray(t)
    if tuple(x.shape) != tuple(np.shape(plain(t))):
        raise ShapeError(f"{where}: input of shape {x.shape} and target of shape "
                         f"{np.shape(plain(t))} differ; reshape one so that they match "
                         f"(broadcasting them would silently change the loss)")
    if isinstance(t, np.ndarray) and t.dtype.kind not in "fc":
        t = t.astype(x.dtype if x.dtype.kind == "f" else np.float64)
    return t


def _class_weight(where: str, weight: Any) -> None:
    """The class weight of nll_loss/cross_entropy is a constant (PyTorch does not
    differentiate it either): refuse one that asks for a gradient it would not get."""
    if isinstance(weight, Tensor) and weight.requires_grad:
        raise TypeError(f"{where}: the class weight gets no gradient (it selects a weight "
                        f"per target); pass weight.detach(), or multiply the per-sample "
                        f"losses (reduction='none') by a weight tensor yourself")


def _weight_is_not_reduction(where: str, weight: Any) -> None:
    if isinstance(weight, str):
        raise TypeError(f"{where}: the third argument is the class weight (as in PyTorch); "
                        f"pass the reduction by name: reduction={weight!r}")


def _class_axis_last(x: Tensor) -> Tensor:
    """(N, C, d1, ...) -> (N, d1, ..., C); (C,) and (N, C) unchanged."""
    return ops.moveaxis(x, 1, -1) if x.ndim > 2 else x


def _indices(where: str, target: Any, x: Tensor, ignore_index: int) -> np.ndarray:
    t = np.asarray(plain(target))
    c = x.shape[1] if x.ndim > 1 else x.shape[0]
    want = x.shape[:1] + x.shape[2:] if x.ndim > 1 else ()
    if t.shape != want:
        raise ShapeError(f"{where}: class indices of shape {t.shape} do not match input of "
                         f"shape {x.shape}; expected shape {want}")
    valid = t != ignore_index
    if valid.any() and (t[valid].min() < 0 or t[valid].max() >= c):
        bad = t[valid & ((t < 0) | (t >= c))].ravel()[0]
        raise ValueError(f"{where}: class index {bad} is out of range for {c} classes "
                         f"(valid: 0..{c - 1}, or ignore_index={ignore_index})")
    return t.astype(np.intp, copy=False)


def nll_loss(input: Any, target: Any, weight: Any = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` at class indices ``target``:
    ``-weight[t] * input[t]``; ``"mean"`` divides by the summed weights of the targets
    that are not ``ignore_index``."""
    where = "nll_loss"
    _weight_is_not_reduction(where, weight)
    _class_weight(where, weight)
    _reduction(where, reduction)
    x = _t(input)
    t = _indices(where, target, x, ignore_index)
    logp = _class_axis_last(x)
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    picked = ops.take_along_axis(logp, safe[..., None], -1)[..., 0]
    w = np.ones(logp.shape[-1], dtype=x.dtype) if weight is None else np.asarray(plain(weight))
    wt = np.where(valid, w[safe], 0).astype(x.dtype)
    losses = -(picked * wt)
    if reduction == "none":
        return losses
    total = ops.sum(losses)
    return total / wt.sum() if reduction == "mean" else total


def cross_entropy(input: Any, target: Any, weight: Any = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of ``softmax(input)`` along the class axis (1, or 0 for a single
    ``(C,)`` sample) against class indices or class probabilities, as PyTorch's
    ``F.cross_entropy``: class ``weight``, ``ignore_index`` (indices only) and
    ``label_smoothing`` (the target mixed with the uniform distribution)."""
    where = "cross_entropy"
    _weight_is_not_reduction(where, weight)
    _class_weight(where, weight)
    _reduction(where, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{where}: label_smoothing must be in [0, 1], got {label_smoothing}")
    x = _t(input)
    tgt = target if isinstance(target, Tensor) else np.asarray(target)
    probs = np.asarray(plain(tgt)).dtype.kind == "f"
    if x.ndim == 0:
        raise ShapeError(f"{where}: input needs a class axis, got a 0-d tensor")
    if x.ndim <= 2 and weight is None and label_smoothing == 0.0 and (
            probs or not (np.asarray(plain(tgt)) == ignore_index).any()):
        return ops.softmax_cross_entropy(x, tgt, reduction=reduction)   # the fused gate
    c = x.shape[1] if x.ndim > 1 else x.shape[0]
    logp = ops.log_softmax(x, axis=1 if x.ndim > 1 else 0)
    w = None if weight is None else np.asarray(plain(weight)).astype(x.dtype)
    if probs:
        if tuple(np.shape(plain(tgt))) != x.shape:
            raise ShapeError(f"{where}: class probabilities of shape {np.shape(plain(tgt))} "
                             f"do not match input of shape {x.shape}")
        p = tgt * (1 - label_smoothing) + label_smoothing / c if label_smoothing else tgt
        lp = _class_axis_last(logp)
        if w is not None:
            lp = lp * w
        losses = -ops.sum(lp * _class_axis_last(_t(p)), axis=-1)
        return _reduce(losses, reduction)
    t = _indices(where, tgt, x, ignore_index)
    nll = nll_loss(logp, t, w, ignore_index, reduction)
    if not label_smoothing:
        return nll
    lp = _class_axis_last(logp)
    smooth = -ops.sum(lp * w if w is not None else lp, axis=-1)
    valid = t != ignore_index
    smooth = ops.where(valid, smooth, 0.0)
    if reduction == "mean":
        denom = (np.where(valid, w[np.where(valid, t, 0)], 0).sum() if w is not None
                 else valid.sum())
        smooth = ops.sum(smooth) / denom
    elif reduction == "sum":
        smooth = ops.sum(smooth)
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / c)


def binary_cross_entropy(input: Any, target: Any, weight: Any = None,
                         reduction: str = "mean") -> Tensor:
    """``-(t log p + (1 - t) log(1 - p))`` on probabilities ``p`` in [0, 1], each log
    clamped at -100 as PyTorch does (so ``p = 0`` or ``1`` gives a finite loss).
    Prefer :func:`binary_cross_entropy_with_logits` on logits: it is exact there."""
    where = "binary_cross_entropy"
    _weight_is_not_reduction(where, weight)
    _reduction(where, reduction)
    p = _t(input)
    t = _same_shape(where, p, target)
    if p.data.size and (np.nanmin(p.data) < 0 or np.nanmax(p.data) > 1):
        raise ValueError(f"{where}: input must hold probabilities in [0, 1]; got values in "
                         f"[{np.nanmin(p.data)}, {np.nanmax(p.data)}] (logits? use "
                         f"binary_cross_entropy_with_logits)")
    tiny = np.exp(-100.0)
    log_p = ops.log(ops.clip(p, tiny, None))
    log_q = ops.log(ops.clip(1.0 - p, tiny, None))
    losses = -(t * log_p + (1.0 - t) * log_q)
    if weight is not None:
        losses = losses * weight
    return _reduce(losses, reduction)


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None,
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """Binary cross-entropy of ``sigmoid(input)`` against ``target`` in [0, 1], stably:
    ``(1 - t) x + (1 + (pw - 1) t) · softplus(-x)``, with ``softplus(-x)`` written as
    ``log(1 + e^(-|x|)) + max(-x, 0)`` so that logits of any size stay finite.
    ``pos_weight`` weighs the positive term (broadcast along the last axis, per class)."""
    where = "binary_cross_entropy_with_logits"
    _weight_is_not_reduction(where, weight)
    _reduction(where, reduction)
    x = _t(input)
    t = _same_shape(where, x, target)
    softplus_neg = ops.logaddexp(0.0, -x)
    if pos_weight is None:
        losses = (1.0 - t) * x + softplus_neg
    else:
        losses = (1.0 - t) * x + (1.0 + (pos_weight - 1.0) * t) * softplus_neg
    if weight is not None:
        losses = losses * weight
    return _reduce(losses, reduction)


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean absolute error ``|input - target|`` (abs'(0) = 0)."""
    x = _t(input)
    t = _same_shape("l1_loss", x, target)
    return _reduce(ops.abs(x - t), _reduction("l1_loss", reduction))


def smooth_l1_loss(input: Any, target: Any, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """``0.5 d² / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (``beta = 0``: L1)."""
    x = _t(input)
    t = _same_shape("smooth_l1_loss", x, target)
    _reduction("smooth_l1_loss", reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    d = x - t
    a = ops.abs(d)
    if beta == 0:
        return _reduce(a, reduction)
    return _reduce(ops.where(a.data < beta, 0.5 * d * d / beta, a - 0.5 * beta), reduction)


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """``0.5 d²`` where ``|d| <= delta``, else ``delta (|d| - 0.5 delta)``."""
    x = _t(input)
    t = _same_shape("huber_loss", x, target)
    _reduction("huber_loss", reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    d = x - t
    a = ops.abs(d)
    return _reduce(ops.where(a.data <= delta, 0.5 * d * d, delta * (a - 0.5 * delta)),
                   reduction)


def kl_div(input: Any, target: Any, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence with ``input`` as log-probabilities, as PyTorch's
    ``F.kl_div``: pointwise ``t (log t - input)`` (0 where ``t = 0``), or with
    ``log_target`` ``exp(t) (t - input)``. ``"batchmean"`` divides the sum by the batch
    size, which is the true KL divergence; ``"mean"`` averages over every element."""
    where = "kl_div"
    _reduction(where, reduction, (*_REDUCTIONS, "batchmean"))
    x = _t(input)
    t = _t(_same_shape(where, x, target))
    if log_target:
        pointwise = ops.exp(t) * (t - x)
    else:
        pos = t.data > 0
        if np.any(t.data < 0):
            raise ValueError(f"{where}: target probabilities must be >= 0 (log-probabilities? "
                             f"pass log_target=True)")
        log_t = ops.where(pos, ops.log(ops.where(pos, t, 1.0)), 0.0)
        pointwise = ops.where(pos, t * (log_t - x), 0.0)
    if reduction == "batchmean":
        return ops.sum(pointwise) / (x.shape[0] if x.ndim else 1)
    if reduction == "mean":
        warnings.warn("kl_div: reduction='mean' divides the sum by every element, batch and "
                      "classes, which is not the KL divergence; reduction='batchmean' "
                      "divides by the batch size only (PyTorch warns the same)", stacklevel=2)
    return _reduce(pointwise, reduction)

