"""MultiStepLR, LambdaLR, LinearLR, OneCycleLR, ReduceLROnPlateau and SequentialLR,
stepped side by side with PyTorch's, plus their state dicts."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule import nn, optim
from chainrule.optim import lr_scheduler as ours
from chainrule.serialization import load, save

torch = pytest.importorskip("torch")
T = torch.optim.lr_scheduler


def pair(kind="sgd", lr=0.1, groups=1):
    ps = [nn.Parameter([1.0]) for _ in range(groups)]
    ts = [torch.nn.Parameter(torch.ones(1)) for _ in range(groups)]
    cg = [{"params": [p], "lr": lr * (i + 1)} for i, p in enumerate(ps)]
    tg = [{"params": [p], "lr": lr * (i + 1)} for i, p in enumerate(ts)]
    if kind == "adam":
        return optim.Adam(cg, lr=lr), torch.optim.Adam(tg, lr=lr)
    return (optim.SGD(cg, lr=lr, momentum=0.9),
            torch.optim.SGD(tg, lr=lr, momentum=0.9))


def run_both(make_ours, make_theirs, steps, kind="sgd", groups=2, momentum=False):
    co, to = pair(kind, groups=groups)
    cs, ts = make_ours(co), make_theirs(to)
    for i in range(steps):
        np.testing.assert_allclose(cs.get_last_lr(), ts.get_last_lr(), rtol=1e-12,
                                   err_msg=f"step {i}")
        np.testing.assert_allclose([g["lr"] for g in co.param_groups],
                                   [g["lr"] for g in to.param_groups], rtol=1e-12)
        if momentum:
            key = "betas" if kind == "adam" else "momentum"
            np.testing.assert_allclose(
                [np.ravel(g[key])[0] for g in co.param_groups],
                [np.ravel(g[key])[0] for g in to.param_groups], rtol=1e-12)
        co.step()
        to.step()
        cs.step()
        ts.step()
    return cs, co


def test_multistep_lr():
    run_both(lambda o: ours.MultiStepLR(o, [2, 5, 5, 9], gamma=0.3),
             lambda o: T.MultiStepLR(o, [2, 5, 5, 9], gamma=0.3), 12)


def test_lambda_lr_one_and_per_group():
    run_both(lambda o: ours.LambdaLR(o, lambda e: 0.95 ** e + 0.1 * (e % 3)),
             lambda o: T.LambdaLR(o, lambda e: 0.95 ** e + 0.1 * (e % 3)), 10)
    fns = [lambda e: 1 / (e + 1), lambda e: 0.5 ** e]
    run_both(lambda o: ours.LambdaLR(o, fns), lambda o: T.LambdaLR(o, fns), 8)


@pytest.mark.parametrize("start, end, total", [(0.1, 1.0, 4), (1 / 3, 1.0, 5),
                                               (1.0, 0.25, 3)])
def test_linear_lr(start, end, total):
    run_both(lambda o: ours.LinearLR(o, start, end, total),
             lambda o: T.LinearLR(o, start, end, total), 9)


@pytest.mark.parametrize("kw", [
    dict(total_steps=20),
    dict(epochs=4, steps_per_epoch=5, pct_start=0.25, anneal_strategy="linear"),
    dict(total_steps=30, three_phase=True, div_factor=10.0, final_div_factor=100.0),
    dict(total_steps=15, cycle_momentum=False),
])
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_one_cycle_lr(kw, kind):
    total = kw.get("total_steps") or kw["epochs"] * kw["steps_per_epoch"]
    run_both(lambda o: ours.OneCycleLR(o, max_lr=[0.5, 1.0], **kw),
             lambda o: T.OneCycleLR(o, max_lr=[0.5, 1.0], **kw), total, kind=kind,
             momentum=kw.get("cycle_momentum", True))


def test_one_cycle_lr_refuses_to_run_past_its_end():
    co, _ = pair()
    s = ours.OneCycleLR(co, max_lr=1.0, total_steps=3)
    for _ in range(3):
        s.step()
    with pytest.raises(ValueError, match="total_steps is 3"):
        s.step()
    with pytest.raises(ValueError, match="epochs and steps_per_epoch"):
        ours.OneCycleLR(co, max_lr=1.0)


@pytest.mark.parametrize("kw", [dict(), dict(mode="max", factor=0.5, patience=1),
                                dict(threshold_mode="abs", threshold=0.05, patience=0,
                                     cooldown=2, min_lr=[0.01, 0.05])])
def test_reduce_lr_on_plateau(kw):
    co, to = pair(groups=2)
    cs, ts = ours.ReduceLROnPlateau(co, **kw), T.ReduceLROnPlateau(to, **kw)
    rng = np.random.default_rng(0)
    metrics = list(np.linspace(1.0, 0.5, 5)) + list(0.5 + 0.01 * rng.standard_normal(40))
    for i, m in enumerate(metrics):
        cs.step(m)
        ts.step(m)
        np.testing.assert_allclose([g["lr"] for g in co.param_groups],
                                   [g["lr"] for g in to.param_groups], rtol=1e-12,
                                   err_msg=f"epoch {i}")
    assert co.param_groups[0]["lr"] < 0.1   # it did reduce
    with pytest.raises(ValueError, match="diverged"):
        cs.step(float("nan"))


def test_reduce_lr_on_plateau_state_dict_round_trip(tmp_path):
    co, _ = pair()
    s = ours.ReduceLROnPlateau(co, patience=1)
    for m in (1.0, 1.0, 1.0, 1.0):
        s.step(m)
    save(s.state_dict(), tmp_path / "s.npz")
    co2, _ = pair()
    s2 = ours.ReduceLROnPlateau(co2, patience=1)
    s2.load_state_dict(load(tmp_path / "s.npz"))
    assert s2.num_bad_epochs == s.num_bad_epochs and s2.best == s.best
    assert co2.param_groups[0]["lr"] == co.param_groups[0]["lr"]


@pytest.mark.parametrize("second", ["cosine", "exponential", "multistep"])
def test_sequential_lr_warm_up_then_decay(second):
    def make(mod):
        def build(o):
            warm = mod.LinearLR(o, start_factor=0.1, total_iters=4)
            other = {"cosine": lambda: mod.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
                     "exponential": lambda: mod.ExponentialLR(o, gamma=0.8),
                     "multistep": lambda: mod.MultiStepLR(o, [3, 6], 0.5)}[second]()
            return mod.SequentialLR(o, [warm, other], milestones=[4])
        return build
    run_both(make(ours), make(T), 16)


def test_sequential_lr_state_dict_resumes_exactly(tmp_path):
    def build(o):
        return ours.SequentialLR(o, [ours.LinearLR(o, 0.2, total_iters=3),
                                     ours.StepLR(o, 2, 0.5)], milestones=[3])
    co, _ = pair()
    s = build(co)
    for _ in range(5):
        s.step()
    save(s.state_dict(), tmp_path / "s.npz")
    rest = []
    for _ in range(4):
        s.step()
        rest.append(s.get_last_lr()[0])
    co2, _ = pair()
    s2 = build(co2)
    s2.load_state_dict(load(tmp_path / "s.npz"))
    got = []
    for _ in range(4):
        s2.step()
        got.append(s2.get_last_lr()[0])
    np.testing.assert_allclose(got, rest, rtol=1e-15)


def test_lambda_lr_state_dict_leaves_the_functions_out():
    co, _ = pair()
    s = ours.LambdaLR(co, lambda e: 0.5 ** e)
    s.step()
    assert "lr_lambdas" not in s.state_dict()
    s2 = ours.LambdaLR(pair()[0], lambda e: 0.5 ** e)
    s2.load_state_dict(s.state_dict())
    assert s2.get_last_lr() == s.get_last_lr() == [0.05]


def test_bad_settings_are_explained():
    co, _ = pair()
    with pytest.raises(ValueError, match="milestones"):
        ours.MultiStepLR(co, [-1])
    with pytest.raises(ValueError, match="2 values of lr_lambda for 1"):
        ours.LambdaLR(co, [lambda e: 1, lambda e: 2])
    with pytest.raises(ValueError, match="total_iters"):
        ours.LinearLR(co, total_iters=0)
    with pytest.raises(ValueError, match="cycle_momentum"):
        ours.OneCycleLR(optim.Adagrad([nn.Parameter([1.0])]), max_lr=1.0, total_steps=5)
    with pytest.raises(ValueError, match="1 increasing integer milestones"):
        ours.SequentialLR(co, [ours.StepLR(co, 2), ours.StepLR(co, 3)], milestones=[])
    with pytest.raises(TypeError, match="cannot be chained"):
        ours.SequentialLR(co, [ours.ReduceLROnPlateau(co)], milestones=[])


def test_one_cycle_lr_resumes_from_a_saved_state(tmp_path):
    def build():
        p = nn.Parameter([1.0])
        opt = optim.Adam([p], lr=0.1)
        return opt, ours.OneCycleLR(opt, max_lr=1.0, total_steps=10)

    opt, s = build()
    for _ in range(3):
        s.step()
    save(s.state_dict(), tmp_path / "s.npz")
    opt2, s2 = build()
    s2.load_state_dict(load(tmp_path / "s.npz"))
    for _ in range(5):
        s.step()
        s2.step()
        assert s2.get_last_lr() == s.get_last_lr()
        assert opt2.param_groups[0]["betas"] == opt.param_groups[0]["betas"]
