"""Issue 12: SIGKILL while a checkpoint is written never leaves a broken one.

A child saves two alternating 8 MB checkpoints to one path in a loop and is killed at
staggered moments; afterwards the path always loads and holds one complete version.
``chainrule train`` killed mid-run leaves an end-of-epoch checkpoint that resumes to the
weights of an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule.train import load_checkpoint

from ..cli.cli_helpers import weights_equal
from ..fixtures import isolated_run_dir  # noqa: F401  (an autouse fixture)

SRC = Path(cr.__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(SRC)}

SAVER = textwrap.dedent("""
    import sys, numpy as np, chainrule as cr
    versions = [np.full(1_000_000, float(v)) for v in (1, 2)]
    k = 0
    while True:
        cr.save({"w": versions[k % 2], "k": k}, sys.argv[1])
        print(k, flush=True)
        k += 1
""")


def test_a_checkpoint_killed_mid_write_is_the_old_or_the_new_one_never_broken(tmp_path):
    path = tmp_path / "ckpt.npz"
    for trial in range(8):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], env=ENV,
                                stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            proc.stdout.readline()                   # one complete save on disk
            time.sleep(0.003 * trial)                # staggered: mid-write at some point
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
            proc.stdout.close()
        got = cr.load(path)                          # never a CheckpointError
        w = got["w"]
        assert w.shape == (1_000_000,)
        assert w[0] in (1.0, 2.0) and np.all(w == w[0])
        assert w[0] == 1.0 + got["k"] % 2            # the array and its metadata agree


def _train(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "chainrule", "train", *args], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_train_killed_mid_run_resumes_from_its_last_epoch_to_the_uninterrupted_weights():
    args = ["--dataset", "mnist-sample", "--hidden", "64", "--epochs", "10", "--seed", "3",
            "--no-plots", "--quiet", "--threads", "1"]
    whole = _train(*args, "--out", "whole")
    killed = _train(*args, "--out", "killed")
    ckpt = Path("killed/checkpoint.npz")
    deadline = time.monotonic() + 240
    try:
        while not ckpt.exists():                     # epoch 1 done: kill soon after
            assert killed.poll() is None, killed.stderr.read() if killed.stderr else ""
            assert time.monotonic() < deadline, "no checkpoint after 240 s"
            time.sleep(0.02)
        time.sleep(0.3)
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        assert whole.wait(timeout=240) == 0
    finally:
        for p in (whole, killed):
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
            if p.stderr:
                p.stderr.close()
    assert killed.returncode == -signal.SIGKILL
    mid = load_checkpoint(ckpt)
    assert mid["progress"]["complete"] and 1 <= mid["progress"]["epoch"] < 10
    resumed = subprocess.run([sys.executable, "-m", "chainrule", "train", "--resume",
                              str(ckpt), "--quiet", "--no-plots", "--threads", "1"],
                             env=ENV, capture_output=True, text=True, timeout=240,
                             check=False)
    assert resumed.returncode == 0, resumed.stderr
    a = load_checkpoint("whole/checkpoint.npz")
    b = load_checkpoint(ckpt)
    assert b["progress"] == a["progress"]
    assert weights_equal(a["model"], b["model"])
