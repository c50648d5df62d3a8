"""Fixtures shared by several test folders (imported by their conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in a temporary directory, with a data directory that holds nothing, so the
    default dataset is always the embedded sample and runs/ lands in tmp_path."""
    empty = tmp_path / "no-data"
    empty.mkdir()
    monkeypatch.setenv("CHAINRULE_DATA", str(empty))
    monkeypatch.chdir(tmp_path)
