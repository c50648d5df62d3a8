"""Loss gates: softmax followed by cross-entropy, fused.

Fusing them is both faster and more stable than chaining ``softmax``, ``log`` and a
mean: forward uses log-softmax (never ``log(0)``), and backward is the famous
``(softmax(x) - onehot(t)) / N`` of the seed notes' Softmax-with-Loss layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._tensor import Tensor
from ..autograd import Array, Gate, Grads, apply2
from ..errors import DtypeError, ShapeError
from ._registry import export
from .reduction import _logsumexp_array, log_softmax

_REDUCTIONS = ("mean", "sum", "none")


class SoftmaxCrossEntropy(Gate):
    """L = -sum_k t_k log softmax(x)_k, averaged over the batch.

    ``x`` holds logits of shape ``(N, C)`` (or ``(C,)`` for one sample). The target
    ``t`` is either class indices (integers, shape ``(N,)`` or a scalar) or a
    probability distribution per sample (floats, the shape of ``x``; one-hot labels are
    the common case). ``reduction`` is ``"mean"`` (default), ``"sum"`` or ``"none"``
    (one loss per sample). Backward: dL/dx = (softmax(x) - t) / N (for probability
    targets that do not sum to 1, softmax(x) * sum(t) - t).
    """

    symbol = "Softmax-with-Loss"
    function_name = "cross_entropy"
    local_notation = ("(softmax(x) − t)/N", "")
    differentiable = ("t",)

    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in _REDUCTIONS:
            raise ValueError(f"SoftmaxCrossEntropy: reduction must be one of {_REDUCTIONS}, "
                             f"got {reduction!r}")
        self.reduction = reduction

    def forward(self, x: Array, t: Array) -> Array:
        x = np.asarray(x)
        t = np.asarray(t)
        if x.ndim not in (1, 2):
            raise ShapeError(f"SoftmaxCrossEntropy: logits must have shape (N, C) or (C,), "
                             f"got {x.shape}")
        logp = x - _logsumexp_array(x, -1, True)
        if t.dtype.kind in "iub":
            if t.shape != x.shape[:-1]:
                raise ShapeError(f"SoftmaxCrossEntropy: class indices of shape {t.shape} do "
                                 f"not match logits of shape {x.shape}; expected shape "
                                 f"{x.shape[:-1]}")
            n_cls = x.shape[-1]
            if t.size and (t.min() < 0 or t.max() >= n_cls):
                bad = t[(t < 0) | (t >= n_cls)].ravel()[0]
                raise ValueError(f"SoftmaxCrossEntropy: class index {bad} is out of range for "
                                 f"{n_cls} classes (valid: 0..{n_cls - 1})")
            self.soft = False
            losses = -(logp[np.arange(len(t)), t] if x.ndim == 2 else logp[t])
        elif t.dtype.kind == "f":
            if t.shape != x.shape:
                raise ShapeError(f"SoftmaxCrossEntropy: target probabilities of shape "
                                 f"{t.shape} do not match logits of shape {x.shape}")
            self.soft = True
            losses = -np.sum(t * logp, axis=-1)
        else:
            raise DtypeError(f"SoftmaxCrossEntropy: target must be class indices (int) or "
                             f"probabilities (float), got dtype {t.dtype}")
        self.t = t
        self.logp = logp
        self.n = x.shape[0] if x.ndim == 2 else 1
        if self.reduction == "none":
            return losses
        total = np.sum(losses)
        return total / self.n if self.reduction == "mean" else total

    def regraph(self, inputs: tuple) -> dict:
        """Recompute log-probabilities from the logits tensor (for higher order)."""
        return {"logp": log_softmax(inputs[0], axis=-1)}

    def backward(self, gl: Array) -> Grads:
        logp = self.logp
        if self.reduction == "none":
            scale = np.expand_dims(gl, -1)
        elif self.reduction == "mean":
            scale = gl / self.n
        else:
            scale = gl
        needs = self.needs
        t = self.t
        gx = None
        if needs[0]:
            p = np.exp(logp)
            if self.soft:
                # dL/dx = softmax(x) * sum(t) - t: the familiar softmax(x) - t needs
                # targets that sum to 1, which soft targets need not do.
                p = p * np.sum(t, axis=-1, keepdims=True)
            elif type(p) is np.ndarray:   # p is fresh: subtract the one-hot labels in place
                p[(np.arange(len(t)), t) if p.ndim == 2 else t] -= 1
                t = None
            else:                          # create_graph: p is a tensor, t the one-hot labels
                t = np.zeros(np.shape(logp), dtype=np.result_type(logp))
                np.put_along_axis(t, self.t[..., None], 1, axis=-1)
            gx = (p if t is None else p - t) * scale
        gt = -(logp * scale) if needs[1] else None
        return gx, gt

    def jvp(self, tx: Array | None, tt: Array | None) -> Array | None:
        """Forward mode: per sample, dL = sum_k (softmax(x)_k sum(t) - t_k) dx_k
        - sum_k dt_k log softmax(x)_k, then the reduction."""
        logp, t = self.logp, self.t
        d = None
        if tx is not None:
            p = np.exp(logp)
            if self.soft:
                d = np.sum((p * np.sum(t, axis=-1, keepdims=True) - t) * tx, axis=-1)
            else:
                picked = tx[(np.arange(len(t)), t)] if np.ndim(tx) == 2 else tx[t]
                d = np.sum(p * tx, axis=-1) - picked
        if tt is not None:
            e = -np.sum(tt * logp, axis=-1)
            d = e if d is None else d + e
        if d is None or self.reduction == "none":
            return d
        total = np.sum(d)
        return total / self.n if self.reduction == "mean" else total


@export
def softmax_cross_entropy(logits: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Cross-entropy of ``softmax(logits)`` against class indices or probabilities."""
    if not isinstance(target, (Tensor, np.ndarray)):
        target = np.asarray(target)      # the gate saves the target array it was given
    return apply2(SoftmaxCrossEntropy(reduction), logits, target)
