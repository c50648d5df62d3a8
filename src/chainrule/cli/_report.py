"""What ``chainrule train`` says about a run: the model and optimizer in words, and the
run folder's figures (curves, confusion matrix, samples; for a CNN its filters and one
image's feature maps)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

__all__ = ["describe_model", "describe_optim", "plots"]


def describe_model(config: dict[str, Any], n_params: int) -> str:
    sizes = "-".join(map(str, config["sizes"]))
    extra = f", dropout {config['dropout']}" if config.get("dropout") else ""
    if config.get("model") == "lstm":
        h = config["sizes"][1:-1]
        return (f"LSTM over rows ({config['image_shape'][1]} steps of {config['sizes'][0]} "
                f"pixels), {len(h)} layer{'s' if len(h) > 1 else ''} of {h[0]}, then "
                f"Linear to {config['sizes'][-1]}; {n_params:,} parameters, {config['dtype']}")
    if config.get("model") == "cnn":
        k = config["kernel_size"]
        blocks = " ".join(f"[conv {k}x{k} {c}, pool 2]" for c in config["channels"])
        return (f"CNN {blocks} then {sizes} ({config['activation']}{extra}), "
                f"{n_params:,} parameters, {config['dtype']}")
    return (f"MLP {sizes} ({config['activation']}{extra}), {n_params:,} parameters, "
            f"{config['dtype']}")


def describe_optim(config: dict[str, Any]) -> str:
    wd = f", weight decay {config['weight_decay']:g}" if config.get("weight_decay") else ""
    sched = "" if config["lr_schedule"] == "none" else f" ({config['lr_schedule']} schedule)"
    return f"{config['optimizer']} lr {config['lr']:g}{sched}{wd}"


# ---------------------------------------------------------------------- the command


def _cnn_plots(out_dir: Path, model: Any, test_set: Any) -> None:
    """The book's figures: the first convolution's filters, and the feature maps of the
    first test image after each convolution block (ReLU applied)."""
    from .. import nn
    from ..autograd import no_grad
    from ..train import plot_feature_maps, plot_filters

    convs = [m for m in model if isinstance(m, nn.Conv2d)]
    plot_filters(convs[0].weight.data, out_dir / "filters.png")
    stages, x = [], test_set.x[:1]
    with no_grad():
        for layer in model:
            x = layer(x)
            if isinstance(layer, nn.ReLU) and x.ndim == 4:
                stages.append((f"block {len(stages) + 1}", x.data[0]))
    plot_feature_maps(test_set.x[0], stages, out_dir / "feature_maps.png")


def plots(out_dir: Path, history: list[Any], ev: Any, test_set: Any,
           config: dict[str, Any], model: Any = None) -> str:
    """Draw the three PNGs; returns a note for the final line (empty if all is well)."""
    from ..train import plot_confusion, plot_curves, plot_samples
    classes = config.get("classes") or [str(i) for i in range(ev.num_classes)]
    short = [c.split("/")[0] for c in classes]
    kind = str(config.get("model", "mlp")).upper()
    title = (f"{getattr(test_set, 'title', type(test_set).__name__)}, {kind} "
             + "-".join(map(str, config["sizes"])))
    try:
        if history:
            plot_curves(history, out_dir / "curves.png", title=title)
        plot_confusion(ev.confusion_matrix(), short, out_dir / "confusion.png",
                       title=f"confusion matrix, {len(ev.targets):,} test images")
        plot_samples(test_set.x, ev.predictions, ev.targets, short, out_dir / "samples.png")
        if kind == "CNN":
            _cnn_plots(out_dir, model, test_set)
    except ImportError as e:
        print(f"chainrule train: plots skipped: {e}", file=sys.stderr)
        return " (no plots: matplotlib missing)"
    return ""
