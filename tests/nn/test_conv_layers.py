"""Convolutional layers and functions against PyTorch's, weights copied across."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.errors import ShapeError

torch = pytest.importorskip("torch")
TF = torch.nn.functional

from tests.torch_compare import compare_with_torch  # noqa: E402

rng = np.random.default_rng(11)


def _r(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


@pytest.mark.parametrize("kw", [{"size": (14, 5)}, {"scale_factor": 2}, {"scale_factor": 1.7},
                                {"size": (5, 13), "mode": "nearest-exact"},
                                {"scale_factor": (0.6, 2.3)},
                                {"scale_factor": 1.5, "recompute_scale_factor": True}], ids=str)
def test_interpolate_nearest_matches_torch(kw: dict) -> None:
    compare_with_torch(lambda a: F.interpolate(a, **kw), lambda a: TF.interpolate(a, **kw),
                       [_r(2, 3, 7, 9)])


def test_interpolate_1d_and_refusals() -> None:
    compare_with_torch(lambda a: F.interpolate(a, scale_factor=3),
                       lambda a: TF.interpolate(a, scale_factor=3), [_r(2, 2, 5)])
    with pytest.raises(ValueError, match="mode 'bilinear' is not supported"):
        F.interpolate(_r(1, 1, 4, 4), scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(_r(1, 1, 4, 4))


@pytest.mark.parametrize("size", [1, (3, 4), (7, 2), (None, 5), (5, 9), (9, 10)], ids=str)
def test_adaptive_avg_pool2d_matches_torch(size: object) -> None:
    compare_with_torch(lambda a: F.adaptive_avg_pool2d(a, size),
                       lambda a: TF.adaptive_avg_pool2d(a, size), [_r(2, 3, 7, 9)])


def test_adaptive_avg_pool1d_and_1d_pools_match_torch() -> None:
    x = [_r(2, 3, 11)]
    compare_with_torch(lambda a: F.adaptive_avg_pool1d(a, 4),
                       lambda a: TF.adaptive_avg_pool1d(a, 4), x)
    compare_with_torch(lambda a: F.avg_pool1d(a, 3, 2, 1), lambda a: TF.avg_pool1d(a, 3, 2, 1), x)
    xd = [(rng.permutation(66) * 0.1).reshape(2, 3, 11)]
    compare_with_torch(lambda a: F.max_pool1d(a, 3, 2, 1), lambda a: TF.max_pool1d(a, 3, 2, 1),
                       xd)
    _, idx = F.max_pool1d(xd[0], 2, return_indices=True)
    _, tidx = TF.max_pool1d(torch.tensor(xd[0]), 2, return_indices=True)
    np.testing.assert_array_equal(idx.data, tidx.numpy())


def test_unfold_and_fold_match_torch() -> None:
    kw = {"kernel_size": (2, 3), "dilation": (2, 1), "padding": 1, "stride": 2}
    compare_with_torch(lambda a: F.unfold(a, **kw), lambda a: TF.unfold(a, **kw), [_r(2, 3, 7, 9)])
    cols = _r(2, 18, 20)
    compare_with_torch(lambda a: F.fold(a, (7, 9), **kw), lambda a: TF.fold(a, (7, 9), **kw),
                       [cols])
    with pytest.raises(ShapeError, match=r"fold: 15 columns do not fit.*4x5 = 20"):
        F.fold(_r(2, 18, 15), (7, 9), **kw)


def test_dropout2d_zeroes_whole_channels_and_scales_the_rest() -> None:
    cr.manual_seed(3)
    x = cr.tensor(np.ones((50, 40, 3, 3)), requires_grad=True)
    y = F.dropout2d(x, p=0.3)
    per_channel = y.data.reshape(50, 40, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 1 / 0.7).all(-1))
    assert abs((per_channel[..., 0] == 0).mean() - 0.3) < 0.03
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.data)
    assert F.dropout2d(x, 0.3, training=False) is x
    d1 = F.dropout1d(np.ones((20, 30, 4)), 0.5).data
    assert np.all((d1 == 0).all(-1) | (d1 == 2).all(-1))
    with pytest.raises(ValueError, match="p must be a number in"):
        nn.Dropout2d(1.5)


def _agree(ours: object, theirs: object, x: np.ndarray) -> None:
    """Same output and input gradient for a random upstream gradient."""
    X, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(X), theirs(tx)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), atol=1e-12)
    g = _r(*y.shape)
    (y * g).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(X.grad, tx.grad.numpy(), atol=1e-12)


def test_batchnorm2d_matches_torch_in_training_and_eval() -> None:
    ours, theirs = nn.BatchNorm2d(3, dtype=np.float64), torch.nn.BatchNorm2d(3).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(_r(3)))
        theirs.bias.copy_(torch.tensor(_r(3)))
    ours.weight.data[...] = theirs.weight.detach().numpy()
    ours.bias.data[...] = theirs.bias.detach().numpy()
    for _ in range(3):
        _agree(ours, theirs, _r(4, 3, 5, 6) * 2 + 1)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), atol=1e-11)
    np.testing.assert_allclose(ours.running_mean.data, theirs.running_mean.numpy(), atol=1e-14)
    np.testing.assert_allclose(ours.running_var.data, theirs.running_var.numpy(), atol=1e-14)
    ours.eval()
    theirs.eval()
    x = _r(2, 3, 4, 4)
    np.testing.assert_allclose(ours(x).data, theirs(torch.tensor(x)).detach().numpy(),
                               atol=1e-12)
    with pytest.raises(ShapeError, match=r"BatchNorm2d\(3\): expected input of shape "
                                         r"\(N, 3, H, W\)"):
        ours(_r(2, 3, 4))


def _copy(ours: nn.Module, theirs: torch.nn.Module) -> None:
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname and p.shape == tuple(tp.shape)
        p.data[...] = tp.detach().numpy()


LAYERS = [
    (lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1, dtype=np.float64),
     lambda: torch.nn.Conv2d(3, 4, 3, stride=2, padding=1).double(), (2, 3, 7, 7)),
    (lambda: nn.Conv2d(4, 4, (3, 2), padding="same", groups=2, bias=False, dtype=np.float64),
     lambda: torch.nn.Conv2d(4, 4, (3, 2), padding="same", groups=2, bias=False).double(),
     (2, 4, 5, 5)),
    (lambda: nn.Conv1d(3, 5, 3, dilation=2, dtype=np.float64),
     lambda: torch.nn.Conv1d(3, 5, 3, dilation=2).double(), (2, 3, 9)),
    (lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1,
                                dtype=np.float64),
     lambda: torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1).double(),
     (2, 3, 4, 4)),
    (lambda: nn.MaxPool2d(3, 2, 1), lambda: torch.nn.MaxPool2d(3, 2, 1), (2, 2, 7, 7)),
    (lambda: nn.AvgPool2d(2, ceil_mode=True), lambda: torch.nn.AvgPool2d(2, ceil_mode=True),
     (2, 2, 5, 5)),
    (lambda: nn.AdaptiveAvgPool2d((2, 3)), lambda: torch.nn.AdaptiveAvgPool2d((2, 3)),
     (2, 2, 5, 7)),
    (lambda: nn.MaxPool1d(2), lambda: torch.nn.MaxPool1d(2), (2, 3, 8)),
    (lambda: nn.AvgPool1d(3, 1, 1), lambda: torch.nn.AvgPool1d(3, 1, 1), (2, 3, 8)),
    (lambda: nn.AdaptiveAvgPool1d(3), lambda: torch.nn.AdaptiveAvgPool1d(3), (2, 3, 8)),
    (lambda: nn.Upsample(scale_factor=2), lambda: torch.nn.Upsample(scale_factor=2),
     (1, 2, 3, 3)),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize(("make", "make_torch", "shape"), LAYERS,
                         ids=[f"layer{i}" for i in range(len(LAYERS))])
def test_layers_match_torch_with_weights_copied(make, make_torch, shape: tuple) -> None:
    ours, theirs = make(), make_torch()
    _copy(ours, theirs)
    _agree(ours, theirs, (rng.permutation(int(np.prod(shape))) * 0.01).reshape(shape))
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), atol=1e-11)
    assert repr(ours).split("(")[0] == type(theirs).__name__


def test_conv_init_follows_torch_bounds_and_dtype() -> None:
    cr.manual_seed(0)
    conv = nn.Conv2d(6, 32, 5, groups=2)
    bound = 1 / np.sqrt(3 * 25)
    assert conv.weight.dtype == np.float32 and conv.weight.shape == (32, 3, 5, 5)
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.weight.data).max() > 0.9 * bound
    assert np.abs(conv.bias.data).max() <= bound
    assert np.isclose(conv.weight.data.std(), bound / np.sqrt(3), rtol=0.05)


def test_a_lenet_forward_and_state_dict_match_torch() -> None:
    ours = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                         nn.Linear(400, 10))
    tn = torch.nn
    theirs = tn.Sequential(tn.Conv2d(1, 6, 5, padding=2), tn.ReLU(), tn.MaxPool2d(2),
                           tn.Conv2d(6, 16, 5), tn.ReLU(), tn.AvgPool2d(2), tn.Flatten(),
                           tn.Linear(400, 10))
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    state["7.weight"] = state["7.weight"].T        # chainrule's Linear is (in, out)
    ours.load_state_dict(state)
    x = rng.random((3, 1, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(ours(x).data, theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)
    assert set(ours.state_dict()) == set(state)


@pytest.mark.parametrize(("make", "match"), [
    (lambda: nn.Conv2d(3, 4, 3, groups=2), "divisible by groups"),
    (lambda: nn.Conv2d(3, 4, 3, padding_mode="reflect"), "padding_mode 'reflect'"),
    (lambda: nn.Conv2d(3, 4, 3, stride=2, padding="same"), "not supported for strided"),
    (lambda: nn.Conv2d(3, 4, (3, 3, 3)), "kernel_size must be an int or 2 ints"),
    (lambda: nn.Conv2d(3, 4, 0), "at least 1"),
    (lambda: nn.ConvTranspose2d(3, 4, 3, padding="same"), "padding must be ints"),
    (lambda: nn.MaxPool2d(2, padding=3), "at most half"),
    (lambda: nn.Upsample(scale_factor=2, mode="bicubic"), "not supported"),
])
def test_layer_arguments_are_checked_when_built(make, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_conv_layer_names_the_channels_it_expected() -> None:
    with pytest.raises(ShapeError, match=r"Conv2d\(3, 4\): expected input \(N, 3, H, W\)"):
        nn.Conv2d(3, 4, 3)(np.zeros((2, 1, 8, 8), np.float32))


def test_compositions_pass_gradcheck_in_float64() -> None:
    x = cr.tensor(_r(1, 2, 5, 6), requires_grad=True)
    for f in (lambda a: F.adaptive_avg_pool2d(a, (2, 4)), lambda a: F.interpolate(a, size=(7, 4)),
              lambda a: F.unfold(a, 2, padding=1), lambda a: F.max_pool1d(a[0], 2)):
        assert cr.gradcheck(f, (x,)) and cr.gradgradcheck(f, (x,))
