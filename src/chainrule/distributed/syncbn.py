"""Batch normalisation over the global batch: :class:`SyncBatchNorm`.

Under data parallelism each rank sees ``B/N`` samples, so a plain ``BatchNorm`` layer
normalises with per-rank statistics (noisier than one process's) and its running
statistics drift apart between ranks. ``SyncBatchNorm`` computes the mean and variance
over all ranks' samples together, so N ranks of batch ``B/N`` compute what one process
computes on batch ``B``, in training and in the running statistics.

It is the same composition of gates as ``F.batch_norm`` with one more gate,
:class:`AllreduceSum`: its forward sums an array over the ranks, and its backward sums
the upstream gradient over the ranks too (each rank's sum feeds every rank's output).
The statistics are two-pass (the global mean first, then the global mean of squared
deviations), as stable as one process's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from .._tensor import Tensor, wrap
from ..autograd import Array, Gate, Grads, apply1
from ..errors import ShapeError
from ..nn import BatchNorm1d, BatchNorm2d, Module
from .collectives import _allreduce_in_place
from .comm import get_comm

__all__ = ["AllreduceSum", "SyncBatchNorm", "allreduce_sum_tensor", "convert_sync_batchnorm"]


class AllreduceSum(Gate, register=False):
    """y = the sum of ``x`` over the ranks (every rank gets it).  Backward: the sum of
    the upstream gradients over the ranks (every rank's ``x`` reaches every ``y``).

    Not in the gate table (that runs in one process); ``tests/distributed`` checks it
    in one process and under ``mpiexec -n 2``."""

    symbol = "Σ ranks"
    function_name = "allreduce_sum"
    local_notation = ("Σ ranks",)
    saves_inputs = False
    saves_output = False
    differentiable = ()

    def __init__(self, comm: Any) -> None:
        self.comm = comm

    def forward(self, x: Array) -> Array:
        buf = np.array(x, dtype=np.result_type(x, np.float32), copy=True)
        if self.comm.Get_size() > 1:
            _allreduce_in_place(self.comm, buf.reshape(-1), "SUM", "SyncBatchNorm")
        return buf

    def backward(self, gy: Array) -> Grads:
        if isinstance(gy, Tensor):
            return allreduce_sum_tensor(gy, self.comm)
        return self.forward(gy)


def allreduce_sum_tensor(x: Any, comm: Any = None) -> Tensor:
    """The sum of ``x`` over the ranks, differentiable (see :class:`AllreduceSum`)."""
    t = x if isinstance(x, Tensor) else wrap(np.asarray(x))
    return apply1(AllreduceSum(get_comm(comm)), t)


class SyncBatchNorm(BatchNorm2d):
    """Batch normalisation with statistics over the global batch of all ranks, for
    ``(N, C)``, ``(N, C, L)``, ``(N, C, H, W)`` and ``(N, C, D, H, W)`` inputs, as
    ``torch.nn.SyncBatchNorm``. In training, the batch mean and variance are those of
    every rank's samples together (three small collectives per call, so every rank
    must call it the same number of times); in eval mode it uses the running
    statistics exactly as :class:`~chainrule.nn.BatchNorm2d`.
    """

    _ranks = (2, 3, 4, 5)
    _layout = "(N, {c}, ...)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 dtype: Any = np.float32, *, comm: Any = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype)
        self.comm = comm

    def forward(self, x: Any) -> Tensor:
        if not self.training:
            return super().forward(x)
        x = x if isinstance(x, Tensor) else wrap(np.asarray(x))
        c = self.num_features
        if x.ndim not in self._ranks or x.shape[1] != c:
            raise ShapeError(f"SyncBatchNorm({c}): expected input of shape (N, {c}, ...), "
                             f"got {x.shape}")
        comm = get_comm(self.comm)
        axes = (0, *range(2, x.ndim))
        shape = (c, *(1,) * (x.ndim - 2))
        local_n = x.size // c if c else 0
        counts = np.array([float(local_n)])
        if comm.Get_size() > 1:
            _allreduce_in_place(comm, counts, "SUM", "SyncBatchNorm")
        n = float(counts[0])
        if n <= 1:
            raise ShapeError(f"SyncBatchNorm({c}): training needs more than one value per "
                             f"channel over all ranks, got {int(n)}")
        mean = ops.reshape(allreduce_sum_tensor(ops.sum(x, axis=axes), comm) / n, shape)
        dev = x - mean
        var = ops.reshape(allreduce_sum_tensor(ops.sum(dev * dev, axis=axes), comm) / n,
                          shape)
        y = dev / ops.sqrt(var + self.eps)
        if self.track_running_stats:
            nbt = self.num_batches_tracked
            nbt.data += 1
            nbt.mark_modified()
            m = 1.0 / float(nbt.data) if self.momentum is None else float(self.momentum)
            for r, stat, scale in ((self.running_mean, mean, 1.0),
                                   (self.running_var, var, n / (n - 1))):
                r.data *= 1.0 - m
                r.data += (m * scale) * stat.data.reshape(c).astype(r.data.dtype)
                r.mark_modified()
        if self.weight is not None:
            y = y * ops.reshape(self.weight, shape) + ops.reshape(self.bias, shape)
        return y


def convert_sync_batchnorm(module: Module, comm: Any = None) -> Module:
    """``module`` with every ``BatchNorm1d``/``BatchNorm2d`` replaced by a
    :class:`SyncBatchNorm` holding the same parameters and running statistics (the
    tensors themselves, so an optimizer built before still updates them), as
    ``torch.nn.SyncBatchNorm.convert_sync_batchnorm``. Returns the module (or the new
    layer, if ``module`` is itself a batch-norm layer)."""
    if isinstance(module, (BatchNorm1d, BatchNorm2d)) and not isinstance(module, SyncBatchNorm):
        new = SyncBatchNorm.__new__(SyncBatchNorm)
        Module.__init__(new)
        for k, v in vars(module).items():
            object.__setattr__(new, k, v)
        new.comm = comm
        new.training = module.training
        return new
    for name, child in list(module.named_children()):
        setattr(module, name, convert_sync_batchnorm(child, comm))
    return module
