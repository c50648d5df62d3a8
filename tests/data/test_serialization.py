"""chainrule.serialization: save/load of state dicts as pickle-free .npz files."""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chainrule import serialization
from chainrule.serialization import CheckpointError, check_state_dict, load, save


def assert_same(a: Any, b: Any) -> None:
    """Structural equality that also checks types, dtypes and int-vs-str keys."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype and (a == b or (a != a and b != b))
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert type(k) is type(next(x for x in b if x == k))
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


def write_npz(path: Path, members: dict[str, np.ndarray], allow_pickle: bool = False) -> None:
    """A hand-made .npz, to build broken checkpoints."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, arr in members.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arr, allow_pickle=allow_pickle)
            zf.writestr(name + ".npy", buf.getvalue())


def meta(tree: Any, version: int = 1) -> np.ndarray:
    return np.array(json.dumps({"format": "chainrule.state", "version": version,
                                "tree": tree}))


# ------------------------------------------------------------------ round trips
def test_module_state_dict_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    sd = {
        "fc1.weight": rng.normal(size=(784, 32)).astype(np.float32),
        "fc1.bias": np.zeros(32, np.float32),
        "bn.running_mean": rng.normal(size=32),
        "bn.num_batches_tracked": np.array(17, dtype=np.int64),  # 0-d
        "mask": rng.random((3, 4)) > 0.5,
        "empty": np.zeros((0, 5), np.int16),
        "transposed": np.arange(12, dtype=np.int32).reshape(3, 4).T,  # not contiguous
        "big_endian": np.arange(3, dtype=">f8"),
        "bytes": np.frombuffer(b"\x00\xff", dtype=np.uint8),
    }
    path = tmp_path / "model.npz"
    save(sd, path)
    out = load(path)
    assert_same(sd, out)
    # Plain NumPy can read the arrays by their names.
    with np.load(path, allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["fc1.weight"], sd["fc1.weight"])
        assert "__chainrule__" in npz.files


def test_optimizer_state_dict_round_trip_with_int_keys(tmp_path: Path) -> None:
    state = {
        "state": {
            0: {"step": 3, "exp_avg": np.arange(4.0), "exp_avg_sq": np.ones((2, 2))},
            1: {"step": np.int64(3), "momentum_buffer": None, "lr_scale": np.float32(0.5)},
            "0": {"note": "a str key that looks like an int stays a str"},
        },
        "param_groups": [
            {"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0,
             "amsgrad": False, "nesterov": True, "params": [0, 1], "name": "héllo ✓"},
            {"lr": float("inf"), "min_lr": float("-inf"), "max": float("nan"),
             "params": [], "big": 2**80, "nested": [[1, [2.5, None]], ()]},
        ],
        "rng": {"bit_generator": "PCG64", "state": {"state": 2**127 + 5, "inc": 7}},
    }
    path = tmp_path / "optim.ckpt"
    save(state, path)
    out = load(path)
    assert_same(state, out)
    assert list(out["state"]) == [0, 1, "0"]
    assert isinstance(out["param_groups"][0]["betas"], tuple)
    assert out["state"][1]["step"].dtype == np.int64


def test_tensors_are_saved_as_arrays(tmp_path: Path) -> None:
    class Tensor:  # duck-typed stand-in: a class named Tensor with an ndarray .data
        def __init__(self, data: np.ndarray) -> None:
            self.data = data

    class Parameter(Tensor):
        pass

    items: dict[str, Any] = {"w": Parameter(np.eye(2)), "b": Tensor(np.array([1.0, 2.0]))}
    try:
        from chainrule._tensor import Tensor as RealTensor
    except ImportError:  # the core is not importable in this checkout
        pass
    else:
        items["real"] = RealTensor(np.arange(3.0), requires_grad=True)
    save(items, tmp_path / "t.npz")
    out = load(tmp_path / "t.npz")
    np.testing.assert_array_equal(out["w"], np.eye(2))
    np.testing.assert_array_equal(out["b"], [1.0, 2.0])
    assert all(type(v) is np.ndarray for v in out.values())
    if "real" in items:
        np.testing.assert_array_equal(out["real"], [0.0, 1.0, 2.0])


def test_awkward_keys_round_trip(tmp_path: Path) -> None:
    sd = {"a/b": np.ones(1), "a_b": np.ones(2), "a b": np.ones(3), "": np.ones(4),
          "__chainrule__": np.ones(5), "file": np.ones(6), "allow_pickle": np.ones(7),
          "a": {"b": np.ones(8)}, "../../etc/passwd": np.ones(9)}
    save(sd, tmp_path / "k.npz")
    out = load(tmp_path / "k.npz")
    assert list(out) == list(sd)
    for k, v in sd.items():
        if isinstance(v, dict):
            np.testing.assert_array_equal(out[k]["b"], v["b"])
        else:
            np.testing.assert_array_equal(out[k], v)


def test_compressed_and_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    save({"z": np.zeros(100_000)}, path, compress=True)
    assert path.stat().st_size < 10_000
    save({"x": 1}, path)
    assert load(path) == {"x": 1}
    assert os.listdir(tmp_path) == ["c.npz"]


# ------------------------------------------------------------------ what cannot be saved
@pytest.mark.parametrize("obj, where", [
    ({"a": {"b": {1, 2}}}, r"obj\['a'\]\['b'\].*set"),
    ({"x": np.array([object()])}, r"obj\['x'\].*objects"),
    ({(1, 2): np.ones(1)}, "keys must be str or int"),
    ({True: 1}, "keys must be str or int"),
    ({"f": lambda: 0}, "unsupported type"),
])
def test_unsupported_values_raise_and_write_nothing(tmp_path: Path, obj: Any,
                                                    where: str) -> None:
    path = tmp_path / "bad.npz"
    with pytest.raises(TypeError, match=where):
        save(obj, path)
    assert os.listdir(tmp_path) == []


def test_failed_save_keeps_previous_checkpoint(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ckpt.npz"
    save({"epoch": 1, "w": np.ones(3)}, path)
    before = path.read_bytes()
    calls = []
    real_write = np.lib.format.write_array

    def flaky_write(fp: Any, array: np.ndarray, **kw: Any) -> None:
        calls.append(1)
        if len(calls) == 3:
            raise OSError("No space left on device")
        real_write(fp, array, **kw)

    monkeypatch.setattr(np.lib.format, "write_array", flaky_write)
    with pytest.raises(OSError, match="No space"):
        save({"epoch": 2, "w": np.zeros(3), "b": np.zeros(2), "c": np.zeros(1)}, path)
    assert path.read_bytes() == before
    assert load(path)["epoch"] == 1
    assert os.listdir(tmp_path) == ["ckpt.npz"]


# ------------------------------------------------------------------ damaged files
def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.npz")


@pytest.mark.parametrize("content, message", [
    (b"", "not a zip/.npz archive.*empty"),
    (b"\x89HDF\r\n\x1a\n" + b"\0" * 100, "not a zip/.npz archive.*starts with"),
    (b"PK\x03\x04" + b"\0" * 10, "not a zip"),
])
def test_not_a_zip(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "weights.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message) as exc:
        load(path)
    assert str(path) in str(exc.value)
    assert isinstance(exc.value, ValueError)


def test_truncated_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "t.npz"
    save({"w": np.arange(10_000.0), "step": 5}, path)
    data = path.read_bytes()
    for cut in (len(data) // 3, len(data) - 10):
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match=str(path).replace("\\", "\\\\")):
            load(path)


def test_corrupted_member_bytes(tmp_path: Path) -> None:
    path = tmp_path / "crc.npz"
    save({"w": np.arange(1000.0)}, path)
    data = bytearray(path.read_bytes())
    i = data.index(np.arange(1000.0)[500:501].tobytes())  # inside the stored array
    data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"member 'w'.*cannot be read.*CRC"):
        load(path)


def test_plain_npz_without_metadata(tmp_path: Path) -> None:
    path = tmp_path / "plain.npz"
    np.savez(path, a=np.ones(2), b=np.zeros(3))
    with pytest.raises(CheckpointError, match=r"no '__chainrule__' metadata.*members: a, b"):
        load(path)


@pytest.mark.parametrize("members, message", [
    ({"__chainrule__": np.array("{not json")}, "not valid JSON"),
    ({"__chainrule__": np.array(b"bytes")}, "not a string"),
    ({"__chainrule__": np.arange(3)}, "not a string"),
    ({"__chainrule__": np.array(json.dumps({"format": "other"}))}, "does not describe"),
    ({"__chainrule__": meta({"t": "array", "m": "w"})}, r"member 'w'.*missing"),
    ({"__chainrule__": meta({"t": "dict", "k": ["a"], "v": [{"t": "array", "m": "x"}]}),
      "w": np.ones(1)}, r"member 'x' \(for obj\['a'\]\) is missing"),
    ({"__chainrule__": meta({"t": "dict", "k": ["a", "b"], "v": [1]})}, "2 keys but 1 value"),
    ({"__chainrule__": meta({"t": "mystery"})}, "unknown node type 'mystery'"),
    ({"__chainrule__": meta([1, 2])}, "unexpected node"),
    ({"__chainrule__": meta({"t": "dict", "k": [[1]], "v": [1]})}, "bad key"),
    ({"__chainrule__": meta(1, version=99)}, "version 99 is not supported"),
    ({"__chainrule__": np.array(json.dumps({"format": "chainrule.state", "version": 1}))},
     "no 'tree'"),
])
def test_bad_metadata(tmp_path: Path, members: dict[str, np.ndarray], message: str) -> None:
    path = tmp_path / "bad.npz"
    write_npz(path, members)
    with pytest.raises(CheckpointError, match=message) as exc:
        load(path)
    assert str(exc.value).startswith(str(path))


def test_pickled_member_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.npz"
    write_npz(path, {"__chainrule__": meta({"t": "array", "m": "x"}),
                     "x": np.array([{"a": 1}], dtype=object)}, allow_pickle=True)
    with pytest.raises(CheckpointError, match=r"member 'x'.*cannot be read.*pickle"):
        load(path)


# ------------------------------------------------------------------ check_state_dict
def test_check_state_dict_ok() -> None:
    expected = {"w": (2, 3), "b": (3,), "s": ()}
    got = {"w": np.ones((2, 3)), "b": [0.0, 0.0, 0.0], "s": 1.0}
    assert check_state_dict(expected, got) == ([], [])


def test_check_state_dict_reports_everything() -> None:
    expected = {"fc1.weight": (784, 128), "fc1.bias": (128,), "fc2.weight": (128, 10),
                "fc2.bias": np.zeros(10)}
    got = {"fc1.weight": np.zeros((10, 784)), "fc1.bias": np.zeros(128),
           "fc3.weight": np.zeros(1), "fc2.bias": np.zeros((1, 10))}
    with pytest.raises(CheckpointError) as exc:
        check_state_dict(expected, got, what="state dict of MLP")
    msg = str(exc.value)
    assert msg.startswith("state dict of MLP does not match the model:")
    assert "missing keys (1): 'fc2.weight'" in msg
    assert "unexpected keys (1): 'fc3.weight'" in msg
    assert "shape mismatches (2):" in msg
    assert "'fc1.weight': expected shape (784, 128), got (10, 784)" in msg
    assert "'fc2.bias': expected shape (10,), got (1, 10)" in msg


def test_check_state_dict_non_strict() -> None:
    keys = check_state_dict({"a": (1,), "b": (2,)}, {"a": np.ones(1), "c": 3}, strict=False)
    assert keys.missing_keys == ["b"] and keys.unexpected_keys == ["c"]
    with pytest.raises(CheckpointError, match="shape mismatches"):
        check_state_dict({"a": (1,)}, {"a": np.ones(2)}, strict=False)


def test_checkpoint_error_is_value_error() -> None:
    assert issubclass(serialization.CheckpointError, ValueError)
