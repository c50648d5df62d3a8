"""Argument checks shared by the layers' constructors."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._check import is_int
from ..errors import DtypeError

__all__ = ["_float_dtype", "_positive_int"]


def _positive_int(where: str, what: str, v: Any) -> int:
    """``v`` as an int if it is a positive integer (not a bool), else a ValueError."""
    if not is_int(v) or v <= 0:
        raise ValueError(f"{where}: {what} must be a positive integer, got {v!r}")
    return int(v)


def _float_dtype(where: str, dtype: Any) -> np.dtype:
    """``dtype`` if it is a floating-point dtype (parameters must be), else a DtypeError."""
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise DtypeError(f"{where}: parameters need a floating-point dtype, got {dt}")
    return dt
