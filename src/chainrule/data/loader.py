"""DataLoader: minibatches of a dataset, shuffled reproducibly, as Tensors.

The order of an epoch is a pure function of ``(seed, epoch)``: epoch ``e`` uses
``np.random.default_rng([seed, e]).permutation(n)``. Nothing else (how many loaders
exist, what else drew random numbers) affects it, so a run resumed from a checkpoint
sees exactly the batches it would have seen: save :meth:`DataLoader.state_dict` with
the model and call :meth:`DataLoader.load_state_dict` when resuming, even in the middle
of an epoch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .datasets import ArrayDataset

__all__ = ["DataLoader"]


def _tensor_factories() -> tuple[Any, Any]:
    """``(Tensor, from_numpy)``; ``from_numpy`` is ``None`` if the core lacks it."""
    from .._tensor import Tensor
    try:
        from .._tensor import from_numpy
    except ImportError:
        return Tensor, None
    return Tensor, from_numpy


class EpochCursor:
    """Which epoch (and batch within it) a loader is at; shared by the loaders.

    Subclasses keep ``_next_epoch`` (the epoch the next iteration runs), ``_skip``
    (batches of it already handed out, when resuming) and ``_active`` (``(epoch,
    batch)`` while an iteration runs, else ``None``).
    """

    _next_epoch: int = 0
    _skip: int = 0
    _active: tuple[int, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration run epoch ``epoch`` (from its first batch)."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"set_epoch: epoch must be a non-negative int, got {epoch!r}")
        self._next_epoch = int(epoch)
        self._skip = 0

    @property
    def epoch(self) -> int:
        """The epoch being iterated, or between epochs the one the next iteration runs."""
        return self._active[0] if self._active is not None else self._next_epoch


class DataLoader(EpochCursor):
    """Iterate over a dataset in minibatches ``(x, y)``.

    Parameters
    ----------
    dataset:
        Anything with ``len()`` and ``dataset[i] -> (x, y)``. Datasets with a
        ``get_batch(indices)`` method (every :class:`~chainrule.data.ArrayDataset`)
        are batched by fancy indexing, with no Python loop per sample; others are
        stacked sample by sample.
    batch_size:
        Samples per batch (the last batch may be smaller unless ``drop_last``).
    shuffle:
        Visit the samples in a new random order each epoch.
    drop_last:
        Skip the last batch if it is smaller than ``batch_size``.
    seed:
        Seed of the shuffling. ``None`` (default) draws one from the global generator
        (:func:`chainrule.random.get_rng`) when the loader is made, so ``cr.manual_seed``
        makes the order reproducible.
    tensors:
        Yield :class:`chainrule.Tensor` batches (default) or plain ndarrays.

    Each iteration (``for x, y in loader``) is one epoch and advances the epoch number;
    :meth:`set_epoch` picks the epoch explicitly. ``len(loader)`` is the number of
    batches per epoch. Labels keep their dtype (``int64`` for the built-in datasets).
    """

    def __init__(self, dataset: Any, batch_size: int = 64, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = None, *,
                 tensors: bool = True) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got "
                             f"{batch_size!r}")
        if seed is None:
            from ..random import get_rng
            seed = int(get_rng().integers(0, 2**63))
        elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"DataLoader: seed must be a non-negative int, got {seed!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = int(seed)
        self.tensors = tensors
        self._next_epoch = 0   # epoch the next iteration will run
        self._skip = 0         # batches to skip at the start of it (resume mid-epoch)
        self._active: tuple[int, int] | None = None  # (epoch, batches done) while running

    # ------------------------------------------------------------------ sizes
    @property
    def num_samples(self) -> int:
        """The number of samples in the dataset."""
        return len(self.dataset)

    def __len__(self) -> int:
        """Batches per epoch."""
        n, b = self.num_samples, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    # ------------------------------------------------------------------ order
    def indices(self, epoch: int) -> np.ndarray:
        """The sample order of ``epoch`` (a pure function of ``seed`` and ``epoch``)."""
        n = self.num_samples
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, int(epoch)]).permutation(n)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Where the loader is: ``{"seed", "epoch", "batch", ...}`` (plain ints/bools).

        ``epoch``/``batch`` say which epoch is running and how many of its batches have
        been handed out (between epochs: the next epoch and 0). Save it in a checkpoint
        (``cr.save`` stores it) to resume with :meth:`load_state_dict`.
        """
        epoch, batch = self._active if self._active is not None else (self._next_epoch,
                                                                        self._skip)
        return {"seed": self.seed, "epoch": epoch, "batch": batch,
                "batch_size": self.batch_size, "shuffle": self.shuffle,
                "drop_last": self.drop_last, "num_samples": self.num_samples}

    @property
    def state(self) -> dict[str, Any]:
        """Same as :meth:`state_dict`."""
        return self.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict`: the next iteration continues that epoch at the
        batch after the last one handed out, with the same order.

        Raises ``ValueError`` if the dataset size or batching differs from when the state
        was saved (the batches would not be the same).
        """
        for key in ("num_samples", "batch_size", "shuffle", "drop_last"):
            if key in state and state[key] != getattr(self, key):
                raise ValueError(f"DataLoader.load_state_dict: saved {key}={state[key]!r} "
                                 f"but this loader has {getattr(self, key)!r}; the batches "
                                 f"would not match the saved run")
        try:
            seed, epoch, batch = int(state["seed"]), int(state["epoch"]), int(state["batch"])
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"DataLoader.load_state_dict: bad state {state!r}") from e
        if seed < 0 or epoch < 0 or not 0 <= batch <= len(self):
            raise ValueError(f"DataLoader.load_state_dict: out-of-range state {state!r}")
        self.seed = seed
        self._next_epoch = epoch
        self._skip = batch
        self._active = None

    # ------------------------------------------------------------------ iteration
    def _batch(self, idx: np.ndarray | slice) -> tuple[Any, Any]:
        get_batch = getattr(self.dataset, "get_batch", None)
        if get_batch is not None:
            return get_batch(idx)
        rng = range(idx.start, idx.stop) if isinstance(idx, slice) else idx.tolist()
        pairs = [self.dataset[i] for i in rng]
        xs = np.stack([np.asarray(getattr(x, "data", x)) for x, _ in pairs])
        ys = np.stack([np.asarray(getattr(y, "data", y)) for _, y in pairs])
        return xs, ys

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        """One epoch of batches ``(x, y)``."""
        if self.tensors:
            tensor_cls, from_numpy = _tensor_factories()
            # ArrayDataset.get_batch and the stacking fallback return fresh arrays, so
            # they can be wrapped without another copy; other get_batch methods might
            # return views of their storage, which Tensor() copies.
            fresh = isinstance(self.dataset, ArrayDataset) or \
                not hasattr(self.dataset, "get_batch")
            wrap = from_numpy if fresh and from_numpy is not None else tensor_cls
        else:
            def wrap(a: np.ndarray) -> np.ndarray:
                return a
        epoch, start = self._next_epoch, self._skip
        self._next_epoch, self._skip = epoch + 1, 0
        return self._run(epoch, start, wrap)

    def _run(self, epoch: int, start: int, wrap: Any) -> Iterator[tuple[Any, Any]]:
        order = self.indices(epoch) if self.shuffle else None
        n, b = self.num_samples, self.batch_size
        self._active = (epoch, start)
        try:
            for i in range(start, len(self)):
                lo, hi = i * b, min((i + 1) * b, n)
                idx: np.ndarray | slice = slice(lo, hi) if order is None else order[lo:hi]
                xb, yb = self._batch(idx)
                self._active = (epoch, i + 1)
                yield wrap(np.asarray(xb)), wrap(np.asarray(yb))
        finally:
            self._active = None

    def __repr__(self) -> str:
        name = getattr(self.dataset, "description", None) or type(self.dataset).__name__
        return (f"DataLoader({name}; {self.num_samples} samples, batch_size="
                f"{self.batch_size}, {len(self)} batches, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, seed={self.seed}, epoch={self.epoch})")
