#!/usr/bin/env python
"""Per-gate cost of a chain from 1k to 1M gates, garbage collector on, against PyTorch.

The chain is ``benchmarks/chain.py``'s (``y = y * 1.0001 + 0.0001`` on a one-element
float64 tensor, two gates per iteration; forward, ``backward()``, freeing the graph),
timed at several sizes in one process that has imported PyTorch, chainrule and
PyTorch interleaved run by run (in an order shuffled per round), with Python's garbage
collector enabled as in a real program. For reference, chainrule is also timed with
the collector disabled during the run (the cost of the gates alone) and the NumPy floor
(the same arithmetic with a hand-written backward loop) runs alongside.

Printed: microseconds per gate (median of the runs) at every size, chainrule /
PyTorch at every size, chainrule's cost at the largest size over its cost at the
smallest (flatness), and the memory a live graph takes per gate: tracemalloc's count
(Python and NumPy allocations; chainrule only, PyTorch's C++ allocations are invisible
to it) and the growth of the resident set while the chain is built, each measured in
a fresh process. Never a test: figures depend on the machine and its load.

Usage (from the repository root)::

    python benchmarks/chain_scaling.py                  # 1k, 10k, 100k, 1M gates
    python benchmarks/chain_scaling.py --sizes 1000 100000 --budget 20
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import time
import tracemalloc

from harness import (
    CHAIN_ADD,
    CHAIN_MUL,
    chain_chainrule,
    chain_numpy,
    chain_pytorch,
    check_chain_agreement,
    child_pythonpath,
    print_summary,
)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def memory_child(impl: str, n_iter: int) -> dict[str, float]:
    """Bytes per gate of a live chain of ``2 * n_iter`` gates, in this (fresh) process."""
    if impl == "pytorch":
        import torch
        torch.set_num_threads(1)
        x = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    else:
        import chainrule as cr
        x = cr.tensor([1.0], requires_grad=True)
    y = x * CHAIN_MUL + CHAIN_ADD       # warm-up: first-call allocations not counted
    gc.collect()
    rss0 = _rss()                       # the resident set first, without tracemalloc
    for _ in range(n_iter):
        y = y * CHAIN_MUL + CHAIN_ADD
    rss = _rss() - rss0
    y = x * CHAIN_MUL + CHAIN_ADD       # the chain freed; now what Python allocates
    gc.collect()
    tracemalloc.start()
    t0 = tracemalloc.get_traced_memory()[0]
    for _ in range(n_iter):
        y = y * CHAIN_MUL + CHAIN_ADD
    traced = tracemalloc.get_traced_memory()[0] - t0
    tracemalloc.stop()
    return {"tracemalloc": traced / (2 * n_iter), "rss": rss / (2 * n_iter)}


def measure_memory(impl: str, n_iter: int) -> dict[str, float] | None:
    env = {"PYTHONPATH": child_pythonpath()}
    proc = subprocess.run([sys.executable, __file__, "--memory-child", impl, str(n_iter)],
                          capture_output=True, text=True, timeout=600, check=False,
                          env={**os.environ, **env})
    if proc.returncode != 0:
        print(f"memory of {impl}: the child failed: {proc.stderr.strip()[-300:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def chain_chainrule_gc_off(n_iter: int) -> tuple[float, float, float, float]:
    gc.disable()
    try:
        return chain_chainrule(n_iter)
    finally:
        gc.enable()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+",
                   default=[1_000, 10_000, 100_000, 1_000_000], help="gates per chain")
    p.add_argument("--budget", type=float, default=60.0,
                   help="seconds of timing per size, roughly (at least 3 runs each)")
    p.add_argument("--memory-gates", type=int, default=1_000_000,
                   help="size of the chain whose memory is measured (0: skip)")
    p.add_argument("--memory-child", nargs=2, metavar=("IMPL", "N_ITER"),
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child[0], int(args.memory_child[1]))))
        return 0
    torch_run = chain_pytorch()
    if torch_run is None:
        print("PyTorch is not installed (pip install torch==2.13.0): nothing to compare")
        return 1
    import numpy as np
    import torch
    runs = {"chainrule": chain_chainrule, "pytorch": torch_run,
            "chainrule, GC off": chain_chainrule_gc_off, "numpy floor": chain_numpy}
    print(f"Python {sys.version.split()[0]}, NumPy {np.__version__}, torch "
          f"{torch.__version__} (imported in this process), gc thresholds "
          f"{gc.get_threshold()}, collector enabled")
    medians: dict[int, dict[str, float]] = {}
    for n in args.sizes:
        n_iter = max(1, n // 2)
        check_chain_agreement(runs, n_iter)
        per_run = time.perf_counter()     # one round as timed: a collection before each
        for fn in runs.values():
            gc.collect()
            fn(n_iter)
        per_run = time.perf_counter() - per_run
        repeats = max(3, min(101, int(args.budget / max(per_run, 1e-9))))
        times: dict[str, list[float]] = {k: [] for k in runs}
        order = list(runs.items())
        rng = random.Random(n)
        for _ in range(repeats):
            rng.shuffle(order)            # no implementation always runs after another
            for name, fn in order:
                gc.collect()
                fwd, bwd, _, _ = fn(n_iter)
                times[name].append((fwd + bwd) / (2 * n_iter) * 1e6)
        medians[n] = {k: statistics.median(v) for k, v in times.items()}
        m = medians[n]
        print(f"{n:>9,} gates, {repeats:>3} runs: " + ", ".join(
            f"{k} {v:.2f}" for k, v in m.items()) + " us/gate; chainrule / pytorch "
            f"{m['chainrule'] / m['pytorch']:.2f}", flush=True)

    print("\nus per gate (forward + backward + freeing), medians of interleaved runs:")
    names = list(runs)
    print(f"{'gates':>10}  " + "  ".join(f"{k:>17}" for k in names) + "  cr / torch")
    for n, m in medians.items():
        print(f"{n:>10,}  " + "  ".join(f"{m[k]:>17.2f}" for k in names)
              + f"  {m['chainrule'] / m['pytorch']:>10.2f}")
    lo, hi = min(medians), max(medians)
    print(f"\nflatness: chainrule at {hi:,} / at {lo:,} gates: "
          f"{medians[hi]['chainrule'] / medians[lo]['chainrule']:.2f} "
          f"(PyTorch {medians[hi]['pytorch'] / medians[lo]['pytorch']:.2f})")
    print("worst chainrule / pytorch over the sizes: "
          f"{max(m['chainrule'] / m['pytorch'] for m in medians.values()):.2f}")
    for n, m in medians.items():
        print_summary(f"chain of {n:,} gates, GC on", "us/gate", m["chainrule"],
                      m["pytorch"], None, m["numpy floor"], "NumPy loop")
    if args.memory_gates:
        print(f"\nmemory of a live chain of {args.memory_gates:,} gates, bytes per gate "
              f"(each in a fresh process):")
        for impl in ("chainrule", "pytorch"):
            mem = measure_memory(impl, args.memory_gates // 2)
            if mem is not None:
                traced = (f"{mem['tracemalloc']:.0f}" if impl == "chainrule"
                          else "(C++: not seen)")
                print(f"  {impl:<10} tracemalloc {traced:>15}, resident set growth "
                      f"{mem['rss']:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
