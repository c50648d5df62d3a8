#!/usr/bin/env python
"""The cost of one gradient allreduce on this machine, and what it predicts for clusters.

Launches ``mpiexec -n P`` (default 2) copies of itself; each rank times
``chainrule.distributed.allreduce_gradients`` on float32 buffers of 1 to 4M elements
(after a barrier, 30 calls each, median of the slowest rank), then fits the usual
model of a ring allreduce,

    t(bytes) = a + 2 (P - 1) / P * bytes / B:

``a`` is the fixed cost per call (the smallest message's time: latency, plus
chainrule's layout check), ``B`` the bandwidth (from the two largest messages). It then
prints the predicted time per step and the scaling efficiency
``compute / (compute + allreduce)`` (no overlap of communication with the backward
pass) for 8, 64 and 512 ranks on a 10 GbE
network (a = 50 us per step of the ring, B = 1.1 GB/s) and 100 Gb InfiniBand (a = 2 us,
B = 11 GB/s), for the MLP 784-256-256-10 and the LeNet-style CNN of
``benchmarks/cnn_step.py``, with their measured single-core step times given on the
command line (``--mlp-ms``, ``--cnn-ms``; defaults are this machine's figures).

Usage (from the repository root; needs mpi4py and mpiexec)::

    python benchmarks/mpi_allreduce.py
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
SIZES = (1, 1_024, 16_384, 262_144, 1_048_576, 4_194_304)
CALLS = 30
#: Parameters per model: MLP 784-256-256-10 and the LeNet-style CNN.
MODELS = {"MLP 784-256-256-10": 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10,
          "LeNet-style CNN": 8 * 9 + 8 + 16 * 72 + 16 + 400 * 10 + 10}
#: (name, latency per ring step in seconds, bandwidth in bytes/s)
NETWORKS = (("10 GbE", 50e-6, 1.1e9), ("100 Gb InfiniBand", 2e-6, 11e9))


def _worker(out: Path) -> None:
    import numpy as np

    import chainrule as cr
    import chainrule.distributed as dist

    dist.init()
    c = dist.get_comm()
    rows = []
    for n in SIZES:
        t = cr.tensor(np.zeros(n, np.float32), requires_grad=True)
        t.grad = np.ones(n, np.float32)
        for _ in range(3):
            dist.allreduce_gradients([t])
        times = []
        for _ in range(CALLS):
            dist.barrier()
            t0 = time.perf_counter()
            dist.allreduce_gradients([t])
            times.append(time.perf_counter() - t0)
        worst = c.allreduce(statistics.median(times), op=__import__("mpi4py").MPI.MAX)
        rows.append((n * 4, worst))
    if dist.rank() == 0:
        out.write_text(json.dumps({"procs": dist.world_size(), "rows": rows}))


def _fit(rows: list[tuple[int, float]], procs: int) -> tuple[float, float]:
    """(a, B): the fixed cost is the smallest message's time; the bandwidth comes from
    the two largest, where the fixed cost no longer matters."""
    a = rows[0][1]
    big = [2 * (procs - 1) / procs * b / max(t - a, 1e-12) for b, t in rows[-2:]]
    return a, statistics.fmean(big)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--mlp-ms", type=float, default=2.4,
                   help="one MLP step (batch 128) on one core, ms")
    p.add_argument("--cnn-ms", type=float, default=6.5,
                   help="one CNN step (batch 64) on one core, ms")
    p.add_argument("--worker", metavar="OUT", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        _worker(Path(args.worker))
        return 0
    mpiexec = shutil.which("mpiexec") or shutil.which("mpiexec",
                                                      path=str(Path(sys.executable).parent))
    if mpiexec is None:
        raise SystemExit("mpi_allreduce.py: mpiexec is not on PATH (pip install mpich)")
    env = dict(os.environ, PYTHONPATH=str(_ROOT / "src"), OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        subprocess.run([mpiexec, "-n", str(args.procs), sys.executable, __file__,
                        "--worker", str(out)], env=env, check=True, timeout=600)
        data = json.loads(out.read_text())
    procs, rows = data["procs"], data["rows"]
    print(f"allreduce_gradients on {procs} ranks of this machine (float32, median of "
          f"{CALLS} calls, slowest rank):")
    print(f"  {'bytes':>10s} {'ms':>9s} {'GB/s (2(P-1)/P x bytes / t)':>30s}")
    for b, t in rows:
        print(f"  {b:10d} {t * 1e3:9.3f} {2 * (procs - 1) / procs * b / t / 1e9:30.2f}")
    a, bw = _fit(rows, procs)
    print(f"fit: a = {a * 1e6:.1f} us per call, B = {bw / 1e9:.2f} GB/s")
    print("\npredicted allreduce ms per step and scaling efficiency (compute / (compute + "
          "allreduce), no overlap), one core per rank:")
    for model, n_params in MODELS.items():
        compute = (args.mlp_ms if model.startswith("MLP") else args.cnn_ms) / 1e3
        nbytes = 4 * n_params
        print(f"  {model}: {n_params:,} parameters ({nbytes / 1e6:.2f} MB), "
              f"{compute * 1e3:.1f} ms compute per step")
        for net, lat, band in NETWORKS:
            cells = []
            for n in (8, 64, 512):
                t = 2 * (n - 1) * lat + 2 * (n - 1) / n * nbytes / band
                cells.append(f"{n} ranks {t * 1e3:6.3f} ms ({compute / (compute + t):.0%})")
            print(f"    {net:18s} " + "; ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
