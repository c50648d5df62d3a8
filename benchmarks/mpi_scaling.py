#!/usr/bin/env python
"""Data-parallel scaling over MPI: seconds per epoch on 1 and 2 processes, same global batch.

For each process count P (default 1 and 2) the script launches
``mpiexec -n P python benchmarks/mpi_scaling.py --worker ...`` with single-threaded
BLAS in every process (``OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=MKL_NUM_THREADS=1``, so
P processes use P cores). Each rank trains the MLP 784-256-256-10 (float32, ReLU,
softmax cross-entropy, SGD with momentum) on its shard of Fashion-MNIST's 60,000
training images (the embedded 4,000-image MNIST sample with ``--sample`` or when
Fashion-MNIST is not installed), with ``chainrule.distributed``: local batch = global
batch / P, gradients averaged by one ``MPI_Allreduce`` per step.

Per global batch size it reports, from rank 0 (times are the slowest rank's):

* ``s/epoch``: the median over the timed epochs (after 20 warm-up steps), from the
  best of ``--rounds`` interleaved launches; ``min-max``: its fastest and slowest;
* ``speedup``: s/epoch on 1 process divided by s/epoch on P; ``efficiency`` = speedup/P;
* ``no-comm s/epoch``: the same work with the allreduce left out (median of up to 3
  epochs, run after the timed ones; the ranks then drift apart, only the time
  matters): what splitting the batch gains before any communication; below half the
  1-process time only if smaller local batches run as fast per sample and the
  processes do not slow each other down (memory bandwidth, caches);
* ``overlap s/epoch``: the same training with ``DistributedOptimizer(overlap=True)``:
  the gradients go in buckets of ``--bucket-mb`` as backward produces them, each
  bucket's ``MPI_Iallreduce`` overlapping the rest of backward;
* ``allreduce ms/step``: time inside ``allreduce_gradients`` during training, which
  includes waiting for the slowest rank to finish its backward pass;
* ``bare allreduce ms``: the same call repeated back to back after a barrier: the
  cost of moving and summing the gradients alone;
* ``final loss``: the training loss of the last epoch (the runs take the same steps,
  so it agrees across P up to float32 rounding).

Usage (from the repository root; needs mpi4py and mpiexec)::

    python benchmarks/mpi_scaling.py                    # about 15 seconds here
    python benchmarks/mpi_scaling.py --sample --epochs 2   # a few seconds
    python benchmarks/mpi_scaling.py --procs 1 2 4 --batch 256   # oversubscribed: honest

This machine's ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` are removed from the
children's environment so that OpenBLAS picks the kernel for the CPU it runs on
(``--machine-blas`` keeps them), as ``benchmarks/mlp_step.py`` does.
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
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_MACHINE_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
SIZES = (784, 256, 256, 10)
WARMUP_STEPS = 20
BARE_CALLS = 50


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--procs", type=int, nargs="+", default=[1, 2],
                   help="process counts to compare (default 1 2)")
    p.add_argument("--batch", type=int, nargs="+", default=[128, 512],
                   help="global batch sizes (default 128 512)")
    p.add_argument("--epochs", type=int, default=5, help="timed epochs per configuration")
    p.add_argument("--rounds", type=int, default=2,
                   help="launch every process count this many times, interleaved "
                        "(1, 2, 1, 2, ...); each configuration reports its best round")
    p.add_argument("--sample", action="store_true",
                   help="use the embedded 4,000-image MNIST sample (quick)")
    p.add_argument("--machine-blas", action="store_true",
                   help="keep this machine's OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE")
    p.add_argument("--timeout", type=float, default=900.0,
                   help="seconds before a launch is killed (default 900)")
    p.add_argument("--bucket-mb", type=float, default=0.25,
                   help="bucket size of the overlapped allreduce (default 0.25 MB: 4 "
                        "buckets for the MLP's 1 MB of gradients)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--json", help=argparse.SUPPRESS)
    return p.parse_args(argv)


# ---------------------------------------------------------------------- worker (each rank)
def _load_data(sample: bool) -> tuple[Any, str]:
    from chainrule.data import FashionMNIST, MNISTSample
    if not sample:
        try:
            return FashionMNIST("train"), "Fashion-MNIST train (60,000 images)"
        except (FileNotFoundError, ValueError):
            pass
    return MNISTSample("train"), "MNIST sample (4,000 images)"


def _worker(args: argparse.Namespace) -> None:
    import numpy as np

    sys.path.insert(0, str(_ROOT / "src"))
    import chainrule as cr
    import chainrule.distributed as dist
    from chainrule import nn, optim
    from chainrule.data import DataLoader

    comm = dist.init()
    from mpi4py import MPI as mpi  # imported by dist.init() above
    size = dist.world_size()
    data, about = _load_data(args.sample)

    def slowest(x: float) -> float:
        return float(comm.allreduce(x, op=mpi.MAX))

    def build() -> tuple[Any, Any]:
        cr.manual_seed(0)
        layers: list[Any] = []
        for i in range(3):
            lin = nn.Linear(SIZES[i], SIZES[i + 1])
            nn.init.kaiming_uniform_(lin.weight, nonlinearity="relu")
            nn.init.zeros_(lin.bias)
            layers += [lin, nn.ReLU()] if i < 2 else [lin]
        model = nn.Sequential(*layers)
        dist.broadcast_parameters(model)
        return model, optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    loss_fn = nn.SoftmaxCrossEntropy()
    results = []
    for global_batch in args.batch:
        if global_batch % size:
            raise SystemExit(f"global batch {global_batch} is not a multiple of {size}")
        model, opt = build()
        params = list(model.parameters())
        loader = DataLoader(data, global_batch // size,
                            sampler=dist.DistributedSampler(data, shuffle=True, seed=0))

        def epoch(sync: bool, limit: int | None = None, model: Any = model, opt: Any = opt,
                  loader: Any = loader, params: list = params) -> tuple[float, float, float]:
            """(seconds, seconds inside allreduce, mean loss) of one pass."""
            comm_s = loss_sum = 0.0
            n = 0
            dist.barrier()
            t0 = time.perf_counter()
            for i, (x, y) in enumerate(loader):
                if limit is not None and i >= limit:
                    break
                opt.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                if sync:
                    t = time.perf_counter()
                    dist.allreduce_gradients(params)
                    comm_s += time.perf_counter() - t
                opt.step()
                loss_sum += loss.item()
                n += 1
            return time.perf_counter() - t0, comm_s, loss_sum / max(n, 1)

        epoch(True, limit=WARMUP_STEPS)
        timed = []
        loss = comm_ms = 0.0
        for e in range(args.epochs):
            loader.set_epoch(e)
            seconds, comm_s, loss = epoch(True)
            timed.append(slowest(seconds))
            comm_ms = dist.allreduce_mean(comm_s) / len(loader) * 1e3
        final_loss = dist.allreduce_mean(loss)
        # the same training with the gradients sent in buckets during backward
        # (DistributedOptimizer(overlap=True)): the allreduce overlaps the backward pass
        model_o, opt_o = build()
        opt_o = dist.DistributedOptimizer(opt_o, overlap=True, bucket_mb=args.bucket_mb)
        epoch(False, limit=WARMUP_STEPS, model=model_o, opt=opt_o)
        overlap_times = []
        for e in range(args.epochs):
            loader.set_epoch(e)
            overlap_times.append(slowest(epoch(False, model=model_o, opt=opt_o)[0]))
        nocomm_times = []
        for e in range(min(args.epochs, 3)):
            loader.set_epoch(args.epochs + e)
            nocomm_times.append(slowest(epoch(False)[0]))
        nocomm = statistics.median(nocomm_times)
        dist.barrier()
        t = time.perf_counter()
        for _ in range(BARE_CALLS):
            dist.allreduce_gradients(params)
        bare_ms = slowest(time.perf_counter() - t) / BARE_CALLS * 1e3
        results.append({
            "procs": size, "global_batch": global_batch, "local_batch": global_batch // size,
            "steps": len(loader), "epoch_seconds": timed,
            "median_epoch": statistics.median(timed), "nocomm_epoch": nocomm,
            "overlap_epoch": statistics.median(overlap_times),
            "allreduce_ms_step": comm_ms, "bare_allreduce_ms": bare_ms,
            "final_loss": final_loss,
            "grad_mb": sum(p.data.nbytes for p in params) / 2**20,
        })
    if dist.is_main() and args.json:
        blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
        Path(args.json).write_text(json.dumps({
            "data": about, "results": results,
            "blas": f"{blas.get('name', '?')} {blas.get('version', '')}".strip(),
            "mpi": mpi.Get_library_version().splitlines()[0].strip()}))


# ---------------------------------------------------------------------- driver
def _launch(procs: int, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    mpiexec = shutil.which("mpiexec") or shutil.which(
        "mpiexec", path=str(Path(sys.executable).parent))
    if mpiexec is None:
        raise SystemExit("mpi_scaling.py: mpiexec is not on PATH; pip install mpi4py mpich")
    env = dict(os.environ)
    for v in _THREAD_VARS:
        env[v] = "1"
    if not args.machine_blas:
        for v in _MACHINE_VARS:
            env.pop(v, None)
    env["PYTHONPATH"] = os.pathsep.join([str(_ROOT / "src"),
                                         *filter(None, [env.get("PYTHONPATH")])])
    cmd = [mpiexec, "-n", str(procs), sys.executable, str(Path(__file__).resolve()),
           "--worker", "--json", str(out), "--epochs", str(args.epochs),
           "--bucket-mb", str(args.bucket_mb),
           "--batch", *map(str, args.batch), *(["--sample"] if args.sample else [])]
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    try:
        rc = proc.wait(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()
        raise SystemExit(f"mpi_scaling.py: {procs} processes did not finish within "
                         f"{args.timeout:.0f} s") from None
    if rc != 0:
        raise SystemExit(f"mpi_scaling.py: {' '.join(cmd)} failed with exit code {rc}")
    return json.loads(out.read_text())


def main() -> None:
    args = _parse_args()
    if args.worker:
        _worker(args)
        return
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        raise SystemExit('mpi_scaling.py needs mpi4py: pip install "chainrule[mpi]" '
                         "(or pip install mpi4py mpich)") from None
    load_before = os.getloadavg()[0]
    rounds: dict[int, list[dict[str, Any]]] = {p: [] for p in args.procs}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(max(1, args.rounds)):
            for p in args.procs:
                rounds[p].append(_launch(p, args, Path(tmp) / f"p{p}-{k}.json"))
    # Per configuration, the round with the fastest median epoch: the one least
    # disturbed by whatever else ran on the machine.
    runs: dict[int, dict[str, Any]] = {}
    for p, rs in rounds.items():
        best = dict(rs[0])
        best["results"] = [min((r["results"][i] for r in rs), key=lambda x: x["median_epoch"])
                           for i in range(len(args.batch))]
        runs[p] = best
    first = runs[args.procs[0]]
    print(f"data: {first['data']}; model {'-'.join(map(str, SIZES))} float32, SGD "
          f"momentum; {args.epochs} timed epochs; {os.cpu_count()} CPU cores; "
          f"1 BLAS thread per process ({first['blas']}); {first['mpi']}")
    print(f"gradients per allreduce: {first['results'][0]['grad_mb']:.2f} MiB (float32); "
          f"best of {max(1, args.rounds)} interleaved round(s) per configuration")
    load_after = os.getloadavg()[0]
    print(f"1-minute load average: {load_before:.2f} before, {load_after:.2f} after "
          f"(includes this benchmark)")
    if load_before > 0.5:
        print("warning: other processes were using the CPU when the benchmark started; "
              "with as many ranks as cores, their timings suffer first")
    head = (f"{'procs':>5} {'batch':>11} {'steps':>5} {'s/epoch':>8} {'speedup':>7} "
            f"{'effic.':>6} {'min-max s/epoch':>15} {'overlap s/ep':>12} {'no-comm s/ep':>12} "
            f"{'allreduce ms/step':>17} {'bare allreduce ms':>17} {'final loss':>10}")
    for i, gb in enumerate(args.batch):
        print()
        print(head)
        p0 = args.procs[0]
        base = runs[p0]["results"][i]["median_epoch"]
        for p in args.procs:
            r = runs[p]["results"][i]
            speed = base / r["median_epoch"]
            split = f"{gb}={p}x{r['local_batch']}"
            spread = f"{min(r['epoch_seconds']):.3f}-{max(r['epoch_seconds']):.3f}"
            print(f"{p:>5} {split:>11} {r['steps']:>5} {r['median_epoch']:>8.3f} "
                  f"{speed:>6.2f}x {speed * p0 / p:>6.0%} {spread:>15} "
                  f"{r['overlap_epoch']:>12.3f} {r['nocomm_epoch']:>12.3f} "
                  f"{r['allreduce_ms_step']:>17.3f} {r['bare_allreduce_ms']:>17.3f} "
                  f"{r['final_loss']:>10.5f}")
    print()
    print(f"speedup and efficiency are relative to {p0} process(es).")


if __name__ == "__main__":
    main()
