"""LayerNorm, GroupNorm and Embedding against PyTorch (values and gradients), gradcheck,
and Embedding's padding row and repeated indices."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")

TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=1e-5, atol=1e-5)}


def _randomize(ours, theirs, dtype, seed=0):
    rng = np.random.default_rng(seed)
    for (name, p), (tname, t) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        v = rng.standard_normal(p.shape).astype(dtype)
        p.data[...] = v
        with torch.no_grad():
            t.copy_(torch.tensor(v))


def _check(ours, theirs, x, dtype):
    tol = TOL[dtype]
    cx = cr.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    y, ty = ours(cx), theirs(tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **tol)
    w = np.random.default_rng(9).standard_normal(y.shape).astype(dtype)
    (y * cr.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), **tol)
    for (n, p), (_, t) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), **tol, err_msg=n)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, norm, kw", [
    ((4, 6), 6, {}), ((2, 3, 4, 5), (4, 5), {}), ((3, 5, 7), [7], {"bias": False}),
    ((3, 8), 8, {"elementwise_affine": False}), ((2, 3, 4), (3, 4), {"eps": 1e-3})])
def test_layer_norm_matches_pytorch(shape, norm, kw, dtype):
    ours = nn.LayerNorm(norm, dtype=dtype, **kw)
    theirs = torch.nn.LayerNorm(norm, dtype=getattr(torch, np.dtype(dtype).name), **kw)
    _randomize(ours, theirs, dtype)
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype) * 3 + 1
    _check(ours, theirs, x, dtype)
    assert [n for n, _ in ours.named_parameters()] == \
        [n for n, _ in theirs.named_parameters()]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("groups, channels, shape, affine", [
    (2, 6, (3, 6), True), (3, 6, (2, 6, 5), True), (1, 4, (2, 4, 3, 3), True),
    (4, 4, (2, 4, 3, 2), False)])
def test_group_norm_matches_pytorch(groups, channels, shape, affine, dtype):
    ours = nn.GroupNorm(groups, channels, affine=affine, dtype=dtype)
    theirs = torch.nn.GroupNorm(groups, channels, affine=affine,
                                dtype=getattr(torch, np.dtype(dtype).name))
    _randomize(ours, theirs, dtype)
    x = np.random.default_rng(2).standard_normal(shape).astype(dtype)
    _check(ours, theirs, x, dtype)


def test_norms_gradcheck_and_errors():
    rng = np.random.default_rng(3)
    x = cr.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    w = cr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = cr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert cr.gradcheck(lambda x, w, b: F.layer_norm(x, (3, 4), w, b), (x, w, b))
    assert cr.gradgradcheck(lambda x, w: F.layer_norm(x, 4, w[0]), (x, w))
    gw = cr.tensor(rng.standard_normal(3), requires_grad=True)
    assert cr.gradcheck(lambda x, w: F.group_norm(x, 3, w, w * 2), (x, gw))
    with pytest.raises(cr.ShapeError, match=r"last axes of the input, whose shape is"):
        nn.LayerNorm(5)(cr.tensor(np.zeros((2, 4), np.float32)))
    with pytest.raises(ValueError, match="multiple of num_groups"):
        nn.GroupNorm(4, 6)
    with pytest.raises(cr.ShapeError, match=r"\(N, 6, \.\.\.\)"):
        nn.GroupNorm(3, 6)(np.zeros((2, 4), np.float32))


# ---------------------------------------------------------------------- Embedding
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_matches_pytorch_with_repeated_indices(padding_idx, dtype):
    ours = nn.Embedding(7, 3, padding_idx=padding_idx, dtype=dtype)
    theirs = torch.nn.Embedding(7, 3, padding_idx=padding_idx,
                                dtype=getattr(torch, np.dtype(dtype).name))
    _randomize(ours, theirs, dtype)    # the padding row too: PyTorch still reads it
    idx = np.array([[0, 2, 2, 6], [2, 5, 0, 6]])
    y, ty = ours(idx), theirs(torch.tensor(idx))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **TOL[dtype])
    w = np.random.default_rng(4).standard_normal(y.shape).astype(dtype)
    (y * cr.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(),
                               **TOL[dtype])
    g = ours.weight.grad.numpy()
    if padding_idx is None:
        # repeated indices accumulate: row 2 is used three times
        np.testing.assert_allclose(g[2], w[0, 1] + w[0, 2] + w[1, 0], **TOL[dtype])
    else:
        assert np.all(g[padding_idx % 7] == 0)


def test_embedding_padding_row_starts_at_zero_and_init_is_normal():
    cr.manual_seed(0)
    e = nn.Embedding(1000, 8, padding_idx=3)
    assert np.all(e.weight.detach().numpy()[3] == 0)
    w = np.delete(e.weight.detach().numpy(), 3, axis=0)
    assert abs(w.mean()) < 0.05 and abs(w.std() - 1) < 0.05
    assert e.weight.dtype == np.float32 and e(np.array([1, 3])).shape == (2, 8)
    assert "padding_idx=3" in repr(e)


def test_embedding_gradcheck_from_pretrained_and_errors():
    rng = np.random.default_rng(5)
    w = cr.tensor(rng.standard_normal((5, 2)), requires_grad=True)
    idx = np.array([1, 1, 4, 0])
    assert cr.gradcheck(lambda w: F.embedding(idx, w) ** 2, (w,))
    # (with padding_idx=0 the row 0 is a constant on purpose: no gradient)
    assert cr.gradcheck(lambda w: F.embedding(idx, w, padding_idx=3) ** 2, (w,))
    pre = nn.Embedding.from_pretrained(w.detach().numpy())
    assert not pre.weight.requires_grad and pre.weight.dtype == np.float64
    np.testing.assert_array_equal(pre(np.array([4])).detach().numpy(), w.detach().numpy()[[4]])
    assert nn.Embedding.from_pretrained(w.detach().numpy(), freeze=False).weight.requires_grad
    e = nn.Embedding(5, 2)
    with pytest.raises(IndexError, match=r"\[0, 5\).*max 5"):
        e(np.array([0, 5]))
    with pytest.raises(IndexError, match="min -1"):
        e(np.array([-1]))
    with pytest.raises(cr.DtypeError, match="integers"):
        e(np.array([0.0, 1.0]))
    with pytest.raises(NotImplementedError, match="max_norm"):
        nn.Embedding(5, 2, max_norm=1.0)
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(5, 2, padding_idx=5)


def test_embedding_loads_a_torch_state_dict_unchanged():
    t = torch.nn.Sequential(torch.nn.Embedding(6, 4), torch.nn.LayerNorm(4))
    m = nn.Sequential(nn.Embedding(6, 4), nn.LayerNorm(4))
    nn.load_torch_state_dict(m, t.state_dict())
    idx = np.array([[1, 5], [0, 0]])
    np.testing.assert_allclose(m(idx).detach().numpy(), t(torch.tensor(idx)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
