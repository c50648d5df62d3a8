"""Issue 12, item 6: crafted checkpoint files give a CheckpointError, in bounded memory.

Before, a 17 KB file could make ``cr.load`` use gigabytes (one compressed member
behind many names), deeply nested metadata raised RecursionError and an ``.npy``
header claiming 8 TB a raw MemoryError. Each file here is crafted by hand in tmp; the
memory a load takes is measured with tracemalloc (NumPy reports its buffers to it).
"""

from __future__ import annotations

import io
import json
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest

import chainrule as cr
from chainrule import serialization
from chainrule.errors import CheckpointError
from chainrule.train import load_checkpoint

MB = 2**20


def npy(arr) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
    return buf.getvalue()


def npy_claiming(shape, dtype="<f8", data=b"\0" * 16) -> bytes:
    """An .npy member whose header declares ``shape`` but which holds ``data``."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": dtype, "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue() + data


def meta(tree) -> bytes:
    return npy(np.array(json.dumps({"format": "chainrule.state", "version": 1,
                                    "tree": tree})))


def write_zip(path, members, compression=zipfile.ZIP_STORED):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")           # zipfile warns on duplicate names
        with zipfile.ZipFile(path, "w", compression=compression) as zf:
            for name, data in members:
                zf.writestr(name, data)
    return path


def load_measured(path):
    """cr.load(path), returning (exception, peak bytes traced while loading)."""
    tracemalloc.start()
    try:
        cr.load(path)
    except Exception as e:  # the assertion is on the type, in the caller
        err = e
    else:
        err = None
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return err, peak


def test_a_member_named_twice_is_refused(tmp_path):
    path = write_zip(tmp_path / "dup.npz", [
        ("__chainrule__.npy", meta({"t": "array", "m": "w"})),
        ("w.npy", npy(np.zeros(3))),
        ("w.npy", npy(np.ones(3))),
    ])
    with pytest.raises(CheckpointError, match=r"refused: member 'w\.npy' appears 2 times"):
        cr.load(path)


def test_one_compressed_member_behind_100_names_is_refused_in_little_memory(tmp_path):
    # 1 MB of zeros deflates to ~1 KB; 100 central-directory entries point at it.
    path = tmp_path / "overlap.npz"
    names = [f"w{i}" for i in range(100)]
    tree = {"t": "dict", "k": names, "v": [{"t": "array", "m": n} for n in names]}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("__chainrule__.npy", meta(tree))
        zf.writestr("w0.npy", npy(np.zeros(MB // 8)))
        first = zf.getinfo("w0.npy")
        for n in names[1:]:            # more names for the same bytes
            info = zipfile.ZipInfo(n + ".npy", first.date_time)
            for field in ("compress_type", "CRC", "compress_size", "file_size",
                          "header_offset", "flag_bits", "extract_version",
                          "create_version", "create_system", "external_attr"):
                setattr(info, field, getattr(first, field))
            zf.filelist.append(info)
            zf.NameToInfo[info.filename] = info
    assert path.stat().st_size < 64 * 1024
    err, peak = load_measured(path)
    assert isinstance(err, CheckpointError), err
    assert "overlap (they share compressed data" in str(err)
    assert peak < 8 * MB


def test_the_same_member_used_400_times_by_the_metadata_is_refused_in_little_memory(
        tmp_path):
    # The 6.4 GB case in small: a 4 KB file whose one 128 KB member is used 400 times
    # (51 MB when loaded before).
    tree = {"t": "list", "v": [{"t": "array", "m": "w"}] * 400}
    path = write_zip(tmp_path / "reuse.npz", [
        ("__chainrule__.npy", meta(tree)),
        ("w.npy", npy(np.zeros(16 * 1024))),
    ], compression=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 8 * 1024
    err, peak = load_measured(path)
    assert isinstance(err, CheckpointError), err
    assert "member 'w' is used again at obj[1]" in str(err)
    assert peak < 8 * MB


def test_a_member_declaring_more_than_deflate_can_give_is_refused_before_reading(
        tmp_path):
    # The central directory claims 256 MB uncompressed, and the .npy header a matching
    # shape; the data is 16 bytes. Nothing of that size may be allocated.
    path = tmp_path / "bomb.npz"
    body = npy_claiming((32 * MB,))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("__chainrule__.npy", meta({"t": "array", "m": "w"}))
        zf.writestr("w.npy", body)
        zf.getinfo("w.npy").file_size = len(body) - 16 + 256 * MB
    err, peak = load_measured(path)
    assert isinstance(err, CheckpointError), err
    assert "member 'w.npy' declares 268.4 MB from" in str(err)
    assert "more than deflate can give" in str(err)
    assert peak < 8 * MB


def test_an_npy_header_claiming_8_tb_is_refused(tmp_path):
    path = write_zip(tmp_path / "huge.npz", [
        ("__chainrule__.npy", meta({"t": "array", "m": "w"})),
        ("w.npy", npy_claiming((10**12,))),
    ])
    err, peak = load_measured(path)
    assert isinstance(err, CheckpointError), err
    assert "member 'w' declares shape (1000000000000,) of float64 (8.0 TB) but holds " \
           "16 bytes" in str(err)
    assert peak < 8 * MB


def test_a_member_holding_more_than_its_header_shape_is_refused(tmp_path):
    path = write_zip(tmp_path / "long.npz", [
        ("__chainrule__.npy", meta({"t": "array", "m": "w"})),
        ("w.npy", npy_claiming((2,), data=b"\0" * 800)),
    ])
    with pytest.raises(CheckpointError, match=r"declares shape \(2,\) of float64 "
                                              r"\(16 bytes\) but holds 800 bytes"):
        cr.load(path)


def test_metadata_nested_10000_deep_is_refused(tmp_path):
    deep = "[" * 10_000 + "]" * 10_000
    text = '{"format": "chainrule.state", "version": 1, "tree": ' + deep + "}"
    path = write_zip(tmp_path / "deep.npz", [("__chainrule__.npy", npy(np.array(text)))])
    with pytest.raises(CheckpointError, match="nests too deep"):
        cr.load(path)


def test_metadata_nested_deeper_than_the_bound_is_refused(tmp_path):
    tree = None
    for _ in range(serialization.MAX_META_DEPTH + 5):
        tree = {"t": "list", "v": [tree]}
    path = write_zip(tmp_path / "deep2.npz", [("__chainrule__.npy", meta(tree))])
    with pytest.raises(CheckpointError, match=r"nests deeper than 64 levels"):
        cr.load(path)


def test_metadata_over_the_size_bound_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(serialization, "MAX_META_BYTES", 1000)
    path = write_zip(tmp_path / "big-meta.npz", [
        ("__chainrule__.npy", meta({"t": "list", "v": list(range(500))})),
    ])
    with pytest.raises(CheckpointError, match=r"the metadata is .* over the 1\.0 KB limit; "
                                              r"if the file is trusted, raise .*MAX_META"):
        cr.load(path)


def test_load_checkpoint_turns_a_crafted_file_into_a_checkpoint_error(tmp_path):
    path = write_zip(tmp_path / "ckpt.npz", [
        ("__chainrule__.npy", meta({"t": "array", "m": "w"})),
        ("w.npy", npy_claiming((10**12,))),
    ])
    with pytest.raises(CheckpointError, match=r"8\.0 TB"):
        load_checkpoint(path)


def test_real_checkpoints_still_load(tmp_path):
    state = {"w": np.arange(6.0).reshape(2, 3), "s": {"step": 3, "lr": 0.1},
             "t": (np.float32(1.5), [np.zeros(0), "x"])}
    for compress in (False, True):
        path = tmp_path / f"real-{compress}.npz"
        cr.save(state, path, compress=compress)
        back = cr.load(path)
        np.testing.assert_array_equal(back["w"], state["w"])
        assert back["s"] == state["s"] and back["t"][0] == np.float32(1.5)
        assert back["t"][1][1] == "x" and back["t"][1][0].shape == (0,)
