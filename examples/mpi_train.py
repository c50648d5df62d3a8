#!/usr/bin/env python
"""Data-parallel training over MPI: an MLP on the MNIST sample, one shard per process.

Every process (rank) builds the same network, rank 0's initial weights are broadcast
to all, and each step every rank computes the gradient of the mean loss on its own
slice of the global batch; the ranks average those gradients (one ``MPI_Allreduce``
per step) and apply the same update, so their weights stay identical. The global
batch (``--batch-size``) is split evenly over the ranks, so a run on 2 processes takes
the same steps as a run on 1 (up to floating-point rounding).

Rank 0 prints one row per epoch, with the training loss and accuracy averaged over
every sample all ranks processed and the test loss and accuracy over the whole test
set (each rank scores a slice; the sums are combined), and writes the checkpoint.

Run from the repository root (needs ``pip install "chainrule[mpi]"`` or
``pip install mpi4py mpich``)::

    mpiexec -n 2 python examples/mpi_train.py              # a few seconds
    python examples/mpi_train.py                           # a world of one process

Both take the same steps and print (nearly) the same numbers: float32 sums in a
different order round differently. The script sets ``OPENBLAS_NUM_THREADS=1`` (and
the OpenMP/MKL equivalents) unless they are already set, so that two ranks on two
cores do not fight over them. This network is small:
on two cores, the time saved by splitting each batch is about what the per-step
allreduce costs; ``benchmarks/mpi_scaling.py`` measures where it pays.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# One BLAS thread per rank (one rank per core), unless the environment says otherwise;
# this must happen before NumPy is imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

try:
    import chainrule as cr
except ImportError:  # running from a source checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    import chainrule as cr

import chainrule.distributed as dist  # noqa: E402
from chainrule import nn, optim  # noqa: E402
from chainrule.data import ArrayDataset, DataLoader, MNISTSample  # noqa: E402


def build_model(hidden: int) -> nn.Module:
    """784 -> hidden -> hidden -> 10, ReLU, He-initialised (float32)."""
    layers: list[nn.Module] = []
    sizes = [784, hidden, hidden, 10]
    for i in range(3):
        lin = nn.Linear(sizes[i], sizes[i + 1])
        nn.init.kaiming_uniform_(lin.weight, nonlinearity="relu")
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.ReLU()] if i < 2 else [lin]
    return nn.Sequential(*layers)


def evaluate(model: nn.Module, data: ArrayDataset, batch: int = 500) -> tuple[float, float]:
    """(mean loss, accuracy) over the *whole* of ``data``: each rank scores every
    ``world_size``-th sample, then the sums are added up over the ranks."""
    idx = np.arange(len(data))[dist.rank()::dist.world_size()]
    loss_sum = correct = 0.0
    loss_fn = nn.SoftmaxCrossEntropy()
    model.eval()
    with cr.no_grad():
        for lo in range(0, len(idx), batch):
            x, y = data.get_batch(idx[lo:lo + batch])
            logits = model(cr.from_numpy(x))
            loss_sum += loss_fn(logits, cr.from_numpy(y)).item() * len(y)
            correct += float(np.count_nonzero(logits.data.argmax(axis=1) == y))
    model.train()
    totals = dist.allreduce_sum(np.array([loss_sum, correct, len(idx)]))
    return totals[0] / totals[2], totals[1] / totals[2]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64,
                   help="global batch, split evenly over the ranks (default 64)")
    p.add_argument("--lr", type=float, default=0.05, help="SGD learning rate")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", default="runs/mpi_train/model.npz",
                   help="where rank 0 saves the final weights ('' to skip)")
    args = p.parse_args(argv)

    dist.init()
    rank, size = dist.rank(), dist.world_size()
    if args.batch_size % size:
        raise SystemExit(f"--batch-size {args.batch_size} cannot be split evenly over "
                         f"{size} ranks; use a multiple of {size}")
    local_batch = args.batch_size // size

    cr.manual_seed(args.seed + 1000 * rank)      # different on purpose: broadcast fixes it
    model = build_model(args.hidden)
    dist.broadcast_parameters(model)             # every rank starts from rank 0's weights
    opt = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    train, test = MNISTSample("train"), MNISTSample("test")
    # this rank's shard of the same seeded permutation on every rank
    loader = DataLoader(train, local_batch,
                        sampler=dist.DistributedSampler(train, shuffle=True, seed=args.seed))
    loss_fn = nn.SoftmaxCrossEntropy()

    if dist.is_main():
        print(f"{size} rank(s); global batch {args.batch_size} = {size} x {local_batch}; "
              f"{len(loader)} steps per epoch; {len(train)} training and {len(test)} test "
              f"images (MNIST sample)")
        print(f"{'epoch':>5} {'train loss':>10} {'train acc':>9} {'test loss':>9} "
              f"{'test acc':>8} {'seconds':>7} {'allreduce ms/step':>17}")
        # allreduce ms/step includes waiting for the slowest rank's backward pass
    for epoch in range(1, args.epochs + 1):
        loss_sum = correct = seen = 0.0
        comm_seconds = 0.0
        t0 = time.perf_counter()
        for x, y in loader:                      # this rank's shard of each global batch
            opt.zero_grad()
            logits = model(x)
            loss = loss_fn(logits, y)            # mean over the local batch
            loss.backward()
            t = time.perf_counter()
            dist.allreduce_gradients(model.parameters())   # mean over the ranks
            comm_seconds += time.perf_counter() - t
            opt.step()
            loss_sum += loss.item() * len(y)
            correct += float(np.count_nonzero(logits.data.argmax(axis=1) == y.data))
            seen += len(y)
        seconds = time.perf_counter() - t0
        totals = dist.allreduce_sum(np.array([loss_sum, correct, seen]))
        test_loss, test_acc = evaluate(model, test)
        seconds = dist.allreduce_mean(seconds)
        comm_ms = dist.allreduce_mean(comm_seconds) / len(loader) * 1e3
        if dist.is_main():
            print(f"{epoch:>5} {totals[0] / totals[2]:>10.4f} {totals[1] / totals[2]:>9.2%} "
                  f"{test_loss:>9.4f} {test_acc:>8.2%} {seconds:>7.2f} {comm_ms:>17.3f}",
                  flush=True)

    dist.check_synchronized(model)               # every rank holds the same weights
    if args.checkpoint and dist.is_main():
        path = Path(args.checkpoint)
        path.parent.mkdir(parents=True, exist_ok=True)
        cr.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                 "epochs": args.epochs, "world_size": size,
                 "config": {"hidden": args.hidden, "batch_size": args.batch_size,
                            "lr": args.lr, "momentum": args.momentum, "seed": args.seed}},
                path)
        print(f"saved {path} (rank 0 only)")


if __name__ == "__main__":
    main()
