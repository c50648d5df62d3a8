"""Optimizers: updates worked out by hand, agreement with PyTorch, state dicts, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, optim
from chainrule.errors import InplaceModificationError
from chainrule.serialization import load, save

# The tiny problem of the by-hand tests: one parameter p0 = (1, -2) and two steps with
# the fixed gradients g1 = (0.5, 1) and g2 = (-1, 2).
P0 = [1.0, -2.0]
G1 = [0.5, 1.0]
G2 = [-1.0, 2.0]


def two_steps(opt_cls, **kw):
    p = nn.Parameter(P0)
    opt = opt_cls([p], **kw)
    out = []
    for g in (G1, G2):
        p.grad = cr.tensor(g)
        opt.step()
        out.append(p.data.copy())
    return out, opt, p


# ---------------------------------------------------------------------- by hand
def test_sgd_by_hand():
    (p1, p2), _, _ = two_steps(optim.SGD, lr=0.1)
    np.testing.assert_allclose(p1, [1 - 0.05, -2 - 0.1])            # p - lr g1
    np.testing.assert_allclose(p2, [0.95 + 0.1, -2.1 - 0.2])         # p - lr g2


def test_sgd_momentum_by_hand():
    (p1, p2), opt, p = two_steps(optim.SGD, lr=0.1, momentum=0.9)
    # b1 = g1 = (0.5, 1)             -> p1 = p0 - 0.1 b1 = (0.95, -2.1)
    # b2 = 0.9 b1 + g2 = (-0.55, 2.9) -> p2 = p1 - 0.1 b2 = (1.005, -2.39)
    np.testing.assert_allclose(p1, [0.95, -2.1])
    np.testing.assert_allclose(p2, [1.005, -2.39])
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], [-0.55, 2.9])


def test_sgd_nesterov_by_hand():
    (p1, p2), _, _ = two_steps(optim.SGD, lr=0.1, momentum=0.9, nesterov=True)
    # step 1: b = g1; g = g1 + 0.9 b = (0.95, 1.9)        -> p1 = (0.905, -2.19)
    # step 2: b = (-0.55, 2.9); g = g2 + 0.9 b = (-1.495, 4.61) -> p2 = (1.0545, -2.651)
    np.testing.assert_allclose(p1, [0.905, -2.19])
    np.testing.assert_allclose(p2, [1.0545, -2.651])


def test_sgd_dampening_and_weight_decay_by_hand():
    (p1, p2), _, _ = two_steps(optim.SGD, lr=0.1, momentum=0.5, dampening=0.5)
    # b1 = g1 (no dampening on the first step); b2 = 0.5 b1 + 0.5 g2 = (-0.25, 1.5)
    np.testing.assert_allclose(p1, [0.95, -2.1])
    np.testing.assert_allclose(p2, [0.975, -2.25])
    (p1, _), _, _ = two_steps(optim.SGD, lr=0.1, weight_decay=0.1)
    # g = g1 + 0.1 p0 = (0.6, 0.8)
    np.testing.assert_allclose(p1, [0.94, -2.08])


def test_adagrad_by_hand():
    (p1, p2), opt, p = two_steps(optim.Adagrad, lr=0.1)
    # h1 = g1^2 = (0.25, 1): the first step is lr * sign(g1)
    np.testing.assert_allclose(p1, [0.9, -2.1])
    # h2 = (1.25, 5): p2 = p1 - 0.1 * (-1/sqrt(1.25), 2/sqrt(5))
    np.testing.assert_allclose(p2, [0.9 + 0.1 / math.sqrt(1.25), -2.1 - 0.2 / math.sqrt(5)])
    np.testing.assert_allclose(p2, [0.98944271910, -2.18944271910])
    np.testing.assert_allclose(opt.state[p]["sum"], [1.25, 5.0])
    assert opt.state[p]["step"] == 2
    (_, p2), _, _ = two_steps(optim.Adagrad, lr=0.1, lr_decay=1.0)
    # second step uses lr / (1 + 1 * lr_decay) = 0.05
    np.testing.assert_allclose(p2, [0.9 + 0.05 / math.sqrt(1.25), -2.1 - 0.1 / math.sqrt(5)])


def test_rmsprop_by_hand():
    (p1, p2), opt, p = two_steps(optim.RMSprop, lr=0.01, alpha=0.99, eps=0.0)
    # v1 = 0.01 g1^2 = (0.0025, 0.01); g1 / sqrt(v1) = (10, 10)  -> p1 = p0 - 0.1
    np.testing.assert_allclose(p1, [0.9, -2.1])
    # v2 = 0.99 v1 + 0.01 g2^2 = (0.012475, 0.0499)
    np.testing.assert_allclose(opt.state[p]["square_avg"], [0.012475, 0.0499])
    np.testing.assert_allclose(p2, [0.9 + 0.01 / math.sqrt(0.012475),
                                    -2.1 - 0.02 / math.sqrt(0.0499)])
    np.testing.assert_allclose(p2, [0.98953229621, -2.18953229621])


def test_adam_by_hand():
    (p1, p2), opt, p = two_steps(optim.Adam, lr=0.1)
    # Step 1: m = 0.1 g1, v = 0.001 g1^2; bias correction gives m^ = g1, v^ = g1^2, so
    # the step is lr * g1 / |g1| = lr * sign(g1) (eps is negligible).
    np.testing.assert_allclose(p1, [0.9, -2.1])
    # Step 2: m = 0.9 m + 0.1 g2 = (-0.055, 0.29); v = 0.999 v + 0.001 g2^2
    #         = (0.00124975, 0.004999); m^ = m / (1 - 0.9^2), v^ = v / (1 - 0.999^2)
    m = np.array([-0.055, 0.29])
    v = np.array([0.00124975, 0.004999])
    np.testing.assert_allclose(opt.state[p]["exp_avg"], m)
    np.testing.assert_allclose(opt.state[p]["exp_avg_sq"], v)
    step = 0.1 * (m / 0.19) / np.sqrt(v / 0.001999)
    np.testing.assert_allclose(step, [-0.0366103527, 0.0965182026], rtol=1e-9)
    np.testing.assert_allclose(p2, np.array([0.9, -2.1]) - step, rtol=1e-7)
    assert opt.state[p]["step"] == 2


def test_adamw_decays_the_weights_before_the_adam_step():
    (p1, _), _, _ = two_steps(optim.AdamW, lr=0.1, weight_decay=0.1)
    # p0 * (1 - 0.1 * 0.1) = (0.99, -1.98), then - lr * sign(g1)
    np.testing.assert_allclose(p1, [0.89, -2.08])
    (p1, _), _, _ = two_steps(optim.Adam, lr=0.1, weight_decay=0.1)
    # Adam's L2 adds 0.1 p0 to g1 -> (0.6, 0.8): the first step is still lr * sign
    np.testing.assert_allclose(p1, [0.9, -2.1])


def test_amsgrad_keeps_the_largest_second_moment():
    p = nn.Parameter([1.0])
    opt = optim.Adam([p], lr=0.1, amsgrad=True)
    for g in (10.0, 0.1):
        p.grad = cr.tensor([g])
        opt.step()
    st = opt.state[p]
    assert st["max_exp_avg_sq"][0] == pytest.approx(0.001 * 100)
    assert st["exp_avg_sq"][0] < st["max_exp_avg_sq"][0]


# ---------------------------------------------------------------------- against torch
TORCH_CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1,
                 "initial_accumulator_value": 0.2}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "centered": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1, "amsgrad": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.5, "amsgrad": True}),
]


@pytest.mark.parametrize("name, kw", TORCH_CASES)
def test_matches_torch_over_several_steps_and_groups(name, kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w0, b0 = rng.standard_normal((3, 4)), rng.standard_normal(4)
    grads = [(rng.standard_normal((3, 4)), rng.standard_normal(4)) for _ in range(6)]
    w, b = nn.Parameter(w0), nn.Parameter(b0)
    tw = torch.tensor(w0, requires_grad=True)
    tb = torch.tensor(b0, requires_grad=True)
    # Two groups: the second with half the learning rate.
    ours = getattr(optim, name)([{"params": [w]}, {"params": [b], "lr": kw["lr"] / 2}], **kw)
    theirs = getattr(torch.optim, name)([{"params": [tw]}, {"params": [tb], "lr": kw["lr"] / 2}],
                                        **kw)
    for gw, gb in grads:
        w.grad, b.grad = cr.tensor(gw), cr.tensor(gb)
        tw.grad, tb.grad = torch.tensor(gw), torch.tensor(gb)
        ours.step()
        theirs.step()
        np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(b.data, tb.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_float32_training_matches_torch(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 5)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    tmodel = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    with torch.no_grad():
        for lin, tlin in ((model[0], tmodel[0]), (model[2], tmodel[2])):
            tlin.weight.copy_(torch.tensor(lin.weight.data.T))
            tlin.bias.copy_(torch.tensor(lin.bias.data))
    kw = {"lr": 0.05, "momentum": 0.9} if name == "SGD" else {"lr": 0.01}
    opt = getattr(optim, name)(model.parameters(), **kw)
    topt = getattr(torch.optim, name)(tmodel.parameters(), **kw)
    for _ in range(5):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tmodel(torch.tensor(x)), torch.tensor(y)).backward()
        topt.step()
    assert model[0].weight.dtype == np.float32
    assert all(v.dtype == np.float32 for st in opt.state.values() for v in st.values()
               if isinstance(v, np.ndarray))
    np.testing.assert_allclose(model[0].weight.data, tmodel[0].weight.detach().numpy().T,
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model[2].bias.data, tmodel[2].bias.detach().numpy(),
                               rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------- behaviour
def test_parameters_without_gradient_are_skipped():
    a, b = nn.Parameter([1.0]), nn.Parameter([2.0])
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = cr.tensor([1.0])
    opt.step()
    assert b.data[0] == 2.0 and b not in opt.state
    assert a.data[0] == pytest.approx(0.9)


def test_zero_grad_sets_none_or_zeros():
    p = nn.Parameter([1.0, 2.0])
    opt = optim.SGD([p], lr=0.1)
    p.grad = cr.tensor([3.0, 4.0])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.data, [0.0, 0.0])
    opt.zero_grad()
    assert p.grad is None


def test_step_bumps_versions_so_stale_graphs_refuse_backward():
    w = nn.Parameter(np.ones((2, 2)))
    x = cr.tensor(np.ones((1, 2)))
    y = (x @ w).sum()
    w.grad = cr.tensor(np.ones((2, 2)))
    v = w.version
    optim.SGD([w], lr=0.1).step()
    assert w.version > v
    with pytest.raises(InplaceModificationError, match="modified in place"):
        y.backward()


def test_closure_is_called_and_its_loss_returned():
    w = nn.Parameter([3.0])
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with cr.no_grad():  # the closure turns recording back on
        loss = opt.step(closure)
    assert loss.item() == 9.0
    assert w.data[0] == pytest.approx(3.0 - 0.25 * 6.0)


def test_add_param_group_and_repr():
    a, b = nn.Parameter([1.0]), nn.Parameter([1.0])
    opt = optim.SGD([a], lr=0.1, momentum=0.5)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["momentum"] == 0.5 and opt.param_groups[1]["lr"] == 0.01
    assert "Parameter Group 1" in repr(opt) and "lr: 0.01" in repr(opt)


@pytest.mark.parametrize("make, match", [
    (lambda p: optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda p: optim.SGD(p, lr=0.1), "not a single Tensor"),
    (lambda p: optim.SGD([p], lr=-1.0), "invalid learning rate -1.0"),
    (lambda p: optim.SGD([p], lr=float("nan")), "invalid learning rate"),
    (lambda p: optim.SGD([p], lr=0.1, nesterov=True), "Nesterov momentum needs"),
    (lambda p: optim.SGD([p], lr=0.1, momentum=-0.5), "invalid momentum"),
    (lambda p: optim.Adam([p], betas=(0.9, 1.0)), "invalid beta2"),
    (lambda p: optim.Adam([p], betas=(0.9,)), "betas must be a pair"),
    (lambda p: optim.RMSprop([p], alpha=1.5), "invalid alpha"),
    (lambda p: optim.Adagrad([p], eps=-1.0), "invalid eps"),
    (lambda p: optim.SGD([p, p], lr=0.1), "same tensor twice"),
    (lambda p: optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1), "more than one"),
    (lambda p: optim.SGD([p * 2], lr=0.1), "not a leaf tensor"),
    (lambda p: optim.SGD([np.zeros(2)], lr=0.1), "optimizers update Tensors only"),
    (lambda p: optim.SGD([cr.tensor([1, 2])], lr=0.1), "floating-point"),
    (lambda p: optim.SGD([{"lr": 0.1}], lr=0.1), "no 'params' entry"),
])
def test_bad_arguments_raise_clear_errors(make, match):
    p = nn.Parameter([1.0, 2.0])
    with pytest.raises((ValueError, TypeError), match=match):
        make(p)


def test_a_gradient_of_the_wrong_shape_is_named():
    p = nn.Parameter(np.zeros((2, 3)), name="W1")
    p.grad = cr.tensor(np.zeros(3))
    with pytest.raises(cr.ShapeError, match=r"parameter 'W1' has shape \(3,\) but the "
                                            r"parameter has shape \(2, 3\)"):
        optim.Adam([p]).step()


# ---------------------------------------------------------------------- state dicts
def make_model_and_data(seed=0):
    from chainrule.random import manual_seed
    manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 4, dtype=np.float64), nn.Tanh(),
                          nn.Linear(4, 2, dtype=np.float64))
    rng = np.random.default_rng(seed)
    return model, rng.standard_normal((10, 3)), rng.integers(0, 2, 10)


def train(model, opt, x, y, steps):
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()


@pytest.mark.parametrize("name, kw", [("SGD", {"lr": 0.1, "momentum": 0.9}),
                                      ("Adagrad", {"lr": 0.1}),
                                      ("RMSprop", {"lr": 0.01, "centered": True,
                                                   "momentum": 0.5}),
                                      ("Adam", {"lr": 0.01, "amsgrad": True}),
                                      ("AdamW", {"lr": 0.01})])
def test_state_dict_round_trip_resumes_exactly(tmp_path, name, kw):
    model, x, y = make_model_and_data()
    opt = getattr(optim, name)(model.parameters(), **kw)
    train(model, opt, x, y, 3)
    save({"model": model.state_dict(), "opt": opt.state_dict()}, tmp_path / "ckpt.npz")
    train(model, opt, x, y, 2)

    model2, _, _ = make_model_and_data(seed=5)
    opt2 = getattr(optim, name)(model2.parameters(), **kw)
    ckpt = load(tmp_path / "ckpt.npz")
    model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["opt"])
    train(model2, opt2, x, y, 2)
    for a, b in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_state_dict_format_and_copy_semantics():
    p, q = nn.Parameter([1.0, 2.0]), nn.Parameter([3.0])
    opt = optim.Adam([{"params": [p]}, {"params": [q], "lr": 0.5}])
    p.grad = cr.tensor([1.0, 1.0])
    opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"] == [
        {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0,
         "amsgrad": False, "params": [0]},
        {"lr": 0.5, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0,
         "amsgrad": False, "params": [1]}]
    assert list(sd["state"]) == [0] and sd["state"][0]["step"] == 1
    snapshot = sd["state"][0]["exp_avg"].copy()
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], snapshot)


def test_load_state_dict_validates_before_changing_anything():
    p = nn.Parameter(np.zeros((2, 2)))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = cr.tensor(np.ones((2, 2)))
    opt.step()
    good = opt.state_dict()
    other = optim.SGD([nn.Parameter(np.zeros(3))], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"state 'momentum_buffer' of parameter 0 has shape "
                                         r"\(2, 2\), but the parameter has shape \(3,\)"):
        other.load_state_dict(good)
    assert other.state == {}
    two = optim.SGD([nn.Parameter([1.0]), nn.Parameter([1.0])], lr=0.1)
    with pytest.raises(ValueError, match="group 0 has 2 parameters but the saved group has 1"):
        two.load_state_dict(good)
    groups = optim.SGD([{"params": [nn.Parameter([1.0])]}, {"params": [nn.Parameter([1.0])]}],
                       lr=0.1)
    with pytest.raises(ValueError, match="saved state has 1 parameter groups"):
        groups.load_state_dict(good)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"lr": 0.1})
    bad_lr = opt.state_dict()
    bad_lr["param_groups"][0]["lr"] = -3.0
    with pytest.raises(ValueError, match="invalid learning rate"):
        opt.load_state_dict(bad_lr)
    assert opt.param_groups[0]["lr"] == 0.1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3,), (784, 256), (300, 301), (70_000,)])
def test_sgd_update_is_exactly_p_minus_lr_g_and_keeps_grad(shape, dtype):
    # The update goes through a work array; the numbers must be those of p - lr * g in
    # the parameter's dtype, and .grad must be left as it was (PyTorch keeps it too).
    rng = np.random.default_rng(0)
    p = cr.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
    g = rng.standard_normal(shape).astype(dtype)
    p.grad = cr.tensor(g.copy())
    want = p.data - dtype(0.1) * g
    optim.SGD([p], lr=0.1).step()
    assert p.data.dtype == dtype
    np.testing.assert_array_equal(p.data, want)
    np.testing.assert_array_equal(p.grad.data, g)


def test_sgd_updates_a_non_contiguous_parameter_in_its_own_memory():
    base = np.arange(2 * 80_000, dtype=np.float64).reshape(2, 80_000)
    p = cr.tensor(base[:, ::2].T, requires_grad=True)   # kept in Fortran order
    assert not p.data.flags.c_contiguous
    memory = p.data
    p.grad = cr.tensor(np.ones(p.shape))
    want = p.data - 0.5
    optim.SGD([p], lr=0.5).step()
    assert p.data is memory                  # updated where it lives
    np.testing.assert_array_equal(p.data, want)
