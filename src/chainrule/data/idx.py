"""Reading and writing IDX files, the format MNIST and Fashion-MNIST ship in.

An IDX file is a 4-byte magic number, one big-endian ``uint32`` per dimension, then
the values in C order, big-endian::

    byte 0-1   0x00 0x00
    byte 2     data type: 0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int,
               0x0D float, 0x0E double
    byte 3     number of dimensions
    then       ndim x uint32 sizes, then prod(sizes) values

Files may be gzip-compressed (the distributed ``*.gz``); :func:`read_idx` tells by the
magic bytes, not by the name. Everything is checked: a file that is truncated, too
long, has a corrupt header or a damaged gzip stream raises :class:`DataError` naming
the file and what is wrong, instead of yielding a silently wrong array.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path
from typing import IO, Any

import numpy as np

from .._io import atomic_open
from ..errors import DataError

__all__ = ["IDX_DTYPES", "DataError", "read_idx", "write_idx"]


#: IDX type code -> (big-endian NumPy dtype, name used in the IDX spec).
IDX_DTYPES: dict[int, tuple[np.dtype, str]] = {
    0x08: (np.dtype(">u1"), "unsigned byte"),
    0x09: (np.dtype(">i1"), "signed byte"),
    0x0B: (np.dtype(">i2"), "short"),
    0x0C: (np.dtype(">i4"), "int"),
    0x0D: (np.dtype(">f4"), "float"),
    0x0E: (np.dtype(">f8"), "double"),
}
_CODE_OF_KIND = {(dt.kind, dt.itemsize): code for code, (dt, _) in IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


def _describe_codes() -> str:
    return ", ".join(f"0x{c:02X} ({name})" for c, (_, name) in IDX_DTYPES.items())


def _read_upto(f: IO[bytes], n: int) -> bytearray:
    """Read exactly ``n`` bytes unless the stream ends first.

    The buffer grows as data arrives, so a corrupt header announcing terabytes costs
    nothing until the data is actually there.
    """
    buf = bytearray()
    while len(buf) < n:
        chunk = f.read(min(n - len(buf), _CHUNK))
        if not chunk:
            break
        buf += chunk
    return buf


def _count_rest(f: IO[bytes]) -> int:
    total = 0
    while True:
        chunk = f.read(_CHUNK)
        if not chunk:
            return total
        total += len(chunk)


def _read_stream(f: IO[bytes], name: str) -> np.ndarray:
    header = _read_upto(f, 4)
    if len(header) == 0:
        raise DataError(f"{name}: the file is empty (expected an IDX file)")
    if len(header) < 4:
        raise DataError(f"{name}: truncated IDX header: expected a 4-byte magic number, "
                        f"found {len(header)} bytes")
    if header[:2] != b"\x00\x00":
        raise DataError(f"{name}: not an IDX file: bad magic number 0x{header.hex()} "
                        f"(an IDX file starts with two zero bytes)")
    code, ndim = header[2], header[3]
    if code not in IDX_DTYPES:
        raise DataError(f"{name}: unknown IDX data type code 0x{code:02X} in the magic "
                        f"number 0x{header.hex()}; known codes: {_describe_codes()}")
    if ndim == 0:
        raise DataError(f"{name}: IDX header says 0 dimensions (magic 0x{header.hex()}); "
                        f"IDX files have at least one")
    dims_raw = _read_upto(f, 4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise DataError(f"{name}: truncated IDX header: the magic number announces {ndim} "
                        f"dimensions ({4 * ndim} bytes of sizes), found "
                        f"{len(dims_raw)} bytes")
    shape = tuple(int(d) for d in np.frombuffer(dims_raw, dtype=">u4"))
    dtype, type_name = IDX_DTYPES[code]
    count = 1
    for d in shape:
        count *= d
    nbytes = count * dtype.itemsize
    what = f"{' x '.join(map(str, shape))} {type_name} values"
    payload = _read_upto(f, nbytes)
    if len(payload) < nbytes:
        raise DataError(f"{name}: truncated: expected {nbytes} bytes of data ({what}), "
                        f"found {len(payload)}")
    extra = _count_rest(f)
    if extra:
        raise DataError(f"{name}: expected {nbytes} bytes of data ({what}), found "
                        f"{nbytes + extra}: {extra} unexpected bytes at the end (oversized "
                        f"or corrupt header)")
    arr = np.frombuffer(payload, dtype=dtype).reshape(shape)
    native = dtype.newbyteorder("=")
    return arr if dtype.itemsize == 1 else arr.astype(native)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into an ndarray.

    Parameters
    ----------
    path:
        The file. Gzip compression is recognised from the first two bytes
        (``1f 8b``), whatever the file name.

    Returns
    -------
    ndarray
        Shape as in the header; dtype ``uint8``, ``int8``, ``int16``, ``int32``,
        ``float32`` or ``float64`` in native byte order. The array is writable and owns
        its memory.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataError
        (a ``ValueError``) if the magic number, type code or dimensions are invalid, the
        data is shorter or longer than the dimensions say, or the gzip stream is
        damaged or truncated. The message names the file, e.g. ``.../train-images-idx3-
        ubyte.gz: truncated: expected 47040000 bytes of data (60000 x 28 x 28 unsigned
        byte values), found 1000``.
    """
    p = Path(os.fspath(path))
    name = str(p)
    with open(p, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if not compressed:
            return _read_stream(raw, name)
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                return _read_stream(gz, name + " (gzip)")
        except EOFError as e:
            raise DataError(f"{name}: truncated gzip stream: the compressed file ends "
                            f"before its end-of-stream marker ({e}); the download or copy "
                            f"was probably cut short") from e
        except (gzip.BadGzipFile, zlib.error) as e:
            raise DataError(f"{name}: corrupt gzip stream: {e}") from e


def write_idx(path: str | os.PathLike[str], array: Any, *, compress: bool | None = None,
              compresslevel: int = 6) -> None:
    """Write ``array`` as an IDX file, atomically.

    Parameters
    ----------
    path:
        Destination; replaced atomically if it exists.
    array:
        Array-like of dtype ``uint8``, ``int8``, ``int16``, ``int32``, ``float32`` or
        ``float64`` with at least one dimension (other dtypes raise ``TypeError``: cast
        first, e.g. labels with ``.astype(np.uint8)``).
    compress:
        Gzip the file. By default, compress if and only if the name ends in ``.gz``.
    compresslevel:
        Gzip level 1-9. The gzip header has no timestamp, so output is reproducible.
    """
    arr = np.asarray(array)
    if arr.ndim == 0 or arr.ndim > 255:
        raise ValueError(f"write_idx: array must have 1 to 255 dimensions, got {arr.ndim}")
    if any(d >= 2**32 for d in arr.shape):
        raise ValueError(f"write_idx: dimension too large for IDX: {arr.shape}")
    code = _CODE_OF_KIND.get((arr.dtype.kind, arr.dtype.itemsize))
    if code is None:
        raise TypeError(f"write_idx: dtype {arr.dtype} has no IDX type; use uint8, int8, "
                        f"int16, int32, float32 or float64")
    be = IDX_DTYPES[code][0]
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    body = np.ascontiguousarray(arr, dtype=be).tobytes()
    p = Path(os.fspath(path))
    if compress is None:
        compress = p.name.endswith(".gz")
    with atomic_open(p, "wb") as f:
        if compress:
            inner = p.name[:-3] if p.name.endswith(".gz") else p.name
            with gzip.GzipFile(filename=inner, mode="wb", fileobj=f, mtime=0,
                               compresslevel=compresslevel) as gz:
                gz.write(header)
                gz.write(body)
        else:
            f.write(header)
            f.write(body)
