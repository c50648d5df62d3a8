"""Linear algebra, as ``np.linalg`` names it: ``cr.linalg.inv``, ``det``, ``solve``,
``norm``, ``vector_norm``, ``matmul`` (each differentiable; NumPy's ``np.linalg.*`` on a
tensor runs the same gate)."""

from __future__ import annotations

from .ops.linalg import det, inv, matmul, norm, solve, vector_norm

__all__ = ["det", "inv", "matmul", "norm", "solve", "vector_norm"]
