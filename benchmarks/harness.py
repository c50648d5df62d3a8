"""The measuring machinery of the speed benchmarks, and the chain benchmark.

Shared by ``benchmarks/chain.py`` and ``benchmarks/mlp_step.py`` (the MLP benchmark
itself is :mod:`mlp_harness`): the single-threaded environment a measuring process needs
(:func:`single_threaded_env`), the ``PYTHONPATH`` that makes a child process import this
very chainrule (:func:`child_pythonpath`), and the chain benchmark (:func:`run_chain`):
``y = y * 1.0001 + 0.0001`` repeated on a one-element float64 tensor (two gates per
iteration), forward + ``backward()`` + freeing the graph, for chainrule, PyTorch and a
NumPy floor (the same arithmetic with a hand-written backward loop), checked to agree
and then timed interleaved. PyTorch is optional and imported only when compared.

The scripts import this module as a sibling (their folder is ``sys.path[0]``); it
imports chainrule from ``../src`` when chainrule is not installed.
"""

from __future__ import annotations

import gc
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

try:
    import chainrule
except ImportError:  # a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    import chainrule

from chainrule.errors import BenchmarkError, BenchmarkMismatchError

__all__ = ["MACHINE_VARS", "SUMMARY_MARK", "THREAD_VARS", "BenchmarkError",
           "BenchmarkMismatchError", "blas_threads", "child_pythonpath", "print_summary",
           "reexec_if_needed", "run_chain", "single_threaded_env", "threads_label"]

#: The first field of a summary line (``chainrule bench`` collects them into one table).
SUMMARY_MARK = "summary"


def print_summary(work: str, unit: str, chainrule: float, pytorch: float | None,
                  numpy: float | None, floor: float | None, floor_name: str = "") -> None:
    """Print one machine-readable line for the summary table of ``chainrule bench``:
    tab-separated mark, work, unit, the medians (``-`` where not measured), floor name."""
    cells = [f"{v:.4g}" if v is not None else "-" for v in (chainrule, pytorch, numpy, floor)]
    print("\t".join([SUMMARY_MARK, work, unit, *cells, floor_name]), flush=True)

#: Environment variables that must be "1" for single-threaded BLAS / OpenMP.
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: Machine-specific OpenBLAS settings the MLP benchmark unsets (so that OpenBLAS picks
#: the kernel for the CPU it runs on) unless asked to keep them.
MACHINE_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
#: The directory holding the ``chainrule`` package (``src`` in a checkout).
PACKAGE_PARENT = Path(chainrule.__file__).resolve().parent.parent


def single_threaded_env(environ: Mapping[str, str] | None = None,
                        keep_machine_blas: bool = False,
                        threads: int = 1) -> dict[str, str] | None:
    """The environment a benchmark process should be started with, or None if
    ``environ`` (default ``os.environ``) is already right.

    Sets :data:`THREAD_VARS` to ``threads`` (``"1"``: single-threaded, the default)
    and, unless ``keep_machine_blas``, removes :data:`MACHINE_VARS`. BLAS reads these
    when it loads, so a process whose environment is wrong must start a new one with
    the returned environment.
    """
    env = dict(os.environ if environ is None else environ)
    changed = False
    for v in THREAD_VARS:
        if env.get(v) != str(threads):
            env[v] = str(threads)
            changed = True
    if not keep_machine_blas:
        for v in MACHINE_VARS:
            if v in env:
                del env[v]
                changed = True
    return env if changed else None


def reexec_if_needed(script: str, keep_machine_blas: bool = False,
                     threads: int = 1) -> None:
    """Re-run ``script`` (a benchmark's ``__file__``) with :func:`single_threaded_env` if
    this process's environment is not already that. BLAS reads its environment when it
    loads, so the measuring process must start with it: ``execve`` replaces this one
    (whatever it has loaded) with a fresh interpreter, with the same arguments."""
    env = single_threaded_env(os.environ, keep_machine_blas=keep_machine_blas,
                              threads=threads)
    if env is None:
        return
    mark = "_CHAINRULE_BENCH_REEXEC"
    name = os.path.basename(script)
    if os.environ.get(mark) == name:
        raise SystemExit(f"{name}: could not set the single-threaded environment")
    env[mark] = name
    os.execve(sys.executable, [sys.executable, os.path.abspath(script), *sys.argv[1:]], env)


def blas_threads() -> int:
    """The thread count this benchmark process was started with (``--threads``, through
    ``$OPENBLAS_NUM_THREADS``; 1 by default): PyTorch is given as many."""
    try:
        return max(1, int(os.environ.get("OPENBLAS_NUM_THREADS", "1")))
    except ValueError:
        return 1


def threads_label() -> str:
    """``", N threads"`` for a summary row measured with N > 1 threads, else ``""``."""
    n = blas_threads()
    return "" if n == 1 else f", {n} threads"


def child_pythonpath(environ: Mapping[str, str] | None = None) -> str:
    """``PYTHONPATH`` for a child process that must import this very ``chainrule``: the
    directory holding the package first (a source checkout's ``src``), unless it is a
    site-packages directory a fresh interpreter finds anyway."""
    import site

    env = os.environ if environ is None else environ
    current = env.get("PYTHONPATH", "")
    sites = [*site.getsitepackages(), site.getusersitepackages()]
    if any(Path(p).resolve() == PACKAGE_PARENT for p in sites):
        return current
    return os.pathsep.join(p for p in (str(PACKAGE_PARENT), current) if p)


def _table(header: tuple[str, ...], sub: tuple[str, ...],
           rows: list[tuple[str, ...]]) -> str:
    """A left-aligned first column and right-aligned others, under a dashed rule."""
    widths = [max(len(r[i]) for r in (header, sub, *rows)) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
        return "  ".join([first, *rest])

    return "\n".join([line(header), line(sub), "  ".join("-" * w for w in widths),
                      *(line(r) for r in rows)])


# ====================================================================== chain
CHAIN_MUL = 1.0001
CHAIN_ADD = 0.0001

#: A chain run: ``n_iter`` -> (forward seconds, backward seconds, output, input grad).
ChainRun = Callable[[int], tuple[float, float, float, float]]


def chain_chainrule(n_iter: int) -> tuple[float, float, float, float]:
    """One timed run of the chain with chainrule tensors."""
    from chainrule._tensor import tensor

    x = tensor([1.0], requires_grad=True)
    t0 = time.perf_counter()
    y = x
    for _ in range(n_iter):
        y = y * CHAIN_MUL + CHAIN_ADD
    t1 = time.perf_counter()
    y.backward()
    value = float(y.data[0])
    del y
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, value, float(x.grad.data[0])


def chain_pytorch() -> ChainRun | None:
    """The chain with PyTorch tensors (one thread), or None if PyTorch is missing."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)

    def run_torch(n_iter: int) -> tuple[float, float, float, float]:
        x = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
        t0 = time.perf_counter()
        y = x
        for _ in range(n_iter):
            y = y * CHAIN_MUL + CHAIN_ADD
        t1 = time.perf_counter()
        y.backward()
        value = float(y.detach()[0])
        del y
        t2 = time.perf_counter()
        return t1 - t0, t2 - t1, value, float(x.grad[0])

    return run_torch


def chain_numpy(n_iter: int) -> tuple[float, float, float, float]:
    """The floor: the same arithmetic on a one-element ndarray, each multiply's input
    saved as a gate would, then a hand-written backward loop."""
    x = np.array([1.0])
    t0 = time.perf_counter()
    saved = []
    y = x
    for _ in range(n_iter):
        saved.append(y)            # what the multiply gate keeps for backward
        y = y * CHAIN_MUL
        y = y + CHAIN_ADD
    t1 = time.perf_counter()
    g = np.ones(1)
    for _ in range(n_iter):        # reversed: the add passes g on, the multiply scales it
        g = g * CHAIN_MUL
    value = float(y[0])
    del y, saved
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, value, float(g[0])


def chain_implementations(no_torch: bool = False) -> tuple[dict[str, ChainRun], str]:
    """The implementations to time (chainrule, pytorch if wanted and installed, numpy
    floor) and, when PyTorch is left out, the sentence that says why."""
    runs: dict[str, ChainRun] = {"chainrule": chain_chainrule}
    note = ""
    if no_torch:
        note = "PyTorch skipped (--no-torch)"
    else:
        torch_run = chain_pytorch()
        if torch_run is None:
            note = "PyTorch is not installed: skipped (pip install torch to compare)"
        else:
            runs["pytorch"] = torch_run
    runs["numpy floor"] = chain_numpy
    return runs, note


def check_chain_agreement(runs: Mapping[str, ChainRun], n_iter: int) -> tuple[float, float]:
    """Run each implementation once (also a warm-up); returns the common output and
    gradient, or raises :class:`BenchmarkMismatchError` naming the one that differs."""
    expected_grad = CHAIN_MUL ** n_iter
    results = {name: fn(n_iter) for name, fn in runs.items()}
    ref_value = results["numpy floor"][2]
    for name, (_, _, value, grad) in results.items():
        if not (np.isclose(value, ref_value, rtol=1e-12)
                and np.isclose(grad, expected_grad, rtol=1e-12)):
            raise BenchmarkMismatchError(
                f"{name}: output {value!r} / gradient {grad!r} differ from the expected "
                f"{ref_value!r} / {expected_grad!r}")
    return ref_value, expected_grad


def time_chain(runs: Mapping[str, ChainRun], n_iter: int, repeats: int,
               disable_gc: bool = False) -> dict[str, list[tuple[float, float]]]:
    """Time every implementation ``repeats`` times, interleaved run by run in an order
    shuffled per round (what ran just before can speed up or slow down a run: memory
    it freed, caches it filled); returns the (forward, backward) seconds of each run."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    order = list(runs.items())
    rng = random.Random(n_iter)
    for _ in range(repeats):
        rng.shuffle(order)
        for name, fn in order:
            gc.collect()
            if disable_gc:
                gc.disable()
            try:
                fwd, bwd, _, _ = fn(n_iter)
            finally:
                gc.enable()
            times[name].append((fwd, bwd))
    return times


def format_chain_table(times: Mapping[str, list[tuple[float, float]]], n_gates: int) -> str:
    """Microseconds per gate: best forward, best backward, best and median total."""
    def per_gate(seconds: float) -> float:
        return seconds / n_gates * 1e6

    header = ("implementation", "forward", "backward", "total", "total")
    sub = ("", "us/gate best", "us/gate best", "us/gate best", "us/gate median")
    rows: list[tuple[str, ...]] = []
    for name, ts in times.items():
        totals = [f + b for f, b in ts]
        rows.append((name, f"{per_gate(min(f for f, _ in ts)):.3f}",
                     f"{per_gate(min(b for _, b in ts)):.3f}",
                     f"{per_gate(min(totals)):.3f}",
                     f"{per_gate(statistics.median(totals)):.3f}"))
    return _table(header, sub, rows)


def format_chain_ratios(times: Mapping[str, list[tuple[float, float]]],
                        torch_note: str = "") -> str:
    """chainrule / PyTorch (target <= 1.0) and chainrule / NumPy floor, per gate."""
    best = {name: min(f + b for f, b in ts) for name, ts in times.items()}
    lines = []
    if "pytorch" in best:
        ratio = best["chainrule"] / best["pytorch"]
        med = (statistics.median(f + b for f, b in times["chainrule"])
               / statistics.median(f + b for f, b in times["pytorch"]))
        verdict = "met" if ratio <= 1.0 else "NOT met"
        lines.append(f"chainrule / PyTorch per gate: {ratio:.2f} (best), {med:.2f} (median); "
                     f"target <= 1.0: {verdict}")
    else:
        lines.append(torch_note)
    lines.append(f"chainrule / NumPy floor per gate: "
                 f"{best['chainrule'] / best['numpy floor']:.2f} (best)")
    return "\n".join(lines)


def run_chain(gates: int = 10_000, repeats: int = 7, no_torch: bool = False,
              no_gc: bool = False) -> int:
    """The chain benchmark: check, time and print; returns the exit code (0, or 1 with
    a message on stderr if the implementations disagree).

    ``gates`` is rounded down to an even number (two gates per iteration).
    """
    if gates < 2:
        raise ValueError(f"run_chain: gates must be at least 2, got {gates}")
    if repeats < 1:
        raise ValueError(f"run_chain: repeats must be at least 1, got {repeats}")
    n_iter = gates // 2
    n_gates = 2 * n_iter
    runs, torch_note = chain_implementations(no_torch)
    try:
        ref_value, expected_grad = check_chain_agreement(runs, n_iter)
    except BenchmarkMismatchError as e:
        print(e, file=sys.stderr)
        return 1

    times = time_chain(runs, n_iter, repeats, no_gc)

    versions = [f"Python {platform.python_version()}", f"NumPy {np.__version__}",
                f"chainrule {chainrule.__version__}"]
    if "pytorch" in runs:
        import torch
        versions.append(f"PyTorch {torch.__version__} (1 thread)")
    print(f"Chain of {n_gates:,} gates: {n_iter:,} x (y * {CHAIN_MUL} + {CHAIN_ADD}), i.e. a "
          f"multiply and an add gate per iteration,")
    print(f"on one-element float64 tensors; forward + backward + freeing the graph; "
          f"{repeats} runs each, interleaved; garbage collector "
          f"{'disabled' if no_gc else 'enabled'}.")
    print("; ".join(versions))
    print(f"All implementations agree: y = {ref_value:.12g}, dy/dx = {expected_grad:.12g}")
    print()
    print(format_chain_table(times, n_gates))
    print()
    print(format_chain_ratios(times, torch_note))
    med = {k: statistics.median((f + b) / n_gates * 1e6 for f, b in v) for k, v in times.items()}
    print_summary(f"chain of {n_gates:,} gates" + (", GC off" if no_gc else ""), "us/gate",
                  med["chainrule"], med.get("pytorch"), None, med["numpy floor"], "NumPy loop")
    return 0

