"""No unbounded wait: every collective has a deadline, and a rank that is gone is named.

A collective blocks until every rank has called it, so one rank that is stopped
(SIGSTOP, a debugger), stuck, or that left the training loop early (``sys.exit(0)``)
used to leave the others waiting forever. The watchdog bounds that wait:

* Each rank numbers the collectives it enters (nothing is sent: a collective costs
  nothing extra unless it waits).
* A daemon thread on each rank watches. When a collective has waited for more than a
  second it asks the other ranks where they are (a small non-blocking message on a
  communicator of its own, so it never mixes with the data); their threads answer
  with their call number and whether they are inside it, even while their main thread
  computes or waits. When the wait passes the timeout, it names the ranks that have
  not reached the collective (alive and computing, or silent: stopped or hung),
  prints why, and aborts the job (``MPI_Abort``: every rank ends at once, and
  ``mpiexec`` returns non-zero).
* A rank that exits tells the others how far it got (an ``atexit`` notice). A rank that
  waits in (or later enters) a collective the leaver never reached aborts the job at
  once, naming it, instead of waiting for the timeout.

Started by :func:`chainrule.distributed.init` on jobs of more than one rank. The
timeout is ``init(timeout=...)``, else ``$CHAINRULE_MPI_TIMEOUT`` (seconds; ``0``
turns the watchdog off), else :data:`DEFAULT_TIMEOUT`. It needs MPI's
``THREAD_MULTIPLE`` support (MPICH and Open MPI have it; mpi4py asks for it); without
it collectives are not bounded and :func:`start` says so.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["DEFAULT_TIMEOUT", "Watchdog", "active", "collective", "start", "timeout_from_env"]

#: Seconds a collective may wait for the other ranks before the job is aborted.
DEFAULT_TIMEOUT = 300.0
_STATUS, _LEAVE = 1, 2
_POLL = 0.05

_ACTIVE: Watchdog | None = None


def timeout_from_env(timeout: float | None) -> float | None:
    """The timeout to use: ``timeout`` if given, else ``$CHAINRULE_MPI_TIMEOUT``, else
    the default; ``0`` or less means none."""
    if timeout is None:
        raw = os.environ.get("CHAINRULE_MPI_TIMEOUT")
        if raw is None:
            return DEFAULT_TIMEOUT
        try:
            timeout = float(raw)
        except ValueError:
            raise ValueError(f"CHAINRULE_MPI_TIMEOUT must be a number of seconds, got "
                             f"{raw!r}") from None
    if timeout != timeout or timeout == float("inf"):
        raise ValueError(f"distributed: timeout must be a finite number of seconds, got "
                         f"{timeout!r}")
    return float(timeout) if timeout > 0 else None


class Watchdog:
    """The deadline and the notices of one communicator (see the module notes)."""

    def __init__(self, mpi: Any, comm: Any, timeout: float) -> None:
        self.mpi = mpi
        self.world = comm
        self.comm = comm.Dup()
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.timeout = timeout
        self.seq = 0
        self.current: tuple[int, str, float] | None = None
        self.heard: dict[int, tuple[int, bool]] = {}   # rank -> (its call, in it)
        self.left: dict[int, int] = {}
        self._sends: list[tuple[Any, np.ndarray]] = []
        self._replied: dict[int, float] = {}
        self._stop = False
        self._thread = threading.Thread(target=self._watch, name="chainrule-mpi-watchdog",
                                        daemon=True)
        self._thread.start()
        atexit.register(self._leaving)

    # ------------------------------------------------------------------ main thread
    def enter(self, where: str) -> None:
        """This rank enters a collective: number it and check the leavers (no message:
        a collective costs nothing extra unless it waits for long)."""
        self.seq += 1
        for r, at in sorted(self.left.items()):
            if at < self.seq:
                self._abort(f"{where}: rank {r} has left the job (it exited after "
                            f"{at} collective calls) and will never join this one (call "
                            f"{self.seq} on rank {self.rank})")
        self.current = (self.seq, where, time.monotonic())

    def leave_collective(self) -> None:
        self.current = None

    def _send(self, tag: int, value: int, dests: Any) -> None:
        self._sends = [(r, b) for r, b in self._sends if not r.Test()]
        buf = np.array([value], dtype=np.int64)
        for dest in dests:
            if dest != self.rank:
                self._sends.append((self.comm.Isend(buf, dest=dest, tag=tag), buf))

    def _status(self) -> int:
        """This rank's position: its call number, and whether it is inside it."""
        return 2 * self.seq + (self.current is not None)

    def _leaving(self) -> None:
        """At exit: tell the others how far this rank got (bounded: one second)."""
        self._stop = True
        self._thread.join(timeout=1.0)      # no MPI call of the thread during finalize
        try:
            self._send(_LEAVE, self.seq, range(self.size))
            deadline = time.monotonic() + 1.0
            while self._sends and time.monotonic() < deadline:
                self._sends = [(r, b) for r, b in self._sends if not r.Test()]
                time.sleep(0.005)
        except Exception:  # the interpreter is ending: nothing to report to
            pass

    # ------------------------------------------------------------------ the thread
    def _watch(self) -> None:
        status = self.mpi.Status()
        buf = np.zeros(1, dtype=np.int64)
        last_ask = 0.0
        while not self._stop:
            now = time.monotonic()
            while self.comm.Iprobe(source=self.mpi.ANY_SOURCE, tag=self.mpi.ANY_TAG,
                                   status=status):
                src, tag = status.Get_source(), status.Get_tag()
                self.comm.Recv(buf, source=src, tag=tag)
                if tag == _LEAVE:
                    self.left[src] = int(buf[0])
                    continue
                self.heard[src] = (int(buf[0]) // 2, bool(buf[0] % 2))
                if now - self._replied.get(src, -1e9) > 0.5:   # someone waits: answer
                    self._replied[src] = now
                    self._send(_STATUS, self._status(), (src,))
            cur = self.current
            if cur is not None:
                seq, where, t0 = cur
                gone = [r for r, at in self.left.items() if at < seq]
                if gone:
                    self._abort(f"{where}: rank {gone[0]} has left the job (it exited after "
                                f"{self.left[gone[0]]} collective calls) and will never "
                                f"join this one (call {seq} on rank {self.rank})")
                waited = now - t0
                if waited > min(1.0, self.timeout / 2) and now - last_ask > 1.0:
                    last_ask = now                  # a long wait: ask where the others are
                    self._send(_STATUS, self._status(), range(self.size))
                if waited > self.timeout:
                    self._abort(f"{where}: waited {waited:.0f} s (the timeout) for "
                                f"{self._missing(seq)} to reach call {seq} on rank "
                                f"{self.rank}; raise the timeout with distributed.init("
                                f"timeout=...) or CHAINRULE_MPI_TIMEOUT if it is only slow")
            time.sleep(_POLL)

    def _missing(self, seq: int) -> str:
        """Who has not reached call ``seq``, and what is known of them."""
        out = []
        for r in range(self.size):
            if r == self.rank:
                continue
            at = self.heard.get(r)
            if at is None:
                out.append(f"rank {r} (it does not answer: stopped or hung)")
            elif at[0] < seq:
                doing = "waiting in it" if at[1] else "computing, not in a collective"
                out.append(f"rank {r} (alive at call {at[0]}, {doing})")
        return ", ".join(out) or "another rank"

    def _abort(self, message: str) -> None:
        sys.stderr.write(f"chainrule.distributed: {message}; aborting all ranks\n")
        sys.stderr.flush()
        time.sleep(0.3)        # let mpiexec forward the message before the job ends
        self.mpi.COMM_WORLD.Abort(1)


def start(mpi: Any, comm: Any, timeout: float | None) -> Watchdog | None:
    """Start the watchdog for ``comm`` (once per process); None when the job has one
    rank, the timeout is off, or MPI lacks ``THREAD_MULTIPLE`` (a warning says so)."""
    global _ACTIVE
    if _ACTIVE is not None:
        if _ACTIVE.world == comm or timeout is None:
            return _ACTIVE
    if timeout is None or comm.Get_size() < 2:
        return None
    if mpi.Query_thread() < mpi.THREAD_MULTIPLE:
        sys.stderr.write("chainrule.distributed: the MPI library runs without "
                         "THREAD_MULTIPLE, so collectives are not bounded by a timeout\n")
        return None
    _ACTIVE = Watchdog(mpi, comm, timeout)
    return _ACTIVE


def active() -> Watchdog | None:
    """The running watchdog, if any."""
    return _ACTIVE


@contextlib.contextmanager
def collective(comm: Any, where: str) -> Iterator[None]:
    """Run a collective on ``comm`` under the watchdog (a no-op without one, or for
    another communicator)."""
    w = _ACTIVE
    if w is None or (comm is not w.world and comm != w.world):
        yield
        return
    w.enter(where)
    try:
        yield
    finally:
        w.leave_collective()
