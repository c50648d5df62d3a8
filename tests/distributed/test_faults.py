"""No unbounded wait under ``mpiexec -n 2``: a stopped rank, a rank that exits early and
a collective nobody else calls all end the job in bounded time, naming the rank; a
normal job is unaffected."""

from __future__ import annotations

import time

from .test_mpi import HERE, mpirun_script, pytestmark  # noqa: F401  (the MPI skips)

FAULTS = HERE / "_faults.py"


def _run(mode: str, timeout: float = 3.0) -> tuple[float, object]:
    t0 = time.monotonic()
    result = mpirun_script(2, FAULTS, mode, str(timeout), timeout=90.0)
    return time.monotonic() - t0, result


def test_a_normal_job_is_unaffected() -> None:
    _, r = _run("ok")
    assert r.returncode == 0, r.stderr
    assert "rank 0 done" in r.stdout and "rank 1 done" in r.stdout


def test_a_stopped_rank_ends_the_job_at_the_timeout_naming_it() -> None:
    took, r = _run("stop", timeout=3.0)
    assert r.returncode != 0
    assert "rank 0 done" not in r.stdout
    assert ("allreduce_gradients: waited 3 s (the timeout) for rank 1 (it does not answer: "
            "stopped or hung) to reach call" in r.stderr)
    assert took < 60, took


def test_a_rank_that_exits_early_ends_the_job_at_once_naming_it() -> None:
    took, r = _run("exit", timeout=60.0)        # far from the timeout: the notice does it
    assert r.returncode != 0
    assert "rank 0 done" not in r.stdout
    assert "rank 1 has left the job (it exited after" in r.stderr
    assert took < 30, took


def test_a_collective_after_the_others_left_is_refused() -> None:
    took, r = _run("late", timeout=60.0)
    assert r.returncode != 0
    assert "allreduce_mean/allreduce_sum: rank 1 has left the job" in r.stderr
    assert took < 30, took


def test_a_rank_still_computing_is_named_as_alive() -> None:
    took, r = _run("slow", timeout=3.0)
    assert r.returncode != 0
    assert ("waited 3 s (the timeout) for rank 1 (alive at call 4, computing, not in a "
            "collective) to reach call 5" in r.stderr)
    assert took < 18, took                      # the job did not wait out the 20 s


def test_a_killed_rank_ends_the_job_at_once() -> None:
    took, r = _run("kill", timeout=60.0)
    assert r.returncode != 0
    assert "rank 0 done" not in r.stdout
    assert took < 30, took
