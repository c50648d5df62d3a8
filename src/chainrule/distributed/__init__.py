"""Data-parallel training over MPI (mpi4py): one process per core or machine, one model each.

Each rank holds a full copy of the model, computes the gradient on its own shard of
every global batch, and the ranks average their gradients before each update, so the
copies stay identical::

    import chainrule.distributed as dist
    dist.init()
    dist.broadcast_parameters(model)                     # start identical
    opt = dist.DistributedOptimizer(cr.optim.SGD(model.parameters(), lr=0.1))
    loader = DataLoader(train, 32, sampler=dist.DistributedSampler(train, seed=0))

``import chainrule`` never imports mpi4py; this package imports it on first use. How it
works, the API, launching with ``mpiexec`` and how it is tested: ``docs/distributed.md``.

Modules: :mod:`.comm` (the world: init, rank, barrier, broadcast_object),
:mod:`.collectives` (broadcast_parameters, allreduce_*, check_synchronized),
:mod:`.sampler` (DistributedSampler), :mod:`.optimizer` (DistributedOptimizer),
:mod:`.syncbn` (SyncBatchNorm) and :mod:`.watchdog` (the bound on every collective).
"""

from .buckets import GradientBuckets
from .collectives import (
    allreduce_gradients,
    allreduce_mean,
    allreduce_sum,
    broadcast_parameters,
    check_synchronized,
)
from .comm import (
    DistributedError,
    MPIUnavailableError,
    barrier,
    broadcast_object,
    get_comm,
    init,
    is_initialized,
    is_main,
    rank,
    world_size,
)
from .optimizer import DistributedOptimizer
from .sampler import DistributedSampler
from .syncbn import SyncBatchNorm, allreduce_sum_tensor, convert_sync_batchnorm

__all__ = [
    "DistributedError",
    "DistributedOptimizer",
    "DistributedSampler",
    "GradientBuckets",
    "MPIUnavailableError",
    "SyncBatchNorm",
    "allreduce_gradients",
    "allreduce_mean",
    "allreduce_sum",
    "allreduce_sum_tensor",
    "barrier",
    "broadcast_object",
    "broadcast_parameters",
    "check_synchronized",
    "convert_sync_batchnorm",
    "get_comm",
    "init",
    "is_initialized",
    "is_main",
    "rank",
    "world_size",
]
