"""``nn.MultiheadAttention``, as PyTorch's (``F.scaled_dot_product_attention`` is in
:mod:`chainrule.nn.functional`).

Both are compositions of gates (``matmul``, ``softmax``, ``where``, ``+``), so backward
is theirs. Mind the two mask conventions, which are PyTorch's and differ:

* ``scaled_dot_product_attention``: a **boolean** ``attn_mask`` is True where a query
  *may* attend to a key;
* ``MultiheadAttention``: a boolean ``attn_mask`` or ``key_padding_mask`` is True where
  attention is *not allowed* (padding).

A float mask is added to the scores in both. A query row whose keys are all masked
has no defined attention (its softmax is 0/0): its output is NaN, as in PyTorch's
reference implementation, so mask padding keys, never every key of a query.

``MultiheadAttention`` keeps PyTorch's parameters: ``in_proj_weight`` ``(3E, E)`` in
PyTorch's layout (``x @ W^T``), ``in_proj_bias`` ``(3E,)`` and ``out_proj``, an
``nn.Linear`` (chainrule's (in, out) layout; ``cr.nn.load_torch_state_dict``
transposes it), so a PyTorch state dict loads by name.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops
from .._tensor import Tensor, wrap
from ..errors import DtypeError, ShapeError
from . import functional as F
from . import init
from .layers import Linear
from .module import Module, Parameter

__all__ = ["MultiheadAttention"]


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else wrap(np.asarray(x))


def _mask_array(m: Any) -> np.ndarray:
    return np.asarray(m.data if isinstance(m, Tensor) else m)


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al.), as ``torch.nn.MultiheadAttention``.

    ``MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True,
    batch_first=False)``; ``mha(query, key, value, key_padding_mask=None,
    need_weights=True, attn_mask=None, average_attn_weights=True, is_causal=False)``
    returns ``(output, weights)``. Inputs are ``(L, N, E)`` (``(N, L, E)`` with
    ``batch_first``) or unbatched ``(L, E)``; ``weights`` is ``(N, L, S)`` averaged
    over the heads, ``(N, num_heads, L, S)`` with ``average_attn_weights=False``, or
    ``None`` with ``need_weights=False``. ``key_padding_mask`` is ``(N, S)``;
    ``attn_mask`` ``(L, S)`` or ``(N*num_heads, L, S)``; boolean masks are True where
    attention is not allowed. ``is_causal=True`` without ``attn_mask`` applies the
    causal mask (PyTorch requires the mask itself). ``kdim``/``vdim`` other than
    ``embed_dim``, ``add_bias_kv`` and ``add_zero_attn`` are not supported.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0,
                 bias: bool = True, add_bias_kv: bool = False, add_zero_attn: bool = False,
                 kdim: int | None = None, vdim: int | None = None, batch_first: bool = False,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        if add_bias_kv or add_zero_attn or kdim not in (None, embed_dim) \
                or vdim not in (None, embed_dim):
            raise NotImplementedError("MultiheadAttention: kdim/vdim different from "
                                      "embed_dim, add_bias_kv and add_zero_attn are not "
                                      "supported; project keys and values to embed_dim "
                                      "with nn.Linear first")
        if not (isinstance(embed_dim, int) and isinstance(num_heads, int) and num_heads > 0
                and embed_dim > 0 and embed_dim % num_heads == 0):
            raise ValueError(f"MultiheadAttention: embed_dim={embed_dim!r} must be a positive "
                             f"multiple of num_heads={num_heads!r}")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = F._check_p("MultiheadAttention", dropout)
        self.batch_first = bool(batch_first)
        dt = np.dtype(dtype)
        self.in_proj_weight = Parameter(np.zeros((3 * embed_dim, embed_dim), dt))
        if bias:
            self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dt)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's: Xavier-uniform ``in_proj_weight``, zero biases, ``out_proj`` as a
        Linear."""
        init.xavier_uniform_(self.in_proj_weight)
        self.out_proj.reset_parameters()
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _merged_mask(self, key_padding_mask: Any, attn_mask: Any, is_causal: bool,
                     n: int, L: int, S: int, dtype: np.dtype) -> Any:
        where = "MultiheadAttention"
        mask = None
        if is_causal and attn_mask is None:
            attn_mask = ~np.tril(np.ones((L, S), dtype=bool))

        def additive(m: Any, what: str) -> Any:
            if isinstance(m, Tensor) and m.requires_grad:
                return m
            a = _mask_array(m)
            if a.dtype == bool:
                return np.where(a, -np.inf, 0.0).astype(dtype)
            if a.dtype.kind != "f":
                raise DtypeError(f"{where}: {what} must be boolean or floating-point, got "
                                 f"{a.dtype}")
            return a.astype(dtype, copy=False)

        if attn_mask is not None:
            a = additive(attn_mask, "attn_mask")
            shape = tuple(a.shape)
            if shape == (L, S):
                mask = a
            elif shape == (n * self.num_heads, L, S):
                mask = a.reshape((n, self.num_heads, L, S))
            else:
                raise ShapeError(f"{where}: attn_mask must be (L, S) = {(L, S)} or "
                                 f"(N*num_heads, L, S) = {(n * self.num_heads, L, S)}, got "
                                 f"{shape}")
        if key_padding_mask is not None:
            k = additive(key_padding_mask, "key_padding_mask")
            if tuple(k.shape) != (n, S):
                raise ShapeError(f"{where}: key_padding_mask must be (N, S) = {(n, S)}, "
                                 f"got {tuple(k.shape)}")
            k = k.reshape((n, 1, 1, S))
            mask = k if mask is None else mask + k
        return mask

    def forward(self, query: Any, key: Any, value: Any, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None,
                average_attn_weights: bool = True, is_causal: bool = False
                ) -> tuple[Tensor, Tensor | None]:
        q, k, v = _tensor(query), _tensor(key), _tensor(value)
        E, H, d = self.embed_dim, self.num_heads, self.head_dim
        if not (q.ndim == k.ndim == v.ndim and q.ndim in (2, 3)) or q.shape[-1] != E \
                or k.shape[-1] != E or v.shape[-1] != E or k.shape[:-1] != v.shape[:-1]:
            layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
            raise ShapeError(f"MultiheadAttention(embed_dim={E}): query, key, value must be "
                             f"{layout} (or unbatched (L, E)) with E={E} and key, value "
                             f"of the same length; got {q.shape}, {k.shape}, {v.shape}")
        unbatched = q.ndim == 2
        if unbatched:
            q, k, v = q[None], k[None], v[None]
            if key_padding_mask is not None:
                key_padding_mask = _mask_array(key_padding_mask)[None]
        elif not self.batch_first:
            q, k, v = q.swapaxes(0, 1), k.swapaxes(0, 1), v.swapaxes(0, 1)
        n, L, S = q.shape[0], q.shape[1], k.shape[1]
        w, b = self.in_proj_weight, self.in_proj_bias

        def project(x: Tensor, i: int, length: int) -> Tensor:
            y = ops.matmul(x, w[i * E:(i + 1) * E].T)
            if b is not None:
                y = y + b[i * E:(i + 1) * E]
            return y.reshape((n, length, H, d)).swapaxes(1, 2)      # (N, H, len, d)

        qh, kh, vh = project(q, 0, L), project(k, 1, S), project(v, 2, S)
        mask = self._merged_mask(key_padding_mask, attn_mask, is_causal, n, L, S,
                                 q.data.dtype)
        scores = ops.matmul(qh, kh.swapaxes(-1, -2)) * (1.0 / math.sqrt(d))
        if mask is not None:
            scores = scores + mask
        attn = ops.softmax(scores, axis=-1)                          # (N, H, L, S)
        if self.dropout and self.training:
            attn = F.dropout(attn, self.dropout, True)
        out = ops.matmul(attn, vh).swapaxes(1, 2).reshape((n, L, E))
        out = self.out_proj(out)
        if unbatched:
            out = out[0]
        elif not self.batch_first:
            out = out.swapaxes(0, 1)
        weights = None
        if need_weights:
            weights = ops.mean(attn, axis=1) if average_attn_weights else attn
            if unbatched:
                weights = weights[0]
        return out, weights

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")
