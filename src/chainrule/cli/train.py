"""``chainrule train``: train an MLP or a CNN on MNIST, Fashion-MNIST or the embedded
sample.

With no options it trains a 784-256-256-10 ReLU network with Adam on MNIST: the full
60,000 images when they are on disk, otherwise the 5,000-digit sample shipped inside
chainrule (it says which). It shows a progress bar, prints a table row per epoch and
writes a run folder::

    runs/20250101-120000/
        config.json      every setting, the data used, versions
        metrics.csv      epoch, train/test loss and accuracy, time, lr
        checkpoint.npz   weights, optimizer, position in the data, RNG (after each epoch)
        curves.png       loss and accuracy per epoch
        confusion.png    confusion matrix on the test set
        samples.png      test images with predicted/true labels (wrong ones in red)
        filters.png      --model cnn: the first convolution's learned filters
        feature_maps.png --model cnn: one test image through the convolution blocks

``--model cnn`` trains a LeNet-style network instead: blocks of a 3x3 convolution, ReLU
and 2x2 max pooling (``--channels 16 32``: two blocks), then a hidden layer of 128
(``--hidden``) and the output layer. ``--model lstm`` reads each image row by row (28
steps of 28 pixels) with an LSTM of ``--hidden 128`` units (give the size twice for two
layers) and classifies its last state.

The process keeps freed memory for reuse (``cr.retain_freed_memory``), so that each
step does not fault in fresh pages. Ctrl-C stops after the current step and saves the
checkpoint;
``chainrule train --resume runs/.../checkpoint.npz`` continues and ends with exactly
the weights of an uninterrupted run.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

from ._args import (
    add_dataset_options,
    fraction,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    thread_count,
)

#: Defaults of every option that shapes the run (``None`` in argparse means "not
#: given", so that ``--resume`` can tell what the user asked to change).
DEFAULTS: dict[str, Any] = {
    "dataset": "mnist",
    "model": "mlp",
    "hidden": [256, 256],
    "channels": [16, 32],
    "kernel_size": 3,
    "activation": "relu",
    "dropout": 0.0,
    "optimizer": "adam",
    "lr": None,              # None: the optimizer's default (chainrule.train.DEFAULT_LR)
    "weight_decay": None,    # None: the optimizer's default (adamw 0.01, the others 0)
    "lr_schedule": "cosine",
    "shift": None,           # None: 2 on the 4,000-image sample, 0 on full datasets
    "epochs": 30,
    "batch_size": 64,
    "seed": 0,
    "dtype": "float32",
    "threads": 1,
}
#: What differs for ``--model cnn``: its linear part after the convolution blocks.
CNN_HIDDEN = [128]
#: The LSTM's hidden size (one entry per layer, all equal), and its Adam learning rate
#: (3e-3 reaches 97.8% on the sample in 20 epochs; Adam's usual 1e-3, 92.6% in 12).
LSTM_HIDDEN = [128]
LSTM_ADAM_LR = 3e-3
#: Options only a CNN has.
CNN_ONLY = ("channels", "kernel_size")
#: Options a resumed run may change (everything else must match the checkpoint).
RESUMABLE_OVERRIDES = ("epochs",)
EVAL_BATCH = 1000
FILES = ("config.json", "metrics.csv", "checkpoint.npz", "curves.png", "confusion.png",
         "samples.png")
CNN_FILES = ("filters.png", "feature_maps.png")


def register(subparsers: Any) -> None:
    """Add the ``train`` subcommand."""
    from ..train import ACTIVATIONS, DEFAULT_LR, MODELS, OPTIMIZERS

    d = DEFAULTS
    p = subparsers.add_parser(
        "train", help="train an MLP or a CNN on MNIST / Fashion-MNIST, with plots and "
                      "checkpoints",
        description=__doc__.replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    data = p.add_argument_group("data")
    add_dataset_options(
        data, dataset_help=f"what to train on (default {d['dataset']}: the full MNIST if "
                           f"its files are found, else the embedded 5,000-digit sample)",
        data_dir_help="directory holding mnist/ and fashion-mnist/ (default "
                      "$CHAINRULE_DATA, else ~/.cache/chainrule/datasets; "
                      "Fashion-MNIST is also found in /usr/share/datasets)")
    data.add_argument("--download", action="store_true",
                      help="download missing dataset files (SHA-256 checked)")
    data.add_argument("--shift", type=non_negative_int, default=None, metavar="PIXELS",
                      help="augment training images with random shifts of up to PIXELS "
                           "(default: 2 on the 4,000-image MNIST sample, where it is worth "
                           "about 3 points of test accuracy; 0 on the 60,000-image "
                           "datasets)")
    model = p.add_argument_group("model")
    model.add_argument("--model", choices=MODELS, default=None,
                       help=f"mlp: fully connected layers; cnn: convolution blocks, then "
                            f"fully connected layers; lstm: an LSTM reading the image row by "
                            f"row (default {d['model']})")
    model.add_argument("--hidden", type=positive_int, nargs="+", default=None,
                       metavar="N", help=f"hidden layer sizes (default "
                                         f"{' '.join(map(str, d['hidden']))}; with --model "
                                         f"cnn: {' '.join(map(str, CNN_HIDDEN))}, after the "
                                         f"convolution blocks; with --model lstm: the LSTM's "
                                         f"size, once per layer, default "
                                         f"{' '.join(map(str, LSTM_HIDDEN))})")
    model.add_argument("--channels", type=positive_int, nargs="+", default=None,
                       metavar="C", help=f"--model cnn: output channels of each convolution "
                                         f"block, each followed by ReLU and 2x2 max pooling "
                                         f"(default {' '.join(map(str, d['channels']))})")
    model.add_argument("--kernel-size", type=positive_int, default=None, metavar="K",
                       help=f"--model cnn: odd size of the square filters (default "
                            f"{d['kernel_size']}; padded to keep the image size)")
    model.add_argument("--activation", choices=ACTIVATIONS, default=None,
                       help=f"activation of the hidden layers (default {d['activation']})")
    model.add_argument("--dropout", type=fraction, default=None, metavar="P",
                       help=f"dropout after each hidden layer (default {d['dropout']})")
    model.add_argument("--dtype", choices=("float32", "float64"), default=None,
                       help=f"dtype of weights and data (default {d['dtype']})")
    opt = p.add_argument_group("optimization")
    lrs = ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items())
    opt.add_argument("--optimizer", choices=OPTIMIZERS, default=None,
                     help=f"update rule (default {d['optimizer']}; momentum/nesterov are "
                          f"SGD with momentum 0.9)")
    opt.add_argument("--lr", type=positive_float, default=None,
                     help=f"learning rate (default per optimizer: {lrs}; with --model lstm, "
                          f"adam/adamw {LSTM_ADAM_LR:g})")
    opt.add_argument("--lr-schedule", choices=("cosine", "step", "none"), default=None,
                     help=f"learning-rate schedule over the epochs (default "
                          f"{d['lr_schedule']}; step: x0.1 after each third of the epochs)")
    opt.add_argument("--weight-decay", type=non_negative_float, default=None,
                     metavar="WD", help="L2 weight decay (default 0; adamw: 0.01)")
    opt.add_argument("--epochs", type=non_negative_int, default=None,
                     help=f"number of epochs (default {d['epochs']}; with --resume: the "
                          f"total to reach, which can differ from the saved run's only "
                          f"with --lr-schedule none, since cosine and step schedules are "
                          f"planned over the run's length)")
    opt.add_argument("--batch-size", type=positive_int, default=None,
                     help=f"minibatch size (default {d['batch_size']})")
    opt.add_argument("--seed", type=non_negative_int, default=None,
                     help=f"random seed of weights, shuffling and augmentation (default "
                          f"{d['seed']})")
    opt.add_argument("--distributed", action="store_true",
                     help="train data-parallel over MPI (automatic under mpiexec/srun with "
                          "more than one process): each rank takes batch-size/N samples of "
                          "every global batch, gradients are averaged, rank 0 prints and "
                          "writes the run folder")
    opt.add_argument("--threads", type=thread_count, default=None,
                     help=f"BLAS threads for the matrix products (default {d['threads']}: "
                          f"an MLP's products are small, and on a busy machine extra BLAS "
                          f"threads waiting for a core slow training down many times; 0 "
                          f"leaves NumPy's setting)")
    out = p.add_argument_group("output")
    out.add_argument("--out", metavar="DIR", default=None,
                     help="run folder (default runs/<timestamp>; with --resume: the "
                          "checkpoint's folder)")
    out.add_argument("--resume", metavar="CHECKPOINT", default=None,
                     help="continue the run saved in CHECKPOINT (its settings are used)")
    out.add_argument("--no-plots", action="store_true",
                     help="do not draw curves.png, confusion.png and samples.png")
    out.add_argument("--quiet", action="store_true",
                     help="no progress bar and no table: print only the final result")
    p.set_defaults(func=run)


# ---------------------------------------------------------------------- helpers
def _err(msg: str) -> int:
    print(f"chainrule train: error: {msg}", file=sys.stderr)
    return 1


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The run-shaping options the user actually passed."""
    return {k: getattr(args, k) for k in DEFAULTS if getattr(args, k) is not None}


def _new_run_dir(base: Path) -> Path:
    """Create the run folder ``base/<timestamp>`` now, atomically and exclusively: two
    runs started in the same second get ``<timestamp>`` and ``<timestamp>-1``."""
    from .._io import exclusive_dir
    return exclusive_dir(base, _dt.datetime.now().strftime("%Y%m%d-%H%M%S"))


def _write_json(path: Path, obj: Any) -> None:
    from .._io import atomic_open
    with atomic_open(path, "w") as f:
        f.write(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def _load_data(config: dict[str, Any], dtype: Any, download: bool,
               exact: bool) -> tuple[Any, Any, str]:
    """(train set, test set, description). ``exact``: load what a checkpoint used."""
    from ..data import load_dataset
    name = config["dataset_resolved"] if exact else config["dataset"]
    root = config.get("data_dir")
    # --download means "get the real dataset": if that fails, say so and stop, rather
    # than quietly training on the embedded sample.
    train, about = load_dataset(name, "train", root=root,
                                allow_sample=not exact and not download,
                                download=download, dtype=dtype)
    test, _ = load_dataset("mnist-sample" if type(train).__name__ == "MNISTSample"
                           else name, "test", root=root, allow_sample=False,
                           download=download, dtype=dtype)
    return train, test, about


def _resolved_name(config: dict[str, Any], train: Any) -> str:
    if type(train).__name__ == "MNISTSample":
        return "mnist-sample"
    return config["dataset"]


def _make_scheduler(name: str, optimizer: Any, epochs: int) -> Any:
    from .. import optim
    if name == "none" or epochs == 0:
        return None
    if name == "cosine":
        return optim.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    # step: x0.1 after each third of the epochs
    return optim.StepLR(optimizer, step_size=max(epochs // 3, 1), gamma=0.1)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``chainrule train`` (returns the exit code)."""
    import numpy as np

    from .. import random as cr_random
    from .._malloc import retain_freed_memory
    from .._version import __version__
    from ..data import DataLoader, DatasetNotFoundError
    from ..errors import ChainruleError
    from ..serialization import CheckpointError
    from ..train import (
        DEFAULT_LR,
        CSVLogger,
        EpochTable,
        ProgressBar,
        RandomShift,
        Trainer,
        TrainingInterrupted,
        blas_threads,
        evaluate,
        load_checkpoint,
        make_optimizer,
        model_from_config,
    )
    from ._report import describe_model, describe_optim, plots
    from ._world import open_world, regroup

    try:
        world = open_world(bool(getattr(args, "distributed", False)))
    except ChainruleError as e:
        return _err(str(e))
    quiet = args.quiet or not world.main
    say = (lambda *a, **k: None) if quiet else print
    given = _given(args)
    checkpoint = None
    try:
        if args.resume is not None:
            try:
                checkpoint = load_checkpoint(args.resume)
            except FileNotFoundError:
                return _err(f"--resume: no such checkpoint file: {args.resume}")
            config = dict(checkpoint.get("config") or {})
            needed = ("sizes", "activation", "dtype", "optimizer", "lr", "lr_schedule",
                      "batch_size", "seed", "epochs", "dataset", "dataset_resolved")
            lacking = [k for k in needed if k not in config]
            if lacking:
                return _err(f"--resume: {args.resume} was not written by `chainrule train` "
                            f"(its config lacks {', '.join(lacking)}); resume it from the "
                            f"script that wrote it, with Trainer.load_state_dict")
            conflicts = []
            for k, v in given.items():
                if k in RESUMABLE_OVERRIDES:
                    continue
                saved = config.get(k)
                if k == "hidden":
                    saved = list(config["sizes"][1:-1])
                    v = list(v)
                if k == "model":
                    saved = config.get("model", "mlp")
                if k == "channels":
                    v = list(v)
                if k == "dataset" and v in (config["dataset"], config["dataset_resolved"]):
                    continue
                if saved != v:
                    conflicts.append(f"--{k.replace('_', '-')} {v} (the checkpoint has "
                                     f"{saved})")
            if conflicts:
                return _err("--resume continues the saved run with its own settings; these "
                            "options differ from it: " + "; ".join(conflicts) + ". Drop "
                            "them, or start a new run without --resume.")
            if args.epochs is not None and args.epochs != config["epochs"]:
                if config["lr_schedule"] != "none":
                    return _err(f"--epochs {args.epochs}: the run uses a "
                                f"{config['lr_schedule']} learning-rate schedule planned "
                                f"for {config['epochs']} epochs, so its length cannot "
                                f"change on resume; start a new run instead")
                config["epochs"] = args.epochs
            before = int(config.get("processes", 1))
            if before != world.size:
                if not checkpoint["progress"]["complete"]:
                    return _err(f"--resume: {args.resume} was saved in the middle of an epoch "
                                f"by {before} process(es) and this run has {world.size}; "
                                f"resume it with the same number (mpiexec -n {before}), or "
                                f"from an end-of-epoch checkpoint")
                if config["batch_size"] % world.size:
                    return _err(f"--resume: the run's global batch {config['batch_size']} "
                                f"does not split over {world.size} processes")
                config["processes"] = world.size
            if args.data_dir is not None:
                config["data_dir"] = args.data_dir
            out_dir = Path(args.out) if args.out else Path(args.resume).resolve().parent
        else:
            config = {**DEFAULTS, **given}
            if config["model"] == "cnn":
                config["hidden"] = list(given.get("hidden", CNN_HIDDEN))
                config["channels"] = list(config["channels"])
                if config["kernel_size"] % 2 == 0:
                    return _err(f"--kernel-size {config['kernel_size']}: use an odd size, "
                                f"so that padding keeps the image size")
            else:
                stray = [f"--{k.replace('_', '-')}" for k in CNN_ONLY if k in given]
                if stray:
                    return _err(f"{', '.join(stray)} only apply to --model cnn")
                for k in CNN_ONLY:
                    config.pop(k)
            if config["model"] == "lstm":
                config["hidden"] = list(given.get("hidden", LSTM_HIDDEN))
                if len(set(config["hidden"])) != 1:
                    return _err(f"--hidden {' '.join(map(str, config['hidden']))}: the LSTM's "
                                f"layers have one size; give it once per layer (e.g. "
                                f"--hidden 128 128)")
                if config.get("dropout"):
                    return _err("--dropout applies to --model mlp and cnn")
            config["hidden"] = list(config["hidden"])
            config["data_dir"] = args.data_dir
            config["processes"] = world.size
            if config["lr"] is None:
                config["lr"] = DEFAULT_LR[config["optimizer"]]
                if config["model"] == "lstm" and config["optimizer"] in ("adam", "adamw"):
                    config["lr"] = LSTM_ADAM_LR
            out_dir = Path(args.out) if args.out else None   # made when it is needed
            if out_dir is not None and (out_dir / "checkpoint.npz").exists():
                return _err(f"{out_dir} already holds a run (checkpoint.npz); resume it with "
                            f"--resume {out_dir / 'checkpoint.npz'} or choose another --out")
        dtype = np.dtype(config["dtype"])

        # -------------------------------------------------------------- data
        train_set, test_set, about = _load_data(config, dtype, args.download,
                                                exact=checkpoint is not None)
        if checkpoint is None:
            n_in = int(np.prod(train_set.x.shape[1:]))
            classes = [str(c) for c in train_set.classes]
            config["dataset_resolved"] = _resolved_name(config, train_set)
            if config["shift"] is None:
                config["shift"] = 2 if config["dataset_resolved"] == "mnist-sample" else 0
            if config["model"] == "lstm":
                side = math.isqrt(n_in)
                if side * side != n_in:
                    return _err(f"--model lstm needs square images; {about} has {n_in} "
                                f"values per sample")
                config["image_shape"] = [1, side, side]
                n_in = side
            if config["model"] == "cnn":
                side = math.isqrt(n_in)
                if side * side != n_in:
                    return _err(f"--model cnn needs square images; {about} has {n_in} "
                                f"values per sample")
                blocks = len(config["channels"])
                n_in = config["channels"][-1] * (side >> blocks) ** 2
                config["image_shape"] = [1, side, side]
                if side >> blocks < 1:
                    return _err(f"--channels: {blocks} pooling blocks halve a {side}x{side} "
                                f"image to nothing; give fewer channel counts")
            config["sizes"] = [n_in, *config.pop("hidden"), len(classes)]
            config["classes"] = classes
        else:
            config.pop("hidden", None)
        say(f"data: {about}")

        # -------------------------------------------------------------- model
        cr_random.manual_seed(int(config["seed"]))
        model = model_from_config(config, "config")
        optimizer = make_optimizer(config["optimizer"], model.parameters(), config["lr"],
                                   weight_decay=config["weight_decay"])
        config["weight_decay"] = float(optimizer.param_groups[0]["weight_decay"])
        scheduler = _make_scheduler(config["lr_schedule"], optimizer, config["epochs"])
        n_params = sum(p.size for p in model.parameters())
        if world.size > 1:
            if config["batch_size"] % world.size:
                return _err(f"--batch-size {config['batch_size']} is the global batch; it "
                            f"must be a multiple of the {world.size} processes")
            world.dist.broadcast_parameters(model)
            optimizer = world.dist.DistributedOptimizer(optimizer)
            train_loader = DataLoader(
                train_set, config["batch_size"] // world.size,
                sampler=world.dist.DistributedSampler(train_set, seed=int(config["seed"])))
        else:
            train_loader = DataLoader(train_set, config["batch_size"], shuffle=True,
                                      seed=int(config["seed"]))
        test_loader = DataLoader(test_set, EVAL_BATCH)
        shape = train_set.x.shape[1:]
        side = math.isqrt(int(np.prod(shape)))
        transform = RandomShift(config["shift"], (side, side)) \
            if config.get("shift") and side * side == int(np.prod(shape)) else None

        if not world.main:
            out_dir = out_dir or Path("runs")     # only rank 0 writes the run folder
        elif out_dir is None:
            out_dir = _new_run_dir(Path("runs"))
        else:
            out_dir.mkdir(parents=True, exist_ok=True)
        ckpt_path = out_dir / "checkpoint.npz"
        callbacks: list[Any] = []
        if not quiet:
            callbacks.append(ProgressBar())
            callbacks.append(EpochTable())
        if world.main:
            callbacks.append(CSVLogger(out_dir / "metrics.csv"))
        trainer = Trainer(model, model_loss(), optimizer, train_loader, test_loader,
                          scheduler=scheduler, callbacks=callbacks,
                          checkpoint_path=ckpt_path if world.main else None,
                          config=config, transform=transform,
                          reduce_metrics=world.reduce_metrics if world.size > 1 else None,
                          agree_stop=world.agree_stop)
        info = {
            **config,
            "dataset_description": about,
            "train_samples": len(train_set),
            "test_samples": len(test_set),
            "parameters": int(n_params),
            "model_description": describe_model(config, n_params),
            "versions": {"chainrule": __version__, "numpy": np.__version__,
                         "python": platform.python_version()},
            "options_given": {k: v for k, v in given.items()},
        }
        if checkpoint is not None:
            if int(checkpoint["config"].get("processes", 1)) != world.size:
                checkpoint = regroup(checkpoint, train_loader, config)
            trainer.load_state_dict(checkpoint)
            previous: dict[str, Any] = {}
            with_prev = out_dir / "config.json"
            if with_prev.exists():
                try:
                    previous = json.loads(with_prev.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    previous = {}
            resumes = list(previous.get("resumed", []))
            resumes.append({"at": _dt.datetime.now().isoformat(timespec="seconds"),
                            "from": str(args.resume),
                            "epoch": trainer.epoch + (1 if trainer.batch else 0),
                            "batch": trainer.batch})
            info["created"] = previous.get("created")
            info["resumed"] = resumes
            say(f"resuming {args.resume}: epoch {trainer.epoch + 1}, batch "
                f"{trainer.batch + 1} of {len(train_loader)}")
        else:
            info["created"] = _dt.datetime.now().isoformat(timespec="seconds")
        if world.size > 1:
            info["distributed"] = {"processes": world.size,
                                   "local_batch": config["batch_size"] // world.size}
        if world.main:
            _write_json(out_dir / "config.json", info)
        say(f"model: {info['model_description']}; optimizer: {describe_optim(config)}")
        say(f"training: {config['epochs']} epochs of {len(train_loader)} batches of "
            f"{config['batch_size']}" + (f", random shifts up to {config['shift']} px"
                                         if transform is not None else "")
            + (f", {config['threads']} BLAS thread{'s' if config['threads'] > 1 else ''}"
               if config.get("threads") else "")
            + (f", data-parallel over {world.size} processes (local batch "
               f"{config['batch_size'] // world.size})" if world.size > 1 else "")
            + f"; run folder: {out_dir}")

        # -------------------------------------------------------------- train
        t0 = time.perf_counter()
        threads = config.get("threads", 0) or None
        retain_freed_memory()   # this process only trains: keep freed arrays' pages
        with blas_threads(threads):
            try:
                history = trainer.fit(int(config["epochs"]))
            except TrainingInterrupted as e:
                if not world.main:
                    return 130
                print(f"\n{e.message[0].upper()}{e.message[1:]}.", file=sys.stderr)
                if e.checkpoint is not None:
                    launch = f"mpiexec -n {world.size} " if world.size > 1 else ""
                    print(f"Resume with: {launch}chainrule train --resume {e.checkpoint}",
                          file=sys.stderr)
                return 130
            elapsed = time.perf_counter() - t0
            ev = trainer.last_evaluation
            if ev is None:   # nothing left to train (resumed a finished run): score it
                ev = evaluate(model, model_loss(), test_loader)

        # -------------------------------------------------------------- report
        if not world.main:
            return 0
        plots_note = ""
        if not args.no_plots:
            plots_note = plots(out_dir, history, ev, test_set, config, model)
        best = max(history, key=lambda r: r.test_acc) if history else None
        summary = (f"test accuracy {100 * ev.accuracy:.2f}% (loss {ev.loss:.4f}) after "
                   f"{len(history)} epochs")
        if best is not None and best.epoch != len(history):
            summary += f"; best {100 * best.test_acc:.2f}% at epoch {best.epoch}"
        print(f"done: {summary}; trained {elapsed:.1f} s; run folder {out_dir}{plots_note}")
        return 0
    except (CheckpointError, DatasetNotFoundError) as e:
        return _err(str(e))
    except FloatingPointError as e:
        return _err(str(e))
    except ChainruleError as e:
        return _err(str(e))
    except OSError as e:   # a disk full while writing a checkpoint, a folder not writable
        return _err(str(e))


def model_loss() -> Any:
    """The loss every ``chainrule train`` model is trained with."""
    from .. import nn
    return nn.SoftmaxCrossEntropy()
