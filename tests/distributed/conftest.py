"""Fixtures for the one-process tests of chainrule.distributed."""

from __future__ import annotations

import pytest

import chainrule.distributed as dist


@pytest.fixture
def world() -> object:
    """The singleton MPI world (skips when mpi4py or its MPI library is missing)."""
    try:
        return dist.init()
    except dist.MPIUnavailableError as e:
        pytest.skip(str(e))
