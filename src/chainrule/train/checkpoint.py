"""Training checkpoints: the format constants, reading and validating a checkpoint."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

import numpy as np

from ..serialization import CheckpointError, load
from .metrics import EpochResult

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "load_checkpoint",
           "validate_checkpoint"]

#: ``format`` entry of every training checkpoint (checked when loading).
CHECKPOINT_FORMAT = "chainrule.train-checkpoint"
CHECKPOINT_VERSION = 1
_REQUIRED_KEYS = ("format", "version", "model", "optimizer", "progress", "loader", "rng",
                  "running", "history")


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a checkpoint written by :class:`Trainer`.

    Raises ``FileNotFoundError`` if there is no such file and
    :class:`~chainrule.serialization.CheckpointError` (a ``ValueError``) if it is not a
    chainrule file, is damaged, or is a chainrule file without the entries of a
    training checkpoint (e.g. a bare state dict); the message says which.
    """
    obj = load(path)
    return validate_checkpoint(obj, path)


def validate_checkpoint(obj: Any, path: str | os.PathLike[str] = "checkpoint"
                        ) -> dict[str, Any]:
    """Check that ``obj`` (what :func:`chainrule.load` returned) is a training checkpoint."""
    where = os.fspath(path)
    if not isinstance(obj, dict):
        raise CheckpointError(f"{where}: not a training checkpoint (it holds a "
                              f"{type(obj).__name__}, not a dict)")
    if obj.get("format") != CHECKPOINT_FORMAT:
        keys = ", ".join(map(str, list(obj)[:6]))
        hint = (" It looks like a bare state dict: load it with "
                "model.load_state_dict(cr.load(path)).") if obj and all(
            isinstance(v, np.ndarray) for v in obj.values()) else ""
        raise CheckpointError(f"{where}: not a training checkpoint: no "
                              f"format={CHECKPOINT_FORMAT!r} entry (top-level keys: "
                              f"{keys or 'none'}).{hint}")
    version = obj.get("version")
    if not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise CheckpointError(f"{where}: training checkpoint version {version!r} is not "
                              f"supported (this chainrule reads up to {CHECKPOINT_VERSION})")
    missing = [k for k in _REQUIRED_KEYS if k not in obj]
    if missing:
        raise CheckpointError(f"{where}: training checkpoint is missing "
                              f"{', '.join(map(repr, missing))}")
    prog = obj["progress"]
    if not isinstance(prog, dict) or not all(isinstance(prog.get(k), int)
                                             for k in ("epoch", "batch")):
        raise CheckpointError(f"{where}: bad 'progress' entry {prog!r}; expected "
                              f"{{'epoch': int, 'batch': int, ...}}")
    if not isinstance(obj["model"], dict) or not obj["model"]:
        raise CheckpointError(f"{where}: the 'model' entry is not a state dict")
    if not isinstance(obj["history"], list):
        raise CheckpointError(f"{where}: the 'history' entry is not a list")
    return obj


def _result_from(d: Mapping[str, Any], where: str) -> EpochResult:
    names = [f.name for f in fields(EpochResult)]
    try:
        kw = {n: d[n] for n in names}
        kw["epoch"] = int(kw["epoch"])
        for n in names[1:]:
            kw[n] = float(kw[n])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{where}: bad history row {d!r}: {e}") from e
    return EpochResult(**kw)

