"""DataLoader: minibatches of a dataset, in an order a sampler decides, as Tensors.

The default order is reproducible: epoch ``e`` of ``DataLoader(..., shuffle=True,
seed=s)`` is :func:`~chainrule.data.sampler.epoch_permutation` of ``(s, e)``, a pure
function of the seed and the epoch, so a run resumed from :meth:`DataLoader.state_dict`
sees exactly the batches it would have seen, even from the middle of an epoch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from .._check import is_int
from .._tensor import Tensor, from_numpy
from .datasets import ArrayDataset
from .sampler import RandomSampler, SequentialSampler, check_count, draw_seed

__all__ = ["DataLoader"]


class DataLoader:
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
    sampler:
        Which indices each epoch visits, instead of ``shuffle``/``seed``: an object with
        ``__iter__``, ``__len__`` and ``set_epoch`` (see :mod:`chainrule.data.sampler`),
        e.g. ``chainrule.distributed.DistributedSampler`` for this rank's shard.
    tensors:
        Yield :class:`chainrule.Tensor` batches (default) or plain ndarrays.
    collate_fn:
        ``collate_fn(samples) -> batch``, called with the list of ``dataset[i]`` of each
        batch (PyTorch's argument): padding sequences, building dicts. Its result is
        yielded as it is (``tensors`` does not apply). Without it, samples (tuples of
        any length: ``(x, y)``, or a ``TensorDataset``'s) are stacked per position.

    Each iteration (``for x, y in loader``) is one epoch and advances the epoch number;
    :meth:`set_epoch` picks the epoch explicitly. ``len(loader)`` is the number of
    batches per epoch. Labels keep their dtype (``int64`` for the built-in datasets).
    """

    def __init__(self, dataset: Any, batch_size: int = 64, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = None, *,
                 sampler: Any = None, tensors: bool = True,
                 collate_fn: Any = None) -> None:
        if not is_int(batch_size) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got "
                             f"{batch_size!r}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable (it gets the list of "
                            f"samples of a batch), got a {type(collate_fn).__name__}")
        self.collate_fn = collate_fn
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.drop_last = bool(drop_last)
        self.tensors = tensors
        if sampler is not None:
            if shuffle or seed is not None:
                raise ValueError("DataLoader: give either sampler= or shuffle=/seed=, not "
                                 "both; the sampler decides the order, so pass shuffle and "
                                 "seed to the sampler (e.g. DistributedSampler(dataset, "
                                 "shuffle=True, seed=0))")
            missing = [m for m in ("__iter__", "__len__", "set_epoch")
                       if not hasattr(sampler, m)]
            if missing:
                raise TypeError(f"DataLoader: sampler must have __iter__, __len__ and "
                                f"set_epoch; a {type(sampler).__name__} lacks "
                                f"{', '.join(missing)}")
            self._seed: int | None = None
            self.sampler = sampler
            check = getattr(sampler, "check_loader", None)
            if check is not None:
                check(len(dataset), self.batch_size, self.drop_last)
        else:
            if seed is None:
                seed = draw_seed()
            elif not is_int(seed) \
                    or seed < 0:
                raise ValueError(f"DataLoader: seed must be a non-negative int, got "
                                 f"{seed!r}")
            self._seed = int(seed)
            self.sampler = (RandomSampler(len(dataset), self._seed) if shuffle
                            else SequentialSampler(len(dataset)))
        self._custom = sampler is not None
        self._next_epoch = 0   # epoch the next iteration will run
        self._skip = 0         # batches to skip at the start of it (resume mid-epoch)
        self._active: tuple[int, int] | None = None  # (epoch, batches done) while running

    # ------------------------------------------------------------------ order
    @property
    def shuffle(self) -> bool:
        """Whether the order changes from epoch to epoch (the sampler's ``shuffle``)."""
        if self._custom:
            return bool(getattr(self.sampler, "shuffle", False))
        return isinstance(self.sampler, RandomSampler)

    @property
    def seed(self) -> int | None:
        """The shuffling seed (the sampler's, or ``None`` if it has none)."""
        if self._custom:
            return getattr(self.sampler, "seed", None)
        return self._seed

    def indices(self, epoch: int) -> np.ndarray:
        """The sample order of ``epoch`` (for the default samplers a pure function of
        ``seed`` and ``epoch``)."""
        order = getattr(self.sampler, "indices", None)
        if order is not None:
            return np.asarray(order(int(epoch)))
        self.sampler.set_epoch(int(epoch))
        return np.fromiter(iter(self.sampler), dtype=np.intp)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration run epoch ``epoch`` (from its first batch)."""
        self._next_epoch = check_count(epoch, "epoch", "set_epoch")
        self._skip = 0

    @property
    def epoch(self) -> int:
        """The epoch being iterated, or between epochs the one the next iteration runs."""
        return self._active[0] if self._active is not None else self._next_epoch

    # ------------------------------------------------------------------ sizes
    @property
    def num_samples(self) -> int:
        """Samples per epoch: the dataset's size, or the sampler's share of it."""
        return len(self.sampler)

    def __len__(self) -> int:
        """Batches per epoch."""
        n, b = self.num_samples, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Where the loader is: ``{"seed", "epoch", "batch", ...}`` (plain values).

        ``epoch``/``batch`` say which epoch is running and how many of its batches have
        been handed out (between epochs: the next epoch and 0); ``num_samples`` is the
        dataset's size. With a ``sampler=`` that has a ``state_dict``, its state is
        under ``"sampler"``. Save it in a checkpoint (``cr.save`` stores it) to resume
        with :meth:`load_state_dict`.
        """
        epoch, batch = self._active if self._active is not None else (self._next_epoch,
                                                                        self._skip)
        state: dict[str, Any] = {
            "seed": self.seed, "epoch": epoch, "batch": batch,
            "batch_size": self.batch_size, "shuffle": self.shuffle,
            "drop_last": self.drop_last, "num_samples": len(self.dataset)}
        sampler_state = getattr(self.sampler, "state_dict", None)
        if self._custom and sampler_state is not None:
            state["sampler"] = sampler_state()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume from :meth:`state_dict`: the next iteration continues that epoch at the
        batch after the last one handed out, with the same order.

        Raises ``ValueError`` if the dataset size or batching differs from when the state
        was saved (the batches would not be the same), or if the sampler refuses it.
        """
        for key, mine in (("num_samples", len(self.dataset)),
                          ("batch_size", self.batch_size), ("shuffle", self.shuffle),
                          ("drop_last", self.drop_last)):
            if key in state and state[key] != mine:
                raise ValueError(f"DataLoader.load_state_dict: saved {key}={state[key]!r} "
                                 f"but this loader has {mine!r}; the batches would not "
                                 f"match the saved run")
        try:
            epoch, batch = int(state["epoch"]), int(state["batch"])
            seed = None if self._custom else int(state["seed"])
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"DataLoader.load_state_dict: bad state {dict(state)!r}") from e
        if (seed is not None and seed < 0) or epoch < 0 or batch < 0:
            raise ValueError(f"DataLoader.load_state_dict: out-of-range state "
                             f"{dict(state)!r}")
        restore = getattr(self.sampler, "load_state_dict", None)
        if self._custom and restore is not None and "sampler" in state:
            restore(state["sampler"], mid_epoch=batch > 0)
        if batch > len(self):
            raise ValueError(f"DataLoader.load_state_dict: out-of-range state "
                             f"{dict(state)!r}")
        if seed is not None:
            self._seed = seed
            if isinstance(self.sampler, RandomSampler):
                self.sampler.seed = seed
        self._next_epoch = epoch
        self._skip = batch
        self._active = None

    # ------------------------------------------------------------------ iteration
    def _batch(self, idx: np.ndarray | slice) -> Any:
        rng = range(idx.start, idx.stop) if isinstance(idx, slice) else idx.tolist()
        if self.collate_fn is not None:
            return self.collate_fn([self.dataset[i] for i in rng])
        get_batch = getattr(self.dataset, "get_batch", None)
        if get_batch is not None:
            return get_batch(idx)
        samples = [self.dataset[i] for i in rng]
        if not isinstance(samples[0], (tuple, list)):
            return np.stack([np.asarray(getattr(s, "data", s)) for s in samples])
        return tuple(np.stack([np.asarray(getattr(s[k], "data", s[k])) for s in samples])
                     for k in range(len(samples[0])))

    def __iter__(self) -> Iterator[Any]:
        """One epoch of batches: ``(x, y)`` (a tuple per sample position), or what
        ``collate_fn`` returns."""
        if self.tensors:
            # ArrayDataset.get_batch and the stacking fallback return fresh arrays, so
            # they can be wrapped without another copy; other get_batch methods might
            # return views of their storage, which Tensor() copies.
            fresh = isinstance(self.dataset, ArrayDataset) or \
                not hasattr(self.dataset, "get_batch")
            wrap: Any = from_numpy if fresh else Tensor
        else:
            def wrap(a: np.ndarray) -> np.ndarray:
                return a
        epoch, start = self._next_epoch, self._skip
        self._next_epoch, self._skip = epoch + 1, 0
        return self._run(epoch, start, wrap)

    def _run(self, epoch: int, start: int, wrap: Any) -> Iterator[Any]:
        self.sampler.set_epoch(epoch)
        # The sequential default reads contiguous slices (no index array, no gather).
        order = None if isinstance(self.sampler, SequentialSampler) else self.indices(epoch)
        n, b = self.num_samples, self.batch_size
        self._active = (epoch, start)
        try:
            for i in range(start, len(self)):
                lo, hi = i * b, min((i + 1) * b, n)
                idx: np.ndarray | slice = slice(lo, hi) if order is None else order[lo:hi]
                batch = self._batch(idx)
                self._active = (epoch, i + 1)
                if self.collate_fn is not None:
                    yield batch
                elif isinstance(batch, tuple):
                    yield tuple(wrap(np.asarray(b)) for b in batch)
                else:
                    yield wrap(np.asarray(batch))
        finally:
            self._active = None

    def __repr__(self) -> str:
        name = getattr(self.dataset, "description", None) or type(self.dataset).__name__
        head = (f"DataLoader({name}; {self.num_samples} samples, batch_size="
                f"{self.batch_size}, {len(self)} batches")
        if self._custom:
            return (f"{head}, drop_last={self.drop_last}, sampler={self.sampler!r}, "
                    f"epoch={self.epoch})")
        return (f"{head}, shuffle={self.shuffle}, drop_last={self.drop_last}, "
                f"seed={self.seed}, epoch={self.epoch})")
