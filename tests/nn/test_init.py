"""nn.init: scales, fans, reproducibility, in-place semantics."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.errors import InplaceModificationError
from chainrule.nn import init
from chainrule.random import manual_seed


def test_fans_follow_each_layout():
    assert init.calculate_fan_in_and_fan_out(np.zeros((784, 256))) == (784, 256)
    # convolution weights: (out_channels, in_channels, kh, kw)
    assert init.calculate_fan_in_and_fan_out(cr.zeros(16, 3, 5, 5)) == (75, 400)
    with pytest.raises(cr.ShapeError, match="at least 2 dimensions"):
        init.xavier_uniform_(cr.zeros(5))


def test_gains():
    assert init.calculate_gain("linear") == 1.0
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")


@pytest.mark.parametrize("fn, kwargs, bound, std", [
    (init.xavier_uniform_, {}, math.sqrt(6 / (300 + 200)), None),
    (init.xavier_uniform_, {"gain": 2.0}, 2 * math.sqrt(6 / (300 + 200)), None),
    (init.kaiming_uniform_, {}, math.sqrt(6 / 300), None),
    (init.he_uniform_, {"mode": "fan_out"}, math.sqrt(6 / 200), None),
    (init.kaiming_uniform_, {"a": math.sqrt(5)}, 1 / math.sqrt(300), None),
    (init.kaiming_uniform_, {"nonlinearity": "tanh"}, 5 / 3 * math.sqrt(3 / 300), None),
    (init.xavier_normal_, {}, None, math.sqrt(2 / (300 + 200))),
    (init.kaiming_normal_, {}, None, math.sqrt(2 / 300)),
    (init.he_normal_, {"mode": "fan_out", "nonlinearity": "relu"}, None, math.sqrt(2 / 200)),
])
def test_scales(fn, kwargs, bound, std):
    manual_seed(0)
    w = cr.zeros(300, 200)
    assert fn(w, **kwargs) is w
    data = w.data
    if bound is not None:
        assert np.abs(data).max() <= bound
        assert np.abs(data).max() > 0.99 * bound
        assert data.std() == pytest.approx(bound / math.sqrt(3), rel=0.01)
    else:
        assert data.std() == pytest.approx(std, rel=0.01)
    assert abs(data.mean()) < 0.05 * data.std()


def test_plain_fills():
    t = cr.zeros(3, 4)
    init.ones_(t)
    np.testing.assert_array_equal(t.data, np.ones((3, 4)))
    init.zeros_(t)
    np.testing.assert_array_equal(t.data, np.zeros((3, 4)))
    init.constant_(t, 2.5)
    np.testing.assert_array_equal(t.data, np.full((3, 4), 2.5))
    manual_seed(3)
    big = cr.zeros(400, 500)
    init.uniform_(big, -2.0, 3.0)
    assert big.data.min() >= -2.0 and big.data.max() < 3.0
    assert big.data.mean() == pytest.approx(0.5, abs=0.02)
    init.normal_(big, 1.0, 0.5)
    assert big.data.mean() == pytest.approx(1.0, abs=0.01)
    assert big.data.std() == pytest.approx(0.5, rel=0.01)
    with pytest.raises(ValueError):
        init.uniform_(big, 1.0, 0.0)
    with pytest.raises(ValueError):
        init.normal_(big, 0.0, -1.0)
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_normal_(big, mode="fan_middle")


def test_init_works_in_place_on_parameters_and_plain_arrays():
    p = nn.Parameter(np.zeros((3, 2), np.float32))
    x = cr.tensor(np.ones((1, 3), np.float32))
    y = (x @ p).sum()                      # MatMul saved p
    init.xavier_uniform_(p)               # no "in-place on a leaf that requires grad" error
    assert p.dtype == np.float32 and p.requires_grad
    with pytest.raises(InplaceModificationError):
        y.backward()
    arr = np.zeros((4, 4))
    assert init.ones_(arr) is arr and arr.sum() == 16
    with pytest.raises(TypeError, match="expected a Tensor"):
        init.zeros_([1.0, 2.0])
    with pytest.raises(TypeError, match="dtype int64"):
        init.normal_(cr.tensor(np.zeros((2, 2), np.int64)))


def test_manual_seed_makes_initialisation_reproducible_across_dtypes():
    manual_seed(123)
    a = nn.Linear(20, 10, dtype=np.float64)
    manual_seed(123)
    b = nn.Linear(20, 10, dtype=np.float32)
    c = nn.Linear(20, 10, dtype=np.float64)
    np.testing.assert_allclose(b.weight.data, a.weight.data, rtol=1e-6)
    np.testing.assert_allclose(b.bias.data, a.bias.data, rtol=1e-6)
    assert not np.allclose(c.weight.data, a.weight.data)
