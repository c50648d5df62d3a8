"""End to end: small networks learn toy problems, reproducibly."""

from __future__ import annotations

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, optim
from chainrule.random import manual_seed


def blobs(n=200, seed=0):
    """Two Gaussian blobs in 2-D, centred at (-2, -2) and (2, 2)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, 2)) + np.where(y[:, None] == 1, 2.0, -2.0)
    return x.astype(np.float32), y


def test_mlp_learns_xor():
    manual_seed(0)
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([0, 1, 1, 0])
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    opt = optim.Adam(model.parameters(), lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    np.testing.assert_array_equal(np.argmax(model(x).data, axis=1), y)


def test_mlp_with_batchnorm_and_dropout_separates_blobs_and_generalises():
    manual_seed(1)
    x, y = blobs(256, seed=0)
    x_test, y_test = blobs(200, seed=1)
    model = nn.Sequential(nn.Linear(2, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(32, 2))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    for _epoch in range(20):
        for i in range(0, 256, 32):
            opt.zero_grad()
            F.cross_entropy(model(x[i:i + 32]), y[i:i + 32]).backward()
            opt.step()
        sched.step()
    model.eval()
    with cr.no_grad():
        acc = (np.argmax(model(x_test).data, axis=1) == y_test).mean()
    assert acc >= 0.97


def test_binary_classifier_with_bce_and_hinge_losses():
    x, y = blobs(200, seed=2)
    for loss_fn, out in ((lambda s, t: F.binary_cross_entropy_with_logits(
            s[:, 0], t.astype(np.float32)), 1), (F.hinge_loss, 2)):
        manual_seed(2)
        model = nn.Linear(2, out)
        opt = optim.RMSprop(model.parameters(), lr=0.01)
        for _ in range(100):
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        scores = model(x).data
        pred = (scores[:, 0] > 0).astype(int) if out == 1 else np.argmax(scores, axis=1)
        assert (pred == y).mean() >= 0.97


def test_training_is_reproducible_under_manual_seed():
    def run():
        manual_seed(123)
        x, y = blobs(64, seed=3)
        model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 2))
        opt = optim.AdamW(model.parameters(), lr=0.01)
        losses = []
        for _ in range(10):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses, model.state_dict()

    (l1, s1), (l2, s2) = run(), run()
    assert l1 == l2
    for k in s1:
        np.testing.assert_array_equal(s1[k], s2[k])
