"""Small ready-made models built from the layers, for the examples and the recipes.

``RowLSTMClassifier`` reads an image row by row (MNIST: 28 steps of 28 pixels) with an
:class:`~chainrule.nn.LSTM` and classifies it from the last hidden state.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._tensor import Tensor, wrap
from ..errors import ShapeError
from .layers import Linear
from .module import Module
from .recurrent import LSTM

__all__ = ["RowLSTMClassifier"]


class RowLSTMClassifier(Module):
    """Classify ``(N, rows*cols)`` or ``(N, rows, cols)`` images with an LSTM over rows.

    Parameters
    ----------
    rows, cols:
        The image's height (the time steps) and width (the features of each step);
        28 and 28 for MNIST.
    hidden_size, num_layers:
        Of the LSTM.
    num_classes:
        Outputs of the final ``Linear`` (logits; pair with ``F.cross_entropy``).
    dtype:
        Of the parameters (float32 by default).
    """

    def __init__(self, rows: int = 28, cols: int = 28, hidden_size: int = 128,
                 num_classes: int = 10, num_layers: int = 1, dtype: Any = np.float32) -> None:
        super().__init__()
        self.rows, self.cols = int(rows), int(cols)
        self.lstm = LSTM(self.cols, hidden_size, num_layers=num_layers, batch_first=True,
                         dtype=dtype)
        self.head = Linear(hidden_size, num_classes, dtype=dtype)

    def forward(self, x: Any) -> Tensor:
        """Logits ``(N, num_classes)`` from the last step's hidden state."""
        x = x if isinstance(x, Tensor) else wrap(np.asarray(x))
        if x.ndim == 2 and x.shape[1] == self.rows * self.cols:
            x = x.reshape((x.shape[0], self.rows, self.cols))
        if x.ndim != 3 or x.shape[1:] != (self.rows, self.cols):
            raise ShapeError(f"RowLSTMClassifier: expected images of shape (N, "
                             f"{self.rows * self.cols}) or (N, {self.rows}, {self.cols}), "
                             f"got {x.shape}")
        _, (h, _) = self.lstm(x)
        return self.head(h[-1])

    def extra_repr(self) -> str:
        return f"rows={self.rows}, cols={self.cols}"
