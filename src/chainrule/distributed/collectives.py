"""Collective operations on tensors: broadcast, gradient allreduce, metrics, sync checks.

Every function here is collective: every rank of the communicator must call it, in the
same order. The ones that combine tensors first check cheaply (the "layout probe")
that every rank passed the same shapes and dtypes, and raise
:class:`~chainrule.errors.DistributedError` on every rank if not, so no rank is left
waiting. See ``docs/distributed.md``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .._tensor import Tensor, from_numpy
from ..autograd import no_grad
from ..errors import DistributedError, DtypeError, ShapeError
from .comm import _check_root, _import_mpi, get_comm
from .watchdog import collective

__all__ = [
    "allreduce_gradients",
    "allreduce_mean",
    "allreduce_sum",
    "broadcast_parameters",
    "check_synchronized",
]


def _allreduce_in_place(c: Any, buf: np.ndarray, op: str, where: str) -> None:
    """``MPI_Allreduce`` of ``buf`` in place with the MPI operation named ``op``, bounded
    by the watchdog."""
    mpi = _import_mpi()
    with collective(c, where):
        c.Allreduce(mpi.IN_PLACE, buf, op=getattr(mpi, op))


# ---------------------------------------------------------------------- collecting tensors
def _tensors_of(obj: Any, where: str, *, with_buffers: bool) -> list[tuple[str, Any]]:
    """``(name, Tensor or ndarray)`` pairs from a module, a tensor, or an iterable."""
    if isinstance(obj, (Tensor, np.ndarray)):
        items: list[tuple[str, Any]] = [("tensor 0", obj)]
    elif hasattr(obj, "named_parameters"):
        items = list(obj.named_parameters())
        if with_buffers and hasattr(obj, "named_buffers"):
            items += list(obj.named_buffers())
    elif isinstance(obj, Mapping):
        raise TypeError(f"{where}: expected a module or an iterable of tensors, got a "
                        f"{type(obj).__name__} (for a state dict, pass the module itself)")
    else:
        try:
            seq = list(obj)
        except TypeError:
            raise TypeError(f"{where}: expected a module or an iterable of tensors, got "
                            f"{type(obj).__name__}") from None
        items = []
        for i, t in enumerate(seq):
            if not isinstance(t, (Tensor, np.ndarray)):
                raise TypeError(f"{where}: item {i} is a {type(t).__name__}; expected "
                                f"Tensors (e.g. model.parameters()) or ndarrays")
            items.append((getattr(t, "name", None) or f"tensor {i}", t))
    seen: set[int] = set()
    out = []
    for name, t in items:
        if id(t) not in seen:
            seen.add(id(t))
            out.append((name, t))
    return out


def _layout_digest(entries: Iterable[tuple[tuple[int, ...], np.dtype]]) -> str:
    h = hashlib.sha256()
    for shape, dt in entries:
        h.update(repr((tuple(shape), np.dtype(dt).str)).encode())
    return h.hexdigest()


def _check_same_layout(c: Any, layout: list[tuple[str, tuple[int, ...], np.dtype]],
                       where: str) -> None:
    """Raise DistributedError on every rank unless all ranks have the same layout."""
    digest = _layout_digest((s, d) for _, s, d in layout)
    with collective(c, where):
        digests = c.allgather(digest)
    if len(set(digests)) == 1:
        return
    mine = c.Get_rank()
    same = [r for r, d in enumerate(digests) if d == digest]
    other = [r for r, d in enumerate(digests) if d != digest]
    preview = ", ".join(f"{n} {s} {np.dtype(d)}" for n, s, d in layout[:6])
    more = f", ... ({len(layout)} in all)" if len(layout) > 6 else ""
    raise DistributedError(
        f"{where}: the ranks hold different tensors (their number, shapes or dtypes "
        f"differ), so they cannot be combined. Rank {mine} has [{preview}{more}], as "
        f"do ranks {same}; ranks {other} have something else. Build the same model "
        f"(same layers, sizes and dtypes) on every rank.")


_DIGESTS: dict[tuple[Any, ...], int] = {}


def _agree_on_layout(c: Any, layout: list[tuple[str, tuple[int, ...], np.dtype]],
                     where: str, local_error: Exception | None = None) -> None:
    """Cheap per-call form of :func:`_check_same_layout`: one 3-integer ``MPI_Allreduce``.

    Each rank contributes ``(h, -h, e)`` for a 60-bit digest ``h`` of its shapes and
    dtypes and ``e = 1`` if it found a local problem (``local_error``), reduced with
    MAX: every rank learns ``(max h, -min h, any e)`` and so, identically on all ranks,
    whether to go on. Only then is the detailed (pickling) check run, by all, or the
    error raised, by all; no rank is left waiting in a collective the others skipped.
    """
    if c.Get_size() == 1:
        if local_error is not None:
            raise local_error
        return
    key = tuple((s, d.str) for _, s, d in layout)
    h = _DIGESTS.get(key)
    if h is None:
        h = int(_layout_digest((s, d) for _, s, d in layout)[:15], 16)
        _DIGESTS[key] = h
    probe = np.array([h, -h, local_error is not None], dtype=np.int64)
    _allreduce_in_place(c, probe, "MAX", where)
    if probe[0] != -probe[1]:
        _check_same_layout(c, layout, where)
    if local_error is not None:
        raise local_error
    if probe[2]:
        raise DistributedError(f"{where}: another rank found a bad gradient (it raised "
                               f"the details); nothing was exchanged")


def _group_by_dtype(layout: list[tuple[Any, tuple[int, ...], np.dtype]]
                    ) -> dict[np.dtype, list[int]]:
    groups: dict[np.dtype, list[int]] = {}
    for i, (_, _, dt) in enumerate(layout):
        groups.setdefault(np.dtype(dt), []).append(i)
    return groups


# One flat communication buffer per dtype, grown when needed and reused by every call.
_BUFFERS: dict[np.dtype, np.ndarray] = {}


def _flat_buffer(dt: np.dtype, n: int) -> np.ndarray:
    buf = _BUFFERS.get(dt)
    if buf is None or buf.size < n:
        buf = np.empty(max(n, 1), dtype=dt)
        _BUFFERS[dt] = buf
    return buf[:n]


# ---------------------------------------------------------------------- parameters
def broadcast_parameters(module_or_params: Any, root: int = 0, *, comm: Any = None) -> None:
    """Overwrite every rank's parameters (and buffers) with those of rank ``root``.

    Call it once after building the model, so that all ranks start from identical
    weights whatever their random generators did. ``module_or_params`` is a
    :class:`~chainrule.nn.Module` (its parameters *and* buffers, e.g. BatchNorm's
    running statistics, are sent) or an iterable of Tensors/ndarrays (overwritten in
    place). The tensors are packed into one contiguous buffer per dtype and sent with
    one ``MPI_Bcast`` each.

    Raises
    ------
    DistributedError
        If the ranks' tensors differ in number, shape or dtype (checked first, on
        every rank, so nobody is left waiting).
    """
    c = get_comm(comm)
    where = "broadcast_parameters"
    _check_root(root, c, where)
    items = _tensors_of(module_or_params, where, with_buffers=True)
    arrays = [t.data if isinstance(t, Tensor) else t for _, t in items]
    layout = [(name, a.shape, a.dtype) for (name, _), a in zip(items, arrays)]
    _check_same_layout(c, layout, where)
    if c.Get_size() == 1:
        return
    me = c.Get_rank()
    for dt, idx in _group_by_dtype(layout).items():
        sizes = [arrays[i].size for i in idx]
        buf = _flat_buffer(dt, sum(sizes))
        if me == root:
            off = 0
            for i, n in zip(idx, sizes):
                np.copyto(buf[off:off + n].reshape(arrays[i].shape), arrays[i])
                off += n
        with collective(c, "broadcast_parameters"):
            c.Bcast(buf, root=root)
        if me == root:
            continue
        off = 0
        with no_grad():
            for i, n in zip(idx, sizes):
                src = buf[off:off + n].reshape(arrays[i].shape)
                off += n
                t = items[i][1]
                if arrays[i].flags.writeable:
                    np.copyto(arrays[i], src)
                elif isinstance(t, Tensor):
                    t.data = src.copy()
                else:
                    raise ValueError(f"{where}: {items[i][0]} is a read-only ndarray and "
                                     f"cannot be overwritten in place")
                if isinstance(t, Tensor):
                    t.mark_modified()


def allreduce_gradients(params: Any, average: bool = True, *, comm: Any = None) -> None:
    """Sum (or average) the ``.grad`` of ``params`` over all ranks, in place of ``.grad``.

    ``params`` is an iterable of Tensors (``model.parameters()``) or a module. Call it
    after ``loss.backward()`` and before ``optimizer.step()``; with ``average=True``
    (default) each parameter ends with the mean of the ranks' gradients, which for
    per-rank mean losses over equal shards is the gradient of the global batch (see
    ``docs/distributed.md``).

    How: the gradients are packed into one contiguous buffer per dtype (a buffer kept
    between calls), reduced with a single in-place ``MPI_Allreduce`` per dtype, and
    unpacked into fresh arrays (so a gradient never aliases one from an earlier step).
    Each parameter's gradient is reduced in the parameter's dtype.

    Parameters without a gradient: only tensors with ``requires_grad`` take part. One
    that has no ``.grad`` on some ranks (a branch not taken there) counts as zeros
    there; if *no* rank has a gradient for it, it keeps ``.grad = None`` everywhere, as
    a one-process run on the global batch would. The buffer carries one counter per
    parameter for this, so no extra message is sent and no rank can be left waiting.

    Before the data is sent, one tiny ``MPI_Allreduce`` (three integers) checks that
    every rank has the same list of shapes and dtypes and that no rank has a gradient
    of the wrong shape or dtype; if not, every rank raises (:class:`DistributedError`
    saying which ranks differ, or the rank at fault its ``ShapeError``/``DtypeError``)
    instead of exchanging mismatched buffers or waiting forever.
    """
    c = get_comm(comm)
    where = "allreduce_gradients"
    items = [(n, t) for n, t in _tensors_of(params, where, with_buffers=False)
             if isinstance(t, Tensor) and t.requires_grad]
    layout = [(name, t.data.shape, t.data.dtype) for name, t in items]
    grads: list[np.ndarray | None] = []
    problem: Exception | None = None
    for name, p in items:
        g = p.grad
        ga = None if g is None else (g.data if isinstance(g, Tensor) else np.asarray(g))
        grads.append(ga)
        if ga is None or problem is not None:
            continue
        if ga.shape != p.data.shape:
            problem = ShapeError(f"{where}: the gradient of {name!r} has shape {ga.shape} "
                                 f"but the parameter has shape {p.data.shape}")
        elif not np.can_cast(ga.dtype, p.data.dtype, casting="same_kind"):
            problem = DtypeError(f"{where}: the gradient of {name!r} has dtype {ga.dtype}, "
                                 f"which cannot be cast to the parameter's {p.data.dtype}")
    _agree_on_layout(c, layout, where, problem)   # raises on every rank if anything is off
    size = c.Get_size()
    for dt, idx in _group_by_dtype(layout).items():
        sizes = [items[i][1].data.size for i in idx]
        total = sum(sizes)
        buf = _flat_buffer(dt, total + len(idx))     # gradients, then one counter each
        off = 0
        for j, (i, n) in enumerate(zip(idx, sizes)):
            view = buf[off:off + n]
            off += n
            ga = grads[i]
            if ga is None:
                view.fill(0)
                buf[total + j] = 0
            else:
                np.copyto(view.reshape(ga.shape), ga, casting="same_kind")
                buf[total + j] = 1
        if size > 1:
            _allreduce_in_place(c, buf, "SUM", "allreduce_gradients")
        if average and size > 1:
            np.divide(buf[:total], size, out=buf[:total])
        out = buf[:total].copy()
        counts = buf[total:]
        off = 0
        for j, (i, n) in enumerate(zip(idx, sizes)):
            p = items[i][1]
            if counts[j] > 0:
                p.grad = from_numpy(out[off:off + n].reshape(p.data.shape))
            off += n


def check_synchronized(module_or_params: Any, *, comm: Any = None) -> None:
    """Raise :class:`DistributedError` unless every rank holds bit-identical tensors.

    Compares a SHA-256 digest of each parameter (and buffer, for a module) across the
    ranks: cheap enough to call every few epochs as a safety net, and the way to find
    out *which* tensor drifted. Collective: every rank must call it.
    """
    c = get_comm(comm)
    where = "check_synchronized"
    items = _tensors_of(module_or_params, where, with_buffers=True)
    arrays = [np.ascontiguousarray(t.data if isinstance(t, Tensor) else t) for _, t in items]
    layout = [(name, a.shape, a.dtype) for (name, _), a in zip(items, arrays)]
    _check_same_layout(c, layout, where)
    digests = [hashlib.sha256(a.tobytes()).hexdigest() for a in arrays]
    with collective(c, where):
        everyone = c.allgather(digests)
    bad = [items[i][0] for i in range(len(items))
           if len({d[i] for d in everyone}) > 1]
    if bad:
        raise DistributedError(
            f"{where}: {len(bad)} of {len(items)} tensors differ between ranks: "
            f"{', '.join(bad[:8])}{' ...' if len(bad) > 8 else ''}; were the parameters "
            f"broadcast at the start and the gradients averaged before every step? "
            f"(BatchNorm running statistics differ by design; broadcast_parameters "
            f"makes them rank 0's)")


# ---------------------------------------------------------------------- metrics
def _reduce_values(value: Any, weight: Any, c: Any) -> tuple[np.ndarray, float, bool]:
    v = value.data if isinstance(value, Tensor) else value
    arr = np.asarray(v, dtype=np.float64)
    scalar = arr.ndim == 0
    w = 1.0 if weight is None else float(weight.data if isinstance(weight, Tensor)
                                         else weight)
    if not math.isfinite(w) or w < 0:
        raise ValueError(f"allreduce_mean: weight must be a finite number >= 0, got {weight!r}")
    flat = np.empty(arr.size + 1, dtype=np.float64)
    np.multiply(arr.reshape(-1), w, out=flat[:-1])
    flat[-1] = w
    if c.Get_size() > 1:
        _allreduce_in_place(c, flat, "SUM", "allreduce_mean/allreduce_sum")
    return flat[:-1].reshape(arr.shape), float(flat[-1]), scalar


def allreduce_sum(value: Any, *, comm: Any = None) -> Any:
    """The sum of ``value`` over all ranks (a float for a scalar, else a float64 array).

    ``value`` is a number, an array or a Tensor, with the same shape on every rank.
    Use it for counts (correct predictions, samples seen). Collective.
    """
    c = get_comm(comm)
    total, _, scalar = _reduce_values(value, None, c)
    return float(total) if scalar else total


def allreduce_mean(value: Any, weight: float | None = None, *, comm: Any = None) -> Any:
    """The mean of ``value`` over all ranks, for metrics (loss, accuracy).

    With ``weight`` (e.g. the number of samples each rank's value is the mean of) the
    result is the weighted mean ``sum(w_r * v_r) / sum(w_r)``; without, every rank
    counts equally, which is right for means over equal shards. Returns a float for a
    scalar, else a float64 array of ``value``'s shape. One ``MPI_Allreduce``. Collective.
    """
    c = get_comm(comm)
    total, wsum, scalar = _reduce_values(value, weight, c)
    if wsum == 0:
        raise ValueError("allreduce_mean: the weights sum to 0 over all ranks")
    mean = total / wsum
    return float(mean) if scalar else mean

