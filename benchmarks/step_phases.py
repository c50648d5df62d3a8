#!/usr/bin/env python
"""Where an ``nn`` + ``optim.SGD`` training step's time goes, phase by phase.

The MLP 784-256-256-10 of ``mlp_step.py`` (float32, ReLU, softmax cross-entropy, SGD),
written as a user writes it (``nn.Sequential``, ``nn.SoftmaxCrossEntropy``,
``optim.SGD``), timed around a plain loop: ``zero_grad`` + forward, the loss,
``backward()``, ``step()``, and the whole step, in microseconds (medians over the
steps after a warm-up). Single-threaded, with OpenBLAS choosing its own kernel (as the
other benchmarks; ``--machine-blas`` keeps this machine's settings).

Run it with another checkout's ``src`` first on ``PYTHONPATH`` to compare two versions
of chainrule phase by phase (``docs/architecture.md`` and the issue notes do). A profile
tool, not a comparison: ``mlp_step.py`` times the same step against PyTorch and NumPy.

Usage (from the repository root)::

    python benchmarks/step_phases.py --batch 1
    python benchmarks/step_phases.py --batch 128 --steps 1500
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import harness  # sibling modules (this folder is sys.path[0]); they import chainrule
import mlp_harness
import numpy as np

import chainrule as cr
from chainrule import nn, optim

PHASES = ("forward (3 Linear, 2 ReLU)", "loss", "backward", "SGD step (6 parameters)",
          "whole step")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=128, help="batch size (default 128)")
    p.add_argument("--steps", type=int, default=2000, help="timed steps (default 2000)")
    p.add_argument("--warmup", type=int, default=200, help="untimed steps first")
    p.add_argument("--machine-blas", action="store_true",
                   help="keep this machine's OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE")
    args = p.parse_args(argv)
    if args.batch < 1 or args.steps < 1 or args.warmup < 0:
        p.error("--batch and --steps must be at least 1, --warmup at least 0")
    harness.reexec_if_needed(__file__, args.machine_blas)   # before any BLAS call

    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                          nn.Linear(256, 10)).to(np.float32)
    loss_fn = nn.SoftmaxCrossEntropy()
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = cr.tensor(rng.random((args.batch, 784), dtype=np.float32))
    t = cr.tensor(np.arange(args.batch) % 10)
    times: dict[str, list[float]] = {k: [] for k in PHASES}
    clock = time.perf_counter
    for i in range(args.warmup + args.steps):
        t0 = clock()
        opt.zero_grad()
        out = model(x)
        t1 = clock()
        loss = loss_fn(out, t)
        t2 = clock()
        loss.backward()
        t3 = clock()
        opt.step()
        t4 = clock()
        if i >= args.warmup:
            for k, a, b in zip(PHASES, (t0, t1, t2, t3, t0), (t1, t2, t3, t4, t4)):
                times[k].append((b - a) * 1e6)
    print(f"chainrule {cr.__version__} from {cr.__file__}")
    print(f"BLAS: {mlp_harness.blas_summary()}")
    print(f"MLP 784-256-256-10, batch {args.batch}, float32; {args.steps} steps after "
          f"{args.warmup}; us per phase (median):")
    for k, v in times.items():
        print(f"  {k:28s} {statistics.median(v):9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
