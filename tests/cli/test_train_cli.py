"""``chainrule train`` and ``chainrule evaluate`` through ``chainrule.cli.main``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import chainrule.train as T
from chainrule.serialization import CheckpointError, load, save
from chainrule.train import CHECKPOINT_FORMAT, load_checkpoint

from .cli_helpers import SMALL, png_size, read_metrics, run_cli, weights_equal

METRIC_COLUMNS = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds",
                  "samples_per_s", "lr"]


def test_run_folder_holds_every_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("matplotlib", reason="the plots need matplotlib (the plot extra)")
    out = tmp_path / "run"
    assert run_cli("train", *SMALL, "--out", str(out)) == 0
    final = capsys.readouterr().out.strip().splitlines()[-1]
    assert final.startswith("done: test accuracy") and str(out) in final

    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["config.json", "metrics.csv", "checkpoint.npz", "curves.png", "confusion.png",
         "samples.png"])

    config = json.loads((out / "config.json").read_text())
    assert config["sizes"] == [784, 32, 10]
    assert config["dataset"] == "mnist-sample" and config["dataset_resolved"] == "mnist-sample"
    assert config["classes"] == [str(d) for d in range(10)]
    assert config["epochs"] == 2 and config["optimizer"] == "adam" and config["lr"] == 1e-3
    assert config["train_samples"] == 4000 and config["test_samples"] == 1000
    assert config["parameters"] == 784 * 32 + 32 + 32 * 10 + 10
    assert "MNIST sample" in config["dataset_description"]

    header, rows = read_metrics(out / "metrics.csv")
    assert header == METRIC_COLUMNS
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    for r in rows:
        assert 0.0 < float(r["train_loss"]) < 3.0 and 0.0 < float(r["test_loss"]) < 3.0
        assert 0.5 < float(r["test_acc"]) <= 1.0 and 0.3 < float(r["train_acc"]) <= 1.0
        assert float(r["seconds"]) > 0 and float(r["samples_per_s"]) > 0
    # cosine schedule over 2 epochs: full rate, then half of it
    assert [float(r["lr"]) for r in rows] == pytest.approx([1e-3, 5e-4])
    # learning happened: the second epoch fits the training data better than the first
    assert float(rows[1]["train_loss"]) < float(rows[0]["train_loss"])

    ckpt = load_checkpoint(out / "checkpoint.npz")
    assert ckpt["format"] == CHECKPOINT_FORMAT
    assert ckpt["progress"]["epoch"] == 2 and ckpt["progress"]["batch"] == 0
    assert {k: v.shape for k, v in ckpt["model"].items()} == {
        "0.weight": (784, 32), "0.bias": (32,), "2.weight": (32, 10), "2.bias": (10,)}
    assert all(v.dtype == np.float32 for v in ckpt["model"].values())
    assert [h["epoch"] for h in ckpt["history"]] == [1, 2]
    assert ckpt["history"][-1]["test_acc"] == float(rows[-1]["test_acc"])

    sizes = {name: png_size(out / name) for name in ("curves.png", "confusion.png",
                                                     "samples.png")}
    for name, (w, h) in sizes.items():
        assert w > 300 and h > 200, (name, w, h)
    # no temporary files left behind by the atomic writes
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_default_dataset_says_it_fell_back_to_the_sample(
        capsys: pytest.CaptureFixture) -> None:
    # --epochs 0: load data and build the model, train nothing, score the test set
    assert run_cli("train", "--epochs", "0", "--hidden", "8", "--no-plots",
                   "--out", "r") == 0
    out = capsys.readouterr().out
    assert "MNIST sample shipped with chainrule" in out
    assert "The full MNIST (60,000 train / 10,000 test) was not found" in out
    assert json.loads(Path("r/config.json").read_text())["dataset_resolved"] == "mnist-sample"


def test_quiet_prints_only_the_result(capsys: pytest.CaptureFixture) -> None:
    assert run_cli("train", *SMALL, "--epochs", "1", "--no-plots", "--out", "q") == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("done: test accuracy")
    assert captured.err == ""


def test_adamw_weight_decay_defaults_to_001_and_an_explicit_zero_is_kept() -> None:
    small = [*SMALL, "--epochs", "1", "--no-plots", "--optimizer", "adamw"]
    assert run_cli("train", *small, "--out", "default") == 0
    assert run_cli("train", *small, "--weight-decay", "0", "--out", "zero") == 0
    for run, wd in (("default", 0.01), ("zero", 0.0)):
        assert json.loads(Path(run, "config.json").read_text())["weight_decay"] == wd
        ckpt = load_checkpoint(Path(run, "checkpoint.npz"))
        assert ckpt["config"]["weight_decay"] == wd
        assert [g["weight_decay"] for g in ckpt["optimizer"]["param_groups"]] == [wd]


def test_plain_progress_and_table_when_not_a_terminal(capsys: pytest.CaptureFixture) -> None:
    assert run_cli("train", "--hidden", "16", "--epochs", "2", "--no-plots", "--out",
                   "p") == 0
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    header = next(i for i, ln in enumerate(out) if ln.split()[:1] == ["epoch"])
    assert out[header].split() == ["epoch", "train", "loss", "train", "acc", "test", "loss",
                                   "test", "acc", "time"]
    rows = [ln.split() for ln in out[header + 2:header + 4]]
    assert [r[0] for r in rows] == ["1", "2"]
    assert all(r[2].endswith("%") and r[4].endswith("%") and r[5].endswith("s")
               for r in rows)
    # stderr is not a TTY under pytest: plain lines, one per epoch here, no \r bars
    progress = [ln for ln in captured.err.splitlines() if ln.startswith("epoch ")]
    assert len(progress) == 2 and "\r" not in captured.err
    assert progress[-1].startswith("epoch 2/2: batch 63/63, loss ")
    assert progress[-1].endswith("samples/s")


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, steps: int) -> None:
    """Make the run raise KeyboardInterrupt after ``steps`` training steps, from a
    callback that every CLI run has (the metrics logger)."""
    count = {"n": 0}

    def on_batch_end(self: T.CSVLogger, trainer: T.Trainer, info: T.StepInfo) -> None:
        count["n"] += 1
        if count["n"] == steps:
            raise KeyboardInterrupt

    monkeypatch.setattr(T.CSVLogger, "on_batch_end", on_batch_end)


@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_resume_ends_with_the_weights_of_an_uninterrupted_run(
        optimizer: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    # Dropout and random shifts draw from the global generator, the loader shuffles
    # and the schedule changes the rate: everything that must be restored exactly.
    args = ["train", "--dataset", "mnist-sample", "--hidden", "48", "24", "--epochs", "3",
            "--optimizer", optimizer, "--dropout", "0.2", "--shift", "2", "--seed", "7",
            "--no-plots", "--quiet"]
    assert run_cli(*args, "--out", "whole") == 0

    with monkeypatch.context() as m:
        _interrupt_after(m, 100)           # epoch 2, after its 37th batch (63 per epoch)
        assert run_cli(*args, "--out", "split") == 130
    err = capsys.readouterr().err
    assert "Training interrupted at epoch 2, after batch 37 of 63" in err
    assert "Resume with: chainrule train --resume split/checkpoint.npz" in err
    mid = load_checkpoint("split/checkpoint.npz")
    assert mid["progress"] == {"epoch": 1, "batch": 37, "step": 100, "complete": False}
    assert len(mid["history"]) == 1

    assert run_cli("train", "--resume", "split/checkpoint.npz", "--quiet",
                   "--no-plots") == 0
    a = load_checkpoint("whole/checkpoint.npz")
    b = load_checkpoint("split/checkpoint.npz")
    assert weights_equal(a["model"], b["model"])
    state_a, state_b = a["optimizer"]["state"], b["optimizer"]["state"]
    assert state_a.keys() == state_b.keys()
    for k in state_a:
        for name, v in state_a[k].items():
            assert np.array_equal(v, state_b[k][name]), (k, name)
    assert a["rng"] == b["rng"] and a["loader"] == b["loader"]
    # the metrics agree too, except wall-clock columns
    _, rows_a = read_metrics(Path("whole/metrics.csv"))
    _, rows_b = read_metrics(Path("split/metrics.csv"))
    timing = {"seconds", "samples_per_s"}
    assert [{k: v for k, v in r.items() if k not in timing} for r in rows_a] == \
        [{k: v for k, v in r.items() if k not in timing} for r in rows_b]
    resumed = json.loads(Path("split/config.json").read_text())["resumed"]
    assert len(resumed) == 1 and resumed[0]["batch"] == 37


def test_resume_refuses_changed_settings(capsys: pytest.CaptureFixture) -> None:
    assert run_cli("train", *SMALL, "--epochs", "1", "--no-plots", "--out", "r") == 0
    capsys.readouterr()
    assert run_cli("train", "--resume", "r/checkpoint.npz", "--hidden", "64",
                   "--lr", "0.5") == 1
    err = capsys.readouterr().err
    assert "--hidden [64] (the checkpoint has [32])" in err
    assert "--lr 0.5 (the checkpoint has 0.001)" in err
    # the cosine schedule was planned for 1 epoch: the length cannot change
    assert run_cli("train", "--resume", "r/checkpoint.npz", "--epochs", "3") == 1
    assert "cosine learning-rate schedule planned for 1 epochs" in capsys.readouterr().err


def test_resume_can_extend_a_run_without_schedule(capsys: pytest.CaptureFixture) -> None:
    assert run_cli("train", *SMALL, "--epochs", "1", "--lr-schedule", "none", "--no-plots",
                   "--out", "r") == 0
    assert run_cli("train", "--resume", "r/checkpoint.npz", "--epochs", "2", "--quiet",
                   "--no-plots") == 0
    _, rows = read_metrics(Path("r/metrics.csv"))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert load_checkpoint("r/checkpoint.npz")["progress"]["epoch"] == 2


def test_out_folder_with_a_run_is_not_overwritten(capsys: pytest.CaptureFixture) -> None:
    assert run_cli("train", *SMALL, "--epochs", "1", "--no-plots", "--out", "r") == 0
    before = Path("r/checkpoint.npz").read_bytes()
    assert run_cli("train", *SMALL, "--no-plots", "--out", "r") == 1
    assert "r already holds a run" in capsys.readouterr().err
    assert Path("r/checkpoint.npz").read_bytes() == before


def test_evaluate_scores_the_checkpoint(capsys: pytest.CaptureFixture) -> None:
    assert run_cli("train", *SMALL, "--no-plots", "--out", "r") == 0
    _, rows = read_metrics(Path("r/metrics.csv"))
    capsys.readouterr()

    assert run_cli("evaluate", "r/checkpoint.npz", "--json") == 0
    res = json.loads(capsys.readouterr().out)
    assert res["samples"] == 1000
    # same weights, same test images, same batches: exactly the training run's figures
    assert res["accuracy"] == float(rows[-1]["test_acc"])
    assert res["loss"] == pytest.approx(float(rows[-1]["test_loss"]), rel=1e-12)
    per_class = res["per_class"]
    assert [c["class"] for c in per_class] == [str(d) for d in range(10)]
    assert sum(c["samples"] for c in per_class) == 1000
    assert sum(c["correct"] for c in per_class) == round(1000 * res["accuracy"])
    for c in per_class:
        assert c["accuracy"] == pytest.approx(c["correct"] / c["samples"])

    assert run_cli("evaluate", "r/checkpoint.npz") == 0
    text = capsys.readouterr().out
    assert f"accuracy {100 * res['accuracy']:.2f}%" in text
    assert "class  samples  correct  accuracy" in text
    assert "after epoch 2" in text

    # the training split too (a different number of samples)
    assert run_cli("evaluate", "r/checkpoint.npz", "--split", "train", "--json") == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 4000


def test_evaluate_on_other_data_checks_the_input_size(capsys: pytest.CaptureFixture,
                                                      tmp_path: Path) -> None:
    assert run_cli("train", *SMALL, "--epochs", "1", "--no-plots", "--out", "r") == 0
    ckpt = load("r/checkpoint.npz")
    # a model for 100 inputs (weights resized consistently) cannot score 784-pixel images
    ckpt["config"]["sizes"] = [100, 32, 10]
    ckpt["model"]["0.weight"] = ckpt["model"]["0.weight"][:100]
    save(ckpt, tmp_path / "small_input.npz")
    capsys.readouterr()
    assert run_cli("evaluate", str(tmp_path / "small_input.npz")) == 1
    assert "the model takes 100 inputs but" in capsys.readouterr().err


def _bad_checkpoints(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Broken files, each with a phrase its error message must contain."""
    assert run_cli("train", *SMALL, "--epochs", "1", "--no-plots", "--out", "good") == 0
    good = Path("good/checkpoint.npz")
    cases: dict[str, tuple[Path, str]] = {}

    p = tmp_path / "garbage.npz"
    p.write_bytes(b"this is not a checkpoint")
    cases["garbage"] = (p, "not a chainrule checkpoint: not a zip/.npz archive")

    p = tmp_path / "truncated.npz"
    p.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    cases["truncated"] = (p, "truncated.npz")

    p = tmp_path / "plain.npz"
    np.savez(p, w=np.zeros(3))
    cases["plain npz"] = (p, "not a chainrule checkpoint")

    p = tmp_path / "state_dict.npz"
    save({"0.weight": np.zeros((784, 32), np.float32)}, p)
    cases["bare state dict"] = (p, "It looks like a bare state dict")

    ckpt = load(good)
    ckpt["model"]["0.weight"] = np.zeros((784, 31), np.float32)
    p = tmp_path / "wrong_shape.npz"
    save(ckpt, p)
    cases["wrong shape"] = (p, "'0.weight': expected shape (784, 32), got (784, 31)")

    ckpt = load(good)
    del ckpt["model"]["2.bias"]
    p = tmp_path / "missing_key.npz"
    save(ckpt, p)
    cases["missing key"] = (p, "missing keys (1): '2.bias'")

    ckpt = load(good)
    del ckpt["config"]["sizes"]
    p = tmp_path / "no_config.npz"
    save(ckpt, p)
    cases["no model description"] = (p, "only checkpoints written by `chainrule train`")

    ckpt = load(good)
    ckpt["version"] = 99
    p = tmp_path / "future.npz"
    save(ckpt, p)
    cases["future version"] = (p, "training checkpoint version 99 is not supported")
    return cases


def test_bad_checkpoints_give_clear_errors(tmp_path: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    cases = _bad_checkpoints(tmp_path)
    capsys.readouterr()
    for name, (path, phrase) in cases.items():
        assert run_cli("evaluate", str(path)) == 1, name
        err = capsys.readouterr().err
        assert err.startswith("chainrule evaluate: error: "), (name, err)
        assert phrase in err, (name, err)
        assert "Traceback" not in err
        # --resume reads checkpoints the same way
        assert run_cli("train", "--resume", str(path), "--quiet") == 1, name
        err = capsys.readouterr().err
        assert err.startswith("chainrule train: error: "), (name, err)

    assert run_cli("evaluate", str(tmp_path / "missing.npz")) == 1
    assert "no such checkpoint file" in capsys.readouterr().err
    assert run_cli("evaluate", str(tmp_path)) == 1
    assert "is a directory" in capsys.readouterr().err


def test_load_checkpoint_raises_checkpoint_error(tmp_path: Path) -> None:
    p = tmp_path / "sd.npz"
    save({"w": np.ones(2)}, p)
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        load_checkpoint(p)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nope.npz")


def test_bad_options_are_usage_errors(capsys: pytest.CaptureFixture) -> None:
    for argv in (["--hidden", "0"], ["--lr", "-1"], ["--lr", "nan"], ["--batch-size", "0"],
                 ["--dropout", "1"], ["--optimizer", "lbfgs"], ["--dataset", "cifar"]):
        with pytest.raises(SystemExit) as e:
            run_cli("train", *argv)
        assert e.value.code == 2
    err = capsys.readouterr().err
    assert "expected a positive integer, got 0" in err
    assert "expected a finite number > 0, got nan" in err
    assert "invalid choice: 'lbfgs'" in err


def test_evaluate_batch_size_must_be_positive(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as e:
        run_cli("evaluate", "checkpoint.npz", "--batch-size", "0")
    assert e.value.code == 2
    assert "argument --batch-size: expected a positive integer, got 0" in capsys.readouterr().err


def test_float64_run(capsys: pytest.CaptureFixture) -> None:
    assert run_cli("train", *SMALL, "--epochs", "1", "--dtype", "float64", "--no-plots",
                   "--out", "r") == 0
    ckpt = load_checkpoint("r/checkpoint.npz")
    assert all(v.dtype == np.float64 for v in ckpt["model"].values())
    assert math.isfinite(ckpt["history"][0]["test_loss"])
