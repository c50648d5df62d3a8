"""The training loop: minibatch, gradient, update, repeat; with metrics and checkpoints.

The seed notes end with the four steps of training a network: take a minibatch,
compute the gradient of the loss by backpropagation, update the parameters, repeat.
:class:`Trainer` runs exactly that loop, and adds what a real run needs:

* a test-set evaluation and a row of metrics per epoch (:class:`EpochResult`);
* callbacks for progress bars, tables and logs (:class:`Callback`; ready-made ones
  are :class:`ProgressBar`, :class:`EpochTable` and :class:`CSVLogger`);
* checkpoints written atomically after every epoch, and on Ctrl-C in the middle of an
  epoch, holding everything that determines the rest of the run: the weights, the
  optimizer's state, the learning-rate schedule, which batch of which epoch comes next,
  the global random generator and the running sums of the epoch's metrics. A run
  resumed from such a checkpoint ends with **exactly** the weights (bit for bit) of the
  same run left uninterrupted.

Quick start::

    import chainrule as cr
    from chainrule import nn, optim
    from chainrule.data import DataLoader, MNISTSample
    from chainrule.train import Trainer

    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optim.Adam(model.parameters()),
                      DataLoader(MNISTSample("train"), 64, shuffle=True),
                      DataLoader(MNISTSample("test"), 1000),
                      checkpoint_path="checkpoint.npz")
    history = trainer.fit(epochs=5)   # or chainrule.train.fit(model, ..., epochs=5)

Ctrl-C
------
While :meth:`Trainer.fit` runs in the main thread, the first Ctrl-C does not interrupt
a step halfway: the current step finishes, a checkpoint is written and
:class:`TrainingInterrupted` (a ``KeyboardInterrupt``) is raised, saying where the
checkpoint is. A second Ctrl-C interrupts immediately. A ``KeyboardInterrupt`` raised
by a callback (after a step) is handled the same way.

The plotting helpers at the end (:func:`plot_curves`, :func:`plot_confusion`,
:func:`plot_samples`) need matplotlib (``pip install chainrule[plot]``); the progress
bar uses tqdm when it is installed and the output is a terminal.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import IO, Any

import numpy as np

from . import random as _random
from ._io import atomic_open
from ._tensor import Tensor, from_numpy
from .autograd import no_grad
from .serialization import CheckpointError, load, save

__all__ = [
    "ACTIVATIONS",
    "CHECKPOINT_FORMAT",
    "DEFAULT_LR",
    "OPTIMIZERS",
    "CSVLogger",
    "Callback",
    "EpochResult",
    "EpochTable",
    "Evaluation",
    "ProgressBar",
    "RandomShift",
    "StepInfo",
    "Trainer",
    "TrainingInterrupted",
    "blas_threads",
    "build_mlp",
    "evaluate",
    "fit",
    "load_checkpoint",
    "make_optimizer",
    "model_from_config",
    "plot_confusion",
    "plot_curves",
    "plot_samples",
    "validate_checkpoint",
]

#: ``format`` entry of every training checkpoint (checked when loading).
CHECKPOINT_FORMAT = "chainrule.train-checkpoint"
CHECKPOINT_VERSION = 1
_REQUIRED_KEYS = ("format", "version", "model", "optimizer", "progress", "loader", "rng",
                  "running", "history")


# ---------------------------------------------------------------------- records
@dataclass(frozen=True)
class EpochResult:
    """The metrics of one finished epoch (one row of ``metrics.csv``).

    ``epoch`` counts from 1. Train loss and accuracy are averaged over the epoch's
    batches as they were trained (weighted by batch size); test figures come from a
    full pass over the test loader after the epoch (``nan`` without a test loader).
    ``seconds`` is the wall time of the epoch including the test pass; ``lr`` the
    learning rate used during the epoch.
    """

    epoch: int
    train_loss: float
    train_acc: float
    test_loss: float
    test_acc: float
    seconds: float
    samples_per_s: float
    lr: float

    def as_dict(self) -> dict[str, Any]:
        """The row as a plain dict (what checkpoints store)."""
        return asdict(self)


@dataclass(frozen=True)
class StepInfo:
    """What :meth:`Callback.on_batch_end` is told after each training step.

    ``batch`` counts the batches done in this epoch (1..``num_batches``), ``epoch``
    counts from 1; ``loss`` is this batch's loss, ``running_loss``/``running_acc`` the
    averages since the start of the epoch, ``samples_per_s`` the training throughput
    since the start (or resumption) of the epoch.
    """

    epoch: int
    batch: int
    num_batches: int
    step: int
    loss: float
    running_loss: float
    running_acc: float
    batch_size: int
    samples_per_s: float


@dataclass
class Evaluation:
    """The result of :func:`evaluate`: loss, accuracy and every prediction.

    ``predictions`` and ``targets`` are class indices, one per sample, in the order
    of the loader; ``num_classes`` is the number of logits.
    """

    loss: float
    accuracy: float
    predictions: np.ndarray
    targets: np.ndarray
    num_classes: int

    @property
    def num_samples(self) -> int:
        """How many samples were scored."""
        return int(self.targets.shape[0])

    def confusion_matrix(self) -> np.ndarray:
        """``cm[true, predicted]`` counts, shape ``(num_classes, num_classes)``."""
        k = self.num_classes
        flat = self.targets.astype(np.int64) * k + self.predictions.astype(np.int64)
        return np.bincount(flat, minlength=k * k).reshape(k, k)

    def per_class_accuracy(self) -> np.ndarray:
        """Accuracy on the samples of each true class (``nan`` for absent classes)."""
        cm = self.confusion_matrix()
        support = cm.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(support > 0, np.diag(cm) / np.maximum(support, 1), np.nan)

    def support(self) -> np.ndarray:
        """How many samples of each true class were scored."""
        return np.bincount(self.targets.astype(np.int64), minlength=self.num_classes)


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on Ctrl-C (or a ``KeyboardInterrupt`` from a callback).

    Attributes: ``checkpoint`` (the path written, or ``None`` if no checkpoint path
    was configured or the state could not be saved consistently), ``epoch`` (from 1)
    and ``batch`` (batches of that epoch already done), and ``message``, a sentence
    for the user.
    """

    def __init__(self, message: str, checkpoint: Path | None, epoch: int,
                 batch: int) -> None:
        super().__init__(message)
        self.message = message
        self.checkpoint = checkpoint
        self.epoch = epoch
        self.batch = batch

    def __str__(self) -> str:
        return self.message


# ---------------------------------------------------------------------- callbacks
class Callback:
    """Base class of the hooks :class:`Trainer` calls; override what you need.

    All methods receive the trainer first, so a callback can read ``trainer.history``,
    ``trainer.model`` and the like. Raising ``KeyboardInterrupt`` from
    :meth:`on_batch_end` stops training exactly like Ctrl-C (a checkpoint of the state
    after that batch is written).
    """

    def on_train_begin(self, trainer: Trainer) -> None:
        """Before the first epoch that will run (also when resuming)."""

    def on_epoch_begin(self, trainer: Trainer, epoch: int, start_batch: int) -> None:
        """An epoch (counted from 1) starts, or resumes at batch ``start_batch``."""

    def on_batch_end(self, trainer: Trainer, info: StepInfo) -> None:
        """After each training step (parameters already updated)."""

    def on_evaluate_begin(self, trainer: Trainer, epoch: int) -> None:
        """The test pass of ``epoch`` starts."""

    def on_epoch_end(self, trainer: Trainer, result: EpochResult) -> None:
        """An epoch finished; its metrics are in ``result`` (and ``trainer.history``)."""

    def on_train_end(self, trainer: Trainer) -> None:
        """All epochs are done."""

    def on_interrupt(self, trainer: Trainer, error: TrainingInterrupted) -> None:
        """Training was interrupted; ``error.checkpoint`` says what was saved."""


# ---------------------------------------------------------------------- evaluation
def _labels(y: Any) -> np.ndarray:
    """Class indices from a target batch (indices, or one-hot/probabilities)."""
    arr = y.data if isinstance(y, Tensor) else np.asarray(y)
    if arr.ndim >= 2:
        return np.argmax(arr, axis=-1)
    return arr


def _scalar(loss: Any) -> float:
    data = loss.data if isinstance(loss, Tensor) else loss
    if np.ndim(data) != 0 and np.size(data) != 1:
        raise ValueError(f"the loss function returned shape {np.shape(data)}; it must return "
                         f"one number per batch (use reduction='mean')")
    return float(np.asarray(data).reshape(()))


def evaluate(model: Any, loss_fn: Callable[[Any, Any], Any], loader: Iterable[Any],
             *, num_classes: int | None = None) -> Evaluation:
    """Score ``model`` on every batch of ``loader`` (in eval mode, without a graph).

    The loss is averaged over samples (each batch's mean loss weighted by its size).
    The model's train/eval mode is restored afterwards.
    """
    was_training = getattr(model, "training", None)
    if hasattr(model, "eval"):
        model.eval()
    total = 0.0
    n = 0
    preds: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    k = num_classes
    try:
        with no_grad():
            for xb, yb in loader:
                logits = model(xb)
                loss = _scalar(loss_fn(logits, yb))
                out = logits.data if isinstance(logits, Tensor) else np.asarray(logits)
                if out.ndim != 2:
                    raise ValueError(f"evaluate: the model returned shape {out.shape}; "
                                     f"classification needs logits of shape (N, classes)")
                k = out.shape[1] if k is None else k
                b = out.shape[0]
                total += loss * b
                n += b
                preds.append(np.argmax(out, axis=1))
                targets.append(_labels(yb).astype(np.int64, copy=False))
    finally:
        if was_training is not None and hasattr(model, "train"):
            model.train(was_training)
    if n == 0:
        raise ValueError("evaluate: the loader yielded no samples")
    p = np.concatenate(preds)
    t = np.concatenate(targets)
    return Evaluation(loss=total / n, accuracy=float(np.mean(p == t)), predictions=p,
                      targets=t, num_classes=int(k if k is not None else 0))


# ---------------------------------------------------------------------- checkpoints
def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a checkpoint written by :class:`Trainer`.

    Raises ``FileNotFoundError`` if there is no such file and
    :class:`~chainrule.serialization.CheckpointError` (a ``ValueError``) if it is not a
    chainrule file, is damaged, or is a chainrule file without the entries of a
    training checkpoint (e.g. a bare state dict); the message says which.
    """
    obj = load(path)
    return validate_checkpoint(obj, path)


def validate_checkpoint(obj: Any, path: str | os.PathLike[str] = "checkpoint"
                        ) -> dict[str, Any]:
    """Check that ``obj`` (what :func:`chainrule.load` returned) is a training checkpoint."""
    where = os.fspath(path)
    if not isinstance(obj, dict):
        raise CheckpointError(f"{where}: not a training checkpoint (it holds a "
                              f"{type(obj).__name__}, not a dict)")
    if obj.get("format") != CHECKPOINT_FORMAT:
        keys = ", ".join(map(str, list(obj)[:6]))
        hint = (" It looks like a bare state dict: load it with "
                "model.load_state_dict(cr.load(path)).") if obj and all(
            isinstance(v, np.ndarray) for v in obj.values()) else ""
        raise CheckpointError(f"{where}: not a training checkpoint: no "
                              f"format={CHECKPOINT_FORMAT!r} entry (top-level keys: "
                              f"{keys or 'none'}).{hint}")
    version = obj.get("version")
    if not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise CheckpointError(f"{where}: training checkpoint version {version!r} is not "
                              f"supported (this chainrule reads up to {CHECKPOINT_VERSION})")
    missing = [k for k in _REQUIRED_KEYS if k not in obj]
    if missing:
        raise CheckpointError(f"{where}: training checkpoint is missing "
                              f"{', '.join(map(repr, missing))}")
    prog = obj["progress"]
    if not isinstance(prog, dict) or not all(isinstance(prog.get(k), int)
                                             for k in ("epoch", "batch")):
        raise CheckpointError(f"{where}: bad 'progress' entry {prog!r}; expected "
                              f"{{'epoch': int, 'batch': int, ...}}")
    if not isinstance(obj["model"], dict) or not obj["model"]:
        raise CheckpointError(f"{where}: the 'model' entry is not a state dict")
    if not isinstance(obj["history"], list):
        raise CheckpointError(f"{where}: the 'history' entry is not a list")
    return obj


def _result_from(d: Mapping[str, Any], where: str) -> EpochResult:
    names = [f.name for f in fields(EpochResult)]
    try:
        kw = {n: d[n] for n in names}
        kw["epoch"] = int(kw["epoch"])
        for n in names[1:]:
            kw[n] = float(kw[n])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{where}: bad history row {d!r}: {e}") from e
    return EpochResult(**kw)


# ---------------------------------------------------------------------- trainer
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
        (data augmentation such as :class:`RandomShift`). Random transforms must draw
        from :func:`chainrule.random.get_rng` so that resuming stays exact.

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
                 transform: Callable[[Any], Any] | None = None) -> None:
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
            "optimizer_type": type(self.optimizer).__name__,
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
            mine = type(obj).__name__ if obj is not None else None
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
            raise FloatingPointError(
                f"training diverged: the loss is {loss_value} at epoch {self.epoch + 1}, "
                f"batch {self.batch + 1}; lower the learning rate")
        loss.backward()
        self._updating = True
        self.optimizer.step()
        self._updating = False
        out = logits.data
        correct = int(np.count_nonzero(np.argmax(out, axis=1) == _labels(yb)))
        return loss_value, correct, int(out.shape[0])

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
            if self._stop_requested:
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
        self._updating = True   # bookkeeping below must not be saved half done
        result = EpochResult(epoch=self.epoch + 1, train_loss=run.loss_sum / run.samples,
                             train_acc=run.correct / run.samples, test_loss=test_loss,
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


# ---------------------------------------------------------------------- BLAS threads
def _openblas_libraries() -> list[str]:
    """Paths of the OpenBLAS libraries loaded in this process (Linux), or shipped with
    NumPy's wheel (elsewhere)."""
    paths: list[str] = []
    with contextlib.suppress(OSError):
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split(maxsplit=5)
                if len(parts) == 6 and "openblas" in os.path.basename(parts[5]).lower():
                    paths.append(parts[5].strip())
    if not paths:
        base = Path(np.__file__).resolve().parent
        for d in (base.parent / "numpy.libs", base / ".dylibs"):
            if d.is_dir():
                paths += [str(p) for p in d.iterdir() if "openblas" in p.name.lower()]
    return list(dict.fromkeys(paths))


def _openblas_functions() -> list[tuple[Any, Any]]:
    """``(get_num_threads, set_num_threads)`` for each loaded OpenBLAS."""
    import ctypes
    found = []
    for path in _openblas_libraries():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in itertools.product(("scipy_", ""), ("64_", "_64", "")):
            get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
            put = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
            if get is not None and put is not None:
                get.restype = ctypes.c_int
                put.argtypes = [ctypes.c_int]
                found.append((get, put))
                break
    return found


@contextlib.contextmanager
def blas_threads(n: int | None) -> Any:
    """Run the block with NumPy's BLAS limited to ``n`` threads (``None``: unchanged).

    The matrix products of a small MLP are too small to gain much from a second thread,
    and on a busy machine BLAS threads that wait for a free core slow training down
    many times over (measured here: 5.5 s with one thread, 115 s with two, for the
    default ``chainrule train`` while other processes kept both cores busy). Uses
    threadpoolctl when it is installed, else OpenBLAS' own ``openblas_set_num_threads``
    (the BLAS of NumPy's wheels); with another BLAS it changes nothing. The previous
    setting is restored afterwards. Yields the BLAS thread count in effect, or
    ``None`` if it could not be controlled.
    """
    if n is None:
        yield None
        return
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"blas_threads: n must be a positive int or None, got {n!r}")
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        pass
    else:
        has_blas = any(i.get("user_api") == "blas" for i in threadpool_info())
        with threadpool_limits(limits=int(n), user_api="blas"):
            yield int(n) if has_blas else None
        return
    funcs = _openblas_functions()
    before = [get() for get, _ in funcs]
    for _, put in funcs:
        put(int(n))
    try:
        yield int(n) if funcs else None
    finally:
        for (_, put), old in zip(funcs, before):
            put(old)


# ---------------------------------------------------------------------- augmentation
class RandomShift:
    """Data augmentation: move each image by a random whole number of pixels.

    Every image of the batch is shifted independently by ``dy, dx`` drawn uniformly
    from ``-max_shift..max_shift`` (the uncovered border is filled with 0, the
    background of MNIST-like images). Small translations leave a digit's class
    unchanged, so the network sees "new" training images every epoch; on the 4,000
    digits of the embedded MNIST sample this is worth about 3 points of test accuracy
    for an MLP. Draws come from :func:`chainrule.random.get_rng`, so runs are
    reproducible and resuming from a checkpoint is exact.

    Parameters
    ----------
    max_shift:
        Largest shift in pixels (0 turns the augmentation off).
    image_shape:
        ``(height, width)`` of the images; inputs may be flat ``(N, H*W)`` rows or
        ``(N, H, W)``/``(N, 1, H, W)`` arrays or Tensors, and keep their shape.
    """

    def __init__(self, max_shift: int = 2, image_shape: tuple[int, int] = (28, 28)) -> None:
        if isinstance(max_shift, bool) or not isinstance(max_shift, (int, np.integer)) \
                or max_shift < 0:
            raise ValueError(f"RandomShift: max_shift must be an int >= 0, got {max_shift!r}")
        h, w = (int(v) for v in image_shape)
        if max_shift >= min(h, w):
            raise ValueError(f"RandomShift: max_shift {max_shift} is not smaller than the "
                             f"image size {h}x{w}")
        self.max_shift = int(max_shift)
        self.image_shape = (h, w)
        self._rows = np.arange(h)[None, :, None]
        self._cols = np.arange(w)[None, None, :]

    def __call__(self, x: Any) -> Any:
        """The shifted batch (a new Tensor for a Tensor input, else an ndarray)."""
        arr = x.data if isinstance(x, Tensor) else np.asarray(x)
        h, w = self.image_shape
        if arr.ndim < 2 or math.prod(arr.shape[1:]) != h * w:
            raise ValueError(f"RandomShift: expected a batch of {h}x{w} images (shape "
                             f"(N, {h * w}) or (N, {h}, {w})), got shape {arr.shape}")
        k = self.max_shift
        if k == 0:
            return x
        n = arr.shape[0]
        padded = np.zeros((n, h + 2 * k, w + 2 * k), dtype=arr.dtype)
        padded[:, k:k + h, k:k + w] = arr.reshape(n, h, w)
        rng = _random.get_rng()
        dy = rng.integers(0, 2 * k + 1, size=n)[:, None, None]
        dx = rng.integers(0, 2 * k + 1, size=n)[:, None, None]
        out = padded[np.arange(n)[:, None, None], dy + self._rows, dx + self._cols]
        out = out.reshape(arr.shape)
        return from_numpy(out) if isinstance(x, Tensor) else out

    def __repr__(self) -> str:
        return f"RandomShift(max_shift={self.max_shift}, image_shape={self.image_shape})"


# ---------------------------------------------------------------------- models
#: Activations :func:`build_mlp` knows.
ACTIVATIONS = ("relu", "sigmoid", "tanh")
#: Optimizers :func:`make_optimizer` knows, with the learning rate each defaults to.
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.01,
              "rmsprop": 1e-3, "adam": 1e-3, "adamw": 1e-3}
OPTIMIZERS = tuple(DEFAULT_LR)


def build_mlp(sizes: Sequence[int], activation: str = "relu", dtype: Any = np.float32,
              dropout: float = 0.0) -> Any:
    """A multilayer perceptron ``Linear, act, Linear, act, ..., Linear`` as a Sequential.

    ``sizes`` lists the layer widths from input to output (``[784, 256, 256, 10]``).
    Weights are initialised for the activation, as the seed notes recommend: He
    (``init.kaiming_uniform_``) for ReLU, Xavier (``init.xavier_uniform_``) for sigmoid
    and tanh; biases start at zero. Draws come from the global generator, so call
    ``cr.manual_seed`` first for a reproducible model. ``dropout > 0`` adds a Dropout
    after every hidden activation.
    """
    from . import nn
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise ValueError(f"build_mlp: sizes must be at least two positive widths (input, "
                         f"..., output), got {sizes}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"build_mlp: unknown activation {activation!r}; choose one of "
                         f"{', '.join(ACTIVATIONS)}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"build_mlp: dropout must be in [0, 1), got {dropout}")
    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[activation]
    layers: list[Any] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        lin = nn.Linear(n_in, n_out, dtype=dtype)
        if activation == "relu":
            nn.init.kaiming_uniform_(lin.weight, nonlinearity="relu")
        else:
            nn.init.xavier_uniform_(lin.weight, gain=nn.init.calculate_gain(activation))
        nn.init.zeros_(lin.bias)
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(act())
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def model_from_config(config: Mapping[str, Any], where: str = "checkpoint") -> Any:
    """Rebuild the MLP that ``chainrule train`` describes in a checkpoint's ``config``
    (``sizes``, ``activation``, ``dtype``, ``dropout``), with fresh weights.

    Raises :class:`~chainrule.serialization.CheckpointError` if the description is
    missing or malformed (e.g. a checkpoint written by your own training script, whose
    model only your script can rebuild).
    """
    try:
        sizes = [int(v) for v in config["sizes"]]
        activation = str(config["activation"])
        dtype = np.dtype(str(config["dtype"]))
        dropout = float(config.get("dropout", 0.0))
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(
            f"{where}: its config does not describe an MLP ({type(e).__name__}: {e}); "
            f"only checkpoints written by `chainrule train` can be rebuilt from the file "
            f"alone: build the model yourself and use model.load_state_dict("
            f"cr.load(path)['model'])") from e
    try:
        return build_mlp(sizes, activation, dtype, dropout)
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{where}: its config describes an invalid MLP: {e}") from e


def make_optimizer(name: str, params: Iterable[Any], lr: float | None = None,
                   weight_decay: float = 0.0, momentum: float = 0.9) -> Any:
    """An optimizer by name: ``sgd``, ``momentum`` (SGD with momentum), ``nesterov``,
    ``adagrad``, ``rmsprop``, ``adam`` or ``adamw``; ``lr=None`` takes
    :data:`DEFAULT_LR`."""
    from . import optim
    key = name.lower()
    if key not in DEFAULT_LR:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    lr = DEFAULT_LR[key] if lr is None else float(lr)
    if key == "sgd":
        return optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if key in ("momentum", "nesterov"):
        return optim.SGD(params, lr=lr, momentum=momentum, nesterov=key == "nesterov",
                         weight_decay=weight_decay)
    if key == "adagrad":
        return optim.Adagrad(params, lr=lr, weight_decay=weight_decay)
    if key == "rmsprop":
        return optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    if key == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return optim.AdamW(params, lr=lr, weight_decay=0.01 if weight_decay == 0 else weight_decay)


# ---------------------------------------------------------------------- output
def _fmt_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(c.rjust(w) for c, w in zip(cells, widths))


class EpochTable(Callback):
    """Print one row per epoch: epoch, train loss/accuracy, test loss/accuracy, time."""

    HEADER = ("epoch", "train loss", "train acc", "test loss", "test acc", "time")
    WIDTHS = (5, 10, 9, 9, 8, 7)

    def __init__(self, stream: IO[str] | None = None,
                 write: Callable[[str], None] | None = None) -> None:
        self.stream = stream
        self._write = write
        self._printed_header = False

    def write(self, line: str) -> None:
        """Print a line (through tqdm when a bar is active, so it is not clobbered)."""
        if self._write is not None:
            self._write(line)
        else:
            print(line, file=self.stream or sys.stdout, flush=True)

    @staticmethod
    def _pct(v: float) -> str:
        return "-" if math.isnan(v) else f"{100 * v:.2f}%"

    @staticmethod
    def _num(v: float) -> str:
        return "-" if math.isnan(v) else f"{v:.4f}"

    def header(self) -> None:
        """Print the header and a rule (once)."""
        if not self._printed_header:
            self.write(_fmt_row(self.HEADER, self.WIDTHS))
            self.write(_fmt_row(["-" * w for w in self.WIDTHS], self.WIDTHS))
            self._printed_header = True

    def row(self, r: EpochResult) -> None:
        """Print the row of one epoch."""
        self.header()
        self.write(_fmt_row([str(r.epoch), self._num(r.train_loss), self._pct(r.train_acc),
                             self._num(r.test_loss), self._pct(r.test_acc),
                             f"{r.seconds:.1f}s"], self.WIDTHS))

    def on_train_begin(self, trainer: Trainer) -> None:
        self.header()
        for r in trainer.history:   # when resuming: the epochs done before
            self.row(r)

    def on_epoch_end(self, trainer: Trainer, result: EpochResult) -> None:
        self.row(result)


class ProgressBar(Callback):
    """A progress bar per epoch with the running loss and samples per second.

    Uses tqdm when it is installed and ``stream`` is a terminal; otherwise (CI logs,
    files, pipes) prints a plain line every ``interval`` seconds and at the end of each
    epoch's training, so logs stay readable.
    """

    def __init__(self, stream: IO[str] | None = None, interval: float = 10.0,
                 use_tqdm: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.interval = float(interval)
        if use_tqdm is None:
            isatty = getattr(self.stream, "isatty", None)
            use_tqdm = bool(isatty and isatty())
        self._tqdm: Any = None
        if use_tqdm:
            try:
                from tqdm import tqdm
            except ImportError:  # fall back to plain lines
                tqdm = None
            self._tqdm = tqdm
        self._bar: Any = None
        self._last = 0.0
        self._epochs = 0

    @property
    def uses_tqdm(self) -> bool:
        """Whether a tqdm bar is shown (rather than plain lines)."""
        return self._tqdm is not None

    def write(self, line: str) -> None:
        """Print a line without breaking the bar."""
        if self._tqdm is not None:
            self._tqdm.write(line, file=sys.stdout)
        else:
            print(line, flush=True)

    def on_train_begin(self, trainer: Trainer) -> None:
        self._epochs = int(trainer.config.get("epochs", 0)) if trainer.config else 0

    def _desc(self, epoch: int) -> str:
        return f"epoch {epoch}/{self._epochs}" if self._epochs else f"epoch {epoch}"

    def on_epoch_begin(self, trainer: Trainer, epoch: int, start_batch: int) -> None:
        total = len(trainer.train_loader)
        self._last = time.perf_counter()
        if self._tqdm is not None:
            self._bar = self._tqdm(total=total, initial=start_batch, desc=self._desc(epoch),
                                   unit="batch", leave=False, file=self.stream,
                                   dynamic_ncols=True)
        elif start_batch:
            print(f"{self._desc(epoch)}: resuming at batch {start_batch + 1}/{total}",
                  file=self.stream, flush=True)

    def on_batch_end(self, trainer: Trainer, info: StepInfo) -> None:
        if self._bar is not None:
            self._bar.update(1)
            if info.batch % 5 == 0 or info.batch == info.num_batches:
                self._bar.set_postfix_str(f"loss {info.running_loss:.4f}, "
                                          f"{info.samples_per_s:,.0f} samples/s",
                                          refresh=False)
            return
        now = time.perf_counter()
        if now - self._last >= self.interval or info.batch == info.num_batches:
            self._last = now
            print(f"{self._desc(info.epoch)}: batch {info.batch}/{info.num_batches}, "
                  f"loss {info.running_loss:.4f}, acc {100 * info.running_acc:.2f}%, "
                  f"{info.samples_per_s:,.0f} samples/s", file=self.stream, flush=True)

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def on_evaluate_begin(self, trainer: Trainer, epoch: int) -> None:
        if self._bar is not None:
            self._bar.set_description_str(self._desc(epoch) + " (testing)")

    def on_epoch_end(self, trainer: Trainer, result: EpochResult) -> None:
        self._close()

    def on_train_end(self, trainer: Trainer) -> None:
        self._close()

    def on_interrupt(self, trainer: Trainer, error: TrainingInterrupted) -> None:
        self._close()


class CSVLogger(Callback):
    """Rewrite ``path`` (atomically) after every epoch with one row per epoch so far."""

    COLUMNS = tuple(f.name for f in fields(EpochResult))

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def write(self, history: Sequence[EpochResult]) -> None:
        """Write the header and every row of ``history``."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.COLUMNS)
        for r in history:
            d = r.as_dict()
            w.writerow([d["epoch"], *(repr(float(d[c])) for c in self.COLUMNS[1:])])
        with atomic_open(self.path, "w", newline="") as f:
            f.write(buf.getvalue())

    def on_train_begin(self, trainer: Trainer) -> None:
        self.write(trainer.history)

    def on_epoch_end(self, trainer: Trainer, result: EpochResult) -> None:
        self.write(trainer.history)


# ---------------------------------------------------------------------- plots
def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError("plotting needs matplotlib: pip install 'chainrule[plot]' "
                          "(or pass --no-plots to chainrule train)") from e
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    return plt


def _save_figure(fig: Any, path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    plt = _pyplot()
    try:
        with atomic_open(target, "wb") as f:
            fig.savefig(f, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return target


def plot_curves(history: Sequence[EpochResult], path: str | os.PathLike[str],
                title: str = "") -> Path:
    """Loss and accuracy per epoch, train and test, side by side, as a PNG."""
    if not history:
        raise ValueError("plot_curves: the history is empty (no finished epoch)")
    plt = _pyplot()
    ep = [r.epoch for r in history]
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(10, 4))
    ax_l.plot(ep, [r.train_loss for r in history], "o-", label="train")
    ax_l.plot(ep, [r.test_loss for r in history], "s-", label="test")
    ax_l.set_xlabel("epoch")
    ax_l.set_ylabel("loss (cross-entropy)")
    ax_l.set_title("loss")
    ax_l.legend()
    ax_l.grid(alpha=0.3)
    ax_a.plot(ep, [100 * r.train_acc for r in history], "o-", label="train")
    ax_a.plot(ep, [100 * r.test_acc for r in history], "s-", label="test")
    ax_a.set_xlabel("epoch")
    ax_a.set_ylabel("accuracy (%)")
    ax_a.set_title("accuracy")
    ax_a.legend()
    ax_a.grid(alpha=0.3)
    for ax in (ax_l, ax_a):
        ax.xaxis.get_major_locator().set_params(integer=True)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save_figure(fig, path)


def plot_confusion(cm: np.ndarray, classes: Sequence[str], path: str | os.PathLike[str],
                   title: str = "confusion matrix") -> Path:
    """The confusion matrix ``cm[true, predicted]`` as a PNG (colour: share of the row)."""
    cm = np.asarray(cm)
    k = len(classes)
    if cm.shape != (k, k):
        raise ValueError(f"plot_confusion: matrix of shape {cm.shape} for {k} classes")
    plt = _pyplot()
    rows = cm.sum(axis=1, keepdims=True)
    share = cm / np.maximum(rows, 1)
    size = max(5.0, 0.55 * k + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    ax.set_xticks(range(k), labels=list(classes), rotation=45 if max(map(len, classes)) > 2
                  else 0, ha="right" if max(map(len, classes)) > 2 else "center")
    ax.set_yticks(range(k), labels=list(classes))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    acc = np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(f"{title} (accuracy {100 * acc:.2f}%)")
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=8,
                        color="white" if share[i, j] > 0.5 else "black")
    fig.tight_layout()
    return _save_figure(fig, path)


def plot_samples(images: np.ndarray, predictions: np.ndarray, targets: np.ndarray,
                 classes: Sequence[str], path: str | os.PathLike[str], *,
                 count: int = 40, columns: int = 10, indices: np.ndarray | None = None,
                 title: str = "") -> Path:
    """A grid of test images titled ``predicted/true``; wrong predictions in red.

    ``images`` are the flattened (or 2-D) images of the test set, in the order of
    ``predictions``. Without ``indices``, the grid shows the first ``count`` images,
    with up to a quarter of the slots given to misclassified images from further on,
    so that mistakes are visible.
    """
    images = np.asarray(images)
    n = len(predictions)
    if len(images) != n or len(targets) != n:
        raise ValueError(f"plot_samples: {len(images)} images, {n} predictions and "
                         f"{len(targets)} targets; they must match")
    if indices is None:
        count = min(count, n)
        wrong = np.flatnonzero(predictions != targets)
        n_wrong = min(count // 4, int(np.count_nonzero(wrong >= count - count // 4)))
        head = count - n_wrong
        extra = wrong[wrong >= head][:n_wrong]
        indices = np.concatenate([np.arange(head), extra]).astype(np.int64)
        if len(extra) and not title:
            title = (f"test images {1}-{head}, then {len(extra)} misclassified ones from "
                     f"further on: predicted/true (wrong in red)")
    side = round(math.sqrt(images[0].size))
    plt = _pyplot()
    rows = -(-len(indices) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.2 * columns, 1.45 * rows),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), indices):
        ax.imshow(images[i].reshape(side, side), cmap="gray_r")
        ok = predictions[i] == targets[i]
        ax.set_title(f"{classes[predictions[i]]}/{classes[targets[i]]}", fontsize=8,
                     color="black" if ok else "red")
    fig.suptitle(title or "test images: predicted/true (wrong in red)", fontsize=10)
    fig.tight_layout()
    return _save_figure(fig, path)
