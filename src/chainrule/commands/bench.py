"""``chainrule bench [chain|mlp|all]``: how fast chainrule is, next to PyTorch and NumPy.

chain   per-gate cost of a 10,000-gate chain (y = y * 1.0001 + 0.0001 on one-element
        float64 tensors, forward + backward + freeing the graph): chainrule, PyTorch
        and the NumPy floor (the same arithmetic with a hand-written backward loop).
mlp     one SGD training step of an MLP 784-256-256-10, float32, batch 128:
        chainrule gates, chainrule nn + optim, PyTorch, hand-written NumPy (plain and
        tuned) and the eight matrix products alone (the floor); then the ratios and
        the memory NumPy allocates during a step.

Every implementation is first checked to compute the same numbers, then they are
timed interleaved in one process. The benchmark runs single-threaded: unless the
environment already says so, it re-runs itself as `python -m chainrule bench ...`
with OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=MKL_NUM_THREADS=1 and without
OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (--machine-blas keeps those two). PyTorch is used
when installed (--no-torch skips it).

The full benchmarks, with more rounds, an epoch over Fashion-MNIST and a whole
`chainrule train` process, are benchmarks/chain.py and benchmarks/mlp_step.py in the
source repository.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from typing import Any

from ._args import positive_int

_REEXEC_MARK = "_CHAINRULE_BENCH_REEXEC"

#: (normal, --quick) settings of the compact benchmarks.
CHAIN_GATES = 10_000
CHAIN_REPEATS = (5, 3)
MLP_ROUNDS = (30, 8)
MLP_BLOCK = (10, 5)
MLP_WARMUP = (20, 5)




def register(subparsers: Any) -> None:
    """Add the ``bench`` subcommand."""
    p = subparsers.add_parser(
        "bench", help="time chainrule against PyTorch and NumPy (gate chain, MLP step)",
        description=__doc__.replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("which", nargs="?", choices=("chain", "mlp", "all"), default="all",
                   help="which benchmark to run (default all)")
    p.add_argument("--quick", action="store_true",
                   help=f"fewer timed runs: chain {CHAIN_REPEATS[1]} runs instead of "
                        f"{CHAIN_REPEATS[0]}, mlp {MLP_ROUNDS[1]} rounds of "
                        f"{MLP_BLOCK[1]} steps instead of {MLP_ROUNDS[0]} of {MLP_BLOCK[0]}")
    p.add_argument("--rounds", type=positive_int, default=None, metavar="N",
                   help="timed runs per implementation (chain) / round-robin rounds (mlp)")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    p.add_argument("--machine-blas", action="store_true",
                   help="keep this machine's OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE")
    p.set_defaults(func=run)


def _argv(args: argparse.Namespace) -> list[str]:
    """The command line that reproduces ``args`` (for the re-run)."""
    out = [args.which]
    if args.quick:
        out.append("--quick")
    if args.rounds is not None:
        out += ["--rounds", str(args.rounds)]
    if args.no_torch:
        out.append("--no-torch")
    if args.machine_blas:
        out.append("--machine-blas")
    return out


def _rerun_single_threaded(args: argparse.Namespace) -> int | None:
    """Run this command again in a single-threaded child process and return its exit
    code, or None when this process already has the right environment."""
    from ..bench import child_pythonpath, single_threaded_env

    env = single_threaded_env(os.environ, keep_machine_blas=args.machine_blas)
    if env is None:
        return None
    if os.environ.get(_REEXEC_MARK):
        print("chainrule bench: could not set the single-threaded BLAS environment",
              file=sys.stderr)
        return 1
    env[_REEXEC_MARK] = "1"
    env["PYTHONPATH"] = child_pythonpath(env)
    sys.stdout.flush()
    sys.stderr.flush()
    cmd = [sys.executable, "-m", "chainrule", "bench", *_argv(args)]
    return subprocess.run(cmd, env=env, check=False).returncode


def run(args: argparse.Namespace) -> int:
    """Run ``chainrule bench``; returns 0, or 1 if the implementations disagree."""
    code = _rerun_single_threaded(args)
    if code is not None:
        return code

    from ..bench import BenchmarkError, run_chain, run_mlp

    q = int(args.quick)
    targets = ("chain", "mlp") if args.which == "all" else (args.which,)
    status = 0
    for i, name in enumerate(targets):
        if len(targets) > 1:
            if i:
                print()
            title = ("chain: per-gate cost of a long chain of tiny gates" if name == "chain"
                     else "mlp: one training step of an MLP 784-256-256-10")
            print(f"== {title}")
        try:
            if name == "chain":
                repeats = args.rounds if args.rounds is not None else CHAIN_REPEATS[q]
                code = run_chain(gates=CHAIN_GATES, repeats=repeats, no_torch=args.no_torch)
            else:
                rounds = args.rounds if args.rounds is not None else MLP_ROUNDS[q]
                code = run_mlp(rounds=rounds, block=MLP_BLOCK[q], no_torch=args.no_torch,
                               epoch=False, train=False, warmup=MLP_WARMUP[q])
        except BenchmarkError as e:
            print(f"chainrule bench {name}: {e}", file=sys.stderr)
            code = 1
        sys.stdout.flush()
        status = status or code
    return status
