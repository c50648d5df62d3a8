"""chainrule.distributed.comm: lazy import of mpi4py, the world of one, communicators."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
import chainrule.distributed as dist
from chainrule.data import DataLoader
from chainrule.distributed import comm as dist_comm

from .helpers import dataset

SRC = Path(__file__).resolve().parents[2] / "src"


def test_import_chainrule_does_not_import_mpi4py() -> None:
    code = ("import sys, chainrule, chainrule.distributed as d; "
            "assert 'mpi4py' not in sys.modules, 'mpi4py imported'; "
            "assert not d.is_initialized(); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_missing_mpi4py_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dist_comm, "_MPI", None)
    monkeypatch.setattr(dist_comm, "_COMM", None)
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", None)
    with pytest.raises(dist.MPIUnavailableError, match=r'pip install "chainrule\[mpi\]"') as e:
        dist.init()
    assert isinstance(e.value, ImportError) and isinstance(e.value, cr.ChainruleError)
    assert "pip install mpi4py mpich" in str(e.value)
    with pytest.raises(dist.MPIUnavailableError):
        dist.rank()           # everything initialises lazily, so everything says so


def test_errors_are_the_ones_of_chainrule_errors() -> None:
    from chainrule import errors
    assert dist.DistributedError is errors.DistributedError
    assert dist.MPIUnavailableError is errors.MPIUnavailableError


def test_world_of_one(world: object) -> None:
    assert dist.is_initialized() and world is dist.get_comm()
    assert (dist.rank(), dist.world_size(), dist.is_main()) == (0, 1, True)
    dist.barrier()
    assert dist.init() is world                     # idempotent
    assert dist.allreduce_sum(2.5) == 2.5
    assert dist.allreduce_mean(cr.tensor(4.0)) == 4.0
    assert dist.allreduce_mean(3.0, weight=7) == 3.0
    np.testing.assert_array_equal(dist.allreduce_mean(np.array([1.0, 2.0])), [1.0, 2.0])
    assert dist.broadcast_object({"a": [1, 2]}) == {"a": [1, 2]}
    with pytest.raises(ValueError, match="weights sum to 0"):
        dist.allreduce_mean(1.0, weight=0)
    with pytest.raises(ValueError, match=r"root must be a rank in 0\.\.0"):
        dist.broadcast_object(1, root=1)
    with pytest.raises(TypeError, match="intracommunicator"):
        dist.init(comm="world")


def test_explicit_communicator(world: object) -> None:
    from mpi4py import MPI
    sub = MPI.COMM_WORLD.Split(color=0, key=0)        # a communicator of its own
    try:
        p = cr.tensor(np.zeros(2), requires_grad=True)
        p.grad = cr.tensor([1.0, 2.0])
        dist.allreduce_gradients([p], comm=sub)
        np.testing.assert_array_equal(p.grad.data, [1.0, 2.0])
        assert dist.allreduce_sum(3.0, comm=sub) == 3.0
        assert dist.rank(sub) == 0 and dist.world_size(sub) == 1
        lo = DataLoader(dataset(6), 2,
                        sampler=dist.DistributedSampler(6, shuffle=False, comm=sub))
        assert lo.sampler.world_size == 1 and len(lo) == 3
        with pytest.raises(TypeError, match="intracommunicator"):
            dist.allreduce_sum(1.0, comm="not a communicator")
    finally:
        sub.Free()
