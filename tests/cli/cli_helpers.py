"""Helpers for the command-line tests: small, fast training runs on the embedded MNIST
sample, and reading what they write."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from chainrule.cli import main

#: A run that takes about a second: a narrow network, few epochs.
SMALL = ["--dataset", "mnist-sample", "--hidden", "32", "--epochs", "2", "--quiet"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_cli(*argv: str) -> int:
    """``chainrule ...`` in this process; returns the exit code."""
    return main(list(argv))


def read_metrics(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a metrics.csv."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (checks the signature first)."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def weights_equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    """Same names and bit-for-bit identical arrays."""
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) and
                                        a[k].dtype == b[k].dtype for k in a)
