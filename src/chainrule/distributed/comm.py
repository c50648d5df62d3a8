"""The MPI world: importing mpi4py lazily, :func:`init`, ranks, barrier, the abort hook.

Every function takes an optional ``comm`` (an mpi4py intracommunicator); by default it
uses the one :func:`init` chose (``MPI.COMM_WORLD``), initialising on first use. See
``docs/distributed.md``.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from .._check import is_int
from ..errors import DistributedError, MPIUnavailableError
from . import watchdog

__all__ = [
    "DistributedError",
    "MPIUnavailableError",
    "barrier",
    "broadcast_object",
    "get_comm",
    "init",
    "is_initialized",
    "is_main",
    "rank",
    "world_size",
]

#: Seconds between printing why the job aborts and aborting it, so that mpiexec has
#: forwarded the message (it drops what it has not yet forwarded when the job ends).
ABORT_GRACE = 0.3
INSTALL_HINT = ('pip install "chainrule[mpi]" (mpi4py; it needs an MPI library such as '
                'MPICH or Open MPI), or pip install mpi4py mpich (both as wheels)')


# ---------------------------------------------------------------------- the world
_MPI: Any = None          # the mpi4py.MPI module, once imported
_COMM: Any = None         # the communicator init() chose
_HOOK_INSTALLED = False


def _import_mpi() -> Any:
    global _MPI
    if _MPI is not None:
        return _MPI
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise MPIUnavailableError(
            f"chainrule.distributed needs mpi4py, which cannot be imported ({e}); "
            f"install it with {INSTALL_HINT}") from e
    except (RuntimeError, OSError) as e:  # mpi4py present, the MPI library is not
        raise MPIUnavailableError(
            f"chainrule.distributed: mpi4py is installed but its MPI library failed to "
            f"load ({e}); install one with {INSTALL_HINT}") from e
    _MPI = MPI
    return MPI


def _install_abort_hook() -> None:
    """On an uncaught exception: print it as usual, then abort every rank."""
    global _HOOK_INSTALLED
    if _HOOK_INSTALLED:
        return
    previous = sys.excepthook
    mpi = _MPI

    def hook(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
        previous(exc_type, exc, tb)
        try:
            r = mpi.COMM_WORLD.Get_rank()
            sys.stderr.write(f"chainrule.distributed: uncaught {exc_type.__name__} on rank "
                             f"{r}; aborting all ranks (MPI_Abort) so none waits forever\n")
            sys.stderr.flush()
            time.sleep(ABORT_GRACE)    # let mpiexec forward the traceback before the end
        finally:
            mpi.COMM_WORLD.Abort(1)

    sys.excepthook = hook
    _HOOK_INSTALLED = True


def init(comm: Any = None, *, abort_on_exception: bool = True,
         timeout: float | None = None) -> Any:
    """Join the MPI world (idempotent) and return the communicator in use.

    Parameters
    ----------
    comm:
        An mpi4py intracommunicator to use from now on (default ``MPI.COMM_WORLD``). A
        later ``init()`` without ``comm`` keeps the current one.
    abort_on_exception:
        If the job has more than one rank, make an uncaught exception abort every rank
        (after printing the traceback) instead of leaving the others blocked.
    timeout:
        Seconds a collective may wait for the other ranks before the job is aborted,
        naming the ranks that did not come (see :mod:`chainrule.distributed.watchdog`);
        a rank that exits early aborts the job as soon as another rank waits for it.
        Default ``$CHAINRULE_MPI_TIMEOUT``, else 300; ``0`` turns the bound off. Fixed
        by the first ``init`` of a job of more than one rank.

    Without ``mpiexec`` the process is a world of one (rank 0 of 1).

    Raises
    ------
    MPIUnavailableError
        mpi4py or its MPI library is missing; the message says what to install.
    """
    global _COMM
    mpi = _import_mpi()
    if comm is None:
        comm = _COMM if _COMM is not None else mpi.COMM_WORLD
    elif not isinstance(comm, mpi.Intracomm):
        raise TypeError(f"distributed.init: comm must be an mpi4py intracommunicator "
                        f"(e.g. MPI.COMM_WORLD or one made by comm.Split), not "
                        f"{type(comm).__name__}")
    if comm == mpi.COMM_NULL:
        raise ValueError("distributed.init: comm is MPI.COMM_NULL (this process is not in "
                         "the group); only ranks that belong to comm may call init(comm)")
    _COMM = comm
    if abort_on_exception and mpi.COMM_WORLD.Get_size() > 1:
        _install_abort_hook()
    watchdog.start(mpi, comm, watchdog.timeout_from_env(timeout))
    return comm


def is_initialized() -> bool:
    """Whether :func:`init` has run in this process."""
    return _COMM is not None


def get_comm(comm: Any = None) -> Any:
    """``comm`` if given, else the communicator of :func:`init` (initialising if needed)."""
    if comm is None:
        return _COMM if _COMM is not None else init()
    mpi = _import_mpi()
    if not isinstance(comm, mpi.Intracomm):
        raise TypeError(f"chainrule.distributed: comm must be an mpi4py intracommunicator "
                        f"(e.g. MPI.COMM_WORLD), not {type(comm).__name__}")
    return comm


def rank(comm: Any = None) -> int:
    """This process's rank: 0 .. ``world_size() - 1``."""
    return int(get_comm(comm).Get_rank())


def world_size(comm: Any = None) -> int:
    """The number of processes taking part."""
    return int(get_comm(comm).Get_size())


def is_main(comm: Any = None) -> bool:
    """True on rank 0: the rank that should print, write checkpoints and plots."""
    return rank(comm) == 0


def barrier(comm: Any = None) -> None:
    """Wait until every rank has reached this call (bounded by the watchdog)."""
    c = get_comm(comm)
    with watchdog.collective(c, "barrier"):
        c.Barrier()


def broadcast_object(obj: Any, root: int = 0, *, comm: Any = None) -> Any:
    """Send a picklable Python object from ``root`` to every rank; return it everywhere.

    For small things (a seed, a config dict, a file name). Arrays of parameters go
    through :func:`broadcast_parameters`, which sends raw buffers without pickling.
    """
    c = get_comm(comm)
    _check_root(root, c, "broadcast_object")
    with watchdog.collective(c, "broadcast_object"):
        return c.bcast(obj, root=root)


def _check_root(root: int, c: Any, where: str) -> None:
    n = c.Get_size()
    if not is_int(root) or not 0 <= root < n:
        raise ValueError(f"{where}: root must be a rank in 0..{n - 1}, got {root!r}")

