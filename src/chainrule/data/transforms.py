"""Data augmentation for image batches."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import random as _random
from .._tensor import Tensor, from_numpy

__all__ = ["RandomShift"]


class RandomShift:
    """Data augmentation: move each image by a random whole number of pixels.

    Every image of the batch is shifted independently by ``dy, dx`` drawn uniformly
    from ``-max_shift..max_shift`` (the uncovered border is filled with 0, the
    background of MNIST-like images). Draws come from :func:`chainrule.random.get_rng`,
    so runs are reproducible and resuming from a checkpoint is exact.

    Parameters
    ----------
    max_shift:
        Largest shift in pixels (0 turns the augmentation off).
    image_shape:
        ``(height, width)`` of the images; inputs may be flat ``(N, H*W)`` rows or
        ``(N, H, W)``/``(N, 1, H, W)`` arrays or Tensors, and keep their shape.
    """

    def __init__(self, max_shift: int = 2, image_shape: tuple[int, int] = (28, 28)) -> None:
        if isinstance(max_shift, bool) or not isinstance(max_shift, (int, np.integer)) \
                or max_shift < 0:
            raise ValueError(f"RandomShift: max_shift must be an int >= 0, got {max_shift!r}")
        h, w = (int(v) for v in image_shape)
        if max_shift >= min(h, w):
            raise ValueError(f"RandomShift: max_shift {max_shift} is not smaller than the "
                             f"image size {h}x{w}")
        self.max_shift = int(max_shift)
        self.image_shape = (h, w)
        self._rows = np.arange(h)[None, :, None]
        self._cols = np.arange(w)[None, None, :]

    def __call__(self, x: Any) -> Any:
        """The shifted batch (a new Tensor for a Tensor input, else an ndarray)."""
        arr = x.data if isinstance(x, Tensor) else np.asarray(x)
        h, w = self.image_shape
        if arr.ndim < 2 or math.prod(arr.shape[1:]) != h * w:
            raise ValueError(f"RandomShift: expected a batch of {h}x{w} images (shape "
                             f"(N, {h * w}) or (N, {h}, {w})), got shape {arr.shape}")
        k = self.max_shift
        if k == 0:
            return x
        n = arr.shape[0]
        padded = np.zeros((n, h + 2 * k, w + 2 * k), dtype=arr.dtype)
        padded[:, k:k + h, k:k + w] = arr.reshape(n, h, w)
        rng = _random.get_rng()
        dy = rng.integers(0, 2 * k + 1, size=n)[:, None, None]
        dx = rng.integers(0, 2 * k + 1, size=n)[:, None, None]
        out = padded[np.arange(n)[:, None, None], dy + self._rows, dx + self._cols]
        out = out.reshape(arr.shape)
        return from_numpy(out) if isinstance(x, Tensor) else out

    def __repr__(self) -> str:
        return f"RandomShift(max_shift={self.max_shift}, image_shape={self.image_shape})"

