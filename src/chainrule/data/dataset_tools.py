"""Datasets made of other data, as in ``torch.utils.data``: ``TensorDataset``,
``Subset``, ``random_split``, ``ConcatDataset``.

Samples are tuples of NumPy values, as :class:`~chainrule.data.ArrayDataset`'s are;
:class:`~chainrule.data.DataLoader` stacks them into batches of Tensors. Each class
has a ``get_batch(indices)`` so the loader gathers a batch with one fancy index per
array instead of a Python loop per sample.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._check import is_int, is_number
from .._tensor import Tensor
from ..random import get_rng

__all__ = ["ConcatDataset", "Subset", "TensorDataset", "random_split"]


def _array(v: Any) -> np.ndarray:
    return np.asarray(v.data if isinstance(v, Tensor) else v)


def _as_tuple(sample: Any) -> tuple:
    return tuple(sample) if isinstance(sample, (tuple, list)) else (sample,)


def _index(where: str, i: Any, n: int) -> int:
    if not is_int(i):
        raise TypeError(f"{where}: index must be an int, got {type(i).__name__}")
    if not -n <= i < n:
        raise IndexError(f"{where}: index {i} is out of range for {n} samples")
    return int(i) % n


def _gather(dataset: Any, indices: np.ndarray) -> tuple:
    """The samples at ``indices`` of ``dataset``, stacked per position of the tuple."""
    get_batch = getattr(dataset, "get_batch", None)
    if get_batch is not None:
        return _as_tuple(get_batch(indices))
    samples = [_as_tuple(dataset[int(i)]) for i in indices]
    return tuple(np.stack([_array(s[k]) for s in samples]) for k in range(len(samples[0])))


class TensorDataset:
    """Samples are the ``i``-th rows of each of ``tensors`` (Tensors or arrays, all with
    the same first dimension): ``ds[i] == (a[i], b[i], ...)``, as NumPy values."""

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: give at least one tensor")
        arrays = [_array(t) for t in tensors]
        if any(a.ndim == 0 for a in arrays):
            raise ValueError("TensorDataset: every tensor needs a sample (first) dimension")
        sizes = [len(a) for a in arrays]
        if len(set(sizes)) != 1:
            raise ValueError(f"TensorDataset: the tensors have different numbers of samples "
                             f"(first dimensions {sizes}); they must all be equal")
        self.tensors = tuple(arrays)

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index: int) -> tuple:
        i = _index("TensorDataset", index, len(self))
        return tuple(a[i] for a in self.tensors)

    def get_batch(self, indices: np.ndarray | slice) -> tuple:
        """The rows at ``indices`` of every tensor, as new arrays."""
        if isinstance(indices, slice):
            return tuple(a[indices].copy() for a in self.tensors)
        return tuple(np.take(a, indices, axis=0) for a in self.tensors)

    def __repr__(self) -> str:
        shapes = ", ".join(str(a.shape) for a in self.tensors)
        return f"TensorDataset({len(self)} samples; {shapes})"


class Subset:
    """The samples of ``dataset`` at ``indices``, in that order (``ds[i] ==
    dataset[indices[i]]``)."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        idx = np.asarray(indices, dtype=np.int64).ravel()
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"Subset: indices must be in [{-n}, {n}) for a dataset of {n} "
                             f"samples; got min {idx.min()}, max {idx.max()}")
        self.dataset = dataset
        self.indices = idx % n if n else idx

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[_index("Subset", index, len(self))])]

    def get_batch(self, indices: np.ndarray | slice) -> tuple:
        """The samples at ``indices`` of this subset, stacked."""
        return _gather(self.dataset, self.indices[indices])

    def __repr__(self) -> str:
        return f"Subset({len(self)} of {len(self.dataset)} samples of {self.dataset!r})"


class ConcatDataset:
    """``datasets`` one after another: sample ``i`` of the first ones, then the next's."""

    def __init__(self, datasets: Sequence[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: give at least one dataset")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        i = _index("ConcatDataset", index, len(self))
        k = bisect.bisect_right(self.cumulative_sizes, i)
        start = self.cumulative_sizes[k - 1] if k else 0
        return self.datasets[k][i - start]

    def get_batch(self, indices: np.ndarray | slice) -> tuple:
        """The samples at ``indices``, gathered from each part and put back in order."""
        idx = np.arange(len(self))[indices] if isinstance(indices, slice) \
            else np.asarray(indices, dtype=np.int64)
        which = np.searchsorted(self.cumulative_sizes, idx, side="right")
        starts = np.concatenate([[0], self.cumulative_sizes[:-1]])
        out: list[np.ndarray] | None = None
        for k in np.unique(which):
            sel = np.nonzero(which == k)[0]
            part = _gather(self.datasets[k], idx[sel] - starts[k])
            if out is None:
                out = [np.empty((len(idx), *np.shape(p)[1:]), dtype=np.asarray(p).dtype)
                       for p in part]
            for o, p in zip(out, part):
                o[sel] = p
        return tuple(out or ())

    def __repr__(self) -> str:
        return f"ConcatDataset({len(self)} samples from {len(self.datasets)} datasets)"


def random_split(dataset: Any, lengths: Sequence[int | float],
                 generator: int | np.random.Generator | None = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random :class:`Subset` s.

    ``lengths`` are sample counts summing to ``len(dataset)``, or fractions summing to
    1 (each gets ``floor(n * f)`` and the remainder is dealt one by one from the first,
    as PyTorch does). ``generator`` is a seed, a ``numpy.random.Generator`` or ``None``
    (the global generator, so ``cr.manual_seed`` makes it reproducible). The order is
    a NumPy permutation, so the same seed does not pick the same samples as PyTorch's.
    """
    n = len(dataset)
    lens = list(lengths)
    if not lens or not all(is_number(v) and v >= 0 for v in lens):
        raise ValueError(f"random_split: lengths must be non-negative numbers, got {lens!r}")
    if all(is_int(v) for v in lens):
        counts = [int(v) for v in lens]
    elif math.isclose(sum(lens), 1.0) and sum(lens) <= 1.0 + 1e-12:
        counts = [math.floor(n * f) for f in lens]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
    else:
        raise ValueError(f"random_split: lengths {lens!r} are neither counts nor fractions "
                         f"summing to 1")
    if sum(counts) != n:
        raise ValueError(f"random_split: the lengths sum to {sum(counts)} but the dataset "
                         f"has {n} samples")
    if generator is None:
        rng = get_rng()
    elif isinstance(generator, np.random.Generator):
        rng = generator
    elif is_int(generator):
        rng = np.random.default_rng(int(generator))
    else:
        raise TypeError(f"random_split: generator must be a seed, a numpy Generator or "
                        f"None, got {type(generator).__name__}")
    perm = rng.permutation(n)
    bounds = np.cumsum([0, *counts])
    return [Subset(dataset, perm[a:b]) for a, b in itertools.pairwise(bounds)]
