"""RNN, LSTM, GRU and their cells against PyTorch (values and every gradient),
gradcheck in float64, and backprop through time in cr.explain."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")

TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=1e-5, atol=1e-5)}
TDT = {np.float64: torch.float64, np.float32: torch.float32}


def _copy_to_torch(ours, theirs):
    """Same names, same layout: the PyTorch state dict loads without any mapping."""
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})


def _compare(ours, theirs, xs, dtype, n_out, mods=None):
    """Run both on the same inputs, backprop the same random weights of every output,
    and compare outputs, input gradients and parameter gradients (of ``mods``, the
    two modules, when ``ours``/``theirs`` are wrappers)."""
    tol = TOL[dtype]
    om, tm = mods or (ours, theirs)
    om.zero_grad()
    tm.zero_grad()
    cx = [cr.tensor(x, requires_grad=True) for x in xs]
    tx = [torch.tensor(x, requires_grad=True) for x in xs]
    out = ours(*cx)
    tout = theirs(*tx)
    flat = lambda o: [t for v in o for t in (v if isinstance(v, tuple) else (v,))]  # noqa: E731
    out, tout = (flat(out), flat(tout)) if isinstance(out, tuple) else ([out], [tout])
    assert len(out) == len(tout) == n_out
    rng = np.random.default_rng(1)
    loss, tloss = 0, 0
    for a, b in zip(out, tout):
        assert a.shape == tuple(b.shape) and a.dtype == dtype
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **tol)
        w = rng.standard_normal(a.shape).astype(dtype)
        loss = loss + (a * cr.tensor(w)).sum()
        tloss = tloss + (b * torch.tensor(w)).sum()
    loss.backward()
    tloss.backward()
    for a, b in zip(cx, tx):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol)
    tp = dict(tm.named_parameters())
    for name, p in om.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), **tol,
                                   err_msg=name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["RNN", "RNN_relu", "LSTM", "GRU"])
@pytest.mark.parametrize("layers, bidirectional, batch_first, bias", [
    (1, False, False, True), (2, True, True, True), (2, False, True, False),
    (1, True, False, True)])
def test_layers_match_pytorch(kind, layers, bidirectional, batch_first, bias, dtype):
    cr.manual_seed(3)
    cls = kind.split("_")[0]
    extra = {"nonlinearity": "relu"} if kind == "RNN_relu" else {}
    kw = dict(num_layers=layers, bidirectional=bidirectional, batch_first=batch_first,
              bias=bias, **extra)
    ours = getattr(nn, cls)(3, 4, dtype=dtype, **kw)
    theirs = getattr(torch.nn, cls)(3, 4, dtype=TDT[dtype], **kw)
    _copy_to_torch(ours, theirs)
    rng = np.random.default_rng(0)
    D = 2 if bidirectional else 1
    x = rng.standard_normal((2, 5, 3) if batch_first else (5, 2, 3)).astype(dtype)
    h0 = rng.standard_normal((D * layers, 2, 4)).astype(dtype)
    if cls == "LSTM":
        c0 = rng.standard_normal((D * layers, 2, 4)).astype(dtype)
        _compare(lambda x, h, c: ours(x, (h, c)), lambda x, h, c: theirs(x, (h, c)),
                 [x, h0, c0], dtype, 3, (ours, theirs))
        _compare(ours, theirs, [x], dtype, 3)           # zero initial state
    else:
        _compare(ours, theirs, [x, h0], dtype, 2)
        _compare(ours, theirs, [x], dtype, 2)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_unbatched_input_and_shapes_are_pytorchs(cls):
    ours = getattr(nn, cls)(3, 4, num_layers=2, bidirectional=True, dtype=np.float64)
    theirs = getattr(torch.nn, cls)(3, 4, num_layers=2, bidirectional=True,
                                    dtype=torch.float64)
    _copy_to_torch(ours, theirs)
    x = np.random.default_rng(0).standard_normal((6, 3))
    _compare(ours, theirs, [x], np.float64, 3 if cls == "LSTM" else 2)
    y, h = ours(cr.tensor(x))
    assert y.shape == (6, 8)
    assert (h[0] if cls == "LSTM" else h).shape == (4, 4)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cls, extra", [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}),
                                        ("LSTMCell", {}), ("GRUCell", {}),
                                        ("GRUCell", {"bias": False})])
def test_cells_match_pytorch(cls, extra, dtype):
    ours = getattr(nn, cls)(3, 5, dtype=dtype, **extra)
    theirs = getattr(torch.nn, cls)(3, 5, dtype=TDT[dtype], **extra)
    _copy_to_torch(ours, theirs)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3)).astype(dtype)
    h = rng.standard_normal((4, 5)).astype(dtype)
    if cls == "LSTMCell":
        c = rng.standard_normal((4, 5)).astype(dtype)
        _compare(lambda x, h, c: ours(x, (h, c)), lambda x, h, c: theirs(x, (h, c)),
                 [x, h, c], dtype, 2, (ours, theirs))
    else:
        _compare(ours, theirs, [x, h], dtype, 1)
    _compare(ours, theirs, [x], dtype, 2 if cls == "LSTMCell" else 1)
    _compare(ours, theirs, [x[0]], dtype, 2 if cls == "LSTMCell" else 1)   # unbatched


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_gradcheck_through_time(cls):
    cr.manual_seed(0)
    m = getattr(nn, cls)(2, 3, num_layers=2, bidirectional=True, dtype=np.float64)
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    h0 = cr.tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)
    params = list(m.parameters())[:4]

    def f(x, h0, *ps):
        if cls == "LSTM":
            y, (h, c) = m(x, (h0, h0 * 0.5))
            return y.sum() + (h * c).sum()
        y, h = m(x, h0)
        return (y * y).sum() + h.sum()

    assert cr.gradcheck(f, (x, h0, *params))


def test_cells_gradcheck():
    cr.manual_seed(1)
    rng = np.random.default_rng(1)
    x = cr.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    h = cr.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    for cell in (nn.RNNCell(3, 4, dtype=np.float64), nn.GRUCell(3, 4, dtype=np.float64)):
        assert cr.gradcheck(lambda x, h, w, cell=cell: (cell(x, h) ** 2).sum(),
                            (x, h, cell.weight_hh))
    lstm = nn.LSTMCell(3, 4, dtype=np.float64)
    assert cr.gradcheck(lambda x, h, w: sum(t.sum() for t in lstm(x, (h, h))),
                        (x, h, lstm.weight_ih))


def test_explain_shows_backprop_through_time_unrolled():
    cr.manual_seed(0)
    rnn = nn.RNN(2, 2, dtype=np.float64)
    x = cr.tensor(np.random.default_rng(0).standard_normal((3, 1, 2)))
    _, h = rnn(x)
    e = cr.explain(h.sum())
    gates = [r.gate for r in e.rows]
    assert gates.count("Tanh") == 3        # one tanh per time step
    assert gates.count("MatMul") == 6      # x_t W_ih^T and h W_hh^T at each step
    assert all(r.scope == "RNN" for r in e.rows[1:])
    assert "weight_hh_l0" in str(e)
    # The table's gradient for W_hh is the one backward computes.
    h.sum().backward()
    np.testing.assert_allclose(e.gradients["weight_hh_l0"],
                               rnn.weight_hh_l0.grad.numpy(), rtol=1e-12)


def test_weights_use_pytorchs_names_layout_and_init():
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    t = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    ours = {k: v.shape for k, v in m.state_dict().items()}
    assert ours == {k: tuple(v.shape) for k, v in t.state_dict().items()}
    assert list(ours) == list(t.state_dict())
    assert all(np.abs(p.detach().numpy()).max() <= 0.5 for p in m.parameters())   # 1/sqrt(4)
    assert m.weight_ih_l0.dtype == np.float32
    assert "bidirectional=True" in repr(m) and "num_layers=2" in repr(m)


def test_wrong_shapes_and_settings_are_explained():
    lstm = nn.LSTM(3, 4, batch_first=True)
    with pytest.raises(cr.ShapeError, match=r"\(N, L, 3\)"):
        lstm(cr.tensor(np.zeros((2, 5, 4), np.float32)))
    with pytest.raises(cr.ShapeError, match=r"h0 must have shape \(1, 2, 4\)"):
        lstm(cr.tensor(np.zeros((2, 5, 3), np.float32)), (np.zeros((2, 4)), np.zeros((2, 4))))
    with pytest.raises(TypeError, match=r"pair \(h0, c0\)"):
        lstm(cr.tensor(np.zeros((2, 5, 3), np.float32)), np.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="dropout"):
        nn.GRU(3, 4, dropout=1.0)
    with pytest.raises(cr.ShapeError, match=r"\(N, 3\)"):
        nn.GRUCell(3, 4)(np.zeros((2, 5), np.float32))


def test_dropout_between_layers_only_in_training():
    cr.manual_seed(0)
    m = nn.GRU(3, 4, num_layers=2, dropout=0.5, dtype=np.float64)
    x = cr.tensor(np.random.default_rng(0).standard_normal((5, 2, 3)))
    y1, _ = m(x)
    y2, _ = m(x)
    assert not np.allclose(y1.detach().numpy(), y2.detach().numpy())
    m.eval()
    theirs = torch.nn.GRU(3, 4, num_layers=2, dropout=0.5, dtype=torch.float64).eval()
    _copy_to_torch(m, theirs)
    np.testing.assert_allclose(m(x)[0].detach().numpy(), theirs(torch.tensor(x.detach().numpy()))[0]
                               .detach().numpy(), rtol=1e-10, atol=1e-12)
