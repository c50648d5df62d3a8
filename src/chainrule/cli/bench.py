"""``chainrule bench [chain|mlp|cnn|hvp|all]``: how fast chainrule is, next to PyTorch and
NumPy.

chain   per-gate cost of a 10,000-gate chain (y = y * 1.0001 + 0.0001 on one-element
        float64 tensors, forward + backward + freeing the graph): chainrule, PyTorch
        and the NumPy floor (the same arithmetic with a hand-written backward loop).
mlp     one SGD training step of an MLP 784-256-256-10, float32, batch 128 and
        batch 1: chainrule gates, chainrule nn + optim, PyTorch, hand-written NumPy
        (plain and tuned) and the eight matrix products alone (the floor); then the
        ratios and the memory NumPy allocates during a step.
cnn     one SGD training step of a LeNet-style CNN (conv 1->8, pool, conv 8->16, pool,
        linear 400->10; batch 64, float32): chainrule nn + optim, PyTorch, hand-written
        NumPy im2col and the GEMMs alone; where chainrule's step goes, per gate; with
        the C allocator's defaults and with cr.retain_freed_memory().
hvp     a Hessian-vector product of that MLP's loss (float64, batch 128): chainrule,
        PyTorch (double backward, torch.func) and a hand-written NumPy R-op, with the
        matrix products alone.

The benchmarks are developer tools that live in the source repository, not in the
installed package: this command runs benchmarks/chain.py, mlp_step.py, cnn_step.py and
hvp.py of the checkout chainrule runs from (compact settings), with this Python. The
scripts re-run themselves single-threaded (OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=
MKL_NUM_THREADS=1, or N with --threads N, PyTorch alike; without OPENBLAS_CORETYPE/
OPENBLAS_L2_SIZE unless --machine-blas). Run the scripts directly for the full
benchmarks (more rounds, an epoch over Fashion-MNIST, a whole `chainrule train`
process).

Each script ends with summary lines; the command prints them at the end as one table
(work, chainrule, PyTorch, hand-written NumPy, floor, ratios), under the BLAS kernel and
thread count the scripts report.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from ._args import positive_float, positive_int

#: The directory of the ``chainrule`` package this command belongs to.
PACKAGE_DIR = Path(__file__).resolve().parent.parent

#: (normal, --quick) settings of the compact benchmarks.
CHAIN_GATES = 10_000
CHAIN_REPEATS = (5, 3)
MLP_ROUNDS = (30, 8)
MLP_BLOCK = (10, 5)
MLP_WARMUP = (20, 5)
CNN_ROUNDS = (20, 6)
HVP_ROUNDS = (20, 5)
#: Seconds one benchmark script may run before it is stopped.
TIMEOUT = 900.0

TITLES = {"chain": "chain: per-gate cost of a long chain of tiny gates",
          "mlp": "mlp: one training step of an MLP 784-256-256-10",
          "cnn": "cnn: one training step of a LeNet-style CNN",
          "hvp": "hvp: a Hessian-vector product of the MLP's loss"}


def register(subparsers: Any) -> None:
    """Add the ``bench`` subcommand."""
    p = subparsers.add_parser(
        "bench", help="time chainrule against PyTorch and NumPy (from a source checkout)",
        description=__doc__.replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("which", nargs="?", choices=("chain", "mlp", "cnn", "hvp", "all"), default="all",
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
    p.add_argument("--threads", type=positive_int, default=1, metavar="N",
                   help="BLAS and PyTorch threads for mlp, cnn and hvp (default 1, the "
                        "figures quoted; the chain's one-element gates use none)")
    p.add_argument("--timeout", type=positive_float, default=TIMEOUT, metavar="SECONDS",
                   help=f"stop a benchmark that runs longer (default {TIMEOUT:g})")
    p.set_defaults(func=run)


def benchmarks_dir(package_dir: Path) -> Path | None:
    """``benchmarks/`` of the source checkout holding ``package_dir`` (``src/chainrule``
    with ``benchmarks/`` next to ``src/``), or None for an installed package."""
    src = package_dir.parent
    folder = src.parent / "benchmarks"
    if src.name == "src" and (folder / "chain.py").is_file() \
            and (folder / "mlp_step.py").is_file():
        return folder
    return None


def script_argv(name: str, args: argparse.Namespace, batch: int = 128) -> list[str]:
    """The script and its options that run benchmark ``name`` as ``args`` ask."""
    q = int(args.quick)
    if name == "chain":
        repeats = args.rounds if args.rounds is not None else CHAIN_REPEATS[q]
        argv = ["chain.py", "--gates", str(CHAIN_GATES), "--repeats", str(repeats)]
    elif name == "cnn":
        rounds = args.rounds if args.rounds is not None else CNN_ROUNDS[q]
        argv = ["cnn_step.py", "--rounds", str(rounds), "--block", "3", "--warmup", "3"]
        if args.machine_blas:
            argv.append("--machine-blas")
    elif name == "hvp":
        rounds = args.rounds if args.rounds is not None else HVP_ROUNDS[q]
        argv = ["hvp.py", "--rounds", str(rounds), "--block", "3", "--warmup", "2",
                "--no-profile"]
        if args.machine_blas:
            argv.append("--machine-blas")
    else:
        rounds = args.rounds if args.rounds is not None else MLP_ROUNDS[q]
        argv = ["mlp_step.py", "--rounds", str(rounds), "--block", str(MLP_BLOCK[q]),
                "--warmup", str(MLP_WARMUP[q]), "--no-epoch", "--no-train"]
        if batch != 128:
            argv += ["--batch", str(batch)]
        if args.machine_blas:
            argv.append("--machine-blas")
    if args.no_torch:
        argv.append("--no-torch")
    if name != "chain" and args.threads != 1:
        argv += ["--threads", str(args.threads)]
    return argv


def run(args: argparse.Namespace) -> int:
    """Run ``chainrule bench``; returns 0, or the first non-zero exit code of a script (1
    when the implementations disagree, a script timed out or there are no scripts)."""
    folder = benchmarks_dir(PACKAGE_DIR)
    if folder is None:
        print("chainrule bench: the benchmarks live in the source repository, not in the "
              "installed package; from a checkout run `python benchmarks/chain.py` or "
              "`python benchmarks/mlp_step.py`", file=sys.stderr)
        return 1
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PACKAGE_DIR.parent), env.get("PYTHONPATH", "")) if p)
    targets = ("chain", "mlp", "cnn", "hvp") if args.which == "all" else (args.which,)
    runs = [(name, batch) for name in targets for batch in ((128, 1) if name == "mlp" else (128,))]
    status = 0
    rows: list[list[str]] = []
    machine: list[str] = []
    for i, (name, batch) in enumerate(runs):
        if len(runs) > 1:
            print(("\n" if i else "") + f"== {TITLES[name]}"
                  + (f", batch {batch}" if name == "mlp" else ""), flush=True)
        script, *opts = script_argv(name, args, batch)
        sys.stderr.flush()
        try:
            code = _run_collecting([sys.executable, str(folder / script), *opts], env,
                                   args.timeout, rows, machine)
        except subprocess.TimeoutExpired:
            print(f"chainrule bench {name}: stopped after {args.timeout:g} s (--timeout)",
                  file=sys.stderr)
            code = 1
        status = status or code
    if rows:
        print("\n" + summary_table(rows, machine))
    return status


def _run_collecting(cmd: list[str], env: dict[str, str], timeout: float,
                    rows: list[list[str]], machine: list[str]) -> int:
    """Run one script, echoing its output; keep its summary lines and its BLAS line."""
    out = subprocess.run(cmd, env=env, timeout=timeout, check=False, stdout=subprocess.PIPE,
                         text=True)
    for line in out.stdout.splitlines():
        fields = line.split("\t")
        if fields[0] == "summary" and len(fields) == 8:
            rows.append(fields[1:])
            continue
        blas = re.search(r"BLAS: (.*)", line)
        if blas and not machine:
            machine.append(blas.group(1))
        print(line)
    sys.stdout.flush()
    return out.returncode


def _ratio(a: str, b: str) -> str:
    try:
        return f"{float(a) / float(b):.2f}"
    except (ValueError, ZeroDivisionError):
        return "-"


def summary_table(rows: list[list[str]], machine: list[str]) -> str:
    """The summary lines as one Markdown table (the README quotes it)."""
    lines = ["Summary" + (f" (BLAS {machine[0]}; {os.cpu_count()} CPUs)" if machine else ""),
             "",
             "| work | unit | chainrule | PyTorch | NumPy | floor | chainrule / PyTorch "
             "| chainrule / NumPy | chainrule / floor |",
             "|---|---|---|---|---|---|---|---|---|"]
    for work, unit, cr_, torch_, np_, floor, floor_name in rows:
        floor_cell = f"{floor} ({floor_name})" if floor != "-" and floor_name else floor
        lines.append(f"| {work} | {unit} | {cr_} | {torch_} | {np_} | {floor_cell} | "
                     f"{_ratio(cr_, torch_)} | {_ratio(cr_, np_)} | {_ratio(cr_, floor)} |")
    return "\n".join(lines)
