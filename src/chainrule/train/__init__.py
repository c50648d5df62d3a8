"""Training a classifier: the loop, metrics, checkpoints, callbacks, plots.

    import chainrule as cr
    from chainrule import nn, optim
    from chainrule.data import DataLoader, MNISTSample
    from chainrule.train import Trainer

    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optim.Adam(model.parameters()),
                      DataLoader(MNISTSample("train"), 64, shuffle=True),
                      DataLoader(MNISTSample("test"), 1000),
                      checkpoint_path="checkpoint.npz")
    history = trainer.fit(epochs=5)

Modules: :mod:`~chainrule.train.trainer` (:class:`Trainer`, :func:`fit`),
:mod:`~chainrule.train.callbacks`, :mod:`~chainrule.train.metrics`,
:mod:`~chainrule.train.checkpoint`, :mod:`~chainrule.train.plots` (needs matplotlib),
:mod:`~chainrule.train.recipes` (what ``chainrule train`` builds). :class:`RandomShift`
lives in :mod:`chainrule.data.transforms`.
"""

from ..data.transforms import RandomShift
from ._blas import blas_threads
from .callbacks import Callback, CSVLogger, EpochTable, ProgressBar
from .checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    load_checkpoint,
    validate_checkpoint,
)
from .metrics import EpochResult, Evaluation, StepInfo, TrainingInterrupted, evaluate
from .plots import plot_confusion, plot_curves, plot_feature_maps, plot_filters, plot_samples
from .recipes import (
    ACTIVATIONS,
    DEFAULT_LR,
    MODELS,
    OPTIMIZERS,
    build_cnn,
    build_mlp,
    make_optimizer,
    model_from_config,
)
from .trainer import Trainer, fit

__all__ = [
    "ACTIVATIONS",
    "CHECKPOINT_FORMAT",
    "DEFAULT_LR",
    "MODELS",
    "OPTIMIZERS",
    "CSVLogger",
    "Callback",
    "EpochResult",
    "EpochTable",
    "Evaluation",
    "ProgressBar",
    "RandomShift",
    "StepInfo",
    "Trainer",
    "TrainingInterrupted",
    "blas_threads",
    "build_cnn",
    "build_mlp",
    "evaluate",
    "fit",
    "load_checkpoint",
    "make_optimizer",
    "model_from_config",
    "plot_confusion",
    "plot_curves",
    "plot_feature_maps",
    "plot_filters",
    "plot_samples",
    "validate_checkpoint",
]
