"""DistributedOptimizer: any optimizer whose ``step()`` first averages the gradients."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from .._tensor import Tensor
from ..autograd import enable_grad
from ..optim import Optimizer
from .buckets import GradientBuckets
from .collectives import allreduce_gradients

__all__ = ["DistributedOptimizer"]


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
        loader = DataLoader(train, 64, sampler=dist.DistributedSampler(train, seed=0))
        Trainer(model, loss_fn, opt, loader,
                checkpoint_path="ck.npz" if dist.is_main() else None,
                callbacks=[EpochTable()] if dist.is_main() else []).fit(5)

    (Broadcast the parameters first. The Trainer's per-epoch metrics are then each
    rank's own; average them with :func:`allreduce_mean` if you report them.)

    ``overlap=True`` sends the gradients in buckets of about ``bucket_mb`` megabytes
    as backward produces them (:class:`~chainrule.distributed.buckets.GradientBuckets`)
    instead of all at once in ``step()``; the result is the same.
    """

    def __init__(self, optimizer: Optimizer, *, average: bool = True, comm: Any = None,
                 overlap: bool = False, bucket_mb: float = 1.0) -> None:
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
        self.__dict__["buckets"] = GradientBuckets(
            self.parameters(), bucket_mb, average, comm) if overlap else None

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
        if name in ("optimizer", "average", "comm", "buckets"):
            self.__dict__[name] = value
        else:
            setattr(self.optimizer, name, value)

    def parameters(self) -> list[Tensor]:
        """Every parameter the wrapped optimizer updates, in group order."""
        return [p for g in self.optimizer.param_groups for p in g["params"]]

    def synchronize(self) -> None:
        """Average (or sum) the gradients over the ranks now; :meth:`step` does it too.
        With ``overlap=True`` the buckets started during backward are waited for."""
        if self.buckets is not None:
            self.buckets.synchronize()
        else:
            allreduce_gradients(self.parameters(), average=self.average, comm=self.comm)

    def no_sync(self) -> Any:
        """With ``overlap=True``: a context in which backward passes only accumulate
        (for gradient accumulation over several passes); otherwise nothing to do."""
        return self.buckets.no_sync() if self.buckets is not None else \
            contextlib.nullcontext()

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
