"""The global random generator behind everything random in chainrule.

Weight initialisation, dropout masks and data shuffling draw from one NumPy
:class:`numpy.random.Generator`, returned by :func:`get_rng`. :func:`manual_seed`
reseeds it, which makes a whole run reproducible::

    cr.manual_seed(0)
    model = build_model()            # same initial weights every time
    loader = DataLoader(ds, 64, shuffle=True)   # same batch order every time

The generator object never changes identity: ``manual_seed`` and :func:`set_rng_state`
rewind it in place, so a reference obtained earlier from :func:`get_rng` stays valid.
Until the first ``manual_seed`` it is seeded from the operating system's entropy.

The legacy global ``np.random`` state is neither used nor touched.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._check import is_int

__all__ = ["get_rng", "get_rng_state", "initial_seed", "manual_seed", "set_rng_state"]

_seed: int = int(np.random.SeedSequence().entropy)  # 128 bits from the OS
_rng: np.random.Generator = np.random.default_rng(_seed)


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator; the same seed gives the same random numbers.

    Parameters
    ----------
    seed:
        A non-negative integer (any size).

    Returns
    -------
    numpy.random.Generator
        The global generator (the same object :func:`get_rng` returns).
    """
    global _seed
    if not is_int(seed):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"manual_seed: seed must be non-negative, got {seed}")
    _seed = int(seed)
    fresh = np.random.default_rng(_seed).bit_generator.state
    _rng.bit_generator.state = fresh
    return _rng


def get_rng() -> np.random.Generator:
    """The global generator; draw from it for anything that should follow ``manual_seed``."""
    return _rng


def initial_seed() -> int:
    """The seed last given to :func:`manual_seed` (or drawn from OS entropy at import)."""
    return _seed


def get_rng_state() -> dict[str, Any]:
    """A snapshot of the generator's state, for checkpoints (``cr.save`` can store it)."""
    return _rng.bit_generator.state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore a snapshot taken with :func:`get_rng_state` (exact resume of a run)."""
    _rng.bit_generator.state = state
