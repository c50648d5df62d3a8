"""DistributedSampler: shards computed for every rank in this one process.

Sharding is checked for many (dataset size, ranks, batch) combinations by computing
every rank's shard here (``rank=``/``world_size=`` given explicitly, which needs no
MPI), alone and inside a :class:`chainrule.data.DataLoader`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
import chainrule.distributed as dist
from chainrule.data import DataLoader
from chainrule.data.sampler import epoch_permutation

from .helpers import dataset


def shard_loader(ds: object, batch_size: int, *, rank: int | None = None,
                 world_size: int | None = None,
                 shuffle: bool = False, seed: int | None = None, pad: bool = True,
                 drop_last: bool = False, tensors: bool = True) -> DataLoader:
    """This rank's DataLoader, with the arguments DistributedDataLoader used to take."""
    sampler = dist.DistributedSampler(ds, shuffle=shuffle, seed=seed, pad=pad, rank=rank,
                                      world_size=world_size)
    return DataLoader(ds, batch_size, drop_last=drop_last, sampler=sampler, tensors=tensors)


@pytest.mark.parametrize("n, w", [(12, 2), (11, 2), (10, 3), (7, 4), (3, 5), (1, 2)])
@pytest.mark.parametrize("pad", [True, False])
def test_sampler_shards(n: int, w: int, pad: bool) -> None:
    if not pad and n < w:
        with pytest.raises(ValueError, match="without padding"):
            dist.DistributedSampler(n, seed=1, pad=pad, rank=0, world_size=w)
        return
    order = DataLoader(range(n), 1, shuffle=True, seed=9).indices(4)
    shards = [dist.DistributedSampler(n, seed=9, pad=pad, rank=r, world_size=w).indices(4)
              for r in range(w)]
    sizes = {len(s) for s in shards}
    assert len(sizes) == 1                       # every rank the same number of samples
    per_rank = sizes.pop()
    allidx = np.concatenate(shards)
    if pad:
        assert per_rank == -(-n // w)
        assert set(allidx.tolist()) == set(range(n))          # nothing left out
        extra = per_rank * w - n
        # the padding repeats the start of the epoch's order
        np.testing.assert_array_equal(np.sort(allidx), np.sort(np.concatenate(
            [order, np.resize(order, n + extra)[n:]])))
    else:
        assert per_rank == n // w
        assert len(set(allidx.tolist())) == len(allidx)        # disjoint
        assert set(allidx.tolist()) == set(order[:per_rank * w].tolist())
    if n % w == 0:
        assert len(set(allidx.tolist())) == n                  # a partition


def test_sampler_is_a_sampler_and_shares_the_loaders_permutation() -> None:
    s = dist.DistributedSampler(dataset(10), seed=4, rank=1, world_size=2)
    assert isinstance(s, cr.data.Sampler) and len(s) == 5
    s.set_epoch(3)
    assert list(s) == s.indices(3).tolist()
    np.testing.assert_array_equal(s.global_order(3), epoch_permutation(10, 4, 3))
    np.testing.assert_array_equal(s.global_order(3),
                                  DataLoader(range(10), 1, shuffle=True, seed=4).indices(3))


@pytest.mark.parametrize("n, w, b, drop_last", [(24, 2, 4, False), (26, 2, 4, False),
                                                (27, 3, 2, False), (30, 3, 4, True),
                                                (8, 4, 1, False)])
def test_rank_batches_form_the_global_batches(n: int, w: int, b: int, drop_last: bool
                                              ) -> None:
    """Batch i of every rank together = batch i of one loader with batch w*b (n % w == 0)."""
    ds = dataset(n)
    ref = DataLoader(ds, w * b, shuffle=True, drop_last=drop_last, seed=3, tensors=False)
    loaders = [shard_loader(ds, b, shuffle=True, drop_last=drop_last, seed=3, rank=r,
                            world_size=w, tensors=False)
               for r in range(w)]
    assert len({len(lo) for lo in loaders}) == 1
    for epoch in range(2):
        ref.set_epoch(epoch)
        ref_batches = list(ref)
        per_rank = [list(lo) for lo in loaders]
        assert all(len(p) == len(ref_batches) for p in per_rank)
        for i, (xr, yr) in enumerate(ref_batches):
            ys = np.concatenate([p[i][1] for p in per_rank])
            assert len({len(p[i][1]) for p in per_rank}) == 1     # equal local batches
            assert sorted(ys.tolist()) == sorted(yr.tolist())
            xs = np.concatenate([p[i][0] for p in per_rank])
            np.testing.assert_array_equal(xs[np.argsort(ys)], xr[np.argsort(yr)])


def test_unshuffled_shards_are_strided() -> None:
    # 10 samples on 3 ranks: padded to 0..9, 0, 1; rank 1 takes every third from 1
    lo = shard_loader(dataset(10), 2, rank=1, world_size=3, tensors=False)
    np.testing.assert_array_equal(lo.indices(0), [1, 4, 7, 0])
    np.testing.assert_array_equal(lo.indices(5), [1, 4, 7, 0])
    assert [y.tolist() for _, y in lo] == [[1, 4], [7, 0]]
    assert len(lo) == 2 and lo.num_samples == 4
    assert lo.batch_size * lo.sampler.world_size == 6           # the global batch
    cut = shard_loader(dataset(10), 2, rank=1, world_size=3, pad=False)
    np.testing.assert_array_equal(cut.indices(0), [1, 4, 7])


def test_loader_resume_mid_epoch(tmp_path: Path) -> None:
    ds = dataset(40)
    kw = dict(shuffle=True, seed=8, rank=1, world_size=2, tensors=False)
    full = shard_loader(ds, 3, **kw)
    full.set_epoch(2)
    expected = [y.tolist() for _, y in full]
    lo = shard_loader(ds, 3, **kw)
    lo.set_epoch(2)
    it = iter(lo)
    first = [next(it)[1].tolist() for _ in range(3)]
    state = lo.state_dict()
    assert state["epoch"] == 2 and state["batch"] == 3 and state["sampler"]["world_size"] == 2
    assert state["seed"] == 8 and state["shuffle"] is True and state["num_samples"] == 40
    cr.save({"loader": state}, tmp_path / "ck.npz")            # checkpoints hold it
    assert cr.load(tmp_path / "ck.npz")["loader"] == state
    again = shard_loader(ds, 3, **{**kw, "rank": 0, "seed": 1})
    again.load_state_dict(state)                # rank 0's state resumes rank 1 too
    assert again.seed == 8
    resumed = shard_loader(ds, 3, **kw)
    resumed.load_state_dict(state)
    assert first + [y.tolist() for _, y in resumed] == expected
    assert resumed.epoch == 3
    other = shard_loader(ds, 3, shuffle=True, seed=8, rank=0, world_size=4)
    with pytest.raises(ValueError, match="middle of an epoch run on 2 rank"):
        other.load_state_dict(state)
    other.load_state_dict({**state, "batch": 0})   # between epochs: re-sharding is fine
    with pytest.raises(ValueError, match="batch_size"):
        shard_loader(ds, 4, **kw).load_state_dict(state)
    with pytest.raises(ValueError, match="pad=True"):
        shard_loader(ds, 3, **{**kw, "pad": False}).load_state_dict(state)


def test_loader_over_a_plain_sequence_dataset() -> None:
    pairs = [(np.full(2, float(i)), i) for i in range(6)]
    lo = shard_loader(pairs, 2, rank=0, world_size=2)
    batches = list(lo)
    assert [b[1].tolist() for b in batches] == [[0, 2], [4]]
    assert isinstance(batches[0][0], cr.Tensor)
    np.testing.assert_array_equal(batches[0][0].data, [[0.0, 0.0], [2.0, 2.0]])
    assert "rank 0 of 2" in repr(lo) and "sampler=DistributedSampler" in repr(lo)
    assert lo.batch_size * lo.sampler.world_size == 4           # the global batch


@pytest.mark.parametrize("kwargs, match", [
    (dict(rank=0), "give both rank and world_size"),
    (dict(rank=2, world_size=2, seed=0), "rank must be in 0..1"),
    (dict(rank=0, world_size=0, seed=0), "world_size must be a positive int"),
    (dict(rank=0, world_size=2, shuffle=True), "pass seed="),
    (dict(rank=0, world_size=2, batch_size=0), "batch_size must be a positive int"),
    (dict(rank=0, world_size=2, seed=-1), "seed must be a non-negative int"),
])
def test_loader_bad_arguments(kwargs: dict, match: str) -> None:
    kwargs = {"batch_size": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        shard_loader(dataset(8), **kwargs)


def test_sampler_bad_size() -> None:
    with pytest.raises(ValueError, match="num_samples must be a positive int"):
        dist.DistributedSampler(0, rank=0, world_size=1)


def test_sampler_and_dataset_must_agree() -> None:
    s = dist.DistributedSampler(8, seed=0, rank=0, world_size=2)
    with pytest.raises(ValueError, match="the dataset has 9 samples but the sampler was "
                                         "made for 8"):
        DataLoader(dataset(9), 2, sampler=s)
    with pytest.raises(ValueError, match="either sampler= or shuffle=/seed="):
        DataLoader(dataset(8), 2, shuffle=True, sampler=s)
    with pytest.raises(ValueError, match="either sampler= or shuffle=/seed="):
        DataLoader(dataset(8), 2, seed=3, sampler=s)
