"""Helpers for the training tests: small, fast runs on the embedded MNIST sample."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from chainrule.cli import main


def run_cli(*argv: str) -> int:
    """``chainrule ...`` in this process; returns the exit code."""
    return main(list(argv))


def read_metrics(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a metrics.csv."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def weights_equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    """Same names and bit-for-bit identical arrays."""
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) and
                                        a[k].dtype == b[k].dtype for k in a)
