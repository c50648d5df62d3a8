"""chainrule.data samplers and DataLoader(sampler=): the order, the protocol, resume."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from chainrule import random as crandom
from chainrule.data import ArrayDataset, DataLoader, RandomSampler, Sampler, SequentialSampler
from chainrule.data.sampler import epoch_permutation
from chainrule.serialization import load, save


def make_ds(n: int = 10) -> ArrayDataset:
    return ArrayDataset(np.arange(n * 3, dtype=np.float32).reshape(n, 3),
                        np.arange(n, dtype=np.int64))


def test_default_samplers_are_todays_orders() -> None:
    seq = SequentialSampler(5)
    rnd = RandomSampler(50, seed=42)
    assert isinstance(seq, Sampler) and isinstance(rnd, Sampler)
    assert list(seq) == [0, 1, 2, 3, 4] and len(seq) == 5
    rnd.set_epoch(7)
    assert list(rnd) == np.random.default_rng([42, 7]).permutation(50).tolist()
    np.testing.assert_array_equal(epoch_permutation(50, 42, 7), rnd.indices(7))
    assert isinstance(DataLoader(make_ds(), 2, seed=0).sampler, SequentialSampler)
    loader = DataLoader(make_ds(50), 8, shuffle=True, seed=42)
    assert isinstance(loader.sampler, RandomSampler) and loader.sampler.seed == 42
    np.testing.assert_array_equal(loader.indices(7), rnd.indices(7))


def test_seed_is_drawn_even_unshuffled_as_before() -> None:
    crandom.manual_seed(3)
    a = DataLoader(make_ds(), 2)
    crandom.manual_seed(3)
    b = DataLoader(make_ds(), 2, shuffle=True)
    assert a.seed == b.seed and a.shuffle is False and b.shuffle is True


class Reversed:
    """A minimal sampler: only __iter__, __len__ and set_epoch."""

    def __init__(self, n: int) -> None:
        self.n, self.epochs = n, []

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.n - 1, -1, -1))

    def __len__(self) -> int:
        return self.n

    def set_epoch(self, epoch: int) -> None:
        self.epochs.append(epoch)


def test_a_custom_sampler_decides_the_order(tmp_path: Path) -> None:
    s = Reversed(7)
    loader = DataLoader(make_ds(7), 3, sampler=s, tensors=False)
    assert [y.tolist() for _, y in loader] == [[6, 5, 4], [3, 2, 1], [0]]
    assert s.epochs[-1] == 0 and loader.epoch == 1
    assert loader.seed is None and loader.shuffle is False and len(loader) == 3
    assert "sampler=" in repr(loader)
    it = iter(loader)
    next(it)
    state = loader.state_dict()
    assert state == {"seed": None, "epoch": 1, "batch": 1, "batch_size": 3,
                     "shuffle": False, "drop_last": False, "num_samples": 7}
    save({"loader": state}, tmp_path / "ck.npz")
    again = DataLoader(make_ds(7), 3, sampler=Reversed(7), tensors=False)
    again.load_state_dict(load(tmp_path / "ck.npz")["loader"])
    assert [y.tolist() for _, y in again] == [[3, 2, 1], [0]]


def test_sampler_with_shuffle_or_seed_says_what_to_do() -> None:
    for kw in (dict(shuffle=True), dict(seed=1)):
        with pytest.raises(ValueError, match="give either sampler= or shuffle=/seed=, not "
                                             "both"):
            DataLoader(make_ds(), 2, sampler=Reversed(10), **kw)
    with pytest.raises(TypeError, match="lacks set_epoch"):
        DataLoader(make_ds(), 2, sampler=[0, 1, 2])


def test_sampler_bad_arguments() -> None:
    with pytest.raises(ValueError, match="num_samples must be a non-negative int"):
        SequentialSampler(-1)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        RandomSampler(3, seed=-1)
    with pytest.raises(ValueError, match="epoch must be a non-negative int"):
        RandomSampler(3, seed=0).set_epoch(-2)
