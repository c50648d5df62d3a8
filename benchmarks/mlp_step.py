#!/usr/bin/env python
"""One SGD training step of an MLP 784-256-256-10: chainrule vs PyTorch vs NumPy.

What is timed (float32 end to end, batch 128, ReLU, softmax cross-entropy, SGD lr 0.1):

* ``chainrule gates``: ``cr.affine``/``cr.relu``/``cr.softmax_cross_entropy``,
  ``loss.backward()``, then an in-place SGD update on each parameter's ``.data``;
* ``chainrule nn``: the same network as ``cr.nn.Sequential`` + ``cr.optim.SGD``
  (measured when ``chainrule.nn`` and ``chainrule.optim`` exist);
* ``pytorch``: ``torch.nn.Sequential`` + ``torch.optim.SGD``, ``torch.set_num_threads(1)``;
* ``numpy``: a hand-written forward and manual backward that reuses preallocated
  buffers (``out=`` everywhere), the best one can do in NumPy without a graph;
* ``matmuls``: the eight matrix products of the step alone (3 forward, 5 backward; the
  first layer needs no input gradient), into preallocated buffers: the floor.

All implementations start from the same weights and see the same batch; the script
checks that one step of each gives the same loss and the same updated weights. They run
interleaved, round-robin in a shuffled order per round, so that a slow spell of the
(shared) machine hits all of them alike; it reports the median and the best block.

Everything is single-threaded: the script sets ``OPENBLAS_NUM_THREADS=1``,
``OMP_NUM_THREADS=1`` and ``MKL_NUM_THREADS=1`` before NumPy is imported (re-executing
itself with that environment if needed). This machine also sets ``OPENBLAS_CORETYPE``
(forcing OpenBLAS' Haswell kernels) and ``OPENBLAS_L2_SIZE``; the re-executed
benchmark unsets both so that OpenBLAS picks the kernel for the CPU it runs on
(``--machine-blas`` keeps them). The BLAS kernel in use is printed.

Then it reports seconds per epoch of 60,000 samples (469 steps times the median step,
and one real epoch over Fashion-MNIST's 60,000 training images through
``cr.data.DataLoader`` when the data is available), the whole-process time of a
one-epoch ``chainrule train`` run, and peak memory.

Usage (from the repository root)::

    python benchmarks/mlp_step.py                 # about 15 seconds
    python benchmarks/mlp_step.py --rounds 30 --no-epoch --no-train   # quick
"""

from __future__ import annotations

import argparse
import os
import sys

_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_MACHINE_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_REEXEC_MARK = "_CHAINRULE_MLP_BENCH_REEXEC"


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=120,
                   help="round-robin rounds (each times one block per implementation)")
    p.add_argument("--block", type=int, default=10, help="steps per timed block")
    p.add_argument("--batch", type=int, default=128, help="batch size (default 128)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--machine-blas", action="store_true",
                   help="keep this machine's OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    p.add_argument("--no-epoch", action="store_true",
                   help="skip the real epoch over Fashion-MNIST")
    p.add_argument("--no-train", action="store_true",
                   help="skip the one-epoch `chainrule train` subprocess")
    p.add_argument("--profile", action="store_true",
                   help="also print a cProfile of 300 chainrule steps")
    return p.parse_args(argv)


def _reexec_if_needed(args: argparse.Namespace) -> None:
    """Re-run this script with single-threaded BLAS (must happen before numpy loads)."""
    env = dict(os.environ)
    changed = False
    for v in _THREAD_VARS:
        if env.get(v) != "1":
            env[v] = "1"
            changed = True
    if not args.machine_blas:
        for v in _MACHINE_VARS:
            if v in env:
                del env[v]
                changed = True
    if not changed:
        return
    if env.get(_REEXEC_MARK):
        raise SystemExit("mlp_step.py: could not set the single-threaded environment")
    if "numpy" in sys.modules:
        raise SystemExit("mlp_step.py: numpy was imported before the environment was set")
    env[_REEXEC_MARK] = "1"
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *sys.argv[1:]], env)


ARGS = _parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    _reexec_if_needed(ARGS)

# ruff: noqa: E402  (imports below must follow the environment set-up above)
import contextlib
import gc
import itertools
import random
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

_ROOT = Path(__file__).resolve().parent.parent
try:
    import chainrule as cr
except ImportError:  # running from a source checkout without installing
    sys.path.insert(0, str(_ROOT / "src"))
    import chainrule as cr

SIZES = (784, 256, 256, 10)
LR = 0.1
SAMPLES_PER_EPOCH = 60_000
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


# ---------------------------------------------------------------------- set-up
def make_problem(batch: int, seed: int) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """He-initialised float32 weights ``[W1, b1, W2, b2, W3, b3]`` (W as (in, out)),
    a batch of inputs in [0, 1) and integer labels, all from one seeded generator."""
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in itertools.pairwise(SIZES):
        w = (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(np.float32)
        b = (rng.standard_normal(n_out) * 0.01).astype(np.float32)
        params += [w, b]
    x = rng.random((batch, SIZES[0]), dtype=np.float32)
    t = rng.integers(0, SIZES[-1], size=batch).astype(np.int64)
    return params, x, t


class Impl:
    """One implementation: ``step()`` runs a training step, ``weights()`` reads them back
    as (in, out) float32 arrays, ``loss`` is the last loss."""

    name: str
    step: Callable[[], float]
    weights: Callable[[], list[np.ndarray]]


def chainrule_gates(params: list[np.ndarray], x: np.ndarray, t: np.ndarray) -> Impl:
    """The step written with chainrule's gates, as a user of the seeds would."""
    ps = [cr.tensor(p, requires_grad=True) for p in params]
    w1, b1, w2, b2, w3, b3 = ps
    xt = cr.tensor(x)
    tt = cr.tensor(t)

    def step() -> float:
        h = cr.relu(cr.affine(xt, w1, b1))
        h = cr.relu(cr.affine(h, w2, b2))
        loss = cr.softmax_cross_entropy(cr.affine(h, w3, b3), tt)
        for p in ps:
            p.grad = None
        loss.backward()
        for p in ps:
            g = p.grad.data
            g *= LR                  # the gradient is ours to scale (it is reset each step)
            p.data -= g              # in-place SGD update
        return float(loss.data)

    impl = Impl()
    impl.name = "chainrule gates"
    impl.step = step
    impl.weights = lambda: [p.data for p in ps]
    return impl


def chainrule_nn(params: list[np.ndarray], x: np.ndarray, t: np.ndarray) -> Impl | None:
    """The step written with ``cr.nn`` and ``cr.optim``, as a PyTorch user would."""
    try:
        from chainrule import nn, optim
    except ImportError:
        return None
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                          nn.Linear(256, 10))
    linears = [m for m in model if isinstance(m, nn.Linear)]
    for i, lin in enumerate(linears):   # chainrule's Linear stores W as (in, out)
        lin.weight.data[...] = params[2 * i]
        lin.bias.data[...] = params[2 * i + 1]
    loss_fn = nn.SoftmaxCrossEntropy()
    opt = optim.SGD(model.parameters(), lr=LR)
    xt = cr.tensor(x)
    tt = cr.tensor(t)

    def step() -> float:
        opt.zero_grad()
        loss = loss_fn(model(xt), tt)
        loss.backward()
        opt.step()
        return float(loss.data)

    def weights() -> list[np.ndarray]:
        out = []
        for lin in linears:
            out += [lin.weight.data, lin.bias.data]
        return out

    impl = Impl()
    impl.name = "chainrule nn"
    impl.step = step
    impl.weights = weights
    return impl


def pytorch(params: list[np.ndarray], x: np.ndarray, t: np.ndarray) -> Impl | None:
    """The idiomatic PyTorch step: nn.Sequential, F.cross_entropy, optim.SGD."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 10))
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for i, lin in enumerate(linears):
            lin.weight.copy_(torch.from_numpy(params[2 * i].T.copy()))
            lin.bias.copy_(torch.from_numpy(params[2 * i + 1]))
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    xt = torch.from_numpy(x.copy())
    tt = torch.from_numpy(t.copy())
    loss_fn = torch.nn.functional.cross_entropy

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xt), tt)
        loss.backward()
        opt.step()
        return float(loss.detach())

    def weights() -> list[np.ndarray]:
        out = []
        for lin in linears:
            out += [lin.weight.detach().numpy().T, lin.bias.detach().numpy()]
        return out

    impl = Impl()
    impl.name = "pytorch"
    impl.step = step
    impl.weights = weights
    return impl


def numpy_manual(params: list[np.ndarray], x: np.ndarray, t: np.ndarray) -> Impl:
    """Hand-written forward and backward with every buffer allocated once."""
    w1, b1, w2, b2, w3, b3 = (p.copy() for p in params)
    n = x.shape[0]
    f32 = np.float32
    z1 = np.empty((n, 256), f32)
    z2 = np.empty((n, 256), f32)
    z3 = np.empty((n, 10), f32)
    m = np.empty((n, 1), f32)
    s = np.empty((n, 1), f32)
    g1 = np.empty((n, 256), f32)
    g2 = np.empty((n, 256), f32)
    mask1 = np.empty((n, 256), bool)
    mask2 = np.empty((n, 256), bool)
    dw1 = np.empty_like(w1)
    dw2 = np.empty_like(w2)
    dw3 = np.empty_like(w3)
    db1 = np.empty_like(b1)
    db2 = np.empty_like(b2)
    db3 = np.empty_like(b3)
    rows = np.arange(n)
    inv_n = f32(1.0 / n)
    lr = f32(LR)

    def step() -> float:
        # forward: z = x.W + b, a = relu(z) in place
        np.matmul(x, w1, out=z1)
        np.add(z1, b1, out=z1)
        np.greater(z1, 0, out=mask1)
        np.maximum(z1, 0, out=z1)
        np.matmul(z1, w2, out=z2)
        np.add(z2, b2, out=z2)
        np.greater(z2, 0, out=mask2)
        np.maximum(z2, 0, out=z2)
        np.matmul(z2, w3, out=z3)
        np.add(z3, b3, out=z3)
        # softmax cross-entropy: z3 becomes the probabilities
        np.max(z3, axis=1, keepdims=True, out=m)
        np.subtract(z3, m, out=z3)
        np.exp(z3, out=z3)
        np.sum(z3, axis=1, keepdims=True, out=s)
        np.divide(z3, s, out=z3)
        loss = -float(np.mean(np.log(z3[rows, t])))
        # backward: dL/dz3 = (p - onehot) / N
        z3[rows, t] -= 1
        np.multiply(z3, inv_n, out=z3)
        np.matmul(z2.T, z3, out=dw3)
        np.sum(z3, axis=0, out=db3)
        np.matmul(z3, w3.T, out=g2)
        np.multiply(g2, mask2, out=g2)
        np.matmul(z1.T, g2, out=dw2)
        np.sum(g2, axis=0, out=db2)
        np.matmul(g2, w2.T, out=g1)
        np.multiply(g1, mask1, out=g1)
        np.matmul(x.T, g1, out=dw1)
        np.sum(g1, axis=0, out=db1)
        # SGD
        for p, g in ((w1, dw1), (b1, db1), (w2, dw2), (b2, db2), (w3, dw3), (b3, db3)):
            np.multiply(g, lr, out=g)
            np.subtract(p, g, out=p)
        return loss

    impl = Impl()
    impl.name = "numpy"
    impl.step = step
    impl.weights = lambda: [w1, b1, w2, b2, w3, b3]
    return impl


def numpy_tuned(params: list[np.ndarray], x: np.ndarray, t: np.ndarray) -> Impl:
    """:func:`numpy_manual` with the ReLU written for NumPy's fast loops.

    ``np.maximum(z, 0)`` with a Python scalar takes a loop about 5x slower than with a
    zero *array* of the same shape (measured here: ~10-19 us vs ~2-4 us for 128x256
    float32), and ``grad * bool_mask`` needs a cast that ``grad * float_mask`` does not
    (~5 us vs ~2 us). This variant keeps a zero array and float masks; everything else
    is the same as ``numpy``.
    """
    impl = numpy_manual(params, x, t)
    w1, b1, w2, b2, w3, b3 = impl.weights()
    n = x.shape[0]
    f32 = np.float32
    z1 = np.empty((n, 256), f32)
    z2 = np.empty((n, 256), f32)
    z3 = np.empty((n, 10), f32)
    zero = np.zeros((n, 256), f32)
    m = np.empty((n, 1), f32)
    s = np.empty((n, 1), f32)
    g1 = np.empty((n, 256), f32)
    g2 = np.empty((n, 256), f32)
    mask1 = np.empty((n, 256), f32)
    mask2 = np.empty((n, 256), f32)
    dw1, dw2, dw3 = np.empty_like(w1), np.empty_like(w2), np.empty_like(w3)
    db1, db2, db3 = np.empty_like(b1), np.empty_like(b2), np.empty_like(b3)
    rows = np.arange(n)
    inv_n = f32(1.0 / n)
    lr = f32(LR)

    def step() -> float:
        np.matmul(x, w1, out=z1)
        np.add(z1, b1, out=z1)
        np.greater(z1, 0, out=mask1, casting="unsafe")    # 1.0 / 0.0
        np.maximum(z1, zero, out=z1)
        np.matmul(z1, w2, out=z2)
        np.add(z2, b2, out=z2)
        np.greater(z2, 0, out=mask2, casting="unsafe")
        np.maximum(z2, zero, out=z2)
        np.matmul(z2, w3, out=z3)
        np.add(z3, b3, out=z3)
        np.max(z3, axis=1, keepdims=True, out=m)
        np.subtract(z3, m, out=z3)
        np.exp(z3, out=z3)
        np.sum(z3, axis=1, keepdims=True, out=s)
        np.divide(z3, s, out=z3)
        loss = -float(np.mean(np.log(z3[rows, t])))
        z3[rows, t] -= 1
        np.multiply(z3, inv_n, out=z3)
        np.matmul(z2.T, z3, out=dw3)
        np.sum(z3, axis=0, out=db3)
        np.matmul(z3, w3.T, out=g2)
        np.multiply(g2, mask2, out=g2)
        np.matmul(z1.T, g2, out=dw2)
        np.sum(g2, axis=0, out=db2)
        np.matmul(g2, w2.T, out=g1)
        np.multiply(g1, mask1, out=g1)
        np.matmul(x.T, g1, out=dw1)
        np.sum(g1, axis=0, out=db1)
        for p, g in ((w1, dw1), (b1, db1), (w2, dw2), (b2, db2), (w3, dw3), (b3, db3)):
            np.multiply(g, lr, out=g)
            np.subtract(p, g, out=p)
        return loss

    impl.name = "numpy tuned"
    impl.step = step
    return impl


def matmuls_only(params: list[np.ndarray], x: np.ndarray, t: np.ndarray) -> Impl:
    """The eight matrix products of a step, into preallocated buffers (the floor)."""
    w1, _, w2, _, w3, _ = params
    n = x.shape[0]
    f32 = np.float32
    z1 = np.empty((n, 256), f32)
    z2 = np.empty((n, 256), f32)
    z3 = np.empty((n, 10), f32)
    g1 = np.empty((n, 256), f32)
    g2 = np.empty((n, 256), f32)
    dw1 = np.empty_like(w1)
    dw2 = np.empty_like(w2)
    dw3 = np.empty_like(w3)

    def step() -> float:
        np.matmul(x, w1, out=z1)
        np.matmul(z1, w2, out=z2)
        np.matmul(z2, w3, out=z3)
        np.matmul(z2.T, z3, out=dw3)
        np.matmul(z3, w3.T, out=g2)
        np.matmul(z1.T, g2, out=dw2)
        np.matmul(g2, w2.T, out=g1)
        np.matmul(x.T, g1, out=dw1)
        return 0.0

    impl = Impl()
    impl.name = "matmuls"
    impl.step = step
    impl.weights = lambda: []
    return impl


# ---------------------------------------------------------------------- reporting
def blas_summary() -> str:
    """Which BLAS library and kernel NumPy uses (threadpoolctl, else np.show_config)."""
    try:
        import threadpoolctl
    except ImportError:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        return (f"{blas.get('name', '?')} {blas.get('version', '')} "
                f"(install threadpoolctl to see the kernel and thread count)")
    lines = []
    for info in threadpoolctl.threadpool_info():
        lines.append(f"{info.get('internal_api')} {info.get('version')} "
                     f"kernel={info.get('architecture', '?')} "
                     f"threads={info.get('num_threads')} ({Path(info['filepath']).name})")
    return "; ".join(lines) or "no BLAS found by threadpoolctl"


def check_agreement(impls: list[Impl], params: list[np.ndarray], x: np.ndarray,
                    t: np.ndarray) -> None:
    """One step from identical weights: all implementations must agree."""
    print("\nAgreement after one step from the same weights (float32):")
    ref_loss = ref_w = None
    for make in (numpy_manual, numpy_tuned, chainrule_gates, chainrule_nn, pytorch):
        if ARGS is not None and ARGS.no_torch and make is pytorch:
            continue
        impl = make([p.copy() for p in params], x, t)
        if impl is None:
            continue
        loss = impl.step()
        ws = [np.asarray(w) for w in impl.weights()]
        if ref_w is None:
            ref_loss, ref_w = loss, ws
            print(f"  {impl.name:16s} loss {loss:.6f} (reference)")
            continue
        dw = max(float(np.max(np.abs(a - b))) for a, b in zip(ws, ref_w))
        print(f"  {impl.name:16s} loss {loss:.6f}  |dloss| {abs(loss - ref_loss):.2e}  "
              f"max |dW| {dw:.2e}")
        if abs(loss - ref_loss) > 1e-4 or dw > 1e-5:
            raise SystemExit(f"{impl.name} disagrees with the NumPy reference")


def bench(impls: list[Impl], rounds: int, block: int, seed: int) -> dict[str, list[float]]:
    """Round-robin timing: each round times ``block`` steps of every implementation."""
    for impl in impls:  # warm up (BLAS buffers, caches, lazy imports)
        for _ in range(20):
            impl.step()
    times: dict[str, list[float]] = {impl.name: [] for impl in impls}
    order = list(impls)
    rng = random.Random(seed)
    clock = time.perf_counter
    for _ in range(rounds):
        rng.shuffle(order)
        for impl in order:
            step = impl.step
            t0 = clock()
            for _ in range(block):
                step()
            times[impl.name].append((clock() - t0) / block)
    return times


def peak_step_memory(impl: Impl) -> int:
    """Peak bytes NumPy allocates during one step (tracemalloc; not for PyTorch)."""
    impl.step()
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    impl.step()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def real_epoch(batch: int, seed: int) -> list[tuple[str, float, int]]:
    """Time one epoch over Fashion-MNIST's 60,000 training images, batches from
    ``cr.data.DataLoader`` (shuffled), for the chainrule implementations."""
    try:
        from chainrule.data import DataLoader, FashionMNIST
    except ImportError:
        return []
    try:
        train = FashionMNIST("train", download=False)
    except Exception as e:  # not installed here
        print(f"  (no Fashion-MNIST: {str(e).splitlines()[0]})")
        return []
    params, _, _ = make_problem(batch, seed)
    results = []
    runners = []
    try:
        from chainrule import nn, optim

        def nn_epoch() -> int:
            model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256),
                                  nn.ReLU(), nn.Linear(256, 10))
            loss_fn = nn.SoftmaxCrossEntropy()
            opt = optim.SGD(model.parameters(), lr=LR)
            steps = 0
            for xb, yb in DataLoader(train, batch, shuffle=True, seed=seed):
                opt.zero_grad()
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()
                steps += 1
            return steps
        runners.append(("chainrule nn", nn_epoch))
    except ImportError:
        pass

    def gates_epoch() -> int:
        ps = [cr.tensor(p, requires_grad=True) for p in params]
        w1, b1, w2, b2, w3, b3 = ps
        steps = 0
        for xb, yb in DataLoader(train, batch, shuffle=True, seed=seed):
            h = cr.relu(cr.affine(xb, w1, b1))
            h = cr.relu(cr.affine(h, w2, b2))
            loss = cr.softmax_cross_entropy(cr.affine(h, w3, b3), yb)
            for p in ps:
                p.grad = None
            loss.backward()
            for p in ps:
                g = p.grad.data
                g *= LR
                p.data -= g
            steps += 1
        return steps
    runners.append(("chainrule gates", gates_epoch))
    for name, fn in runners:
        t0 = time.perf_counter()
        steps = fn()
        results.append((name, time.perf_counter() - t0, steps))
    return results


_PEAK_WRAPPER = """
import atexit, runpy, sys
def _report_peak():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    print("peak-rss-kib", line.split()[1], file=sys.stderr)
    except OSError:
        pass
atexit.register(_report_peak)
sys.argv = ["chainrule", *sys.argv[1:]]
runpy.run_module("chainrule", run_name="__main__", alter_sys=True)
"""


def train_process(tmp: Path) -> tuple[float, float | None, str] | None:
    """Whole-process wall time and peak RSS (MiB) of ``chainrule train`` for one epoch of
    Fashion-MNIST with the benchmark's MLP (no plots), in this environment.

    The peak is the child's own ``VmHWM`` (Linux), read as it exits: ``ru_maxrss`` of
    a child would include this (PyTorch-laden) process, which the child starts as a
    copy of before ``exec``.
    """
    try:
        import chainrule.commands.train  # noqa: F401
    except ImportError:
        return None
    if not FASHION_DIR.is_dir():
        return None
    out = tmp / "run"
    opts = ["train", "--dataset", "fashion-mnist", "--hidden", "256", "256", "--optimizer",
            "sgd", "--lr", str(LR), "--epochs", "1", "--batch-size", "128", "--dtype",
            "float32", "--no-plots", "--quiet", "--out", str(out)]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(_ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _PEAK_WRAPPER, *opts], env=env,
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-2000:])
        raise SystemExit(f"chainrule train failed with exit code {proc.returncode}")
    peak = None
    for line in proc.stderr.splitlines():
        if line.startswith("peak-rss-kib "):
            peak = int(line.split()[1]) / 1024
    last = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    return wall, peak, "chainrule " + " ".join(opts) + ("\n    -> " + last[-1] if last else "")


def main() -> int:
    args = ARGS if ARGS is not None else _parse_args()
    print(f"chainrule {cr.__version__}, NumPy {np.__version__}, Python "
          f"{sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print("env: " + ", ".join(f"{v}={os.environ.get(v, '(unset)')}"
                              for v in (*_THREAD_VARS, *_MACHINE_VARS)))
    print(f"BLAS: {blas_summary()}")
    params, x, t = make_problem(args.batch, args.seed)
    print(f"MLP {'-'.join(map(str, SIZES))}, batch {args.batch}, float32, ReLU, softmax "
          f"cross-entropy, SGD lr {LR}")
    check_agreement([], params, x, t)

    makers = [chainrule_gates, chainrule_nn, numpy_manual, numpy_tuned, matmuls_only]
    if not args.no_torch:
        makers.insert(2, pytorch)
    impls = [impl for impl in (m([p.copy() for p in params], x, t) for m in makers)
             if impl is not None]
    if not args.no_torch and not any(i.name == "pytorch" for i in impls):
        print("  (PyTorch is not installed: skipped)")
    try:
        import torch
        print(f"PyTorch {torch.__version__}, threads={torch.get_num_threads()}")
    except ImportError:
        pass

    times = bench(impls, args.rounds, args.block, args.seed)
    print(f"\nms per step ({args.rounds} rounds x {args.block} steps, interleaved):")
    print(f"  {'implementation':16s} {'median':>8s} {'best':>8s} {'s/epoch*':>9s}")
    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    steps_per_epoch = SAMPLES_PER_EPOCH / args.batch
    for k in times:
        print(f"  {k:16s} {med[k] * 1e3:8.3f} {best[k] * 1e3:8.3f} "
              f"{med[k] * steps_per_epoch:9.2f}")
    print(f"  * {steps_per_epoch:.2f} steps x median (60,000 samples, data loading excluded)")

    print("\nRatios (median; best in parentheses):")
    for name in ("chainrule gates", "chainrule nn"):
        if name not in med:
            continue
        for ref, target in (("pytorch", 1.0), ("numpy", 1.1), ("numpy tuned", None),
                            ("matmuls", None)):
            if ref not in med:
                continue
            r, rb = med[name] / med[ref], best[name] / best[ref]
            verdict = "" if target is None else \
                ("  meets target" if r <= target else f"  target <= {target:.1f}x: MISSED")
            print(f"  {name:15s} / {ref:11s} {r:5.2f}x ({rb:.2f}x){verdict}")
    if "pytorch" in med:
        print(f"  {'numpy':15s} / {'pytorch':11s} {med['numpy'] / med['pytorch']:5.2f}x")

    print("\nPeak memory allocated by NumPy during one step (tracemalloc):")
    for impl in impls:
        if impl.name in ("pytorch", "matmuls", "numpy tuned"):
            continue
        print(f"  {impl.name:16s} {peak_step_memory(impl) / 1024:8.0f} KiB")

    if args.profile:
        import cProfile
        import pstats
        gates = next(i for i in impls if i.name == "chainrule gates")
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(300):
            gates.step()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)

    if not args.no_epoch:
        print("\nOne real epoch over Fashion-MNIST train (60,000 images, DataLoader, "
              f"batch {args.batch}, shuffled):")
        for name, sec, steps in real_epoch(args.batch, args.seed):
            print(f"  {name:16s} {sec:6.2f} s ({steps} steps, {sec / steps * 1e3:.3f} ms/step "
                  f"incl. batching)")

    self_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\nPeak RSS of this benchmark process (PyTorch included): {self_peak / 1024:.0f} MiB")
    if not args.no_train:
        tmp = Path(tempfile.mkdtemp(prefix="chainrule-bench-"))
        try:
            res = train_process(tmp)
        finally:
            with contextlib.suppress(OSError):
                shutil.rmtree(tmp)
        if res is None:
            print("(chainrule train is not available or Fashion-MNIST is missing: skipped)")
        else:
            wall, peak, what = res
            mem = "unknown (no /proc)" if peak is None else f"{peak:.0f} MiB"
            print(f"Whole process, one epoch of `chainrule train`:\n    {what}\n"
                  f"    wall {wall:.2f} s (interpreter start, imports, data loading, "
                  f"training, test pass, checkpoint), peak RSS {mem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
