"""chainrule.data.DataLoader: batching, shuffling as a function of (seed, epoch), resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chainrule import random as crandom
from chainrule.data import ArrayDataset, DataLoader, MNISTSample
from chainrule.serialization import load, save


def make_ds(n: int = 10) -> ArrayDataset:
    return ArrayDataset(np.arange(n * 3, dtype=np.float32).reshape(n, 3),
                        np.arange(n, dtype=np.int64))


def epoch_labels(loader: DataLoader) -> list[list[int]]:
    return [np.asarray(y).tolist() for _, y in loader]


@pytest.mark.parametrize("n, bs, drop_last, expected", [
    (10, 3, False, 4), (10, 3, True, 3), (9, 3, False, 3), (9, 3, True, 3),
    (2, 5, False, 1), (2, 5, True, 0), (0, 4, False, 0), (64, 64, False, 1),
])
def test_len_is_number_of_batches(n: int, bs: int, drop_last: bool, expected: int) -> None:
    loader = DataLoader(make_ds(n), bs, drop_last=drop_last, seed=0, tensors=False)
    assert len(loader) == expected
    assert len(list(loader)) == expected


def test_sequential_batches() -> None:
    loader = DataLoader(make_ds(10), batch_size=4, tensors=False)
    batches = list(loader)
    assert [y.tolist() for _, y in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    x, y = batches[1]
    assert x.shape == (4, 3) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x, make_ds(10).x[4:8])
    x[:] = -1  # batches are copies
    assert loader.dataset.x[4, 0] == 12.0
    dropped = DataLoader(make_ds(10), batch_size=4, drop_last=True, tensors=False)
    assert [y.tolist() for _, y in dropped] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_shuffle_is_a_function_of_seed_and_epoch() -> None:
    n = 50
    a = DataLoader(make_ds(n), 8, shuffle=True, seed=42, tensors=False)
    b = DataLoader(make_ds(n), 8, shuffle=True, seed=42, tensors=False)
    e0, e1 = epoch_labels(a), epoch_labels(a)
    flat0 = [i for batch in e0 for i in batch]
    flat1 = [i for batch in e1 for i in batch]
    assert sorted(flat0) == list(range(n)) == sorted(flat1)  # each epoch: a permutation
    assert flat0 != flat1  # a new order every epoch
    assert flat0 != list(range(n))
    assert epoch_labels(b) == e0 and epoch_labels(b) == e1  # same seed, same sequence
    c = DataLoader(make_ds(n), 8, shuffle=True, seed=43, tensors=False)
    assert epoch_labels(c) != e0
    # Pure function of (seed, epoch): jump straight to epoch 1.
    d = DataLoader(make_ds(n), 8, shuffle=True, seed=42, tensors=False)
    d.set_epoch(1)
    assert epoch_labels(d) == e1
    np.testing.assert_array_equal(d.indices(7),
                                  np.random.default_rng([42, 7]).permutation(n))
    assert d.epoch == 2


def test_unshuffled_order_does_not_depend_on_epoch() -> None:
    loader = DataLoader(make_ds(7), 3, tensors=False)
    assert epoch_labels(loader) == epoch_labels(loader) == [[0, 1, 2], [3, 4, 5], [6]]


def test_default_seed_comes_from_global_generator() -> None:
    crandom.manual_seed(2024)
    a = DataLoader(make_ds(30), 5, shuffle=True)
    crandom.manual_seed(2024)
    b = DataLoader(make_ds(30), 5, shuffle=True)
    c = DataLoader(make_ds(30), 5, shuffle=True)
    assert a.seed == b.seed != c.seed
    a.tensors = b.tensors = False
    assert epoch_labels(a) == epoch_labels(b)


def test_resume_mid_epoch_through_a_checkpoint(tmp_path: Path) -> None:
    ds = make_ds(23)
    ref = DataLoader(ds, 4, shuffle=True, seed=5, tensors=False)
    reference = [epoch_labels(ref) for _ in range(3)]

    run = DataLoader(ds, 4, shuffle=True, seed=5, tensors=False)
    seen = epoch_labels(run)
    it = iter(run)
    for _ in range(2):
        seen.append(next(it)[1].tolist())
    assert run.state_dict() == {"seed": 5, "epoch": 1, "batch": 2, "batch_size": 4,
                                "shuffle": True, "drop_last": False, "num_samples": 23}
    save({"loader": run.state_dict()}, tmp_path / "ckpt.npz")
    del it, run  # the process "crashes"

    resumed = DataLoader(ds, 4, shuffle=True, tensors=False)  # seed comes from the state
    resumed.load_state_dict(load(tmp_path / "ckpt.npz")["loader"])
    assert resumed.epoch == 1
    seen += epoch_labels(resumed)  # the rest of epoch 1
    assert seen == reference[0] + reference[1]
    assert epoch_labels(resumed) == reference[2]


def test_state_between_epochs_and_after_break() -> None:
    loader = DataLoader(make_ds(10), 3, shuffle=True, seed=1, tensors=False)
    assert loader.state_dict()["epoch"] == 0 and loader.state_dict()["batch"] == 0
    list(loader)
    assert (loader.state_dict()["epoch"], loader.state_dict()["batch"]) == (1, 0)
    for _ in loader:
        break  # leaving early ends that epoch
    assert (loader.epoch, loader.state_dict()["batch"]) == (2, 0)
    assert "seed=1" in repr(loader) and "4 batches" in repr(loader)


def test_load_state_dict_checks_compatibility() -> None:
    state = DataLoader(make_ds(10), 3, shuffle=True, seed=1).state_dict()
    with pytest.raises(ValueError, match="batch_size=3"):
        DataLoader(make_ds(10), 4, shuffle=True).load_state_dict(state)
    with pytest.raises(ValueError, match="num_samples=10"):
        DataLoader(make_ds(11), 3, shuffle=True).load_state_dict(state)
    with pytest.raises(ValueError, match="out-of-range"):
        DataLoader(make_ds(10), 3, shuffle=True).load_state_dict({**state, "batch": 99})
    with pytest.raises(ValueError, match="bad state"):
        DataLoader(make_ds(10), 3, shuffle=True).load_state_dict({"seed": 1})


def test_bad_arguments() -> None:
    for bs in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            DataLoader(make_ds(), bs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed"):
        DataLoader(make_ds(), 2, seed=-3)
    with pytest.raises(ValueError, match="epoch"):
        DataLoader(make_ds(), 2).set_epoch(-1)


def test_array_datasets_are_batched_without_per_sample_calls() -> None:
    calls = []

    class Counting(ArrayDataset):
        def __getitem__(self, index: Any) -> tuple[Any, Any]:
            calls.append(index)
            return super().__getitem__(index)

    loader = DataLoader(Counting(np.zeros((1000, 2)), np.zeros(1000)), 100, shuffle=True,
                        seed=0, tensors=False)
    assert sum(len(y) for _, y in loader) == 1000
    assert calls == []


def test_generic_dataset_is_stacked() -> None:
    class Squares:
        def __len__(self) -> int:
            return 5

        def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
            return np.array([i, i * i], dtype=np.float64), i % 2

    batches = list(DataLoader(Squares(), 2, tensors=False))
    assert [x.tolist() for x, _ in batches] == [[[0, 0], [1, 1]], [[2, 4], [3, 9]], [[4, 16]]]
    assert [y.tolist() for _, y in batches] == [[0, 1], [0, 1], [0]]


def test_batches_are_tensors() -> None:
    tensor_mod = pytest.importorskip("chainrule._tensor")
    loader = DataLoader(MNISTSample("test"), batch_size=128, shuffle=True, seed=0)
    batches = list(loader)
    assert len(batches) == len(loader) == 8
    x, y = batches[0]
    assert isinstance(x, tensor_mod.Tensor) and isinstance(y, tensor_mod.Tensor)
    assert x.shape == (128, 784) and x.dtype == np.float32 and y.dtype == np.int64
    assert not x.requires_grad
    order = loader.indices(0)[:128]
    np.testing.assert_array_equal(x.data, loader.dataset.x[order])
    np.testing.assert_array_equal(y.data, loader.dataset.y[order])
    assert batches[-1][0].shape == (1000 - 7 * 128, 784)
