"""Data-parallel training across real MPI processes (``mpiexec -n 2``).

Each test launches ``tests/distributed/_worker.py`` under mpiexec in a subprocess
(killed, with its whole process group, if it exceeds a timeout) and checks what the
ranks wrote. Skipped when mpi4py or mpiexec is missing.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import chainrule as cr

HERE = Path(__file__).resolve().parent
WORKER = HERE / "_worker.py"
SRC = HERE.parents[1] / "src"
# PATH first, then next to this Python (where the mpich wheel puts it, venv or not)
MPIEXEC = shutil.which("mpiexec") or shutil.which("mpiexec", path=str(Path(sys.executable).parent))
HAVE_MPI4PY = importlib.util.find_spec("mpi4py") is not None

pytestmark = [
    pytest.mark.mpi,
    pytest.mark.skipif(not HAVE_MPI4PY, reason="mpi4py is not installed "
                       "(pip install 'chainrule[mpi]' or pip install mpi4py mpich)"),
    pytest.mark.skipif(MPIEXEC is None, reason="mpiexec is not on PATH "
                       "(pip install mpich, or install an MPI library)"),
]

TIMEOUT = 120.0


def _worker_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_chainrule_mpi_worker", WORKER)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def mpirun(n: int, *args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    """Run the worker on ``n`` ranks; kill the whole job if it does not finish in time."""
    return mpirun_script(n, WORKER, *args, timeout=timeout)


def mpirun_script(n: int, script: Path, *args: str, timeout: float = TIMEOUT
                  ) -> subprocess.CompletedProcess:
    """``mpiexec -n n python script args...``, killed with its process group on timeout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"        # one BLAS thread per rank: n ranks on n cores
    cmd = [str(MPIEXEC), "-n", str(n), sys.executable, str(script), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(cmd)} did not finish within {timeout:.0f} s (a rank is "
                    f"probably waiting in a collective)\nstdout:\n{out}\nstderr:\n{err}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, (f"{' '.join(result.args)} failed ({result.returncode})"
                                    f"\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")


@pytest.fixture(scope="module")
def collectives(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    out = tmp_path_factory.mktemp("collectives")
    _ok(mpirun(2, "collectives", str(out)))
    return [cr.load(out / f"collectives-rank{r}.npz") for r in range(2)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    out = tmp_path_factory.mktemp("train")
    _ok(mpirun(2, "train", str(out)))
    return [cr.load(out / f"train-rank{r}.npz") for r in range(2)]


# ---------------------------------------------------------------------- (a) + (b) training
RUNS = ["loop_sgd", "trainer_adam", "distopt_nesterov"]


def _check_training(trained: list[dict], run: str) -> None:
    """(a) every rank ends with the same bits; (b) = the one-process run on the union."""
    world = len(trained)
    ref = _worker_module().reference(run, world)
    for r in range(1, world):
        assert trained[r][run].keys() == trained[0][run].keys()
        for k, v in trained[0][run].items():
            assert v.dtype == np.float64
            np.testing.assert_array_equal(trained[r][run][k], v,
                                          err_msg=f"{run}: {k} differs on rank {r}")
    # 54 samples: 2 ranks -> 5 steps per epoch (global 12 x 4 + 6); 3 ranks -> 3 (18 x 3)
    assert int(trained[0][f"{run}/steps"]) == {2: 10, 3: 6}[world]
    got = trained[0][run]
    moved = 0.0
    for k, v in ref.items():
        np.testing.assert_allclose(got[k], v, rtol=1e-12, atol=1e-13,
                                   err_msg=f"{run}: {k} differs from the 1-process run")
        start = trained[0][f"{run}/init_before_broadcast"][k]
        moved = max(moved, float(np.abs(v - start).max()))
    assert moved > 0.05   # the runs really trained (weights moved from their start)


@pytest.mark.parametrize("run", RUNS)
def test_two_ranks_train_like_one_process(trained: list[dict], run: str) -> None:
    _check_training(trained, run)


def test_ranks_started_different_and_were_broadcast(trained: list[dict]) -> None:
    init0 = trained[0]["loop_sgd/init_before_broadcast"]
    init1 = trained[1]["loop_sgd/init_before_broadcast"]
    assert not np.array_equal(init0["0.weight"], init1["0.weight"])


def test_three_ranks_train_like_one_process(tmp_path: Path) -> None:
    """An odd number of ranks (oversubscribed on a 2-core machine)."""
    _ok(mpirun(3, "train", str(tmp_path)))
    trained = [cr.load(tmp_path / f"train-rank{r}.npz") for r in range(3)]
    for run in RUNS:
        _check_training(trained, run)


# ---------------------------------------------------------------------- (c) known values
def test_world(collectives: list[dict]) -> None:
    for r, res in enumerate(collectives):
        assert res["rank"] == r and res["world_size"] == 2 and res["comm_size"] == 2
        assert res["is_main"] is (r == 0)


def test_allreduce_known_values(collectives: list[dict]) -> None:
    for res in collectives:
        assert res["sum_scalar"] == 3.0            # 1 + 2
        assert res["mean_scalar"] == 1.5
        assert res["mean_weighted"] == pytest.approx(2 / 3)   # (0*1 + 1*2) / (1 + 2)
        np.testing.assert_array_equal(res["sum_array"], [[1.0, 2.0], [2.0, -1.0]])
        np.testing.assert_array_equal(res["mean_tensor"], [0.5, 5.0])
        assert res["after_errors"] == 2.0


def test_allreduce_gradients_known_values(collectives: list[dict]) -> None:
    for r, res in enumerate(collectives):
        np.testing.assert_array_equal(res["grad_a"], 1.5 * np.arange(6.0).reshape(2, 3))
        np.testing.assert_array_equal(res["grad_b"], [1.5, 3.0, 4.5, 6.0])
        assert res["grad_b_dtype"] == "float32"      # the parameter's dtype
        np.testing.assert_array_equal(res["grad_c"], [5.0, 10.0])   # rank 0's / 2
        assert res["grad_d_is_none"] is True           # no rank had one
        np.testing.assert_array_equal(res["grad_e"], [float(r), 1.0])  # not learned
        np.testing.assert_array_equal(res["grad_a_sum"], np.full((2, 3), 3.0))
        assert res["grad_b_sum_is_none"] is True
        # backward gave 2 (r+1)^2 x: 2x on rank 0, 8x on rank 1, mean 5x
        np.testing.assert_array_equal(res["grad_x"], [5.0, 10.0, 15.0])


def test_broadcasts(collectives: list[dict]) -> None:
    before1 = collectives[1]["bcast_before"]
    assert not np.array_equal(collectives[0]["bcast_before"]["0.weight"], before1["0.weight"])
    for res in collectives:
        for k, v in res["bcast_after"].items():     # root was rank 1, buffers included
            np.testing.assert_array_equal(v, before1[k], err_msg=k)
        np.testing.assert_array_equal(res["bcast_after"]["1.running_mean"], 1.5)
        np.testing.assert_array_equal(res["bcast_arrays"][0], [0.0, 0.0, 0.0])
        np.testing.assert_array_equal(res["bcast_arrays"][1], [0, 1, 2, 3])
        assert res["bcast_object"] == {"from": 1, "tag": "rank1"}


def test_sharding_from_the_world(collectives: list[dict]) -> None:
    from chainrule.data import DataLoader
    for epoch in (0, 1):
        s0 = collectives[0][f"shard_epoch{epoch}"]
        s1 = collectives[1][f"shard_epoch{epoch}"]
        assert len(s0) == len(s1) == collectives[0]["shard_len"] == 6
        order = DataLoader(range(11), 1, shuffle=True, seed=3).indices(epoch)
        padded = np.concatenate([order, order[:1]])      # 11 samples -> 12 on 2 ranks
        np.testing.assert_array_equal(s0, padded[0::2])
        np.testing.assert_array_equal(s1, padded[1::2])
    # the loader's seed was drawn on rank 0 and sent: same order, disjoint shards
    assert collectives[0]["loader_seed"] == collectives[1]["loader_seed"]
    from chainrule.distributed import DistributedSampler
    seed = int(collectives[0]["loader_seed"])
    for r in (0, 1):   # y = sample index, so the labels are the shard itself
        expected = DistributedSampler(11, seed=seed, rank=r, world_size=2).indices(0)
        np.testing.assert_array_equal(collectives[r]["loader_y_epoch0"], expected)
    ys = np.concatenate([collectives[0]["loader_y_epoch0"], collectives[1]["loader_y_epoch0"]])
    assert len(ys) == 12 and set(ys.tolist()) == set(range(11))


def test_disagreements_raise_on_every_rank(collectives: list[dict]) -> None:
    for r, res in enumerate(collectives):
        assert res["err_layout"].startswith("DistributedError: allreduce_gradients")
        assert f"Rank {r} has [w ({2 + r},) float64]" in res["err_layout"]
        assert res["err_bcast_layout"].startswith("DistributedError: broadcast_parameters")
        assert res["err_bad_grad"] == (
            "ShapeError: allreduce_gradients: the gradient of 'q' has shape (4,) but the "
            "parameter has shape (3,)" if r == 1 else
            "DistributedError: allreduce_gradients: another rank found a bad gradient (it "
            "raised the details); nothing was exchanged")
        assert res["err_sync"].startswith("DistributedError: check_synchronized: 1 of 2")
        assert "bias" in res["err_sync"]
        assert res["err_loader"].startswith("DistributedError: DistributedSampler")
        assert "rank 1: (10, True, 1," in res["err_loader"]
        assert res["err_batching"].startswith(
            "DistributedError: DataLoader with a DistributedSampler")
        assert "rank 0: (10, 2, False); rank 1: (10, 3, False)" in res["err_batching"]
        assert res["err_root"] == ("ValueError: broadcast_parameters: root must be a rank "
                                   "in 0..1, got 2")


def test_uncaught_exception_aborts_the_job_instead_of_hanging(tmp_path: Path) -> None:
    result = mpirun(2, "raise", str(tmp_path), timeout=60)
    assert result.returncode != 0
    assert "deliberate failure on rank 1" in result.stderr
    assert "aborting all ranks" in result.stderr


def test_example_trains_and_rank0_saves(tmp_path: Path) -> None:
    example = HERE.parents[1] / "examples" / "mpi_train.py"
    ck = tmp_path / "out" / "model.npz"
    result = mpirun_script(2, example, "--epochs", "2", "--hidden", "32",
                           "--checkpoint", str(ck))
    _ok(result)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("2 rank(s); global batch 64 = 2 x 32; 63 steps per epoch")
    assert lines[1].split()[:3] == ["epoch", "train", "loss"]
    rows = [ln.split() for ln in lines[2:] if not ln.startswith("saved")]
    assert [r[0] for r in rows] == ["1", "2"]          # printed once (rank 0 only)
    assert float(rows[1][1]) < float(rows[0][1])       # training loss went down
    assert float(rows[1][4].rstrip("%")) > 80.0        # test accuracy, whole test set
    assert lines[-1] == f"saved {ck} (rank 0 only)"
    saved = cr.load(ck)
    assert saved["world_size"] == 2 and saved["epochs"] == 2
    assert saved["model"]["0.weight"].shape == (784, 32)
