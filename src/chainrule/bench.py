"""Speed benchmarks against PyTorch and plain NumPy: the measuring code.

Two benchmarks, each timing several implementations of the same computation in one
process, interleaved, after checking that they all compute the same numbers:

``chain``
    The per-gate overhead of the engine: ``y = y * 1.0001 + 0.0001`` repeated on a
    one-element float64 tensor (two gates per iteration), forward + ``backward()`` +
    freeing the graph; chainrule, PyTorch and a NumPy floor (the same arithmetic with a
    hand-written backward loop). See :func:`run_chain`.
``mlp``
    One SGD training step of an MLP 784-256-256-10 in float32, batch 128: chainrule's
    gates, chainrule's ``nn`` + ``optim``, PyTorch, hand-written NumPy (plain and
    tuned) and the eight matrix products alone (the floor). See :func:`run_mlp`.

``benchmarks/chain.py``, ``benchmarks/mlp_step.py`` and ``chainrule bench`` are thin
wrappers around :func:`run_chain` and :func:`run_mlp`. PyTorch is optional and imported
only when it is compared. The MLP numbers depend on BLAS threading: run it in a process
started with :func:`single_threaded_env` (the wrappers re-execute themselves so).
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import platform
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

from . import __version__
from ._tensor import Tensor
from .errors import BenchmarkError, BenchmarkMismatchError

#: Environment variables that must be "1" for single-threaded BLAS / OpenMP.
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: Machine-specific OpenBLAS settings the MLP benchmark unsets (so that OpenBLAS picks
#: the kernel for the CPU it runs on) unless asked to keep them.
MACHINE_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
#: The directory holding the ``chainrule`` package (``src`` in a checkout).
PACKAGE_PARENT = Path(__file__).resolve().parent.parent


def single_threaded_env(environ: Mapping[str, str] | None = None,
                        keep_machine_blas: bool = False) -> dict[str, str] | None:
    """The environment a benchmark process should be started with, or None if
    ``environ`` (default ``os.environ``) is already right.

    Sets :data:`THREAD_VARS` to ``"1"`` and, unless ``keep_machine_blas``, removes
    :data:`MACHINE_VARS`. BLAS reads these when it loads, so a process whose
    environment is wrong must start a new one with the returned environment.
    """
    env = dict(os.environ if environ is None else environ)
    changed = False
    for v in THREAD_VARS:
        if env.get(v) != "1":
            env[v] = "1"
            changed = True
    if not keep_machine_blas:
        for v in MACHINE_VARS:
            if v in env:
                del env[v]
                changed = True
    return env if changed else None


def child_pythonpath(environ: Mapping[str, str] | None = None) -> str:
    """``PYTHONPATH`` for a child process that must import this very ``chainrule``: the
    directory holding the package first (a source checkout's ``src``), unless it is a
    site-packages directory a fresh interpreter finds anyway."""
    import site

    env = os.environ if environ is None else environ
    current = env.get("PYTHONPATH", "")
    sites = [*site.getsitepackages(), site.getusersitepackages()]
    if any(Path(p).resolve() == PACKAGE_PARENT for p in sites):
        return current
    return os.pathsep.join(p for p in (str(PACKAGE_PARENT), current) if p)


def _table(header: tuple[str, ...], sub: tuple[str, ...],
           rows: list[tuple[str, ...]]) -> str:
    """A left-aligned first column and right-aligned others, under a dashed rule."""
    widths = [max(len(r[i]) for r in (header, sub, *rows)) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
        return "  ".join([first, *rest])

    return "\n".join([line(header), line(sub), "  ".join("-" * w for w in widths),
                      *(line(r) for r in rows)])


# ====================================================================== chain
CHAIN_MUL = 1.0001
CHAIN_ADD = 0.0001

#: A chain run: ``n_iter`` -> (forward seconds, backward seconds, output, input grad).
ChainRun = Callable[[int], tuple[float, float, float, float]]


def chain_chainrule(n_iter: int) -> tuple[float, float, float, float]:
    """One timed run of the chain with chainrule tensors."""
    from ._tensor import tensor

    x = tensor([1.0], requires_grad=True)
    t0 = time.perf_counter()
    y = x
    for _ in range(n_iter):
        y = y * CHAIN_MUL + CHAIN_ADD
    t1 = time.perf_counter()
    y.backward()
    value = float(y.data[0])
    del y
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, value, float(x.grad.data[0])


def chain_pytorch() -> ChainRun | None:
    """The chain with PyTorch tensors (one thread), or None if PyTorch is missing."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)

    def run_torch(n_iter: int) -> tuple[float, float, float, float]:
        x = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
        t0 = time.perf_counter()
        y = x
        for _ in range(n_iter):
            y = y * CHAIN_MUL + CHAIN_ADD
        t1 = time.perf_counter()
        y.backward()
        value = float(y.detach()[0])
        del y
        t2 = time.perf_counter()
        return t1 - t0, t2 - t1, value, float(x.grad[0])

    return run_torch


def chain_numpy(n_iter: int) -> tuple[float, float, float, float]:
    """The floor: the same arithmetic on a one-element ndarray, each multiply's input
    saved as a gate would, then a hand-written backward loop."""
    x = np.array([1.0])
    t0 = time.perf_counter()
    saved = []
    y = x
    for _ in range(n_iter):
        saved.append(y)            # what the multiply gate keeps for backward
        y = y * CHAIN_MUL
        y = y + CHAIN_ADD
    t1 = time.perf_counter()
    g = np.ones(1)
    for _ in range(n_iter):        # reversed: the add passes g on, the multiply scales it
        g = g * CHAIN_MUL
    value = float(y[0])
    del y, saved
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, value, float(g[0])


def chain_implementations(no_torch: bool = False) -> tuple[dict[str, ChainRun], str]:
    """The implementations to time (chainrule, pytorch if wanted and installed, numpy
    floor) and, when PyTorch is left out, the sentence that says why."""
    runs: dict[str, ChainRun] = {"chainrule": chain_chainrule}
    note = ""
    if no_torch:
        note = "PyTorch skipped (--no-torch)"
    else:
        torch_run = chain_pytorch()
        if torch_run is None:
            note = "PyTorch is not installed: skipped (pip install torch to compare)"
        else:
            runs["pytorch"] = torch_run
    runs["numpy floor"] = chain_numpy
    return runs, note


def check_chain_agreement(runs: Mapping[str, ChainRun], n_iter: int) -> tuple[float, float]:
    """Run each implementation once (also a warm-up); returns the common output and
    gradient, or raises :class:`BenchmarkMismatchError` naming the one that differs."""
    expected_grad = CHAIN_MUL ** n_iter
    results = {name: fn(n_iter) for name, fn in runs.items()}
    ref_value = results["numpy floor"][2]
    for name, (_, _, value, grad) in results.items():
        if not (np.isclose(value, ref_value, rtol=1e-12)
                and np.isclose(grad, expected_grad, rtol=1e-12)):
            raise BenchmarkMismatchError(
                f"{name}: output {value!r} / gradient {grad!r} differ from the expected "
                f"{ref_value!r} / {expected_grad!r}")
    return ref_value, expected_grad


def time_chain(runs: Mapping[str, ChainRun], n_iter: int, repeats: int,
               disable_gc: bool = False) -> dict[str, list[tuple[float, float]]]:
    """Time every implementation ``repeats`` times, interleaved run by run; returns the
    (forward, backward) seconds of each run."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            gc.collect()
            if disable_gc:
                gc.disable()
            try:
                fwd, bwd, _, _ = fn(n_iter)
            finally:
                gc.enable()
            times[name].append((fwd, bwd))
    return times


def format_chain_table(times: Mapping[str, list[tuple[float, float]]], n_gates: int) -> str:
    """Microseconds per gate: best forward, best backward, best and median total."""
    def per_gate(seconds: float) -> float:
        return seconds / n_gates * 1e6

    header = ("implementation", "forward", "backward", "total", "total")
    sub = ("", "us/gate best", "us/gate best", "us/gate best", "us/gate median")
    rows: list[tuple[str, ...]] = []
    for name, ts in times.items():
        totals = [f + b for f, b in ts]
        rows.append((name, f"{per_gate(min(f for f, _ in ts)):.3f}",
                     f"{per_gate(min(b for _, b in ts)):.3f}",
                     f"{per_gate(min(totals)):.3f}",
                     f"{per_gate(statistics.median(totals)):.3f}"))
    return _table(header, sub, rows)


def format_chain_ratios(times: Mapping[str, list[tuple[float, float]]],
                        torch_note: str = "") -> str:
    """chainrule / PyTorch (target <= 1.0) and chainrule / NumPy floor, per gate."""
    best = {name: min(f + b for f, b in ts) for name, ts in times.items()}
    lines = []
    if "pytorch" in best:
        ratio = best["chainrule"] / best["pytorch"]
        med = (statistics.median(f + b for f, b in times["chainrule"])
               / statistics.median(f + b for f, b in times["pytorch"]))
        verdict = "met" if ratio <= 1.0 else "NOT met"
        lines.append(f"chainrule / PyTorch per gate: {ratio:.2f} (best), {med:.2f} (median); "
                     f"target <= 1.0: {verdict}")
    else:
        lines.append(torch_note)
    lines.append(f"chainrule / NumPy floor per gate: "
                 f"{best['chainrule'] / best['numpy floor']:.2f} (best)")
    return "\n".join(lines)


def run_chain(gates: int = 10_000, repeats: int = 7, no_torch: bool = False,
              no_gc: bool = False) -> int:
    """The chain benchmark: check, time and print; returns the exit code (0, or 1 with
    a message on stderr if the implementations disagree).

    ``gates`` is rounded down to an even number (two gates per iteration).
    """
    if gates < 2:
        raise ValueError(f"run_chain: gates must be at least 2, got {gates}")
    if repeats < 1:
        raise ValueError(f"run_chain: repeats must be at least 1, got {repeats}")
    n_iter = gates // 2
    n_gates = 2 * n_iter
    runs, torch_note = chain_implementations(no_torch)
    try:
        ref_value, expected_grad = check_chain_agreement(runs, n_iter)
    except BenchmarkMismatchError as e:
        print(e, file=sys.stderr)
        return 1

    times = time_chain(runs, n_iter, repeats, no_gc)

    versions = [f"Python {platform.python_version()}", f"NumPy {np.__version__}",
                f"chainrule {__version__}"]
    if "pytorch" in runs:
        import torch
        versions.append(f"PyTorch {torch.__version__} (1 thread)")
    print(f"Chain of {n_gates:,} gates: {n_iter:,} x (y * {CHAIN_MUL} + {CHAIN_ADD}), i.e. a "
          f"multiply and an add gate per iteration,")
    print(f"on one-element float64 tensors; forward + backward + freeing the graph; "
          f"{repeats} runs each, interleaved; garbage collector "
          f"{'disabled' if no_gc else 'enabled'}.")
    print("; ".join(versions))
    print(f"All implementations agree: y = {ref_value:.12g}, dy/dx = {expected_grad:.12g}")
    print()
    print(format_chain_table(times, n_gates))
    print()
    print(format_chain_ratios(times, torch_note))
    return 0


# ====================================================================== MLP step
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
    from .ops import affine, relu, softmax_cross_entropy

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
    from ._tensor import tensor

    ps = [tensor(p, requires_grad=True) for p in params]
    xt = tensor(x)
    tt = tensor(t)

    def step() -> float:
        return gates_sgd_step(ps, xt, tt)

    return Impl("chainrule gates", step, lambda: [p.data for p in ps])


def mlp_chainrule_nn(params: list[np.ndarray], x: np.ndarray, t: np.ndarray) -> Impl | None:
    """The step written with ``cr.nn`` and ``cr.optim``, as a PyTorch user would."""
    try:
        from . import nn, optim
    except ImportError:
        return None
    from ._tensor import tensor

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
    """The idiomatic PyTorch step (nn.Sequential, F.cross_entropy, optim.SGD, one
    thread), or None if PyTorch is not installed."""
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

    ``tuned=True`` writes the ReLU for NumPy's fast loops: ``np.maximum(z, 0)`` with a
    Python scalar takes a loop about 5x slower than with a zero *array* of the same
    shape (measured here: ~10-19 us vs ~2-4 us for 128x256 float32), and
    ``grad * bool_mask`` needs a cast that ``grad * float_mask`` does not (~5 us vs
    ~2 us). So the tuned variant keeps a zero array and float masks; everything else is
    the same.
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

    return Impl("numpy tuned" if tuned else "numpy", step, lambda: [w1, b1, w2, b2, w3, b3])


def mlp_numpy_tuned(params: list[np.ndarray], x: np.ndarray, t: np.ndarray) -> Impl:
    """:func:`mlp_numpy` with ``tuned=True`` (the ReLU written for NumPy's fast loops)."""
    return mlp_numpy(params, x, t, tuned=True)


def mlp_matmuls(params: list[np.ndarray], x: np.ndarray, t: np.ndarray) -> Impl:
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


def format_mlp_ratios(times: Mapping[str, list[float]]) -> str:
    """chainrule over each reference (median, best in parentheses), with the targets:
    <= 1.0x PyTorch and <= 1.1x hand-written NumPy."""
    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    lines = ["\nRatios (median; best in parentheses):"]
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
        from .data import DataLoader, FashionMNIST
    except ImportError:
        return []
    from ._tensor import tensor

    try:
        train = FashionMNIST("train", download=False)
    except Exception as e:  # not installed here
        print(f"  (no Fashion-MNIST: {str(e).splitlines()[0]})")
        return []
    params, _, _ = mlp_problem(batch, seed)
    results = []
    runners = []
    try:
        from . import nn, optim

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
        import chainrule.commands.train  # noqa: F401
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
    print(f"chainrule {__version__}, NumPy {np.__version__}, Python "
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
    print(format_mlp_ratios(times))

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
