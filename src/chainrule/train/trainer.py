"""The training loop: minibatch, gradient, update, repeat; checkpoints and exact resume.

:class:`Trainer` runs the four steps of training (take a minibatch, backpropagate the
loss, update the parameters, repeat), scores a test loader after every epoch and calls
:class:`~chainrule.train.Callback` hooks. After every epoch, and on Ctrl-C in the middle
of one, it writes a checkpoint (atomically) holding everything that determines the rest
of the run: weights, optimizer state, learning-rate schedule, position in the data, the
global random generator and the running sums of the epoch's metrics. A run resumed from
it ends with bit-for-bit the weights of the same run left uninterrupted.

Ctrl-C (in the main thread): the first one lets the current step finish, writes a
checkpoint and raises :class:`~chainrule.train.TrainingInterrupted` (a
``KeyboardInterrupt``); a second one interrupts at once. A ``KeyboardInterrupt`` raised
by a callback after a step is handled like the first Ctrl-C.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import random as _random
from .._tensor import Tensor
from ..serialization import CheckpointError, save
from .callbacks import Callback
from .checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    _result_from,
    validate_checkpoint,
)
from .metrics import (
    EpochResult,
    Evaluation,
    StepInfo,
    TrainingInterrupted,
    _labels,
    _scalar,
    evaluate,
)

__all__ = ["Trainer", "fit"]


def _kind(obj: Any) -> str:
    """An optimizer's or scheduler's type name; a data-parallel wrapper (an optimizer
    that synchronizes the gradients, then steps the ``optimizer`` it wraps) is named by
    what it wraps, so that one run's checkpoint resumes with any number of processes."""
    inner = getattr(obj, "__dict__", {}).get("optimizer") \
        if callable(getattr(obj, "synchronize", None)) else None
    return type(inner if inner is not None else obj).__name__


class _Running:
    """Sums over the batches of the current epoch (exactly restorable)."""

    __slots__ = ("correct", "loss_sum", "samples", "seconds")

    def __init__(self) -> None:
        self.loss_sum = 0.0
        self.correct = 0
        self.samples = 0
        self.seconds = 0.0

    def state(self) -> dict[str, Any]:
        return {"loss_sum": self.loss_sum, "correct": self.correct,
                "samples": self.samples, "seconds": self.seconds}

    def load(self, d: Mapping[str, Any]) -> None:
        self.loss_sum = float(d["loss_sum"])
        self.correct = int(d["correct"])
        self.samples = int(d["samples"])
        self.seconds = float(d["seconds"])


class Trainer:
    """Fit a classifier with minibatch gradient descent; checkpoint and resume exactly.

    Parameters
    ----------
    model:
        A :class:`chainrule.nn.Module` (anything callable with ``parameters()``,
        ``state_dict()``, ``load_state_dict()``, ``train()``/``eval()`` works) that maps
        a batch of inputs to logits of shape ``(N, classes)``.
    loss_fn:
        ``loss_fn(logits, targets)`` -> a one-element Tensor (the mean loss of the
        batch), e.g. ``nn.SoftmaxCrossEntropy()``.
    optimizer:
        A :mod:`chainrule.optim` optimizer over the model's parameters.
    train_loader:
        A :class:`chainrule.data.DataLoader`; its order must be a function of its
        seed and epoch (``DataLoader`` is), which is what makes resuming exact.
    test_loader:
        Scored after every epoch (optional).
    scheduler:
        A learning-rate schedule with ``step()`` (called after each epoch),
        ``state_dict()`` and ``load_state_dict()`` (optional).
    callbacks:
        :class:`Callback` objects, called in order.
    checkpoint_path:
        Where to write the checkpoint after every epoch and on interruption (``None``:
        only when :meth:`save_checkpoint` is called).
    config:
        A dict of plain values stored in checkpoints as ``config`` (e.g. how to rebuild
        the model); not interpreted here.
    transform:
        Applied to the inputs of every *training* batch before the model sees them
        (data augmentation such as :class:`~chainrule.data.RandomShift`). Random
        transforms must draw from :func:`chainrule.random.get_rng` so that resuming
        stays exact.
    reduce_metrics:
        Data-parallel training: ``(loss_sum, correct, samples)`` of this process's
        epoch to those of all processes (e.g. summed with an allreduce), so that the
        epoch's train loss and accuracy are the global batch's. Called by every rank at
        the end of every epoch.
    agree_stop:
        Data-parallel training: called by every rank after every step with whether
        this rank was asked to stop (Ctrl-C); returns whether any rank was, so that all
        ranks stop after the same step and rank 0's checkpoint is the job's.

    Attributes
    ----------
    history:
        The :class:`EpochResult` of every finished epoch (restored when resuming).
    epoch:
        Epochs fully done (the next epoch to run, counting from 0).
    batch:
        Batches of epoch ``epoch`` already done (non-zero only after resuming from a
        mid-epoch checkpoint).
    step:
        Optimizer steps taken over the whole run.
    last_evaluation:
        The :class:`Evaluation` of the last test pass (``None`` before the first).
    """

    def __init__(self, model: Any, loss_fn: Callable[[Any, Any], Any], optimizer: Any,
                 train_loader: Any, test_loader: Any = None, *, scheduler: Any = None,
                 callbacks: Sequence[Callback] = (),
                 checkpoint_path: str | os.PathLike[str] | None = None,
                 config: Mapping[str, Any] | None = None,
                 transform: Callable[[Any], Any] | None = None,
                 reduce_metrics: Callable[[float, int, int], tuple[float, int, int]]
                 | None = None, agree_stop: Callable[[bool], bool] | None = None) -> None:
        for name, need in (("train_loader", ("state_dict", "load_state_dict", "set_epoch")),
                           ("optimizer", ("step", "zero_grad", "state_dict",
                                          "load_state_dict"))):
            obj = train_loader if name == "train_loader" else optimizer
            lacking = [m for m in need if not hasattr(obj, m)]
            if lacking:
                raise TypeError(f"Trainer: {name} ({type(obj).__name__}) lacks "
                                f"{', '.join(lacking)}; pass a chainrule "
                                f"{'DataLoader' if name == 'train_loader' else 'optimizer'}")
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.train_loader = train_loader
        self.test_loader = test_loader
        self.scheduler = scheduler
        self.callbacks = list(callbacks)
        self.checkpoint_path = None if checkpoint_path is None else Path(checkpoint_path)
        self.config = dict(config) if config is not None else {}
        self.transform = transform
        self.reduce_metrics = reduce_metrics
        self.agree_stop = agree_stop
        self.history: list[EpochResult] = []
        self.epoch = 0
        self.batch = 0
        self.step = 0
        self.last_evaluation: Evaluation | None = None
        self._running = _Running()
        self._rng_state: dict[str, Any] | None = None
        self._epoch_clock: tuple[float, float] | None = None  # (start, seconds before)
        self._updating = False
        self._stop_requested = False

    # ------------------------------------------------------------------ state
    def _lr(self) -> float:
        groups = getattr(self.optimizer, "param_groups", None)
        if groups:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                return float(groups[0]["lr"])
        return float(getattr(self.optimizer, "lr", math.nan))

    def _loader_state(self) -> dict[str, Any]:
        state = dict(self.train_loader.state_dict())
        state["epoch"] = self.epoch
        state["batch"] = self.batch
        return state

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this run exactly (what checkpoints hold)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "config": self.config,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "optimizer_type": _kind(self.optimizer),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scheduler_type": type(self.scheduler).__name__
            if self.scheduler is not None else None,
            "progress": {"epoch": self.epoch, "batch": self.batch, "step": self.step,
                         "complete": self.batch == 0},
            "loader": self._loader_state(),
            "rng": self._rng_state if self._rng_state is not None
            else _random.get_rng_state(),
            "running": self._running_state(),
            "history": [r.as_dict() for r in self.history],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict` (or a loaded checkpoint): weights, optimizer,
        schedule, position in the data, random generator and metrics so far.

        Raises :class:`~chainrule.serialization.CheckpointError` naming what does not
        match (e.g. layer shapes, or a different batch size or dataset size).
        """
        state = validate_checkpoint(dict(state), "checkpoint")
        for what, obj in (("optimizer", self.optimizer), ("scheduler", self.scheduler)):
            saved = state.get(f"{what}_type")
            mine = _kind(obj) if obj is not None else None
            if saved is not None and saved != mine:
                raise CheckpointError(f"checkpoint: it was saved with the {what} {saved}, "
                                      f"but this trainer has {mine}; resume with the same "
                                      f"{what}")
        self.model.load_state_dict(state["model"])
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, CheckpointError):
                raise
            raise CheckpointError(f"checkpoint: the optimizer state does not fit this "
                                  f"optimizer ({type(self.optimizer).__name__}): {e}") from e
        if self.scheduler is not None:
            if state.get("scheduler") is None:
                raise CheckpointError("checkpoint: has no learning-rate schedule state, but "
                                      "this trainer has a scheduler")
            self.scheduler.load_state_dict(state["scheduler"])
        try:
            self.train_loader.load_state_dict(state["loader"])
        except ValueError as e:
            raise CheckpointError(f"checkpoint: the training data does not match the saved "
                                  f"run: {e}") from e
        try:
            _random.set_rng_state(state["rng"])
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"checkpoint: bad random generator state: {e}") from e
        prog = state["progress"]
        self.epoch = int(prog["epoch"])
        self.batch = int(prog["batch"])
        self.step = int(prog.get("step", 0))
        self._rng_state = state["rng"]
        try:
            self._running.load(state["running"])
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"checkpoint: bad 'running' entry: {e}") from e
        self.history = [_result_from(r, "checkpoint") for r in state["history"]]
        if "config" in state and isinstance(state["config"], dict) and not self.config:
            self.config = dict(state["config"])

    def _running_state(self) -> dict[str, Any]:
        state = self._running.state()
        if self._epoch_clock is not None:   # mid-epoch: count the time spent so far
            start, before = self._epoch_clock
            state["seconds"] = before + (time.perf_counter() - start)
        return state

    def save_checkpoint(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write :meth:`state_dict` to ``path`` (default ``checkpoint_path``), atomically."""
        target = Path(path) if path is not None else self.checkpoint_path
        if target is None:
            raise ValueError("save_checkpoint: no path given and the trainer has no "
                             "checkpoint_path")
        save(self.state_dict(), target)
        return target

    # ------------------------------------------------------------------ running
    def _emit(self, name: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, name)(self, *args)

    def _train_step(self, xb: Any, yb: Any) -> tuple[float, int, int]:
        """One step: forward, loss, backward, update. Returns (loss, correct, size)."""
        self.optimizer.zero_grad()
        if self.transform is not None:
            xb = self.transform(xb)
        logits = self.model(xb)
        loss = self.loss_fn(logits, yb)
        loss_value = _scalar(loss)
        if not math.isfinite(loss_value):
            raise FloatingPointError(self._not_finite(loss_value, xb))
        loss.backward()
        self._updating = True
        self.optimizer.step()
        self._updating = False
        out = logits.data
        correct = int(np.count_nonzero(np.argmax(out, axis=1) == _labels(yb)))
        return loss_value, correct, int(out.shape[0])

    def _not_finite(self, loss_value: float, xb: Any) -> str:
        """Why the loss is not finite: bad inputs, bad parameters, or divergence."""
        where = f"at epoch {self.epoch + 1}, batch {self.batch + 1}"
        x = np.asarray(xb.data if isinstance(xb, Tensor) else xb)
        if x.dtype.kind in "fc":
            bad = int(x.size - np.count_nonzero(np.isfinite(x)))
            if bad:
                kinds = "NaN" if np.isnan(x).any() else "inf"
                return (f"the loss is {loss_value} {where}, and this batch of inputs "
                        f"holds {bad:,} {kinds} value(s) of {x.size:,}: the data has "
                        f"{kinds} in it (not a learning-rate problem); clean the data "
                        f"(e.g. np.nan_to_num, or drop those samples)")
        for name, p in self._named_parameters():
            if not np.isfinite(p.data).all():
                return (f"training diverged: the loss is {loss_value} {where}, and the "
                        f"parameter {name} already holds NaN/inf (an earlier update blew "
                        f"up); lower the learning rate")
        return (f"training diverged: the loss is {loss_value} {where} (inputs and "
                f"parameters are finite); lower the learning rate")

    def _named_parameters(self) -> list[tuple[str, Any]]:
        named = getattr(self.model, "named_parameters", None)
        if named is not None:
            return list(named())
        return [(str(i), p) for i, p in enumerate(self.optimizer.param_groups[0]["params"])]

    def fit(self, epochs: int) -> list[EpochResult]:
        """Train until ``epochs`` epochs in total are done (counting resumed ones).

        Returns ``history``. Raises :class:`TrainingInterrupted` on Ctrl-C, after
        writing a checkpoint if ``checkpoint_path`` is set.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"fit: epochs must be a non-negative int, got {epochs!r}")
        epochs = int(epochs)
        with self._sigint_deferred():
            try:
                self._emit("on_train_begin")
                while self.epoch < epochs:
                    self._run_epoch()
            except KeyboardInterrupt as e:
                raise self._interrupted() from (None if type(e) is KeyboardInterrupt else e)
        self._emit("on_train_end")
        return self.history

    def _run_epoch(self) -> None:
        loader = self.train_loader
        if self.batch == 0:
            loader.set_epoch(self.epoch)
            self._running = _Running()
        else:  # resuming inside this epoch: the loader continues at self.batch
            loader.load_state_dict(self._loader_state())
        num_batches = len(loader)
        run = self._running
        if hasattr(self.model, "train"):
            self.model.train()
        self._emit("on_epoch_begin", self.epoch + 1, self.batch)
        t_start = time.perf_counter()
        base_seconds, base_samples = run.seconds, run.samples
        self._epoch_clock = (t_start, base_seconds)
        lr = self._lr()
        get_state = _random.get_rng_state
        for xb, yb in loader:
            self._rng_state = get_state()
            loss, correct, size = self._train_step(xb, yb)
            # The step is complete: commit it.
            self.batch += 1
            self.step += 1
            run.loss_sum += loss * size
            run.correct += correct
            run.samples += size
            self._rng_state = None
            elapsed = time.perf_counter() - t_start
            if self.callbacks:
                info = StepInfo(epoch=self.epoch + 1, batch=self.batch,
                                num_batches=num_batches, step=self.step, loss=loss,
                                running_loss=run.loss_sum / run.samples,
                                running_acc=run.correct / run.samples, batch_size=size,
                                samples_per_s=(run.samples - base_samples) / elapsed
                                if elapsed > 0 else math.nan)
                self._emit("on_batch_end", info)
            stop = self._stop_requested
            if self.agree_stop is not None:       # data parallel: all ranks stop together
                stop = self.agree_stop(stop)
            if stop:
                raise KeyboardInterrupt
        run.seconds = base_seconds + (time.perf_counter() - t_start)
        self._epoch_clock = None
        train_seconds = run.seconds
        self._emit("on_evaluate_begin", self.epoch + 1)
        t_eval = time.perf_counter()
        if self.test_loader is not None:
            ev = evaluate(self.model, self.loss_fn, self.test_loader)
            self.last_evaluation = ev
            test_loss, test_acc = ev.loss, ev.accuracy
        else:
            test_loss = test_acc = math.nan
        seconds = train_seconds + (time.perf_counter() - t_eval)
        if run.samples == 0:
            raise ValueError("fit: the training loader yielded no batches")
        loss_sum, correct, samples = (run.loss_sum, run.correct, run.samples) \
            if self.reduce_metrics is None else \
            self.reduce_metrics(run.loss_sum, run.correct, run.samples)
        self._updating = True   # bookkeeping below must not be saved half done
        result = EpochResult(epoch=self.epoch + 1, train_loss=loss_sum / samples,
                             train_acc=correct / samples, test_loss=test_loss,
                             test_acc=test_acc, seconds=seconds,
                             samples_per_s=run.samples / train_seconds
                             if train_seconds > 0 else math.nan, lr=lr)
        self.history.append(result)
        if self.scheduler is not None:
            self.scheduler.step()
        self.epoch += 1
        self.batch = 0
        self._running = _Running()
        self._updating = False
        if self.checkpoint_path is not None:
            self.save_checkpoint()
        self._emit("on_epoch_end", result)

    def _interrupted(self) -> TrainingInterrupted:
        """Save what can be saved consistently and build the error to raise."""
        self._stop_requested = False
        epoch, batch = self.epoch + 1, self.batch
        path = None
        if self._updating:
            # Ctrl-C landed inside optimizer.step() (some parameters updated, others
            # not) or inside the end-of-epoch bookkeeping, so this state must not be
            # saved. (Only possible with a second Ctrl-C or outside the main thread.)
            self._updating = False
            prev = self.checkpoint_path
            msg = (f"training interrupted during a parameter update (epoch {epoch}, batch "
                   f"{batch}); the state is inconsistent, so no checkpoint was "
                   f"written" + (f"; the last complete one is {prev}" if prev is not None
                                 and prev.exists() else ""))
        else:
            if self.checkpoint_path is not None:
                path = self.save_checkpoint()
            where = f"epoch {epoch}, after batch {batch} of {len(self.train_loader)}"
            msg = (f"training interrupted at {where}; checkpoint saved to {path}"
                   if path is not None else f"training interrupted at {where} (no "
                   f"checkpoint_path, nothing saved)")
        err = TrainingInterrupted(msg, path, epoch, batch)
        self._emit("on_interrupt", err)
        return err

    @contextlib.contextmanager
    def _sigint_deferred(self) -> Any:
        """First Ctrl-C: finish the current step, then stop. Second: stop at once."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        try:
            previous = signal.getsignal(signal.SIGINT)
        except (ValueError, OSError):  # pragma: no cover - exotic embedding
            yield
            return
        if previous is not signal.default_int_handler:
            # Someone else (a debugger, a test runner, an app) handles Ctrl-C: respect it.
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            if self._stop_requested:
                raise KeyboardInterrupt
            self._stop_requested = True
            print("\nCtrl-C: stopping after this step and saving a checkpoint "
                  "(press Ctrl-C again to stop at once)", file=sys.stderr, flush=True)

        signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)
            self._stop_requested = False


def fit(model: Any, loss_fn: Callable[[Any, Any], Any], optimizer: Any, train_loader: Any,
        test_loader: Any = None, epochs: int = 1, **kwargs: Any) -> list[EpochResult]:
    """Train with a :class:`Trainer` for ``epochs`` epochs and return the history.

    ``kwargs`` go to :class:`Trainer` (``scheduler``, ``callbacks``, ``checkpoint_path``,
    ``config``).
    """
    return Trainer(model, loss_fn, optimizer, train_loader, test_loader,
                   **kwargs).fit(epochs)

