"""Data: IDX files, datasets (MNIST, Fashion-MNIST, an embedded MNIST sample), DataLoader
and its samplers.

Quick start::

    from chainrule.data import DataLoader, load_dataset

    train, about = load_dataset("mnist", "train")   # full MNIST if on disk, else sample
    print(about)
    for x, y in DataLoader(train, batch_size=64, shuffle=True):
        ...   # x: Tensor (64, 784) float32 in [0, 1]; y: Tensor (64,) int64

See :mod:`chainrule.data.datasets` for where dataset files are looked for and how they
are downloaded and verified.
"""

from ..errors import DataError
from .dataset_tools import ConcatDataset, Subset, TensorDataset, random_split
from .datasets import (
    DATA_ENV,
    MNIST,
    ArrayDataset,
    Dataset,
    DatasetNotFoundError,
    FashionMNIST,
    MNISTSample,
    data_dir,
    default_data_dir,
    load_dataset,
)
from .idx import read_idx, write_idx
from .loader import DataLoader
from .sampler import RandomSampler, Sampler, SequentialSampler
from .transforms import RandomShift

__all__ = [
    "DATA_ENV",
    "MNIST",
    "ArrayDataset",
    "ConcatDataset",
    "DataError",
    "DataLoader",
    "Dataset",
    "DatasetNotFoundError",
    "FashionMNIST",
    "MNISTSample",
    "RandomSampler",
    "RandomShift",
    "Sampler",
    "SequentialSampler",
    "Subset",
    "TensorDataset",
    "data_dir",
    "default_data_dir",
    "load_dataset",
    "random_split",
    "read_idx",
    "write_idx",
]
