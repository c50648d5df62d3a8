"""Issue 12, item 4: concurrent `chainrule train` runs never share a run folder.

Before, the folder name was chosen by checking that it did not exist (names by the
second) and created later with exist_ok=True, so two runs started in the same second
wrote into one folder.
"""

from __future__ import annotations

import threading

from chainrule._io import exclusive_dir
from chainrule.cli import train as train_cli

TIMEOUT = 10.0


def test_a_taken_name_gets_a_numbered_suffix(tmp_path):
    (tmp_path / "20260101-120000").mkdir()
    (tmp_path / "20260101-120000-1").mkdir()
    made = exclusive_dir(tmp_path, "20260101-120000")
    assert made.name == "20260101-120000-2" and made.is_dir()
    assert list(made.iterdir()) == []


def test_many_threads_creating_the_same_name_at_once_each_get_their_own(tmp_path):
    n = 8
    start = threading.Barrier(n, timeout=TIMEOUT)
    got: list = []

    def make():
        start.wait()
        got.append(exclusive_dir(tmp_path / "runs", "20260101-120000"))

    threads = [threading.Thread(target=make, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive()
    assert len(got) == n and len(set(got)) == n
    assert sorted(p.name for p in got) == sorted(
        ["20260101-120000"] + [f"20260101-120000-{i}" for i in range(1, n)])


def test_the_cli_run_folder_is_created_exclusively_even_if_the_name_was_taken(
        tmp_path, monkeypatch):
    import datetime
    import types

    class Frozen:                       # two runs in the same second
        @staticmethod
        def now():
            return datetime.datetime(2026, 1, 1, 12, 0, 0)

    monkeypatch.setattr(train_cli, "_dt", types.SimpleNamespace(datetime=Frozen))
    first = train_cli._new_run_dir(tmp_path)
    second = train_cli._new_run_dir(tmp_path)
    assert first.is_dir() and second.is_dir()          # created, not only named
    assert (first.name, second.name) == ("20260101-120000", "20260101-120000-1")
