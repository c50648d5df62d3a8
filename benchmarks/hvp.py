#!/usr/bin/env python
"""A Hessian-vector product of an MLP's training loss: chainrule vs PyTorch vs NumPy.

The function differentiated twice is the training loss of an MLP 784-256-256-10 (ReLU,
softmax cross-entropy averaged over a batch of 128), as a function of all six
parameters ``(W1, b1, W2, b2, W3, b3)`` (W as (in, out), as in chainrule's
``nn.Linear``); the product is ``H v`` along a random direction ``v`` of the same shapes.
Everything is float64: the implementations are checked to agree to a relative error
below 1e-8 before anything is timed, which float32 cannot resolve.

What is timed, per HVP (the loss is computed too, the gradient as a by-product where
the method needs it):

* ``chainrule cr.hvp``: ``cr.hvp(loss_fn, params, v)`` on ``cr.ops.affine`` /
  ``cr.ops.relu`` / ``cr.ops.softmax_cross_entropy``: the public function; it is
  reverse over forward (the tangent of the loss along v, ``∇L · v``, pushed through the
  recorded graph by the gates' forward-mode rules and recorded, then one backward pass
  through it), which is the R-op done by the engine;
* ``chainrule double-bwd``: reverse over reverse, written out: ``g = cr.grad(loss, params,
  create_graph=True)``, then ``cr.grad(sum_i cr.sum(g_i * v_i), params)``;
  ``chainrule grad(g, v)``: the second step as ``cr.grad(g, params, grad_outputs=v)``;
* ``pytorch func.jvp(grad)``: ``torch.func.jvp(torch.func.grad(f), (params,), (v,))``,
  forward-over-reverse (``torch.func.hvp``'s recipe); ``pytorch double-bwd`` and
  ``pytorch grad(g, v)``: two ``torch.autograd.grad`` calls as above; ``pytorch
  functional.hvp``: ``torch.autograd.functional.hvp`` (the double-vjp trick); one
  thread each (N with ``--threads N``);
* ``numpy R-op``: Pearlmutter's method written by hand (:func:`rop_hvp`): the forward
  pass, the R-forward pass (the directional derivatives of every activation along v),
  the backward pass and the R-backward pass: exactly ``H v``, in 18 matrix products;
* ``matmuls R-op (18)``: those 18 products alone, into preallocated buffers: the floor;
* ``matmuls cr.hvp (18)``: the products one ``cr.hvp`` call computes, recorded from
  it (shapes and operand layouts) and run alone the same way: chainrule's own floor.
  Reverse over forward computes the R-op's 18 for this network: the forward pass (3),
  the tangents (5) and the backward pass through both (10), with the same shapes and
  operand layouts as the hand-written code's. Reverse over reverse (the double-bwd
  rows) computes 22: the gradient's 5 products include the three weight gradients
  and dL/dh1, values that ``H v`` never reads, and the biggest of them
  (``x^T . dL/da1``) is a first-layer product.

The rows run interleaved: every round times a block of calls of each implementation,
in an order shuffled per round (``mlp_harness.time_interleaved``), so that a slow spell
of the shared machine hits all alike; the table gives the median and the range of the
per-round figures. When chainrule misses the target (within 1.3x of the R-op), or with
``--profile``, a cProfile of chainrule's fastest idiom follows, with ``numpy.matmul``
wrapped (for the profile only) so that the time spent in matrix products is counted
apart from everything else.

Single-threaded: like ``mlp_step.py`` the script re-executes itself with
``harness.single_threaded_env`` (``OPENBLAS_NUM_THREADS=1``, ``OMP_NUM_THREADS=1``,
``MKL_NUM_THREADS=1``, or N with ``--threads N``; machine-specific OpenBLAS settings
unset unless ``--machine-blas``) before NumPy is loaded by the process that measures.

Usage (from the repository root)::

    python benchmarks/hvp.py                    # about 20 seconds
    python benchmarks/hvp.py --rounds 5 --block 2 --no-torch   # quick
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import harness  # sibling modules (this folder is sys.path[0])
import mlp_harness
import numpy as np

import chainrule as cr

TARGET = 1.3          # the target: chainrule's HVP / the hand-written R-op
TOLERANCE = 1e-8      # largest relative error allowed, per parameter
ROP_FLOOR = "matmuls R-op"        # the two floors' rows (their product counts follow)
RR_FLOOR = "matmuls cr.hvp"

Arrays = list[np.ndarray]


# ====================================================================== the problem
def hvp_problem(batch: int, seed: int) -> tuple[Arrays, Arrays, np.ndarray, np.ndarray]:
    """float64 parameters ``[W1, b1, W2, b2, W3, b3]`` (``mlp_harness.mlp_problem``'s
    He initialisation, cast), a direction ``v`` of the same shapes (standard normal),
    a batch of inputs and integer labels."""
    params32, x32, t = mlp_harness.mlp_problem(batch, seed)
    params = [p.astype(np.float64) for p in params32]
    rng = np.random.default_rng(seed + 1)
    v = [rng.standard_normal(p.shape) for p in params]
    return params, v, x32.astype(np.float64), t


@dataclass
class HVPImpl:
    """One way to compute ``H v``: ``run()`` returns the six products (array-likes)."""

    name: str
    run: Callable[[], Sequence]


# ====================================================================== chainrule
def chainrule_loss_fn(x: np.ndarray, t: np.ndarray) -> Callable[..., cr.Tensor]:
    """The training loss as a function of the six parameters, from chainrule's gates."""
    from chainrule.ops import affine, relu, softmax_cross_entropy

    xt, tt = cr.tensor(x), cr.tensor(t)

    def loss(w1: cr.Tensor, b1: cr.Tensor, w2: cr.Tensor, b2: cr.Tensor,
             w3: cr.Tensor, b3: cr.Tensor) -> cr.Tensor:
        h = relu(affine(xt, w1, b1))
        h = relu(affine(h, w2, b2))
        return softmax_cross_entropy(affine(h, w3, b3), tt)

    return loss


def chainrule_impls(params: Arrays, v: Arrays, x: np.ndarray, t: np.ndarray
                    ) -> list[HVPImpl]:
    """``cr.hvp`` and the double backward written out, as a user would write them."""
    loss = chainrule_loss_fn(x, t)
    ps = tuple(cr.tensor(p, requires_grad=True) for p in params)
    vs = tuple(cr.tensor(d) for d in v)

    def hvp() -> Sequence:
        _, hv = cr.hvp(loss, ps, vs)
        return [h.data for h in hv]

    def double_backward() -> Sequence:
        g = cr.grad(loss(*ps), ps, create_graph=True)
        dot = sum(cr.sum(gi * vi) for gi, vi in zip(g, vs))
        return [h.data for h in cr.grad(dot, ps)]

    def grad_of_grad() -> Sequence:
        g = cr.grad(loss(*ps), ps, create_graph=True)
        return [h.data for h in cr.grad(g, ps, grad_outputs=vs)]

    return [HVPImpl("chainrule cr.hvp", hvp), HVPImpl("chainrule double-bwd", double_backward),
            HVPImpl("chainrule grad(g, v)", grad_of_grad)]


# ====================================================================== PyTorch
def pytorch_impls(params: Arrays, v: Arrays, x: np.ndarray, t: np.ndarray
                  ) -> list[HVPImpl]:
    """torch.func's forward-over-reverse, the double backward and
    ``torch.autograd.functional.hvp``, as many threads as BLAS has (empty if PyTorch is
    missing)."""
    try:
        import torch
    except ImportError:
        return []
    torch.set_num_threads(harness.blas_threads())
    import torch.nn.functional as F
    from torch.func import grad, jvp

    xt, tt = torch.from_numpy(x.copy()), torch.from_numpy(t.copy())
    ps = tuple(torch.from_numpy(p.copy()) for p in params)
    vs = tuple(torch.from_numpy(d.copy()) for d in v)

    def loss(w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor,
             w3: torch.Tensor, b3: torch.Tensor) -> torch.Tensor:
        h = F.relu(torch.addmm(b1, xt, w1))
        h = F.relu(torch.addmm(b2, h, w2))
        return F.cross_entropy(torch.addmm(b3, h, w3), tt)

    def loss_of_tuple(p: tuple) -> torch.Tensor:
        return loss(*p)

    grad_fn = grad(loss_of_tuple)

    def func_jvp_grad() -> Sequence:
        _, hv = jvp(grad_fn, (ps,), (vs,))
        return hv

    leaves = tuple(p.clone().requires_grad_(True) for p in ps)

    def double_backward() -> Sequence:
        g = torch.autograd.grad(loss(*leaves), leaves, create_graph=True)
        dot = sum((gi * vi).sum() for gi, vi in zip(g, vs))
        return torch.autograd.grad(dot, leaves)

    def grad_of_grad() -> Sequence:
        g = torch.autograd.grad(loss(*leaves), leaves, create_graph=True)
        return torch.autograd.grad(g, leaves, grad_outputs=vs)

    def functional_hvp() -> Sequence:
        _, hv = torch.autograd.functional.hvp(loss, ps, vs)
        return hv

    return [HVPImpl("pytorch func.jvp(grad)", func_jvp_grad),
            HVPImpl("pytorch double-bwd", double_backward),
            HVPImpl("pytorch grad(g, v)", grad_of_grad),
            HVPImpl("pytorch functional.hvp", functional_hvp)]


# ====================================================================== NumPy R-op
def rop_hvp(params: Arrays, v: Arrays, x: np.ndarray, onehot: np.ndarray
            ) -> tuple[float, Arrays]:
    """``(loss, H v)`` by Pearlmutter's R-operator, written out for this network.

    ``R{q}`` is the derivative of an intermediate ``q`` along the direction ``v``:
    ``d/de q(params + e v)`` at ``e = 0``. Applied to the whole backward pass it gives
    ``R{dL/dparams} = H v``, exactly, with no Hessian formed. The rules used: the product
    rule ``R{A B} = R{A} B + A R{B}``, ``R{param} = v``, ``R{x} = 0`` (the data), and
    ``R{relu(a)} = R{a} * [a > 0]`` (the ReLU's second derivative is 0 almost
    everywhere, so the backward masks have no R-term either).
    """
    w1, b1, w2, b2, w3, b3 = params
    v1, c1, v2, c2, v3, c3 = v           # the direction, one part per parameter
    n = x.shape[0]

    # --- forward pass (3 matrix products)
    a1 = x @ w1 + b1
    m1 = a1 > 0                          # ReLU masks, reused by everything below
    h1 = a1 * m1
    a2 = h1 @ w2 + b2
    m2 = a2 > 0
    h2 = a2 * m2
    z = h2 @ w3 + b3
    z -= z.max(axis=1, keepdims=True)    # softmax, stabilised
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    p = e / s
    loss = float(np.mean(np.log(s[:, 0]) - np.sum(z * onehot, axis=1)))

    # --- R-forward pass: directional derivatives of the activations (5 products)
    r_a1 = x @ v1 + c1                   # R{x} = 0
    r_h1 = r_a1 * m1
    r_a2 = r_h1 @ w2 + h1 @ v2 + c2
    r_h2 = r_a2 * m2
    r_z = r_h2 @ w3 + h2 @ v3 + c3

    # --- backward pass, only what H v needs (1 product): the loss gradients with
    # respect to the logits and to a2. The weight gradients themselves (and dL/dh1) are
    # not needed: their R-versions below are built from these and the R-forward values.
    dz = (p - onehot) / n
    da2 = (dz @ w3.T) * m2

    # --- R-backward pass (9 products)
    # softmax: R{p} = J_softmax R{z} = p * (R{z} - sum_k p_k R{z}_k)
    r_dz = p * (r_z - np.sum(p * r_z, axis=1, keepdims=True)) / n
    hv_w3 = r_h2.T @ dz + h2.T @ r_dz    # R{h2^T dz}
    hv_b3 = r_dz.sum(axis=0)
    r_da2 = (r_dz @ w3.T + dz @ v3.T) * m2   # R{(dz W3^T) * m2}
    hv_w2 = r_h1.T @ da2 + h1.T @ r_da2
    hv_b2 = r_da2.sum(axis=0)
    r_da1 = (r_da2 @ w2.T + da2 @ v2.T) * m1
    hv_w1 = x.T @ r_da1                  # R{x^T da1} with R{x} = 0
    hv_b1 = r_da1.sum(axis=0)
    return loss, [hv_w1, hv_b1, hv_w2, hv_b2, hv_w3, hv_b3]


def numpy_onehot(t: np.ndarray, classes: int) -> np.ndarray:
    onehot = np.zeros((t.shape[0], classes))
    onehot[np.arange(t.shape[0]), t] = 1.0
    return onehot


def rop_impl(params: Arrays, v: Arrays, x: np.ndarray, t: np.ndarray) -> HVPImpl:
    onehot = numpy_onehot(t, params[-1].shape[0])
    return HVPImpl("numpy R-op", lambda: rop_hvp(params, v, x, onehot)[1])


# ====================================================================== the floors
Product = tuple[np.ndarray, np.ndarray]


def _operands(n: int, seed: int) -> Callable[..., np.ndarray]:
    """A maker of fresh standard-normal operands: ``make(rows, cols)`` is C-ordered,
    ``make(rows, cols, t=True)`` is the transpose of a C-ordered (cols, rows) array
    (a transposed view, as ``x.T`` is in the real code). Every call is a new array, as
    every intermediate of the real pass is."""
    rng = np.random.default_rng(seed)

    def make(rows: int, cols: int, t: bool = False) -> np.ndarray:
        return rng.standard_normal((cols, rows)).T if t else rng.standard_normal((rows, cols))

    return make


def rop_products(params: Arrays, v: Arrays, x: np.ndarray, seed: int = 0) -> list[Product]:
    """The 18 matrix products of :func:`rop_hvp`, with the same shapes and layouts
    (parameters, direction and data themselves; fresh arrays for the activations)."""
    w1, _, w2, _, w3, _ = params
    v1, _, v2, _, v3, _ = v
    n, d1, d2, d3 = x.shape[0], w1.shape[1], w2.shape[1], w3.shape[1]
    a = _operands(n, seed)
    return [
        (x, w1), (a(n, d1), w2), (a(n, d2), w3),                            # forward
        (x, v1), (a(n, d1), w2), (a(n, d1), v2), (a(n, d2), w3), (a(n, d2), v3),  # R-fwd
        (a(n, d3), w3.T),                                                   # backward
        (a(d2, n, t=True), a(n, d3)), (a(d2, n, t=True), a(n, d3)),         # R-bwd: W3
        (a(n, d3), w3.T), (a(n, d3), v3.T),                                 # R{da2}
        (a(d1, n, t=True), a(n, d2)), (a(d1, n, t=True), a(n, d2)),         # W2
        (a(n, d2), w2.T), (a(n, d2), v2.T),                                 # R{da1}
        (x.T, a(n, d1)),                                                    # W1
    ]


class _CountedMatmul:
    """``numpy.matmul`` wrapped, while in use (``with``), so that each 2-D product of two
    ndarrays is seen: its operands' shapes and layouts are recorded (``keep``) and its
    multiply-adds counted. Gates look ``np.matmul`` up when they run, so they call the
    wrapper; a tensor operand still dispatches to chainrule as before (the wrapper
    passes every call on to the real ufunc)."""

    def __init__(self, keep: bool = False) -> None:
        self.keep = keep
        self.calls = 0
        self.macs = 0
        self.seen: list[tuple[tuple[int, ...], bool, tuple[int, ...], bool]] = []
        self.callers: dict[tuple[str, int], int] = {}   # (file, first line) -> calls
        self.real = np.matmul

    def __enter__(self) -> _CountedMatmul:
        real = self.real

        def profiled_matmul(a, b, *args, **kwargs):
            if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == b.ndim == 2:
                self.calls += 1
                self.macs += a.shape[0] * a.shape[1] * b.shape[1]
                code = sys._getframe(1).f_code
                where = (code.co_filename, code.co_firstlineno)
                self.callers[where] = self.callers.get(where, 0) + 1
                if self.keep:
                    self.seen.append((a.shape, _transposed(a), b.shape, _transposed(b)))
            return real(a, b, *args, **kwargs)

        np.matmul = profiled_matmul
        return self

    def __exit__(self, *exc: object) -> None:
        np.matmul = self.real


def _transposed(a: np.ndarray) -> bool:
    return not a.flags.c_contiguous and a.T.flags.c_contiguous


def recorded_products(impl: HVPImpl, seed: int = 0) -> list[Product]:
    """The matrix products one call of ``impl`` (chainrule's HVP) computes, recorded
    (:class:`_CountedMatmul`) and rebuilt with fresh operands of the same shapes and
    layouts. For this network ``cr.hvp`` (reverse over forward) computes 18: the
    forward pass (3), the tangents (5) and the backward pass through both (10)."""
    with _CountedMatmul(keep=True) as rec:
        impl.run()
    a = _operands(0, seed + 1)
    return [(a(*sa, t=ta), a(*sb, t=tb)) for sa, ta, sb, tb in rec.seen]


def macs(products: Sequence[Product]) -> int:
    """Multiply-adds of 2-D products: m * k * n each."""
    return sum(a.shape[0] * a.shape[1] * b.shape[1] for a, b in products)


def floor_impl(name: str, products: list[Product]) -> HVPImpl:
    """The products alone, each into its preallocated output."""
    outs = [np.empty((a.shape[0], b.shape[1])) for a, b in products]
    jobs = [(a, b, o) for (a, b), o in zip(products, outs)]
    matmul = np.matmul

    def run() -> Sequence:
        for a, b, o in jobs:
            matmul(a, b, out=o)
        return outs

    return HVPImpl(name, run)


# ====================================================================== check, time
def relative_errors(got: Sequence, ref: Arrays) -> list[float]:
    """``||got_i - ref_i|| / ||ref_i||`` for each of the six parameters."""
    errs = []
    for g, r in zip(got, ref):
        g = g.detach().numpy() if hasattr(g, "detach") else np.asarray(g)
        if g.shape != r.shape:
            raise harness.BenchmarkMismatchError(f"shape {g.shape} instead of {r.shape}")
        errs.append(float(np.linalg.norm(g - r) / np.linalg.norm(r)))
    return errs


def check_agreement(impls: Sequence[HVPImpl], ref: Arrays) -> list[str]:
    """Each implementation's H v against the R-op's; raises
    :class:`harness.BenchmarkMismatchError` if one is off by more than :data:`TOLERANCE`
    (relative, per parameter). Returns the lines to print."""
    lines = [f"Agreement with the NumPy R-op (largest relative error over the six "
             f"parameters; must be < {TOLERANCE:.0e}):"]
    for impl in impls:
        if impl.name.startswith("matmuls"):
            continue
        worst = max(relative_errors(impl.run(), ref))
        lines.append(f"  {impl.name:24s} {worst:.1e}")
        if not worst < TOLERANCE:
            raise harness.BenchmarkMismatchError(
                f"{impl.name}: H v differs from the R-op's by {worst:.2e} (relative)")
    return lines


def time_impls(impls: Sequence[HVPImpl], rounds: int, block: int, warmup: int,
               seed: int) -> dict[str, list[float]]:
    """Seconds per HVP, one figure per round (``mlp_harness.time_interleaved``)."""
    steps = [mlp_harness.Impl(i.name, i.run, lambda: []) for i in impls]
    return mlp_harness.time_interleaved(steps, rounds, block, seed, warmup=warmup)


def format_times(times: dict[str, list[float]], rounds: int, block: int,
                 gemm_macs: dict[str, int]) -> str:
    lines = [f"ms per HVP ({rounds} rounds x {block} calls, interleaved; median [min-max] "
             f"over rounds):"]
    for name, ts in times.items():
        ms = [s * 1e3 for s in ts]
        extra = f"   {gemm_macs[name] / 1e6:6.1f} M multiply-adds" if name in gemm_macs else ""
        lines.append(f"  {name:24s} {statistics.median(ms):8.3f} "
                     f"[{min(ms):.3f}-{max(ms):.3f}]{extra}")
    return "\n".join(lines)


def fastest(times: dict[str, list[float]], prefix: str) -> str | None:
    names = [k for k in times if k.startswith(prefix)]
    return min(names, key=lambda k: statistics.median(times[k])) if names else None


def format_ratios(times: dict[str, list[float]]) -> tuple[str, float]:
    """The ratios of medians; returns them and chainrule / R-op."""
    med = {k: statistics.median(v) for k, v in times.items()}
    crn = fastest(times, "chainrule")
    tn = fastest(times, "pytorch")
    assert crn is not None
    r_rop = med[crn] / med["numpy R-op"]
    verdict = "met" if r_rop <= TARGET else "NOT met"
    lines = ["Ratios (medians):",
             f"  chainrule / R-op           {r_rop:5.2f}x   ({crn}; target <= {TARGET}x: "
             f"{verdict})"]
    if tn is not None:
        lines.append(f"  chainrule / PyTorch        {med[crn] / med[tn]:5.2f}x   "
                     f"(fastest PyTorch: {tn})")
    rop_floor, rr_floor = fastest(times, ROP_FLOOR), fastest(times, RR_FLOOR)
    lines.append(f"  R-op / matmuls             {med['numpy R-op'] / med[rop_floor]:5.2f}x   "
                 f"(the R-op's products alone)")
    lines.append(f"  chainrule / its floor      {med[crn] / med[rr_floor]:5.2f}x   "
                 f"(the products chainrule's HVP computes, alone)")
    lines.append(f"  its floor / R-op floor     {med[rr_floor] / med[rop_floor]:5.2f}x")
    return "\n".join(lines), r_rop


# ====================================================================== the profile
def _area(filename: str) -> str:
    """Where a profiled function lives, for the grouped summary."""
    f = filename.replace(os.sep, "/")
    if "/chainrule/" in f:
        tail = f.split("/chainrule/", 1)[1]
        if tail.startswith("autograd/engine"):
            return "engine (autograd/engine.py)"
        if tail.startswith("autograd/"):
            return "recording (autograd/record.py, gate.py)"
        if tail.startswith("ops/"):
            return "gate formulas (ops/*.py), GEMMs excluded"
        if tail.startswith("func/"):
            return "cr.hvp itself (func/transforms.py)"
        return f"chainrule/{tail.split('/')[0]}"
    if f.startswith("~") or f == "":
        return "builtins (array copies, isinstance, ...)"
    if "/numpy/" in f:
        return "NumPy Python-level helpers"
    return "other"


def _qualnames() -> dict[tuple[str, int], str]:
    """(file, first line) -> ``Class.method`` or ``function`` for chainrule's code, to
    name the profiled functions (cProfile knows only the file, line and bare name)."""
    import inspect

    names: dict[tuple[str, int], str] = {}
    for modname, mod in list(sys.modules.items()):
        if not modname.startswith("chainrule") or mod is None:
            continue
        for obj in vars(mod).values():
            members = vars(obj).items() if inspect.isclass(obj) else [(None, obj)]
            for attr, fn in members:
                code = getattr(fn, "__code__", None)
                if code is not None:
                    label = f"{obj.__name__}.{attr}" if attr else fn.__name__
                    key = (code.co_filename, code.co_firstlineno)
                    names.setdefault(key, label.replace("._forward", ".forward")
                                     .replace("._backward", ".backward"))
    return names


def profile_chainrule(impl: HVPImpl, calls: int, top: int = 18) -> str:
    """cProfile ``calls`` HVPs with ``numpy.matmul`` counted (:class:`_CountedMatmul`:
    cProfile does not see ufunc calls, so their time would land in their callers; the
    wrapper makes the products a line of their own). Returns the report: the products'
    time, the rest by part of chainrule, the products by caller, the top functions."""
    impl.run()
    prof = cProfile.Profile()
    with _CountedMatmul() as counted:
        prof.enable()
        for _ in range(calls):
            impl.run()
        prof.disable()
    st = pstats.Stats(prof)
    stats = st.stats  # type: ignore[attr-defined]
    names = _qualnames()

    def label(key: tuple[str, int, str]) -> str:
        fname, line, func = key
        if fname == "~":
            return func
        short = fname.split("/chainrule/", 1)[1] if "/chainrule/" in fname else \
            os.path.basename(fname)
        return f"{short}:{line} {names.get((fname, line), func)}"

    gemm_keys = [k for k in stats if k[2] == "profiled_matmul"]
    gemm_tt = sum(stats[k][2] for k in gemm_keys)
    total = st.total_tt  # type: ignore[attr-defined]
    per = 1e3 / calls
    by_area: dict[str, float] = {}
    for key, (_, _, tt, _, _) in stats.items():
        if key not in gemm_keys:
            by_area[_area(key[0])] = by_area.get(_area(key[0]), 0.0) + tt
    lines = [f"cProfile of {impl.name}, {calls} calls (cProfile slows the Python parts, "
             f"not the products); ms per HVP:",
             f"  total {total * per:.2f}: matrix products {gemm_tt * per:.2f} "
             f"({counted.calls / calls:.0f} per HVP, {counted.macs / calls / 1e6:.1f} M "
             f"multiply-adds), everything else {(total - gemm_tt) * per:.2f}:"]
    for area, tt in sorted(by_area.items(), key=lambda kv: -kv[1]):
        lines.append(f"    {area:44s} {tt * per:7.3f}")
    by_caller: dict[str, list[float]] = {}
    for k in gemm_keys:        # time from cProfile, counts of ndarray products from ours
        for caller, (_, _, tt, _) in stats[k][4].items():
            entry = by_caller.setdefault(label(caller), [0.0, 0.0])
            entry[0] = counted.callers.get(caller[:2], 0)
            entry[1] += tt
    lines.append("  the products by caller (products per HVP, ms per HVP):")
    for name, (nc, tt) in sorted(by_caller.items(), key=lambda kv: -kv[1][1]):
        lines.append(f"    {nc / calls:5.1f}x {tt * per:7.3f}  {name}")
    lines.append(f"  top {top} functions by own time, the products excluded (calls per HVP, "
                 f"ms per HVP):")
    rows = sorted(((v[2], v[1], k) for k, v in stats.items() if k not in gemm_keys),
                  reverse=True)[:top]
    for tt, nc, key in rows:
        lines.append(f"    {nc / calls:5.1f}x {tt * per:7.3f}  {label(key)}")
    return "\n".join(lines)


def median_ms(fn: Callable[[], object], calls: int = 30) -> float:
    """Median milliseconds of ``fn()`` over ``calls`` calls (after one untimed)."""
    fn()
    ts = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def leaf_copies_ms(params: Arrays) -> float:
    """What ``cr.hvp`` does to its inputs before the forward pass, timed alone: a fresh
    leaf for each (``Tensor(data, requires_grad=True)``, which copies the data)."""
    ps = [cr.tensor(p, requires_grad=True) for p in params]
    return median_ms(lambda: [cr.Tensor(p.data, requires_grad=True) for p in ps])


def page_faults(impls: Sequence[HVPImpl], calls: int = 5) -> str:
    """Minor page faults per call of each implementation (pages the C allocator maps
    afresh: glibc's defaults return large freed blocks to the kernel)."""
    import resource

    cells = []
    for impl in impls:
        impl.run()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(calls):
            impl.run()
        after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        cells.append(f"{impl.name} {(after - before) / calls:.0f}")
    return "Minor page faults per HVP: " + ", ".join(cells)


def summary(times: dict[str, list[float]], params: Arrays) -> str:
    """chainrule's time beyond the R-op's, in pieces (medians; the copies timed alone)."""
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    crn = fastest(times, "chainrule")
    rop_floor, rr_floor = fastest(times, ROP_FLOOR), fastest(times, RR_FLOOR)
    assert crn is not None and rop_floor is not None and rr_floor is not None
    lines = [f"chainrule's time beyond the R-op's ({crn}), ms per HVP (medians):",
             f"  {med[crn] - med['numpy R-op']:7.3f}  in all, =",
             f"  {med[rr_floor] - med[rop_floor]:7.3f}  the products cr.hvp computes beyond "
             f"the R-op's ({rr_floor} - {rop_floor})",
             f"+ {med[crn] - med[rr_floor]:7.3f}  chainrule's time beyond its own products "
             f"({crn} - {rr_floor})"]
    if crn == "chainrule cr.hvp":
        lines.append(f"   ({leaf_copies_ms(params):5.3f}  of which, timed alone: cr.hvp's "
                     f"fresh leaves, a copy of each input, "
                     f"{sum(p.nbytes for p in params) / 2**20:.1f} MiB)")
    lines.append(f"- {med['numpy R-op'] - med[rop_floor]:7.3f}  the R-op's own time beyond "
                 f"its products (numpy R-op - {rop_floor})")
    rop = med["numpy R-op"]
    fewer = (med[crn] - med[rr_floor] + med[rop_floor]) / rop
    lines.append(f"so chainrule / R-op would be {fewer:.2f}x "
                 f"with only the R-op's products (its other costs unchanged), and "
                 f"{med[rr_floor] / rop:.2f}x with all its products but nothing else")
    return "\n".join(lines)


# ====================================================================== main
def run(rounds: int, block: int, warmup: int, batch: int, seed: int, no_torch: bool,
        profile: bool | None, profile_calls: int, retain: bool = False) -> int:
    for name, value, low in (("rounds", rounds, 1), ("block", block, 1), ("batch", batch, 1),
                             ("warmup", warmup, 0), ("profile-calls", profile_calls, 1)):
        if value < low:
            raise ValueError(f"--{name} must be at least {low}, got {value}")
    params, v, x, t = hvp_problem(batch, seed)
    sizes = "-".join(map(str, mlp_harness.MLP_SIZES))
    print(f"Hessian-vector product of the training loss of an MLP {sizes} (ReLU, softmax "
          f"cross-entropy, mean over the batch), float64, batch {batch}, with respect to "
          f"all six parameters along a random direction")
    versions = [f"chainrule {cr.__version__}", f"NumPy {np.__version__}",
                f"Python {platform.python_version()}"]
    impls = chainrule_impls(params, v, x, t)
    if not no_torch:
        torch_impls = pytorch_impls(params, v, x, t)
        impls += torch_impls
        if torch_impls:
            import torch
            versions.append(f"PyTorch {torch.__version__} ({torch.get_num_threads()} thread"
                            f"{'s' if torch.get_num_threads() != 1 else ''})")
        else:
            versions.append("PyTorch not installed: skipped")
    else:
        versions.append("PyTorch skipped (--no-torch)")
    print("; ".join(versions) + f"; {os.cpu_count()} CPUs")
    print("env: " + ", ".join(f"{k}={os.environ.get(k, '(unset)')}"
                              for k in (*harness.THREAD_VARS, *harness.MACHINE_VARS)))
    print(f"BLAS: {mlp_harness.blas_summary()}")
    allocator = "cr.retain_freed_memory() (freed memory kept for reuse)" if retain else \
        "the C allocator's defaults (--retain-freed-memory to keep freed memory)"
    print(f"Memory: {allocator}")

    onehot = numpy_onehot(t, params[-1].shape[0])
    loss, ref = rop_hvp(params, v, x, onehot)
    rop_p, rr_p = rop_products(params, v, x, seed), recorded_products(impls[0], seed)
    rop_name, rr_name = f"{ROP_FLOOR} ({len(rop_p)})", f"{RR_FLOOR} ({len(rr_p)})"
    impls += [rop_impl(params, v, x, t), floor_impl(rop_name, rop_p),
              floor_impl(rr_name, rr_p)]
    print(f"loss {loss:.10f}, |H v| {np.sqrt(sum(float(np.sum(h * h)) for h in ref)):.6e}")
    print()
    print("\n".join(check_agreement(impls, ref)))
    print()
    times = time_impls(impls, rounds, block, warmup, seed)
    gemm_macs = {rop_name: macs(rop_p), rr_name: macs(rr_p)}
    print(format_times(times, rounds, block, gemm_macs))
    print()
    text, r_rop = format_ratios(times)
    print(text)
    print()
    print(page_faults(impls))
    if profile or (profile is None and r_rop > TARGET):
        crn = fastest(times, "chainrule")
        print()
        why = "asked (--profile)" if profile else f"chainrule misses the {TARGET}x target"
        print(f"Where chainrule's time goes ({why}):")
        print(summary(times, params))
        print(profile_chainrule(next(i for i in impls if i.name == crn), profile_calls))
    med = {k: statistics.median(ts) * 1e3 for k, ts in times.items()}
    crn, tn = fastest(times, "chainrule"), fastest(times, "pytorch")
    assert crn is not None
    print()
    harness.print_summary(f"HVP of MLP {sizes} B{batch} loss, float64 ({crn})"
                          f"{harness.threads_label()}", "ms/HVP",
                          med[crn], med[tn] if tn else None, med["numpy R-op"],
                          med[rop_name], "R-op matmuls")
    return 0


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=30, help="interleaved rounds (default 30)")
    p.add_argument("--block", type=int, default=5, help="HVPs per timed block (default 5)")
    p.add_argument("--warmup", type=int, default=3,
                   help="untimed calls of each implementation first (default 3)")
    p.add_argument("--batch", type=int, default=128, help="batch size (default 128)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    p.add_argument("--machine-blas", action="store_true",
                   help="keep this machine's OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS (and PyTorch) threads; 1 by default, the figures quoted")
    prof = p.add_mutually_exclusive_group()
    prof.add_argument("--profile", action="store_true", default=None,
                      help="always profile chainrule (default: only if it misses the target)")
    prof.add_argument("--no-profile", dest="profile", action="store_false")
    p.add_argument("--profile-calls", type=int, default=100,
                   help="HVPs run under cProfile (default 100)")
    p.add_argument("--retain-freed-memory", action="store_true",
                   help="call cr.retain_freed_memory() first (every implementation alike)")
    return p.parse_args(argv)


def main() -> int:
    args = _parse_args()
    if args.threads < 1:
        raise SystemExit("hvp.py: --threads must be at least 1")
    harness.reexec_if_needed(__file__, args.machine_blas, args.threads)
    retain = bool(args.retain_freed_memory and cr.retain_freed_memory())
    try:
        return run(args.rounds, args.block, args.warmup, args.batch, args.seed,
                   args.no_torch, args.profile, args.profile_calls, retain)
    except (harness.BenchmarkError, ValueError) as e:
        print(f"hvp.py: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
