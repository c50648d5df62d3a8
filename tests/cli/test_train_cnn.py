"""``chainrule train --model cnn`` and ``--model lstm``: the run folder (with the book's
figures for the CNN), exact resume, evaluate, and the option checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from chainrule.train import build_cnn, load_checkpoint, model_from_config

from .cli_helpers import png_size, run_cli, weights_equal

SMALL_CNN = ["--dataset", "mnist-sample", "--model", "cnn", "--channels", "4", "8",
             "--hidden", "16", "--epochs", "2", "--quiet"]


def test_cnn_run_folder_has_filters_and_feature_maps(capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("matplotlib")
    assert run_cli("train", *SMALL_CNN[:-1], "--out", "cnn") == 0
    out = capsys.readouterr().out
    assert "model: CNN [conv 3x3 4, pool 2] [conv 3x3 8, pool 2] then 392-16-10 (relu)" in out
    acc = float(out.split("test accuracy ")[1].split("%")[0])
    assert acc > 50.0, out                       # 2 epochs of a tiny net: it learns
    for name in ("filters.png", "feature_maps.png", "curves.png", "confusion.png",
                 "samples.png"):
        w, h = png_size(Path("cnn") / name)
        assert w > 200 and h > 100, name
    config = json.loads(Path("cnn/config.json").read_text())
    assert config["model"] == "cnn" and config["channels"] == [4, 8]
    assert config["image_shape"] == [1, 28, 28] and config["sizes"] == [8 * 7 * 7, 16, 10]
    ckpt = load_checkpoint("cnn/checkpoint.npz")
    model = model_from_config(ckpt["config"])
    model.load_state_dict(ckpt["model"])
    assert ckpt["model"]["1.weight"].shape == (4, 1, 3, 3)


def _interrupt_and_resume(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> dict:
    """Run ``args`` into split/, Ctrl-C after 70 steps, resume: the weights must equal
    whole/'s (the same run uninterrupted). Returns whole/'s checkpoint."""
    import chainrule.train as T

    count = {"n": 0}

    def stop(self: T.CSVLogger, trainer: T.Trainer, info: T.StepInfo) -> None:
        count["n"] += 1
        if count["n"] == 70:
            raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(T.CSVLogger, "on_batch_end", stop)
        assert run_cli(*args, "--out", "split") == 130
    assert run_cli("train", "--resume", "split/checkpoint.npz", "--quiet", "--no-plots") == 0
    a, b = load_checkpoint("whole/checkpoint.npz"), load_checkpoint("split/checkpoint.npz")
    assert weights_equal(a["model"], b["model"])
    return a


def test_cnn_resume_is_exact(monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture) -> None:

    args = ["train", *SMALL_CNN, "--no-plots", "--seed", "3"]
    assert run_cli(*args, "--out", "whole") == 0
    _interrupt_and_resume(monkeypatch, args)
    capsys.readouterr()
    assert run_cli("evaluate", "whole/checkpoint.npz") == 0
    assert "accuracy" in capsys.readouterr().out


@pytest.mark.parametrize(("extra", "message"), [
    (["--channels", "4"], "--channels only apply to --model cnn"),
    (["--model", "cnn", "--kernel-size", "4"], "--kernel-size 4: use an odd size"),
    (["--model", "cnn", "--channels", "2", "2", "2", "2", "2", "2"],
     "6 pooling blocks halve a 28x28 image to nothing"),
])
def test_cnn_options_are_checked(extra: list[str], message: str,
                                 capsys: pytest.CaptureFixture) -> None:
    assert run_cli("train", "--dataset", "mnist-sample", "--epochs", "1", "--quiet",
                   "--no-plots", *extra) != 0
    assert message in capsys.readouterr().err


def test_build_cnn_shapes_and_errors() -> None:
    model = build_cnn((1, 28, 28), [6, 12], [12 * 7 * 7, 10], kernel_size=5)
    y = model(np.zeros((3, 784), np.float32))
    assert y.shape == (3, 10)
    with pytest.raises(ValueError, match="must start at 588 features"):
        build_cnn((1, 28, 28), [6, 12], [100, 10])
    with pytest.raises(ValueError, match="positive odd number"):
        build_cnn((1, 28, 28), [6], [6 * 196, 10], kernel_size=2)


def test_lstm_run_reads_rows_and_resumes_exactly(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture) -> None:

    args = ["train", "--dataset", "mnist-sample", "--model", "lstm", "--hidden", "16", "16",
            "--epochs", "2", "--no-plots", "--quiet", "--seed", "2"]
    assert run_cli(*args, "--out", "whole") == 0
    out = capsys.readouterr().out
    assert float(out.split("test accuracy ")[1].split("%")[0]) > 30.0, out
    config = json.loads(Path("whole/config.json").read_text())
    assert config["model"] == "lstm" and config["sizes"] == [28, 16, 16, 10]
    assert config["image_shape"] == [1, 28, 28] and config["lr"] == 3e-3
    assert config["model_description"].startswith(
        "LSTM over rows (28 steps of 28 pixels), 2 layers of 16, then Linear to 10")
    a = _interrupt_and_resume(monkeypatch, args)
    assert "lstm.weight_ih_l1" in a["model"]
    capsys.readouterr()
    assert run_cli("evaluate", "whole/checkpoint.npz") == 0


@pytest.mark.parametrize(("extra", "message"), [
    (["--model", "lstm", "--hidden", "16", "32"], "the LSTM's layers have one size"),
    (["--model", "lstm", "--dropout", "0.2"], "--dropout applies to --model mlp and cnn"),
])
def test_lstm_options_are_checked(extra: list[str], message: str,
                                  capsys: pytest.CaptureFixture) -> None:
    assert run_cli("train", "--dataset", "mnist-sample", "--epochs", "1", "--quiet",
                   "--no-plots", *extra) != 0
    assert message in capsys.readouterr().err
