"""Downloading datasets: mirrors in order, SHA-256 checked, atomic, against a local server."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chainrule.data import MNIST, DatasetNotFoundError, FashionMNIST, load_dataset
from chainrule.data import datasets as ds_mod
from chainrule.data.datasets import RemoteFile


def _publish(tmp_path: Path, mirror: Any, arrays: dict[str, np.ndarray],
             write_tiny: Callable[..., None], idx_names: dict[str, str],
             ) -> dict[str, RemoteFile]:
    """Serve the tiny dataset under /good/ and return its (correct) checksum table."""
    src = tmp_path / "published"
    write_tiny(src, arrays)
    files = {}
    for key, name in idx_names.items():
        blob = (src / name).read_bytes()
        mirror.routes[f"/good/{name}"] = blob
        files[key] = RemoteFile(name, hashlib.sha256(blob).hexdigest(), len(blob))
    return files


def _use_spec(monkeypatch: pytest.MonkeyPatch, key: str, mirrors: list[str],
              files: dict[str, RemoteFile]) -> None:
    spec = dataclasses.replace(ds_mod.SPECS[key], mirrors=tuple(mirrors), files=files,
                               system_dirs=())
    monkeypatch.setitem(ds_mod.SPECS, key, spec)


def _all_files(directory: Path) -> list[str]:
    return sorted(os.listdir(directory)) if directory.exists() else []


def test_download_falls_back_to_next_mirror(tmp_path: Path, mirror: Any,
                                            monkeypatch: pytest.MonkeyPatch,
                                            tiny_arrays: Callable[..., dict],
                                            write_tiny: Callable[..., None],
                                            idx_names: dict[str, str]) -> None:
    arrays = tiny_arrays(10, 4)
    files = _publish(tmp_path, mirror, arrays, write_tiny, idx_names)
    _use_spec(monkeypatch, "mnist", [mirror.url("fail"), mirror.url("good")],
              files)
    root = tmp_path / "data"
    ds = MNIST("train", root=root, download=True)
    np.testing.assert_array_equal(ds.y, arrays["train-labels"])
    np.testing.assert_allclose(ds.x, arrays["train-images"].reshape(10, 784) / 255, rtol=1e-7)
    # Only the train split was fetched, each file tried on the failing mirror first.
    assert mirror.hits == [
        "/fail/train-images-idx3-ubyte.gz", "/good/train-images-idx3-ubyte.gz",
        "/fail/train-labels-idx1-ubyte.gz", "/good/train-labels-idx1-ubyte.gz"]
    assert _all_files(root / "mnist") == ["train-images-idx3-ubyte.gz",
                                          "train-labels-idx1-ubyte.gz"]
    # Next time the files are on disk: no network.
    mirror.hits.clear()
    assert len(MNIST("train", root=root, download=True)) == 10
    assert mirror.hits == []
    # Downloaded files are byte-identical to the published ones.
    for name in _all_files(root / "mnist"):
        assert (root / "mnist" / name).read_bytes() == mirror.routes[f"/good/{name}"]


def test_checksum_mismatch_raises_and_leaves_nothing(
        tmp_path: Path, mirror: Any, monkeypatch: pytest.MonkeyPatch,
        tiny_arrays: Callable[..., dict], write_tiny: Callable[..., None],
        idx_names: dict[str, str]) -> None:
    files = _publish(tmp_path, mirror, tiny_arrays(10, 4), write_tiny, idx_names)
    name = files["test-images"].name
    evil = bytearray(mirror.routes[f"/good/{name}"])
    evil[-20] ^= 0x01  # same size, different content
    mirror.routes[f"/good/{name}"] = bytes(evil)
    _use_spec(monkeypatch, "mnist", [mirror.url("good")], files)
    root = tmp_path / "data"
    with pytest.raises(DatasetNotFoundError) as exc:
        MNIST("test", root=root, download=True)
    msg = str(exc.value)
    assert f"{mirror.url('good')}{name}: SHA-256 mismatch: expected " \
           f"{files['test-images'].sha256}, got " in msg
    assert "Download failed:" in msg and str(root / "mnist") in msg
    assert _all_files(root / "mnist") == []  # no partial or temporary file


def test_bad_mirror_then_good_mirror(tmp_path: Path, mirror: Any,
                                     monkeypatch: pytest.MonkeyPatch,
                                     tiny_arrays: Callable[..., dict],
                                     write_tiny: Callable[..., None],
                                     idx_names: dict[str, str]) -> None:
    """A mirror with wrong bytes, one that hangs up mid-file, then a good one."""
    files = _publish(tmp_path, mirror, tiny_arrays(10, 4), write_tiny, idx_names)
    for name in idx_names.values():
        blob = bytearray(mirror.routes[f"/good/{name}"])
        blob[-1] ^= 0xFF
        mirror.routes[f"/evil/{name}"] = bytes(blob)
    m = mirror
    _use_spec(monkeypatch, "fashion-mnist",
              [m.url("evil"), m.url("short"), m.url("good")], files)
    root = tmp_path / "data"
    ds = FashionMNIST("test", root=root, download=True)
    assert len(ds) == 4
    assert _all_files(root / "fashion-mnist") == ["t10k-images-idx3-ubyte.gz",
                                                  "t10k-labels-idx1-ubyte.gz"]


def test_incomplete_and_oversized_downloads_are_rejected(
        tmp_path: Path, mirror: Any, monkeypatch: pytest.MonkeyPatch,
        tiny_arrays: Callable[..., dict], write_tiny: Callable[..., None],
        idx_names: dict[str, str]) -> None:
    files = _publish(tmp_path, mirror, tiny_arrays(10, 4), write_tiny, idx_names)
    root = tmp_path / "data"
    _use_spec(monkeypatch, "mnist", [mirror.url("short")], files)
    with pytest.raises(DatasetNotFoundError, match=r"short/train-images-idx3-ubyte\.gz: "):
        MNIST("train", root=root, download=True)
    assert _all_files(root / "mnist") == []
    # The table says the file is smaller than what the server sends.
    small = {k: dataclasses.replace(v, size=v.size - 1) for k, v in files.items()}
    _use_spec(monkeypatch, "mnist", [mirror.url("good")], small)
    with pytest.raises(DatasetNotFoundError, match="server announces"):
        MNIST("train", root=root, download=True)
    assert _all_files(root / "mnist") == []


def test_all_mirrors_down(tmp_path: Path, mirror: Any, monkeypatch: pytest.MonkeyPatch,
                          tiny_arrays: Callable[..., dict], write_tiny: Callable[..., None],
                          idx_names: dict[str, str]) -> None:
    files = _publish(tmp_path, mirror, tiny_arrays(10, 4), write_tiny, idx_names)
    m = mirror
    _use_spec(monkeypatch, "mnist", [m.url("fail"), m.url("nothing-here")],
              files)
    root = tmp_path / "data"
    with pytest.raises(DatasetNotFoundError) as exc:
        MNIST("train", root=root, download=True)
    msg = str(exc.value)
    assert f"{m.url('fail')}train-images-idx3-ubyte.gz: HTTP Error 503" in msg
    assert f"{m.url('nothing-here')}train-images-idx3-ubyte.gz: HTTP Error 404" in msg
    assert f"put the files in {root / 'mnist'}/" in msg
    assert "CHAINRULE_DATA" in msg and "MNISTSample" in msg
    assert _all_files(root / "mnist") == []


def test_unreachable_host_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      idx_names: dict[str, str]) -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    files = {k: RemoteFile(n, "0" * 64, 10) for k, n in idx_names.items()}
    _use_spec(monkeypatch, "mnist", ["http://127.0.0.1:9/mnist/"], files)
    with pytest.raises(DatasetNotFoundError, match=r"127\.0\.0\.1:9/mnist/train-images"):
        MNIST("train", root=tmp_path, download=True)


def test_load_dataset_never_downloads_unless_asked(
        tmp_path: Path, mirror: Any, monkeypatch: pytest.MonkeyPatch,
        tiny_arrays: Callable[..., dict], write_tiny: Callable[..., None],
        idx_names: dict[str, str]) -> None:
    files = _publish(tmp_path, mirror, tiny_arrays(10, 4), write_tiny, idx_names)
    _use_spec(monkeypatch, "mnist", [mirror.url("good")], files)
    ds, desc = load_dataset("mnist", "train", root=tmp_path / "data")
    assert "sample" in desc and mirror.hits == []
    ds, desc = load_dataset("mnist", "train", root=tmp_path / "data", download=True)
    assert len(ds) == 10 and desc.startswith("MNIST train split: 10 images")
