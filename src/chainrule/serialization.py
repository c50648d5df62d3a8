"""Saving and loading state dicts as NumPy ``.npz`` files, without pickle.

``cr.save(obj, path)`` writes a (possibly nested) structure of dicts, lists and tuples
whose leaves are arrays (ndarrays, Tensors, NumPy scalars) and plain values (``int``,
``float``, ``str``, ``bool``, ``None``). That covers module state dicts
(``{"fc1.weight": array, ...}``) as well as optimizer state dicts
(``{"state": {0: {"step": 3, "exp_avg": array}}, "param_groups": [...]}``).

The file is an ordinary ``.npz`` archive:

* every array is one member, named after its place in the structure (``fc1.weight``;
  ``state/0/exp_avg`` for nested containers), so ``np.load(path)["fc1.weight"]`` works
  from plain NumPy;
* the member ``__chainrule__`` holds a JSON document with the structure: which keys
  (``str`` or ``int``), which containers, which plain values, and which member holds
  each array.

Nothing is pickled: ``load`` opens the archive with ``allow_pickle=False``, so loading
a checkpoint from an untrusted source cannot run code. Writes are atomic (see
:mod:`chainrule._io`): a crash mid-save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import zipfile
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np

from ._io import atomic_open
from .errors import CheckpointError

__all__ = ["CheckpointError", "StateDictKeys", "check_state_dict", "load", "save"]

#: Name of the member that holds the JSON structure (``__chainrule__.npy`` in the zip).
META_KEY = "__chainrule__"
FORMAT_NAME = "chainrule.state"
FORMAT_VERSION = 1


# ---------------------------------------------------------------------------- helpers
def _tensor_class() -> type | None:
    try:
        from ._tensor import Tensor
    except ImportError:  # the core is not importable (yet): fall back to duck typing
        return None
    return Tensor


def _tensor_array(obj: Any, tensor_cls: type | None) -> np.ndarray | None:
    """The ndarray inside a chainrule Tensor (or Parameter), else ``None``."""
    if tensor_cls is not None and isinstance(obj, tensor_cls):
        return np.asarray(obj.data)
    data = getattr(obj, "data", None)
    if isinstance(data, np.ndarray) and any(c.__name__ == "Tensor" for c in type(obj).__mro__):
        return data
    return None


def _path_str(path: tuple[Any, ...]) -> str:
    return "obj" + "".join(f"[{k!r}]" for k in path)


_UNSAFE = re.compile(r"[^A-Za-z0-9._\-/]")


class _Encoder:
    """Turns a Python structure into a JSON-able tree plus a dict of array members."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.tensor_cls = _tensor_class()

    def member_name(self, path: tuple[Any, ...]) -> str:
        # Readable names for plain-NumPy users; the JSON records the exact name, so
        # names only need to be unique, not reversible.
        base = "/".join(_UNSAFE.sub("_", str(k)) for k in path).strip("/") or "array"
        name, n = base, 1
        while name in self.arrays or name == META_KEY:
            n += 1
            name = f"{base}~{n}"
        return name

    def add_array(self, arr: np.ndarray, path: tuple[Any, ...]) -> str:
        if arr.dtype.hasobject:
            raise TypeError(f"save: {_path_str(path)} is an array of Python objects "
                            f"(dtype={arr.dtype}); only numeric, bool and string arrays "
                            f"can be saved without pickle")
        name = self.member_name(path)
        self.arrays[name] = arr
        return name

    def encode(self, obj: Any, path: tuple[Any, ...]) -> Any:
        # Iterative would be overkill: state dicts are a few levels deep.
        if obj is None or isinstance(obj, (bool, str)):
            return str(obj) if isinstance(obj, str) else obj
        if isinstance(obj, np.generic):  # before int/float: np.float64 is a float
            return {"t": "scalar", "m": self.add_array(np.asarray(obj), path)}
        if isinstance(obj, int):  # after bool
            return int(obj)
        if isinstance(obj, float):
            if math.isfinite(obj):
                return obj
            return {"t": "float", "v": repr(obj)}  # 'nan', 'inf', '-inf'
        if isinstance(obj, np.ndarray):
            return {"t": "array", "m": self.add_array(obj, path)}
        arr = _tensor_array(obj, self.tensor_cls)
        if arr is not None:
            return {"t": "array", "m": self.add_array(arr, path)}
        if isinstance(obj, Mapping):
            keys: list[Any] = []
            values: list[Any] = []
            for k, v in obj.items():
                if isinstance(k, (bool, np.bool_)) or not isinstance(k, (str, int, np.integer)):
                    raise TypeError(f"save: {_path_str(path)} has a key {k!r} of type "
                                    f"{type(k).__name__}; keys must be str or int")
                k = k if isinstance(k, str) else int(k)
                keys.append(k)
                values.append(self.encode(v, (*path, k)))
            return {"t": "dict", "k": keys, "v": values}
        if isinstance(obj, (list, tuple)):
            items = [self.encode(v, (*path, i)) for i, v in enumerate(obj)]
            return {"t": "list" if isinstance(obj, list) else "tuple", "v": items}
        raise TypeError(f"save: {_path_str(path)} has unsupported type "
                        f"{type(obj).__module__}.{type(obj).__qualname__}; supported are "
                        f"dict, list, tuple, ndarray, Tensor, NumPy scalars, int, float, "
                        f"str, bool and None")


# ---------------------------------------------------------------------------- save
def save(obj: Any, path: str | os.PathLike[str], *, compress: bool = False) -> None:
    """Save a state dict (or any nesting of dicts, lists and tuples) to ``path``.

    Parameters
    ----------
    obj:
        The structure to save. Dict keys must be ``str`` or ``int`` (int keys come
        back as ints). Leaves may be ndarrays, chainrule Tensors/Parameters (saved as
        their ``.data``; gradients and graph are not saved), NumPy scalars, ``int``,
        ``float`` (including nan/inf), ``str``, ``bool`` or ``None``.
    path:
        Where to write. Used exactly as given (no ``.npz`` is appended); ``.npz`` or
        ``.ckpt`` are good suffixes. The parent directory must exist. An existing
        file is replaced atomically.
    compress:
        Deflate the members (smaller, slower; float weights rarely shrink much).

    Raises
    ------
    TypeError
        If ``obj`` contains something that cannot be stored without pickle; the
        message names where (``obj['state'][0]['exp_avg']``). Nothing is written then.
    """
    enc = _Encoder()
    tree = enc.encode(obj, ())
    meta = json.dumps({"format": FORMAT_NAME, "version": FORMAT_VERSION, "tree": tree},
                      ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    compression = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with atomic_open(path, "wb") as f, \
            zipfile.ZipFile(f, mode="w", compression=compression, allowZip64=True) as zf:
        members: Iterable[tuple[str, np.ndarray]] = [(META_KEY, np.array(meta)),
                                                     *enc.arrays.items()]
        for name, arr in members:
            with zf.open(name + ".npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(arr), allow_pickle=False)


# ---------------------------------------------------------------------------- load
#: Metadata deeper than this, or bigger, is refused (state dicts nest 3-5 levels; the
#: metadata of a model with 10,000 parameters is well under 1 MB).
MAX_META_DEPTH = 64
MAX_META_BYTES = 64 * 2**20
#: Deflate expands at most 1032:1, so a member declaring more is crafted.
_DEFLATE_RATIO = 1032


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return ""  # pragma: no cover


def _npy_header(f: Any) -> tuple[tuple[int, ...], np.dtype]:
    fmt = np.lib.format
    version = fmt.read_magic(f)
    if version == (1, 0):
        shape, _fortran, dtype = fmt.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, _fortran, dtype = fmt.read_array_header_2_0(f)
    else:
        shape, _fortran, dtype = fmt._read_array_header(f, version)
    return tuple(shape), dtype


def _check_archive(p: str) -> None:
    """Refuse, before any array is decompressed, what no :func:`save` writes: a member
    named twice, members sharing compressed data, a size deflate cannot reach, an
    ``.npy`` header whose shape disagrees with the member's size (a header claiming
    8 TB), object arrays, oversized metadata. So what a load may allocate is bounded
    by the archive's own declared sizes (at most ~1032 times the file)."""
    def fail(what: str) -> CheckpointError:
        return CheckpointError(f"{p}: refused: {what}; the file was crafted or damaged "
                               f"(a file written by cr.save never looks like this)")

    with zipfile.ZipFile(p) as zf:
        infos = zf.infolist()
        counts: dict[str, int] = {}
        for info in infos:
            counts[info.filename] = counts.get(info.filename, 0) + 1
        for name, n in counts.items():
            if n > 1:
                raise fail(f"member {name!r} appears {n} times in the archive")
        ordered = sorted(infos, key=lambda i: i.header_offset)
        for a, b in itertools.pairwise(ordered):
            if b.header_offset < a.header_offset + 30 + a.compress_size:
                raise fail(f"members {a.filename!r} and {b.filename!r} overlap (they "
                           f"share compressed data, as a zip bomb does)")
        for info in infos:
            stored = info.compress_type == zipfile.ZIP_STORED
            if (info.file_size != info.compress_size if stored
                    else info.file_size > _DEFLATE_RATIO * info.compress_size + 1024):
                raise fail(f"member {info.filename!r} declares {_size(info.file_size)} "
                           f"from {_size(info.compress_size)} compressed, more than "
                           f"{'storing' if stored else 'deflate'} can give")
            if not info.filename.endswith(".npy"):
                continue
            name = info.filename[:-4]
            if name == META_KEY and info.file_size > MAX_META_BYTES:
                raise CheckpointError(
                    f"{p}: refused: the metadata is {_size(info.file_size)}, over the "
                    f"{_size(MAX_META_BYTES)} limit; if the file is trusted, raise "
                    f"chainrule.serialization.MAX_META_BYTES")
            with zf.open(info) as f:
                try:
                    shape, dtype = _npy_header(f)
                except (ValueError, SyntaxError, EOFError) as e:
                    raise fail(f"member {name!r} has no valid .npy header ({e})") from e
                header = f.tell()
            if dtype.hasobject:
                raise fail(f"member {name!r} holds Python objects (dtype {dtype}): it cannot "
                           f"be read without pickle, which could run code")
            nbytes = math.prod(shape) * dtype.itemsize
            if header + nbytes != info.file_size:
                raise fail(f"member {name!r} declares shape {shape} of {dtype} "
                           f"({_size(nbytes)}) but holds {_size(info.file_size - header)}")


class _Decoder:
    def __init__(self, path: str, npz: Any) -> None:
        self.path = path
        self.npz = npz
        self.members = set(npz.files)
        self.used: set[str] = set()

    def fail(self, what: str) -> CheckpointError:
        return CheckpointError(f"{self.path}: {what}")

    def array(self, name: Any, where: str) -> np.ndarray:
        if not isinstance(name, str):
            raise self.fail(f"corrupt metadata: array reference at {where} is {name!r}")
        if name not in self.members:
            raise self.fail(f"member {name!r} (for {where}) is missing from the archive; "
                            f"the file is incomplete or was modified")
        if name in self.used:   # save() names each array once: a repeat multiplies memory
            raise self.fail(f"refused: member {name!r} is used again at {where}; a file "
                            f"written by cr.save uses each member once (crafted file?)")
        self.used.add(name)
        try:
            return self.npz[name]
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
            raise self.fail(f"member {name!r} (for {where}) cannot be read: {e}") from e

    def decode(self, node: Any, path: tuple[Any, ...]) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        where = _path_str(path)
        if len(path) > MAX_META_DEPTH:
            raise self.fail(f"refused: the metadata nests deeper than {MAX_META_DEPTH} "
                            f"levels at {where:.200}")
        if not isinstance(node, dict) or "t" not in node:
            raise self.fail(f"corrupt metadata: unexpected node {node!r:.80} at {where}")
        kind = node["t"]
        try:
            if kind == "array":
                return self.array(node["m"], where)
            if kind == "scalar":
                return self.array(node["m"], where)[()]
            if kind == "float":
                return float(node["v"])
            if kind == "dict":
                keys, values = node["k"], node["v"]
                if len(keys) != len(values):
                    raise self.fail(f"corrupt metadata: dict at {where} has {len(keys)} "
                                    f"keys but {len(values)} values")
                out = {}
                for k, v in zip(keys, values):
                    if isinstance(k, bool) or not isinstance(k, (str, int)):
                        raise self.fail(f"corrupt metadata: bad key {k!r} at {where}")
                    out[k] = self.decode(v, (*path, k))
                return out
            if kind in ("list", "tuple"):
                items = [self.decode(v, (*path, i)) for i, v in enumerate(node["v"])]
                return items if kind == "list" else tuple(items)
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, CheckpointError):
                raise
            raise self.fail(f"corrupt metadata at {where}: {e!r}") from e
        raise self.fail(f"corrupt metadata: unknown node type {kind!r} at {where}")


def load(path: str | os.PathLike[str]) -> Any:
    """Load what :func:`save` wrote: the same structure, with arrays as ndarrays.

    Dict keys, containers (dict/list/tuple), plain values and array dtypes and shapes
    round-trip exactly; Tensors come back as plain ndarrays (``Module.load_state_dict``
    and ``Optimizer.load_state_dict`` accept those).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    CheckpointError
        (a ``ValueError``) if the file is not a zip/``.npz`` archive, lacks the
        ``__chainrule__`` metadata, has malformed metadata, or a member is missing or
        damaged. The message names the file and what is wrong. Crafted files are
        refused before anything large is allocated: a member named twice or sharing
        another's compressed data, sizes deflate cannot reach, an ``.npy`` header
        whose shape disagrees with its member's size, metadata nested deeper than
        :data:`MAX_META_DEPTH` or bigger than :data:`MAX_META_BYTES`, an array
        member used twice.
    """
    p = os.fspath(path)
    if not os.path.exists(p):
        raise FileNotFoundError(f"load: no such file: {p}")
    if os.path.isdir(p):
        raise IsADirectoryError(f"load: {p} is a directory, not a checkpoint file")
    if not zipfile.is_zipfile(p):
        with open(p, "rb") as f:
            head = f.read(8)
        detail = "the file is empty" if not head else f"it starts with {head!r}"
        raise CheckpointError(f"{p}: not a chainrule checkpoint: not a zip/.npz archive "
                              f"({detail}; a truncated or partially copied file looks "
                              f"like this too)")
    try:
        _check_archive(p)
        with np.load(p, allow_pickle=False) as npz:
            if META_KEY not in npz.files:
                raise CheckpointError(
                    f"{p}: not a chainrule checkpoint: the .npz has no {META_KEY!r} "
                    f"metadata member (members: {', '.join(npz.files[:8]) or 'none'}"
                    f"{', ...' if len(npz.files) > 8 else ''}); files written by "
                    f"np.savez can be read with np.load")
            dec = _Decoder(p, npz)
            raw = dec.array(META_KEY, "the metadata")
            if raw.dtype.kind != "U" or raw.ndim != 0:
                raise CheckpointError(f"{p}: metadata member {META_KEY!r} is not a string "
                                      f"(dtype {raw.dtype}, shape {raw.shape})")
            try:
                meta = json.loads(str(raw[()]))
            except json.JSONDecodeError as e:
                raise CheckpointError(f"{p}: metadata is not valid JSON: {e}") from e
            except RecursionError:
                raise CheckpointError(f"{p}: refused: the metadata JSON nests too deep "
                                      f"to read (deeper than {MAX_META_DEPTH} levels is "
                                      f"never written by cr.save)") from None
            if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
                raise CheckpointError(f"{p}: metadata does not describe a "
                                      f"{FORMAT_NAME!r} file")
            version = meta.get("version")
            if not isinstance(version, int) or version > FORMAT_VERSION:
                raise CheckpointError(f"{p}: checkpoint format version {version!r} is not "
                                      f"supported (this chainrule reads up to "
                                      f"{FORMAT_VERSION}); upgrade chainrule")
            if "tree" not in meta:
                raise CheckpointError(f"{p}: metadata has no 'tree'")
            return dec.decode(meta["tree"], ())
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as e:
        raise CheckpointError(f"{p}: damaged checkpoint archive: {e}") from e
    except (MemoryError, RecursionError) as e:
        raise CheckpointError(f"{p}: refused: loading it would need more memory or "
                              f"nesting than it can hold ({type(e).__name__})") from e


# ---------------------------------------------------------------------------- checks
class StateDictKeys(NamedTuple):
    """Keys that did not line up; returned by :func:`check_state_dict`."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _shape_of(value: Any) -> tuple[int, ...] | None:
    shape = getattr(value, "shape", None)
    if shape is None:
        try:
            shape = np.shape(value)
        except (ValueError, TypeError):
            return None
    return tuple(int(s) for s in shape)


def check_state_dict(expected: Mapping[str, Any], got: Mapping[Any, Any], *,
                     strict: bool = True, what: str = "state dict") -> StateDictKeys:
    """Compare a state dict with the names and shapes a model expects.

    Parameters
    ----------
    expected:
        ``{name: shape}`` for every entry the model has; a shape is a tuple of ints
        (anything with a ``.shape``, such as the parameter itself, is accepted too).
    got:
        The state dict being loaded (values: arrays, Tensors, numbers).
    strict:
        If true (default), missing and unexpected keys are errors. If false, only shape
        mismatches are errors and the stray keys are just reported in the result.
    what:
        How to call ``got`` in the message (e.g. ``"state dict of Linear"``).

    Returns
    -------
    StateDictKeys
        ``(missing_keys, unexpected_keys)``, both sorted lists.

    Raises
    ------
    CheckpointError
        Listing every problem at once: missing keys, unexpected keys and, for each
        shape mismatch, the name with the expected and the found shape.
    """
    missing = sorted(k for k in expected if k not in got)
    unexpected = sorted((k for k in got if k not in expected), key=str)
    mismatched = []
    for k in expected:
        if k not in got:
            continue
        want = expected[k]
        want_shape = _shape_of(want) if hasattr(want, "shape") else tuple(int(s) for s in want)
        have_shape = _shape_of(got[k])
        if have_shape != want_shape:
            mismatched.append((k, want_shape, have_shape))
    problems = []
    if strict and missing:
        problems.append(f"  missing keys ({len(missing)}): "
                        + ", ".join(repr(k) for k in missing))
    if strict and unexpected:
        problems.append(f"  unexpected keys ({len(unexpected)}): "
                        + ", ".join(repr(k) for k in unexpected))
    if mismatched:
        lines = [f"    {k!r}: expected shape {_fmt(w)}, got {_fmt(h)}"
                 for k, w, h in mismatched]
        problems.append(f"  shape mismatches ({len(mismatched)}):\n" + "\n".join(lines))
    if problems:
        raise CheckpointError(f"{what} does not match the model:\n" + "\n".join(problems))
    return StateDictKeys(missing, [str(k) for k in unexpected])


def _fmt(shape: tuple[int, ...] | None) -> str:
    return "(not an array)" if shape is None else str(shape)
