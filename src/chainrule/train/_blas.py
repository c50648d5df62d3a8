"""Limit the threads of NumPy's BLAS (threadpoolctl, else OpenBLAS through ctypes)."""

from __future__ import annotations

import contextlib
import itertools
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["blas_threads"]


def _openblas_libraries() -> list[str]:
    """Paths of the OpenBLAS libraries loaded in this process (Linux), or shipped with
    NumPy's wheel (elsewhere)."""
    paths: list[str] = []
    with contextlib.suppress(OSError):
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split(maxsplit=5)
                if len(parts) == 6 and "openblas" in os.path.basename(parts[5]).lower():
                    paths.append(parts[5].strip())
    if not paths:
        base = Path(np.__file__).resolve().parent
        for d in (base.parent / "numpy.libs", base / ".dylibs"):
            if d.is_dir():
                paths += [str(p) for p in d.iterdir() if "openblas" in p.name.lower()]
    return list(dict.fromkeys(paths))


def _openblas_functions() -> list[tuple[Any, Any]]:
    """``(get_num_threads, set_num_threads)`` for each loaded OpenBLAS."""
    import ctypes
    found = []
    for path in _openblas_libraries():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in itertools.product(("scipy_", ""), ("64_", "_64", "")):
            get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
            put = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
            if get is not None and put is not None:
                get.restype = ctypes.c_int
                put.argtypes = [ctypes.c_int]
                found.append((get, put))
                break
    return found


@contextlib.contextmanager
def blas_threads(n: int | None) -> Any:
    """Run the block with NumPy's BLAS limited to ``n`` threads (``None``: unchanged).

    An MLP's matrix products are small, and on a busy machine BLAS threads waiting for
    a free core slow training down many times over. Uses threadpoolctl when installed,
    else OpenBLAS' own ``openblas_set_num_threads``; with another BLAS it changes
    nothing. Restores the previous setting afterwards. Yields the thread count in
    effect, or ``None`` if it could not be controlled.
    """
    if n is None:
        yield None
        return
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"blas_threads: n must be a positive int or None, got {n!r}")
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        pass
    else:
        has_blas = any(i.get("user_api") == "blas" for i in threadpool_info())
        with threadpool_limits(limits=int(n), user_api="blas"):
            yield int(n) if has_blas else None
        return
    funcs = _openblas_functions()
    before = [get() for get, _ in funcs]
    for _, put in funcs:
        put(int(n))
    try:
        yield int(n) if funcs else None
    finally:
        for (_, put), old in zip(funcs, before):
            put(old)

