"""Learning-rate schedules: sequences by hand, agreement with PyTorch, state dicts."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule import nn, optim
from chainrule.optim.lr_scheduler import CosineAnnealingLR, ExponentialLR, StepLR
from chainrule.serialization import load, save


def make_opt(lr=1.0, second_lr=None):
    groups = [{"params": [nn.Parameter([1.0])]}]
    if second_lr is not None:
        groups.append({"params": [nn.Parameter([1.0])], "lr": second_lr})
    return optim.SGD(groups, lr=lr, momentum=0.9)


def sequence(sched, n):
    out = [sched.get_last_lr()[0]]
    for _ in range(n - 1):
        sched.step()
        out.append(sched.get_last_lr()[0])
    return out


def test_step_lr_by_hand():
    opt = make_opt(1.0)
    s = StepLR(opt, step_size=2, gamma=0.5)
    np.testing.assert_allclose(sequence(s, 6), [1, 1, 0.5, 0.5, 0.25, 0.25])
    assert opt.param_groups[0]["lr"] == 0.25
    assert opt.param_groups[0]["initial_lr"] == 1.0


def test_exponential_lr_by_hand():
    s = ExponentialLR(make_opt(2.0), gamma=0.9)
    np.testing.assert_allclose(sequence(s, 4), [2.0, 1.8, 1.62, 1.458])


def test_cosine_annealing_by_hand():
    s = CosineAnnealingLR(make_opt(1.1), T_max=4, eta_min=0.1)
    # 0.1 + 1.0 * (1 + cos(pi e / 4)) / 2, continuing past T_max
    np.testing.assert_allclose(sequence(s, 7),
                               [1.1, 0.1 + 0.5 * (1 + 0.5 ** 0.5), 0.6,
                                0.1 + 0.5 * (1 - 0.5 ** 0.5), 0.1,
                                0.1 + 0.5 * (1 - 0.5 ** 0.5), 0.6], rtol=1e-12)


def test_each_group_follows_its_own_initial_rate():
    opt = make_opt(1.0, second_lr=0.1)
    s = StepLR(opt, step_size=1, gamma=0.5)
    s.step()
    assert s.get_last_lr() == [0.5, 0.05]
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.05]


@pytest.mark.parametrize("make", [
    lambda o, m: m.StepLR(o, step_size=3, gamma=0.3),
    lambda o, m: m.ExponentialLR(o, gamma=0.95),
    lambda o, m: m.CosineAnnealingLR(o, T_max=7, eta_min=0.01),
])
def test_matches_torch(make):
    torch = pytest.importorskip("torch")
    opt = make_opt(0.5, second_lr=0.2)
    topt = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)]},
                            {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.2}],
                           lr=0.5, momentum=0.9)
    ours = make(opt, optim.lr_scheduler)
    theirs = make(topt, torch.optim.lr_scheduler)
    for _ in range(20):
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-10)
        topt.step()
        ours.step()
        theirs.step()


def test_state_dict_round_trip_resumes_the_schedule(tmp_path):
    opt = make_opt(1.0)
    s = CosineAnnealingLR(opt, T_max=10)
    for _ in range(3):
        s.step()
    save(s.state_dict(), tmp_path / "sched.npz")
    expected = sequence(s, 4)

    opt2 = make_opt(1.0)
    s2 = CosineAnnealingLR(opt2, T_max=10)
    s2.load_state_dict(load(tmp_path / "sched.npz"))
    assert s2.last_epoch == 3
    assert opt2.param_groups[0]["lr"] == s2.get_last_lr()[0]
    np.testing.assert_allclose(sequence(s2, 4), expected, rtol=0)
    with pytest.raises(ValueError, match="unexpected keys"):
        s2.load_state_dict({"gamma": 0.1, **s2.state_dict()})


def test_resuming_with_last_epoch_needs_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        StepLR(make_opt(), step_size=2, last_epoch=4)
    opt = make_opt(1.0)
    StepLR(opt, step_size=2)
    s = StepLR(opt, step_size=2, gamma=0.5, last_epoch=4)
    assert s.last_epoch == 5 and s.get_last_lr() == [0.25]


@pytest.mark.parametrize("make, match", [
    (lambda o: StepLR(o, step_size=0), "step_size must be a positive int"),
    (lambda o: StepLR(o, step_size=2, gamma=-1.0), "invalid gamma"),
    (lambda o: CosineAnnealingLR(o, T_max=0), "T_max must be a positive int"),
    (lambda o: ExponentialLR(o, gamma=float("inf")), "invalid gamma"),
    (lambda o: StepLR(o, step_size=2, last_epoch=-3), "last_epoch"),
    (lambda o: StepLR("opt", step_size=2), "expected a chainrule optimizer"),
])
def test_bad_arguments(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make(make_opt())
