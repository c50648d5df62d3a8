"""Keeping freed memory for reuse: the C allocator's thresholds (glibc ``mallopt``).

Every training step allocates the same few megabytes of arrays (im2col columns,
activations, their gradients) and frees them again. With glibc's defaults, an array
above its (adaptive) mmap threshold is mapped fresh from the kernel, and freed memory
at the top of the heap is returned to the kernel once more than a few megabytes are
free, so the next step touches brand-new pages: measured here, a LeNet-style step of
batch 64 takes about 2,900 page faults, a few milliseconds of a 6-8 ms step (PyTorch's
CPU tensors, on the same allocator, pay the same). Hand-written NumPy avoids it by
preallocating; an autodiff library cannot, since the graph owns what it saved.

:func:`retain_freed_memory` raises the two thresholds, so that freed memory stays in
the process and is reused, as the caching allocators of deep-learning frameworks do.
It is process-wide and lasts until the process ends (the C library has no way to
scope it), so chainrule never calls it behind your back: ``chainrule train`` does
(it owns its process), and scripts may.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["retain_freed_memory"]

# mallopt parameter numbers (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: glibc's upper limit for the mmap threshold on 64-bit systems (DEFAULT_MMAP_THRESHOLD_MAX)
_MMAP_MAX = 32 * 1024 * 1024


def retain_freed_memory(limit_mb: int = 512) -> bool:
    """Keep up to ``limit_mb`` megabytes of freed memory in the process for reuse,
    instead of giving it back to the kernel and faulting it in again on the next
    training step (glibc only: Linux; elsewhere this does nothing).

    Arrays up to 32 MB then come from the heap (glibc's largest mmap threshold) and
    the heap is trimmed only when more than ``limit_mb`` is free at its top. The cost
    is memory: the process keeps its peak footprint (up to the limit) after the arrays
    are freed. Returns True if the allocator accepted the settings.
    """
    if isinstance(limit_mb, bool) or not isinstance(limit_mb, int) or limit_mb < 1:
        raise ValueError(f"retain_freed_memory: limit_mb must be a positive int, got "
                         f"{limit_mb!r}")
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):          # musl and others have no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    limit = min(limit_mb, 2047) * 1024 * 1024
    ok = mallopt(_M_MMAP_THRESHOLD, min(_MMAP_MAX, limit)) == 1
    return bool(mallopt(_M_TRIM_THRESHOLD, limit) == 1 and ok)
