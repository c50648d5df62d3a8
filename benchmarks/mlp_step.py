#!/usr/bin/env python
"""One SGD training step of an MLP 784-256-256-10: chainrule vs PyTorch vs NumPy.

What is timed (float32 end to end, batch 128, ReLU, softmax cross-entropy, SGD lr 0.1):

* ``chainrule gates``: ``cr.affine``/``cr.relu``/``cr.softmax_cross_entropy``,
  ``loss.backward()``, then an in-place SGD update on each parameter's ``.data``;
* ``chainrule nn``: the same network as ``cr.nn.Sequential`` + ``cr.optim.SGD``
  (measured when ``chainrule.nn`` and ``chainrule.optim`` exist);
* ``pytorch``: ``torch.nn.Sequential`` + ``torch.optim.SGD``, ``torch.set_num_threads(1)``;
* ``numpy``: a hand-written forward and manual backward that reuses preallocated
  buffers (``out=`` everywhere), the best one can do in NumPy without a graph;
* ``matmuls``: the eight matrix products of the step alone (3 forward, 5 backward; the
  first layer needs no input gradient), into preallocated buffers: the floor.

All implementations start from the same weights and see the same batch; the script
checks that one step of each gives the same loss and the same updated weights. They run
interleaved, round-robin in a shuffled order per round, so that a slow spell of the
(shared) machine hits all of them alike; it reports the median and the best block.

Everything is single-threaded: the script sets ``OPENBLAS_NUM_THREADS=1``,
``OMP_NUM_THREADS=1`` and ``MKL_NUM_THREADS=1`` before the measuring process loads
NumPy (re-executing itself with that environment if needed); ``--threads 2`` gives
BLAS and PyTorch two threads instead, for the two-thread table. This machine also sets
``OPENBLAS_CORETYPE`` (forcing OpenBLAS' Haswell kernels) and ``OPENBLAS_L2_SIZE``; the
re-executed benchmark unsets both so that OpenBLAS picks the kernel for the CPU it runs
on (``--machine-blas`` keeps them). The BLAS kernel in use is printed.

Then it reports seconds per epoch of 60,000 samples (469 steps times the median step,
and one real epoch over Fashion-MNIST's 60,000 training images through
``cr.data.DataLoader`` when the data is available), the whole-process time of a
one-epoch ``chainrule train`` run, and peak memory.

The measuring code lives in ``benchmarks/mlp_harness.py``; this script is its command
line (``chainrule bench mlp``, from a source checkout, runs a compact version: the step
table, ratios and memory, without the epoch and the ``chainrule train`` run).

Usage (from the repository root)::

    python benchmarks/mlp_step.py                 # about 15 seconds
    python benchmarks/mlp_step.py --rounds 30 --no-epoch --no-train   # quick
"""

from __future__ import annotations

import argparse
import sys

import harness  # sibling modules (this folder is sys.path[0])
import mlp_harness


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=120,
                   help="round-robin rounds (each times one block per implementation)")
    p.add_argument("--block", type=int, default=10, help="steps per timed block")
    p.add_argument("--warmup", type=int, default=20,
                   help="untimed steps of each implementation before timing (default 20)")
    p.add_argument("--batch", type=int, default=128, help="batch size (default 128)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS (and PyTorch) threads; 1 by default, the figures quoted")
    p.add_argument("--machine-blas", action="store_true",
                   help="keep this machine's OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    p.add_argument("--no-epoch", action="store_true",
                   help="skip the real epoch over Fashion-MNIST")
    p.add_argument("--no-train", action="store_true",
                   help="skip the one-epoch `chainrule train` subprocess")
    p.add_argument("--profile", action="store_true",
                   help="also print a cProfile of 300 chainrule steps")
    return p.parse_args(argv)


def main() -> int:
    args = _parse_args()
    if args.threads < 1:
        raise SystemExit("mlp_step.py: --threads must be at least 1")
    harness.reexec_if_needed(__file__, args.machine_blas, args.threads)
    try:
        return mlp_harness.run_mlp(rounds=args.rounds, block=args.block, batch=args.batch,
                                   seed=args.seed, no_torch=args.no_torch,
                                   epoch=not args.no_epoch, train=not args.no_train,
                                   profile=args.profile, warmup=args.warmup)
    except (harness.BenchmarkError, ValueError) as e:
        raise SystemExit(f"mlp_step.py: {e}") from None


if __name__ == "__main__":
    sys.exit(main())
