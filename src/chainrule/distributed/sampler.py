"""DistributedSampler: each rank's disjoint shard of one seeded permutation."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from .._check import is_int
from ..data.sampler import check_count, draw_seed, epoch_permutation
from ..errors import DistributedError
from .comm import get_comm
from .watchdog import collective

__all__ = ["DistributedSampler"]


def _disagreement(c: Any, mine: tuple[Any, ...], where: str, names: str,
                  advice: str) -> None:
    """Raise DistributedError on every rank unless all ranks passed ``mine``."""
    with collective(c, where):
        everyone = c.allgather(mine)
    if any(e != mine for e in everyone):
        rows = "; ".join(f"rank {r}: {e}" for r, e in enumerate(everyone))
        raise DistributedError(f"{where}: the ranks disagree on ({names}): {rows}; {advice}")


class DistributedSampler:
    """Which samples this rank visits in each epoch: a disjoint shard of one permutation.

    A sampler for :class:`~chainrule.data.DataLoader`::

        loader = DataLoader(train, 32, sampler=DistributedSampler(train, seed=0))

    gives this rank's batches of 32 (the *local* batch; the global batch is
    ``32 * world_size``). Every rank computes the same order of the whole dataset from
    ``(seed, epoch)`` (:func:`~chainrule.data.sampler.epoch_permutation`, the order of
    ``DataLoader(dataset, shuffle=True, seed=seed)``) and takes every
    ``world_size``-th sample of it, starting at its rank. So when the dataset's length
    is a multiple of ``world_size``, the ranks' ``i``-th batches of ``B`` samples
    together are exactly batch ``i`` of a one-process DataLoader with batch size
    ``world_size * B``: data-parallel training sees the same global batches.

    Equal shards: when the length ``n`` is not a multiple of ``world_size``,

    * ``pad=True`` (default) appends the first ``world_size - n % world_size`` samples
      of the order again, so every sample is seen each epoch and a few twice;
    * ``pad=False`` drops the last ``n % world_size`` samples of the order (different
      ones each epoch when shuffling).

    Either way every rank gets ``len(sampler)`` samples, hence the same number of steps.

    Parameters
    ----------
    dataset:
        The dataset (anything with ``len()``) or its length, the same on every rank.
    shuffle:
        A new order each epoch (default) or the dataset's order.
    seed:
        The shuffling seed, the same on every rank. ``None``: rank 0 draws one from its
        global generator and sends it to the others.
    pad:
        Pad (default) or drop to make the shards equal; see above.
    rank, world_size:
        Override the MPI world (both or neither), e.g. to compute another rank's shard.
        Then nothing is communicated, and ``seed`` must be given when shuffling.
    comm:
        The communicator (default: that of :func:`~chainrule.distributed.init`).

    Unless ``rank``/``world_size`` are given, the constructor is a collective call: it
    checks that every rank has the same dataset length, shuffle, seed and pad, and a
    DataLoader built on it checks that every rank has the same ``batch_size`` and
    ``drop_last``, raising :class:`~chainrule.errors.DistributedError` otherwise.
    """

    def __init__(self, dataset: Any, *, shuffle: bool = True, seed: int | None = None,
                 pad: bool = True, rank: int | None = None, world_size: int | None = None,
                 comm: Any = None) -> None:
        where = "DistributedSampler"
        n = dataset if isinstance(dataset, (int, np.integer)) else len(dataset)
        n = check_count(n, "num_samples", where, minimum=1)
        if (rank is None) != (world_size is None):
            raise ValueError(f"{where}: give both rank and world_size, or neither (then "
                             f"they come from the MPI world)")
        if seed is not None:
            seed = check_count(seed, "seed", where)
        self._comm: Any = None
        if rank is None or world_size is None:
            c = get_comm(comm)
            if seed is None:
                with collective(c, where):
                    seed = c.bcast(draw_seed() if c.Get_rank() == 0 else None, root=0)
            _disagreement(c, (n, bool(shuffle), seed if shuffle else None, bool(pad)),
                          where, "dataset length, shuffle, seed, pad",
                          "every rank must build the sampler over the same dataset with "
                          "the same arguments")
            rank, world_size = c.Get_rank(), c.Get_size()
            self._comm = c
        elif seed is None:
            if shuffle:
                raise ValueError(f"{where}: with explicit rank/world_size, pass seed= (it "
                                 f"must be the same for every rank)")
            seed = 0
        w = check_count(world_size, "world_size", where, minimum=1)
        if not is_int(rank) \
                or not 0 <= rank < w:
            raise ValueError(f"{where}: rank must be in 0..{w - 1}, got {rank!r}")
        if not pad and n < w:
            raise ValueError(f"{where}: {n} samples cannot be split over {w} ranks without "
                             f"padding; use pad=True or fewer ranks")
        self.dataset_size = n
        self.rank = int(rank)
        self.world_size = w
        self.shuffle = bool(shuffle)
        self.pad = bool(pad)
        self.seed = check_count(seed, "seed", where)
        self.total_size = -(-n // w) * w if self.pad else (n // w) * w
        self.epoch = 0

    # ------------------------------------------------------------------ the sampler protocol
    def __len__(self) -> int:
        """Samples per rank and epoch (the same on every rank)."""
        return self.total_size // self.world_size

    def set_epoch(self, epoch: int) -> None:
        """Make :meth:`__iter__` yield the shard of ``epoch`` (the loader calls it)."""
        self.epoch = check_count(epoch, "epoch", "set_epoch")

    def __iter__(self) -> Iterator[int]:
        """This rank's indices in the current epoch."""
        return iter(self.indices(self.epoch).tolist())

    # ------------------------------------------------------------------ order
    def global_order(self, epoch: int) -> np.ndarray:
        """The padded (or cut) order of the whole dataset in ``epoch``, before sharding."""
        n = self.dataset_size
        order = epoch_permutation(n, self.seed, epoch) if self.shuffle else np.arange(n)
        if self.total_size <= order.size:
            return order[:self.total_size]
        return np.resize(order, self.total_size)  # repeats the order from its start

    def indices(self, epoch: int) -> np.ndarray:
        """This rank's sample indices in ``epoch``, in the order they are visited."""
        return self.global_order(epoch)[self.rank::self.world_size]

    # ------------------------------------------------------------------ loader hooks
    def check_loader(self, dataset_size: int, batch_size: int, drop_last: bool) -> None:
        """Called by ``DataLoader(..., sampler=self)``: the ranks must batch alike.

        Collective unless ``rank``/``world_size`` were given: different batch sizes
        would give the ranks different numbers of steps, and one would wait forever.
        """
        where = "DataLoader with a DistributedSampler"
        if self._comm is not None:
            _disagreement(self._comm, (int(dataset_size), int(batch_size), bool(drop_last)),
                          where, "dataset length, batch_size, drop_last",
                          "every rank must run the same number of steps")
        if dataset_size != self.dataset_size:
            raise ValueError(f"{where}: the dataset has {dataset_size} samples but the "
                             f"sampler was made for {self.dataset_size}")

    def state_dict(self) -> dict[str, Any]:
        """The order's parameters (the rank is not part of it: rank 0's resumes all)."""
        return {"seed": self.seed, "shuffle": self.shuffle, "pad": self.pad,
                "dataset_size": self.dataset_size, "world_size": self.world_size,
                "num_samples": len(self)}

    def load_state_dict(self, state: Mapping[str, Any], *, mid_epoch: bool = False) -> None:
        """Take the seed of :meth:`state_dict`; the loader passes ``mid_epoch``.

        Raises ``ValueError`` if the dataset, shuffling or padding differs, or if the
        state is from the middle of an epoch run with a different number of ranks (its
        batches would not line up).
        """
        where = "DistributedSampler.load_state_dict"
        for key, mine in (("dataset_size", self.dataset_size), ("shuffle", self.shuffle),
                          ("pad", self.pad)):
            if key in state and state[key] != mine:
                raise ValueError(f"{where}: saved {key}={state[key]!r} but this sampler has "
                                 f"{mine!r}; the batches would not match the saved run")
        try:
            seed = check_count(state["seed"], "seed", where)
        except (KeyError, TypeError) as e:
            raise ValueError(f"{where}: bad state {dict(state)!r}") from e
        if mid_epoch and state.get("world_size") != self.world_size:
            raise ValueError(f"{where}: the state is from the middle of an epoch run on "
                             f"{state.get('world_size', 1)} rank(s), and this run has "
                             f"{self.world_size}; resume with the same number of ranks, or "
                             f"from an end-of-epoch state")
        self.seed = seed

    def __repr__(self) -> str:
        return (f"DistributedSampler({self.dataset_size} samples, rank {self.rank} of "
                f"{self.world_size}, {len(self)} per rank, shuffle={self.shuffle}, "
                f"seed={self.seed}, pad={self.pad})")
