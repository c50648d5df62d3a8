"""``Embedding`` (and ``F.embedding``): a lookup table, as ``torch.nn.Embedding``.

The lookup is indexing of the weight (``weight[indices]``), whose backward scatters
and *adds*: an index used several times in a batch gets the sum of its gradients.
``padding_idx``'s row gets no gradient (its positions read the weight as a constant).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from .._check import is_int
from .._tensor import Tensor
from ..errors import DtypeError
from . import init
from .module import Module, Parameter

__all__ = ["Embedding", "embedding"]


def _indices(where: str, input: Any, n: int) -> np.ndarray:
    idx = np.asarray(input.data if isinstance(input, Tensor) else input)
    if idx.dtype.kind not in "iu":
        raise DtypeError(f"{where}: indices must be integers, got dtype {idx.dtype} "
                         f"(use .long() or .astype(np.int64))")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(f"{where}: indices must be in [0, {n}) for {n} embeddings; got "
                         f"min {idx.min()}, max {idx.max()}")
    return idx


def _padding(where: str, padding_idx: Any, n: int) -> int | None:
    if padding_idx is None:
        return None
    if not is_int(padding_idx) or not -n <= padding_idx < n:
        raise ValueError(f"{where}: padding_idx must be an int in [{-n}, {n}), got "
                         f"{padding_idx!r}")
    return int(padding_idx) % n


def _unsupported(where: str, max_norm: Any, scale_grad_by_freq: bool, sparse: bool) -> None:
    if max_norm is not None:
        raise NotImplementedError(f"{where}: max_norm is not supported (it renormalises "
                                  f"the weight in place during forward); leave it None and "
                                  f"clip the rows yourself under cr.no_grad() if needed")
    if scale_grad_by_freq or sparse:
        raise NotImplementedError(f"{where}: scale_grad_by_freq and sparse gradients are "
                                  f"not supported; gradients are dense sums")


def embedding(input: Any, weight: Any, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` ``(num_embeddings, dim)`` at the integer ``input``: shape
    ``input.shape + (dim,)``. The row ``padding_idx`` receives no gradient."""
    _unsupported("embedding", max_norm, scale_grad_by_freq, sparse)
    w = weight if isinstance(weight, Tensor) else Tensor(weight)
    if w.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, dim), got shape "
                         f"{w.shape}")
    idx = _indices("embedding", input, w.shape[0])
    out = w[idx]
    pad = _padding("embedding", padding_idx, w.shape[0])
    if pad is not None and w.requires_grad:
        mask = (idx == pad)[..., None]
        if mask.any():
            out = ops.where(mask, w.data[idx], out)
    return out


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``.

    ``Embedding(num_embeddings, embedding_dim, padding_idx=None)``; the weight starts
    from ``N(0, 1)`` with the ``padding_idx`` row at zero, as PyTorch's. ``emb(indices)``
    maps an integer array of any shape to ``indices.shape + (embedding_dim,)``.
    ``max_norm``, ``scale_grad_by_freq`` and ``sparse`` are refused with an error.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 padding_idx: int | None = None, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Any = None, _freeze: bool = False,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        _unsupported("Embedding", max_norm, scale_grad_by_freq, sparse)
        for what, v in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not is_int(v) or v <= 0:
                raise ValueError(f"Embedding: {what} must be a positive int, got {v!r}")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.padding_idx = _padding("Embedding", padding_idx, self.num_embeddings)
        if _weight is None:
            self.weight = Parameter(np.zeros((self.num_embeddings, self.embedding_dim),
                                             np.dtype(dtype)), requires_grad=not _freeze)
            self.reset_parameters()
        else:
            w = np.asarray(_weight.data if isinstance(_weight, Tensor) else _weight)
            if w.shape != (self.num_embeddings, self.embedding_dim):
                raise ValueError(f"Embedding: _weight has shape {w.shape}, expected "
                                 f"{(self.num_embeddings, self.embedding_dim)}")
            self.weight = Parameter(w, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """``N(0, 1)``, and zeros in the ``padding_idx`` row."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0
            self.weight.mark_modified()

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True,
                        padding_idx: int | None = None, **kwargs: Any) -> Embedding:
        """An Embedding holding a copy of ``embeddings`` ``(num, dim)``; frozen (no
        gradient) unless ``freeze=False``."""
        e = np.asarray(embeddings.data if isinstance(embeddings, Tensor) else embeddings)
        if e.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape "
                             f"{e.shape}")
        return cls(e.shape[0], e.shape[1], padding_idx=padding_idx, _weight=e,
                   _freeze=freeze, dtype=e.dtype, **kwargs)

    def forward(self, input: Any) -> Tensor:
        return embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s if self.padding_idx is None else s + f", padding_idx={self.padding_idx}"
