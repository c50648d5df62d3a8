"""``mpiexec -n 2 chainrule train``: one model trained data-parallel, equal to one
process on the same global batches; rank 0 alone prints and writes the run folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chainrule.cli import main
from chainrule.cli._world import launched_size
from chainrule.train import load_checkpoint

from .test_mpi import MPIEXEC, SRC, pytestmark  # noqa: F401  (the MPI skips)

ARGS = ["train", "--dataset", "mnist-sample", "--hidden", "32", "--epochs", "2",
        "--shift", "0", "--dtype", "float64", "--no-plots", "--seed", "1"]


def _mpi_train(tmp: Path, n: int, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(SRC), OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [str(MPIEXEC), "-n", str(n), sys.executable, "-m", "chainrule", *ARGS, *extra]
    return subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_two_processes_train_what_one_process_trains(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    r = _mpi_train(tmp_path, 2, "--out", "two")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("done: test accuracy") == 1          # rank 0 alone prints
    assert "data-parallel over 2 processes (local batch 32)" in r.stdout
    monkeypatch.chdir(tmp_path)
    assert main([*ARGS, "--out", "one", "--quiet"]) == 0
    one, two = load_checkpoint("one/checkpoint.npz"), load_checkpoint("two/checkpoint.npz")
    for k in one["model"]:
        np.testing.assert_allclose(two["model"][k], one["model"][k], rtol=1e-9, atol=1e-12)
    config = json.loads((tmp_path / "two" / "config.json").read_text())
    assert config["distributed"] == {"processes": 2, "local_batch": 32}
    rows = [ln.split(",") for ln in (tmp_path / "two" / "metrics.csv").read_text().split()]
    rows1 = [ln.split(",") for ln in (tmp_path / "one" / "metrics.csv").read_text().split()]
    head = rows[0]
    for col in ("train_loss", "train_acc", "test_loss", "test_acc"):
        i = head.index(col)
        np.testing.assert_allclose([float(x[i]) for x in rows[1:]],
                                   [float(x[i]) for x in rows1[1:]], rtol=1e-9)
    # it resumes under the same number of processes (the position in the data is kept
    # per process), and says so under another
    env = dict(os.environ, PYTHONPATH=str(SRC))
    r = subprocess.run([str(MPIEXEC), "-n", "2", sys.executable, "-m", "chainrule", "train",
                        "--resume", "two/checkpoint.npz", "--quiet", "--no-plots"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                       check=False)
    assert r.returncode == 0, r.stderr
    assert "was saved in the middle" not in r.stderr


def test_an_end_of_epoch_checkpoint_resumes_on_another_number_of_processes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = [a for a in ARGS if a not in ("--epochs", "2")] + ["--lr-schedule", "none"]
    env = dict(os.environ, PYTHONPATH=str(SRC), OPENBLAS_NUM_THREADS="1")
    r = subprocess.run([str(MPIEXEC), "-n", "2", sys.executable, "-m", "chainrule", *plain,
                        "--epochs", "2", "--out", "two", "--quiet"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    monkeypatch.chdir(tmp_path)
    # 2 epochs on 2 processes, then the third on 1, equals 3 epochs on 1 process
    assert main(["train", "--resume", "two/checkpoint.npz", "--epochs", "3", "--quiet",
                 "--no-plots"]) == 0
    assert main([*plain, "--epochs", "3", "--out", "one", "--quiet"]) == 0
    a, b = load_checkpoint("one/checkpoint.npz"), load_checkpoint("two/checkpoint.npz")
    assert b["progress"]["epoch"] == 3
    for k in a["model"]:
        np.testing.assert_allclose(b["model"][k], a["model"][k], rtol=1e-9, atol=1e-12)


def test_a_global_batch_that_does_not_split_is_refused(tmp_path: Path) -> None:
    r = _mpi_train(tmp_path, 2, "--out", "odd", "--batch-size", "63")
    assert r.returncode != 0
    assert "--batch-size 63 is the global batch; it must be a multiple of the 2" in r.stderr


def test_the_launcher_is_detected_from_its_environment() -> None:
    assert launched_size({}) == 1
    assert launched_size({"PMI_SIZE": "4"}) == 4
    assert launched_size({"OMPI_COMM_WORLD_SIZE": "3"}) == 3
    assert launched_size({"PMI_SIZE": "1"}) == 1
    assert launched_size({"SLURM_PROCID": "0", "SLURM_STEP_ID": "0", "SLURM_NTASKS": "8"}) == 8
    assert launched_size({"SLURM_NTASKS": "8"}) == 1          # an allocation, not a step


def _rank_pid(token: str, rank: int, timeout: float = 60.0) -> int:
    """The pid of the rank-``rank`` process whose command line holds ``token``."""
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                cmd = (d / "cmdline").read_bytes()
                env = (d / "environ").read_bytes()
            except OSError:
                continue
            if token.encode() in cmd and b"chainrule" in cmd and \
                    f"PMI_RANK={rank}".encode() in env.split(b"\0"):
                return int(d.name)
        time.sleep(0.05)
    raise AssertionError(f"no rank {rank} process of {token} within {timeout} s")


@pytest.mark.parametrize("who", [0, 1])
def test_ctrl_c_on_one_rank_stops_all_after_the_same_step_and_resumes_exactly(
        tmp_path: Path, who: int) -> None:
    import signal
    import time

    args = [*ARGS[:ARGS.index("--epochs")], "--epochs", "3", *ARGS[ARGS.index("--epochs") + 2:],
            "--hidden", "256", "--quiet"]
    env = dict(os.environ, PYTHONPATH=str(SRC), OPENBLAS_NUM_THREADS="1")
    run = lambda *extra: [str(MPIEXEC), "-n", "2", sys.executable, "-m",  # noqa: E731
                          "chainrule", *args, *extra]
    whole = subprocess.run(run("--out", "whole"), cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=300, check=False)
    assert whole.returncode == 0, whole.stderr
    proc = subprocess.Popen(run("--out", "split"), cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        pid = _rank_pid("split", who)
        metrics = tmp_path / "split" / "metrics.csv"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not metrics.exists() or
                                               len(metrics.read_text().split()) < 2):
            time.sleep(0.02)                      # epoch 1 is done: interrupt epoch 2
        os.kill(pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert "Training interrupted at epoch" in err and "checkpoint saved to" in err, err
    assert "aborting all ranks" not in err        # no rank was left waiting
    mid = load_checkpoint(tmp_path / "split" / "checkpoint.npz")
    assert not mid["progress"]["complete"] or mid["progress"]["epoch"] < 3
    if not mid["progress"]["complete"]:       # mid-epoch: only the same number resumes it
        one = subprocess.run([sys.executable, "-m", "chainrule", "train", "--resume",
                              "split/checkpoint.npz", "--quiet"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120, check=False)
        assert one.returncode != 0
        assert "saved in the middle of an epoch by 2 process(es)" in one.stderr
    r = subprocess.run([str(MPIEXEC), "-n", "2", sys.executable, "-m", "chainrule", "train",
                        "--resume", "split/checkpoint.npz", "--quiet", "--no-plots"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
                       check=False)
    assert r.returncode == 0, r.stderr
    a = load_checkpoint(tmp_path / "whole" / "checkpoint.npz")
    b = load_checkpoint(tmp_path / "split" / "checkpoint.npz")
    for k in a["model"]:
        np.testing.assert_array_equal(a["model"][k], b["model"][k])
