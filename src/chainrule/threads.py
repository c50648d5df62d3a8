"""``cr.set_num_threads(n)`` / ``cr.get_num_threads()``: the threads NumPy's BLAS uses.

chainrule's heavy work is NumPy's matrix products, which run in the BLAS library
NumPy was built with (OpenBLAS in the wheels). With `threadpoolctl
<https://github.com/joblib/threadpoolctl>`_ installed (``pip install threadpoolctl``)
the number of BLAS threads can be changed at any time, as ``torch.set_num_threads``
does. Without it, the count can only be chosen through environment variables set
**before NumPy is first imported** (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
``MKL_NUM_THREADS``), and ``set_num_threads`` raises a ``RuntimeError`` that says so.
On a machine shared with other jobs, 1 thread is often the fastest for small models.
"""

from __future__ import annotations

from typing import Any

__all__ = ["get_num_threads", "set_num_threads"]

_HINT = ("install threadpoolctl (pip install threadpoolctl) to change it at run time, or "
         "set OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS in the environment "
         "before NumPy is imported")

# Kept alive so the limit holds until changed again.
_limiter: Any = None


def _blas_pools() -> list[dict[str, Any]]:
    from threadpoolctl import threadpool_info
    return [i for i in threadpool_info() if i.get("user_api") == "blas"]


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in NumPy's BLAS (matrix products) from now on.

    Raises ``ValueError`` for a count that is not a positive int, and ``RuntimeError``
    when it cannot be changed (threadpoolctl missing, or no BLAS it can control).
    """
    global _limiter
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n!r}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise RuntimeError(f"set_num_threads({n}): the BLAS thread count cannot be "
                           f"changed while running without threadpoolctl; {_HINT}") from None
    if not _blas_pools():
        raise RuntimeError(f"set_num_threads({n}): threadpoolctl found no BLAS library "
                           f"loaded by NumPy to control")
    _limiter = threadpool_limits(limits=n, user_api="blas")


def get_num_threads() -> int:
    """The number of threads NumPy's BLAS uses (the largest over its libraries).

    Without threadpoolctl, the count from ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``/
    ``MKL_NUM_THREADS`` if set, else the number of CPUs (what OpenBLAS starts with).
    """
    try:
        pools = _blas_pools()
    except ImportError:
        import os
        for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
            v = os.environ.get(var, "")
            if v.strip().isdigit() and int(v) > 0:
                return int(v)
        return os.cpu_count() or 1
    return max((int(p["num_threads"]) for p in pools), default=1)
