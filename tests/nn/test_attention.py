"""F.scaled_dot_product_attention and nn.MultiheadAttention against PyTorch (values and
gradients), gradcheck, and the mask conventions."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional
TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=1e-5, atol=1e-5)}


def _grads_match(ours, theirs, arrays, dtype, n_outputs=1):
    tol = TOL[dtype]
    cx = [cr.tensor(a, requires_grad=True) for a in arrays]
    tx = [torch.tensor(a, requires_grad=True) for a in arrays]
    ys, tys = ours(*cx), theirs(*tx)
    ys = ys if isinstance(ys, tuple) else (ys,)
    tys = tys if isinstance(tys, tuple) else (tys,)
    rng = np.random.default_rng(7)
    loss, tloss = 0, 0
    for y, ty in list(zip(ys, tys))[:n_outputs]:
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **tol)
        w = rng.standard_normal(y.shape).astype(dtype)
        loss = loss + (y * cr.tensor(w)).sum()
        tloss = tloss + (ty * torch.tensor(w)).sum()
    loss.backward()
    tloss.backward()
    for a, b in zip(cx, tx):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol)


def _qkv(dtype, batch=(2, 3), L=4, S=6, E=5, Ev=7, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((*batch, n, e)).astype(dtype)
            for n, e in ((L, E), (S, E), (S, Ev))]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", ["plain", "bool", "float", "causal", "scale", "broadcast"])
def test_sdpa_matches_pytorch(case, dtype):
    q, k, v = _qkv(dtype, S=4 if case == "causal" else 6)
    rng = np.random.default_rng(1)
    kw: dict = {}
    if case == "bool":
        m = rng.random((4, 6)) > 0.4
        m[:, 0] = True                 # every query keeps at least one key
        kw = {"attn_mask": m}
    elif case == "float":
        kw = {"attn_mask": rng.standard_normal((2, 3, 4, 6)).astype(dtype)}
    elif case == "causal":
        kw = {"is_causal": True}
    elif case == "scale":
        kw = {"scale": 0.3}
    elif case == "broadcast":
        q = q[0]                       # (3, 4, 5) against keys (2, 3, 6, 5)
    tkw = {k_: (torch.tensor(v_) if isinstance(v_, np.ndarray) else v_)
           for k_, v_ in kw.items()}
    _grads_match(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kw),
                 lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, **tkw),
                 [q, k, v], dtype)


def test_sdpa_gradcheck_dropout_and_errors():
    q, k, v = (cr.tensor(a, requires_grad=True) for a in _qkv(np.float64, (2,), 3, 4, 2, 3))
    m = np.ones((3, 4), bool)
    m[1, 2:] = False
    assert cr.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, m), (q, k, v))
    assert cr.gradgradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
                            (q, k, v))
    cr.manual_seed(0)
    out = F.scaled_dot_product_attention(q, k, cr.tensor(np.ones((2, 4, 3))), dropout_p=0.5)
    # each output row is (sum of the kept weights) * 2: not all 1 any more
    assert not np.allclose(out.detach().numpy(), 1.0)
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, k, v, m, is_causal=True)
    with pytest.raises(cr.ShapeError, match="does not broadcast"):
        F.scaled_dot_product_attention(q, k, v, np.ones((3, 5), bool))
    with pytest.raises(cr.ShapeError, match=r"query \(\.\.\., L, E\)"):
        F.scaled_dot_product_attention(q, k[..., :1], v)


def _mha_pair(dtype, batch_first=False, bias=True, seed=0):
    cr.manual_seed(seed)
    torch.manual_seed(seed)
    tdt = getattr(torch, np.dtype(dtype).name)
    t = torch.nn.MultiheadAttention(8, 2, bias=bias, batch_first=batch_first, dtype=tdt)
    with torch.no_grad():       # non-zero biases, so that they are tested too
        for p in t.parameters():
            p.copy_(torch.randn(p.shape, dtype=tdt) * 0.5)
    m = nn.MultiheadAttention(8, 2, bias=bias, batch_first=batch_first, dtype=dtype)
    nn.load_torch_state_dict(m, t.state_dict())
    return m, t


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", ["self", "cross", "key_padding", "bool_mask", "float_mask",
                                  "per_head_mask", "heads", "batch_first", "no_bias",
                                  "unbatched"])
def test_multihead_attention_matches_pytorch(case, dtype):
    m, t = _mha_pair(dtype, batch_first=case == "batch_first", bias=case != "no_bias")
    rng = np.random.default_rng(3)
    L, S, N = 4, 5 if case == "cross" else 4, 3
    q = rng.standard_normal((L, N, 8)).astype(dtype)
    kv = rng.standard_normal((S, N, 8)).astype(dtype) if case == "cross" else q
    kw: dict = {}
    if case == "key_padding":
        pad = np.zeros((N, S), bool)
        pad[1, 2:] = True
        kw = {"key_padding_mask": pad}
    elif case == "bool_mask":
        kw = {"attn_mask": ~np.tril(np.ones((L, S), bool))}
    elif case == "float_mask":
        kw = {"attn_mask": rng.standard_normal((L, S)).astype(dtype)}
    elif case == "per_head_mask":
        kw = {"attn_mask": rng.standard_normal((N * 2, L, S)).astype(dtype)}
    elif case == "heads":
        kw = {"average_attn_weights": False}
    elif case == "batch_first":
        q = kv = q.swapaxes(0, 1).copy()
    elif case == "unbatched":
        q = kv = q[:, 0].copy()
    tkw = {k_: (torch.tensor(v_) if isinstance(v_, np.ndarray) else v_)
           for k_, v_ in kw.items()}
    _grads_match(lambda a, b: m(a, b, b, **kw), lambda a, b: t(a, b, b, **tkw), [q, kv],
                 dtype, n_outputs=2)
    # parameter gradients (through the output), names mapped by load_torch_state_dict
    tp = dict(t.named_parameters())
    for name, p in m.named_parameters():
        g = tp[name].grad.numpy()
        np.testing.assert_allclose(p.grad.numpy(), g.T if name == "out_proj.weight" else g,
                                   **TOL[dtype], err_msg=name)


def test_multihead_attention_need_weights_causal_and_round_trip():
    m, t = _mha_pair(np.float64)
    x = cr.tensor(np.random.default_rng(0).standard_normal((4, 2, 8)))
    out, w = m(x, x, x, need_weights=False)
    assert w is None and out.shape == (4, 2, 8)
    causal = ~np.tril(np.ones((4, 4), bool))
    a, wa = m(x, x, x, is_causal=True)
    b, wb = m(x, x, x, attn_mask=causal)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    np.testing.assert_array_equal(wa.detach().numpy(), wb.detach().numpy())
    assert np.all(wa.detach().numpy()[:, 0, 1:] == 0)      # the first query sees only itself
    sd = nn.torch_state_dict(m)
    assert {k: v.shape for k, v in sd.items()} == {k: tuple(v.shape)
                                                   for k, v in t.state_dict().items()}


def test_multihead_attention_gradcheck_and_errors():
    cr.manual_seed(0)
    m = nn.MultiheadAttention(4, 2, dtype=np.float64)
    x = cr.tensor(np.random.default_rng(1).standard_normal((3, 2, 4)), requires_grad=True)
    pad = np.array([[False, False, True], [False, False, False]])
    assert cr.gradcheck(lambda x, w: m(x, x, x, key_padding_mask=pad)[0],
                        (x, m.in_proj_weight))
    with pytest.raises(ValueError, match="multiple of num_heads"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(NotImplementedError, match="kdim"):
        nn.MultiheadAttention(4, 2, kdim=3)
    with pytest.raises(cr.ShapeError, match=r"key_padding_mask must be \(N, S\)"):
        m(x, x, x, key_padding_mask=np.zeros((3, 2), bool))
    with pytest.raises(cr.ShapeError, match=r"attn_mask must be \(L, S\)"):
        m(x, x, x, attn_mask=np.zeros((2, 3), bool))
    with pytest.raises(cr.ShapeError, match=r"\(L, N, E\)"):
        m(x[..., :3], x, x)
