"""Issue 12, item 10: clear errors where raw tracebacks (or silent wrong output) were.

A full disk during a save, 309-digit numbers in `explain`, NaN in the data blamed on
the learning rate, `evaluate --json` printing NaN (not JSON), `t.numpy()` of a tensor
that requires grad, `--threads 100000`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.cli import main
from chainrule.data import ArrayDataset, DataLoader
from chainrule.train import Trainer, load_checkpoint

from ..fixtures import isolated_run_dir  # noqa: F401  (an autouse fixture)

SRC = Path(cr.__file__).resolve().parents[1]     # the chainrule under test, in the child too
SMALL = ["--dataset", "mnist-sample", "--hidden", "8", "--epochs", "1", "--quiet",
         "--no-plots"]


def _limited(code: str, limit: int, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``code`` in a Python whose files may not grow past ``limit`` bytes
    (RLIMIT_FSIZE; SIGXFSZ ignored, so a write past it fails with EFBIG)."""
    prelude = textwrap.dedent(f"""
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.RLIM_INFINITY))
    """)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


# ---------------------------------------------------------------------- full disk
def test_a_save_that_hits_the_file_size_limit_says_the_old_checkpoint_is_intact(tmp_path):
    tmp_path = tmp_path / "disk"
    tmp_path.mkdir()
    old = {"w": np.arange(10.0)}
    cr.save(old, tmp_path / "ckpt.npz")
    before = (tmp_path / "ckpt.npz").read_bytes()
    proc = _limited("""
        import numpy as np, chainrule as cr
        try:
            cr.save({"w": np.zeros(100_000)}, "ckpt.npz")
        except OSError as e:
            print("OSError", e.errno, e)
    """, 32 * 1024, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout.startswith("OSError 27 ")          # EFBIG
    assert "File too large while writing ckpt.npz: the disk is full or a file size " \
           "limit was reached; ckpt.npz was left as it was (its previous contents are " \
           "intact)" in proc.stdout
    assert (tmp_path / "ckpt.npz").read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]     # no temporary file left
    np.testing.assert_array_equal(cr.load(tmp_path / "ckpt.npz")["w"], old["w"])


def test_chainrule_train_on_a_full_disk_exits_with_a_message_not_a_traceback(tmp_path):
    assert main(["train", *SMALL, "--lr-schedule", "none", "--out", str(tmp_path / "r")]) == 0
    ckpt = tmp_path / "r" / "checkpoint.npz"
    before = ckpt.read_bytes()
    proc = _limited(f"""
        import sys
        from chainrule.cli import main
        sys.exit(main(["train", "--resume", {str(ckpt)!r}, "--epochs", "2", "--quiet",
                       "--no-plots"]))
    """, len(before) // 2, tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("chainrule train: error: [Errno 27] File too large "
                                  "while writing")
    assert "was left as it was (its previous contents are intact)" in proc.stderr
    assert ckpt.read_bytes() == before
    assert load_checkpoint(ckpt)["progress"]["epoch"] == 1


# ---------------------------------------------------------------------- explain
NINES = "9" * 309


@pytest.mark.parametrize("argv, expect", [
    (["a*" + NINES, "a=2"], "the integer 999999999999... (309 digits) is too large for "
                            "a float64"),
    (["a*1e999", "a=2"], "a number literal is too large for a float64"),
    (["a*b", "a=2", "b=" + NINES], "the value of b: 99999999999999999999... is too large "
                                   "for a float64"),
    (["a*b", "a=2", "b=1e999"], "the value of b: 1e999 is too large for a float64"),
    (["a*b", "a=2", f"b=[1,{NINES}]"], "the value of b: the integer 999999999999... "
                                      "(309 digits) is too large"),
])
def test_explain_refuses_numbers_beyond_float64_instead_of_a_traceback_or_inf(
        argv, expect, capsys):
    assert main(["explain", *argv]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("chainrule explain: ") and expect in err
    assert "Traceback" not in err and "df/d" not in out


def test_explain_still_takes_large_numbers_within_float64_and_inf_on_purpose(capsys):
    assert main(["explain", "a*123456789012345678901234567890", "a=1"]) == 0
    assert "df/da = 1.23457e+29" in capsys.readouterr().out
    assert main(["explain", "a*b", "a=2", "b=inf"]) == 0
    assert "df/da = inf" in capsys.readouterr().out


# ---------------------------------------------------------------------- NaN in data
def _trainer(x, lr=0.1):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3))
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    loader = DataLoader(ArrayDataset(x, y), batch_size=4)
    return Trainer(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=lr),
                   loader, None)


def test_nan_in_the_data_is_blamed_on_the_data_not_the_learning_rate():
    x = np.ones((8, 4), np.float32)
    x[1, 2] = np.nan
    with pytest.raises(FloatingPointError) as e:
        _trainer(x).fit(1)
    msg = str(e.value)
    assert "the loss is nan at epoch 1, batch 1" in msg
    assert "this batch of inputs holds 1 NaN value(s) of 16: the data has NaN in it " \
           "(not a learning-rate problem)" in msg
    assert "lower the learning rate" not in msg


@pytest.mark.filterwarnings("ignore::RuntimeWarning")     # the overflow is the point
def test_a_diverging_run_still_says_lower_the_learning_rate():
    x = np.full((8, 4), 1e30, np.float32)
    with pytest.raises(FloatingPointError, match=r"training diverged: .*lower the "
                                                 r"learning rate"):
        _trainer(x, lr=1e30).fit(1)


# ---------------------------------------------------------------------- evaluate --json
def test_evaluate_json_is_valid_json_when_the_loss_is_nan(tmp_path, capsys):
    assert main(["train", *SMALL, "--out", "r"]) == 0
    ckpt = load_checkpoint("r/checkpoint.npz")
    for k in ckpt["model"]:
        ckpt["model"][k] = np.full_like(ckpt["model"][k], np.nan)
    cr.save(ckpt, "nan.npz")
    capsys.readouterr()
    assert main(["evaluate", "nan.npz", "--json"]) == 0
    out = capsys.readouterr().out
    assert "NaN" not in out
    res = json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert res["loss"] is None
    assert isinstance(res["accuracy"], float)


# ---------------------------------------------------------------------- numpy()
def test_numpy_of_a_tensor_that_requires_grad_is_refused_as_in_pytorch():
    p = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"numpy\(\): cannot call numpy\(\) on a tensor "
                                           r"that requires grad.*t\.detach\(\)\.numpy\(\)"):
        p.numpy()
    with cr.no_grad(), pytest.raises(RuntimeError, match=r"t\.detach"):
        p.numpy()                                    # as PyTorch: in no_grad too
    with pytest.raises(RuntimeError, match="requires grad"):
        (p * 2).numpy()
    d = p.detach().numpy()
    assert d is p.data                               # the explicit way out shares memory
    assert cr.tensor([3.0]).numpy().tolist() == [3.0]


# ---------------------------------------------------------------------- --threads
@pytest.mark.parametrize("bad", ["100000", "-1", str(4 * (os.cpu_count() or 1) + 1)])
def test_threads_beyond_the_bound_is_refused(bad, capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--threads", bad])
    assert e.value.code == 2
    err = capsys.readouterr().err
    cpus = os.cpu_count() or 1
    assert f"argument --threads: expected 0 (leave NumPy's setting) or 1..{4 * cpus} " \
           f"(4 per CPU, {cpus} CPUs here), got {bad}" in err


def test_threads_within_the_bound_is_taken(capsys):
    assert main(["train", *SMALL, "--threads", str(os.cpu_count() or 1), "--out", "t"]) == 0
