"""PyTorch weights in and out: load_torch_state_dict, torch_state_dict, and the guards
on load_state_dict against a PyTorch state dict."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn.models import RowLSTMClassifier
from chainrule.serialization import CheckpointError

torch = pytest.importorskip("torch")


def torch_mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(),
                               torch.nn.Linear(5, 5), torch.nn.Tanh(),
                               torch.nn.Linear(5, 3)).double()


def ours_mlp():
    return nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 5), nn.Tanh(),
                         nn.Linear(5, 3)).double()


def test_a_torch_mlp_loads_and_computes_the_same():
    t, m = torch_mlp(), ours_mlp()
    assert nn.load_torch_state_dict(m, t.state_dict()) == ([], [])
    np.testing.assert_array_equal(m[0].weight.detach().numpy(), t[0].weight.detach().numpy().T)
    x = np.random.default_rng(0).standard_normal((4, 6))
    np.testing.assert_allclose(m(cr.tensor(x)).detach().numpy(),
                               t(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12, atol=1e-14)
    # From NumPy arrays too (no torch needed to load a saved state dict).
    m2 = ours_mlp()
    nn.load_torch_state_dict(m2, {k: v.detach().numpy() for k, v in t.state_dict().items()})
    np.testing.assert_array_equal(m2(cr.tensor(x)).detach().numpy(),
                                  m(cr.tensor(x)).detach().numpy())


def test_torch_state_dict_goes_back_into_torch():
    cr.manual_seed(4)
    m = ours_mlp()
    sd = nn.torch_state_dict(m)
    assert sd["0.weight"].shape == (5, 6) and sd["0.weight"].flags.c_contiguous
    t = torch_mlp()
    t.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    x = np.random.default_rng(1).standard_normal((3, 6))
    np.testing.assert_allclose(t(torch.tensor(x)).detach().numpy(),
                               m(cr.tensor(x)).detach().numpy(),
                               rtol=1e-12, atol=1e-14)
    # and the round trip is exact
    m2 = ours_mlp()
    nn.load_torch_state_dict(m2, sd)
    for a, b in zip(m.parameters(), m2.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


class TorchRowLSTM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(7, 6, batch_first=True)
        self.head = torch.nn.Linear(6, 4)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.head(h[-1])


def test_a_torch_lstm_model_loads_and_computes_the_same():
    torch.manual_seed(1)
    t = TorchRowLSTM()
    m = RowLSTMClassifier(rows=5, cols=7, hidden_size=6, num_classes=4)
    nn.load_torch_state_dict(m, t.state_dict())
    x = np.random.default_rng(2).standard_normal((3, 5, 7)).astype(np.float32)
    np.testing.assert_allclose(m(cr.tensor(x)).detach().numpy(),
                               t(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(nn.torch_state_dict(m)["lstm.weight_hh_l0"],
                                  t.lstm.weight_hh_l0.detach().numpy())


def test_load_state_dict_refuses_torch_tensors_and_says_what_to_do():
    m = ours_mlp()
    before = m.state_dict()
    with pytest.raises(CheckpointError, match=r"use cr\.nn\.load_torch_state_dict"):
        m.load_state_dict(torch_mlp().state_dict())
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])   # nothing was written


def test_a_pytorch_shaped_weight_is_named_in_the_shape_error():
    m = nn.Sequential(nn.Linear(6, 5), nn.Linear(5, 5)).double()
    sd = {k: v.detach().numpy() for k, v in torch.nn.Sequential(
        torch.nn.Linear(6, 5), torch.nn.Linear(5, 5)).double().state_dict().items()}
    with pytest.raises(CheckpointError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    assert "'0.weight': expected shape (6, 5), got (5, 6)" in msg
    assert "this looks like a PyTorch (out, in) weight" in msg
    assert "cr.nn.load_torch_state_dict" in msg
    assert "'1.weight'" not in msg.split("this looks like")[0].split("mismatches")[-1]


def test_load_torch_state_dict_validates_names_and_shapes():
    m = ours_mlp()
    sd = dict(torch_mlp().state_dict())
    sd.pop("4.bias")
    with pytest.raises(CheckpointError, match=r"missing keys \(1\): '4\.bias'"):
        nn.load_torch_state_dict(m, sd)
    assert nn.load_torch_state_dict(m, sd, strict=False).missing_keys == ["4.bias"]
    sd["0.weight"] = torch.zeros(30)
    with pytest.raises(CheckpointError, match=r"2-D \(out, in\)"):
        nn.load_torch_state_dict(m, sd)
