"""Hooks :class:`~chainrule.train.Trainer` calls, and the ready-made ones: a table per
epoch, a progress bar and a CSV log."""

from __future__ import annotations

import csv
import io
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .._io import atomic_open
from .metrics import EpochResult, StepInfo, TrainingInterrupted

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = ["CSVLogger", "Callback", "EpochTable", "ProgressBar"]


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

