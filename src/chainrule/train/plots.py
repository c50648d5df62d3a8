"""Figures of a run as PNG files: learning curves, confusion matrix, sample predictions,
and for a convolutional network its first layer's filters and one image's feature maps.

matplotlib is imported when a figure is drawn (``pip install chainrule[plot]``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_open
from .metrics import EpochResult

__all__ = ["plot_confusion", "plot_curves", "plot_feature_maps", "plot_filters", "plot_samples"]


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError("plotting needs matplotlib: pip install 'chainrule[plot]' "
                          "(or pass --no-plots to chainrule train)") from e
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    return plt


def _save_figure(fig: Any, path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    plt = _pyplot()
    try:
        with atomic_open(target, "wb") as f:
            fig.savefig(f, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return target


def plot_curves(history: Sequence[EpochResult], path: str | os.PathLike[str],
                title: str = "") -> Path:
    """Loss and accuracy per epoch, train and test, side by side, as a PNG."""
    if not history:
        raise ValueError("plot_curves: the history is empty (no finished epoch)")
    plt = _pyplot()
    ep = [r.epoch for r in history]
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(10, 4))
    ax_l.plot(ep, [r.train_loss for r in history], "o-", label="train")
    ax_l.plot(ep, [r.test_loss for r in history], "s-", label="test")
    ax_l.set_xlabel("epoch")
    ax_l.set_ylabel("loss (cross-entropy)")
    ax_l.set_title("loss")
    ax_l.legend()
    ax_l.grid(alpha=0.3)
    ax_a.plot(ep, [100 * r.train_acc for r in history], "o-", label="train")
    ax_a.plot(ep, [100 * r.test_acc for r in history], "s-", label="test")
    ax_a.set_xlabel("epoch")
    ax_a.set_ylabel("accuracy (%)")
    ax_a.set_title("accuracy")
    ax_a.legend()
    ax_a.grid(alpha=0.3)
    for ax in (ax_l, ax_a):
        ax.xaxis.get_major_locator().set_params(integer=True)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save_figure(fig, path)


def plot_confusion(cm: np.ndarray, classes: Sequence[str], path: str | os.PathLike[str],
                   title: str = "confusion matrix") -> Path:
    """The confusion matrix ``cm[true, predicted]`` as a PNG (colour: share of the row)."""
    cm = np.asarray(cm)
    k = len(classes)
    if cm.shape != (k, k):
        raise ValueError(f"plot_confusion: matrix of shape {cm.shape} for {k} classes")
    plt = _pyplot()
    rows = cm.sum(axis=1, keepdims=True)
    share = cm / np.maximum(rows, 1)
    size = max(5.0, 0.55 * k + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    ax.set_xticks(range(k), labels=list(classes), rotation=45 if max(map(len, classes)) > 2
                  else 0, ha="right" if max(map(len, classes)) > 2 else "center")
    ax.set_yticks(range(k), labels=list(classes))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    acc = np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(f"{title} (accuracy {100 * acc:.2f}%)")
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=8,
                        color="white" if share[i, j] > 0.5 else "black")
    fig.tight_layout()
    return _save_figure(fig, path)


def plot_samples(images: np.ndarray, predictions: np.ndarray, targets: np.ndarray,
                 classes: Sequence[str], path: str | os.PathLike[str], *,
                 count: int = 40, columns: int = 10, indices: np.ndarray | None = None,
                 title: str = "") -> Path:
    """A grid of test images titled ``predicted/true``; wrong predictions in red.

    ``images`` are the flattened (or 2-D) images of the test set, in the order of
    ``predictions``. Without ``indices``, the grid shows the first ``count`` images,
    with up to a quarter of the slots given to misclassified images from further on,
    so that mistakes are visible.
    """
    images = np.asarray(images)
    n = len(predictions)
    if len(images) != n or len(targets) != n:
        raise ValueError(f"plot_samples: {len(images)} images, {n} predictions and "
                         f"{len(targets)} targets; they must match")
    if indices is None:
        count = min(count, n)
        wrong = np.flatnonzero(predictions != targets)
        n_wrong = min(count // 4, int(np.count_nonzero(wrong >= count - count // 4)))
        head = count - n_wrong
        extra = wrong[wrong >= head][:n_wrong]
        indices = np.concatenate([np.arange(head), extra]).astype(np.int64)
        if len(extra) and not title:
            title = (f"test images {1}-{head}, then {len(extra)} misclassified ones from "
                     f"further on: predicted/true (wrong in red)")
    side = round(math.sqrt(images[0].size))
    plt = _pyplot()
    rows = -(-len(indices) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.2 * columns, 1.45 * rows),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), indices):
        ax.imshow(images[i].reshape(side, side), cmap="gray_r")
        ok = predictions[i] == targets[i]
        ax.set_title(f"{classes[predictions[i]]}/{classes[targets[i]]}", fontsize=8,
                     color="black" if ok else "red")
    fig.suptitle(title or "test images: predicted/true (wrong in red)", fontsize=10)
    fig.tight_layout()
    return _save_figure(fig, path)


def _grid(n: int, columns: int) -> tuple[int, int]:
    columns = max(1, min(columns, n))
    return -(-n // columns), columns


def plot_filters(weight: np.ndarray, path: str | os.PathLike[str], *, columns: int = 8,
                 title: str = "") -> Path:
    """The filters of a convolution layer, ``weight`` ``(C_out, C_in, kh, kw)``, one
    tile each (the input channels averaged), as *Deep Learning from Scratch*'s figure
    7-24: each tile on its own grey scale, dark = large weight, so that edge and blob
    detectors show after training."""
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 4:
        raise ValueError(f"plot_filters: expected a (C_out, C_in, kh, kw) weight, got shape "
                         f"{w.shape}")
    tiles = w.mean(axis=1)
    plt = _pyplot()
    rows, cols = _grid(len(tiles), columns)
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols, 1.1 * rows + 0.5), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, (ax, t) in enumerate(zip(axes.ravel(), tiles)):
        ax.imshow(t, cmap="gray_r", interpolation="nearest")
        ax.set_title(str(k), fontsize=7)
    fig.suptitle(title or f"first layer's {len(tiles)} filters ({w.shape[2]}x{w.shape[3]})",
                 fontsize=10)
    fig.tight_layout()
    return _save_figure(fig, path)


def plot_feature_maps(image: np.ndarray, stages: Sequence[tuple[str, np.ndarray]],
                      path: str | os.PathLike[str], *, columns: int = 8,
                      title: str = "") -> Path:
    """One input image and what the network makes of it: for each named stage a
    ``(C, H, W)`` array of feature maps, one tile per channel (as the book's figure
    7-26 shows the activations of the layers)."""
    image = np.asarray(image, dtype=np.float64)
    side = round(math.sqrt(image.size))
    plt = _pyplot()
    layout = [_grid(len(m), columns) for _, m in stages]
    cols = max([c for _, c in layout] + [1])
    rows = 1 + sum(r for r, _ in layout)
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols, 1.15 * rows + 0.4),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    axes[0, 0].imshow(image.reshape(side, side) if image.ndim < 3 else image[0],
                      cmap="gray_r")
    axes[0, 0].set_title("input", fontsize=7)
    row = 1
    for (name, maps), (r, _) in zip(stages, layout):
        for k, m in enumerate(np.asarray(maps, dtype=np.float64)):
            ax = axes[row + k // cols, k % cols]
            ax.imshow(m, cmap="viridis", interpolation="nearest")
            ax.set_title(f"{name} {k}" if k == 0 else str(k), fontsize=7)
        row += r
    fig.suptitle(title or "feature maps of one test image", fontsize=10)
    fig.tight_layout()
    return _save_figure(fig, path)
