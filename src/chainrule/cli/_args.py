"""What the subcommands share: argument types checked at parse time, dataset options.

Each type returns the parsed value or raises ``argparse.ArgumentTypeError`` with a
message that says what was expected and what was given (argparse prints it with the
option).
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T", int, float)

#: What ``--dataset`` accepts.
DATASETS = ("mnist", "fashion-mnist", "mnist-sample")


def _checked(text: str, convert: Callable[[str], T], ok: Callable[[T], bool],
             expected: str, expected_finite: str | None = None) -> T:
    try:
        v = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not ok(v):
        raise argparse.ArgumentTypeError(f"expected {expected_finite or expected}, got {text}")
    return v


def positive_int(text: str) -> int:
    """An integer >= 1."""
    return _checked(text, int, lambda v: v >= 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """An integer >= 0."""
    return _checked(text, int, lambda v: v >= 0, "an integer >= 0")


def max_threads() -> int:
    """The most BLAS threads a command accepts: 4 per CPU (more only wait for a core)."""
    return 4 * (os.cpu_count() or 1)


def thread_count(text: str) -> int:
    """0 (leave NumPy's setting) or 1 .. :func:`max_threads`."""
    top = max_threads()
    return _checked(text, int, lambda v: 0 <= v <= top,
                    f"0 (leave NumPy's setting) or 1..{top} (4 per CPU, "
                    f"{os.cpu_count() or 1} CPUs here)")


def positive_float(text: str) -> float:
    """A finite number > 0."""
    return _checked(text, float, lambda v: math.isfinite(v) and v > 0,
                    "a number > 0", "a finite number > 0")


def non_negative_float(text: str) -> float:
    """A finite number >= 0."""
    return _checked(text, float, lambda v: math.isfinite(v) and v >= 0,
                    "a number >= 0", "a finite number >= 0")


def fraction(text: str) -> float:
    """A number in [0, 1) (a probability such as a dropout rate)."""
    return _checked(text, float, lambda v: 0.0 <= v < 1.0, "a number in [0, 1)")


def add_dataset_options(group: Any, dataset_help: str, data_dir_help: str) -> None:
    """Add ``--dataset`` (one of :data:`DATASETS`, default ``None``) and ``--data-dir``
    to a parser or argument group."""
    group.add_argument("--dataset", choices=DATASETS, default=None, help=dataset_help)
    group.add_argument("--data-dir", metavar="DIR", default=None, help=data_dir_help)
