"""Activations and losses against PyTorch in float64 (values, gradients, second
derivatives where they exist), and their gradient checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from tests.torch_compare import compare_with_torch

torch = pytest.importorskip("torch")
TF = torch.nn.functional

# Values kept off the kinks (0, ±3, ±1, 6, the softplus threshold).
X = np.array([[-7.3, -2.6, -0.8, -0.2, 0.3, 0.9], [1.7, 2.4, 4.1, 6.7, 25.0, -30.0]])

ACTIVATIONS: list[tuple[str, Callable, Callable]] = [
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda t: TF.leaky_relu(t, 0.2)),
    ("elu", lambda x: F.elu(x, 1.5), lambda t: TF.elu(t, 1.5)),
    ("selu", F.selu, TF.selu),
    ("celu", lambda x: F.celu(x, 0.5), lambda t: TF.celu(t, 0.5)),
    ("gelu", F.gelu, TF.gelu),
    ("gelu tanh", lambda x: F.gelu(x, approximate="tanh"),
     lambda t: TF.gelu(t, approximate="tanh")),
    ("silu", F.silu, TF.silu), ("mish", F.mish, TF.mish),
    ("softplus", F.softplus, TF.softplus),
    ("softplus beta threshold", lambda x: F.softplus(x, 2.0, 5.0),
     lambda t: TF.softplus(t, 2.0, 5.0)),
    ("softsign", F.softsign, TF.softsign), ("relu6", F.relu6, TF.relu6),
    ("hardtanh", lambda x: F.hardtanh(x, -2.0, 3.0), lambda t: TF.hardtanh(t, -2.0, 3.0)),
    ("hardsigmoid", F.hardsigmoid, TF.hardsigmoid),
    ("hardswish", F.hardswish, TF.hardswish),
    ("logsigmoid", F.logsigmoid, TF.logsigmoid),
    ("softmin", lambda x: F.softmin(x, dim=1), lambda t: TF.softmin(t, dim=1)),
    ("normalize", F.normalize, TF.normalize),
    ("normalize p=1 dim 0", lambda x: F.normalize(x, 1.0, 0), lambda t: TF.normalize(t, 1.0, 0)),
]


_compare = compare_with_torch


@pytest.mark.parametrize(("label", "ours", "theirs"), ACTIVATIONS,
                         ids=[a[0] for a in ACTIVATIONS])
def test_activation_matches_torch(label: str, ours: Callable, theirs: Callable) -> None:
    # PyTorch rounds celu's alpha and hardsigmoid's 1/6 to float32 even for float64
    # tensors (relative error 3e-8; alpha = 0.5 here is exact); ours are exact, which
    # the gradgradcheck below confirms against central differences.
    _compare(ours, theirs, [X], rtol=1e-7 if label == "hardsigmoid" else 1e-9)
    assert cr.gradgradcheck(ours, [cr.tensor(X[:, :4], requires_grad=True)])


def test_kinks_follow_pytorch() -> None:
    for ours, theirs, at in [(lambda x: F.leaky_relu(x, 0.1), lambda t: TF.leaky_relu(t, 0.1), 0.0),
                             (F.elu, TF.elu, 0.0), (F.relu6, TF.relu6, 6.0),
                             (F.relu6, TF.relu6, 0.0), (F.hardtanh, TF.hardtanh, 1.0),
                             (F.hardsigmoid, TF.hardsigmoid, 3.0)]:
        x = cr.tensor([at], requires_grad=True)
        t = torch.tensor([at], dtype=torch.float64, requires_grad=True)
        ours(x).sum().backward()
        theirs(t).sum().backward()
        assert x.grad.item() == t.grad.item(), (ours, at)


def test_activations_stay_finite_for_huge_inputs() -> None:
    x = cr.tensor([-1e4, -800.0, 800.0, 1e4], requires_grad=True)
    for fn in (F.elu, F.selu, F.celu, F.softplus, F.mish, F.logsigmoid, F.silu, F.gelu):
        y = fn(x)
        g, = cr.grad(y.sum(), [x])
        assert np.isfinite(y.detach().numpy()).all() and np.isfinite(g.detach().numpy()).all(), fn


def test_normalize_of_a_zero_vector_is_zero_with_a_finite_gradient() -> None:
    x = cr.tensor(np.zeros((2, 3)), requires_grad=True)
    y = F.normalize(x)
    y.sum().backward()
    assert np.all(y.detach().numpy() == 0) and np.isfinite(x.grad.numpy()).all()


RNG = np.random.default_rng(4)
LOGITS = RNG.standard_normal((5, 4))
LABELS = np.array([1, 0, 3, 3, 2])
W = np.array([0.5, 1.0, 2.0, 0.25])
LOGITS_ND = RNG.standard_normal((2, 3, 4, 2))
LABELS_ND = RNG.integers(0, 3, (2, 4, 2))
PROBS = np.exp(RNG.standard_normal((5, 4)))
PROBS /= PROBS.sum(1, keepdims=True)
P = 1 / (1 + np.exp(-RNG.standard_normal((3, 4))))
T = (RNG.random((3, 4)) > 0.5).astype(float)
IGN = np.array([1, -100, 3, 3, -100])

LOSSES: list[tuple[str, Callable, Callable, list[np.ndarray]]] = [
    ("cross_entropy", lambda x: F.cross_entropy(x, LABELS),
     lambda t: TF.cross_entropy(t, torch.tensor(LABELS)), [LOGITS]),
    ("cross_entropy weight", lambda x: F.cross_entropy(x, LABELS, W),
     lambda t: TF.cross_entropy(t, torch.tensor(LABELS), torch.tensor(W)), [LOGITS]),
    ("cross_entropy smoothing", lambda x: F.cross_entropy(x, LABELS, label_smoothing=0.2),
     lambda t: TF.cross_entropy(t, torch.tensor(LABELS), label_smoothing=0.2), [LOGITS]),
    ("cross_entropy weight smoothing sum",
     lambda x: F.cross_entropy(x, LABELS, W, reduction="sum", label_smoothing=0.1),
     lambda t: TF.cross_entropy(t, torch.tensor(LABELS), torch.tensor(W), reduction="sum",
                                label_smoothing=0.1), [LOGITS]),
    ("cross_entropy weight smoothing mean ignore",
     lambda x: F.cross_entropy(x, IGN, W, label_smoothing=0.3),
     lambda t: TF.cross_entropy(t, torch.tensor(IGN), torch.tensor(W), label_smoothing=0.3),
     [LOGITS]),
    ("cross_entropy smoothing ignore",
     lambda x: F.cross_entropy(x, IGN, label_smoothing=0.3),
     lambda t: TF.cross_entropy(t, torch.tensor(IGN), label_smoothing=0.3), [LOGITS]),
    ("cross_entropy ignore_index none", lambda x: F.cross_entropy(x, IGN, reduction="none"),
     lambda t: TF.cross_entropy(t, torch.tensor(IGN), reduction="none"), [LOGITS]),
    ("cross_entropy (N,C,d1,d2)", lambda x: F.cross_entropy(x, LABELS_ND),
     lambda t: TF.cross_entropy(t, torch.tensor(LABELS_ND)), [LOGITS_ND]),
    ("cross_entropy probabilities smoothing weight",
     lambda x: F.cross_entropy(x, PROBS, W, label_smoothing=0.1),
     lambda t: TF.cross_entropy(t, torch.tensor(PROBS), torch.tensor(W), label_smoothing=0.1),
     [LOGITS]),
    ("cross_entropy single sample", lambda x: F.cross_entropy(x, np.int64(2)),
     lambda t: TF.cross_entropy(t, torch.tensor(2)), [LOGITS[0]]),
    ("nll_loss weight", lambda x: F.nll_loss(F.log_softmax(x, 1), LABELS, W),
     lambda t: TF.nll_loss(TF.log_softmax(t, 1), torch.tensor(LABELS), torch.tensor(W)),
     [LOGITS]),
    ("binary_cross_entropy", lambda p: F.binary_cross_entropy(p, T),
     lambda p: TF.binary_cross_entropy(p, torch.tensor(T)), [P]),
    ("binary_cross_entropy weight sum",
     lambda p: F.binary_cross_entropy(p, T, W, reduction="sum"),
     lambda p: TF.binary_cross_entropy(p, torch.tensor(T), torch.tensor(W), reduction="sum"),
     [P]),
    ("bce_with_logits pos_weight",
     lambda x: F.binary_cross_entropy_with_logits(x, T, pos_weight=W),
     lambda t: TF.binary_cross_entropy_with_logits(t, torch.tensor(T),
                                                   pos_weight=torch.tensor(W)), [LOGITS[:3]]),
    ("l1_loss", lambda x: F.l1_loss(x, P), lambda t: TF.l1_loss(t, torch.tensor(P)),
     [LOGITS[:3]]),
    ("smooth_l1_loss", lambda x: F.smooth_l1_loss(x, P, beta=0.5),
     lambda t: TF.smooth_l1_loss(t, torch.tensor(P), beta=0.5), [LOGITS[:3]]),
    ("huber_loss", lambda x: F.huber_loss(x, P, delta=0.7),
     lambda t: TF.huber_loss(t, torch.tensor(P), delta=0.7), [LOGITS[:3]]),
    ("kl_div batchmean", lambda x: F.kl_div(F.log_softmax(x, 1), PROBS, reduction="batchmean"),
     lambda t: TF.kl_div(TF.log_softmax(t, 1), torch.tensor(PROBS), reduction="batchmean"),
     [LOGITS]),
    ("kl_div log_target", lambda x: F.kl_div(x, np.log(PROBS), "sum", log_target=True),
     lambda t: TF.kl_div(t, torch.tensor(np.log(PROBS)), reduction="sum", log_target=True),
     [LOGITS]),
]


@pytest.mark.parametrize(("label", "ours", "theirs", "inputs"), LOSSES,
                         ids=[c[0] for c in LOSSES])
def test_loss_matches_torch(label: str, ours: Callable, theirs: Callable,
                            inputs: list[np.ndarray]) -> None:
    _compare(ours, theirs, inputs)
    assert cr.gradcheck(ours, [cr.tensor(a, requires_grad=True) for a in inputs])


def test_kl_div_with_zero_targets() -> None:
    t = np.array([[0.0, 0.5, 0.5]])
    x = np.log(np.array([[0.2, 0.3, 0.5]]))
    _compare(lambda a: F.kl_div(a, t, reduction="sum"),
             lambda a: TF.kl_div(a, torch.tensor(t), reduction="sum"), [x])


def test_positional_reduction_is_refused_where_torch_puts_the_weight() -> None:
    with pytest.raises(TypeError, match="reduction='sum'"):
        F.binary_cross_entropy_with_logits(LOGITS[:3], T, "sum")
    with pytest.raises(TypeError, match="class weight"):
        F.cross_entropy(LOGITS, LABELS, "none")


def test_a_class_weight_that_requires_grad_is_refused() -> None:
    w = cr.tensor(W, requires_grad=True)
    for fn in (F.cross_entropy, F.nll_loss):
        with pytest.raises(TypeError, match="class weight gets no gradient"):
            fn(LOGITS, LABELS, w)
    F.cross_entropy(LOGITS, LABELS, w.detach())


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="probabilities in"):
        F.binary_cross_entropy(LOGITS, (LOGITS > 0).astype(float))
    with pytest.raises(ValueError, match="class index 7"):
        F.cross_entropy(LOGITS, np.array([1, 0, 7, 3, 2]), W)
    with pytest.raises(cr.ShapeError, match="expected shape"):
        F.nll_loss(LOGITS, LABELS[:3])


MODULES: list[tuple[Any, Any, list[np.ndarray]]] = [
    (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2), [X]), (nn.ELU(), torch.nn.ELU(), [X]),
    (nn.SELU(), torch.nn.SELU(), [X]), (nn.CELU(0.5), torch.nn.CELU(0.5), [X]),
    (nn.GELU("tanh"), torch.nn.GELU("tanh"), [X]), (nn.SiLU(), torch.nn.SiLU(), [X]),
    (nn.Mish(), torch.nn.Mish(), [X]), (nn.Softplus(2.0), torch.nn.Softplus(2.0), [X]),
    (nn.Softsign(), torch.nn.Softsign(), [X]), (nn.ReLU6(), torch.nn.ReLU6(), [X]),
    (nn.Hardtanh(-2.0, 2.0), torch.nn.Hardtanh(-2.0, 2.0), [X]),
    (nn.Hardsigmoid(), torch.nn.Hardsigmoid(), [X]),
    (nn.Hardswish(), torch.nn.Hardswish(), [X]), (nn.LogSigmoid(), torch.nn.LogSigmoid(), [X]),
    (nn.Softmax(dim=1), torch.nn.Softmax(dim=1), [X]),
    (nn.LogSoftmax(dim=0), torch.nn.LogSoftmax(dim=0), [X]),
    (nn.Softmin(dim=1), torch.nn.Softmin(dim=1), [X]),
]


@pytest.mark.parametrize(("ours", "theirs", "inputs"), MODULES,
                         ids=[type(m[0]).__name__ for m in MODULES])
def test_activation_modules(ours: Any, theirs: Any, inputs: list[np.ndarray]) -> None:
    _compare(ours, theirs, inputs, second=False, rtol=1e-7)
    assert type(ours).__name__ in repr(ours)


LOSS_MODULES: list[tuple[Any, Any, np.ndarray, Any]] = [
    (nn.CrossEntropyLoss(weight=W, label_smoothing=0.1),
     torch.nn.CrossEntropyLoss(weight=torch.tensor(W), label_smoothing=0.1), LOGITS, LABELS),
    (nn.NLLLoss(reduction="sum"), torch.nn.NLLLoss(reduction="sum"), LOGITS, LABELS),
    (nn.BCELoss(), torch.nn.BCELoss(), P, T),
    (nn.BCEWithLogitsLoss(pos_weight=W), torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(W)),
     LOGITS[:3], T),
    (nn.L1Loss(), torch.nn.L1Loss(), LOGITS[:3], P),
    (nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5), LOGITS[:3], P),
    (nn.HuberLoss(delta=0.5), torch.nn.HuberLoss(delta=0.5), LOGITS[:3], P),
    (nn.KLDivLoss(reduction="batchmean"), torch.nn.KLDivLoss(reduction="batchmean"),
     np.log(PROBS), PROBS),
]


@pytest.mark.parametrize(("ours", "theirs", "x", "t"), LOSS_MODULES,
                         ids=[type(m[0]).__name__ for m in LOSS_MODULES])
def test_loss_modules(ours: Any, theirs: Any, x: np.ndarray, t: Any) -> None:
    _compare(lambda a: ours(a, t), lambda a: theirs(a, torch.tensor(t)), [x], second=False)


def test_kl_div_mean_warns_that_it_is_not_the_divergence() -> None:
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(np.log(PROBS), PROBS)
