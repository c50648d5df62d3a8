"""Learning-rate schedules: change each parameter group's ``lr`` as training goes on.

Call ``scheduler.step()`` once per epoch (or per iteration, if the schedule is counted
in iterations), after ``optimizer.step()``::

    opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = cr.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=20)
    for epoch in range(20):
        train_one_epoch(model, opt)
        sched.step()

Each schedule is a closed-form function of the epoch counter ``last_epoch`` and of each
group's starting rate (``initial_lr``, recorded in the group when the scheduler is
created), so ``state_dict``/``load_state_dict`` restore it exactly. Values agree with
PyTorch's schedulers of the same name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .._check import is_int
from .optimizer import Optimizer, _check_number

__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRScheduler", "StepLR"]


class LRScheduler:
    """Base class: keeps ``last_epoch`` and sets each group's ``lr`` to :meth:`get_lr`.

    Creating a scheduler performs its first ``step`` (epoch 0), which sets every group's
    rate to the schedule's starting value. ``last_epoch=-1`` starts a new schedule; to
    resume one, prefer ``load_state_dict``.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected a chainrule optimizer, got "
                            f"{type(optimizer).__name__}")
        if not is_int(last_epoch) or last_epoch < -1:
            raise ValueError(f"{type(self).__name__}: last_epoch must be an int >= -1, got "
                             f"{last_epoch!r}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for g in optimizer.param_groups:
                g.setdefault("initial_lr", g["lr"])
        else:
            for i, g in enumerate(optimizer.param_groups):
                if "initial_lr" not in g:
                    raise KeyError(f"{type(self).__name__}: resuming at last_epoch="
                                   f"{last_epoch} needs 'initial_lr' in parameter group {i}; "
                                   f"it is set when a scheduler starts with last_epoch=-1")
        self.base_lrs: list[float] = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._last_lr: list[float] = [g["lr"] for g in optimizer.param_groups]
        self.step()

    def get_lr(self) -> list[float]:
        """The learning rate of each group at epoch ``last_epoch``."""
        raise NotImplementedError(f"{type(self).__name__} does not define get_lr")

    def step(self) -> None:
        """Advance one epoch and set the groups' learning rates."""
        self.last_epoch += 1
        lrs = [float(v) for v in self.get_lr()]
        for g, lr in zip(self.optimizer.param_groups, lrs):
            g["lr"] = lr
        self._last_lr = lrs

    def get_last_lr(self) -> list[float]:
        """The learning rates the last ``step`` set, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer: plain numbers and lists (``cr.save`` stores it)."""
        return {k: (list(v) if isinstance(v, list) else v)
                for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned; the groups' ``lr`` follow."""
        mine = self.state_dict()
        unknown = sorted(set(state_dict) - set(mine))
        if unknown:
            raise ValueError(f"{type(self).__name__}.load_state_dict: unexpected keys "
                             f"{unknown}; was this saved from another kind of scheduler?")
        for k, v in state_dict.items():
            if isinstance(v, tuple):
                v = list(v)
            if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
                v = v.item()
            self.__dict__[k] = v
        if len(self.base_lrs) != len(self.optimizer.param_groups):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the saved schedule has "
                             f"{len(self.base_lrs)} groups, the optimizer has "
                             f"{len(self.optimizer.param_groups)}")
        for g, lr, base in zip(self.optimizer.param_groups, self._last_lr, self.base_lrs):
            g["lr"] = lr
            g["initial_lr"] = base

    def __repr__(self) -> str:
        return f"<{type(self).__name__} last_epoch={self.last_epoch} lr={self._last_lr}>"


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs:
    ``lr = initial_lr * gamma ** (epoch // step_size)``."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        if not is_int(step_size) or step_size <= 0:
            raise ValueError(f"StepLR: step_size must be a positive int, got {step_size!r}")
        _check_number("StepLR", "gamma", gamma, lo=0.0)
        self.step_size = step_size
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        k = self.last_epoch // self.step_size
        return [base * self.gamma ** k for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every epoch: ``lr = initial_lr * gamma ** epoch``."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        _check_number("ExponentialLR", "gamma", gamma, lo=0.0)
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine decay from ``initial_lr`` to ``eta_min`` over ``T_max`` epochs (SGDR
    without restarts)::

        lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2

    Past ``T_max`` the cosine continues, so the rate rises again (as in PyTorch).
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        if not is_int(T_max) or T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive int, got {T_max!r}")
        _check_number("CosineAnnealingLR", "eta_min", eta_min, lo=0.0)
        self.T_max = T_max
        self.eta_min = float(eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        c = (1.0 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2.0
        return [self.eta_min + (base - self.eta_min) * c for base in self.base_lrs]
