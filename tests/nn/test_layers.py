"""Layers: forward values, gradients (gradcheck in float64), train/eval behaviour."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.random import manual_seed


def gradcheck_module(module: nn.Module, *inputs: cr.Tensor, **kw) -> bool:
    """gradcheck a module w.r.t. its inputs *and* its parameters (in float64).

    gradcheck perturbs copies of what it is given, so the parameters are passed as
    inputs and swapped into the module for each call.
    """
    module.double()
    named = list(module.named_parameters())
    owners = []
    for name, _ in named:
        *path, attr = name.split(".")
        owner = module
        for part in path:
            owner = owner._modules[part]
        owners.append((owner, attr))

    def f(*args):
        xs, ps = args[:len(inputs)], args[len(inputs):]
        saved = [o.__dict__[a] for o, a in owners]
        for (o, a), p in zip(owners, ps):
            o.__dict__[a] = p
        try:
            return module(*xs)
        finally:
            for (o, a), p in zip(owners, saved):
                o.__dict__[a] = p

    return cr.gradcheck(f, [*inputs, *[p for _, p in named]], **kw)


def rand(*shape, seed=0, requires_grad=True):
    return cr.tensor(np.random.default_rng(seed).standard_normal(shape),
                     requires_grad=requires_grad)


# ---------------------------------------------------------------------- Linear
def test_linear_computes_x_dot_w_plus_b_with_w_in_seed_layout():
    lin = nn.Linear(3, 2)
    assert lin.weight.shape == (3, 2) and lin.bias.shape == (2,)
    assert lin.weight.dtype == np.float32
    lin.load_state_dict({"weight": np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]),
                         "bias": np.array([0.5, -0.5])})
    y = lin(np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]], np.float32))
    np.testing.assert_array_equal(y.data, [[1 - 5 + 0.5, 2 - 6 - 0.5], [2 + 3 + 0.5, 4 + 4 - 0.5]])
    assert type(y.creator).__name__ == "Affine"
    assert nn.Affine is nn.Linear


def test_linear_default_init_is_pytorchs_uniform_bound():
    manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (lin.weight.data, lin.bias.data):
        assert np.abs(p).max() <= bound
        assert np.abs(p).max() > 0.95 * bound
    # U(-b, b) has standard deviation b / sqrt(3).
    assert lin.weight.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_linear_gradients_and_no_bias():
    assert gradcheck_module(nn.Linear(4, 3), rand(5, 4))
    lin = nn.Linear(4, 3, bias=False)
    assert lin.bias is None and [n for n, _ in lin.named_parameters()] == ["weight"]
    assert gradcheck_module(lin, rand(5, 4))
    assert gradcheck_module(nn.Linear(4, 2), rand(4))  # a single sample


def test_linear_gradients_match_the_seed_formulas():
    lin = nn.Linear(3, 2, dtype=np.float64)
    x = rand(4, 3)
    y = lin(x)
    gy = np.random.default_rng(1).standard_normal((4, 2))
    y.backward(gy)
    np.testing.assert_allclose(x.grad.data, gy @ lin.weight.data.T)
    np.testing.assert_allclose(lin.weight.grad.data, x.data.T @ gy)
    np.testing.assert_allclose(lin.bias.grad.data, gy.sum(axis=0))


def test_linear_rejects_bad_sizes_and_inputs():
    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        nn.Linear(0, 3)
    with pytest.raises(cr.DtypeError):
        nn.Linear(2, 3, dtype=np.int32)
    with pytest.raises(cr.ShapeError, match=r"Linear\(3, 2\): input of shape \(4, 5\)"):
        nn.Linear(3, 2)(np.zeros((4, 5), np.float32))


# ---------------------------------------------------------------------- activations
@pytest.mark.parametrize("layer, fn", [
    (nn.ReLU, lambda x: np.maximum(x, 0)),
    (nn.Sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    (nn.Tanh, np.tanh),
])
def test_activations_values_and_gradients(layer, fn):
    x = rand(3, 4, seed=3)
    np.testing.assert_allclose(layer()(x).data, fn(x.data))
    assert gradcheck_module(layer(), x)


def test_identity_and_flatten():
    x = rand(2, 3, 4, 5)
    assert nn.Identity()(x) is x
    y = nn.Flatten()(x)
    assert y.shape == (2, 60)
    np.testing.assert_array_equal(y.data, x.data.reshape(2, 60))
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert gradcheck_module(nn.Flatten(), rand(2, 3, 2))


# ---------------------------------------------------------------------- Dropout
def test_dropout_is_the_identity_in_eval_mode_and_for_p_zero():
    x = rand(4, 5)
    d = nn.Dropout(0.5).eval()
    assert d(x) is x
    assert nn.Dropout(0.0)(x) is x


def test_dropout_zeroes_a_fraction_p_and_scales_survivors():
    manual_seed(0)
    x = cr.tensor(np.ones((200, 500), np.float32), requires_grad=True)
    y = nn.Dropout(0.3)(x)
    assert y.dtype == np.float32
    vals = np.unique(y.data)
    np.testing.assert_allclose(vals, [0.0, 1 / 0.7], rtol=1e-6)
    assert (y.data == 0).mean() == pytest.approx(0.3, abs=0.005)
    assert y.data.mean() == pytest.approx(1.0, abs=0.01)  # expectation preserved
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, y.data)  # gradient = the same mask


def test_dropout_is_reproducible_under_manual_seed():
    x = rand(10, 10)
    manual_seed(42)
    a = F.dropout(x, 0.5).data
    b = F.dropout(x, 0.5).data
    manual_seed(42)
    np.testing.assert_array_equal(F.dropout(x, 0.5).data, a)
    assert not np.array_equal(a, b)


def test_dropout_gradcheck_with_a_fixed_mask_and_edge_cases():
    def f(x):
        manual_seed(7)
        return F.dropout(x, 0.4, training=True)

    assert cr.gradcheck(f, [rand(3, 4)])
    np.testing.assert_array_equal(F.dropout(rand(2, 2), 1.0).data, np.zeros((2, 2)))
    for bad in (-0.1, 1.5, "0.5", True):
        with pytest.raises(ValueError, match=r"p must be a number in \[0, 1\]"):
            nn.Dropout(bad)


# ---------------------------------------------------------------------- BatchNorm1d
def test_batchnorm_train_mode_normalises_each_channel():
    bn = nn.BatchNorm1d(3, dtype=np.float64)
    x = rand(64, 3) * np.array([1.0, 10.0, 0.1]) + np.array([5.0, -2.0, 0.0])
    y = bn(x)
    np.testing.assert_allclose(y.data.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(y.data.var(axis=0), 1 / (1 + 1e-5 / x.data.var(axis=0)),
                               rtol=1e-10)


def test_batchnorm_running_statistics_by_hand():
    bn = nn.BatchNorm1d(2, momentum=0.1, dtype=np.float64)
    x = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 16.0]])
    bn(x)
    # batch mean (3, 12); unbiased batch variance (4, 12)
    np.testing.assert_allclose(bn.running_mean.data, [0.9 * 0 + 0.1 * 3, 0.1 * 12])
    np.testing.assert_allclose(bn.running_var.data, [0.9 * 1 + 0.1 * 4, 0.9 * 1 + 0.1 * 12])
    assert int(bn.num_batches_tracked.data) == 1
    bn.eval()
    y = bn(np.array([[0.3, 1.2]]))
    expect = (np.array([0.3, 1.2]) - bn.running_mean.data) / np.sqrt(bn.running_var.data + 1e-5)
    np.testing.assert_allclose(y.data[0], expect)
    assert int(bn.num_batches_tracked.data) == 1  # eval does not count batches


def test_batchnorm_cumulative_average_when_momentum_is_none():
    bn = nn.BatchNorm1d(1, momentum=None, dtype=np.float64)
    for batch in ([[0.0], [2.0]], [[4.0], [6.0]], [[8.0], [10.0]]):
        bn(np.array(batch))
    np.testing.assert_allclose(bn.running_mean.data, [(1 + 5 + 9) / 3])
    np.testing.assert_allclose(bn.running_var.data, [2.0])  # each batch: unbiased var 2


def test_batchnorm_gradcheck_train_and_eval_2d_and_3d():
    bn = nn.BatchNorm1d(3)
    bn.weight.data[:] = [1.5, -0.5, 2.0]
    bn.bias.data[:] = [0.1, 0.2, -0.3]
    assert gradcheck_module(bn, rand(6, 3))
    assert gradcheck_module(nn.BatchNorm1d(2), rand(4, 2, 5))
    bn.eval()
    bn.running_mean.data[:] = [0.5, -1.0, 2.0]
    bn.running_var.data[:] = [2.0, 0.5, 1.5]
    assert gradcheck_module(bn, rand(4, 3))
    assert gradcheck_module(nn.BatchNorm1d(3, affine=False), rand(5, 3))


def test_batchnorm_matches_torch():
    torch = pytest.importorskip("torch")
    x1 = np.random.default_rng(0).standard_normal((8, 4, 3))
    x2 = np.random.default_rng(1).standard_normal((8, 4, 3)) * 3 + 1
    gy = np.random.default_rng(2).standard_normal((8, 4, 3))
    bn = nn.BatchNorm1d(4, momentum=0.2, dtype=np.float64)
    tbn = torch.nn.BatchNorm1d(4, momentum=0.2).double()
    w = np.array([1.0, 2.0, 0.5, -1.0])
    bn.weight.data[:] = w
    with torch.no_grad():
        tbn.weight.copy_(torch.tensor(w))
    for xv in (x1, x2):
        x = cr.tensor(xv, requires_grad=True)
        tx = torch.tensor(xv, requires_grad=True)
        y, ty = bn(x), tbn(tx)
        np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
        y.backward(gy)
        ty.backward(torch.tensor(gy))
        np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(bn.weight.grad.data, tbn.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(bn.bias.grad.data, tbn.bias.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(bn.running_mean.data, tbn.running_mean.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.data, tbn.running_var.detach().numpy(), rtol=1e-12)
    bn.eval()
    tbn.eval()
    np.testing.assert_allclose(bn(x1).data, tbn(torch.tensor(x1)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)


def test_batchnorm_without_running_stats_always_uses_the_batch():
    bn = nn.BatchNorm1d(2, track_running_stats=False, dtype=np.float64).eval()
    assert bn.running_mean is None
    assert list(bn.state_dict()) == ["weight", "bias"]
    y = bn(np.array([[1.0, 2.0], [3.0, 6.0]]))
    np.testing.assert_allclose(y.data, [[-1, -1], [1, 1]], rtol=1e-4)


def test_batchnorm_errors_are_clear():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(cr.ShapeError, match=r"BatchNorm1d\(3\): expected input of shape"):
        bn(np.zeros((4, 2), np.float32))
    with pytest.raises(cr.ShapeError, match="more than one value per channel"):
        bn(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="momentum"):
        nn.BatchNorm1d(3, momentum=2.0)
    with pytest.raises(ValueError, match="needs running_mean"):
        F.batch_norm(np.zeros((2, 3)), training=False)


def test_batchnorm_reset_running_stats():
    bn = nn.BatchNorm1d(2)
    bn(np.array([[1.0, 2.0], [3.0, 5.0]], np.float32))
    bn.reset_running_stats()
    np.testing.assert_array_equal(bn.running_mean.data, [0, 0])
    np.testing.assert_array_equal(bn.running_var.data, [1, 1])
    assert int(bn.num_batches_tracked.data) == 0


# ---------------------------------------------------------------------- Sequential
def test_sequential_chains_indexes_and_slices():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    model = nn.Sequential(a, b, c)
    assert len(model) == 3 and list(model) == [a, b, c]
    assert model[0] is a and model[-1] is c
    head = model[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [a, b]
    assert a.weight.name == "0.weight"  # slicing does not rename the shared children
    x = np.ones((4, 2), np.float32)
    np.testing.assert_array_equal(model(x).data, c(b(a(x))).data)
    with pytest.raises(IndexError, match="out of range for 3 modules"):
        model[3]
    with pytest.raises(TypeError, match="integers or slices"):
        model["0"]
    model.append(nn.Sigmoid())
    assert len(model) == 4 and isinstance(model[3], nn.Sigmoid)


def test_sequential_from_an_ordered_dict_and_type_errors():
    model = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert [n for n, _ in model.named_parameters()] == ["fc.weight", "fc.bias"]
    assert model.fc is model[0]
    with pytest.raises(TypeError, match=r"not an nn\.Module"):
        nn.Sequential(nn.ReLU(), np.tanh)


def test_a_whole_network_passes_gradcheck():
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.BatchNorm1d(6), nn.Sigmoid(),
                          nn.Linear(6, 3))
    target = np.array([0, 2, 1, 1, 0])

    class WithLoss(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model
            self.loss = nn.SoftmaxCrossEntropy()

        def forward(self, x):
            return self.loss(self.net(x), target)

    assert gradcheck_module(WithLoss(), rand(5, 4))


# ---------------------------------------------------------------------- loss modules
def test_loss_modules_wrap_the_functions():
    logits = rand(4, 3)
    t = np.array([0, 1, 2, 1])
    assert nn.SoftmaxWithLoss is nn.SoftmaxCrossEntropy
    assert nn.SoftmaxCrossEntropy()(logits, t).item() == pytest.approx(
        F.softmax_cross_entropy(logits, t).item())
    assert nn.SoftmaxCrossEntropy("sum")(logits, t).item() == pytest.approx(
        F.softmax_cross_entropy(logits, t).item() * 4)
    assert nn.MSELoss()(logits, np.zeros((4, 3))).item() == pytest.approx(
        float(np.mean(logits.data ** 2)))
    assert nn.BCEWithLogitsLoss()(logits, np.ones((4, 3))).item() == pytest.approx(
        F.binary_cross_entropy_with_logits(logits, np.ones((4, 3))).item())
    assert nn.HingeLoss(margin=2.0)(logits, t).item() == pytest.approx(
        F.hinge_loss(logits, t, margin=2.0).item())
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.MSELoss("average")
    assert repr(nn.HingeLoss()) == "HingeLoss(margin=1.0, reduction='mean')"
