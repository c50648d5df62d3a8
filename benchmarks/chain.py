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

The measuring code lives in ``benchmarks/harness.py``; this script is its command line
(``chainrule bench chain``, from a source checkout, runs it).

Usage (from the repository root)::

    PYTHONPATH=src python benchmarks/chain.py
    PYTHONPATH=src python benchmarks/chain.py --gates 100000 --repeats 5
"""

from __future__ import annotations

import argparse
import sys

from harness import run_chain  # the sibling module (this folder is sys.path[0])


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
    return run_chain(gates=args.gates, repeats=args.repeats, no_torch=args.no_torch,
                     no_gc=args.no_gc)


if __name__ == "__main__":
    sys.exit(main())
