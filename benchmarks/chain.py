#!/usr/bin/env python
"""Per-gate overhead of the engine: a long chain of tiny gates, forward and backward.

What is measured: the chain ``y = y * 1.0001 + 0.0001`` on a one-element float64
tensor (shape ``(1,)``). Each iteration records **two gates** (a multiply and an add),
so ``--gates 10000`` (the default) means 5,000 iterations; an odd ``--gates`` is rounded
down to an even number. With one element per tensor the arithmetic is negligible:
the figure is the cost of recording a gate in forward and running it in backward,
which is what limits small-tensor code (scalars, RNN steps, the seeds' examples).

One timed run = forward (build the chain) + ``backward()`` + dropping the graph, so
that deallocation is counted for every implementation. Three implementations run in
the same process, interleaved run by run:

* ``chainrule``: ``cr.tensor([1.0], requires_grad=True)``, the loop, ``y.backward()``;
* ``pytorch``: the same with ``torch.tensor([1.0], dtype=torch.float64,
  requires_grad=True)`` and ``torch.set_num_threads(1)`` (skipped, with a message, if
  PyTorch is not installed);
* ``numpy floor``: the same arithmetic on a one-element ndarray, saving each multiply's
  input in a list as a gate would, then a hand-written backward loop
  (``g = g * 1.0001`` per multiply; the add passes ``g`` through). No graph, no
  dispatch: what a Python loop over NumPy costs at least.

All three must produce the same output and the same gradient (``1.0001 ** 5000``);
the script checks this before timing. It reports microseconds per gate, best of
``--repeats`` runs and the median, split into forward and backward, and the ratio
chainrule / PyTorch (the target is <= 1.0, i.e. no slower than PyTorch per gate).

Python's garbage collector stays enabled, as in a real program (``--no-gc`` disables
it during the timed region, as ``timeit`` does). Environment variables such as
``OPENBLAS_NUM_THREADS`` or ``OPENBLAS_CORETYPE`` do not matter here: one-element
tensors never reach BLAS, so nothing is set or unset.

Usage (from the repository root)::

    PYTHONPATH=src python benchmarks/chain.py
    PYTHONPATH=src python benchmarks/chain.py --gates 100000 --repeats 5
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

try:
    import chainrule as cr
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    import chainrule as cr

import numpy as np

MUL = 1.0001
ADD = 0.0001

# A run returns (forward seconds, backward seconds, output value, input gradient).
Run = Callable[[int], tuple[float, float, float, float]]


def run_chainrule(n_iter: int) -> tuple[float, float, float, float]:
    x = cr.tensor([1.0], requires_grad=True)
    t0 = time.perf_counter()
    y = x
    for _ in range(n_iter):
        y = y * MUL + ADD
    t1 = time.perf_counter()
    y.backward()
    value = float(y.data[0])
    del y
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, value, float(x.grad.data[0])


def make_torch_run() -> Run | None:
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
            y = y * MUL + ADD
        t1 = time.perf_counter()
        y.backward()
        value = float(y.detach()[0])
        del y
        t2 = time.perf_counter()
        return t1 - t0, t2 - t1, value, float(x.grad[0])

    return run_torch


def run_numpy(n_iter: int) -> tuple[float, float, float, float]:
    x = np.array([1.0])
    t0 = time.perf_counter()
    saved = []
    y = x
    for _ in range(n_iter):
        saved.append(y)            # what the multiply gate keeps for backward
        y = y * MUL
        y = y + ADD
    t1 = time.perf_counter()
    g = np.ones(1)
    for _ in range(n_iter):        # reversed: the add passes g on, the multiply scales it
        g = g * MUL
    value = float(y[0])
    del y, saved
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, value, float(g[0])


def measure(runs: dict[str, Run], n_iter: int, repeats: int,
            disable_gc: bool) -> dict[str, list[tuple[float, float]]]:
    """Time every implementation ``repeats`` times, interleaved run by run."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            gc.collect()
            if disable_gc:
                gc.disable()
            try:
                fwd, bwd, _, _ = fn(n_iter)
            finally:
                gc.enable()
            times[name].append((fwd, bwd))
    return times


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gates", type=int, default=10_000,
                   help="gates in the chain (2 per iteration: multiply and add)")
    p.add_argument("--repeats", type=int, default=7, help="timed runs per implementation")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    p.add_argument("--no-gc", action="store_true",
                   help="disable Python's garbage collector while timing")
    args = p.parse_args(argv)
    if args.gates < 2:
        p.error("--gates must be at least 2")
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    n_iter = args.gates // 2
    n_gates = 2 * n_iter

    runs: dict[str, Run] = {"chainrule": run_chainrule}
    torch_note = ""
    if args.no_torch:
        torch_note = "PyTorch skipped (--no-torch)"
    else:
        torch_run = make_torch_run()
        if torch_run is None:
            torch_note = "PyTorch is not installed: skipped (pip install torch to compare)"
        else:
            runs["pytorch"] = torch_run
    runs["numpy floor"] = run_numpy

    # Same answer everywhere, and a warm-up run of each.
    expected_grad = MUL ** n_iter
    results = {name: fn(n_iter) for name, fn in runs.items()}
    ref_value = results["numpy floor"][2]
    for name, (_, _, value, grad) in results.items():
        if not (np.isclose(value, ref_value, rtol=1e-12)
                and np.isclose(grad, expected_grad, rtol=1e-12)):
            print(f"{name}: output {value!r} / gradient {grad!r} differ from the expected "
                  f"{ref_value!r} / {expected_grad!r}", file=sys.stderr)
            return 1

    times = measure(runs, n_iter, args.repeats, args.no_gc)

    versions = [f"Python {platform.python_version()}", f"NumPy {np.__version__}",
                f"chainrule {cr.__version__}"]
    if "pytorch" in runs:
        import torch
        versions.append(f"PyTorch {torch.__version__} (1 thread)")
    print(f"Chain of {n_gates:,} gates: {n_iter:,} x (y * {MUL} + {ADD}), i.e. a multiply "
          f"and an add gate per iteration,")
    print(f"on one-element float64 tensors; forward + backward + freeing the graph; "
          f"{args.repeats} runs each, interleaved; garbage collector "
          f"{'disabled' if args.no_gc else 'enabled'}.")
    print("; ".join(versions))
    print(f"All implementations agree: y = {ref_value:.12g}, dy/dx = {expected_grad:.12g}")
    print()

    def per_gate(seconds: float) -> float:
        return seconds / n_gates * 1e6

    header = ("implementation", "forward", "backward", "total", "total")
    sub = ("", "us/gate best", "us/gate best", "us/gate best", "us/gate median")
    rows: list[tuple[str, ...]] = []
    best: dict[str, float] = {}
    for name, ts in times.items():
        totals = [f + b for f, b in ts]
        best[name] = min(totals)
        rows.append((name, f"{per_gate(min(f for f, _ in ts)):.3f}",
                     f"{per_gate(min(b for _, b in ts)):.3f}",
                     f"{per_gate(best[name]):.3f}",
                     f"{per_gate(statistics.median(totals)):.3f}"))
    widths = [max(len(r[i]) for r in (header, sub, *rows)) for i in range(5)]

    def line(cells: tuple[str, ...]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
        return "  ".join([first, *rest])

    print(line(header))
    print(line(sub))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))
    print()
    if "pytorch" in best:
        ratio = best["chainrule"] / best["pytorch"]
        med = (statistics.median(f + b for f, b in times["chainrule"])
               / statistics.median(f + b for f, b in times["pytorch"]))
        verdict = "met" if ratio <= 1.0 else "NOT met"
        print(f"chainrule / PyTorch per gate: {ratio:.2f} (best), {med:.2f} (median); "
              f"target <= 1.0: {verdict}")
    else:
        print(torch_note)
    print(f"chainrule / NumPy floor per gate: "
          f"{best['chainrule'] / best['numpy floor']:.2f} (best)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
