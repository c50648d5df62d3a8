"""Issue 12, item 5: outputs that are not regular files are not swapped for files.

Before, `--dot /dev/null`, `--svg /dev/stdout`, a FIFO or a symlink given as an output
was replaced (atomic rename) by a regular file.
"""

from __future__ import annotations

import os
import stat
import threading

import pytest

from chainrule._io import atomic_open, atomic_write_bytes
from chainrule.cli import main

TIMEOUT = 10.0


def _fifo_reader(path, link):
    """Read the FIFO at ``path`` in a thread; ``link`` is a hard link to it that lets
    the test release the reader if the FIFO was replaced and nobody ever writes."""
    got: dict = {}

    def read():
        with open(path, "rb") as f:
            got["data"] = f.read()

    t = threading.Thread(target=read, daemon=True)
    t.start()

    def finish():
        t.join(TIMEOUT)
        if t.is_alive():                  # release it, then fail
            fd = os.open(link, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
            t.join(TIMEOUT)
            pytest.fail("nobody wrote into the FIFO")
        return got["data"]
    return finish


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "out.fifo"
    os.mkfifo(path)
    os.link(path, tmp_path / "same.fifo")
    return path


def test_bytes_written_to_a_fifo_go_into_it_and_it_stays_a_fifo(fifo):
    finish = _fifo_reader(fifo, fifo.parent / "same.fifo")
    atomic_write_bytes(fifo, b"digraph {}\n")
    assert finish() == b"digraph {}\n"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_text_written_to_a_fifo_through_atomic_open(fifo):
    finish = _fifo_reader(fifo, fifo.parent / "same.fifo")
    with atomic_open(fifo, "w") as f:
        f.write("가나다\n")
    assert finish().decode("utf-8") == "가나다\n"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_explain_dot_into_a_fifo(fifo, capsys):
    finish = _fifo_reader(fifo, fifo.parent / "same.fifo")
    assert main(["explain", "a*b", "a=2", "b=3", "--dot", str(fifo)]) == 0
    capsys.readouterr()
    assert finish().startswith(b"digraph")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_dev_null_stays_a_character_device(tmp_path, capsys):
    # Safety first: code that swaps a FIFO for a file would also swap /dev/null for a
    # file (as root it can), so /dev/null is only tried once a FIFO in tmp survives.
    probe = tmp_path / "probe.fifo"
    os.mkfifo(probe)
    os.link(probe, tmp_path / "probe-link.fifo")
    finish = _fifo_reader(probe, tmp_path / "probe-link.fifo")
    atomic_write_bytes(probe, b"x")
    if not stat.S_ISFIFO(os.lstat(probe).st_mode):
        finish_quietly = tmp_path / "probe-link.fifo"
        os.close(os.open(finish_quietly, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("atomic writes replace special files: not trying /dev/null")
    assert finish() == b"x"
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert main(["explain", "a*b", "a=2", "b=3", "--dot", os.devnull]) == 0
    capsys.readouterr()
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_a_symlink_is_followed_its_target_replaced_and_the_link_kept(tmp_path):
    real = tmp_path / "real" / "graph.dot"
    real.parent.mkdir()
    real.write_bytes(b"old")
    os.chmod(real, 0o640)
    link = tmp_path / "graph.dot"
    link.symlink_to(real)
    atomic_write_bytes(link, b"new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == b"new"
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o640
    assert sorted(p.name for p in real.parent.iterdir()) == ["graph.dot"]   # no temp left


def test_a_dangling_symlink_creates_its_target_and_stays_a_link(tmp_path):
    real = tmp_path / "made.svg"
    link = tmp_path / "link.svg"
    link.symlink_to(real)
    atomic_write_bytes(link, b"<svg/>")
    assert link.is_symlink() and real.read_bytes() == b"<svg/>"


def test_a_regular_file_is_still_replaced_atomically(tmp_path):
    target = tmp_path / "out.txt"
    target.write_bytes(b"old")
    inode = os.stat(target).st_ino
    with pytest.raises(RuntimeError), atomic_open(target, "wb") as f:
        f.write(b"half")
        raise RuntimeError("fail in the middle")
    assert target.read_bytes() == b"old"
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and os.stat(target).st_ino != inode
