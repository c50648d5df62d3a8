"""Samplers: which sample indices a :class:`~chainrule.data.DataLoader` visits per epoch.

A sampler is any object with ``__iter__`` (the indices of the current epoch, in order),
``__len__`` (how many) and ``set_epoch(epoch)``. The loader calls ``set_epoch`` before
each epoch; a sampler that also has ``indices(epoch) -> ndarray`` is read through it
(no Python loop per index). Optional hooks the loader uses when present:
``state_dict()``/``load_state_dict(state, mid_epoch=...)`` (saved inside the loader's
state, for exact resuming) and ``check_loader(dataset_size, batch_size, drop_last)``
(called once by the loader's constructor). :class:`SequentialSampler` and
:class:`RandomSampler` are the loader's defaults (``shuffle=False``/``True``);
``chainrule.distributed.DistributedSampler`` plugs in the same way.

The shuffled order of an epoch is :func:`epoch_permutation`, a pure function of
``(seed, epoch)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .._check import is_int

__all__ = ["RandomSampler", "Sampler", "SequentialSampler", "draw_seed", "epoch_permutation"]


@runtime_checkable
class Sampler(Protocol):
    """What :class:`~chainrule.data.DataLoader` needs of a ``sampler=``."""

    def __iter__(self) -> Iterator[int]: ...

    def __len__(self) -> int: ...

    def set_epoch(self, epoch: int) -> None: ...


def epoch_permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled order of ``n`` samples in ``epoch``: ``default_rng([seed, epoch])``.

    Nothing else (how many loaders exist, what else drew random numbers) affects it,
    which is what makes resuming exact and lets every MPI rank agree on one order.
    """
    return np.random.default_rng([int(seed), int(epoch)]).permutation(int(n))


def draw_seed() -> int:
    """A shuffling seed drawn from the global generator (so ``cr.manual_seed`` fixes it)."""
    from ..random import get_rng
    return int(get_rng().integers(0, 2**63))


def check_count(value: Any, what: str, where: str, *, minimum: int = 0) -> int:
    """``value`` as an int if it is an integer (not a bool) >= ``minimum``, else ValueError."""
    if not is_int(value) or value < minimum:
        kind = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{where}: {what} must be a {kind} int, got {value!r}")
    return int(value)


class _EpochSampler:
    """Shared by the default samplers: ``num_samples``, the epoch, iteration."""

    def __init__(self, num_samples: int) -> None:
        self.num_samples = check_count(num_samples, "num_samples", type(self).__name__)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Make :meth:`__iter__` yield the order of ``epoch``."""
        self.epoch = check_count(epoch, "epoch", "set_epoch")

    def indices(self, epoch: int) -> np.ndarray:
        """The sample order of ``epoch``."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices(self.epoch).tolist())

    def __len__(self) -> int:
        return self.num_samples


class SequentialSampler(_EpochSampler):
    """``0, 1, ..., num_samples - 1`` in every epoch (``DataLoader(shuffle=False)``)."""

    def indices(self, epoch: int) -> np.ndarray:
        """``arange(num_samples)``, whatever the epoch."""
        return np.arange(self.num_samples)

    def __repr__(self) -> str:
        return f"SequentialSampler({self.num_samples} samples)"


class RandomSampler(_EpochSampler):
    """A new permutation each epoch, :func:`epoch_permutation` of ``(seed, epoch)``.

    ``DataLoader(shuffle=True, seed=s)`` uses ``RandomSampler(len(dataset), s)``.
    """

    def __init__(self, num_samples: int, seed: int) -> None:
        super().__init__(num_samples)
        self.seed = check_count(seed, "seed", "RandomSampler")

    def indices(self, epoch: int) -> np.ndarray:
        """The permutation of ``epoch`` (a pure function of ``seed`` and ``epoch``)."""
        return epoch_permutation(self.num_samples, self.seed, epoch)

    def __repr__(self) -> str:
        return f"RandomSampler({self.num_samples} samples, seed={self.seed})"
