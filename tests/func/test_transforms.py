"""Jacobians, their products and Hessians against ``torch.autograd.functional``, over the
whole op set (the torch oracle tables), in float64 to 1e-10."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")
TF = torch.autograd.functional

from tests.core.test_torch_oracle import FUNCTIONS  # noqa: E402
from tests.ops.test_torch_oracle_ops import BINARY, SCANS, UNARY  # noqa: E402

RTOL, ATOL = 1e-10, 1e-12


def _cases() -> dict[str, tuple[Callable, Callable, list[np.ndarray]]]:
    cases = {}
    for name, pair in FUNCTIONS.items():
        cases[name] = (pair.ours, pair.theirs,
                       pair.inputs(np.random.default_rng(sum(map(ord, name)))))
    for name, theirs, (lo, hi) in UNARY:
        cases[name] = (getattr(cr, name), theirs,
                       [np.random.default_rng(1).uniform(lo, hi, (2, 3))])
    for name, theirs in BINARY:
        rng = np.random.default_rng(2)
        cases[name] = (getattr(cr, name), theirs,
                       [rng.uniform(0.3, 3, (2, 1)) * rng.choice([-1, 1], (2, 1)),
                        rng.uniform(0.3, 2, (3,)) * rng.choice([-1, 1], (3,))])
    for label, ours, theirs, make in SCANS:
        cases[label] = (ours, theirs, [make(np.random.default_rng(3))])
    return cases


CASES = _cases()


#: Cases where PyTorch's double backward is NaN and ours is finite (checked below against
#: central differences instead).
TORCH_NAN = {"logcumsumexp wide"}


def _close(ours: object, theirs: object, what: str) -> None:
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, tuple) and len(ours) == len(theirs), what
        for k, (a, b) in enumerate(zip(ours, theirs)):
            _close(a, b, f"{what}[{k}]")
        return
    a = ours.detach().numpy()
    b = theirs.detach().numpy()
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs torch {b.shape}"
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=what)


def _t(arrays: list[np.ndarray]) -> tuple:
    return tuple(torch.tensor(a) for a in arrays)


@pytest.mark.parametrize("name", sorted(CASES))
def test_jacobian_both_modes_match_torch(name: str) -> None:
    ours, theirs, arrays = CASES[name]
    want = TF.jacobian(theirs, _t(arrays))
    if len(arrays) == 1:
        want = want[0] if isinstance(want, tuple) else want
    for mode in ("rev", "fwd"):
        got = cr.jacobian(ours, *arrays, mode=mode)
        _close(got, want, f"{name} jacobian mode={mode}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_jvp_and_vjp_match_torch(name: str) -> None:
    ours, theirs, arrays = CASES[name]
    if name in TORCH_NAN:
        pytest.skip("PyTorch's forward mode is NaN here; see test_where_torch_is_nan")
    rng = np.random.default_rng(9)
    vs = [rng.standard_normal(a.shape) for a in arrays]
    out, jv = cr.jvp(ours, tuple(arrays), tuple(vs))
    tout, tjv = TF.jvp(theirs, _t(arrays), _t(vs))
    _close(out, tout, f"{name} jvp value")
    _close(jv, tjv, f"{name} jvp")
    u = rng.standard_normal(out.shape)
    _, fn = cr.vjp(ours, *arrays)
    _, tvjp = TF.vjp(theirs, _t(arrays), torch.tensor(u))
    _close(fn(u), tvjp if isinstance(tvjp, tuple) else (tvjp,), f"{name} vjp")


@pytest.mark.parametrize("name", sorted(CASES))
def test_hessian_and_hvp_match_torch(name: str) -> None:
    ours, theirs, arrays = CASES[name]
    if name in TORCH_NAN:
        pytest.skip("PyTorch's Hessian is NaN here; see test_where_torch_is_nan")

    def f(*xs: cr.Tensor) -> cr.Tensor:
        return (ours(*xs) ** 2).sum() * 0.5

    def tf(*xs: object) -> object:
        return (theirs(*xs) ** 2).sum() * 0.5

    want = TF.hessian(tf, _t(arrays))
    got = cr.hessian(f, *arrays) if len(arrays) == 1 else cr.hessian(f, tuple(arrays))
    if len(arrays) == 1:
        want = want[0][0] if isinstance(want, tuple) else want
    _close(got, want, f"{name} hessian")
    rng = np.random.default_rng(4)
    vs = [rng.standard_normal(a.shape) for a in arrays]
    _, hv = cr.hvp(f, tuple(arrays), tuple(vs))
    _, thv = TF.hvp(tf, _t(arrays), _t(vs))
    _close(hv, thv, f"{name} hvp")


def test_auto_mode_picks_by_shape_and_create_graph_differentiates_again() -> None:
    x = cr.tensor(np.array([0.3, -1.2, 2.0]), requires_grad=True)
    wide = cr.jacobian(lambda t: cr.outer(t, t), x)             # 9 outputs, 3 inputs: fwd
    tall = cr.jacobian(lambda t: cr.sum(t * t), x)              # 1 output: rev
    assert wide.shape == (3, 3, 3) and tall.shape == (3,)
    np.testing.assert_allclose(tall.detach().numpy(), 2 * x.detach().numpy())
    j = cr.jacobian(lambda t: t ** 3, x, create_graph=True)
    g, = cr.grad(j.sum(), [x])
    np.testing.assert_allclose(g.detach().numpy(), 6 * x.detach().numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="mode must be"):
        cr.jacobian(cr.sin, x, mode="sideways")


def test_unused_inputs_and_constant_outputs_give_zeros() -> None:
    a, b = np.ones(2), np.ones(3)
    ja, jb = cr.jacobian(lambda x, y: x * 2.0, a, b)
    assert ja.shape == (2, 2) and jb.shape == (2, 3) and not jb.detach().numpy().any()
    _, jv = cr.jvp(lambda x: cr.ones(4), (a,), (a,))
    assert jv.shape == (4,) and not jv.detach().numpy().any()
    np.testing.assert_array_equal(cr.jacobian(lambda x: x, a, mode="fwd").detach().numpy(),
            np.eye(2))


def test_vmap_is_a_loop_that_stacks() -> None:
    x = np.random.default_rng(0).standard_normal((4, 3))
    w = cr.tensor(np.ones(3), requires_grad=True)
    y = cr.vmap(lambda row, v: (row * v).sum(), in_dims=(0, None))(x, w)
    np.testing.assert_allclose(y.detach().numpy(), x.sum(1))
    y.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), x.sum(0))
    pairs = cr.vmap(lambda r: (r.sum(), r * 2), out_dims=(0, 1))(x)
    assert pairs[0].shape == (4,) and pairs[1].shape == (3, 4)


def test_gradcheck_forward_mode() -> None:
    x = cr.tensor(np.random.default_rng(1).standard_normal((2, 3)), requires_grad=True)
    assert cr.gradcheck(lambda t: cr.sin(t) @ t.T, [x], modes=("rev", "fwd"))

    class Wrong(cr.Gate, register=False):
        def forward(self, a):
            return a * 2

        def backward(self, g):
            return g * 3

    with pytest.raises(cr.GradcheckError, match="forward mode"):
        cr.gradcheck(lambda t: cr.apply(Wrong(), t), [x], modes=("fwd",))
    with pytest.raises(ValueError, match="modes"):
        cr.gradcheck(cr.sin, [x], modes=("sideways",))


@pytest.mark.parametrize("name", sorted(TORCH_NAN))
def test_where_torch_is_nan_ours_is_finite_and_right(name: str) -> None:
    ours, theirs, arrays = CASES[name]
    _, tjv = TF.jvp(theirs, _t(arrays), _t([np.ones_like(a) for a in arrays]))
    assert np.isnan(tjv.detach().numpy()).any()
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    assert cr.gradcheck(ours, xs, modes=("rev", "fwd"))
    assert cr.gradgradcheck(ours, xs)
    h = cr.hessian(lambda *t: (ours(*t) ** 2).sum() * 0.5, *arrays)
    assert np.isfinite(h.detach().numpy()).all()
