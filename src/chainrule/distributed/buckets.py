"""Gradient allreduce in buckets, started while backward is still running.

:func:`~chainrule.distributed.allreduce_gradients` sends all gradients after the whole
backward pass. :class:`GradientBuckets` instead groups the parameters, in reverse
order (backward produces the last layer's gradients first), into buckets of about
``bucket_mb`` megabytes, and registers a post-accumulate hook on each parameter
(``Tensor.register_post_accumulate_grad_hook``): when the last gradient of a bucket
is final, the bucket is packed and its ``MPI_Iallreduce`` (non-blocking) starts, while
backward goes on with the earlier layers. :meth:`GradientBuckets.synchronize` (called
by ``DistributedOptimizer.step`` with ``overlap=True``) starts what has not started,
waits for all (bounded by the watchdog) and writes the averaged gradients back.

Buckets always start in the same order on every rank (a bucket that completes early
waits for the ones before it), as MPI requires of non-blocking collectives. A
parameter with no gradient on a rank counts as zeros there, and keeps ``.grad = None``
if no rank has one, as :func:`allreduce_gradients` does. Accumulating gradients over
several backward passes before one step: wrap all but the last in
:meth:`GradientBuckets.no_sync` (a second pass otherwise raises, since its bucket has
already been sent).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from .._tensor import Tensor, from_numpy
from ..errors import DistributedError
from .collectives import _agree_on_layout, _tensors_of
from .comm import _import_mpi, get_comm
from .watchdog import collective

__all__ = ["GradientBuckets"]


class _Bucket:
    __slots__ = ("buf", "count", "params", "ready", "request", "sizes", "total")

    def __init__(self, params: list[Tensor]) -> None:
        self.params = params
        self.sizes = [p.data.size for p in params]
        self.total = sum(self.sizes)
        # the gradients, then one counter per parameter (1 where this rank has a grad)
        self.buf = np.empty(self.total + len(params), dtype=params[0].data.dtype)
        self.ready: set[int] = set()
        self.request: Any = None
        self.count = 0

    def pack(self) -> None:
        off = 0
        for j, (p, n) in enumerate(zip(self.params, self.sizes)):
            view = self.buf[off:off + n]
            g = p.grad
            if g is None:
                view.fill(0)
                self.buf[self.total + j] = 0
            else:
                ga = g.data if isinstance(g, Tensor) else np.asarray(g)
                np.copyto(view.reshape(ga.shape), ga, casting="same_kind")
                self.buf[self.total + j] = 1
            off += n


class GradientBuckets:
    """Overlapped, bucketed gradient allreduce for ``params`` (see the module notes).

    Every rank must build it with the same parameters (checked here, on every rank).
    """

    def __init__(self, params: Any, bucket_mb: float = 1.0, average: bool = True,
                 comm: Any = None) -> None:
        where = "GradientBuckets"
        if not bucket_mb > 0:
            raise ValueError(f"{where}: bucket_mb must be positive, got {bucket_mb!r}")
        self.comm = c = get_comm(comm)
        items = [t for _, t in _tensors_of(params, where, with_buffers=False)
                 if isinstance(t, Tensor) and t.requires_grad]
        _agree_on_layout(c, [(str(i), t.data.shape, t.data.dtype) for i, t in
                             enumerate(items)], where)
        self.average = bool(average)
        self.buckets: list[_Bucket] = []
        limit = bucket_mb * 2**20
        current: list[Tensor] = []
        for t in reversed(items):                 # backward meets the last layers first
            if current and (t.data.dtype != current[0].data.dtype or
                            sum(p.data.nbytes for p in current) + t.data.nbytes > limit):
                self.buckets.append(_Bucket(current))
                current = []
            current.append(t)
        if current:
            self.buckets.append(_Bucket(current))
        self._where: dict[int, tuple[int, int]] = {}
        self._handles = []
        for b, bucket in enumerate(self.buckets):
            for j, t in enumerate(bucket.params):
                self._where[id(t)] = (b, j)
                self._handles.append(t.register_post_accumulate_grad_hook(self._ready))
        self._next = 0
        self._paused = False

    # ------------------------------------------------------------------ during backward
    def _ready(self, t: Tensor) -> None:
        if self._paused:
            return
        b, j = self._where[id(t)]
        bucket = self.buckets[b]
        if bucket.request is not None or b < self._next:
            raise DistributedError(
                "GradientBuckets: a second backward pass before step() reached a bucket "
                "whose allreduce has already started; to accumulate gradients over "
                "several passes, run all but the last inside `with opt.no_sync():`")
        bucket.ready.add(j)
        while self._next < len(self.buckets) and \
                len(self.buckets[self._next].ready) == len(self.buckets[self._next].params):
            self._start(self.buckets[self._next])
        for started in self.buckets[:self._next]:      # let MPI progress the sends
            if started.request is not None:
                started.request.Test()

    def _start(self, bucket: _Bucket) -> None:
        bucket.pack()
        if self.comm.Get_size() > 1:
            mpi = _import_mpi()
            bucket.request = self.comm.Iallreduce(mpi.IN_PLACE, bucket.buf, op=mpi.SUM)
        else:
            bucket.request = _Done()
        self._next += 1

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes inside accumulate gradients locally; the next pass outside
        (or :meth:`synchronize`) sends the sum."""
        self._paused = True
        try:
            yield
        finally:
            self._paused = False

    # ------------------------------------------------------------------ at step()
    def synchronize(self) -> None:
        """Start the buckets not started yet, wait for all, write back the average."""
        while self._next < len(self.buckets):
            self._start(self.buckets[self._next])
        size = self.comm.Get_size()
        with collective(self.comm, "allreduce_gradients (overlapped buckets)"):
            for bucket in self.buckets:
                bucket.request.Wait()
        for bucket in self.buckets:
            buf, total = bucket.buf, bucket.total
            if self.average and size > 1:
                np.divide(buf[:total], size, out=buf[:total])
            out = buf[:total].copy()
            off = 0
            for j, (p, n) in enumerate(zip(bucket.params, bucket.sizes)):
                if buf[total + j] > 0:
                    p.grad = from_numpy(out[off:off + n].reshape(p.data.shape))
                off += n
            bucket.ready.clear()
            bucket.request = None
        self._next = 0

    def remove(self) -> None:
        """Unregister the hooks (the parameters go back to plain accumulation)."""
        for h in self._handles:
            h.remove()
        self._handles = []


class _Done:
    """The request of a world of one: nothing to wait for."""

    def Wait(self) -> None:  # mpi4py's name
        return None

    def Test(self) -> bool:
        return True
