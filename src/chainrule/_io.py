"""Crash-safe file writing: every file chainrule writes goes through here.

A file is never written in place. :func:`atomic_open` hands out a temporary file in
the *same directory* as the target, and only when the ``with`` block finishes without
an exception is the data flushed, ``fsync``-ed and moved over the target with
:func:`os.replace` (atomic on POSIX and Windows when both names are on one file
system, which the shared directory guarantees). Readers therefore see either the old
file or the complete new one, never half a checkpoint; if the block raises, or the
process is killed, the old file is untouched and the temporary file is removed (or, on
a hard kill, left behind as a hidden ``.<name>.*.tmp`` file that nothing reads).

Atomic replacement is for regular files. An output that is something else is treated
as what it is: a **symlink** is followed, and the file it points to is replaced
atomically (the link stays a link; a dangling link creates its target); a
**character device or FIFO** (``/dev/null``, ``/dev/stdout``, a named pipe) is opened
and written straight into, with no temporary file and no rename (renaming over it
would swap the device for a regular file); a block device or socket is refused.

:func:`exclusive_dir` makes a new directory under a name no one else can take at the
same time (``os.mkdir`` fails if it exists), adding ``-1``, ``-2``... on collision.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open", "atomic_write_bytes", "exclusive_dir"]

_ALLOWED_MODES = {"w", "wt", "wb", "x", "xt", "xb"}
#: errno values that mean "no room": the message says the old file is intact.
_FULL = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _current_umask() -> int:
    """The process umask, read without changing it where the OS allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no read-only API elsewhere: set and restore at once
    os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable by syncing its directory (best effort; POSIX only)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb", *,
                encoding: str | None = None, newline: str | None = None,
                fsync: bool = True) -> Iterator[IO[Any]]:
    """Open ``path`` for writing so that it is replaced all at once, or not at all.

    Use it like :func:`open` in a ``with`` statement::

        with atomic_open("model.npz", "wb") as f:
            f.write(data)

    Parameters
    ----------
    path:
        The file to create or replace. Its directory must exist.
    mode:
        ``"wb"`` (default) or ``"w"``/``"wt"`` for text; ``"x"``/``"xb"``/``"xt"`` fail
        with :class:`FileExistsError` if ``path`` already exists (checked when the block
        starts).
    encoding, newline:
        As for :func:`open`, text mode only (``encoding`` defaults to UTF-8).
    fsync:
        Flush the data to disk before the rename (default). Turn off only for
        throw-away files in tests.

    The new file gets the usual permissions of a newly created file (``0o666`` less the
    umask), or the permissions of the file it replaces. If the block raises, the
    temporary file is deleted, ``path`` is left as it was and the exception propagates.

    Only a regular file is replaced. A symlink is followed: the file it points to is
    replaced atomically and the link is kept. A character device or FIFO
    (``/dev/null``, ``/dev/stdout``, ``mkfifo``) is written straight into, as ``open``
    would (no temporary file, no rename, so it is not swapped for a regular file, and
    a reader of the FIFO sees the data as it is written). A block device or a socket
    raises :class:`OSError`.
    """
    if mode not in _ALLOWED_MODES:
        raise ValueError(f"atomic_open: mode must be one of {sorted(_ALLOWED_MODES)}, "
                         f"got {mode!r}")
    target = Path(os.fspath(path))
    exclusive = mode.startswith("x")
    binary = "b" in mode
    if binary and (encoding is not None or newline is not None):
        raise ValueError("atomic_open: encoding and newline are for text modes only")
    if exclusive and target.exists():
        raise FileExistsError(f"atomic_open: {target} already exists (mode {mode!r})")
    if target.is_symlink():
        target = Path(os.path.realpath(target))   # replace what it points to; keep it
    if _special_kind(target) is not None:
        with _open_stream(target, binary, encoding, newline) as f:
            yield f
        return
    directory = target.parent
    try:
        existing_mode: int | None = target.stat().st_mode & 0o7777
    except OSError:
        existing_mode = None

    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                    dir=directory)
    tmp = Path(tmp_name)
    try:
        perms = existing_mode if existing_mode is not None else 0o666 & ~_current_umask()
        with contextlib.suppress(OSError):  # e.g. file systems without chmod
            os.chmod(tmp, perms)
        if binary:
            f: IO[Any] = os.fdopen(fd, "wb")
        else:
            f = os.fdopen(fd, "w", encoding=encoding or "utf-8", newline=newline)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    try:
        try:
            with f:
                yield f
                f.flush()
                if fsync:
                    os.fsync(f.fileno())
        except OSError as e:      # also from close(), flushing what was buffered
            if e.errno not in _FULL:
                raise
            kept = (f"{target} was left as it was (its previous contents are intact)"
                    if existing_mode is not None else f"{target} was not created")
            raise OSError(e.errno, f"{e.strerror} while writing {target}: the disk is "
                          f"full or a file size limit was reached; {kept}. Free some "
                          f"space (or write elsewhere) and try again") from e
        if exclusive:
            # Re-check at commit time too; a hard link fails atomically if it exists.
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise FileExistsError(
                    f"atomic_open: {target} was created by someone else meanwhile") from None
            except OSError:  # no hard links here (some file systems): best effort
                if target.exists():
                    raise FileExistsError(f"atomic_open: {target} already exists") from None
                os.replace(tmp, target)
            else:
                tmp.unlink(missing_ok=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if fsync:
        _fsync_directory(directory)


def _special_kind(target: Path) -> str | None:
    """"stream" for a character device or FIFO, None for a regular file (or nothing)."""
    try:
        st_mode = target.stat().st_mode
    except OSError:
        return None
    if stat.S_ISCHR(st_mode) or stat.S_ISFIFO(st_mode):
        return "stream"
    if stat.S_ISBLK(st_mode) or stat.S_ISSOCK(st_mode):
        what = "a block device" if stat.S_ISBLK(st_mode) else "a socket"
        raise OSError(f"atomic_open: {target} is {what}, not a file to write an output "
                      f"into; give a file name (or /dev/stdout, a FIFO)")
    return None


@contextlib.contextmanager
def _open_stream(target: Path, binary: bool, encoding: str | None,
                 newline: str | None) -> Iterator[IO[Any]]:
    """Write straight into a character device or FIFO (blocks until a FIFO has a reader)."""
    if binary:
        f: IO[Any] = open(target, "wb")
    else:
        f = open(target, "w", encoding=encoding or "utf-8", newline=newline)
    with f:
        yield f


def exclusive_dir(base: str | os.PathLike[str], name: str) -> Path:
    """Create and return a new directory ``base/name`` that no one else created.

    ``os.mkdir`` fails if the name exists, so two processes (or threads) creating the
    same name at the same moment cannot both get it: the loser tries ``name-1``,
    ``name-2``... until one is free. ``base`` is created if missing.
    """
    root = Path(os.fspath(base))
    root.mkdir(parents=True, exist_ok=True)
    for n in range(10_000):
        path = root / (name if n == 0 else f"{name}-{n}")
        try:
            os.mkdir(path)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"exclusive_dir: {root / name} and its 9,999 numbered variants "
                          f"all exist; clean up {root}")


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes | bytearray | memoryview,
                       *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`).

    After this returns, ``path`` holds exactly ``data``; if it raises, ``path`` still
    holds what it held before (or still does not exist).
    """
    with atomic_open(path, "wb", fsync=fsync) as f:
        f.write(data)
