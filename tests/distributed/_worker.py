"""The program each MPI rank runs for tests/distributed/test_mpi.py.

    mpiexec -n 2 python tests/distributed/_worker.py MODE OUTDIR

Modes
-----
``collectives``
    Known-value checks of every collective (sums, means, gradient averaging with
    missing gradients and two dtypes, broadcasts, sharding, the errors raised when the
    ranks disagree). Each rank writes ``collectives-rank<r>.npz``.
``train``
    Three short data-parallel trainings (on 2 or 3 ranks) of a small float64 MLP
    whose initial weights differ per rank until broadcast, each reading its shard
    through ``DataLoader(..., sampler=DistributedSampler(...))``: a hand-written loop
    with ``allreduce_gradients`` (SGD with momentum), ``Trainer`` with
    ``DistributedOptimizer`` (Adam), and a hand-written loop with
    ``DistributedOptimizer`` (SGD, Nesterov). Each rank writes its final weights to
    ``train-rank<r>.npz``. The test compares them across
    ranks (bit for bit) and with :func:`reference` (one process, global batches).
``raise``
    Rank 1 raises while rank 0 waits in a barrier: the job must abort, not hang.

The data, models and reference runs are defined here so that the test can run the
one-process reference in its own process from the same code.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

SRC = Path(__file__).resolve().parents[2] / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

import chainrule as cr  # noqa: E402
from chainrule import nn, optim  # noqa: E402
from chainrule.data import ArrayDataset, DataLoader  # noqa: E402

N_SAMPLES = 54        # a multiple of 2 and 3: equal shards without padding
LOCAL_BATCH = 6       # 2 ranks: global batches 12, 12, 12, 12, 6; 3 ranks: 18, 18, 18
DATA_SEED = 11
INIT_SEED = 100       # rank r initialises with INIT_SEED + r; rank 0's weights win
EPOCHS = 2
RUNS = ("loop_sgd", "trainer_adam", "distopt_nesterov")


def make_dataset() -> ArrayDataset:
    """54 samples, 6 features, 3 classes (labels from a random linear rule)."""
    rng = np.random.default_rng(1234)
    x = rng.standard_normal((N_SAMPLES, 6))
    w = rng.standard_normal((6, 3))
    y = np.argmax(x @ w + 0.3 * rng.standard_normal((N_SAMPLES, 3)), axis=1)
    return ArrayDataset(x, y.astype(np.int64))


def make_model(seed: int) -> nn.Module:
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16, dtype=np.float64), nn.Tanh(),
                         nn.Linear(16, 3, dtype=np.float64))


def make_optimizer(run: str, params: Any) -> optim.Optimizer:
    if run == "loop_sgd":
        return optim.SGD(params, lr=0.2, momentum=0.9)
    if run == "trainer_adam":
        return optim.Adam(params, lr=0.05)
    if run == "distopt_nesterov":
        return optim.SGD(params, lr=0.1, momentum=0.5, nesterov=True, weight_decay=1e-3)
    raise ValueError(run)


def _loop(model: nn.Module, opt: Any, loader: Any, after_backward: Any = None) -> None:
    loss_fn = nn.SoftmaxCrossEntropy()
    for _ in range(EPOCHS):
        for x, y in loader:
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            if after_backward is not None:
                after_backward()
            opt.step()


def reference(run: str, world_size: int) -> dict[str, np.ndarray]:
    """The same training in one process, on the global batches of ``world_size``
    ranks (no MPI involved)."""
    from chainrule.train import Trainer
    model = make_model(INIT_SEED)
    opt = make_optimizer(run, model.parameters())
    loader = DataLoader(make_dataset(), LOCAL_BATCH * world_size, shuffle=True,
                        seed=DATA_SEED)
    if run == "trainer_adam":
        Trainer(model, nn.SoftmaxCrossEntropy(), opt, loader).fit(EPOCHS)
    else:
        _loop(model, opt, loader)
    return model.state_dict()


def run_train(out: Path) -> None:
    import chainrule.distributed as dist
    from chainrule.train import Trainer
    r = dist.rank()
    results: dict[str, Any] = {}
    for run in RUNS:
        model = make_model(INIT_SEED + r)
        results[f"{run}/init_before_broadcast"] = model.state_dict()
        data = make_dataset()
        loader = DataLoader(data, LOCAL_BATCH,
                            sampler=dist.DistributedSampler(data, shuffle=True, seed=DATA_SEED))
        if run == "loop_sgd":
            dist.broadcast_parameters(model)
            opt = make_optimizer(run, model.parameters())
            _loop(model, opt, loader,
                  after_backward=lambda m=model: dist.allreduce_gradients(m.parameters()))
        elif run == "trainer_adam":
            dist.broadcast_parameters(model)
            opt = dist.DistributedOptimizer(make_optimizer(run, model.parameters()))
            Trainer(model, nn.SoftmaxCrossEntropy(), opt, loader).fit(EPOCHS)
        else:
            dist.broadcast_parameters(model)
            opt = dist.DistributedOptimizer(make_optimizer(run, model.parameters()))
            _loop(model, opt, loader)
        dist.check_synchronized(model)
        results[run] = model.state_dict()
        results[f"{run}/steps"] = len(loader) * EPOCHS
    cr.save(results, out / f"train-rank{r}.npz")


def _error_text(fn: Any) -> str:
    try:
        fn()
    except Exception as e:  # the test inspects type and message
        return f"{type(e).__name__}: {e}"
    return "no error"


def run_collectives(out: Path) -> None:
    import chainrule.distributed as dist
    comm = dist.init()
    r, w = dist.rank(), dist.world_size()
    res: dict[str, Any] = {"rank": r, "world_size": w, "is_main": dist.is_main(),
                           "comm_size": comm.Get_size()}
    res["sum_scalar"] = dist.allreduce_sum(r + 1)
    res["mean_scalar"] = dist.allreduce_mean(float(r + 1))
    res["mean_weighted"] = dist.allreduce_mean(float(r), weight=r + 1)
    res["sum_array"] = dist.allreduce_sum(np.array([[r, 1.0], [2.0 * r, -r]]))
    res["mean_tensor"] = dist.allreduce_mean(cr.tensor([r, 10.0 * r]))

    # Gradients: two dtypes, a gradient on rank 0 only, one nowhere, one not learned.
    a = cr.tensor(np.zeros((2, 3)), requires_grad=True, name="a")
    b = cr.tensor(np.zeros(4, dtype=np.float32), requires_grad=True, name="b")
    c = cr.tensor(np.zeros(2), requires_grad=True, name="c")
    d = cr.tensor(np.zeros(3), requires_grad=True, name="d")
    e = cr.tensor(np.zeros(2), name="e")
    a.grad = cr.tensor((r + 1) * np.arange(6.0).reshape(2, 3))
    b.grad = cr.tensor((r + 1) * np.array([1.0, 2.0, 3.0, 4.0]))   # float64 into float32
    c.grad = cr.tensor([10.0, 20.0]) if r == 0 else None
    e.grad = cr.tensor([float(r), 1.0])
    dist.allreduce_gradients([a, b, c, d, e])
    res["grad_a"] = a.grad.data
    res["grad_b"] = b.grad.data
    res["grad_b_dtype"] = str(b.grad.data.dtype)
    res["grad_c"] = c.grad.data
    res["grad_d_is_none"] = d.grad is None
    res["grad_e"] = e.grad.data
    a.grad = cr.tensor(np.full((2, 3), r + 1.0))
    b.grad = None
    dist.allreduce_gradients([a, b], average=False)
    res["grad_a_sum"] = a.grad.data
    res["grad_b_sum_is_none"] = b.grad is None
    # Gradients made by backward, then averaged: the mean of the per-rank gradients.
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    ((x * (r + 1.0)) ** 2).sum().backward()           # d/dx = 2 (r+1)^2 x
    dist.allreduce_gradients([x])
    res["grad_x"] = x.grad.data

    # Broadcasts.
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    cr.manual_seed(50 + r)
    for p in model.parameters():
        p.data[...] = cr.random.get_rng().standard_normal(p.shape)
    model[1].running_mean.data[...] = r + 0.5
    res["bcast_before"] = model.state_dict()
    dist.broadcast_parameters(model, root=1 % w)
    res["bcast_after"] = model.state_dict()
    arrays = [np.full(3, float(r)), np.arange(4, dtype=np.int64) * (r + 1)]
    dist.broadcast_parameters(arrays)
    res["bcast_arrays"] = arrays
    res["bcast_object"] = dist.broadcast_object({"from": r, "tag": f"rank{r}"}, root=w - 1)

    # Sharding from the MPI world.
    sampler = dist.DistributedSampler(11, shuffle=True, seed=3)
    res["shard_epoch0"] = sampler.indices(0)
    res["shard_epoch1"] = sampler.indices(1)
    res["shard_len"] = len(sampler)
    eleven = ArrayDataset(np.arange(11.0)[:, None], np.arange(11))
    loader = DataLoader(eleven, 2, sampler=dist.DistributedSampler(eleven, shuffle=True))
    res["loader_seed"] = loader.seed          # drawn on rank 0, broadcast
    res["loader_y_epoch0"] = np.concatenate([yb.data for _, yb in loader])

    # Disagreements raise on every rank (and nobody is left waiting).
    bad = [cr.tensor(np.zeros(2 + r), requires_grad=True, name="w")]
    bad[0].grad = cr.tensor(np.ones(2 + r))
    res["err_layout"] = _error_text(lambda: dist.allreduce_gradients(bad))
    res["err_bcast_layout"] = _error_text(lambda: dist.broadcast_parameters(bad))
    q = cr.tensor(np.zeros(3), requires_grad=True, name="q")
    q.grad = cr.tensor(np.ones(4 if r == 1 else 3))          # wrong shape on rank 1 only
    res["err_bad_grad"] = _error_text(lambda: dist.allreduce_gradients([q]))
    drift = nn.Linear(2, 2)
    with cr.no_grad():
        drift.weight.data[...] = 0.0
        drift.bias.data[...] = float(r)
    res["err_sync"] = _error_text(lambda: dist.check_synchronized(drift))
    ten = ArrayDataset(np.zeros((10, 1)), np.zeros(10))
    res["err_loader"] = _error_text(lambda: dist.DistributedSampler(ten, shuffle=True,
                                                                    seed=r))
    res["err_batching"] = _error_text(lambda: DataLoader(
        ten, 2 + r, sampler=dist.DistributedSampler(ten, shuffle=True, seed=0)))
    res["err_root"] = _error_text(lambda: dist.broadcast_parameters([np.zeros(1)], root=w))
    dist.barrier()
    res["after_errors"] = dist.allreduce_sum(1)   # the world still works
    cr.save(res, out / f"collectives-rank{r}.npz")


def run_raise() -> None:
    import chainrule.distributed as dist
    dist.init()
    dist.barrier()
    if dist.rank() == 1:
        raise ValueError("deliberate failure on rank 1")
    dist.barrier()   # rank 0 would wait here forever without the abort hook


def main(argv: list[str]) -> None:
    mode, out = argv[0], Path(argv[1]) if len(argv) > 1 else Path(".")
    if mode == "train":
        run_train(out)
    elif mode == "collectives":
        run_collectives(out)
    elif mode == "raise":
        run_raise()
    else:
        raise SystemExit(f"unknown mode {mode!r}; use train, collectives or raise")


if __name__ == "__main__":
    main(sys.argv[1:])
