"""Data-parallel training over MPI: one process per core or machine, one model each.

When one process is not enough, run the same script in ``P`` processes with
``mpiexec -n P python train.py``. Each process (a *rank*) holds a full copy of the
model, computes the gradient of the loss on *its own shard* of every global batch, and
before each update the ranks average their gradients, so every rank applies the same
update and the copies stay identical. Needs mpi4py and an MPI library
(``pip install "chainrule[mpi]"`` for mpi4py; ``pip install mpi4py mpich`` brings both).

Why averaging is exact
----------------------
Let a global batch of ``P * B`` samples be split into ``P`` shards of ``B`` samples and
let each rank's loss be the *mean* over its shard. Then

    grad (1 / PB) sum_{all i} l_i  =  (1 / P) sum_r [ grad (1 / B) sum_{i in shard r} l_i ]

because the gradient is linear: the average of the per-rank gradients of per-rank mean
losses *is* the gradient of the mean loss over the whole global batch. One step of
``P`` ranks with local batch ``B`` is therefore the same step (up to floating-point
summation order) as one process taking a batch of ``P * B``: same learning rate, same
optimizer, same result. This needs equal shards, which :class:`DistributedSampler`
guarantees (every rank gets the same number of samples per epoch and so runs the same
number of steps with the same batch sizes). Layers that couple the samples of a batch
(``BatchNorm1d`` statistics) see only the local shard, as in PyTorch's DDP, so their
running statistics (buffers, not learned) drift apart between ranks; call
:func:`broadcast_parameters` (which sends buffers too) before evaluating or saving to
give every rank rank 0's.

The recipe (five lines on top of a one-process script)
------------------------------------------------------
::

    import chainrule.distributed as dist
    dist.init()                                             # 1. join the world
    cr.manual_seed(0); model = build_model()
    dist.broadcast_parameters(model)                        # 2. start identical
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    loader = dist.DistributedDataLoader(train, 32, shuffle=True, seed=0)  # 3. shard
    for epoch in range(epochs):
        for x, y in loader:                                 # this rank's 32 samples
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)             # mean over the 32
            loss.backward()
            dist.allreduce_gradients(model.parameters())    # 4. average over the ranks
            opt.step()
        last = dist.allreduce_mean(loss.item())             # 5. metrics over all ranks
        if dist.is_main():
            print(epoch, last)                              # one printer
    if dist.is_main():
        cr.save(model.state_dict(), "model.npz")            # one writer

``32`` is the *local* batch: the global batch is ``32 * world_size()``. To reproduce a
one-process run with batch 64 on 2 ranks, use a local batch of 32 and the same
learning rate. :class:`DistributedOptimizer` folds step 4 into ``opt.step()``, which
makes :class:`chainrule.train.Trainer` data-parallel unchanged; :class:`DataParallel`
folds steps 2 and 4 into a model wrapper. ``examples/mpi_train.py`` is a complete
program; ``benchmarks/mpi_scaling.py`` measures what it gains.

What it does not do: the allreduce starts after the whole backward pass (no overlap
of communication with computation, no bucketing as in PyTorch's DDP), and gradients
travel at full precision. For a model of a few MiB of parameters on one machine the
allreduce takes well under a millisecond per step; what decides the speedup is
whether each rank's share of the batch is big enough to keep a core busy.

Randomness: weights may be initialised differently on each rank (broadcast fixes
them); the shuffling order comes from ``(seed, epoch)`` and is the same everywhere;
draws *during* training (dropout masks, augmentation) come from each rank's global
generator, so seed it per rank (``cr.manual_seed(seed + dist.rank())``) *after* the
broadcast, or every rank draws the same masks.

Failure: a rank that raises while the others wait in a collective operation would
leave them waiting forever. :func:`init` therefore installs an exception hook (when
there is more than one rank) that prints the traceback and aborts the whole job
(``MPI_Abort``); pass ``abort_on_exception=False`` to keep Python's default.

Every function takes an optional ``comm`` (an mpi4py intracommunicator) to work on a
subset of the processes; by default it uses the one :func:`init` chose
(``MPI.COMM_WORLD``). Calling any of them before :func:`init` initialises with the
defaults. Collective operations (everything except :func:`rank`, :func:`world_size`,
:func:`is_main`, :func:`is_initialized`, :func:`get_comm` and a loader or sampler given
an explicit rank) must be called by every rank of the communicator, in the same order,
or the job hangs; the functions that combine tensors first check (cheaply) that every
rank passed the same shapes and dtypes, and raise :class:`DistributedError` on every
rank if not.

A script started without ``mpiexec`` (``python train.py``) runs as a world of one
process (MPI's singleton mode): every collective is then a cheap no-op copy, and the
script trains exactly as a one-process script would.
"""

from __future__ import annotations

import hashlib
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from ._tensor import Tensor, from_numpy
from .autograd import enable_grad, no_grad
from .data import ArrayDataset, DataLoader
from .data.loader import EpochCursor
from .errors import DistributedError, DtypeError, MPIUnavailableError, ShapeError
from .optim.optimizer import Optimizer

__all__ = [
    "DataParallel",
    "DistributedDataLoader",
    "DistributedError",
    "DistributedOptimizer",
    "DistributedSampler",
    "MPIUnavailableError",
    "allreduce_gradients",
    "allreduce_mean",
    "allreduce_sum",
    "barrier",
    "broadcast_object",
    "broadcast_parameters",
    "check_synchronized",
    "get_comm",
    "init",
    "is_initialized",
    "is_main",
    "rank",
    "world_size",
]

INSTALL_HINT = ('pip install "chainrule[mpi]" (mpi4py; it needs an MPI library such as '
                'MPICH or Open MPI), or pip install mpi4py mpich (both as wheels)')


# ---------------------------------------------------------------------- the world
_MPI: Any = None          # the mpi4py.MPI module, once imported
_COMM: Any = None         # the communicator init() chose
_HOOK_INSTALLED = False


def _import_mpi() -> Any:
    global _MPI
    if _MPI is not None:
        return _MPI
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise MPIUnavailableError(
            f"chainrule.distributed needs mpi4py, which cannot be imported ({e}); "
            f"install it with {INSTALL_HINT}") from e
    except (RuntimeError, OSError) as e:  # mpi4py present, the MPI library is not
        raise MPIUnavailableError(
            f"chainrule.distributed: mpi4py is installed but its MPI library failed to "
            f"load ({e}); install one with {INSTALL_HINT}") from e
    _MPI = MPI
    return MPI


def _install_abort_hook() -> None:
    """On an uncaught exception: print it as usual, then abort every rank."""
    global _HOOK_INSTALLED
    if _HOOK_INSTALLED:
        return
    previous = sys.excepthook
    mpi = _MPI

    def hook(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
        previous(exc_type, exc, tb)
        try:
            r = mpi.COMM_WORLD.Get_rank()
            sys.stderr.write(f"chainrule.distributed: uncaught {exc_type.__name__} on rank "
                             f"{r}; aborting all ranks (MPI_Abort) so none waits forever\n")
            sys.stderr.flush()
        finally:
            mpi.COMM_WORLD.Abort(1)

    sys.excepthook = hook
    _HOOK_INSTALLED = True


def init(comm: Any = None, *, abort_on_exception: bool = True) -> Any:
    """Join the MPI world (idempotent) and return the communicator in use.

    Parameters
    ----------
    comm:
        An mpi4py intracommunicator to use from now on (default ``MPI.COMM_WORLD``). A
        later ``init()`` without ``comm`` keeps the current one.
    abort_on_exception:
        If the job has more than one rank, make an uncaught exception abort every rank
        (after printing the traceback) instead of leaving the others blocked.

    Without ``mpiexec`` the process is a world of one (rank 0 of 1).

    Raises
    ------
    MPIUnavailableError
        mpi4py or its MPI library is missing; the message says what to install.
    """
    global _COMM
    mpi = _import_mpi()
    if comm is None:
        comm = _COMM if _COMM is not None else mpi.COMM_WORLD
    elif not isinstance(comm, mpi.Intracomm):
        raise TypeError(f"distributed.init: comm must be an mpi4py intracommunicator "
                        f"(e.g. MPI.COMM_WORLD or one made by comm.Split), not "
                        f"{type(comm).__name__}")
    if comm == mpi.COMM_NULL:
        raise ValueError("distributed.init: comm is MPI.COMM_NULL (this process is not in "
                         "the group); only ranks that belong to comm may call init(comm)")
    _COMM = comm
    if abort_on_exception and mpi.COMM_WORLD.Get_size() > 1:
        _install_abort_hook()
    return comm


def is_initialized() -> bool:
    """Whether :func:`init` has run in this process."""
    return _COMM is not None


def get_comm(comm: Any = None) -> Any:
    """``comm`` if given, else the communicator of :func:`init` (initialising if needed)."""
    if comm is None:
        return _COMM if _COMM is not None else init()
    mpi = _import_mpi()
    if not isinstance(comm, mpi.Intracomm):
        raise TypeError(f"chainrule.distributed: comm must be an mpi4py intracommunicator "
                        f"(e.g. MPI.COMM_WORLD), not {type(comm).__name__}")
    return comm


def rank(comm: Any = None) -> int:
    """This process's rank: 0 .. ``world_size() - 1``."""
    return int(get_comm(comm).Get_rank())


def world_size(comm: Any = None) -> int:
    """The number of processes taking part."""
    return int(get_comm(comm).Get_size())


def is_main(comm: Any = None) -> bool:
    """True on rank 0: the rank that should print, write checkpoints and plots."""
    return rank(comm) == 0


def barrier(comm: Any = None) -> None:
    """Wait until every rank has reached this call."""
    get_comm(comm).Barrier()


def broadcast_object(obj: Any, root: int = 0, *, comm: Any = None) -> Any:
    """Send a picklable Python object from ``root`` to every rank; return it everywhere.

    For small things (a seed, a config dict, a file name). Arrays of parameters go
    through :func:`broadcast_parameters`, which sends raw buffers without pickling.
    """
    c = get_comm(comm)
    _check_root(root, c, "broadcast_object")
    return c.bcast(obj, root=root)


def _check_root(root: int, c: Any, where: str) -> None:
    n = c.Get_size()
    if isinstance(root, bool) or not isinstance(root, (int, np.integer)) or not 0 <= root < n:
        raise ValueError(f"{where}: root must be a rank in 0..{n - 1}, got {root!r}")


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
    c.Allreduce(_MPI.IN_PLACE, probe, op=_MPI.MAX)
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
    per-rank mean losses over equal shards is the gradient of the global batch (see the
    module documentation).

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
            c.Allreduce(_MPI.IN_PLACE, buf, op=_MPI.SUM)
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
        c.Allreduce(_MPI.IN_PLACE, flat, op=_MPI.SUM)
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


# ---------------------------------------------------------------------- data
class DistributedSampler:
    """Which samples each rank visits in each epoch: a disjoint shard of one permutation.

    Every rank computes the same order of the whole dataset from ``(seed, epoch)``
    (exactly the order ``DataLoader(dataset, shuffle=shuffle, seed=seed).indices(epoch)``
    gives) and takes every ``world_size``-th sample of it, starting at its rank. So
    when ``num_samples`` is a multiple of ``world_size``, rank ``r``'s ``i``-th batch
    of ``B`` samples and the other ranks' ``i``-th batches together are exactly batch
    ``i`` of a one-process DataLoader with batch size ``world_size * B``:
    data-parallel training sees the same global batches. (Otherwise the padding or
    cutting below changes the last ones.)

    Equal shards: when ``num_samples`` is not a multiple of ``world_size``,

    * ``pad=True`` (default) appends the first ``world_size - num_samples % world_size``
      samples of the order again, so every sample is seen each epoch and a few twice;
    * ``pad=False`` drops the last ``num_samples % world_size`` samples of the order
      (different ones each epoch when shuffling).

    Either way every rank gets ``len(sampler)`` samples, hence the same number of steps.

    Parameters
    ----------
    num_samples:
        The dataset's length (the same on every rank).
    shuffle, seed:
        As in :class:`~chainrule.data.DataLoader`. The seed must be the same on every
        rank (:class:`DistributedDataLoader` checks this).
    pad:
        Pad (default) or drop to make the shards equal; see above.
    rank, world_size:
        Default: this process's rank and the world size (from :func:`init`). Give both
        to compute another rank's shard, without MPI.
    """

    def __init__(self, num_samples: int, *, shuffle: bool = True, seed: int = 0,
                 pad: bool = True, rank: int | None = None,
                 world_size: int | None = None) -> None:
        if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) \
                or num_samples < 1:
            raise ValueError(f"DistributedSampler: num_samples must be a positive int, got "
                             f"{num_samples!r}")
        if (rank is None) != (world_size is None):
            raise ValueError("DistributedSampler: give both rank and world_size, or neither "
                             "(then they come from the MPI world)")
        if rank is None or world_size is None:
            c = get_comm()
            rank, world_size = c.Get_rank(), c.Get_size()
        if isinstance(world_size, bool) or not isinstance(world_size, (int, np.integer)) \
                or world_size < 1:
            raise ValueError(f"DistributedSampler: world_size must be a positive int, got "
                             f"{world_size!r}")
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) \
                or not 0 <= rank < world_size:
            raise ValueError(f"DistributedSampler: rank must be in 0..{world_size - 1}, "
                             f"got {rank!r}")
        n, w = int(num_samples), int(world_size)
        if not pad and n < w:
            raise ValueError(f"DistributedSampler: {n} samples cannot be split over {w} "
                             f"ranks without padding; use pad=True or fewer ranks")
        self.dataset_size = n
        self.rank = int(rank)
        self.world_size = w
        self.shuffle = bool(shuffle)
        self.pad = bool(pad)
        # The permutation is DataLoader's own (a pure function of seed and epoch), so a
        # one-process DataLoader and the ranks agree on the order by construction.
        self._order = DataLoader(range(n), batch_size=1, shuffle=self.shuffle,
                                 seed=seed, tensors=False)
        self.seed = self._order.seed
        self.total_size = -(-n // w) * w if self.pad else (n // w) * w

    def __len__(self) -> int:
        """Samples per rank and epoch."""
        return self.total_size // self.world_size

    def global_order(self, epoch: int) -> np.ndarray:
        """The padded (or cut) order of the whole dataset in ``epoch``, before sharding."""
        order = self._order.indices(epoch)
        if self.total_size <= order.size:
            return order[:self.total_size]
        return np.resize(order, self.total_size)  # repeats the order from its start

    def indices(self, epoch: int) -> np.ndarray:
        """This rank's sample indices in ``epoch``, in the order they are visited."""
        return self.global_order(epoch)[self.rank::self.world_size]

    def __repr__(self) -> str:
        return (f"DistributedSampler({self.dataset_size} samples, rank {self.rank} of "
                f"{self.world_size}, {len(self)} per rank, shuffle={self.shuffle}, "
                f"seed={self.seed}, pad={self.pad})")


class DistributedDataLoader(EpochCursor):
    """A :class:`~chainrule.data.DataLoader` that yields only this rank's shard.

    Same arguments, iteration and state as ``DataLoader`` (``for x, y in loader`` is one
    epoch; ``set_epoch``, ``state_dict``/``load_state_dict`` for exact resuming, so it
    also works inside :class:`chainrule.train.Trainer`), plus the sharding of
    :class:`DistributedSampler`: ``batch_size`` is the *local* batch, every rank runs
    ``len(loader)`` steps per epoch with equal batch sizes, and the ranks' ``i``-th
    batches together form batch ``i`` of a one-process loader with batch size
    ``batch_size * world_size`` and the same seed.

    Parameters
    ----------
    dataset:
        The whole dataset, the same on every rank (each rank reads only its shard).
    batch_size, shuffle, drop_last, tensors:
        As in ``DataLoader`` (``drop_last`` drops an incomplete *last batch*; it is the
        same size on all ranks, so dropping it or not keeps the ranks in step).
    seed:
        The shuffling seed, the same on every rank. ``None``: rank 0 draws one from its
        global generator and sends it to the others.
    pad:
        Make the shards equal by repeating samples (default) or by dropping some; see
        :class:`DistributedSampler`.
    rank, world_size:
        Override the MPI world (both or neither), e.g. to see another rank's batches.
        Then nothing is communicated and ``seed`` must be given when shuffling.
    comm:
        The communicator (default: that of :func:`init`).

    Unless ``rank``/``world_size`` are given, the constructor is a collective call: it
    checks that every rank has the same dataset length, batch size and seed and raises
    :class:`DistributedError` otherwise.
    """

    def __init__(self, dataset: Any, batch_size: int = 64, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = None, *, pad: bool = True,
                 rank: int | None = None, world_size: int | None = None, comm: Any = None,
                 tensors: bool = True) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"DistributedDataLoader: batch_size must be a positive int, "
                             f"got {batch_size!r}")
        if (rank is None) != (world_size is None):
            raise ValueError("DistributedDataLoader: give both rank and world_size, or "
                             "neither (then they come from the MPI world)")
        n = len(dataset)
        if rank is None:
            c = get_comm(comm)
            if seed is None:
                seed = c.bcast(_draw_seed() if c.Get_rank() == 0 else None, root=0)
            mine = (int(n), int(batch_size), bool(shuffle), int(seed) if shuffle else None,
                    bool(pad), bool(drop_last))
            everyone = c.allgather(mine)
            if any(e != mine for e in everyone):
                rows = "; ".join(f"rank {r}: {e}" for r, e in enumerate(everyone))
                raise DistributedError(
                    f"DistributedDataLoader: the ranks disagree on (dataset length, "
                    f"batch_size, shuffle, seed, pad, drop_last): {rows}; every rank must "
                    f"build the loader over the same dataset with the same arguments")
            rank, world_size = c.Get_rank(), c.Get_size()
        elif seed is None:
            if shuffle:
                raise ValueError("DistributedDataLoader: with explicit rank/world_size, "
                                 "pass seed= (it must be the same for every rank)")
            seed = 0
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.tensors = tensors
        self.sampler = DistributedSampler(n, shuffle=shuffle, seed=int(seed), pad=pad,
                                          rank=rank, world_size=world_size)
        self._next_epoch = 0
        self._skip = 0
        self._active: tuple[int, int] | None = None

    # ------------------------------------------------------------------ sizes
    @property
    def seed(self) -> int:
        """The shuffling seed (the same on every rank)."""
        return self.sampler.seed

    @property
    def rank(self) -> int:
        """The rank whose shard this loader yields."""
        return self.sampler.rank

    @property
    def world_size(self) -> int:
        """The number of ranks the data is split over."""
        return self.sampler.world_size

    @property
    def pad(self) -> bool:
        """Whether the shards are evened out by padding (else by dropping)."""
        return self.sampler.pad

    @property
    def num_samples(self) -> int:
        """Samples this rank visits per epoch (the same on every rank)."""
        return len(self.sampler)

    @property
    def global_batch_size(self) -> int:
        """``batch_size * world_size``: the samples one step processes over all ranks."""
        return self.batch_size * self.world_size

    def __len__(self) -> int:
        """Batches (steps) per epoch, the same on every rank."""
        n, b = self.num_samples, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    # ------------------------------------------------------------------ order
    def indices(self, epoch: int) -> np.ndarray:
        """This rank's sample indices in ``epoch``, in order."""
        return self.sampler.indices(epoch)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Where the loader is (plain values): seed, epoch, batch, batching and sharding."""
        epoch, batch = self._active if self._active is not None else (self._next_epoch,
                                                                        self._skip)
        return {"seed": self.seed, "epoch": epoch, "batch": batch,
                "batch_size": self.batch_size, "shuffle": self.shuffle,
                "drop_last": self.drop_last, "dataset_size": self.sampler.dataset_size,
                "num_samples": self.num_samples, "world_size": self.world_size,
                "pad": self.pad}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume from :meth:`state_dict` (any rank's: the rank is not part of it).

        A checkpoint written by rank 0 resumes every rank. Raises ``ValueError`` if the
        dataset or batching differs, or if the state is from the middle of an epoch run
        with a different number of ranks (its batches would not line up).
        """
        for key, mine in (("dataset_size", self.sampler.dataset_size),
                          ("batch_size", self.batch_size), ("shuffle", self.shuffle),
                          ("drop_last", self.drop_last), ("pad", self.pad)):
            if key in state and state[key] != mine:
                raise ValueError(f"DistributedDataLoader.load_state_dict: saved {key}="
                                 f"{state[key]!r} but this loader has {mine!r}; the batches "
                                 f"would not match the saved run")
        try:
            seed, epoch, batch = int(state["seed"]), int(state["epoch"]), int(state["batch"])
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"DistributedDataLoader.load_state_dict: bad state "
                             f"{dict(state)!r}") from e
        if batch and state.get("world_size") != self.world_size:
            raise ValueError(f"DistributedDataLoader.load_state_dict: the state is from the "
                             f"middle of an epoch run on {state.get('world_size', 1)} "
                             f"rank(s), and this run has {self.world_size}; resume with "
                             f"the same number of ranks, or from an end-of-epoch state")
        if seed < 0 or epoch < 0 or not 0 <= batch <= len(self):
            raise ValueError(f"DistributedDataLoader.load_state_dict: out-of-range state "
                             f"{dict(state)!r}")
        if seed != self.seed:
            self.sampler = DistributedSampler(self.sampler.dataset_size, shuffle=self.shuffle,
                                              seed=seed, pad=self.pad, rank=self.rank,
                                              world_size=self.world_size)
        self._next_epoch = epoch
        self._skip = batch
        self._active = None

    # ------------------------------------------------------------------ iteration
    def _batch(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        """``(x, y, fresh)``; ``fresh`` says the arrays are new (safe to wrap)."""
        get_batch = getattr(self.dataset, "get_batch", None)
        if get_batch is not None:
            xb, yb = get_batch(idx)
            return np.asarray(xb), np.asarray(yb), isinstance(self.dataset, ArrayDataset)
        pairs = [self.dataset[i] for i in idx.tolist()]
        xs = np.stack([np.asarray(getattr(x, "data", x)) for x, _ in pairs])
        ys = np.stack([np.asarray(getattr(y, "data", y)) for _, y in pairs])
        return xs, ys, True

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        """One epoch of this rank's batches ``(x, y)``."""
        epoch, start = self._next_epoch, self._skip
        self._next_epoch, self._skip = epoch + 1, 0
        return self._run(epoch, start)

    def _run(self, epoch: int, start: int) -> Iterator[tuple[Any, Any]]:
        order = self.indices(epoch)
        b = self.batch_size
        self._active = (epoch, start)
        try:
            for i in range(start, len(self)):
                xb, yb, fresh = self._batch(order[i * b:(i + 1) * b])
                self._active = (epoch, i + 1)
                if not self.tensors:
                    yield xb, yb
                elif fresh:
                    yield from_numpy(xb), from_numpy(yb)
                else:
                    yield Tensor(xb), Tensor(yb)
        finally:
            self._active = None

    def __repr__(self) -> str:
        name = getattr(self.dataset, "description", None) or type(self.dataset).__name__
        return (f"DistributedDataLoader({name}; rank {self.rank} of {self.world_size}, "
                f"{self.num_samples} of {self.sampler.dataset_size} samples per epoch, "
                f"batch_size={self.batch_size} (global {self.global_batch_size}), "
                f"{len(self)} batches, shuffle={self.shuffle}, drop_last={self.drop_last}, "
                f"pad={self.pad}, seed={self.seed}, epoch={self.epoch})")


def _draw_seed() -> int:
    from .random import get_rng
    return int(get_rng().integers(0, 2**63))


# ---------------------------------------------------------------------- wrappers
class DistributedOptimizer(Optimizer):
    """An optimizer whose ``step()`` first averages the gradients over all ranks.

    Wraps any :mod:`chainrule.optim` optimizer: ``step()`` calls
    :func:`allreduce_gradients` on the optimizer's parameters, then the wrapped step.
    Everything else (``zero_grad``, ``param_groups``, ``state_dict``,
    ``load_state_dict``, hyperparameters) is the wrapped optimizer's, shared, so
    learning-rate schedules can be built on either object and a checkpoint of one
    loads into the other. With it, :class:`chainrule.train.Trainer` trains
    data-parallel unchanged::

        opt = dist.DistributedOptimizer(cr.optim.Adam(model.parameters()))
        loader = dist.DistributedDataLoader(train, 64, shuffle=True, seed=0)
        Trainer(model, loss_fn, opt, loader,
                checkpoint_path="ck.npz" if dist.is_main() else None,
                callbacks=[EpochTable()] if dist.is_main() else []).fit(5)

    (Broadcast the parameters first. The Trainer's per-epoch metrics are then each
    rank's own; average them with :func:`allreduce_mean` if you report them.)
    """

    def __init__(self, optimizer: Optimizer, *, average: bool = True, comm: Any = None
                 ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"DistributedOptimizer: expected a chainrule.optim optimizer, "
                            f"got {type(optimizer).__name__}")
        if isinstance(optimizer, DistributedOptimizer):
            raise TypeError("DistributedOptimizer: the optimizer is already distributed "
                            "(wrapping twice would average twice per step)")
        # Deliberately no super().__init__: all state lives in the wrapped optimizer.
        self.__dict__["optimizer"] = optimizer
        self.__dict__["average"] = bool(average)
        self.__dict__["comm"] = comm

    # shared state: these are the wrapped optimizer's own objects
    @property
    def param_groups(self) -> list[dict[str, Any]]:  # type: ignore[override]
        """The wrapped optimizer's parameter groups (the same list)."""
        return self.optimizer.param_groups

    @property
    def state(self) -> dict[Tensor, dict[str, Any]]:  # type: ignore[override]
        """The wrapped optimizer's per-parameter state."""
        return self.optimizer.state

    @property
    def defaults(self) -> dict[str, Any]:  # type: ignore[override]
        """The wrapped optimizer's default hyperparameters."""
        return self.optimizer.defaults

    def __getattr__(self, name: str) -> Any:
        if name == "optimizer":
            raise AttributeError(name)
        return getattr(self.optimizer, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("optimizer", "average", "comm"):
            self.__dict__[name] = value
        else:
            setattr(self.optimizer, name, value)

    def parameters(self) -> list[Tensor]:
        """Every parameter the wrapped optimizer updates, in group order."""
        return [p for g in self.optimizer.param_groups for p in g["params"]]

    def synchronize(self) -> None:
        """Average (or sum) the gradients over the ranks now; :meth:`step` does it too."""
        allreduce_gradients(self.parameters(), average=self.average, comm=self.comm)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Run ``closure`` (if given), average the gradients over the ranks, update."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self.synchronize()
        self.optimizer.step()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """The wrapped optimizer's ``zero_grad``."""
        self.optimizer.zero_grad(set_to_none)

    def add_param_group(self, param_group: Mapping[str, Any]) -> None:
        """Add a group to the wrapped optimizer (every rank must add the same group)."""
        self.optimizer.add_param_group(param_group)

    def state_dict(self) -> dict[str, Any]:
        """The wrapped optimizer's state dict (loads into an undistributed one too)."""
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the wrapped optimizer's state (e.g. from rank 0's checkpoint)."""
        self.optimizer.load_state_dict(state_dict)

    def __repr__(self) -> str:
        return f"DistributedOptimizer({self.optimizer!r})"


class DataParallel:
    """A model wrapper for data-parallel training: same weights everywhere, averaged grads.

    ``DataParallel(model)`` broadcasts the model's parameters and buffers from ``root``
    (a collective call: every rank must make it), then behaves as ``model``: calling it
    runs ``model``, and every other attribute (``parameters``, ``state_dict``,
    ``load_state_dict``, ``train``, ``eval``...) is the model's, so checkpoints have
    the model's own keys (no ``module.`` prefix). Call :meth:`allreduce_gradients`
    between ``loss.backward()`` and ``optimizer.step()``::

        model = dist.DataParallel(build_model())
        opt = cr.optim.SGD(model.parameters(), lr=0.1)
        ...
        loss.backward()
        model.allreduce_gradients()
        opt.step()

    To accumulate gradients over several micro-batches, run their backward passes and
    call :meth:`allreduce_gradients` once before the step.
    """

    def __init__(self, module: Any, *, root: int = 0, average: bool = True,
                 comm: Any = None) -> None:
        if not callable(module) or not hasattr(module, "parameters"):
            raise TypeError(f"DataParallel: expected a chainrule.nn.Module, got "
                            f"{type(module).__name__}")
        self.__dict__.update(module=module, average=bool(average), comm=comm)
        broadcast_parameters(module, root=root, comm=comm)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name == "module":
            raise AttributeError(name)
        return getattr(self.module, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("module", "average", "comm"):
            self.__dict__[name] = value
        else:
            setattr(self.module, name, value)

    def allreduce_gradients(self) -> None:
        """Average (sum if ``average=False``) the parameters' gradients over the ranks."""
        allreduce_gradients(self.module.parameters(), average=self.average, comm=self.comm)

    def check_synchronized(self) -> None:
        """Raise :class:`DistributedError` unless all ranks hold identical weights."""
        check_synchronized(self.module, comm=self.comm)

    def __repr__(self) -> str:
        return f"DataParallel({self.module!r})"
