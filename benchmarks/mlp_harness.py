"""The MLP-step benchmark: one SGD training step of an MLP 784-256-256-10, float32,
batch 128, written six ways.

chainrule's gates, chainrule's ``nn`` + ``optim``, PyTorch, hand-written NumPy (plain
and tuned) and the eight matrix products alone (the floor), all from the same weights:
checked to agree (:func:`check_mlp_agreement`), timed round-robin in one process
(:func:`time_interleaved`), then the peak memory of a step (tracemalloc), optionally a
real epoch over Fashion-MNIST and a whole ``chainrule train`` process. The numbers
depend on BLAS threading: run :func:`run_mlp` in a process started with
:func:`harness.single_threaded_env` (``benchmarks/mlp_step.py`` re-executes itself so).
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from harness import (
    MACHINE_VARS,
    THREAD_VARS,
    BenchmarkError,
    BenchmarkMismatchError,
    blas_threads,
    child_pythonpath,
    print_summary,
    threads_label,
)

import chainrule
from chainrule._tensor import Tensor

__all__ = ["Impl", "check_mlp_agreement", "mlp_implementations", "mlp_problem", "run_mlp"]

MLP_SIZES = (784, 256, 256, 10)
MLP_LR = 0.1
SAMPLES_PER_EPOCH = 60_000
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def mlp_problem(batch: int, seed: int) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """He-initialised float32 weights ``[W1, b1, W2, b2, W3, b3]`` (W as (in, out)),
    a batch of inputs in [0, 1) and integer labels, all from one seeded generator."""
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in itertools.pairwise(MLP_SIZES):
        w = (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(np.float32)
        b = (rng.standard_normal(n_out) * 0.01).astype(np.float32)
        params += [w, b]
    x = rng.random((batch, MLP_SIZES[0]), dtype=np.float32)
    t = rng.integers(0, MLP_SIZES[-1], size=batch).astype(np.int64)
    return params, x, t


@dataclass
class Impl:
    """One implementation of the training step: ``step()`` runs one step and returns
    the loss, ``weights()`` reads the parameters back as (in, out) float32 arrays."""

    name: str
    step: Callable[[], float]
    weights: Callable[[], list[np.ndarray]]


def gates_sgd_step(ps: list[Tensor], x: Tensor, t: Tensor) -> float:
    """One SGD step of the MLP written with chainrule's gates; returns the loss.

    ``ps`` are the tensors ``[w1, b1, w2, b2, w3, b3]``.
    """
    from chainrule.ops import affine, relu, softmax_cross_entropy

    w1, b1, w2, b2, w3, b3 = ps
    h = relu(affine(x, w1, b1))
    h = relu(affine(h, w2, b2))
    loss = softmax_cross_entropy(affine(h, w3, b3), t)
    for p in ps:
        p.grad = None
    loss.backward()
    for p in ps:
        g = p.grad.data
        g *= MLP_LR              # the gradient is ours to scale (it is reset each step)
        p.data -= g              # in-place SGD update
    return float(loss.data)


def mlp_chainrule_gates(params: list[np.ndarray], x: np.ndarray, t: np.ndarray) -> Impl:
    """The step written with chainrule's gates, as a user of the seeds would."""
    from chainrule._tensor import tensor

    ps = [tensor(p, requires_grad=True) for p in params]
    xt = tensor(x)
    tt = tensor(t)

    def step() -> float:
        return gates_sgd_step(ps, xt, tt)

    return Impl("chainrule gates", step, lambda: [p.data for p in ps])


def mlp_chainrule_nn(params: list[np.ndarray], x: np.ndarray, t: np.ndarray) -> Impl | None:
    """The step written with ``cr.nn`` and ``cr.optim``, as a PyTorch user would."""
    try:
        from chainrule import nn, optim
    except ImportError:
        return None
    from chainrule._tensor import tensor

    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                          nn.Linear(256, 10))
    linears = [m for m in model if isinstance(m, nn.Linear)]
    for i, lin in enumerate(linears):   # chainrule's Linear stores W as (in, out)
        lin.weight.data[...] = params[2 * i]
        lin.bias.data[...] = params[2 * i + 1]
    loss_fn = nn.SoftmaxCrossEntropy()
    opt = optim.SGD(model.parameters(), lr=MLP_LR)
    xt = tensor(x)
    tt = tensor(t)

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

    return Impl("chainrule nn", step, weights)


def mlp_pytorch(params: list[np.ndarray], x: np.ndarray, t: np.ndarray) -> Impl | None:
    """The idiomatic PyTorch step (nn.Sequential, F.cross_entropy, optim.SGD, as many
    threads as BLAS is given: ``$OPENBLAS_NUM_THREADS``, 1 by default), or None if
    PyTorch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(blas_threads())
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 10))
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for i, lin in enumerate(linears):
            lin.weight.copy_(torch.from_numpy(params[2 * i].T.copy()))
            lin.bias.copy_(torch.from_numpy(params[2 * i + 1]))
    opt = torch.optim.SGD(model.parameters(), lr=MLP_LR)
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

    return Impl("pytorch", step, weights)


def mlp_numpy(params: list[np.ndarray], x: np.ndarray, t: np.ndarray,
              tuned: bool = False) -> Impl:
    """Hand-written forward and backward with every buffer allocated once.

    ``tuned=True`` writes the ReLU for NumPy's fast loops: ``np.maximum`` against a
    zero *array* rather than the scalar 0, and float masks rather than bool masks (no
    cast in ``grad * mask``), and at batch 1 takes the weight gradients (outer products)
    as broadcast multiplies rather than GEMMs with k = 1; everything else is the same.
    """
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
    mask1 = np.empty((n, 256), f32 if tuned else bool)
    mask2 = np.empty((n, 256), f32 if tuned else bool)
    zero: np.ndarray | int = np.zeros((n, 256), f32) if tuned else 0
    casting = "unsafe" if tuned else "same_kind"      # tuned masks hold 1.0 / 0.0
    dw1, dw2, dw3 = np.empty_like(w1), np.empty_like(w2), np.empty_like(w3)
    db1, db2, db3 = np.empty_like(b1), np.empty_like(b2), np.empty_like(b3)
    rows = np.arange(n)
    inv_n = f32(1.0 / n)
    lr = f32(MLP_LR)
    outer = np.multiply if tuned and n == 1 else np.matmul     # the weight gradients

    def step() -> float:
        # forward: z = x.W + b, a = relu(z) in place
        np.matmul(x, w1, out=z1)
        np.add(z1, b1, out=z1)
        np.greater(z1, 0, out=mask1, casting=casting)
        np.maximum(z1, zero, out=z1)
        np.matmul(z1, w2, out=z2)
        np.add(z2, b2, out=z2)
        np.greater(z2, 0, out=mask2, casting=casting)
        np.maximum(z2, zero, out=z2)
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
        outer(z2.T, z3, out=dw3)
        np.sum(z3, axis=0, out=db3)
        np.matmul(z3, w3.T, out=g2)
        np.multiply(g2, mask2, out=g2)
        outer(z1.T, g2, out=dw2)
        np.sum(g2, axis=0, out=db2)
        np.matmul(g2, w2.T, out=g1)
        np.multiply(g1, mask1, out=g1)
        outer(x.T, g1, out=dw1)
        np.sum(g1, axis=0, out=db1)
        # SGD
        for p, g in ((w1, dw1), (b1, db1), (w2, dw2), (b2, db2), (w3, dw3), (b3, db3)):
            np.multiply(g, lr, out=g)
            np.subtract(p, g, out=p)
        return loss

    return Impl("numpy tuned" if tuned else "numpy", step, lambda: [w1, b1, w2, b2, w3, b3])


def mlp_numpy_tuned(params: list[np.ndarray], x: np.ndarray, t: np.ndarray) -> Impl:
    """:func:`mlp_numpy` with ``tuned=True`` (the ReLU written for NumPy's fast loops)."""
    return mlp_numpy(params, x, t, tuned=True)


def mlp_matmuls(params: list[np.ndarray], x: np.ndarray, t: np.ndarray) -> Impl:
    """The eight matrix products of a step, into preallocated buffers (the floor); at
    batch 1 the three weight gradients are outer products, taken as broadcast
    multiplies (faster than a GEMM with k = 1)."""
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
    outer = np.multiply if n == 1 else np.matmul

    def step() -> float:
        np.matmul(x, w1, out=z1)
        np.matmul(z1, w2, out=z2)
        np.matmul(z2, w3, out=z3)
        outer(z2.T, z3, out=dw3)
        np.matmul(z3, w3.T, out=g2)
        outer(z1.T, g2, out=dw2)
        np.matmul(g2, w2.T, out=g1)
        outer(x.T, g1, out=dw1)
        return 0.0

    return Impl("matmuls", step, lambda: [])


def mlp_implementations(params: list[np.ndarray], x: np.ndarray, t: np.ndarray,
                        no_torch: bool = False) -> list[Impl]:
    """Every implementation that is available, each with its own copy of ``params``:
    chainrule gates, chainrule nn, pytorch (unless ``no_torch``), numpy, numpy tuned,
    matmuls."""
    makers: list[Callable[..., Impl | None]] = [mlp_chainrule_gates, mlp_chainrule_nn,
                                                 mlp_numpy, mlp_numpy_tuned, mlp_matmuls]
    if not no_torch:
        makers.insert(2, mlp_pytorch)
    return [impl for impl in (m([p.copy() for p in params], x, t) for m in makers)
            if impl is not None]


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


def check_mlp_agreement(params: list[np.ndarray], x: np.ndarray, t: np.ndarray,
                        no_torch: bool = False) -> None:
    """One step of each implementation from identical weights, printed; raises
    :class:`BenchmarkMismatchError` if one disagrees with the NumPy reference (loss
    within 1e-4, every weight within 1e-5)."""
    print("\nAgreement after one step from the same weights (float32):")
    ref_loss = 0.0
    ref_w: list[np.ndarray] | None = None
    for make in (mlp_numpy, mlp_numpy_tuned, mlp_chainrule_gates, mlp_chainrule_nn,
                 mlp_pytorch):
        if no_torch and make is mlp_pytorch:
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
            raise BenchmarkMismatchError(f"{impl.name} disagrees with the NumPy reference")


def time_interleaved(impls: list[Impl], rounds: int, block: int, seed: int,
                     warmup: int = 20) -> dict[str, list[float]]:
    """Round-robin timing: after ``warmup`` untimed steps of each, every round times
    ``block`` steps of every implementation, in an order shuffled per round (so that a
    slow spell of a shared machine hits all alike). Returns seconds per step, one
    entry per round."""
    for impl in impls:  # warm up (BLAS buffers, caches, lazy imports)
        for _ in range(warmup):
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


def format_step_table(times: Mapping[str, list[float]], rounds: int, block: int,
                      batch: int) -> str:
    """Milliseconds per step (median, best) and the seconds per epoch they imply."""
    steps_per_epoch = SAMPLES_PER_EPOCH / batch
    lines = [f"\nms per step ({rounds} rounds x {block} steps, interleaved):",
             f"  {'implementation':16s} {'median':>8s} {'best':>8s} {'s/epoch*':>9s}"]
    for k, v in times.items():
        med, best = statistics.median(v), min(v)
        lines.append(f"  {k:16s} {med * 1e3:8.3f} {best * 1e3:8.3f} "
                     f"{med * steps_per_epoch:9.2f}")
    lines.append(f"  * {steps_per_epoch:.2f} steps x median (60,000 samples, data loading "
                 f"excluded)")
    return "\n".join(lines)


def format_mlp_ratios(times: Mapping[str, list[float]], batch: int = 128) -> str:
    """chainrule over each reference (median, best in parentheses), with the targets of
    the speed issue: ``nn`` + ``optim.SGD`` at or below 1.0x PyTorch, and at batch 128
    within 1.05x the hand-written NumPy step."""
    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    lines = ["\nRatios (median; best in parentheses):"]
    for name in ("chainrule gates", "chainrule nn"):
        if name not in med:
            continue
        nn_row = name == "chainrule nn"
        for ref, target in (("pytorch", 1.0 if nn_row else None),
                            ("numpy", 1.05 if nn_row and batch == 128 else None),
                            ("numpy tuned", None), ("matmuls", None)):
            if ref not in med:
                continue
            r, rb = med[name] / med[ref], best[name] / best[ref]
            verdict = "" if target is None else \
                ("  meets target" if r <= target else f"  target <= {target:.2f}x: MISSED")
            lines.append(f"  {name:15s} / {ref:11s} {r:5.2f}x ({rb:.2f}x){verdict}")
    if "pytorch" in med and "numpy" in med:
        lines.append(f"  {'numpy':15s} / {'pytorch':11s} "
                     f"{med['numpy'] / med['pytorch']:5.2f}x")
    return "\n".join(lines)


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
    ``cr.data.DataLoader`` (shuffled), for the chainrule implementations; returns
    (name, seconds, steps) per implementation (empty if the data is not installed)."""
    try:
        from chainrule.data import DataLoader, FashionMNIST
    except ImportError:
        return []
    from chainrule._tensor import tensor

    try:
        train = FashionMNIST("train", download=False)
    except Exception as e:  # not installed here
        print(f"  (no Fashion-MNIST: {str(e).splitlines()[0]})")
        return []
    params, _, _ = mlp_problem(batch, seed)
    results = []
    runners = []
    try:
        from chainrule import nn, optim

        def nn_epoch() -> int:
            model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256),
                                  nn.ReLU(), nn.Linear(256, 10))
            loss_fn = nn.SoftmaxCrossEntropy()
            opt = optim.SGD(model.parameters(), lr=MLP_LR)
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
        ps = [tensor(p, requires_grad=True) for p in params]
        steps = 0
        for xb, yb in DataLoader(train, batch, shuffle=True, seed=seed):
            gates_sgd_step(ps, xb, yb)
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
    Fashion-MNIST with the benchmark's MLP (no plots), in this environment; None if
    ``chainrule train`` or the data is not available.

    The peak is the child's own ``VmHWM`` (Linux), read as it exits: ``ru_maxrss`` of
    a child would include this (PyTorch-laden) process, which the child starts as a
    copy of before ``exec``. A failed run prints the end of its output and raises
    :class:`BenchmarkError`.
    """
    try:
        import chainrule.cli.train  # noqa: F401
    except ImportError:
        return None
    if not FASHION_DIR.is_dir():
        return None
    out = tmp / "run"
    opts = ["train", "--dataset", "fashion-mnist", "--hidden", "256", "256", "--optimizer",
            "sgd", "--lr", str(MLP_LR), "--epochs", "1", "--batch-size", "128", "--dtype",
            "float32", "--no-plots", "--quiet", "--out", str(out)]
    env = dict(os.environ)
    env["PYTHONPATH"] = child_pythonpath(env)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _PEAK_WRAPPER, *opts], env=env,
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-2000:])
        raise BenchmarkError(f"chainrule train failed with exit code {proc.returncode}")
    peak = None
    for line in proc.stderr.splitlines():
        if line.startswith("peak-rss-kib "):
            peak = int(line.split()[1]) / 1024
    last = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    return wall, peak, "chainrule " + " ".join(opts) + ("\n    -> " + last[-1] if last else "")


def run_mlp(rounds: int = 120, block: int = 10, batch: int = 128, seed: int = 0,
            no_torch: bool = False, epoch: bool = True, train: bool = True,
            profile: bool = False, warmup: int = 20) -> int:
    """The MLP-step benchmark: check agreement, time interleaved, print the step table,
    the ratios and the peak memory of a step; then, if asked, one real epoch over
    Fashion-MNIST (``epoch``) and a whole ``chainrule train`` process (``train``).
    Returns the exit code; raises :class:`BenchmarkMismatchError` if the
    implementations disagree. Run it in a single-threaded process (see
    :func:`single_threaded_env`): this function does not change the BLAS threads.
    """
    for name, value, low in (("rounds", rounds, 1), ("block", block, 1), ("batch", batch, 1),
                             ("warmup", warmup, 0)):
        if value < low:
            raise ValueError(f"run_mlp: {name} must be at least {low}, got {value}")
    print(f"chainrule {chainrule.__version__}, NumPy {np.__version__}, Python "
          f"{sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print("env: " + ", ".join(f"{v}={os.environ.get(v, '(unset)')}"
                              for v in (*THREAD_VARS, *MACHINE_VARS)))
    print(f"BLAS: {blas_summary()}")
    params, x, t = mlp_problem(batch, seed)
    print(f"MLP {'-'.join(map(str, MLP_SIZES))}, batch {batch}, float32, ReLU, softmax "
          f"cross-entropy, SGD lr {MLP_LR}")
    check_mlp_agreement(params, x, t, no_torch=no_torch)

    impls = mlp_implementations(params, x, t, no_torch=no_torch)
    if not no_torch:
        if not any(i.name == "pytorch" for i in impls):
            print("  (PyTorch is not installed: skipped)")
        else:
            import torch
            print(f"PyTorch {torch.__version__}, threads={torch.get_num_threads()}")

    times = time_interleaved(impls, rounds, block, seed, warmup=warmup)
    print(format_step_table(times, rounds, block, batch))
    print(format_mlp_ratios(times, batch))
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    print_summary(f"MLP {'-'.join(map(str, MLP_SIZES))} B{batch}, nn + SGD{threads_label()}",
                  "ms/step",
                  med["chainrule nn"], med.get("pytorch"), med.get("numpy tuned"),
                  med.get("matmuls"), "matmuls")

    print("\nPeak memory allocated by NumPy during one step (tracemalloc):")
    for impl in impls:
        if impl.name in ("pytorch", "matmuls", "numpy tuned"):
            continue
        print(f"  {impl.name:16s} {peak_step_memory(impl) / 1024:8.0f} KiB")

    if profile:
        import cProfile
        import pstats
        gates = next(i for i in impls if i.name == "chainrule gates")
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(300):
            gates.step()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)

    if epoch:
        print("\nOne real epoch over Fashion-MNIST train (60,000 images, DataLoader, "
              f"batch {batch}, shuffled):")
        for name, sec, steps in real_epoch(batch, seed):
            print(f"  {name:16s} {sec:6.2f} s ({steps} steps, {sec / steps * 1e3:.3f} ms/step "
                  f"incl. batching)")

    import resource  # Unix only; imported here so that the chain benchmark runs anywhere

    self_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    what = "PyTorch included" if "torch" in sys.modules else "no PyTorch"
    print(f"\nPeak RSS of this benchmark process ({what}): {self_peak / 1024:.0f} MiB")
    if train:
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
