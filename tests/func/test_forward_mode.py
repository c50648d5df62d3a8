"""Forward mode as users reach it: cr.jvp and cr.hvp on networks, their inputs, their
rules (the per-gate checks are in tests/check/test_forward_mode.py)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.func import forward


def _mlp(rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    params = [rng.standard_normal((6, 5)) * 0.5, rng.standard_normal(5) * 0.1,
              rng.standard_normal((5, 4)) * 0.5, rng.standard_normal(4) * 0.1]
    return params, rng.standard_normal((3, 6)), np.array([0, 3, 1])


def _loss(x: np.ndarray, t: np.ndarray):
    def f(w1, b1, w2, b2):
        h = cr.ops.relu(cr.ops.affine(x, w1, b1))
        return cr.ops.softmax_cross_entropy(cr.ops.affine(h, w2, b2), t)
    return f


def test_the_mlp_loss_takes_rules_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Affine, ReLU and softmax cross-entropy have their own forward rules: pushing a
    tangent through the loss never falls back on a gate's backward."""
    def refuse(*args: object) -> None:
        raise AssertionError("a gate fell back on its backward")
    monkeypatch.setattr(forward, "_by_backward", refuse)
    params, x, t = _mlp(np.random.default_rng(0))
    vs = [np.random.default_rng(1).standard_normal(p.shape) for p in params]
    _, jv = cr.jvp(_loss(x, t), tuple(params), tuple(vs))
    _, hv = cr.hvp(_loss(x, t), tuple(params), tuple(vs))
    assert np.isfinite(jv.data) and all(np.all(np.isfinite(h.data)) for h in hv)


def test_jvp_and_hvp_match_pytorch_on_the_mlp() -> None:
    torch = pytest.importorskip("torch")
    params, x, t = _mlp(np.random.default_rng(2))
    vs = [np.random.default_rng(3).standard_normal(p.shape) for p in params]
    _, jv = cr.jvp(_loss(x, t), tuple(params), tuple(vs))
    _, hv = cr.hvp(_loss(x, t), tuple(params), tuple(vs))
    X, T = torch.tensor(x), torch.tensor(t)

    def tf(w1, b1, w2, b2):
        h = torch.relu(X @ w1 + b1)
        return torch.nn.functional.cross_entropy(h @ w2 + b2, T)
    tp = tuple(torch.tensor(p) for p in params)
    tv = tuple(torch.tensor(v) for v in vs)
    _, tjv = torch.func.jvp(tf, tp, tv)
    _, thv = torch.autograd.functional.hvp(tf, tp, tv)
    np.testing.assert_allclose(jv.data, tjv.numpy(), rtol=1e-12, atol=1e-14)
    for ours, theirs in zip(hv, thv):
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-10, atol=1e-13)


def test_hvp_with_create_graph_differentiates_again() -> None:
    """f = sum(x^4): H = diag(12 x^2), so v.H v = 12 sum(v^2 x^2), whose gradient is
    24 v^2 x."""
    x = cr.tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    v = np.array([1.0, 2.0, -1.0])
    _, hv = cr.hvp(lambda w: cr.sum(w ** 4), x, v, create_graph=True)
    np.testing.assert_allclose(hv.data, 12 * x.data ** 2 * v)
    (g,) = cr.grad(cr.sum(hv * v), [x])
    np.testing.assert_allclose(g.data, 24 * v ** 2 * x.data)


def test_the_callers_arrays_are_neither_copied_nor_written() -> None:
    a = np.array([1.0, 2.0, 3.0])
    seen = []

    def f(x: cr.Tensor) -> cr.Tensor:
        seen.append(np.shares_memory(x.data, a))
        return cr.sum(x * x * x)
    _, hv = cr.hvp(f, a, np.ones(3))
    np.testing.assert_allclose(hv.data, 6 * a)
    assert seen == [True]

    def writes(x: cr.Tensor) -> cr.Tensor:
        x.data[0] = 7.0
        return cr.sum(x)
    for call in (lambda: cr.hvp(writes, a, np.ones(3)), lambda: cr.jvp(writes, a, a),
                 lambda: cr.vjp(writes, a)):
        with pytest.raises(ValueError, match="read-only"):
            call()
    np.testing.assert_array_equal(a, [1.0, 2.0, 3.0])


def test_push_tangents_over_a_graph_the_user_recorded() -> None:
    """Forward mode over any recorded graph, seeded at an intermediate tensor too."""
    x = cr.tensor(np.array([0.3, -1.2]), requires_grad=True)
    h = cr.exp(x)
    y = cr.sum(h * h)
    (dy,) = forward.push_tangents([y], [x], [np.array([1.0, 0.0])])
    np.testing.assert_allclose(dy, 2 * np.exp(2 * 0.3))
    (dh_seeded,) = forward.push_tangents([y], [h], [np.array([0.0, 1.0])])
    np.testing.assert_allclose(dh_seeded, 2 * np.exp(-1.2))
    with pytest.raises(cr.errors.ShapeError, match="tangent of shape \\(1,\\)"):
        forward.push_tangents([y], [x], [np.ones(1)])     # would broadcast: refused
    y.backward()                       # the graph is freed: forward mode says so
    with pytest.raises(cr.errors.GraphFreedError):
        forward.push_tangents([y], [x], [np.ones(2)])


def test_tangents_are_dropped_once_read() -> None:
    """A chain of 40 gates on 800 KB arrays: forward mode holds the tangents of its
    frontier (a few arrays), not one per gate (32 MB)."""
    import tracemalloc
    x = cr.tensor(np.zeros(100_000), requires_grad=True)
    y = x
    for _ in range(40):
        y = y + 1.0
    tracemalloc.start()
    try:
        (dy,) = forward.push_tangents([y], [x], [np.ones(100_000)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(dy, np.ones(100_000))
    assert peak < 8 * 800_000, f"peak {peak / 1e6:.1f} MB"


def test_a_backward_that_leaves_the_graph_is_refused_in_forward_mode() -> None:
    """A gate whose backward turns its upstream into an array cannot give a tangent
    through it: a clear error, not a silently dropped tangent."""
    class Detaching(cr.Gate, register=False):
        def forward(self, x):
            return 2 * x

        def backward(self, gy):
            return 2 * np.asarray(gy.data if isinstance(gy, cr.Tensor) else gy) + 0.0

    x = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = cr.autograd.apply(Detaching(), x)
    with pytest.raises(cr.errors.BackwardError, match="forward mode through Detaching"):
        forward.push_tangents([y], [x], [np.ones(2)])
