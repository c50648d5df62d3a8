"""TensorDataset, Subset, random_split, ConcatDataset and DataLoader(collate_fn=)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (
    ArrayDataset,
    ConcatDataset,
    DataLoader,
    Subset,
    TensorDataset,
    random_split,
)


def data(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return x, y


class Plain:
    """A dataset with only __len__/__getitem__ (no get_batch)."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def test_tensor_dataset_rows_and_batches():
    x, y = data()
    w = cr.tensor(np.linspace(0, 1, 10))
    ds = TensorDataset(cr.tensor(x), y, w)
    assert len(ds) == 10
    a, b, c = ds[3]
    np.testing.assert_array_equal(a, x[3])
    assert b == 3 and c == pytest.approx(1 / 3)
    batches = list(DataLoader(ds, batch_size=4))
    assert [len(bt) for bt in batches] == [3, 3, 3]
    xb, yb, wb = batches[-1]
    assert isinstance(xb, cr.Tensor) and xb.shape == (2, 3) and yb.dtype == np.int64
    np.testing.assert_array_equal(yb.numpy(), [8, 9])
    np.testing.assert_allclose(wb.numpy(), [8 / 9, 1.0])
    (only,) = next(iter(DataLoader(TensorDataset(x), batch_size=5)))
    assert only.shape == (5, 3)
    with pytest.raises(ValueError, match=r"first dimensions \[10, 9\]"):
        TensorDataset(x, y[:9])
    with pytest.raises(IndexError, match="out of range for 10"):
        ds[10]


def test_subset_and_loader_over_it():
    x, y = data()
    for base in (ArrayDataset(x, y), Plain(x, y)):
        sub = Subset(base, [7, 2, 2, -1])
        assert len(sub) == 4 and sub[0][1] == 7 and sub[3][1] == 9
        (xb, yb), = list(DataLoader(sub, batch_size=4))
        np.testing.assert_array_equal(yb.numpy(), [7, 2, 2, 9])
        np.testing.assert_array_equal(xb.numpy(), x[[7, 2, 2, 9]])
    with pytest.raises(IndexError, match=r"\[-10, 10\)"):
        Subset(ArrayDataset(x, y), [10])


def test_random_split_counts_fractions_and_seeds():
    x, y = data(10)
    ds = ArrayDataset(x, y)
    a, b = random_split(ds, [7, 3], generator=0)
    assert (len(a), len(b)) == (7, 3)
    labels = sorted([a[i][1] for i in range(7)] + [b[i][1] for i in range(3)])
    assert labels == list(range(10))              # a partition
    a2, _ = random_split(ds, [7, 3], generator=np.random.default_rng(0))
    np.testing.assert_array_equal(a.indices, a2.indices)
    # PyTorch's rule for fractions: floor, then the remainder dealt from the first.
    parts = random_split(ds, [0.33, 0.33, 0.34], generator=1)
    assert [len(p) for p in parts] == [4, 3, 3]
    cr.manual_seed(5)
    p1 = random_split(ds, [5, 5])
    cr.manual_seed(5)
    p2 = random_split(ds, [5, 5])
    np.testing.assert_array_equal(p1[0].indices, p2[0].indices)
    with pytest.raises(ValueError, match="sum to 9 but the dataset has 10"):
        random_split(ds, [4, 5])
    with pytest.raises(ValueError, match="neither counts nor fractions"):
        random_split(ds, [0.5, 0.2])


def test_random_split_fraction_lengths_match_pytorch():
    torch = pytest.importorskip("torch")
    for n, fr in [(10, [0.33, 0.33, 0.34]), (101, [0.8, 0.1, 0.1]), (7, [0.5, 0.5])]:
        ours = [len(p) for p in random_split(ArrayDataset(*data(n)), fr, generator=0)]
        theirs = [len(p) for p in torch.utils.data.random_split(range(n), fr)]
        assert ours == theirs


def test_concat_dataset():
    x, y = data(10)
    ds = ConcatDataset([ArrayDataset(x[:4], y[:4]), Plain(x[4:], y[4:]),
                        ArrayDataset(x[:2], y[:2] + 100)])
    assert len(ds) == 12 and ds.cumulative_sizes == [4, 10, 12]
    assert ds[3][1] == 3 and ds[4][1] == 4 and ds[10][1] == 100 and ds[-1][1] == 101
    order = [y for _, yb in DataLoader(ds, batch_size=5, shuffle=True, seed=3)
             for y in yb.numpy().tolist()]
    assert sorted(order) == [*range(10), 100, 101]
    xb, yb = next(iter(DataLoader(ds, batch_size=12)))
    np.testing.assert_array_equal(xb.numpy()[:10], x)
    np.testing.assert_array_equal(yb.numpy(), [*range(10), 100, 101])


def test_collate_fn_gets_the_samples_and_its_result_is_yielded():
    x, y = data(6)
    seen = []

    def collate(samples):
        seen.append(len(samples))
        return {"x": cr.tensor(np.stack([s[0] for s in samples])),
                "y": [int(s[1]) for s in samples]}

    batches = list(DataLoader(ArrayDataset(x, y), batch_size=4, collate_fn=collate))
    assert seen == [4, 2]
    assert batches[0]["y"] == [0, 1, 2, 3] and batches[1]["x"].shape == (2, 3)
    with pytest.raises(TypeError, match="collate_fn must be callable"):
        DataLoader(ArrayDataset(x, y), collate_fn=3)
