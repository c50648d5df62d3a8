"""Data-parallel ``chainrule train`` under ``mpiexec``: who this process is.

A launcher tells its processes their rank and the world's size through environment
variables (MPICH and Intel MPI's Hydra: ``PMI_SIZE``; Open MPI: ``OMPI_COMM_WORLD_SIZE``;
PMIx: ``PMIX_SIZE``... ; Slurm's ``srun``: ``SLURM_NTASKS``), so ``chainrule train``
run under one with more than one process trains data-parallel without a flag;
``--distributed`` asks for it explicitly (and fails clearly without MPI).
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["World", "launched_size", "open_world", "regroup"]

_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")


def launched_size(environ: Any = None) -> int:
    """The number of processes an MPI launcher started (1 when none did)."""
    env = os.environ if environ is None else environ
    for var in _SIZE_VARS:
        try:
            n = int(env.get(var, "1"))
        except ValueError:
            continue
        if n > 1:
            return n
    if "SLURM_PROCID" in env and env.get("SLURM_STEP_ID") is not None:
        try:
            return max(1, int(env.get("SLURM_NTASKS", "1")))
        except ValueError:
            return 1
    return 1


class World:
    """Rank, size and the ``chainrule.distributed`` module of a data-parallel run (or a
    world of one, where nothing is distributed)."""

    def __init__(self, dist: Any = None) -> None:
        self.dist = dist
        self.rank = dist.rank() if dist is not None else 0
        self.size = dist.world_size() if dist is not None else 1

    @property
    def main(self) -> bool:
        """Rank 0: the one that prints, and writes the run folder."""
        return self.rank == 0

    @property
    def agree_stop(self) -> Any:
        """The Trainer's stop agreement (None in a world of one)."""
        return _agree(self.dist) if self.dist is not None and self.size > 1 else None

    def reduce_metrics(self, loss_sum: float, correct: int, samples: int
                       ) -> tuple[float, int, int]:
        """An epoch's sums over every rank."""
        if self.dist is None:
            return loss_sum, correct, samples
        a, b, c = self.dist.allreduce_sum([loss_sum, float(correct), float(samples)])
        return float(a), round(b), round(c)


def _agree(dist: Any) -> Any:
    def agree_stop(stop: bool) -> bool:
        """Whether any rank was asked to stop (one tiny allreduce per step)."""
        return dist.allreduce_sum(1.0 if stop else 0.0) > 0
    return agree_stop


def open_world(force: bool) -> World:
    """The world of this run: MPI when a launcher started several processes (or
    ``force``), else a world of one."""
    if not force and launched_size() < 2:
        return World()
    import chainrule.distributed as dist

    dist.init()
    return World(dist) if dist.world_size() > 1 or force else World()


def regroup(checkpoint: dict[str, Any], loader: Any, config: dict[str, Any]
             ) -> dict[str, Any]:
    """An end-of-epoch checkpoint of N processes for this run's number: the next
    epoch's global order is the same seeded permutation whatever the number of
    processes, so only the loader's layout changes (its local batch and sampler)."""
    saved = checkpoint["loader"]
    seed = (saved.get("sampler") or {}).get("seed", saved.get("seed"))
    fresh = dict(loader.state_dict())
    fresh["epoch"], fresh["batch"] = saved["epoch"], 0
    if "sampler" in fresh:
        fresh["sampler"] = {**fresh["sampler"], "seed": seed}
    else:
        fresh["seed"] = seed
    return {**checkpoint, "loader": fresh, "config": config}
