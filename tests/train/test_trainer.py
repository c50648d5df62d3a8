"""The library side of training: Trainer, checkpoints, Ctrl-C, callbacks, helpers."""

from __future__ import annotations

import io
import math
import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import ArrayDataset, DataLoader, MNISTSample
from chainrule.random import get_rng_state, manual_seed
from chainrule.serialization import CheckpointError
from chainrule.train import (
    Callback,
    EpochResult,
    EpochTable,
    Evaluation,
    ProgressBar,
    RandomShift,
    StepInfo,
    Trainer,
    TrainingInterrupted,
    build_mlp,
    evaluate,
    fit,
    load_checkpoint,
    make_optimizer,
)

from .train_helpers import weights_equal

TRAIN = MNISTSample("train")
TEST = MNISTSample("test")


def make_trainer(tmp: Path | None = None, callbacks: tuple[Callback, ...] = (),
                 seed: int = 3, optimizer: str = "adam", **kw: Any) -> Trainer:
    """A small network with dropout, augmentation and a schedule (all stateful)."""
    manual_seed(seed)
    model = build_mlp([784, 40, 20, 10], "relu", dropout=0.1)
    opt = make_optimizer(optimizer, model.parameters())
    sched = optim.CosineAnnealingLR(opt, T_max=3)
    return Trainer(model, nn.SoftmaxCrossEntropy(), opt,
                   DataLoader(TRAIN, 100, shuffle=True, seed=seed), DataLoader(TEST, 500),
                   scheduler=sched, callbacks=callbacks, transform=RandomShift(2),
                   checkpoint_path=None if tmp is None else tmp / "ckpt.npz", **kw)


class StopAt(Callback):
    """Ask to stop after ``step`` steps: with a real SIGINT, or by raising."""

    def __init__(self, step: int, how: str = "signal", times: int = 1) -> None:
        self.step = step
        self.how = how
        self.times = times

    def on_batch_end(self, trainer: Trainer, info: StepInfo) -> None:
        if info.step != self.step:
            return
        if self.how == "signal":
            for _ in range(self.times):
                os.kill(os.getpid(), signal.SIGINT)
        else:
            raise KeyboardInterrupt


def _needs_default_sigint() -> None:
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT is handled by someone else in this process")


@pytest.mark.parametrize("how", ["signal", "raise"])
def test_interrupt_then_resume_is_bit_for_bit(tmp_path: Path, how: str,
                                              capsys: pytest.CaptureFixture) -> None:
    if how == "signal":
        _needs_default_sigint()
    whole = make_trainer()
    whole.fit(3)

    first = make_trainer(tmp_path, callbacks=(StopAt(57, how),))
    with pytest.raises(TrainingInterrupted) as e:
        first.fit(3)
    err = e.value
    assert isinstance(err, KeyboardInterrupt)
    assert err.checkpoint == tmp_path / "ckpt.npz" and (err.epoch, err.batch) == (2, 17)
    assert "epoch 2, after batch 17 of 40" in str(err)
    if how == "signal":
        assert "stopping after this step" in capsys.readouterr().err
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored

    # A fresh process would start like this: same construction, then the checkpoint.
    manual_seed(12345)   # whatever the generator holds now must not matter
    second = make_trainer(tmp_path)
    second.load_state_dict(load_checkpoint(tmp_path / "ckpt.npz"))
    assert (second.epoch, second.batch, second.step) == (1, 17, 57)
    second.fit(3)

    assert weights_equal(whole.model.state_dict(), second.model.state_dict())
    sa, sb = whole.optimizer.state_dict(), second.optimizer.state_dict()
    for k in sa["state"]:
        for name, v in sa["state"][k].items():
            assert np.array_equal(v, sb["state"][k][name]), (k, name)
    assert get_rng_state() == whole_rng(whole)
    strip = [("seconds", "samples_per_s")]
    for ra, rb in zip(whole.history, second.history):
        da, db = ra.as_dict(), rb.as_dict()
        for k in strip[0]:
            da.pop(k)
            db.pop(k)
        assert da == db


def whole_rng(trainer: Trainer) -> dict:
    """The generator state at the end of ``trainer``'s run (saved by its last state)."""
    return trainer.state_dict()["rng"]


def test_second_ctrl_c_during_the_step_still_leaves_a_consistent_checkpoint(
        tmp_path: Path) -> None:
    _needs_default_sigint()
    t = make_trainer(tmp_path, callbacks=(StopAt(5, "signal", times=2),))
    with pytest.raises(TrainingInterrupted) as e:
        t.fit(1)
    # the second signal raised at once, but after the step had been committed
    assert e.value.batch == 5 and e.value.checkpoint is not None
    assert load_checkpoint(e.value.checkpoint)["progress"]["batch"] == 5


class BrokenStep(optim.SGD):
    """Updates half of the parameters, then is interrupted."""

    calls = 0

    def step(self, closure: Any = None) -> Any:
        BrokenStep.calls += 1
        if BrokenStep.calls == 3:
            self._update_group({**self.param_groups[0],
                                "params": self.param_groups[0]["params"][:2]})
            raise KeyboardInterrupt
        return super().step(closure)


def test_interrupt_inside_the_update_writes_no_checkpoint(tmp_path: Path) -> None:
    manual_seed(0)
    model = build_mlp([784, 16, 10])
    ckpt = tmp_path / "c.npz"
    BrokenStep.calls = 0
    t = Trainer(model, nn.SoftmaxCrossEntropy(), BrokenStep(model.parameters(), lr=0.1),
                DataLoader(TRAIN, 100, shuffle=True, seed=0), checkpoint_path=ckpt)
    with pytest.raises(TrainingInterrupted) as e:
        t.fit(1)
    assert e.value.checkpoint is None and not ckpt.exists()
    assert "the state is inconsistent, so no checkpoint was written" in str(e.value)


def test_checkpoint_after_every_epoch_and_history(tmp_path: Path) -> None:
    seen: list[int] = []

    class Probe(Callback):
        def on_epoch_end(self, trainer: Trainer, result: EpochResult) -> None:
            # the checkpoint of this epoch is already on disk
            seen.append(load_checkpoint(trainer.checkpoint_path)["progress"]["epoch"])

    t = make_trainer(tmp_path, callbacks=(Probe(),))
    hist = t.fit(2)
    assert seen == [1, 2]
    assert [r.epoch for r in hist] == [1, 2]
    assert hist[0].lr == pytest.approx(1e-3) and hist[1].lr == pytest.approx(7.5e-4)
    assert all(0.5 < r.test_acc <= 1 and r.train_loss > 0 for r in hist)
    assert t.last_evaluation is not None and t.last_evaluation.num_samples == 1000
    assert t.last_evaluation.accuracy == hist[-1].test_acc
    # fitting to a total already reached does nothing
    assert t.fit(2) == hist and len(t.history) == 2


def test_resume_into_a_different_setup_is_refused(tmp_path: Path) -> None:
    t = make_trainer(tmp_path)
    t.fit(1)
    state = load_checkpoint(tmp_path / "ckpt.npz")

    manual_seed(0)
    wider = build_mlp([784, 41, 20, 10], dropout=0.1)
    opt = make_optimizer("adam", wider.parameters())
    other = Trainer(wider, nn.SoftmaxCrossEntropy(), opt, DataLoader(TRAIN, 100, shuffle=True),
                    scheduler=optim.CosineAnnealingLR(opt, T_max=3))
    with pytest.raises(CheckpointError, match=r"'0.weight': expected shape \(784, 41\)"):
        other.load_state_dict(state)

    same = make_trainer()
    same.train_loader = DataLoader(TRAIN, 50, shuffle=True, seed=3)
    with pytest.raises(CheckpointError, match=r"training data does not match.*batch_size"):
        same.load_state_dict(state)

    plain = make_trainer()
    plain.optimizer = make_optimizer("sgd", plain.model.parameters())
    plain.scheduler = None
    with pytest.raises(CheckpointError, match="saved with the optimizer Adam, but this "
                                              "trainer has SGD"):
        plain.load_state_dict(state)


def test_fit_without_test_loader_and_functional_form() -> None:
    manual_seed(1)
    model = build_mlp([784, 16, 10])
    small = ArrayDataset(TRAIN.x[:300], TRAIN.y[:300])
    hist = fit(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.1),
               DataLoader(small, 50, shuffle=True, seed=0), epochs=2)
    assert len(hist) == 2 and math.isnan(hist[0].test_loss) and math.isnan(hist[1].test_acc)
    assert hist[1].train_loss < hist[0].train_loss


def test_divergence_is_reported() -> None:
    manual_seed(0)
    model = build_mlp([784, 8, 10])
    model[0].weight.data[0, 0] = np.nan
    t = Trainer(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.1),
                DataLoader(TRAIN, 100))
    with pytest.raises(FloatingPointError, match="the loss is nan at epoch 1, batch 1"):
        t.fit(1)


def test_trainer_rejects_what_it_cannot_resume() -> None:
    model = build_mlp([784, 8, 10])
    with pytest.raises(TypeError, match=r"train_loader .*lacks state_dict"):
        Trainer(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.1),
                [(TRAIN.x[:10], TRAIN.y[:10])])
    t = make_trainer()
    with pytest.raises(ValueError, match="epochs must be a non-negative int"):
        t.fit(-1)


def test_evaluation_figures_by_hand() -> None:
    ev = Evaluation(loss=0.5, accuracy=0.6, predictions=np.array([0, 1, 1, 2, 2]),
                    targets=np.array([0, 1, 2, 2, 0]), num_classes=4)
    assert ev.confusion_matrix().tolist() == [[1, 0, 1, 0], [0, 1, 0, 0], [0, 1, 1, 0],
                                              [0, 0, 0, 0]]
    pc = ev.per_class_accuracy()
    assert pc[:3].tolist() == [0.5, 1.0, 0.5] and math.isnan(pc[3])
    assert ev.support().tolist() == [2, 1, 2, 0]


def test_evaluate_restores_training_mode_and_matches_a_manual_pass() -> None:
    manual_seed(0)
    model = build_mlp([784, 16, 10], dropout=0.5)
    model.train()
    ev = evaluate(model, nn.SoftmaxCrossEntropy(), DataLoader(TEST, 300))
    assert model.training and all(m.training for m in model.modules())
    model.eval()
    with cr.no_grad():
        logits = model(cr.tensor(TEST.x)).detach().numpy()
    assert np.array_equal(ev.predictions, np.argmax(logits, axis=1))
    assert ev.accuracy == float(np.mean(ev.predictions == TEST.y))
    logp = logits - np.log(np.sum(np.exp(logits - logits.max(1, keepdims=True)), 1,
                                  keepdims=True)) - logits.max(1, keepdims=True)
    assert ev.loss == pytest.approx(-np.mean(logp[np.arange(1000), TEST.y]), rel=1e-5)


def test_random_shift() -> None:
    x = np.zeros((50, 784), np.float32)
    x[:, 14 * 28 + 14] = 1.0                      # one lit pixel in the middle
    manual_seed(0)
    out = RandomShift(2)(x)
    assert out.shape == x.shape and out.dtype == np.float32
    ys, xs = np.nonzero(out.reshape(50, 28, 28))[1:]
    assert len(ys) == 50                           # the pixel is never lost
    assert set(ys.tolist()) <= set(range(12, 17)) and set(xs.tolist()) <= set(range(12, 17))
    assert len(set(zip(ys.tolist(), xs.tolist()))) > 10   # shifts vary per image
    manual_seed(0)
    assert np.array_equal(RandomShift(2)(x), out)  # reproducible from the seed
    t = RandomShift(1)(cr.tensor(TRAIN.x[:4]))
    assert isinstance(t, cr.Tensor) and t.shape == (4, 784)
    same = cr.tensor(TRAIN.x[:2])
    assert RandomShift(0)(same) is same
    with pytest.raises(ValueError, match=r"expected a batch of 28x28 images"):
        RandomShift(2)(np.zeros((3, 100)))
    with pytest.raises(ValueError, match="max_shift must be an int >= 0"):
        RandomShift(-1)


def test_epoch_table_and_plain_progress_lines() -> None:
    out = io.StringIO()
    table = EpochTable(stream=out)
    table.row(EpochResult(1, 0.51234, 0.8512, 0.4, 0.9, 1.26, 1000.0, 0.001))
    table.row(EpochResult(2, 0.3, 0.9, math.nan, math.nan, 0.5, 1000.0, 0.001))
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["epoch", "train", "loss", "train", "acc", "test", "loss",
                                "test", "acc", "time"]
    assert lines[2].split() == ["1", "0.5123", "85.12%", "0.4000", "90.00%", "1.3s"]
    assert lines[3].split() == ["2", "0.3000", "90.00%", "-", "-", "0.5s"]

    err = io.StringIO()
    bar = ProgressBar(stream=err, interval=0.0)
    assert not bar.uses_tqdm                        # a StringIO is not a terminal
    t = make_trainer(callbacks=(bar,))
    t.fit(1)
    lines = err.getvalue().splitlines()
    assert len(lines) == 40 and lines[-1].startswith("epoch 1: batch 40/40, loss ")


def test_tqdm_bar_on_a_terminal() -> None:
    pytest.importorskip("tqdm")

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    bar = ProgressBar(stream=stream)
    assert bar.uses_tqdm
    t = make_trainer(callbacks=(bar,))
    t.fit(1)
    text = stream.getvalue()
    assert "\r" in text and "samples/s" in text and "40/40" in text


def test_build_mlp_and_make_optimizer() -> None:
    manual_seed(0)
    m = build_mlp([784, 30, 20, 10], "tanh", np.float64)
    kinds = [type(layer).__name__ for layer in m]
    assert kinds == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    assert m[0].weight.dtype == np.float64 and not m[0].bias.data.any()
    bound = 5 / 3 * math.sqrt(6 / (784 + 30))      # Xavier uniform with tanh's gain
    assert np.abs(m[0].weight.data).max() <= bound
    r = build_mlp([784, 30, 10], "relu")
    assert np.abs(r[0].weight.data).max() <= math.sqrt(6 / 784)   # He uniform
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        build_mlp([784, 10], "gelu")
    with pytest.raises(ValueError, match="at least two positive widths"):
        build_mlp([784])
    opt = make_optimizer("nesterov", r.parameters())
    assert isinstance(opt, optim.SGD) and opt.param_groups[0]["nesterov"]
    assert opt.param_groups[0]["lr"] == 0.05 and opt.param_groups[0]["momentum"] == 0.9
    assert make_optimizer("adamw", r.parameters()).param_groups[0]["weight_decay"] == 0.01
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        make_optimizer("lbfgs", r.parameters())


def test_blas_threads_limits_and_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from chainrule.train import blas_threads
    from chainrule.train._blas import _openblas_functions
    funcs = _openblas_functions()
    if not funcs:
        pytest.skip("NumPy does not use a (controllable) OpenBLAS here")
    get = funcs[0][0]
    before = get()
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)   # the ctypes path
    with blas_threads(1) as n:
        assert n == 1 and get() == 1
        a = np.ones((64, 64), np.float32)
        assert np.array_equal(a @ a, np.full((64, 64), 64, np.float32))
    assert get() == before
    with blas_threads(None) as n:
        assert n is None and get() == before
    with pytest.raises(ValueError, match="positive int or None"), blas_threads(0):
        pass


def test_make_optimizer_honours_an_explicit_weight_decay_of_zero() -> None:
    params = list(build_mlp([4, 3]).parameters())
    assert make_optimizer("adamw", params, weight_decay=0).param_groups[0]["weight_decay"] == 0
    assert make_optimizer("adamw", params, weight_decay=0.2).param_groups[0][
        "weight_decay"] == 0.2
    assert make_optimizer("adam", params).param_groups[0]["weight_decay"] == 0
    assert make_optimizer("sgd", params, weight_decay=1e-3).param_groups[0][
        "weight_decay"] == 1e-3
