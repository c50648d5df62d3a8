"""chainrule._io: atomic writes replace a file whole or not at all."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from chainrule._io import atomic_open, atomic_write_bytes


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_write_bytes_creates_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"first")
    assert target.read_bytes() == b"first"
    atomic_write_bytes(target, bytearray(b"second, longer"))
    assert target.read_bytes() == b"second, longer"
    atomic_write_bytes(target, memoryview(b"3"))
    assert target.read_bytes() == b"3"
    assert _leftovers(tmp_path) == []


def test_failure_keeps_old_file_and_removes_temp(tmp_path: Path) -> None:
    target = tmp_path / "ckpt.npz"
    target.write_bytes(b"old contents")
    with pytest.raises(RuntimeError, match="disk on fire"), atomic_open(target, "wb") as f:
        f.write(b"half of the new ")
        raise RuntimeError("disk on fire")
    assert target.read_bytes() == b"old contents"
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_failure_on_new_file_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), atomic_open(tmp_path / "new.txt", "w") as f:
        f.write("partial")
        raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_temp_file_lives_next_to_target_until_commit(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with atomic_open(target, "w") as f:
        f.write("héllo\n")
        (tmp,) = _leftovers(tmp_path)
        assert tmp.startswith(".out.txt.")
        assert not target.exists()
    assert target.read_text(encoding="utf-8") == "héllo\n"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_exclusive_mode(tmp_path: Path) -> None:
    target = tmp_path / "x.bin"
    with atomic_open(target, "xb") as f:
        f.write(b"a")
    with pytest.raises(FileExistsError), atomic_open(target, "xb") as f:
        f.write(b"b")
    assert target.read_bytes() == b"a"
    assert _leftovers(tmp_path) == []


def test_permissions_follow_umask_or_existing_file(tmp_path: Path) -> None:
    old_mask = os.umask(0o027)
    try:
        atomic_write_bytes(tmp_path / "new", b"x")
    finally:
        os.umask(old_mask)
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o640
    existing = tmp_path / "existing"
    existing.write_bytes(b"")
    existing.chmod(0o600)
    atomic_write_bytes(existing, b"y")
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode"), atomic_open(tmp_path / "a", "a"):
        pass
    with pytest.raises(ValueError, match="text modes"), \
            atomic_open(tmp_path / "a", "wb", encoding="utf-8"):
        pass
    with pytest.raises(FileNotFoundError):
        atomic_write_bytes(tmp_path / "no" / "such" / "dir", b"x")
    assert os.listdir(tmp_path) == []
