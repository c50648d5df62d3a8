"""Learning-rate schedules: change each parameter group's ``lr`` as training goes on.

Call ``scheduler.step()`` once per epoch (or per iteration, if the schedule is counted
in iterations), after ``optimizer.step()``::

    opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = cr.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=20)
    for epoch in range(20):
        train_one_epoch(model, opt)
        sched.step()

``ReduceLROnPlateau`` is the exception: it reacts to a metric, ``sched.step(val_loss)``.
``SequentialLR`` runs schedules one after another (a ``LinearLR`` warm-up, then a
cosine decay). Each other schedule is a closed-form function of the epoch counter
``last_epoch`` and of each group's starting rate (``initial_lr``, recorded in the group
when the scheduler is created), so ``state_dict``/``load_state_dict`` restore it
exactly. Values agree with PyTorch's schedulers of the same name.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._check import is_int
from .optimizer import Optimizer, _check_number

__all__ = [
    "CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR", "LinearLR", "MultiStepLR",
    "OneCycleLR", "ReduceLROnPlateau", "SequentialLR", "StepLR",
]


class _Saved:
    """What every scheduler shares: its last rates, and its state as plain values."""

    optimizer: Optimizer
    _last_lr: list[float]

    def get_last_lr(self) -> list[float]:
        """The learning rates the last ``step`` set, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer: plain numbers and lists (``cr.save`` stores it)."""
        return {k: (list(v) if isinstance(v, list) else v)
                for k, v in self.__dict__.items() if k != "optimizer"}

    def _restore(self, state_dict: Mapping[str, Any]) -> None:
        """Take the saved values back (tuples as lists, 0-d arrays as numbers), refusing
        keys this kind of scheduler does not have."""
        unknown = sorted(set(state_dict) - set(self.state_dict()))
        if unknown:
            raise ValueError(f"{type(self).__name__}.load_state_dict: unexpected keys "
                             f"{unknown}; was this saved from another kind of scheduler?")
        for k, v in state_dict.items():
            if isinstance(v, tuple):
                v = list(v)
            if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
                v = v.item()
            self.__dict__[k] = v


class LRScheduler(_Saved):
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

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned; the groups' ``lr`` follow."""
        self._restore(state_dict)
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


def _per_group(where: str, what: str, v: Any, n: int) -> list[Any]:
    if isinstance(v, (list, tuple)):
        if len(v) != n:
            raise ValueError(f"{where}: {len(v)} values of {what} for {n} parameter groups")
        return list(v)
    return [v] * n


class MultiStepLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each milestone epoch:
    ``lr = initial_lr * gamma ** (number of milestones <= epoch)``."""

    def __init__(self, optimizer: Optimizer, milestones: Sequence[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        ms = list(milestones)
        if not all(is_int(m) and m >= 0 for m in ms):
            raise ValueError(f"MultiStepLR: milestones must be non-negative ints, got {ms!r}")
        _check_number("MultiStepLR", "gamma", gamma, lo=0.0)
        self.milestones = sorted(int(m) for m in ms)
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        k = bisect.bisect_right(self.milestones, self.last_epoch)
        return [base * self.gamma ** k for base in self.base_lrs]


class LambdaLR(LRScheduler):
    """``lr = initial_lr * lr_lambda(epoch)``, with one function, or one per group.

    The functions are not part of ``state_dict`` (they are code, not state): rebuild
    the scheduler with the same functions, then ``load_state_dict``.
    """

    def __init__(self, optimizer: Optimizer,
                 lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
                 last_epoch: int = -1) -> None:
        fns = _per_group("LambdaLR", "lr_lambda", lr_lambda, len(optimizer.param_groups))
        if not all(callable(f) for f in fns):
            raise TypeError("LambdaLR: lr_lambda must be a function of the epoch (or a "
                            "list of them, one per parameter group)")
        self.lr_lambdas = fns
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * f(self.last_epoch) for base, f in zip(self.base_lrs, self.lr_lambdas)]

    def state_dict(self) -> dict[str, Any]:
        """As :meth:`LRScheduler.state_dict`, without the functions."""
        state = super().state_dict()
        state.pop("lr_lambdas")
        return state


class LinearLR(LRScheduler):
    """Scale the rate linearly from ``start_factor`` to ``end_factor`` over
    ``total_iters`` epochs, then hold it (a warm-up)::

        lr = initial_lr * (start + (end - start) * min(epoch, total_iters) / total_iters)
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, total_iters: int = 5, last_epoch: int = -1) -> None:
        _check_number("LinearLR", "start_factor", start_factor, lo=0.0, hi=1.0, lo_open=True)
        _check_number("LinearLR", "end_factor", end_factor, lo=0.0, hi=1.0)
        if not is_int(total_iters) or total_iters <= 0:
            raise ValueError(f"LinearLR: total_iters must be a positive int, got "
                             f"{total_iters!r}")
        self.start_factor = float(start_factor)
        self.end_factor = float(end_factor)
        self.total_iters = int(total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t = min(self.last_epoch, self.total_iters) / self.total_iters
        f = self.start_factor + (self.end_factor - self.start_factor) * t
        return [base * f for base in self.base_lrs]


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin), stepped once per *batch*, as PyTorch's.

    The rate rises from ``max_lr / div_factor`` to ``max_lr`` over the first
    ``pct_start`` of ``total_steps`` (or ``epochs * steps_per_epoch``), then anneals to
    ``initial / final_div_factor``; with ``cycle_momentum`` the momentum (SGD's
    ``momentum``, Adam's ``beta1``) moves the opposite way between ``max_momentum`` and
    ``base_momentum``. ``anneal_strategy`` is ``"cos"`` or ``"linear"``;
    ``three_phase`` comes back down to the initial rate before the final anneal.
    Stepping past ``total_steps`` is an error.
    """

    def __init__(self, optimizer: Optimizer, max_lr: float | Sequence[float],
                 total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float = 0.85, max_momentum: float = 0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False, last_epoch: int = -1) -> None:
        where = "OneCycleLR"
        if total_steps is None:
            if not (is_int(epochs) and is_int(steps_per_epoch) and epochs > 0
                    and steps_per_epoch > 0):
                raise ValueError(f"{where}: give total_steps, or epochs and steps_per_epoch "
                                 f"(positive ints); got total_steps=None, epochs={epochs!r}, "
                                 f"steps_per_epoch={steps_per_epoch!r}")
            total_steps = epochs * steps_per_epoch
        elif not is_int(total_steps) or total_steps <= 0:
            raise ValueError(f"{where}: total_steps must be a positive int, got "
                             f"{total_steps!r}")
        _check_number(where, "pct_start", pct_start, lo=0.0, hi=1.0)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{where}: anneal_strategy must be 'cos' or 'linear', got "
                             f"{anneal_strategy!r}")
        self.total_steps = int(total_steps)
        self.anneal_strategy = anneal_strategy
        p = float(pct_start) * self.total_steps
        self._phases = ([(p - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                         (2 * p - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                         (self.total_steps - 1, "initial_lr", "min_lr", "max_momentum",
                          "max_momentum")] if three_phase else
                        [(p - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                         (self.total_steps - 1, "max_lr", "min_lr", "base_momentum",
                          "max_momentum")])
        groups = optimizer.param_groups
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            if not all("momentum" in g or "betas" in g for g in groups):
                raise ValueError(f"{where}: cycle_momentum needs an optimizer with momentum "
                                 f"(SGD) or betas (Adam); pass cycle_momentum=False")
            self._beta1 = "betas" in groups[0]
        if last_epoch == -1:
            maxes = _per_group(where, "max_lr", max_lr, len(groups))
            bases = _per_group(where, "base_momentum", base_momentum, len(groups))
            tops = _per_group(where, "max_momentum", max_momentum, len(groups))
            for g, m, b, t in zip(groups, maxes, bases, tops):
                _check_number(where, "max_lr", m, lo=0.0)
                g["initial_lr"] = m / div_factor
                g["max_lr"] = m
                g["min_lr"] = g["initial_lr"] / final_div_factor
                if self.cycle_momentum:
                    g["max_momentum"], g["base_momentum"] = t, b
                    self._set_momentum(g, t)
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, g: dict[str, Any], m: float) -> None:
        if self._beta1:
            g["betas"] = (m, *g["betas"][1:])
        else:
            g["momentum"] = m

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: stepped {step} times but total_steps is "
                             f"{self.total_steps}; give total_steps (or epochs and "
                             f"steps_per_epoch) for the whole run")
        lrs = []
        for g in self.optimizer.param_groups:
            begin = 0.0
            for i, (end, lo, hi, mlo, mhi) in enumerate(self._phases):
                if step <= end or i == len(self._phases) - 1:
                    pct = (step - begin) / (end - begin)
                    lrs.append(self._anneal(g[lo], g[hi], pct))
                    if self.cycle_momentum:
                        self._set_momentum(g, self._anneal(g[mlo], g[mhi], pct))
                    break
                begin = end
        return lrs


class ReduceLROnPlateau(_Saved):
    """Divide the rate by ``1/factor`` when a metric stops improving (PyTorch's).

    Call ``sched.step(metric)`` once per epoch with the validation loss (``mode="min"``)
    or accuracy (``mode="max"``). After more than ``patience`` epochs without an
    improvement (by ``threshold``, relative or absolute per ``threshold_mode``) each
    group's rate becomes ``max(lr * factor, min_lr)``, then ``cooldown`` epochs pass
    before counting again. Changes smaller than ``eps`` are skipped.
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float | Sequence[float] = 0.0,
                 eps: float = 1e-8) -> None:
        where = "ReduceLROnPlateau"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{where}: expected a chainrule optimizer, got "
                            f"{type(optimizer).__name__}")
        if mode not in ("min", "max"):
            raise ValueError(f"{where}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{where}: threshold_mode must be 'rel' or 'abs', got "
                             f"{threshold_mode!r}")
        _check_number(where, "factor", factor, lo=0.0, hi=1.0, hi_open=True)
        for what, v in (("patience", patience), ("cooldown", cooldown)):
            if not is_int(v) or v < 0:
                raise ValueError(f"{where}: {what} must be a non-negative int, got {v!r}")
        self.optimizer = optimizer
        self.mode, self.threshold_mode = mode, threshold_mode
        self.factor, self.patience, self.cooldown = float(factor), int(patience), int(cooldown)
        self.threshold, self.eps = float(threshold), float(eps)
        self.min_lrs = [float(v) for v in _per_group(where, "min_lr", min_lr,
                                                     len(optimizer.param_groups))]
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [g["lr"] for g in optimizer.param_groups]

    def _better(self, a: float) -> bool:
        t, best = self.threshold, self.best
        if self.mode == "min":
            return a < (best * (1 - t) if self.threshold_mode == "rel" else best - t)
        return a > (best * (1 + t) if self.threshold_mode == "rel" else best + t)

    def step(self, metrics: Any) -> None:
        """Record this epoch's metric; reduce the rates if it has stalled."""
        current = float(getattr(metrics, "item", lambda: metrics)())
        if not math.isfinite(current):
            raise ValueError(f"ReduceLROnPlateau.step: the metric is {current}; a "
                             f"diverged run cannot be scheduled (check the loss)")
        self.last_epoch += 1
        if self._better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for g, lo in zip(self.optimizer.param_groups, self.min_lrs):
                old = float(g["lr"])
                new = max(old * self.factor, lo)
                if old - new > self.eps:
                    g["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (the groups' ``lr`` follow)."""
        self._restore(state_dict)
        for g, lr in zip(self.optimizer.param_groups, self._last_lr):
            g["lr"] = lr


class SequentialLR:
    """Run ``schedulers`` one after another, switching at the ``milestones`` epochs.

    ``SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=5), CosineAnnealingLR(opt, 95)],
    milestones=[5])``: five warm-up epochs, then a cosine decay that starts from its
    own epoch 0. Values are PyTorch's.
    """

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler],
                 milestones: Sequence[int], last_epoch: int = -1) -> None:
        scheds = list(schedulers)
        if not scheds:
            raise ValueError("SequentialLR: give at least one scheduler")
        for i, s in enumerate(scheds):
            if not isinstance(s, LRScheduler):
                raise TypeError(f"SequentialLR: scheduler {i} is a {type(s).__name__}; "
                                f"ReduceLROnPlateau cannot be chained")
            if s.optimizer is not optimizer:
                raise ValueError(f"SequentialLR: scheduler {i} drives another optimizer")
        ms = list(milestones)
        if len(ms) != len(scheds) - 1 or ms != sorted(ms) or not all(is_int(m) for m in ms):
            raise ValueError(f"SequentialLR: expected {len(scheds) - 1} increasing integer "
                             f"milestones for {len(scheds)} schedulers, got {ms!r}")
        self.optimizer = optimizer
        self._schedulers = scheds
        self._milestones = [int(m) for m in ms]
        self.last_epoch = last_epoch + 1
        for g in optimizer.param_groups:
            g["lr"] = g["initial_lr"]
        first = scheds[0]
        first.last_epoch -= 1
        first.step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        """Advance one epoch in the scheduler whose turn it is."""
        self.last_epoch += 1
        idx = bisect.bisect_right(self._milestones, self.last_epoch)
        s = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            s.last_epoch = -1     # a schedule starts from its own epoch 0
        s.step()
        self._last_lr = s.get_last_lr()

    def get_last_lr(self) -> list[float]:
        """The learning rates the last ``step`` set."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """The epoch, the milestones and each scheduler's own state."""
        return {"last_epoch": self.last_epoch, "_milestones": list(self._milestones),
                "_last_lr": list(self._last_lr),
                "_schedulers": [s.state_dict() for s in self._schedulers]}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        subs = list(state_dict["_schedulers"])
        if len(subs) != len(self._schedulers):
            raise ValueError(f"SequentialLR.load_state_dict: saved {len(subs)} schedulers, "
                             f"this one has {len(self._schedulers)}")
        for s, st in zip(self._schedulers, subs):
            s.load_state_dict(st)
        self.last_epoch = int(state_dict["last_epoch"])
        self._milestones = [int(m) for m in state_dict["_milestones"]]
        self._last_lr = [float(v) for v in state_dict["_last_lr"]]
        for g, lr in zip(self.optimizer.param_groups, self._last_lr):
            g["lr"] = lr
