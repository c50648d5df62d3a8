"""Contractions: ``einsum``, and the products NumPy spells with it.

One gate, :class:`Einsum`, differentiates every Einstein sum NumPy accepts: the
gradient of operand *k* is itself an Einstein sum, of the upstream gradient with all
the other operands, written to operand *k*'s subscripts. Two details make that exact:

* a letter repeated within operand *k* (``"ii->i"``, a diagonal) gets the gradient
  only on the diagonal: the repeat is renamed and an identity matrix links the two;
* a letter only operand *k* carries (summed away in forward, ``"ij->i"``) gets the
  gradient copied along it: a vector of ones carries that letter.

Because the gradient is an ``einsum`` again, higher orders come for free.
``tensordot``, ``dot`` (NumPy's rules, which are not ``matmul``'s for N-D),
``inner``, ``outer``, ``vdot`` and ``kron`` are written as Einstein sums.
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._tensor import Tensor, plain
from ..autograd import Array, Gate, Grads, apply
from ..errors import ShapeError
from ._registry import export
from ._util import as_tensor
from .elementwise import astype
from .linalg import matmul

_LETTERS = string.ascii_letters


def _sublists(args: Sequence[Any]) -> tuple[str, list[Any]]:
    """NumPy's interleaved form ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` as a string."""
    def word(sub: Sequence[Any]) -> str:
        return "".join("..." if s is Ellipsis else _LETTERS[int(s)] for s in sub)
    operands = list(args[0::2])
    terms = [word(s) for s in args[1::2]]
    out = word(args[-1]) if len(args) % 2 else None
    if out is not None:
        operands = operands[:len(terms)]
    return ",".join(terms) + ("" if out is None else "->" + out), operands


def _normalize(subscripts: str, shapes: Sequence[tuple[int, ...]]) -> tuple[list[list[str]],
                                                                               list[str],
                                                                               dict[str, int]]:
    """Explicit letters for every axis of every operand and of the output.

    The ellipsis becomes letters of its own; an axis of length 1 broadcast against a
    longer one gets a fresh letter (it is summed over, which is what broadcasting
    means for its gradient). Returns (operand letters, output letters, sizes).
    """
    s = subscripts.replace(" ", "")
    ins, arrow, out = s.partition("->")
    terms = ins.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(terms)} operands, "
                         f"got {len(shapes)}")
    free = [c for c in _LETTERS if c not in s]
    n_ell = 0
    for t, shape in zip(terms, shapes):
        if "..." in t:
            n_ell = max(n_ell, len(shape) - len(t.replace("...", "")))
    ell = [free.pop(0) for _ in range(n_ell)]
    letters: list[list[str]] = []
    for t, shape in zip(terms, shapes):
        if "..." in t:
            a, b = t.split("...")
            k = len(shape) - len(a) - len(b)
            lt = [*a, *ell[n_ell - k:], *b]
        else:
            lt = list(t)
        letters.append(lt)
    if arrow:
        o_a, dots, o_b = out.partition("...")
        out_l = [*o_a, *(ell if dots else []), *o_b]
    else:
        counts = Counter(c for lt in letters for c in lt if c not in ell)
        out_l = ell + sorted(c for c, n in counts.items() if n == 1)
    size: dict[str, int] = {}
    for lt, shape in zip(letters, shapes):
        for c, n in zip(lt, shape):
            size[c] = n if size.get(c, 1) == 1 else size[c]
    for lt, shape in zip(letters, shapes):
        for j, (c, n) in enumerate(zip(lt, shape)):
            if n == 1 and size[c] != 1:
                lt[j] = free.pop(0)
                size[lt[j]] = 1
    return letters, out_l, size


class Einsum(Gate):
    """z = np.einsum(subscripts, *operands).  The gradient of each operand is an einsum
    of the upstream gradient with the other operands (see the module notes)."""

    symbol = "einsum"
    local_notation = ("Σ others",)
    differentiable = ()

    def __init__(self, subscripts: str, optimize: Any = False) -> None:
        self.subscripts = subscripts
        self.optimize = optimize

    def forward(self, *xs: Array) -> Array:
        self.xs = xs
        y = np.einsum(self.subscripts, *xs, optimize=self.optimize)   # NumPy's checks
        self.letters, self.out, self.size = _normalize(self.subscripts,
                                                       [np.shape(x) for x in xs])
        return y

    def regraph(self, inputs: tuple) -> dict:
        """Under create_graph the other operands enter each gradient as tensors."""
        return {"xs": tuple(t if isinstance(t, Tensor) and t.requires_grad else plain(t)
                            for t in inputs)}

    def backward(self, gz: Array) -> Grads:
        grads = []
        for k, need in enumerate(self.needs):
            grads.append(self._grad_of(k, gz) if need else None)
        return tuple(grads)

    def jvp(self, *ts: Array | None) -> Array | None:
        """Forward mode: einsum is linear in each operand, so dz is the sum over the
        operands of the same einsum with that operand replaced by its tangent."""
        y = None
        for k, t in enumerate(ts):
            if t is not None:
                ops = list(self.xs)
                ops[k] = t
                d = np.einsum(self.subscripts, *ops, optimize=self.optimize)
                y = d if y is None else y + d
        return y

    def _grad_of(self, k: int, gz: Array) -> Array:
        size = self.size
        terms = ["".join(self.out)]
        operands: list[Any] = [gz]
        for j, (lt, x) in enumerate(zip(self.letters, self.xs)):
            if j != k:
                terms.append("".join(lt))
                operands.append(x)
        dtype = np.result_type(plain(gz))
        spare = [c for c in _LETTERS if c not in size]
        target = []
        for c in self.letters[k]:
            if c in target:                      # a repeat: the diagonal, via eye
                fresh = spare.pop(0)
                terms.append(c + fresh)
                operands.append(np.eye(size[c], dtype=dtype))
                c = fresh
            target.append(c)
        present = set("".join(terms))
        for c in target:
            if c not in present:                 # summed in forward: copy back along it
                terms.append(c)
                operands.append(np.ones(size[c], dtype=dtype))
        expr = ",".join(terms) + "->" + "".join(target)
        # optimize=True lets NumPy contract pairs with BLAS (tensordot): the gradient of a
        # matmul-like sum costs a matmul, whatever the forward was asked to do.
        return np.einsum(expr, *operands, optimize=True)


@export(numpy=(np.einsum,))
def einsum(subscripts: Any, *operands: Any, optimize: Any = False, out: Any = None,
           dtype: Any = None, order: str = "K", casting: str = "safe") -> Tensor:
    """Einstein summation, exactly as ``np.einsum`` (string or interleaved form,
    ellipsis, implicit output, broadcasting), differentiable in every operand.

    ``optimize`` (False, True, "greedy", "optimal") is passed to NumPy; it pays for
    three or more operands.
    """
    if out is not None:
        raise TypeError("einsum: out= is not supported (a gate makes a new tensor); "
                        "assign the result instead")
    if not isinstance(subscripts, str):
        subscripts, ops = _sublists((subscripts, *operands))
    else:
        ops = list(operands)
    if dtype is not None:
        ops = [astype(as_tensor(o), dtype) for o in ops]
    return apply(Einsum(subscripts, optimize), *[as_tensor(o) for o in ops])


def _letters(n: int, start: int = 0) -> str:
    return _LETTERS[start:start + n]


@export(numpy=(np.tensordot,))
def tensordot(a: Any, b: Any, axes: Any = 2) -> Tensor:
    """Sum products over the given axes, as ``np.tensordot`` (``axes`` an int N: the
    last N axes of ``a`` with the first N of ``b``; or two sequences of axes)."""
    a, b = as_tensor(a), as_tensor(b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        ax_a, ax_b = list(range(a.ndim - n, a.ndim)), list(range(n))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, (int, np.integer)) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, (int, np.integer)) else list(ax_b)
    ax_a = [int(x) % max(a.ndim, 1) for x in ax_a]
    ax_b = [int(x) % max(b.ndim, 1) for x in ax_b]
    if len(ax_a) != len(ax_b) or any(a.shape[i] != b.shape[j] for i, j in zip(ax_a, ax_b)):
        raise ShapeError(f"tensordot: axes {ax_a} of shape {a.shape} do not match axes "
                         f"{ax_b} of shape {b.shape}")
    la = list(_letters(a.ndim))
    lb = list(_letters(b.ndim, a.ndim))
    for i, j in zip(ax_a, ax_b):
        lb[j] = la[i]
    out = [c for i, c in enumerate(la) if i not in ax_a] + \
          [c for j, c in enumerate(lb) if j not in ax_b]
    return einsum(f"{''.join(la)},{''.join(lb)}->{''.join(out)}", a, b, optimize=True)


@export(method=True, numpy=(np.dot,))
def dot(a: Any, b: Any) -> Tensor:
    """NumPy's ``dot``: a product for 0-d, the inner product of vectors, ``matmul`` for
    2-D, and for N-D the sum over the last axis of ``a`` and the second-to-last of
    ``b`` (``dot(a, b)[i,j,k,m] = sum(a[i,j,:] * b[k,:,m])``), which is *not* what
    ``matmul`` does with batches."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    k = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if a.shape[-1] != k:
        which = "only" if b.ndim == 1 else "second-to-last"
        raise ShapeError(f"dot: shapes {a.shape} and {b.shape} not aligned: {a.shape[-1]} "
                         f"(last axis of a) != {k} (the {which} axis of b)")
    if a.ndim <= 2 and b.ndim <= 2:
        return matmul(a, b)
    return tensordot(a, b, ([a.ndim - 1], [max(b.ndim - 2, 0)]))


@export(method=True, numpy=(np.inner,))
def inner(a: Any, b: Any) -> Tensor:
    """NumPy's ``inner``: sum over the last axes of both (a product for 0-d)."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.shape[-1] != b.shape[-1]:
        raise ShapeError(f"inner: last axes differ: shapes {a.shape} and {b.shape}")
    return tensordot(a, b, ([a.ndim - 1], [b.ndim - 1]))


@export(method=True, numpy=(np.outer,))
def outer(a: Any, b: Any) -> Tensor:
    """NumPy's ``outer``: ``a.ravel()[:, None] * b.ravel()[None, :]``."""
    return einsum("i,j->ij", as_tensor(a).reshape(-1), as_tensor(b).reshape(-1))


@export(numpy=(np.vdot,))
def vdot(a: Any, b: Any) -> Tensor:
    """NumPy's ``vdot`` for real inputs: the dot product of the flattened arrays."""
    a, b = as_tensor(a).reshape(-1), as_tensor(b).reshape(-1)
    if a.shape != b.shape:
        raise ShapeError(f"vdot: {a.shape[0]} and {b.shape[0]} elements do not match")
    return einsum("i,i->", a, b)


@export(numpy=(np.kron,))
def kron(a: Any, b: Any) -> Tensor:
    """NumPy's ``kron``: blocks ``a[i, j] * b``, over any number of axes."""
    a, b = as_tensor(a), as_tensor(b)
    nd = max(a.ndim, b.ndim)
    a = a.reshape((1,) * (nd - a.ndim) + a.shape)
    b = b.reshape((1,) * (nd - b.ndim) + b.shape)
    la, lb = _letters(nd), _letters(nd, nd)
    inter = "".join(x + y for x, y in zip(la, lb))
    z = einsum(f"{la},{lb}->{inter}", a, b)
    return z.reshape(tuple(m * n for m, n in zip(a.shape, b.shape)))


@export(numpy=(np.cross,))
def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: int | None = None) -> Tensor:
    """The cross product of 3-vectors along an axis (broadcast over the others), as
    ``np.cross``; written with the Levi-Civita symbol as one ``einsum``."""
    a, b = as_tensor(a), as_tensor(b)
    if axis is not None:
        axisa = axisb = axisc = axis
    a = np.moveaxis(a, axisa, -1)
    b = np.moveaxis(b, axisb, -1)
    if a.shape[-1] != 3 or b.shape[-1] != 3:
        raise ShapeError(f"cross: needs vectors of length 3 along the axis, got {a.shape[-1]} "
                         f"and {b.shape[-1]} (2-vectors are deprecated in NumPy 2)")
    eps = np.zeros((3, 3, 3))
    for i, j, k in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        eps[i, j, k], eps[i, k, j] = 1.0, -1.0
    c = einsum("ijk,...j,...k->...i", eps.astype(np.result_type(a.dtype, b.dtype)), a, b)
    return np.moveaxis(c, -1, axisc)
