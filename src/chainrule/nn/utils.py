"""Training utilities, as ``torch.nn.utils``: gradient clipping and flat parameter vectors.

    loss.backward()
    total = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    opt.step()

These act on ``.grad`` and ``.data`` directly (no graph is recorded), in place.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .._check import is_number
from .._tensor import Tensor, wrap
from ..errors import ShapeError

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters"]


def _tensors(where: str, parameters: Any) -> list[Tensor]:
    ps = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for i, p in enumerate(ps):
        if not isinstance(p, Tensor):
            raise TypeError(f"{where}: item {i} is a {type(p).__name__}, not a Tensor; pass "
                            f"model.parameters() or a list of tensors")
    return ps


def _norm_type(where: str, norm_type: Any) -> float:
    if isinstance(norm_type, str) and norm_type.lower() in ("inf", "+inf"):
        return math.inf
    if not is_number(norm_type) or not norm_type > 0:
        raise ValueError(f"{where}: norm_type must be a positive number or inf, got "
                         f"{norm_type!r}")
    return float(norm_type)


def _norm(a: np.ndarray, p: float) -> np.ndarray:
    a = np.abs(a.ravel())
    if p == math.inf:
        return a.max() if a.size else np.zeros((), a.dtype)
    if p == 2.0:
        return np.sqrt(np.dot(a, a))
    return np.sum(a ** p) ** (1.0 / p)


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float | str = 2.0, error_if_nonfinite: bool = False,
                    foreach: Any = None) -> Tensor:
    """Scale the gradients so that their total norm is at most ``max_norm``, in place.

    The total norm is that of all gradients together, as if concatenated into one
    vector (``norm_type`` 2 by default; ``inf`` is the largest absolute value). If it
    exceeds ``max_norm`` every gradient is multiplied by ``max_norm / (total + 1e-6)``
    (PyTorch's formula). Parameters without a gradient are skipped.

    Returns
    -------
    Tensor
        The total norm *before* clipping (0-d), what to log to watch for explosions.

    Raises
    ------
    RuntimeError
        With ``error_if_nonfinite=True``, if the total norm is NaN or infinite (the
        gradients are left as they are); by default such gradients are scaled anyway,
        which makes them NaN, as in PyTorch.
    """
    where = "clip_grad_norm_"
    if not is_number(max_norm) or max_norm < 0:
        raise ValueError(f"{where}: max_norm must be a non-negative number, got {max_norm!r}")
    p = _norm_type(where, norm_type)
    grads = [t.grad for t in _tensors(where, parameters) if t.grad is not None]
    if not grads:
        return wrap(np.zeros((), np.float32))
    dtype = np.result_type(*[g.data.dtype for g in grads])
    norms = np.array([_norm(g.data, p) for g in grads], dtype=dtype)
    total = _norm(norms, p)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"{where}: the total norm of order {norm_type} of the gradients "
                           f"is {float(total)}; a loss or gradient is NaN or infinite. "
                           f"Set error_if_nonfinite=False to clip anyway")
    # PyTorch's arithmetic, in the gradients' dtype: NaN stays NaN, inf gives 0.
    coef = np.minimum(np.asarray(max_norm, dtype) / (total + np.asarray(1e-6, dtype)),
                      np.asarray(1.0, dtype))
    if not coef >= 1.0:
        for g in grads:
            g.data *= coef.astype(g.data.dtype)
    return wrap(np.asarray(total, dtype=dtype))


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float,
                     foreach: Any = None) -> None:
    """Clip every gradient element into ``[-clip_value, clip_value]``, in place."""
    if not is_number(clip_value) or clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be a non-negative number, got "
                         f"{clip_value!r}")
    for t in _tensors("clip_grad_value_", parameters):
        if t.grad is not None:
            np.clip(t.grad.data, -clip_value, clip_value, out=t.grad.data)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters' values, flattened and concatenated into one 1-D tensor (a copy,
    with no graph)."""
    ps = _tensors("parameters_to_vector", parameters)
    if not ps:
        raise ValueError("parameters_to_vector: no parameters given")
    return wrap(np.concatenate([p.data.ravel() for p in ps]))


def vector_to_parameters(vec: Any, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters, in place (the
    inverse of :func:`parameters_to_vector`)."""
    ps = _tensors("vector_to_parameters", parameters)
    v = np.asarray(vec.data if isinstance(vec, Tensor) else vec)
    need = sum(p.size for p in ps)
    if v.ndim != 1 or v.size != need:
        raise ShapeError(f"vector_to_parameters: expected a 1-D vector of {need} values "
                         f"(the parameters' total size), got shape {v.shape}")
    i = 0
    for p in ps:
        n = p.size
        p.data[...] = v[i:i + n].reshape(p.shape)
        p.mark_modified()
        i += n
