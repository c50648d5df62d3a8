"""nn.utils (clipping, parameter vectors) against PyTorch; cr.inference_mode;
cr.set_num_threads / get_num_threads."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")


def _pair(dtype, scale=1.0):
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (4,), (2, 2, 2)]
    grads = [scale * rng.standard_normal(s).astype(dtype) for s in shapes]
    ours = [nn.Parameter(np.zeros(s, dtype)) for s in shapes]
    theirs = [torch.zeros(s, dtype=getattr(torch, np.dtype(dtype).name), requires_grad=True)
              for s in shapes]
    for p, t, g in zip(ours, theirs, grads):
        p.grad = cr.tensor(g.copy())
        t.grad = torch.tensor(g.copy())
    return ours, theirs


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-6)])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, math.inf, "inf"])
def test_clip_grad_norm_matches_pytorch(dtype, tol, max_norm, norm_type):
    ours, theirs = _pair(dtype)
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=float(norm_type))
    assert total.shape == () and total.dtype == dtype
    np.testing.assert_allclose(total.item(), t_total.item(), rtol=tol)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol)


def test_clip_grad_norm_nonfinite_and_edge_cases():
    ours, _ = _pair(np.float64)
    ours[0].grad.data[0, 0] = np.nan
    before = ours[1].grad.numpy().copy()
    with pytest.raises(RuntimeError, match="NaN or infinite"):
        nn.utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(ours[1].grad.numpy(), before)   # left untouched
    assert np.isnan(nn.utils.clip_grad_norm_(ours, 1.0).item())
    assert np.all(np.isnan(ours[1].grad.numpy()))                 # as PyTorch
    p = nn.Parameter(np.zeros(2))
    assert nn.utils.clip_grad_norm_(p, 1.0).item() == 0.0         # no gradient at all
    with pytest.raises(ValueError, match="norm_type"):
        nn.utils.clip_grad_norm_([p], 1.0, norm_type=-1)
    with pytest.raises(ValueError, match="max_norm"):
        nn.utils.clip_grad_norm_([p], -1.0)


def test_clip_grad_value_matches_pytorch():
    ours, theirs = _pair(np.float64, scale=3.0)
    nn.utils.clip_grad_value_(ours, 1.5)
    torch.nn.utils.clip_grad_value_(theirs, 1.5)
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.numpy(), t.grad.numpy())
    assert max(np.abs(p.grad.numpy()).max() for p in ours) == 1.5


def test_parameters_to_vector_and_back():
    cr.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)).double()
    v = nn.utils.parameters_to_vector(m.parameters())
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)).double()
    nn.load_torch_state_dict(m, tm.state_dict())
    # The order is the parameters' order; the layout is each parameter's own.
    v = nn.utils.parameters_to_vector(m.parameters())
    assert v.shape == (4 * 3 + 4 + 4 * 2 + 2,) and not v.requires_grad
    np.testing.assert_array_equal(v.detach().numpy()[:12], m[0].weight.detach().numpy().ravel())
    x = cr.tensor(np.ones((1, 3)))
    y0 = m(x).detach().numpy()
    w = m[0].weight
    nn.utils.vector_to_parameters(v.detach().numpy() * 0, m.parameters())
    assert np.all(m(x).detach().numpy() == 0) and w.version > 0
    nn.utils.vector_to_parameters(v, m.parameters())
    np.testing.assert_array_equal(m(x).detach().numpy(), y0)
    with pytest.raises(cr.ShapeError, match="1-D vector of 26"):
        nn.utils.vector_to_parameters(np.zeros(5), m.parameters())


def test_inference_mode_records_nothing():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with cr.inference_mode():
        y = w * 2
        assert not cr.is_grad_enabled()
    assert not y.requires_grad and y.creator is None and cr.is_grad_enabled()

    @cr.inference_mode()
    def f(t):
        return t * 3

    @cr.inference_mode
    def g(t):
        return t * 3

    assert not f(w).requires_grad and not g(w).requires_grad
    with cr.inference_mode(False):
        assert (w * 2).requires_grad


def test_set_num_threads_changes_the_blas_threads():
    pytest.importorskip("threadpoolctl")
    before = cr.get_num_threads()
    try:
        cr.set_num_threads(1)
        assert cr.get_num_threads() == 1
        from threadpoolctl import threadpool_info
        assert all(i["num_threads"] == 1 for i in threadpool_info()
                   if i["user_api"] == "blas")
    finally:
        cr.set_num_threads(before)
    assert cr.get_num_threads() == before
    with pytest.raises(ValueError, match="positive int"):
        cr.set_num_threads(0)


def test_set_num_threads_without_threadpoolctl_says_how(monkeypatch):
    import builtins
    real = builtins.__import__

    def no_threadpoolctl(name, *args, **kwargs):
        if name == "threadpoolctl":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_threadpoolctl)
    with pytest.raises(RuntimeError, match=r"OPENBLAS_NUM_THREADS.*before NumPy is imported"):
        cr.set_num_threads(1)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    assert cr.get_num_threads() == 3
