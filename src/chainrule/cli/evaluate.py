"""``chainrule evaluate CHECKPOINT``: score a checkpoint written by ``chainrule train``.

Rebuilds the model the checkpoint describes, loads its weights (checking every name
and shape) and reports the loss, the accuracy and the accuracy per class on the test
split of the dataset it was trained on, or on another one given with ``--dataset``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from ._args import add_dataset_options, positive_int


def register(subparsers: Any) -> None:
    """Add the ``evaluate`` subcommand."""
    p = subparsers.add_parser(
        "evaluate", help="score a checkpoint: loss, accuracy, per-class accuracy",
        description=__doc__.replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="a checkpoint.npz written by `chainrule train`")
    add_dataset_options(
        p, dataset_help="data to score on (default: what the checkpoint was trained on)",
        data_dir_help="directory holding mnist/ and fashion-mnist/ (default: the one used "
                      "for training, else $CHAINRULE_DATA or ~/.cache/chainrule/datasets)")
    p.add_argument("--split", choices=("test", "train"), default="test",
                   help="which split to score (default test)")
    p.add_argument("--batch-size", type=positive_int, default=1000,
                   help="samples per forward pass (default 1000; only speed and memory "
                        "depend on it)")
    p.add_argument("--json", action="store_true",
                   help="print the result as JSON instead of a table")
    p.set_defaults(func=run)


def _err(msg: str) -> int:
    print(f"chainrule evaluate: error: {msg}", file=sys.stderr)
    return 1


def run(args: argparse.Namespace) -> int:
    """Entry point of ``chainrule evaluate`` (returns the exit code)."""
    import numpy as np

    from ..data import DataLoader, load_dataset
    from ..errors import ChainruleError
    from ..train import evaluate, load_checkpoint, model_from_config
    from .train import model_loss

    if args.batch_size < 1:
        return _err(f"--batch-size must be a positive integer, got {args.batch_size}")
    try:
        try:
            ckpt = load_checkpoint(args.checkpoint)
        except FileNotFoundError:
            return _err(f"no such checkpoint file: {args.checkpoint}")
        except IsADirectoryError:
            return _err(f"{args.checkpoint} is a directory; pass the checkpoint file in it "
                        f"(e.g. {args.checkpoint.rstrip('/')}/checkpoint.npz)")
        config = ckpt.get("config") or {}
        model = model_from_config(config, args.checkpoint)
        model.load_state_dict(ckpt["model"])
        dtype = np.dtype(str(config["dtype"]))
        name = args.dataset or config.get("dataset_resolved") or config.get("dataset")
        if name is None:
            return _err(f"{args.checkpoint} does not say what it was trained on; pass "
                        f"--dataset")
        root = args.data_dir if args.data_dir is not None else config.get("data_dir")
        data, about = load_dataset(name, args.split, root=root,
                                   allow_sample=args.dataset is not None, dtype=dtype)
        sizes = [int(s) for s in config["sizes"]]
        n_in = int(np.prod(data.x.shape[1:]))
        wants = int(np.prod(config["image_shape"])) if config.get("model") in ("cnn", "lstm") \
            else sizes[0]
        if n_in != wants:
            return _err(f"the model takes {wants} inputs but {about.split(':')[0]} has "
                        f"{n_in} values per sample")
        if data.y.size and int(data.y.max()) >= sizes[-1]:
            return _err(f"the data has labels up to {int(data.y.max())} but the model has "
                        f"only {sizes[-1]} outputs")
        ev = evaluate(model, model_loss(), DataLoader(data, args.batch_size),
                      num_classes=sizes[-1])
    except ChainruleError as e:
        return _err(str(e))

    classes = list(getattr(data, "classes", None) or config.get("classes")
                   or [str(i) for i in range(sizes[-1])])
    per_class = ev.per_class_accuracy()
    support = ev.support()
    correct = np.diag(ev.confusion_matrix())
    prog = ckpt["progress"]
    epochs_done = int(prog["epoch"])
    where = (f"after epoch {epochs_done}" if not prog["batch"] else
             f"in epoch {epochs_done + 1}, after batch {prog['batch']}")
    if args.json:
        # JSON has no NaN or infinity: a loss that is not finite (a model whose weights
        # hold NaN) is null, and allow_nan=False makes sure nothing else slips through.
        print(json.dumps({
            "checkpoint": args.checkpoint, "data": about, "split": args.split,
            "samples": ev.num_samples, "loss": _number(ev.loss),
            "accuracy": _number(ev.accuracy),
            "per_class": [{"class": c, "samples": int(n), "correct": int(k),
                           "accuracy": _number(a)}
                          for c, n, k, a in zip(classes, support, correct, per_class)],
        }, indent=2, allow_nan=False))
        return 0
    print(f"checkpoint: {args.checkpoint} ({where}; MLP "
          f"{'-'.join(map(str, sizes))}, {config.get('activation')})")
    print(f"data: {about}")
    print(f"loss {ev.loss:.4f}   accuracy {100 * ev.accuracy:.2f}% "
          f"({int(correct.sum()):,}/{ev.num_samples:,})")
    width = max(5, *(len(c) for c in classes))
    print(f"\n{'class':<{width}}  samples  correct  accuracy")
    for c, n, k, a in zip(classes, support, correct, per_class):
        acc = "-" if np.isnan(a) else f"{100 * a:.2f}%"
        print(f"{c:<{width}}  {int(n):7d}  {int(k):7d}  {acc:>8s}")
    return 0


def _number(x: Any) -> float | None:
    """A float for JSON, or None (null) if it is NaN or infinite."""
    x = float(x)
    return x if math.isfinite(x) else None
