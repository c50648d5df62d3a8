"""SyncBatchNorm: in a world of one it is BatchNorm; under mpiexec -n 2 the ranks
together compute what one process computes on the whole batch (outputs, input and
parameter gradients, running statistics); its allreduce gate is gradient-checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn

from .test_mpi import HAVE_MPI4PY, HERE, MPIEXEC, mpirun_script

pytestmark = pytest.mark.skipif(not HAVE_MPI4PY, reason="mpi4py is not installed")
rng = np.random.default_rng(3)


def _reference(x: np.ndarray, g: np.ndarray) -> tuple[nn.BatchNorm2d, list]:
    bn = nn.BatchNorm2d(3, dtype=np.float64)
    bn.weight.data[...] = [0.5, 1.5, -1.0]
    bn.bias.data[...] = [0.1, -0.2, 0.3]
    outs = []
    for _ in range(2):
        X = cr.tensor(x, requires_grad=True)
        bn.zero_grad()
        y = bn(X)
        (y * g).sum().backward()
        outs.append((y.data, X.grad))
    return bn, outs


def test_in_a_world_of_one_it_is_batch_norm(world: object) -> None:
    x, g = rng.standard_normal((4, 3, 2, 5)), rng.standard_normal((4, 3, 2, 5))
    ref, outs = _reference(x, g)
    sync = dist.SyncBatchNorm(3, dtype=np.float64)
    sync.weight.data[...] = ref.weight.data
    sync.bias.data[...] = [0.1, -0.2, 0.3]
    for _ in range(2):
        X = cr.tensor(x, requires_grad=True)
        sync.zero_grad()
        y = sync(X)
        (y * g).sum().backward()
    np.testing.assert_allclose(y.data, outs[-1][0], atol=1e-12)
    np.testing.assert_allclose(X.grad, outs[-1][1], atol=1e-12)
    np.testing.assert_allclose(sync.weight.grad, ref.weight.grad, atol=1e-12)
    np.testing.assert_allclose(sync.running_var.data, ref.running_var.data, atol=1e-14)
    assert int(sync.num_batches_tracked.data) == 2


def test_the_gate_and_the_layer_pass_gradcheck(world: object) -> None:
    x = cr.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    f = lambda a: dist.allreduce_sum_tensor(a * a)  # noqa: E731
    assert cr.gradcheck(f, (x,)) and cr.gradgradcheck(f, (x,))
    sync = dist.SyncBatchNorm(2, dtype=np.float64)
    assert cr.gradcheck(lambda a: sync(a), (x,))
    assert cr.gradgradcheck(lambda a: sync(a), (x,))


def test_convert_sync_batchnorm_keeps_the_parameters(world: object) -> None:
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(),
                          nn.Flatten(), nn.BatchNorm1d(12))
    w, rm = model[1].weight, model[1].running_mean
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    dist.convert_sync_batchnorm(model)
    assert isinstance(model[1], dist.SyncBatchNorm) and isinstance(model[4],
                                                                   dist.SyncBatchNorm)
    assert model[1].weight is w and model[1].running_mean is rm
    assert set(model.state_dict()) == {"0.weight", "0.bias", "1.weight", "1.bias",
                                       "1.running_mean", "1.running_var",
                                       "1.num_batches_tracked", "4.weight", "4.bias",
                                       "4.running_mean", "4.running_var",
                                       "4.num_batches_tracked"}
    y = model(np.random.default_rng(0).random((4, 1, 4, 4), dtype=np.float32))
    y.sum().backward()
    opt.step()
    assert w.grad is not None


@pytest.mark.mpi
@pytest.mark.skipif(MPIEXEC is None, reason="mpiexec is not on PATH")
@pytest.mark.parametrize("ranks", [2, 3])
def test_ranks_together_compute_the_whole_batch(tmp_path: Path, ranks: int) -> None:
    r = mpirun_script(ranks, HERE / "_syncbn.py", str(tmp_path), timeout=120)
    assert r.returncode == 0, r.stderr
    draw = np.random.default_rng(3)                      # the worker's batch, drawn alike
    x = draw.standard_normal((6, 3, 4, 5)) * 2 + 1
    g = draw.standard_normal((6, 3, 4, 5))
    ref, outs = _reference(x, g)
    parts = [cr.load(tmp_path / f"syncbn-rank{k}.npz") for k in range(ranks)]
    np.testing.assert_allclose(np.concatenate([p["y"] for p in parts]), outs[-1][0],
                               atol=1e-12)
    np.testing.assert_allclose(np.concatenate([p["dx"] for p in parts]), outs[-1][1],
                               atol=1e-12)
    for p in parts:
        np.testing.assert_allclose(p["dw"], ref.weight.grad, atol=1e-11)
        np.testing.assert_allclose(p["db"], ref.bias.grad, atol=1e-11)
        np.testing.assert_allclose(p["rm"], ref.running_mean.data, atol=1e-14)
        np.testing.assert_allclose(p["rv"], ref.running_var.data, atol=1e-14)
    ref.eval()
    np.testing.assert_allclose(np.concatenate([p["eval"] for p in parts]),
                               ref(x).data, atol=1e-12)
