"""What training reports: per-epoch and per-step records, evaluation, interruption."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._tensor import Tensor
from ..autograd import no_grad

__all__ = ["EpochResult", "Evaluation", "StepInfo", "TrainingInterrupted", "evaluate"]


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

