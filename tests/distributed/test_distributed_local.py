"""chainrule.distributed in one process: the world of one, sharding, wrappers, errors.

Sharding is checked for many (dataset size, ranks, batch) combinations by computing
every rank's shard in this one process (``rank=``/``world_size=`` given explicitly,
which needs no MPI). The rest runs in MPI's singleton mode (no mpiexec): a world of
one process, where every collective must leave the values as a plain run would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn, optim
from chainrule.data import ArrayDataset, DataLoader

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def world() -> object:
    """The singleton MPI world (skips when mpi4py or its MPI library is missing)."""
    try:
        return dist.init()
    except dist.MPIUnavailableError as e:
        pytest.skip(str(e))


def _dataset(n: int = 23, d: int = 3) -> ArrayDataset:
    rng = np.random.default_rng(5)
    return ArrayDataset(rng.standard_normal((n, d)), np.arange(n, dtype=np.int64))


# ---------------------------------------------------------------------- imports
def test_import_chainrule_does_not_import_mpi4py() -> None:
    code = ("import sys, chainrule, chainrule.distributed as d; "
            "assert 'mpi4py' not in sys.modules, 'mpi4py imported'; "
            "assert not d.is_initialized(); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_missing_mpi4py_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dist, "_MPI", None)
    monkeypatch.setattr(dist, "_COMM", None)
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", None)
    with pytest.raises(dist.MPIUnavailableError, match=r'pip install "chainrule\[mpi\]"') as e:
        dist.init()
    assert isinstance(e.value, ImportError) and isinstance(e.value, cr.ChainruleError)
    assert "pip install mpi4py mpich" in str(e.value)
    with pytest.raises(dist.MPIUnavailableError):
        dist.rank()           # everything initialises lazily, so everything says so


# ---------------------------------------------------------------------- sharding
@pytest.mark.parametrize("n, w", [(12, 2), (11, 2), (10, 3), (7, 4), (3, 5), (1, 2)])
@pytest.mark.parametrize("pad", [True, False])
def test_sampler_shards(n: int, w: int, pad: bool) -> None:
    if not pad and n < w:
        with pytest.raises(ValueError, match="without padding"):
            dist.DistributedSampler(n, seed=1, pad=pad, rank=0, world_size=w)
        return
    order = DataLoader(range(n), 1, shuffle=True, seed=9).indices(4)
    shards = [dist.DistributedSampler(n, seed=9, pad=pad, rank=r, world_size=w).indices(4)
              for r in range(w)]
    sizes = {len(s) for s in shards}
    assert len(sizes) == 1                       # every rank the same number of samples
    per_rank = sizes.pop()
    allidx = np.concatenate(shards)
    if pad:
        assert per_rank == -(-n // w)
        assert set(allidx.tolist()) == set(range(n))          # nothing left out
        extra = per_rank * w - n
        # the padding repeats the start of the epoch's order
        np.testing.assert_array_equal(np.sort(allidx), np.sort(np.concatenate(
            [order, np.resize(order, n + extra)[n:]])))
    else:
        assert per_rank == n // w
        assert len(set(allidx.tolist())) == len(allidx)        # disjoint
        assert set(allidx.tolist()) == set(order[:per_rank * w].tolist())
    if n % w == 0:
        assert len(set(allidx.tolist())) == n                  # a partition


@pytest.mark.parametrize("n, w, b, drop_last", [(24, 2, 4, False), (26, 2, 4, False),
                                                (27, 3, 2, False), (30, 3, 4, True),
                                                (8, 4, 1, False)])
def test_rank_batches_form_the_global_batches(n: int, w: int, b: int, drop_last: bool
                                              ) -> None:
    """Batch i of every rank together = batch i of one loader with batch w*b (n % w == 0)."""
    ds = _dataset(n)
    ref = DataLoader(ds, w * b, shuffle=True, drop_last=drop_last, seed=3, tensors=False)
    loaders = [dist.DistributedDataLoader(ds, b, shuffle=True, drop_last=drop_last, seed=3,
                                          rank=r, world_size=w, tensors=False)
               for r in range(w)]
    assert len({len(lo) for lo in loaders}) == 1
    for epoch in range(2):
        ref.set_epoch(epoch)
        ref_batches = list(ref)
        per_rank = [list(lo) for lo in loaders]
        assert all(len(p) == len(ref_batches) for p in per_rank)
        for i, (xr, yr) in enumerate(ref_batches):
            ys = np.concatenate([p[i][1] for p in per_rank])
            assert len({len(p[i][1]) for p in per_rank}) == 1     # equal local batches
            assert sorted(ys.tolist()) == sorted(yr.tolist())
            xs = np.concatenate([p[i][0] for p in per_rank])
            np.testing.assert_array_equal(xs[np.argsort(ys)], xr[np.argsort(yr)])


def test_unshuffled_shards_are_strided() -> None:
    # 10 samples on 3 ranks: padded to 0..9, 0, 1; rank 1 takes every third from 1
    lo = dist.DistributedDataLoader(_dataset(10), 2, rank=1, world_size=3, tensors=False)
    np.testing.assert_array_equal(lo.indices(0), [1, 4, 7, 0])
    np.testing.assert_array_equal(lo.indices(5), [1, 4, 7, 0])
    assert [y.tolist() for _, y in lo] == [[1, 4], [7, 0]]
    assert len(lo) == 2 and lo.num_samples == 4 and lo.global_batch_size == 6
    cut = dist.DistributedDataLoader(_dataset(10), 2, rank=1, world_size=3, pad=False)
    np.testing.assert_array_equal(cut.indices(0), [1, 4, 7])


def test_loader_resume_mid_epoch() -> None:
    ds = _dataset(40)
    kw = dict(shuffle=True, seed=8, rank=1, world_size=2, tensors=False)
    full = dist.DistributedDataLoader(ds, 3, **kw)
    full.set_epoch(2)
    expected = [y.tolist() for _, y in full]
    lo = dist.DistributedDataLoader(ds, 3, **kw)
    lo.set_epoch(2)
    it = iter(lo)
    first = [next(it)[1].tolist() for _ in range(3)]
    state = lo.state_dict()
    assert state["epoch"] == 2 and state["batch"] == 3 and state["world_size"] == 2
    again = dist.DistributedDataLoader(ds, 3, **{**kw, "rank": 0, "seed": 1})
    again.load_state_dict(state)                # rank 0's state resumes rank 1 too
    assert again.seed == 8
    resumed = dist.DistributedDataLoader(ds, 3, **kw)
    resumed.load_state_dict(state)
    assert first + [y.tolist() for _, y in resumed] == expected
    assert resumed.epoch == 3
    other = dist.DistributedDataLoader(ds, 3, shuffle=True, seed=8, rank=0, world_size=4)
    with pytest.raises(ValueError, match="middle of an epoch run on 2 rank"):
        other.load_state_dict(state)
    other.load_state_dict({**state, "batch": 0})   # between epochs: re-sharding is fine
    with pytest.raises(ValueError, match="batch_size"):
        dist.DistributedDataLoader(ds, 4, **kw).load_state_dict(state)


def test_loader_over_a_plain_sequence_dataset() -> None:
    pairs = [(np.full(2, float(i)), i) for i in range(6)]
    lo = dist.DistributedDataLoader(pairs, 2, rank=0, world_size=2)
    batches = list(lo)
    assert [b[1].tolist() for b in batches] == [[0, 2], [4]]
    assert isinstance(batches[0][0], cr.Tensor)
    np.testing.assert_array_equal(batches[0][0].data, [[0.0, 0.0], [2.0, 2.0]])
    assert "rank 0 of 2" in repr(lo) and "global 4" in repr(lo)


@pytest.mark.parametrize("kwargs, match", [
    (dict(rank=0), "give both rank and world_size"),
    (dict(rank=2, world_size=2, seed=0), "rank must be in 0..1"),
    (dict(rank=0, world_size=0, seed=0), "world_size must be a positive int"),
    (dict(rank=0, world_size=2, shuffle=True), "pass seed="),
    (dict(rank=0, world_size=2, batch_size=0), "batch_size must be a positive int"),
])
def test_loader_bad_arguments(kwargs: dict, match: str) -> None:
    kwargs = {"batch_size": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        dist.DistributedDataLoader(_dataset(8), **kwargs)


def test_sampler_bad_size() -> None:
    with pytest.raises(ValueError, match="num_samples must be a positive int"):
        dist.DistributedSampler(0, rank=0, world_size=1)


# ---------------------------------------------------------------------- world of one
def test_world_of_one(world: object) -> None:
    assert dist.is_initialized() and world is dist.get_comm()
    assert (dist.rank(), dist.world_size(), dist.is_main()) == (0, 1, True)
    dist.barrier()
    assert dist.init() is world                     # idempotent
    assert dist.allreduce_sum(2.5) == 2.5
    assert dist.allreduce_mean(cr.tensor(4.0)) == 4.0
    assert dist.allreduce_mean(3.0, weight=7) == 3.0
    np.testing.assert_array_equal(dist.allreduce_mean(np.array([1.0, 2.0])), [1.0, 2.0])
    assert dist.broadcast_object({"a": [1, 2]}) == {"a": [1, 2]}
    with pytest.raises(ValueError, match="weights sum to 0"):
        dist.allreduce_mean(1.0, weight=0)
    with pytest.raises(ValueError, match=r"root must be a rank in 0\.\.0"):
        dist.broadcast_object(1, root=1)
    with pytest.raises(TypeError, match="intracommunicator"):
        dist.init(comm="world")


def test_allreduce_gradients_world_of_one(world: object) -> None:
    a = cr.tensor(np.zeros((2, 2), dtype=np.float32), requires_grad=True)
    b = cr.tensor(np.zeros(3), requires_grad=True)
    frozen = cr.tensor(np.zeros(1))
    g = np.array([[1.0, 2.0], [3.0, 4.0]])               # float64 for a float32 param
    a.grad = cr.tensor(g)
    dist.allreduce_gradients([a, b, frozen])
    assert a.grad.data.dtype == np.float32 and b.grad is None and frozen.grad is None
    np.testing.assert_array_equal(a.grad.data, g)
    # the result never aliases the gradient it came from, nor the communication buffer
    before = a.grad.data
    dist.allreduce_gradients([a])
    assert not np.shares_memory(before, a.grad.data)
    np.testing.assert_array_equal(before, g)
    a.grad = cr.tensor(np.ones(3))
    with pytest.raises(cr.ShapeError, match=r"has shape \(3,\) but the parameter has shape"):
        dist.allreduce_gradients([a])
    a.grad = cr.tensor(np.ones((2, 2), dtype=np.complex128))
    with pytest.raises(cr.DtypeError, match="complex128, which cannot be cast to the "
                                            "parameter's float32"):
        dist.allreduce_gradients([a])
    with pytest.raises(TypeError, match="expected a module or an iterable of tensors"):
        dist.allreduce_gradients({"a": a})
    with pytest.raises(TypeError, match="item 1 is a str"):
        dist.allreduce_gradients([a, "b"])


def test_broadcast_and_check_world_of_one(world: object) -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    before = model.state_dict()
    dist.broadcast_parameters(model)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    dist.check_synchronized(model)
    dist.check_synchronized(list(model.parameters()))


def _train(model: nn.Module, opt: optim.Optimizer, loader: object, sync: object = None
           ) -> None:
    loss_fn = nn.SoftmaxCrossEntropy()
    for _ in range(2):
        for x, y in loader:
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            if sync is not None:
                sync()
            opt.step()


def _model(seed: int = 0) -> nn.Module:
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8, dtype=np.float64), nn.ReLU(),
                         nn.Linear(8, 4, dtype=np.float64))


def _labels4(n: int = 23) -> ArrayDataset:
    ds = _dataset(n)
    return ArrayDataset(ds.x, ds.y % 4)


def test_world_of_one_trains_like_a_plain_run(world: object) -> None:
    ds = _labels4()
    ref = _model()
    _train(ref, optim.SGD(ref.parameters(), lr=0.1, momentum=0.9),
           DataLoader(ds, 5, shuffle=True, seed=2))
    m = _model()
    dp = dist.DataParallel(m)
    _train(dp, optim.SGD(dp.parameters(), lr=0.1, momentum=0.9),
           dist.DistributedDataLoader(ds, 5, shuffle=True, seed=2), dp.allreduce_gradients)
    m2 = _model()
    dist.broadcast_parameters(m2)
    _train(m2, dist.DistributedOptimizer(optim.SGD(m2.parameters(), lr=0.1, momentum=0.9)),
           dist.DistributedDataLoader(ds, 5, shuffle=True, seed=2))
    for k, v in ref.state_dict().items():
        np.testing.assert_array_equal(m.state_dict()[k], v)
        np.testing.assert_array_equal(m2.state_dict()[k], v)


def test_distributed_optimizer_is_the_wrapped_one(world: object) -> None:
    m = _model()
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
    plain = optim.Adam(_model().parameters(), lr=0.01)
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
    ds = _labels4(30)

    def trainer(path: Path | None = None) -> tuple[nn.Module, Trainer]:
        m = _model(4)
        dist.broadcast_parameters(m)
        opt = dist.DistributedOptimizer(optim.SGD(m.parameters(), lr=0.1, momentum=0.5))
        loader = dist.DistributedDataLoader(ds, 4, shuffle=True, seed=6)
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
    plain = _model(4)
    Trainer(plain, nn.SoftmaxCrossEntropy(), optim.SGD(plain.parameters(), lr=0.1,
                                                       momentum=0.5),
            DataLoader(ds, 4, shuffle=True, seed=6)).fit(3)
    for k, v in plain.state_dict().items():
        np.testing.assert_array_equal(straight.state_dict()[k], v)


def test_data_parallel_delegates(world: object) -> None:
    m = _model()
    dp = dist.DataParallel(m)
    assert list(dp.state_dict()) == list(m.state_dict())        # no "module." prefix
    dp.eval()
    assert m.training is False
    dp.custom = 3
    assert m.custom == 3
    assert dp.module is m and repr(dp).startswith("DataParallel(Sequential")
    dp.check_synchronized()
    with pytest.raises(TypeError, match=r"expected a chainrule\.nn\.Module"):
        dist.DataParallel(42)


def test_explicit_communicator(world: object) -> None:
    from mpi4py import MPI
    sub = MPI.COMM_WORLD.Split(color=0, key=0)        # a communicator of its own
    try:
        p = cr.tensor(np.zeros(2), requires_grad=True)
        p.grad = cr.tensor([1.0, 2.0])
        dist.allreduce_gradients([p], comm=sub)
        np.testing.assert_array_equal(p.grad.data, [1.0, 2.0])
        assert dist.allreduce_sum(3.0, comm=sub) == 3.0
        assert dist.rank(sub) == 0 and dist.world_size(sub) == 1
        lo = dist.DistributedDataLoader(_dataset(6), 2, comm=sub)
        assert lo.world_size == 1 and len(lo) == 3
        with pytest.raises(TypeError, match="intracommunicator"):
            dist.allreduce_sum(1.0, comm="not a communicator")
    finally:
        sub.Free()
