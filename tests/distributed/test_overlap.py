"""Gradients all-reduced in buckets during backward give what the after-backward
allreduce gives, bit for bit, on every rank (mpiexec -n 2 and -n 3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

from .test_mpi import HERE, mpirun_script, pytestmark  # noqa: F401  (the MPI skips)


@pytest.mark.parametrize("ranks", [2, 3])
def test_overlapped_buckets_equal_the_plain_allreduce(tmp_path: Path, ranks: int) -> None:
    r = mpirun_script(ranks, HERE / "_overlap.py", str(tmp_path), timeout=120)
    assert r.returncode == 0, r.stderr
    res = [cr.load(tmp_path / f"overlap-rank{k}.npz") for k in range(ranks)]
    plain, overlapped = res[0]["overlap=False"], res[0]["overlap=True"]
    assert not np.allclose(plain, res[0]["overlap=False"] * 0)    # it trained
    np.testing.assert_allclose(overlapped, plain, rtol=0, atol=1e-13)
    for other in res[1:]:
        np.testing.assert_array_equal(other["overlap=True"], overlapped)
        np.testing.assert_array_equal(other["overlap=False"], plain)
