"""Argument checks shared by every floor (the bottom floor: NumPy only)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["is_int", "is_number"]


def is_int(v: Any) -> bool:
    """An integer (Python or NumPy), and not a bool (``True`` is an int to Python)."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def is_number(v: Any) -> bool:
    """A real number (Python or NumPy int or float), and not a bool."""
    return isinstance(v, (int, float, np.integer, np.floating)) \
        and not isinstance(v, (bool, np.bool_))
