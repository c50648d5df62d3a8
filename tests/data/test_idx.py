"""chainrule.data.idx: IDX reading/writing, and every way a file can be broken."""

from __future__ import annotations

import gzip
import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from chainrule.data import DataError, read_idx, write_idx

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("compress", [False, True])
def test_round_trip(tmp_path: Path, dtype: type, compress: bool) -> None:
    rng = np.random.default_rng(1)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    if info is not None:
        arr = rng.integers(info.min, info.max, size=(3, 4, 5), endpoint=True, dtype=dtype)
    else:
        arr = rng.normal(size=(3, 4, 5)).astype(dtype)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, arr)
    with open(path, "rb") as f:
        assert (f.read(2) == b"\x1f\x8b") is compress
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    assert out.shape == (3, 4, 5)
    np.testing.assert_array_equal(out, arr)
    assert out.flags.writeable and out.flags.c_contiguous


def test_header_layout_is_the_mnist_one(tmp_path: Path) -> None:
    images = np.zeros((2, 28, 28), np.uint8)
    labels = np.array([7, 3], np.uint8)
    write_idx(tmp_path / "img", images)
    write_idx(tmp_path / "lab", labels)
    img = (tmp_path / "img").read_bytes()
    lab = (tmp_path / "lab").read_bytes()
    assert struct.unpack(">4I", img[:16]) == (2051, 2, 28, 28)  # MNIST's magic numbers
    assert struct.unpack(">2I", lab[:8]) == (2049, 2)
    assert len(img) == 16 + 2 * 784 and lab[8:] == b"\x07\x03"
    assert struct.unpack(">I", bytes([0, 0, 0x0D, 1]))[0] == 0x0D01


def test_float_payload_is_big_endian(tmp_path: Path) -> None:
    write_idx(tmp_path / "f", np.array([1.0], np.float32))
    assert (tmp_path / "f").read_bytes()[-4:] == struct.pack(">f", 1.0)


def test_gzip_detected_by_magic_not_name(tmp_path: Path) -> None:
    arr = np.arange(10, dtype=np.int16)
    write_idx(tmp_path / "looks-raw.idx", arr, compress=True)
    write_idx(tmp_path / "looks-gzipped.gz", arr, compress=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "looks-raw.idx"), arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "looks-gzipped.gz"), arr)


def test_gzip_output_is_reproducible(tmp_path: Path) -> None:
    arr = np.arange(1000, dtype=np.int32)
    (tmp_path / "1").mkdir()
    (tmp_path / "2").mkdir()
    write_idx(tmp_path / "1" / "a.gz", arr)
    write_idx(tmp_path / "2" / "a.gz", arr)  # no timestamp in the gzip header
    assert (tmp_path / "1" / "a.gz").read_bytes() == (tmp_path / "2" / "a.gz").read_bytes()


def test_empty_dimension_is_fine(tmp_path: Path) -> None:
    write_idx(tmp_path / "e", np.zeros((0, 28, 28), np.uint8))
    assert read_idx(tmp_path / "e").shape == (0, 28, 28)


def test_write_rejects_what_idx_cannot_hold(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="int64"):
        write_idx(tmp_path / "x", np.arange(3))  # int64
    with pytest.raises(TypeError):
        write_idx(tmp_path / "x", np.ones(2, np.complex64))
    with pytest.raises(ValueError, match="dimensions"):
        write_idx(tmp_path / "x", np.uint8(3))
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------ corrupt files
def _write(path: Path, data: bytes, compress: bool) -> Path:
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path


def _header(code: int, dims: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


def _match(path: Path, text: str) -> str:
    return re.escape(str(path)) + ".*" + text


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("data, message", [
    (b"", "the file is empty"),
    (b"\x00\x00", "truncated IDX header: expected a 4-byte magic number, found 2 bytes"),
    (b"PK\x03\x04" + b"\0" * 20, r"not an IDX file: bad magic number 0x504b0304"),
    (b"\x00\x00\x07\x01" + b"\0" * 8, r"unknown IDX data type code 0x07.*0x08 \(unsigned"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
    (b"\x00\x00\x08\x03" + b"\0\0\0\x02" + b"\0\0", r"announces 3 dimensions \(12 bytes of "
                                                     r"sizes\), found 6 bytes"),
    (_header(0x08, (60000, 28, 28)) + bytes(1000),
     r"truncated: expected 47040000 bytes of data \(60000 x 28 x 28 unsigned byte values\), "
     r"found 1000"),
    (_header(0x0C, (3,)) + bytes(11),
     r"expected 12 bytes of data \(3 int values\), found 11"),
    (_header(0x08, (2, 2)) + bytes(4 + 7),
     r"expected 4 bytes of data \(2 x 2 unsigned byte values\), found 11: 7 unexpected"),
    (_header(0x08, (2**32 - 1, 2**32 - 1, 2**32 - 1)) + bytes(10),
     r"truncated: expected 79228162458924105385300197375 bytes"),
])
def test_corrupt_files(tmp_path: Path, data: bytes, message: str, compress: bool) -> None:
    path = _write(tmp_path / "train-images-idx3-ubyte", data, compress)
    with pytest.raises(DataError, match=_match(path, message)) as exc:
        read_idx(path)
    assert isinstance(exc.value, ValueError)


def test_truncated_gzip_stream(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    good = tmp_path / "good.gz"
    write_idx(good, rng.integers(0, 256, (50, 28, 28), dtype=np.uint8))
    blob = good.read_bytes()
    for cut in (len(blob) // 2, len(blob) - 4, 12):
        bad = tmp_path / f"cut{cut}.gz"
        bad.write_bytes(blob[:cut])
        with pytest.raises(DataError, match=_match(bad, "truncated")):
            read_idx(bad)


def test_corrupt_gzip_stream(tmp_path: Path) -> None:
    good = tmp_path / "good.gz"
    write_idx(good, np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8))
    blob = bytearray(good.read_bytes())
    blob[len(blob) // 2: len(blob) // 2 + 8] = b"\xde\xad\xbe\xef" * 2
    bad = tmp_path / "bad.gz"
    bad.write_bytes(bytes(blob))
    with pytest.raises(DataError, match=_match(bad, "(corrupt gzip|truncated)")):
        read_idx(bad)
    trailer = bytearray(good.read_bytes())
    trailer[-8] ^= 0xFF  # CRC-32 of the data
    crc = tmp_path / "crc.gz"
    crc.write_bytes(bytes(trailer))
    with pytest.raises(DataError, match=_match(crc, "corrupt gzip stream.*CRC")):
        read_idx(crc)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")
