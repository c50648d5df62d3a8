"""DistributedOptimizer, and data-parallel training in a world of one = a plain run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn, optim
from chainrule.data import DataLoader

from .helpers import labels4, model, train


def test_world_of_one_trains_like_a_plain_run(world: object) -> None:
    ds = labels4()
    ref = model()
    train(ref, optim.SGD(ref.parameters(), lr=0.1, momentum=0.9),
          DataLoader(ds, 5, shuffle=True, seed=2))
    m = model()
    dist.broadcast_parameters(m)
    train(m, optim.SGD(m.parameters(), lr=0.1, momentum=0.9),
          DataLoader(ds, 5, sampler=dist.DistributedSampler(ds, seed=2)),
          lambda: dist.allreduce_gradients(m.parameters()))
    m2 = model()
    dist.broadcast_parameters(m2)
    train(m2, dist.DistributedOptimizer(optim.SGD(m2.parameters(), lr=0.1, momentum=0.9)),
          DataLoader(ds, 5, sampler=dist.DistributedSampler(ds, seed=2)))
    for k, v in ref.state_dict().items():
        np.testing.assert_array_equal(m.state_dict()[k], v)
        np.testing.assert_array_equal(m2.state_dict()[k], v)


def test_distributed_optimizer_is_the_wrapped_one(world: object) -> None:
    m = model()
    inner = optim.Adam(m.parameters(), lr=0.01)
    opt = dist.DistributedOptimizer(inner)
    assert isinstance(opt, optim.Optimizer)
    assert opt.param_groups is inner.param_groups and opt.defaults is inner.defaults
    sched = optim.StepLR(opt, step_size=1, gamma=0.5)     # schedules accept it
    x, y = cr.tensor(np.ones((2, 3))), cr.tensor(np.array([0, 1]))

    def closure() -> cr.Tensor:
        opt.zero_grad()
        loss = nn.SoftmaxCrossEntropy()(m(x), y)
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert isinstance(loss, cr.Tensor) and inner.state
    sched.step()
    assert inner.param_groups[0]["lr"] == 0.005
    opt.lr_note = "forwarded"                        # attributes live on the inner one
    assert inner.lr_note == "forwarded"
    plain = optim.Adam(model().parameters(), lr=0.01)
    plain.load_state_dict(opt.state_dict())           # checkpoints are interchangeable
    assert plain.param_groups[0]["lr"] == 0.005
    assert repr(opt).startswith("DistributedOptimizer(Adam")
    with pytest.raises(TypeError, match="already distributed"):
        dist.DistributedOptimizer(opt)
    with pytest.raises(TypeError, match=r"chainrule\.optim optimizer"):
        dist.DistributedOptimizer(object())


def test_trainer_with_distributed_parts_resumes_exactly(world: object, tmp_path: Path
                                                        ) -> None:
    from chainrule.train import Trainer
    ds = labels4(30)

    def trainer(path: Path | None = None) -> tuple[nn.Module, Trainer]:
        m = model(4)
        dist.broadcast_parameters(m)
        opt = dist.DistributedOptimizer(optim.SGD(m.parameters(), lr=0.1, momentum=0.5))
        loader = DataLoader(ds, 4, sampler=dist.DistributedSampler(ds, seed=6))
        return m, Trainer(m, nn.SoftmaxCrossEntropy(), opt, loader, checkpoint_path=path)

    straight, t = trainer()
    t.fit(3)
    ck = tmp_path / "ck.npz"
    _, t1 = trainer(ck)
    t1.fit(2)                                       # writes the checkpoint after epoch 2
    resumed, t2 = trainer()
    t2.load_state_dict(cr.load(ck))
    t2.fit(3)
    for k, v in straight.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[k], v)
    # and the same as a plain one-process Trainer
    plain = model(4)
    Trainer(plain, nn.SoftmaxCrossEntropy(), optim.SGD(plain.parameters(), lr=0.1,
                                                       momentum=0.5),
            DataLoader(ds, 4, shuffle=True, seed=6)).fit(3)
    for k, v in plain.state_dict().items():
        np.testing.assert_array_equal(straight.state_dict()[k], v)
