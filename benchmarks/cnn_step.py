#!/usr/bin/env python
"""One SGD training step of a LeNet-style CNN: chainrule vs PyTorch vs hand-written NumPy.

The network (float32, batch 64 of 28x28 images, softmax cross-entropy, SGD lr 0.1):
conv 1->8 3x3, ReLU, max-pool 2, conv 8->16 3x3, ReLU, max-pool 2, linear 400->10.

* ``chainrule nn``: ``cr.nn.Sequential(Conv2d, ReLU, MaxPool2d, ..., Flatten, Linear)``
  and ``cr.optim.SGD``: what a user writes;
* ``pytorch``: the same with ``torch.nn`` and ``torch.optim.SGD`` (oneDNN
  convolutions), one thread (``--threads N``: N BLAS and PyTorch threads);
* ``numpy``: a hand-written step with im2col (channels-last activations, preallocated
  column buffers, the bias folded into the GEMMs as a column of ones, pooling with
  ``np.maximum`` over strided views and equality masks backward, col2im as one small
  GEMM per kernel tap and block adds): the idioms of ``../shared/reviews/performance.md``;
* ``gemms``: the step's nine matrix products alone, on the same shapes: the floor.

All start from the same weights and batch; one step of each is checked to give the
same loss and updated weights before anything is timed. They run interleaved
(round-robin, shuffled per round), single-threaded (the script re-executes itself with
``OPENBLAS_NUM_THREADS=1`` etc., or N with ``--threads N``, before NumPy loads;
``--machine-blas`` keeps ``OPENBLAS_CORETYPE``). Then: where chainrule's step goes, per
gate class, forward and backward (timers wrapped around the gates' methods for a separate
run), and the peak memory of one step (tracemalloc).

Usage (from the repository root)::

    python benchmarks/cnn_step.py                  # about 30 seconds
    python benchmarks/cnn_step.py --rounds 20      # quick
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys
import time

import harness  # sibling modules (this folder is sys.path[0])
import mlp_harness
import numpy as np

import chainrule as cr
from chainrule import nn

LR = 0.1


def problem(batch: int, seed: int) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """He-initialised float32 weights (conv (C_out, C_in, kh, kw), linear (in, out)),
    a batch of images in [0, 1) and labels."""
    rng = np.random.default_rng(seed)
    shapes = [(8, 1, 3, 3), (8,), (16, 8, 3, 3), (16,), (400, 10), (10,)]
    params = []
    for s in shapes:
        if len(s) == 1:
            params.append(np.zeros(s, np.float32))
        else:
            fan_in = int(np.prod(s[1:])) if len(s) == 4 else s[0]
            params.append((rng.standard_normal(s) * np.sqrt(2.0 / fan_in)).astype(np.float32))
    x = rng.random((batch, 1, 28, 28), dtype=np.float32)
    t = rng.integers(0, 10, batch)
    return params, x, t


def chainrule_nn(params: list[np.ndarray], x: np.ndarray, t: np.ndarray) -> mlp_harness.Impl:
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(400, 10))
    ps = list(model.parameters())
    for p, v in zip(ps, params):
        p.data[...] = v
    opt = cr.optim.SGD(ps, lr=LR)
    xt, tt = cr.tensor(x), t

    def step() -> float:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xt), tt)
        loss.backward()
        opt.step()
        return float(loss.data)

    return mlp_harness.Impl("chainrule nn", step, lambda: [p.data.copy() for p in ps])


def pytorch(params: list[np.ndarray], x: np.ndarray, t: np.ndarray) -> mlp_harness.Impl | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(harness.blas_threads())
    tn = torch.nn
    model = tn.Sequential(tn.Conv2d(1, 8, 3), tn.ReLU(), tn.MaxPool2d(2), tn.Conv2d(8, 16, 3),
                          tn.ReLU(), tn.MaxPool2d(2), tn.Flatten(), tn.Linear(400, 10))
    with torch.no_grad():
        for p, v in zip(model.parameters(), params):
            p.copy_(torch.from_numpy(v.T.copy() if v.shape == (400, 10) else v))
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    xt, tt = torch.from_numpy(x), torch.from_numpy(t)
    lossf = tn.CrossEntropyLoss()

    def step() -> float:
        opt.zero_grad()
        loss = lossf(model(xt), tt)
        loss.backward()
        opt.step()
        return float(loss)

    def weights() -> list[np.ndarray]:
        out = [p.detach().numpy().copy() for p in model.parameters()]
        out[4] = out[4].T.copy()
        return out

    return mlp_harness.Impl("pytorch", step, weights)


class HandCNN:
    """The step by hand in NumPy (see the module notes for the idioms)."""

    def __init__(self, params: list[np.ndarray], x: np.ndarray, t: np.ndarray) -> None:
        n = x.shape[0]
        self.n = n
        w1, b1, w2, b2, w3, b3 = (p.copy() for p in params)
        # bias-extended GEMM weights: rows (kh, kw, C) then the bias
        self.w1e = np.concatenate([w1.transpose(2, 3, 1, 0).reshape(9, 8), b1[None]])
        self.w2e = np.concatenate([w2.transpose(2, 3, 1, 0).reshape(72, 16), b2[None]])
        self.w3, self.b3 = w3, b3
        self.x = x[:, 0]                                            # (N, 28, 28)
        self.onehot = np.eye(10, dtype=np.float32)[t]
        f32 = np.float32
        self.col1 = np.empty((n * 676, 10), f32)
        self.col1[:, 9] = 1
        self.col2 = np.empty((n * 121, 73), f32)
        self.col2[:, 72] = 1
        self.col1v = self.col1[:, :9].reshape(n, 26, 26, 3, 3)
        self.col2v = np.lib.stride_tricks.as_strided(
            self.col2, (n, 11, 11, 3, 3, 8), (11 * 11 * 73 * 4, 11 * 73 * 4, 73 * 4,
                                              24 * 4, 8 * 4, 4))
        self.p1 = np.empty((n, 13, 13, 8), f32)
        self.p2 = np.empty((n, 5, 5, 16), f32)
        self.dr1 = np.zeros((n, 26, 26, 8), f32)
        self.dr2 = np.zeros((n, 11, 11, 16), f32)
        self.dp1 = np.empty((n, 13, 13, 8), f32)
        self.ones = np.ones(n, f32)

    @staticmethod
    def _pool(r: np.ndarray, out: np.ndarray, h: int) -> None:
        np.maximum(r[:, 0:h:2, 0:h:2], r[:, 0:h:2, 1:h:2], out=out)
        np.maximum(out, r[:, 1:h:2, 0:h:2], out=out)
        np.maximum(out, r[:, 1:h:2, 1:h:2], out=out)

    @staticmethod
    def _unpool(r: np.ndarray, p: np.ndarray, g: np.ndarray, dr: np.ndarray, h: int) -> None:
        # equality masks: every tied maximum gets the gradient (ties here are zeros after
        # the ReLU, whose backward then zeroes them, so the gradient is exact)
        for i in (0, 1):
            for j in (0, 1):
                np.multiply(g, r[:, i:h:2, j:h:2] == p, out=dr[:, i:h:2, j:h:2])

    def step(self) -> float:
        n, x = self.n, self.x
        for i in range(3):                                          # conv1 im2col
            for j in range(3):
                self.col1v[:, :, :, i, j] = x[:, i:i + 26, j:j + 26]
        r1 = (self.col1 @ self.w1e).reshape(n, 26, 26, 8)
        np.maximum(r1, 0, out=r1)
        self._pool(r1, self.p1, 26)
        for i in range(3):                                          # conv2 im2col
            for j in range(3):
                self.col2v[:, :, :, i, j] = self.p1[:, i:i + 11, j:j + 11]
        r2 = (self.col2 @ self.w2e).reshape(n, 11, 11, 16)
        np.maximum(r2, 0, out=r2)
        self._pool(r2, self.p2, 10)
        f = self.p2.transpose(0, 3, 1, 2).reshape(n, 400)           # PyTorch's flatten order
        z = f @ self.w3 + self.b3
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        e /= e.sum(axis=1, keepdims=True)
        loss = -float(np.log(e[self.onehot > 0] + 1e-30).mean())
        dz = (e - self.onehot) / n
        dw3 = f.T @ dz
        db3 = self.ones @ dz
        df = (dz @ self.w3.T).reshape(n, 16, 5, 5).transpose(0, 2, 3, 1)
        self._unpool(r2, self.p2, df, self.dr2, 10)
        self.dr2 *= r2 > 0
        d2 = self.dr2.reshape(-1, 16)
        dw2e = self.col2.T @ d2
        parts = np.matmul(d2, self.w2e[:72].reshape(9, 8, 16).transpose(0, 2, 1))
        dp1 = self.dp1
        dp1.fill(0)
        for p in range(9):                                          # col2im
            i, j = divmod(p, 3)
            dp1[:, i:i + 11, j:j + 11] += parts[p].reshape(n, 11, 11, 8)
        self._unpool(r1, self.p1, dp1, self.dr1, 26)
        self.dr1 *= r1 > 0
        dw1e = self.col1.T @ self.dr1.reshape(-1, 8)
        self.w1e -= LR * dw1e
        self.w2e -= LR * dw2e
        self.w3 -= LR * dw3
        self.b3 -= LR * db3
        return loss

    def weights(self) -> list[np.ndarray]:
        return [self.w1e[:9].reshape(3, 3, 1, 8).transpose(3, 2, 0, 1), self.w1e[9],
                self.w2e[:72].reshape(3, 3, 8, 16).transpose(3, 2, 0, 1), self.w2e[72],
                self.w3, self.b3]


def gemms(params: list[np.ndarray], x: np.ndarray, t: np.ndarray) -> mlp_harness.Impl:
    """The nine matrix products of a step, on the step's shapes, into fresh buffers."""
    n = x.shape[0]
    rng = np.random.default_rng(1)
    r = lambda *s: rng.random(s, dtype=np.float32)  # noqa: E731
    c1, w1, d1 = r(n * 676, 10), r(10, 8), r(n * 676, 8)
    c2, w2, d2 = r(n * 121, 73), r(73, 16), r(n * 121, 16)
    w2p = r(9, 16, 8)
    f, w3, dz = r(n, 400), r(400, 10), r(n, 10)

    def step() -> float:
        c1 @ w1, c2 @ w2, f @ w3                                    # forward
        f.T @ dz, dz @ w3.T, c2.T @ d2, np.matmul(d2, w2p), c1.T @ d1  # backward
        return 0.0

    return mlp_harness.Impl("gemms", step, lambda: [])


def check_agreement(impls: list[mlp_harness.Impl]) -> str:
    """One step of each from the same start: losses and updated weights must agree."""
    ref = impls[0]
    loss0, w0 = ref.step(), ref.weights()
    lines = []
    for impl in impls[1:]:
        loss, w = impl.step(), impl.weights()
        worst = max(float(np.abs(a - b).max() / (np.abs(b).max() + 1e-12))
                    for a, b in zip(w, w0))
        if abs(loss - loss0) > 1e-4 * max(1.0, abs(loss0)) or worst > 1e-4:
            raise harness.BenchmarkMismatchError(
                f"{impl.name} disagrees with {ref.name}: loss {loss} vs {loss0}, worst "
                f"relative weight difference {worst:.2e}")
        lines.append(f"  {impl.name}: loss {loss:.6f} (ref {loss0:.6f}), weights within "
                     f"{worst:.1e} of {ref.name}")
    return "\n".join(lines)


def gate_profile(impl: mlp_harness.Impl, steps: int) -> str:
    """Milliseconds per step in each gate class's forward and backward."""
    spent: dict[str, float] = collections.defaultdict(float)
    clock = time.perf_counter
    classes = [c for c in cr.ops.gate_classes().values()]
    saved = []
    for cls in classes:
        for kind in ("_forward", "_backward"):
            raw = cls.__dict__.get(kind)
            if raw is None:
                continue

            def timed(self, *a, _raw=raw, _key=f"{cls.__name__}.{kind[1:]}"):
                t0 = clock()
                try:
                    return _raw(self, *a)
                finally:
                    spent[_key] += clock() - t0
            saved.append((cls, kind, raw))
            setattr(cls, kind, timed)
    try:
        t0 = clock()
        for _ in range(steps):
            impl.step()
        total = clock() - t0
    finally:
        for cls, kind, raw in saved:
            setattr(cls, kind, raw)
    lines = [f"\nwhere chainrule's step goes (ms per step, {steps} steps with timers on; "
             f"total {total / steps * 1e3:.2f} ms):"]
    for key, v in sorted(spent.items(), key=lambda kv: -kv[1]):
        if v / steps >= 5e-6:
            lines.append(f"  {key:28s} {v / steps * 1e3:7.3f}")
    rest = total - sum(spent.values())
    lines.append(f"  {'engine, optimizer, Python':28s} {rest / steps * 1e3:7.3f}")
    return "\n".join(lines)


def run(rounds: int, block: int, batch: int, seed: int, warmup: int, no_torch: bool,
        retained: bool = False) -> int:
    params, x, t = problem(batch, seed)
    n = harness.blas_threads()
    print(f"CNN step: batch {batch}, float32, {n} thread{'s' if n != 1 else ''}; BLAS: "
          f"{mlp_harness.blas_summary()}")
    print(f"numpy {np.__version__}, chainrule {cr.__version__}")
    hand = HandCNN(params, x, t)
    impls = [chainrule_nn(params, x, t),
             mlp_harness.Impl("numpy", hand.step, hand.weights)]
    torch_impl = None if no_torch else pytorch(params, x, t)
    if torch_impl is not None:
        import torch
        print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
        impls.insert(1, torch_impl)
    print("agreement after one step:\n" + check_agreement(impls))
    impls.append(gemms(params, x, t))
    times = mlp_harness.time_interleaved(impls, rounds, block, seed, warmup)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\nms per step ({rounds} rounds x {block} steps, interleaved): median [min-max]")
    for k, v in times.items():
        print(f"  {k:14s} {med[k] * 1e3:7.2f} [{min(v) * 1e3:.2f}-{max(v) * 1e3:.2f}]")
    print("\nratios of medians (per-round ratios' median in parentheses):")
    pairs = [("chainrule nn", "pytorch"), ("chainrule nn", "numpy"), ("numpy", "pytorch"),
             ("chainrule nn", "gemms"), ("numpy", "gemms")]
    for a, b in pairs:
        if a in times and b in times:
            per = statistics.median(x / y for x, y in zip(times[a], times[b]))
            print(f"  {a} / {b}: {med[a] / med[b]:.2f} ({per:.2f})")
    harness.print_summary(f"LeNet-style CNN B{x.shape[0]}, nn + SGD, malloc "
                          f"{'retained' if retained else 'defaults'}{harness.threads_label()}",
                          "ms/step",
                          med["chainrule nn"] * 1e3, med.get("pytorch", 0) * 1e3 or None,
                          med["numpy"] * 1e3, med["gemms"] * 1e3, "GEMMs")
    print(gate_profile(impls[0], max(20, rounds)))
    for impl in (impls[0], impls[-2]):
        peak = mlp_harness.peak_step_memory(impl)
        print(f"peak NumPy memory of one step, {impl.name}: {peak / 2**20:.1f} MiB")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=40)
    p.add_argument("--block", type=int, default=5)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--machine-blas", action="store_true",
                   help="keep this machine's OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS (and PyTorch) threads; 1 by default, the figures quoted")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--malloc", choices=("both", "default", "retain"), default="both",
                   help="the C allocator's settings: glibc's defaults, "
                        "cr.retain_freed_memory() for the whole process (every "
                        "implementation alike), or both, one process each (default)")
    args = p.parse_args()
    if args.malloc == "both":
        import subprocess
        for mode in ("default", "retain"):
            argv = [a for a in sys.argv[1:] if not a.startswith("--malloc")]
            print(f"\n===== malloc: {mode} =====", flush=True)
            rc = subprocess.run([sys.executable, os.path.abspath(__file__), *argv,
                                 f"--malloc={mode}"], timeout=1800, check=False).returncode
            if rc:
                return rc
        return 0
    if args.threads < 1:
        raise SystemExit("cnn_step.py: --threads must be at least 1")
    harness.reexec_if_needed(__file__, args.machine_blas, args.threads)
    retained = False
    if args.malloc == "retain":
        retained = cr.retain_freed_memory()
        print(f"cr.retain_freed_memory(): {retained}")
    try:
        return run(args.rounds, args.block, args.batch, args.seed, args.warmup, args.no_torch,
                   retained)
    except harness.BenchmarkError as e:
        raise SystemExit(f"cnn_step.py: {e}") from None


if __name__ == "__main__":
    sys.exit(main())
